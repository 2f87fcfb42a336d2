//! Classify a datagram by its first byte (RFC 7983) and, for STUN, read the ICE ufrag that
//! names its endpoint. Pure functions: no state, no allocation.

/// What a datagram on the media port carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Stun,
    Dtls,
    /// RTP or RTCP; str0m tells them apart.
    Rtp,
    Unknown,
}

/// Shortest SRTP/SRTCP datagram: a 12-byte header (8 + 4-byte index for SRTCP) and the
/// 10-byte HMAC-SHA1-80 tag, the smallest tag WebRTC negotiates.
const MIN_SRTP_LEN: usize = 22;
/// A DTLS record header.
const MIN_DTLS_LEN: usize = 13;
/// A STUN header.
const MIN_STUN_LEN: usize = 20;

/// RFC 7983 §7: 0–3 STUN, 20–63 DTLS, 128–191 RTP/RTCP. Datagrams too short to be what their
/// first byte says are [`Kind::Unknown`], so they are counted as malformed before any parsing.
pub fn classify(datagram: &[u8]) -> Kind {
    let len = datagram.len();
    match datagram.first() {
        Some(0..=3) if len >= MIN_STUN_LEN => Kind::Stun,
        Some(20..=63) if len >= MIN_DTLS_LEN => Kind::Dtls,
        Some(128..=191) if len >= MIN_SRTP_LEN => Kind::Rtp,
        _ => Kind::Unknown,
    }
}

const MAGIC_COOKIE: [u8; 4] = [0x21, 0x12, 0xa4, 0x42];
const ATTR_USERNAME: u16 = 0x0006;

/// The recipient's ufrag from a STUN USERNAME attribute (`recipient:sender`, RFC 8445 §7.2.2).
///
/// On the bridge the recipient is the bridge itself, so this is the key of the endpoint the
/// check belongs to. Returns None for anything that is not a well-formed STUN message with a
/// USERNAME; integrity is checked later by the endpoint's ICE agent.
pub fn stun_local_ufrag(datagram: &[u8]) -> Option<&str> {
    if datagram.len() < 20 || datagram[4..8] != MAGIC_COOKIE {
        return None;
    }
    let body_len = u16::from_be_bytes([datagram[2], datagram[3]]) as usize;
    let body = datagram.get(20..20 + body_len)?;
    let mut rest = body;
    while rest.len() >= 4 {
        let typ = u16::from_be_bytes([rest[0], rest[1]]);
        let len = u16::from_be_bytes([rest[2], rest[3]]) as usize;
        let value = rest.get(4..4 + len)?;
        if typ == ATTR_USERNAME {
            let username = std::str::from_utf8(value).ok()?;
            return username.split(':').next().filter(|u| !u.is_empty());
        }
        // Attributes are padded to 4 bytes.
        let padded = (4 + len + 3) & !3;
        rest = rest.get(padded..)?;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stun_with_username(user: &str) -> Vec<u8> {
        let mut attr = Vec::new();
        attr.extend_from_slice(&ATTR_USERNAME.to_be_bytes());
        attr.extend_from_slice(&(user.len() as u16).to_be_bytes());
        attr.extend_from_slice(user.as_bytes());
        while attr.len() % 4 != 0 {
            attr.push(0);
        }
        // A PRIORITY attribute first, so the parser has to skip one.
        let mut body = vec![0x00, 0x24, 0x00, 0x04, 1, 2, 3, 4];
        body.extend(attr);
        let mut m = vec![0x00, 0x01];
        m.extend_from_slice(&(body.len() as u16).to_be_bytes());
        m.extend_from_slice(&MAGIC_COOKIE);
        m.extend_from_slice(&[7; 12]);
        m.extend(body);
        m
    }

    #[test]
    fn classifies_by_first_byte() {
        assert_eq!(classify(&[0x00; 20]), Kind::Stun);
        assert_eq!(classify(&[22; 13]), Kind::Dtls);
        assert_eq!(classify(&[0x80; 22]), Kind::Rtp);
        assert_eq!(classify(&[0x80; 21]), Kind::Unknown, "too short for SRTP");
        assert_eq!(classify(&[22; 5]), Kind::Unknown, "too short for DTLS");
        assert_eq!(classify(&[0xff]), Kind::Unknown);
        assert_eq!(classify(&[]), Kind::Unknown);
    }

    #[test]
    fn reads_local_ufrag() {
        assert_eq!(stun_local_ufrag(&stun_with_username("brdg:brws")), Some("brdg"));
    }

    #[test]
    fn garbage_stun_is_refused_without_panic() {
        let good = stun_with_username("abc:def");
        for cut in 0..good.len() {
            let _ = stun_local_ufrag(&good[..cut]);
        }
        let mut lying = good.clone();
        lying[3] = 0xff; // body length beyond the datagram
        assert_eq!(stun_local_ufrag(&lying), None);
        let mut bad_attr = good.clone();
        bad_attr[22] = 0xff; // attribute length beyond the body
        assert_eq!(stun_local_ufrag(&bad_attr), None);
        assert_eq!(stun_local_ufrag(&[0u8; 20]), None);
    }
}
