//! Ingest scenarios' tools: a stack whose bridge takes streams, ffmpeg as the encoder, and
//! checks on what a room member received (H.264 access units, Opus decoded by libopus).

use std::process::Stdio;
use std::time::Duration;

use ponte::StackConfig;
use ponte_bridge::ingest::h264;
use ponte_bridge::ingest::keys::RoomKey;
use ponte_loadtest::{KeptFrame, ParticipantOptions};
use ponte_proto::MediaKind;
use tokio::process::{Child, Command};

pub const FPS: u32 = 25;
pub const TONE_HZ: f64 = 1000.0;

/// A loopback stack whose bridge has a stream key (and SRT passphrase) for each room.
pub fn config_with_keys(rooms: &[(&str, &str, Option<&str>)]) -> StackConfig {
    let mut c = StackConfig::loopback();
    // Short, so tests see the live participant leave soon after the encoder stops.
    c.bridge.ingest.reconnect_grace_ms = 300;
    for (room, key, passphrase) in rooms {
        let entry = RoomKey { key: (*key).into(), passphrase: passphrase.map(Into::into), name: Some(format!("{room} feed")), enabled: true };
        c.bridge.ingest.keys.insert((*room).into(), entry);
    }
    c
}

/// A viewer that takes H.264 and keeps the live participant's raw payloads.
pub fn viewer_options(room: &str) -> ParticipantOptions {
    ParticipantOptions {
        send_video: false,
        receive_h264: true,
        keep_payloads_of: Some(format!("live-{room}")),
        ..ParticipantOptions::default()
    }
}

/// ffmpeg pushing `seconds` of test picture (320x240, 25 fps, H.264 baseline, no B-frames,
/// a key frame a second) and a 1 kHz tone (AAC, 44.1 kHz stereo) in real time.
pub fn ffmpeg(seconds: u32, format: &str, url: &str) -> Child {
    ffmpeg_with(seconds, format, url, &[])
}

/// [`ffmpeg`] with extra output options (they come after the defaults, so they win).
pub fn ffmpeg_with(seconds: u32, format: &str, url: &str, extra: &[&str]) -> Child {
    let video = format!("testsrc=size=320x240:rate={FPS}");
    let audio = format!("sine=frequency={TONE_HZ}:sample_rate=44100");
    let t = seconds.to_string();
    let g = FPS.to_string();
    let args = [
        "-hide_banner", "-loglevel", "error", "-nostdin",
        "-re", "-f", "lavfi", "-i", &video,
        "-re", "-f", "lavfi", "-i", &audio,
        "-t", &t,
        "-c:v", "libx264", "-profile:v", "baseline", "-bf", "0", "-g", &g, "-pix_fmt", "yuv420p",
        "-preset", "ultrafast", "-tune", "zerolatency",
        "-c:a", "aac", "-b:a", "96k", "-ac", "2",
    ];
    Command::new("ffmpeg")
        .args(args)
        .args(extra)
        .args(["-f", format, url])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("ffmpeg runs (scripts/test.sh installs it)")
}

/// Wait for ffmpeg to end: (success, its stderr).
pub async fn finish(child: Child, limit: Duration) -> (bool, String) {
    match tokio::time::timeout(limit, child.wait_with_output()).await {
        Ok(Ok(out)) => (out.status.success(), String::from_utf8_lossy(&out.stderr).into_owned()),
        Ok(Err(e)) => (false, e.to_string()),
        Err(_) => (false, "ffmpeg did not finish in time".into()),
    }
}

/// What the received H.264 looked like.
#[derive(Debug, Default)]
pub struct VideoReport {
    pub access_units: usize,
    pub sps: usize,
    pub pps: usize,
    pub idr: usize,
    /// IDRs that arrived without SPS and PPS in the same access unit.
    pub bare_idr: usize,
    /// Access units before the first IDR (a decoder could not start on them).
    pub before_first_idr: usize,
}

pub fn check_video(frames: &[KeptFrame]) -> VideoReport {
    let mut r = VideoReport::default();
    for f in frames.iter().filter(|f| f.kind == MediaKind::Video) {
        let units = h264::nal_units(&f.data);
        let types: Vec<u8> = units.iter().map(|u| h264::nal_type(u)).collect();
        let has = |t: u8| types.contains(&t);
        if !(has(h264::NAL_IDR) || has(h264::NAL_SLICE)) {
            continue;
        }
        r.access_units += 1;
        r.sps += usize::from(has(h264::NAL_SPS));
        r.pps += usize::from(has(h264::NAL_PPS));
        if has(h264::NAL_IDR) {
            r.idr += 1;
            r.bare_idr += usize::from(!(has(h264::NAL_SPS) && has(h264::NAL_PPS)));
        } else if r.idr == 0 {
            r.before_first_idr += 1;
        }
    }
    r
}

/// Decode the Opus frames with libopus; returns (seconds decoded, tone frequency estimate).
pub fn check_audio(frames: &[KeptFrame]) -> (f64, f64) {
    use audiopus::coder::Decoder;
    use audiopus::{Channels, SampleRate};
    let mut dec = Decoder::new(SampleRate::Hz48000, Channels::Stereo).expect("libopus decoder");
    let mut pcm = Vec::new();
    let mut buf = vec![0i16; 5760 * 2];
    for f in frames.iter().filter(|f| f.kind == MediaKind::Audio) {
        if let Ok(n) = dec.decode(Some(&f.data[..]), &mut buf[..], false) {
            pcm.extend(buf[..n * 2].iter().step_by(2).copied());
        }
    }
    let secs = pcm.len() as f64 / 48_000.0;
    // Skip the codec's start-up; count rising zero crossings of the left channel.
    let body = &pcm[pcm.len().min(9600)..];
    let crossings = body.windows(2).filter(|w| w[0] < 0 && w[1] >= 0).count();
    let hz = if body.len() > 4800 { crossings as f64 / (body.len() as f64 / 48_000.0) } else { 0.0 };
    (secs, hz)
}
