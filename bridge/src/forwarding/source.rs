//! What one published video source is sending: its layers, each layer's rid, bit rate and
//! picture height. The allocator plans with this.
//!
//! Rates are measured over a sliding window of whole seconds; a layer with no frame in the
//! window is gone (a publisher's own congestion control turns high layers off). Heights are
//! read from VP8 key frames; for other codecs the usual ladder is assumed.

use std::time::{Duration, Instant};

use str0m::media::Rid;

use super::layer::Layer;

pub const MAX_LAYERS: usize = 3;
const WINDOW: Duration = Duration::from_secs(1);

#[derive(Debug, Default, Clone)]
struct LayerStats {
    rid: Option<Rid>,
    /// Bytes in the current and previous window.
    bytes: [u64; 2],
    window_start: Option<Instant>,
    last_frame: Option<Instant>,
    height: Option<u32>,
}

#[derive(Debug, Default, Clone)]
pub struct SourceLayers {
    layers: [LayerStats; MAX_LAYERS],
    /// Sent with rids: several layers can come.
    pub simulcast: bool,
}

impl SourceLayers {
    pub fn observe(&mut self, layer: Layer, rid: Option<Rid>, bytes: usize, keyframe: bool, data: &[u8], now: Instant) {
        let Some(l) = self.layers.get_mut(usize::from(layer)) else { return };
        self.simulcast |= rid.is_some();
        l.rid = rid;
        match l.window_start {
            Some(s) if now.saturating_duration_since(s) < WINDOW => {}
            Some(s) if now.saturating_duration_since(s) < 2 * WINDOW => {
                l.bytes = [0, l.bytes[0]];
                l.window_start = Some(s + WINDOW);
            }
            _ => {
                l.bytes = [0, 0];
                l.window_start = Some(now);
            }
        }
        l.bytes[0] += bytes as u64;
        l.last_frame = Some(now);
        if keyframe {
            if let Some(h) = vp8_height(data) {
                l.height = Some(h);
            }
        }
    }

    pub fn rid(&self, layer: Layer) -> Option<Rid> {
        self.layers.get(usize::from(layer)).and_then(|l| l.rid)
    }

    /// Layers that sent a frame within the window, lowest first: `(layer, bits/s, height)`.
    pub fn active(&self, now: Instant) -> Vec<(Layer, u64, u32)> {
        self.layers
            .iter()
            .enumerate()
            .filter(|(_, l)| l.last_frame.is_some_and(|t| now.saturating_duration_since(t) < WINDOW))
            .map(|(i, l)| (i as Layer, l.rate(now), l.height.unwrap_or(DEFAULT_HEIGHTS[i])))
            .collect()
    }
}

/// Heights assumed when the codec does not say: quarter, half and full of 720p.
const DEFAULT_HEIGHTS: [u32; MAX_LAYERS] = [180, 360, 720];

impl LayerStats {
    /// Bits per second: the previous full window, or the current one scaled while the
    /// first window fills.
    fn rate(&self, now: Instant) -> u64 {
        if self.bytes[1] > 0 {
            return self.bytes[1] * 8;
        }
        let elapsed = self.window_start.map_or(WINDOW, |s| now.saturating_duration_since(s)).max(Duration::from_millis(100));
        self.bytes[0] * 8 * 1000 / elapsed.as_millis() as u64
    }
}

/// The height in a VP8 key frame header (RFC 6386 §9.1), if `data` is one.
pub fn vp8_height(data: &[u8]) -> Option<u32> {
    if data.len() < 10 || data[0] & 1 != 0 || data[3..6] != [0x9d, 0x01, 0x2a] {
        return None;
    }
    Some(u32::from(u16::from_le_bytes([data[8], data[9]]) & 0x3fff))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn measures_rates_and_heights_per_layer() {
        let t0 = Instant::now();
        let mut s = SourceLayers::default();
        let key = [0x10, 0, 0, 0x9d, 0x01, 0x2a, 0x40, 0x01, 0xb4, 0x00];
        for i in 0..30u64 {
            let now = t0 + Duration::from_millis(i * 66);
            s.observe(0, Some(Rid::from("q")), 500, i == 0, &key, now);
            s.observe(2, Some(Rid::from("f")), 5000, false, &[], now);
        }
        let now = t0 + Duration::from_millis(29 * 66);
        let active = s.active(now);
        assert_eq!(active.len(), 2);
        assert_eq!(active[0].2, 180, "from the key frame");
        assert_eq!(active[1].2, 720, "assumed");
        assert!((50_000..70_000).contains(&active[0].1), "{active:?}");
        assert!(active[1].1 > 9 * active[0].1);
        assert!(s.active(now + Duration::from_secs(2)).is_empty(), "stopped layers are gone");
        assert_eq!(s.rid(2), Some(Rid::from("f")));
    }
}
