//! SRT ingest over a lossy link: ffmpeg pushes H.264 over SRT through the test relay, which
//! drops 5 % of the datagrams at random in both directions (data one way; ACK, NAK and
//! ACK2 the other). SRT's retransmissions within its latency budget (400 ms here) must recover
//! every loss: a room member receives every access unit ffmpeg encoded, in order (H.264
//! `frame_num` counts up by one from each IDR), and no frame arrives later than the budget
//! allows relative to the steady frame clock.

use std::time::{Duration, Instant};

use ponte_bridge::ingest::h264;
use ponte_proto::MediaKind;
use ponte_tests::ingest::{self, FPS};
use ponte_tests::relay::{Impairment, Relay};
use ponte_tests::{scrape, stack};

const KEY: &str = "stage-key-1";
const LATENCY_MS: u64 = 400;

/// Reads H.264 syntax elements (RBSP, emulation prevention bytes removed).
struct Bits {
    data: Vec<u8>,
    pos: usize,
}

impl Bits {
    fn new(nal: &[u8]) -> Self {
        let mut data = Vec::with_capacity(nal.len());
        let mut zeros = 0;
        for &b in nal.get(1..).unwrap_or_default() {
            if zeros >= 2 && b == 3 {
                zeros = 0;
                continue;
            }
            zeros = if b == 0 { zeros + 1 } else { 0 };
            data.push(b);
        }
        Self { data, pos: 0 }
    }

    fn bit(&mut self) -> Option<u32> {
        let b = self.data.get(self.pos / 8)?;
        let v = (b >> (7 - self.pos % 8)) & 1;
        self.pos += 1;
        Some(u32::from(v))
    }

    fn bits(&mut self, n: u32) -> Option<u32> {
        (0..n).try_fold(0, |acc, _| Some(acc << 1 | self.bit()?))
    }

    fn ue(&mut self) -> Option<u32> {
        let mut zeros = 0;
        while self.bit()? == 0 {
            zeros += 1;
        }
        Some((1 << zeros) - 1 + self.bits(zeros)?)
    }
}

/// `log2_max_frame_num` from a baseline-profile SPS.
fn log2_max_frame_num(sps: &[u8]) -> Option<u32> {
    let mut b = Bits::new(sps);
    let profile = b.bits(8)?;
    assert_eq!(profile, 66, "the encoder was asked for baseline");
    b.bits(16)?; // constraint flags, level
    b.ue()?; // seq_parameter_set_id
    Some(b.ue()? + 4)
}

/// `(idr, frame_num)` of an access unit's first slice.
fn frame_num(au: &[u8], log2_max: u32) -> Option<(bool, u32)> {
    let slice = h264::nal_units(au).into_iter().find(|u| matches!(h264::nal_type(u), h264::NAL_IDR | h264::NAL_SLICE))?;
    let mut b = Bits::new(slice);
    b.ue()?; // first_mb_in_slice
    b.ue()?; // slice_type
    b.ue()?; // pic_parameter_set_id
    Some((h264::nal_type(slice) == h264::NAL_IDR, b.bits(log2_max)?))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn srt_over_five_percent_loss_delivers_every_frame_in_time() {
    let mut cfg = ingest::config_with_keys(&[("stage", KEY, None)]);
    cfg.bridge.ingest.srt_latency_ms = LATENCY_MS;
    let stack = stack::start_with(cfg).await;
    let srt = stack.addrs.srt.expect("SRT listens");
    let viewer = stack::join_with(&stack, "stage", "viewer", ingest::viewer_options("stage")).await;
    let lossy = Impairment { loss: 0.05, seed: 5, ..Impairment::default() };
    let relay = Relay::start(srt, lossy).await.unwrap();

    let seconds = 5;
    // The encoder runs a second past the frames that are counted: how a stream ends is not what
    // this test is about. A video PES has no length, so the demuxer hands a frame on only when
    // the next one starts or the stream ends, and whether the final packets beat ffmpeg's close
    // through 5 % loss is luck (libsrt drops what is unacknowledged at close unless it lingers).
    let padding = 1;
    let url = format!("srt://{}?mode=caller&streamid=stage/{KEY}&latency={}&linger=2", relay.addr(), LATENCY_MS * 1000);
    let encoder = ingest::ffmpeg(seconds + padding, "mpegts", &url);
    // Arrival times, by polling what the viewer kept (10 ms resolution).
    let mut arrivals: Vec<Instant> = Vec::new();
    let run = Duration::from_secs(u64::from(seconds + padding) + 15);
    let deadline = Instant::now() + run;
    let finished = tokio::spawn(ingest::finish(encoder, run));
    let mut quiet_since = None;
    let mut live_stats: Option<serde_json::Value> = None;
    while Instant::now() < deadline {
        // The operator API's view of the stream, once it has run a while.
        if live_stats.is_none() && arrivals.len() >= 75 {
            let (_, body) = scrape::get(stack.addrs.bridge_http, "/v1/ingests").await;
            let list: serde_json::Value = serde_json::from_str(&body).expect("JSON from /v1/ingests");
            live_stats = list.as_array().and_then(|l| l.first()).cloned();
        }
        let n = viewer.snapshot().kept.iter().filter(|f| f.kind == MediaKind::Video).count();
        let now = Instant::now();
        if n > arrivals.len() {
            arrivals.resize(n, now);
            quiet_since = None;
        } else if finished.is_finished() && !arrivals.is_empty() && now.duration_since(*quiet_since.get_or_insert(now)) > Duration::from_secs(1) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let (ok, err) = finished.await.unwrap();
    assert!(ok, "ffmpeg pushed over SRT through the lossy relay: {err}");
    let (forwarded, dropped) = relay.stats.totals();

    let kept: Vec<_> = viewer.snapshot().kept.into_iter().filter(|f| f.kind == MediaKind::Video).collect();
    let sps = kept.iter().flat_map(|f| h264::nal_units(&f.data)).find(|u| h264::nal_type(u) == h264::NAL_SPS).expect("an SPS").to_vec();
    let log2_max = log2_max_frame_num(&sps).expect("a readable SPS");
    let nums: Vec<(bool, u32)> = kept.iter().map(|f| frame_num(&f.data, log2_max).expect("a slice header")).collect();
    let mut out_of_order = Vec::new();
    for (i, w) in nums.windows(2).enumerate() {
        let (idr, n) = w[1];
        let expected = if idr { 0 } else { (w[0].1 + 1) % (1 << log2_max) };
        if n != expected {
            out_of_order.push((i + 1, w[0], w[1]));
        }
    }
    let sent = (seconds * FPS) as usize;
    // Lateness against the frame clock: a frame that needed retransmissions arrives later than
    // its neighbours, but never by more than the latency budget (plus scheduling slack here).
    let timed = &arrivals[..arrivals.len().min(sent)];
    let offsets: Vec<f64> = timed
        .iter()
        .enumerate()
        .map(|(i, at)| at.duration_since(timed[0]).as_secs_f64() * 1000.0 - i as f64 * 1000.0 / f64::from(FPS))
        .collect();
    let spread = offsets.iter().cloned().fold(f64::MIN, f64::max) - offsets.iter().cloned().fold(f64::MAX, f64::min);
    println!(
        "relay: {forwarded} datagrams forwarded, {dropped} dropped ({:.1} %); frames received {} ({sent} counted, then {padding} s of padding); arrival spread {spread:.0} ms (latency {LATENCY_MS} ms)",
        dropped as f64 * 100.0 / (forwarded + dropped) as f64,
        kept.len()
    );
    let live = live_stats.expect("the stream was listed in /v1/ingests");
    println!("/v1/ingests while streaming: srt_loss {} srt_retransmits {} srt_rtt_ms {}", live["srt_loss"], live["srt_retransmits"], live["srt_rtt_ms"]);
    assert!(live["srt_loss"].as_u64().is_some_and(|n| n > 0), "SRT loss is counted: {live}");
    assert!(live["srt_retransmits"].as_u64().is_some_and(|n| n > 0), "retransmissions are counted: {live}");
    let rtt = live["srt_rtt_ms"].as_f64().expect("an SRT round-trip time");
    assert!(rtt > 0.0 && rtt < 500.0, "round trip over loopback: {rtt} ms");
    assert!(dropped as f64 >= 0.03 * (forwarded + dropped) as f64, "the relay did drop about 5 %: {dropped} of {}", forwarded + dropped);
    assert!(nums.first().is_some_and(|n| n.0), "the first frame is an IDR");
    assert!(out_of_order.is_empty(), "frames missing or out of order (index, previous, this): {out_of_order:?}");
    assert!(kept.len() >= sent, "every counted frame arrived: {} of {sent}", kept.len());
    assert!(spread < (LATENCY_MS + 250) as f64, "a frame arrived {spread:.0} ms off the frame clock");
    drop(relay);
    stack.shutdown().await.unwrap();
}
