//! A hand-written SVG of a bench: load (participants) across, server CPU on the left axis and
//! p99 one-way latency on the right, one colour per target. No plotting crate: a few
//! polylines, ticks and labels.

use std::fmt::Write;

/// One target's steps.
#[derive(Debug, Clone)]
pub struct Series {
    pub name: String,
    /// (participants, server CPU % of one core, p99 latency ms)
    pub points: Vec<(f64, f64, f64)>,
}

const W: f64 = 760.0;
const H: f64 = 420.0;
const LEFT: f64 = 70.0;
const RIGHT: f64 = 70.0;
const TOP: f64 = 50.0;
const BOTTOM: f64 = 60.0;
const COLOURS: [&str; 4] = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd"];

/// A "nice" upper bound for an axis (1, 2 or 5 × 10^n at or above `v`).
fn nice(v: f64) -> f64 {
    if v <= 0.0 || !v.is_finite() {
        return 1.0;
    }
    let p = 10f64.powf(v.log10().floor());
    [1.0, 2.0, 5.0, 10.0].iter().map(|m| m * p).find(|x| *x >= v).unwrap_or(10.0 * p)
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

/// The plot, with `title` and a latency limit line at `limit_ms`.
pub fn svg(title: &str, series: &[Series], limit_ms: f64) -> String {
    let all = series.iter().flat_map(|s| s.points.iter());
    let max_x = nice(all.clone().map(|p| p.0).fold(0.0, f64::max));
    let max_cpu = nice(all.clone().map(|p| p.1).fold(0.0, f64::max));
    // Headroom above the limit line, so it does not sit on the frame.
    let max_lat = nice(all.map(|p| p.2).fold(limit_ms * 1.2, f64::max));
    let (pw, ph) = (W - LEFT - RIGHT, H - TOP - BOTTOM);
    let x = |v: f64| LEFT + v / max_x * pw;
    let y_cpu = |v: f64| TOP + ph - v / max_cpu * ph;
    let y_lat = |v: f64| TOP + ph - v / max_lat * ph;
    let mut o = String::new();
    let _ = writeln!(o, r#"<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" viewBox="0 0 {W} {H}" font-family="sans-serif" font-size="12">"#);
    let _ = writeln!(o, r#"<rect width="{W}" height="{H}" fill="white"/>"#);
    let _ = writeln!(o, r#"<text x="{}" y="24" text-anchor="middle" font-size="15">{}</text>"#, W / 2.0, esc(title));
    let _ = writeln!(o, r##"<rect x="{LEFT}" y="{TOP}" width="{pw}" height="{ph}" fill="none" stroke="#444"/>"##);
    for i in 0..=5 {
        let f = f64::from(i) / 5.0;
        let (gx, gy) = (LEFT + f * pw, TOP + ph - f * ph);
        let _ = writeln!(o, r##"<line x1="{LEFT}" y1="{gy}" x2="{}" y2="{gy}" stroke="#ddd"/>"##, LEFT + pw);
        let _ = writeln!(o, r#"<text x="{gx}" y="{}" text-anchor="middle">{}</text>"#, TOP + ph + 16.0, trim(f * max_x));
        let _ = writeln!(o, r#"<text x="{}" y="{}" text-anchor="end">{}</text>"#, LEFT - 6.0, gy + 4.0, trim(f * max_cpu));
        let _ = writeln!(o, r#"<text x="{}" y="{}">{}</text>"#, LEFT + pw + 6.0, gy + 4.0, trim(f * max_lat));
    }
    let _ = writeln!(o, r#"<text x="{}" y="{}" text-anchor="middle">participants</text>"#, LEFT + pw / 2.0, H - 22.0);
    let _ = writeln!(o, r#"<text transform="translate(18 {}) rotate(-90)" text-anchor="middle">server CPU, % of one core (solid)</text>"#, TOP + ph / 2.0);
    let _ = writeln!(o, r#"<text transform="translate({} {}) rotate(90)" text-anchor="middle">p99 one-way latency, ms (dashed)</text>"#, W - 16.0, TOP + ph / 2.0);
    let ly = y_lat(limit_ms);
    let _ = writeln!(o, r##"<line x1="{LEFT}" y1="{ly}" x2="{}" y2="{ly}" stroke="#999" stroke-dasharray="2 4"/>"##, LEFT + pw);
    let _ = writeln!(o, r##"<text x="{}" y="{}" text-anchor="end" fill="#777">{limit_ms} ms limit</text>"##, LEFT + pw - 4.0, ly - 4.0);
    for (i, s) in series.iter().enumerate() {
        let c = COLOURS[i % COLOURS.len()];
        let cpu: Vec<String> = s.points.iter().map(|p| format!("{:.1},{:.1}", x(p.0), y_cpu(p.1))).collect();
        let lat: Vec<String> = s.points.iter().map(|p| format!("{:.1},{:.1}", x(p.0), y_lat(p.2.min(max_lat)))).collect();
        let _ = writeln!(o, r#"<polyline points="{}" fill="none" stroke="{c}" stroke-width="2"/>"#, cpu.join(" "));
        let _ = writeln!(o, r#"<polyline points="{}" fill="none" stroke="{c}" stroke-width="2" stroke-dasharray="6 4"/>"#, lat.join(" "));
        for p in &s.points {
            let _ = writeln!(o, r#"<circle cx="{:.1}" cy="{:.1}" r="3" fill="{c}"/>"#, x(p.0), y_cpu(p.1));
        }
        let lx = LEFT + 10.0 + 170.0 * i as f64;
        let _ = writeln!(o, r#"<rect x="{lx}" y="{}" width="14" height="4" fill="{c}"/><text x="{}" y="{}">{}</text>"#, H - 10.0, lx + 18.0, H - 5.0, esc(&s.name));
    }
    o.push_str("</svg>\n");
    o
}

fn trim(v: f64) -> String {
    if v >= 10.0 || v.fract() == 0.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.1}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn axes_are_nice_and_the_svg_is_whole() {
        assert_eq!((nice(7.0), nice(13.0), nice(0.3), nice(0.0)), (10.0, 20.0, 0.5, 1.0));
        let s = vec![Series { name: "ponte <a>".into(), points: vec![(4.0, 10.0, 5.0), (8.0, 30.0, 12.0)] }];
        let out = svg("t", &s, 100.0);
        assert!(out.starts_with("<svg") && out.trim_end().ends_with("</svg>"));
        assert_eq!(out.matches("<polyline").count(), 2);
        assert!(out.contains("ponte &lt;a&gt;"));
    }
}
