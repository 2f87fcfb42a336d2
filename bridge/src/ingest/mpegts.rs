//! MPEG-TS demuxer (sans-IO): bytes in, PES payloads of the H.264 and AAC streams out.
//!
//! Input arrives in whatever chunks the transport delivers: libsrt's `srt-live-transmit`
//! sends 1456-byte messages, which do not line up with 188-byte TS packets, so packets are
//! re-framed across message boundaries, resynchronising on the 0x47 sync byte after garbage.

/// Elementary stream kinds we take in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EsKind {
    H264,
    /// AAC in ADTS frames.
    Aac,
}

/// One PES packet's payload with its 90 kHz timestamps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pes {
    pub kind: EsKind,
    pub pts: Option<u64>,
    pub dts: Option<u64>,
    pub data: Vec<u8>,
}

/// What the demuxer noticed besides media.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TsEvent {
    Pes(Pes),
    /// A stream type we do not ingest (e.g. 0x24 HEVC): reported once per PID.
    Unsupported { pid: u16, stream_type: u8 },
}

const PACKET: usize = 188;
/// A PES larger than this is malformed input, not video (a 4K key frame is well below).
const MAX_PES: usize = 8 << 20;

#[derive(Debug)]
struct Stream {
    pid: u16,
    kind: EsKind,
    buf: Vec<u8>,
    /// Bytes the current PES declares (0: unbounded, ends at the next start).
    expected: usize,
    started: bool,
}

#[derive(Debug, Default)]
pub struct TsDemuxer {
    pending: Vec<u8>,
    pmt_pid: Option<u16>,
    streams: Vec<Stream>,
    reported: Vec<u16>,
    /// Bytes skipped while looking for sync; malformed-input counter for stats.
    pub skipped_bytes: u64,
}

impl TsDemuxer {
    pub fn new() -> Self {
        Self::default()
    }

    /// Feed bytes; returns what completed.
    pub fn push(&mut self, data: &[u8]) -> Vec<TsEvent> {
        let mut out = Vec::new();
        self.pending.extend_from_slice(data);
        let mut at = 0;
        while self.pending.len() - at >= PACKET {
            if self.pending[at] != 0x47 {
                at += 1;
                self.skipped_bytes += 1;
                continue;
            }
            let mut pkt = [0u8; PACKET];
            pkt.copy_from_slice(&self.pending[at..at + PACKET]);
            self.packet(&pkt, &mut out);
            at += PACKET;
        }
        self.pending.drain(..at);
        out
    }

    /// Emit every PES still buffered (end of stream).
    pub fn flush(&mut self) -> Vec<TsEvent> {
        let mut out = Vec::new();
        for s in &mut self.streams {
            emit(s, &mut out);
        }
        out
    }

    fn packet(&mut self, p: &[u8; PACKET], out: &mut Vec<TsEvent>) {
        if p[1] & 0x80 != 0 {
            return; // transport error indicator
        }
        let pusi = p[1] & 0x40 != 0;
        let pid = u16::from(p[1] & 0x1f) << 8 | u16::from(p[2]);
        let afc = (p[3] >> 4) & 3;
        let mut start = 4;
        if afc & 2 != 0 {
            start += 1 + usize::from(p[4]);
        }
        if afc & 1 == 0 || start >= PACKET {
            return;
        }
        let payload = &p[start..];
        if pid == 0 {
            if pusi {
                self.pat(payload);
            }
        } else if Some(pid) == self.pmt_pid {
            if pusi {
                self.pmt(payload, out);
            }
        } else if let Some(s) = self.streams.iter_mut().find(|s| s.pid == pid) {
            pes_chunk(s, pusi, payload, out);
        }
    }

    fn pat(&mut self, payload: &[u8]) {
        let Some(sec) = section(payload) else { return };
        // Skip the 5 header bytes after section_length; entries until the CRC.
        for e in sec.get(5..).unwrap_or(&[]).chunks_exact(4) {
            let program = u16::from_be_bytes([e[0], e[1]]);
            if program != 0 {
                self.pmt_pid = Some(u16::from(e[2] & 0x1f) << 8 | u16::from(e[3]));
                return;
            }
        }
    }

    fn pmt(&mut self, payload: &[u8], out: &mut Vec<TsEvent>) {
        let Some(sec) = section(payload) else { return };
        if sec.len() < 9 {
            return;
        }
        let info_len = usize::from(sec[7] & 0x0f) << 8 | usize::from(sec[8]);
        let mut es = sec.get(9 + info_len..).unwrap_or(&[]);
        while es.len() >= 5 {
            let stream_type = es[0];
            let pid = u16::from(es[1] & 0x1f) << 8 | u16::from(es[2]);
            let len = usize::from(es[3] & 0x0f) << 8 | usize::from(es[4]);
            let kind = match stream_type {
                0x1b => Some(EsKind::H264),
                0x0f => Some(EsKind::Aac),
                _ => None,
            };
            match kind {
                Some(kind) if !self.streams.iter().any(|s| s.pid == pid) => {
                    self.streams.push(Stream { pid, kind, buf: Vec::new(), expected: 0, started: false });
                }
                Some(_) => {}
                None if !self.reported.contains(&pid) => {
                    self.reported.push(pid);
                    out.push(TsEvent::Unsupported { pid, stream_type });
                }
                None => {}
            }
            es = es.get(5 + len..).unwrap_or(&[]);
        }
    }
}

/// The section after the pointer field, cut to section_length minus the CRC.
fn section(payload: &[u8]) -> Option<&[u8]> {
    let pointer = usize::from(*payload.first()?);
    let sec = payload.get(1 + pointer..)?;
    let len = usize::from(*sec.get(1)? & 0x0f) << 8 | usize::from(*sec.get(2)?);
    let end = (3 + len).checked_sub(4)?;
    sec.get(3..end.max(3)).filter(|_| end <= sec.len())
}

fn pes_chunk(s: &mut Stream, pusi: bool, payload: &[u8], out: &mut Vec<TsEvent>) {
    if pusi {
        emit(s, out);
        s.started = true;
        s.expected = match payload {
            [0, 0, 1, _, hi, lo, ..] => match usize::from(*hi) << 8 | usize::from(*lo) {
                0 => 0,
                n => n + 6,
            },
            _ => {
                s.started = false;
                return;
            }
        };
    } else if !s.started {
        return; // joined mid-PES
    }
    if s.buf.len() + payload.len() > MAX_PES {
        s.buf.clear();
        s.started = false;
        return;
    }
    s.buf.extend_from_slice(payload);
    if s.expected != 0 && s.buf.len() >= s.expected {
        s.buf.truncate(s.expected);
        emit(s, out);
    }
}

fn emit(s: &mut Stream, out: &mut Vec<TsEvent>) {
    let buf = std::mem::take(&mut s.buf);
    s.started = false;
    if let Some(pes) = parse_pes(s.kind, &buf) {
        out.push(TsEvent::Pes(pes));
    }
}

fn parse_pes(kind: EsKind, b: &[u8]) -> Option<Pes> {
    if b.len() < 9 || b[..3] != [0, 0, 1] {
        return None;
    }
    let flags = b[7];
    let header_len = usize::from(b[8]);
    let data = b.get(9 + header_len..)?;
    let pts = (flags & 0x80 != 0).then(|| b.get(9..14).map(timestamp)).flatten();
    let dts = (flags & 0x40 != 0).then(|| b.get(14..19).map(timestamp)).flatten();
    Some(Pes { kind, pts, dts, data: data.to_vec() })
}

fn timestamp(t: &[u8]) -> u64 {
    (u64::from(t[0] >> 1) & 7) << 30
        | u64::from(t[1]) << 22
        | u64::from(t[2] >> 1) << 15
        | u64::from(t[3]) << 7
        | u64::from(t[4] >> 1)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    fn ts_packet(pid: u16, pusi: bool, cc: u8, payload: &[u8]) -> Vec<u8> {
        let mut p = vec![0x47, (u8::from(pusi) << 6) | (pid >> 8) as u8, pid as u8];
        let room = PACKET - 4;
        if payload.len() >= room {
            p.push(0x10 | (cc & 15));
            p.extend_from_slice(&payload[..room]);
        } else {
            // Adaptation field stuffing fills the rest.
            p.push(0x30 | (cc & 15));
            let af = room - payload.len() - 1;
            p.push(af as u8);
            if af > 0 {
                p.push(0);
                p.extend(std::iter::repeat_n(0xff, af - 1));
            }
            p.extend_from_slice(payload);
        }
        assert_eq!(p.len(), PACKET);
        p
    }

    fn psi(table: &[u8]) -> Vec<u8> {
        let mut v = vec![0]; // pointer field
        v.extend_from_slice(table);
        v.extend_from_slice(&[0, 0, 0, 0]); // CRC, not checked
        v
    }

    fn pes(stream_id: u8, pts: u64, data: &[u8], bounded: bool) -> Vec<u8> {
        let mut v = vec![0, 0, 1, stream_id];
        let len = if bounded { data.len() + 8 } else { 0 };
        v.extend_from_slice(&(len as u16).to_be_bytes());
        v.extend_from_slice(&[0x80, 0x80, 5]);
        v.push(0x21 | ((pts >> 29) as u8 & 0x0e));
        v.push((pts >> 22) as u8);
        v.push(((pts >> 14) as u8) | 1);
        v.push((pts >> 7) as u8);
        v.push(((pts << 1) as u8) | 1);
        v.extend_from_slice(data);
        v
    }

    /// A small TS stream: PAT, PMT (H.264 on 0x100, AAC on 0x101, HEVC on 0x102), one PES each.
    pub fn sample_stream(video: &[u8], audio: &[u8]) -> Vec<u8> {
        let mut s = Vec::new();
        let pat = psi(&[0x00, 0xb0, 13, 0, 1, 0xc1, 0, 0, 0, 1, 0xf0, 0x00]);
        s.extend(ts_packet(0, true, 0, &pat));
        let pmt = psi(&[
            0x02, 0xb0, 28, 0, 1, 0xc1, 0, 0, 0xe1, 0x00, 0xf0, 0x00, //
            0x1b, 0xe1, 0x00, 0xf0, 0x00, //
            0x0f, 0xe1, 0x01, 0xf0, 0x00, //
            0x24, 0xe1, 0x02, 0xf0, 0x00,
        ]);
        s.extend(ts_packet(0x1000, true, 0, &pmt));
        for (pid, sid, data, bounded) in [(0x100u16, 0xe0u8, video, false), (0x101, 0xc0, audio, true)] {
            let p = pes(sid, 90_000, data, bounded);
            for (i, chunk) in p.chunks(PACKET - 4).enumerate() {
                s.extend(ts_packet(pid, i == 0, i as u8, chunk));
            }
        }
        s
    }

    #[test]
    fn demuxes_across_unaligned_messages() {
        let video: Vec<u8> = (0..1000u32).map(|i| i as u8).collect();
        let audio = vec![0xaa; 300];
        let ts = sample_stream(&video, &audio);
        let mut d = TsDemuxer::new();
        let mut events = Vec::new();
        // 1456-byte messages, like srt-live-transmit, after a little garbage.
        events.extend(d.push(&[1, 2, 3]));
        for m in ts.chunks(1456) {
            events.extend(d.push(m));
        }
        events.extend(d.flush());
        assert_eq!(d.skipped_bytes, 3);
        assert!(events.contains(&TsEvent::Unsupported { pid: 0x102, stream_type: 0x24 }));
        let pes: Vec<&Pes> = events.iter().filter_map(|e| if let TsEvent::Pes(p) = e { Some(p) } else { None }).collect();
        assert_eq!(pes.len(), 2, "{events:?}");
        let a = pes.iter().find(|p| p.kind == EsKind::Aac).unwrap();
        assert_eq!(a.data, audio);
        assert_eq!(a.pts, Some(90_000));
        let v = pes.iter().find(|p| p.kind == EsKind::H264).unwrap();
        assert_eq!(v.data, video);
    }

    #[test]
    fn garbage_does_not_panic() {
        let mut d = TsDemuxer::new();
        let mut x: u32 = 7;
        for _ in 0..200 {
            let chunk: Vec<u8> = (0..777)
                .map(|_| {
                    x = x.wrapping_mul(1103515245).wrapping_add(12345);
                    if x.is_multiple_of(5) { 0x47 } else { (x >> 16) as u8 }
                })
                .collect();
            d.push(&chunk);
        }
        d.flush();
    }
}
