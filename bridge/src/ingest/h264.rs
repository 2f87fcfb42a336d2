//! H.264 access units: Annex-B splitting, AVCC (length-prefixed, from FLV) to Annex-B, the
//! parameter sets every IDR must carry for a viewer who joins late, and B-frame detection.
//!
//! Video passes through without re-encoding: an access unit goes to the fan-out in Annex-B
//! form, the same form str0m's depacketizer produces, and str0m packetizes it (RFC 6184,
//! FU-A) per subscriber.

const START: [u8; 4] = [0, 0, 0, 1];

pub const NAL_SLICE: u8 = 1;
pub const NAL_IDR: u8 = 5;
pub const NAL_SPS: u8 = 7;
pub const NAL_PPS: u8 = 8;
pub const NAL_AUD: u8 = 9;

/// The NAL units of an Annex-B byte stream (start codes removed, empty units skipped).
pub fn nal_units(data: &[u8]) -> Vec<&[u8]> {
    let mut starts = Vec::new();
    let mut i = 0;
    while i + 3 <= data.len() {
        if data[i] == 0 && data[i + 1] == 0 && data[i + 2] == 1 {
            starts.push(i + 3);
            i += 3;
        } else {
            i += 1;
        }
    }
    let mut units = Vec::with_capacity(starts.len());
    for (n, &s) in starts.iter().enumerate() {
        let mut end = starts.get(n + 1).map_or(data.len(), |next| next - 3);
        // A 4-byte start code's leading zero (and trailing_zero_bytes) belong to no unit.
        while end > s && data[end - 1] == 0 && n + 1 < starts.len() {
            end -= 1;
        }
        if end > s {
            units.push(&data[s..end]);
        }
    }
    units
}

/// AVCC (each NAL prefixed by its length in `length_size` bytes) to NAL units.
pub fn avcc_units(data: &[u8], length_size: usize) -> Option<Vec<&[u8]>> {
    if !(1..=4).contains(&length_size) {
        return None;
    }
    let mut units = Vec::new();
    let mut rest = data;
    while !rest.is_empty() {
        let len_bytes = rest.get(..length_size)?;
        let len = len_bytes.iter().fold(0usize, |acc, b| acc << 8 | usize::from(*b));
        let unit = rest.get(length_size..length_size + len)?;
        if !unit.is_empty() {
            units.push(unit);
        }
        rest = &rest[length_size + len..];
    }
    Some(units)
}

/// SPS and PPS from an AVCDecoderConfigurationRecord (the FLV AVC sequence header), with
/// the NAL length size.
pub fn parse_avc_config(rec: &[u8]) -> Option<(usize, Vec<Vec<u8>>)> {
    let length_size = usize::from(*rec.get(4)? & 3) + 1;
    let mut sets = Vec::new();
    let mut at = 5;
    for mask in [0x1f_u8, 0xff] {
        let count = rec.get(at)? & mask;
        at += 1;
        for _ in 0..count {
            let len = usize::from(u16::from_be_bytes([*rec.get(at)?, *rec.get(at + 1)?]));
            sets.push(rec.get(at + 2..at + 2 + len)?.to_vec());
            at += 2 + len;
        }
    }
    Some((length_size, sets))
}

pub fn nal_type(unit: &[u8]) -> u8 {
    unit.first().map_or(0, |b| b & 0x1f)
}

/// What one access unit is.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct AuInfo {
    pub idr: bool,
    pub has_sps: bool,
    pub has_pps: bool,
    /// A B slice: the encoder reorders frames, which WebRTC receivers do not expect.
    pub b_slice: bool,
    pub slices: usize,
}

/// Remembers the latest parameter sets and builds access units ready for the fan-out.
#[derive(Debug, Default)]
pub struct AccessUnits {
    sps: Option<Vec<u8>>,
    pps: Option<Vec<u8>>,
}

impl AccessUnits {
    /// The SPS's profile-level-id (profile_idc, constraint flags, level_idc) for SDP matching.
    pub fn profile_level_id(&self) -> Option<u32> {
        let sps = self.sps.as_ref()?;
        let b = sps.get(1..4)?;
        Some(u32::from(b[0]) << 16 | u32::from(b[1]) << 8 | u32::from(b[2]))
    }

    /// Parameter sets from out of band (FLV sequence header).
    pub fn set_parameter_sets(&mut self, sets: &[Vec<u8>]) {
        for s in sets {
            self.remember(s);
        }
    }

    fn remember(&mut self, unit: &[u8]) {
        match nal_type(unit) {
            NAL_SPS => self.sps = Some(unit.to_vec()),
            NAL_PPS => self.pps = Some(unit.to_vec()),
            _ => {}
        }
    }

    /// Build one Annex-B access unit from its NAL units: access-unit delimiters dropped, and
    /// SPS/PPS put in front of every IDR that lacks them. None when nothing is decodable yet.
    pub fn assemble(&mut self, units: &[&[u8]]) -> Option<(Vec<u8>, AuInfo)> {
        let mut info = AuInfo::default();
        for u in units {
            self.remember(u);
            match nal_type(u) {
                NAL_SPS => info.has_sps = true,
                NAL_PPS => info.has_pps = true,
                NAL_IDR => {
                    info.idr = true;
                    info.slices += 1;
                }
                NAL_SLICE => {
                    info.slices += 1;
                    info.b_slice |= slice_type(u) == Some(1);
                }
                _ => {}
            }
        }
        if info.slices == 0 {
            return None;
        }
        let mut out = Vec::with_capacity(units.iter().map(|u| u.len() + 4).sum::<usize>() + 64);
        if info.idr && !(info.has_sps && info.has_pps) {
            let (Some(sps), Some(pps)) = (&self.sps, &self.pps) else { return None };
            for set in [sps, pps] {
                out.extend_from_slice(&START);
                out.extend_from_slice(set);
            }
            info.has_sps = true;
            info.has_pps = true;
        }
        for u in units.iter().filter(|u| nal_type(u) != NAL_AUD) {
            out.extend_from_slice(&START);
            out.extend_from_slice(u);
        }
        Some((out, info))
    }
}

/// slice_type mod 5 (0 P, 1 B, 2 I) from a slice header: two Exp-Golomb numbers in.
fn slice_type(unit: &[u8]) -> Option<u32> {
    let mut r = Bits { data: unit.get(1..)?, pos: 0 };
    r.ue()?; // first_mb_in_slice
    r.ue().map(|t| t % 5)
}

struct Bits<'a> {
    data: &'a [u8],
    pos: usize,
}

impl Bits<'_> {
    fn bit(&mut self) -> Option<u32> {
        let byte = self.data.get(self.pos / 8)?;
        let b = (byte >> (7 - self.pos % 8)) & 1;
        self.pos += 1;
        Some(u32::from(b))
    }

    fn ue(&mut self) -> Option<u32> {
        let mut zeros = 0;
        while self.bit()? == 0 {
            zeros += 1;
            if zeros > 31 {
                return None;
            }
        }
        let mut v: u32 = 0;
        for _ in 0..zeros {
            v = v << 1 | self.bit()?;
        }
        Some((1u32 << zeros) - 1 + v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SPS: &[u8] = &[0x67, 0x42, 0xc0, 0x1e, 0xda];
    const PPS: &[u8] = &[0x68, 0xce, 0x3c, 0x80];
    /// first_mb 0 ("1"), slice_type 7 = I ("0001000"), padding.
    const IDR: &[u8] = &[0x65, 0b1000_1000, 0x00];
    /// first_mb 0, slice_type 5 = P ("00110").
    const P: &[u8] = &[0x41, 0b1001_1000];
    /// first_mb 0, slice_type 6 = B ("00111").
    const B: &[u8] = &[0x01, 0b1001_1100];

    fn annexb(units: &[&[u8]]) -> Vec<u8> {
        units.iter().flat_map(|u| START.iter().chain(u.iter()).copied()).collect()
    }

    #[test]
    fn splits_annexb_with_three_and_four_byte_start_codes() {
        let mut data = vec![0, 0, 0, 1, 9, 0xf0, 0, 0, 1];
        data.extend_from_slice(SPS);
        data.extend_from_slice(&[0, 0, 0, 1]);
        data.extend_from_slice(IDR);
        let units = nal_units(&data);
        assert_eq!(units, vec![&[9, 0xf0][..], SPS, IDR]);
    }

    #[test]
    fn idr_gets_parameter_sets_and_b_slices_are_seen() {
        let mut au = AccessUnits::default();
        assert_eq!(au.assemble(&[IDR]), None, "no SPS/PPS yet: not decodable");
        let (first, info) = au.assemble(&[&[9, 0xf0], SPS, PPS, IDR]).unwrap();
        assert!(info.idr && info.has_sps && info.has_pps && !info.b_slice);
        assert_eq!(first, annexb(&[SPS, PPS, IDR]), "delimiter dropped");
        assert_eq!(au.profile_level_id(), Some(0x42c01e));
        let (again, _) = au.assemble(&[IDR]).unwrap();
        assert_eq!(again, annexb(&[SPS, PPS, IDR]), "later IDRs carry SPS/PPS too");
        assert!(!au.assemble(&[P]).unwrap().1.b_slice);
        assert!(au.assemble(&[B]).unwrap().1.b_slice);
    }

    #[test]
    fn avcc_and_config_record() {
        let mut rec = vec![1, 0x42, 0xc0, 0x1e, 0xff, 0xe1, 0, SPS.len() as u8];
        rec.extend_from_slice(SPS);
        rec.extend_from_slice(&[1, 0, PPS.len() as u8]);
        rec.extend_from_slice(PPS);
        let (len, sets) = parse_avc_config(&rec).unwrap();
        assert_eq!(len, 4);
        assert_eq!(sets, vec![SPS.to_vec(), PPS.to_vec()]);
        let mut avcc = (IDR.len() as u32).to_be_bytes().to_vec();
        avcc.extend_from_slice(IDR);
        assert_eq!(avcc_units(&avcc, 4).unwrap(), vec![IDR]);
        assert_eq!(avcc_units(&[0, 0, 0, 9, 1], 4), None, "truncated unit");
        assert_eq!(parse_avc_config(&rec[..9]), None);
    }
}
