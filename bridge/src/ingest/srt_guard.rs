//! What may reach srt-tokio. Sans-IO: one verdict per datagram, from the datagram and what the
//! same caller sent before.
//!
//! srt-protocol 0.4.4 panics on some datagrams a caller controls (`unimplemented!`/`todo!`,
//! fuzz/README.md lists them). In its listener task such a panic ends the listener, and every
//! live stream on the port with it; in a connection's task it ends that stream. The guard
//! drops exactly those datagrams, before srt-tokio sees them:
//! - anything whose parse panics (a handshake config extension other than a stream id, an
//!   extension that runs past the datagram);
//! - handshakes whose key material contradicts their declared key size, or is not a key
//!   request, or declares another key size than this caller's first conclusion did (the
//!   listener would meet its own `unimplemented!` comparing them);
//! - control packets a connection does not implement (congestion warning, peer error, SRT
//!   extensions other than handshake and key refresh).
//!
//! Everything else passes untouched: srt-tokio still judges the handshake and access control.

use std::io::Cursor;

use srt_protocol::options::KeySize;
use srt_protocol::packet::{ControlTypes, HandshakeVsInfo, HsV5Info, Packet, ShakeType, SrtControlPacket};

use crate::endpoint::contain;

/// Why a datagram was dropped (the `reason` label of `bridge_ingest_srt_dropped_total`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dropped {
    /// Not an SRT packet; srt-tokio would drop it too.
    Unparseable,
    /// Parsing it panics srt-protocol.
    Malformed,
    /// A handshake whose encryption fields contradict each other or this caller's earlier ones.
    Crypto,
    /// A control packet srt-protocol does not implement.
    Unsupported,
}

impl Dropped {
    pub fn reason(self) -> &'static str {
        match self {
            Self::Unparseable => "unparseable",
            Self::Malformed => "malformed",
            Self::Crypto => "crypto",
            Self::Unsupported => "unsupported_control",
        }
    }
}

/// What the guard remembers of one caller (one remote address).
#[derive(Debug, Default)]
pub struct CallerGuard {
    /// The key size of the caller's first conclusion handshake: the listener compares later
    /// ones with the settings it made from it.
    key_size: Option<KeySize>,
}

impl CallerGuard {
    /// Pass (`Ok`) or drop a datagram from this caller. srt-tokio parses with the family of its
    /// own socket (`is_ipv6`), so the guard must too.
    pub fn check(&mut self, datagram: &[u8], is_ipv6: bool) -> Result<(), Dropped> {
        let parsed = contain(|| Packet::parse(&mut Cursor::new(datagram), is_ipv6));
        let packet = match parsed {
            Err(_) => return Err(Dropped::Malformed),
            Ok(Err(_)) => return Err(Dropped::Unparseable),
            Ok(Ok(packet)) => packet,
        };
        let Packet::Control(control) = packet else { return Ok(()) };
        match control.control_type {
            ControlTypes::CongestionWarning | ControlTypes::PeerError(_) => Err(Dropped::Unsupported),
            ControlTypes::Srt(srt) => implemented_on_a_connection(&srt).then_some(()).ok_or(Dropped::Unsupported),
            ControlTypes::Handshake(shake) => match shake.info {
                HandshakeVsInfo::V5(info) => self.check_crypto(shake.shake_type, &info),
                HandshakeVsInfo::V4(_) => Ok(()),
            },
            _ => Ok(()),
        }
    }

    fn check_crypto(&mut self, shake: ShakeType, info: &HsV5Info) -> Result<(), Dropped> {
        let encrypted = info.key_size != KeySize::Unspecified;
        let consistent = match &info.ext_km {
            None => !encrypted,
            Some(SrtControlPacket::KeyRefreshRequest(_)) => encrypted,
            Some(_) => false,
        };
        if !consistent {
            return Err(Dropped::Crypto);
        }
        if shake == ShakeType::Conclusion && *self.key_size.get_or_insert(info.key_size) != info.key_size {
            return Err(Dropped::Crypto);
        }
        Ok(())
    }
}

/// SRT extension packets an open connection handles; any other is `unimplemented!` there.
fn implemented_on_a_connection(packet: &SrtControlPacket) -> bool {
    matches!(
        packet,
        SrtControlPacket::HandshakeRequest(_)
            | SrtControlPacket::HandshakeResponse(_)
            | SrtControlPacket::KeyRefreshRequest(_)
            | SrtControlPacket::KeyRefreshResponse(_)
    )
}

/// The datagrams of a recorded exchange in the `srt` fuzz target's format (each one `u16`
/// length-prefixed, the last cut short if the input is), as the tests and the fuzz target
/// replay them.
pub fn datagrams(mut entry: &[u8]) -> Vec<&[u8]> {
    let mut out = Vec::new();
    while entry.len() >= 2 {
        let len = usize::from(u16::from_be_bytes([entry[0], entry[1]])).min(entry.len() - 2);
        out.push(&entry[2..2 + len]);
        entry = &entry[2 + len..];
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn verdicts(entry: &[u8]) -> Vec<Result<(), Dropped>> {
        let mut guard = CallerGuard::default();
        datagrams(entry).into_iter().map(|d| guard.check(d, false)).collect()
    }

    #[test]
    fn a_config_extension_that_panics_the_parser_is_dropped() {
        let v = verdicts(include_bytes!("../../../fuzz/corpus/srt/regress-congestion-extension"));
        assert!(v.contains(&Err(Dropped::Malformed)), "{v:?}");
    }

    #[test]
    fn an_extension_running_past_the_datagram_is_dropped() {
        let v = verdicts(include_bytes!("../../../fuzz/corpus/srt/regress-advance-out-of-bounds"));
        assert!(v.contains(&Err(Dropped::Malformed)), "{v:?}");
    }

    #[test]
    fn what_ffmpeg_sends_passes() {
        // Seeds recorded from ffmpeg (libsrt): a plain caller, and one with an AES passphrase
        // (key material in its conclusion), each handshake and then the stream.
        for entry in [&include_bytes!("../../../fuzz/corpus/srt/ffmpeg_handshake")[..], include_bytes!("../../../fuzz/corpus/srt/ffmpeg_aes_stream")] {
            let v = verdicts(entry);
            assert!(!v.is_empty() && v.iter().all(Result::is_ok), "{v:?}");
        }
    }

    /// The conclusion handshake of a seed, parsed.
    fn conclusion(entry: &[u8]) -> Packet {
        datagrams(entry)
            .into_iter()
            .filter_map(|d| Packet::parse(&mut Cursor::new(d), false).ok())
            .find(|p| matches!(p, Packet::Control(c) if matches!(&c.control_type, ControlTypes::Handshake(h) if h.shake_type == ShakeType::Conclusion)))
            .expect("a conclusion handshake")
    }

    /// `packet` with its HSv5 key size changed, serialized.
    fn with_key_size(packet: &Packet, size: KeySize) -> Vec<u8> {
        let mut packet = packet.clone();
        if let Packet::Control(c) = &mut packet {
            if let ControlTypes::Handshake(h) = &mut c.control_type {
                if let HandshakeVsInfo::V5(info) = &mut h.info {
                    info.key_size = size;
                }
            }
        }
        let mut out = Vec::new();
        packet.serialize(&mut out);
        out
    }

    #[test]
    fn handshakes_whose_crypto_fields_disagree_are_dropped() {
        let plain = conclusion(include_bytes!("../../../fuzz/corpus/srt/ffmpeg_handshake"));
        let aes = conclusion(include_bytes!("../../../fuzz/corpus/srt/ffmpeg_aes_stream"));
        // Key material without a key size: srt-protocol's listener panics "expected no secrets".
        assert_eq!(CallerGuard::default().check(&with_key_size(&aes, KeySize::Unspecified), false), Err(Dropped::Crypto));
        // A key size without key material.
        assert_eq!(CallerGuard::default().check(&with_key_size(&plain, KeySize::AES128), false), Err(Dropped::Crypto));
        // One caller, two conclusions with different key sizes: "Key size mismatch".
        let mut guard = CallerGuard::default();
        assert_eq!(guard.check(&with_key_size(&aes, KeySize::AES128), false), Ok(()));
        assert_eq!(guard.check(&with_key_size(&aes, KeySize::AES256), false), Err(Dropped::Crypto));
        assert_eq!(guard.check(&with_key_size(&aes, KeySize::AES128), false), Ok(()), "the first one's size still passes");
    }

    #[test]
    fn control_packets_a_connection_does_not_implement_are_dropped() {
        use srt_protocol::packet::{ControlPacket, SocketId, TimeStamp};
        let mut out = Vec::new();
        let warning = ControlPacket { timestamp: TimeStamp::from_micros(0), dest_sockid: SocketId(1), control_type: ControlTypes::CongestionWarning };
        Packet::Control(warning).serialize(&mut out);
        assert_eq!(CallerGuard::default().check(&out, false), Err(Dropped::Unsupported));
    }

    #[test]
    fn garbage_is_unparseable_not_a_panic() {
        let mut guard = CallerGuard::default();
        assert_eq!(guard.check(&[0x80, 0], false), Err(Dropped::Unparseable));
        assert_eq!(guard.check(&[], false), Err(Dropped::Unparseable));
    }
}
