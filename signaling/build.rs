//! Embeds the web app: writes `$OUT_DIR/web_assets.rs`, a table of every file under `../web`
//! (path, bytes via `include_bytes!`, ETag), so the binary serves the app with no files beside
//! it. Dot-files and names a URL route cannot hold are skipped with a warning.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::{env, fs};

fn main() {
    let manifest = PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let web = manifest.join("..").join("web");
    // A directory here makes cargo rescan it, so added and removed files rebuild too.
    println!("cargo:rerun-if-changed={}", web.display());
    let mut files = Vec::new();
    if web.is_dir() {
        collect(&web, "", &mut files);
    } else {
        println!("cargo:warning=no web/ folder at {}; the web app will be missing", web.display());
    }
    files.sort();
    let mut out = String::from("/// (URL path without the leading `/`, contents, ETag)\npub static FILES: &[(&str, &[u8], &str)] = &[\n");
    for (rel, abs) in &files {
        let bytes = fs::read(abs).expect("a file just listed is readable");
        writeln!(out, "    ({rel:?}, include_bytes!({:?}), \"\\\"{:016x}\\\"\"),", abs.display().to_string(), fnv1a(&bytes)).unwrap();
    }
    out.push_str("];\n");
    let dest = PathBuf::from(env::var("OUT_DIR").expect("cargo sets OUT_DIR")).join("web_assets.rs");
    fs::write(dest, out).expect("OUT_DIR is writable");
}

fn collect(dir: &Path, prefix: &str, files: &mut Vec<(String, PathBuf)>) {
    let entries = fs::read_dir(dir).unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()));
    for entry in entries {
        let entry = entry.expect("a directory entry is readable");
        let name = entry.file_name().to_string_lossy().into_owned();
        let rel = format!("{prefix}{name}");
        if name.starts_with('.') {
            continue;
        }
        if !name.chars().all(|c| c.is_ascii_alphanumeric() || "-_.~@+".contains(c)) {
            println!("cargo:warning=web/{rel} is not embedded: use only A-Z a-z 0-9 - _ . ~ @ + in web file names");
            continue;
        }
        let path = entry.path();
        if path.is_dir() {
            collect(&path, &format!("{rel}/"), files);
        } else {
            files.push((rel, path));
        }
    }
}

/// A content hash for the ETag; stable across builds, no dependency.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3))
}
