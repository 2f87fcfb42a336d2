//! Resuming a media session after the signaling connection (or the signaling process with
//! its embedded focus) went away.
//!
//! The proof is the ICE password (`a=ice-pwd`) of the client's own offer: only the client,
//! the bridge that holds its endpoint, and the signaling server that relayed the offer ever
//! see it, and it is bound to the media session itself. The bridge keeps only
//! [`proof_hash`] of it and reports that (never the password) when it re-registers; a new
//! signaling process checks a `join` carrying `resume` against that hash.

use sha2::{Digest, Sha256};

/// Longest proof accepted in a `join`.
pub const MAX_PROOF_LEN: usize = 256;

/// The ICE password of a session description (the first `a=ice-pwd:` line), if any.
pub fn ice_pwd(sdp: &str) -> Option<&str> {
    sdp.lines()
        .find_map(|l| l.trim_end_matches('\r').strip_prefix("a=ice-pwd:"))
        .map(str::trim)
        .filter(|p| !p.is_empty() && p.len() <= MAX_PROOF_LEN)
}

/// Hex SHA-256 over the conference, the endpoint and the proof, so that a hash reported for
/// one endpoint proves nothing about another.
pub fn proof_hash(conference: &str, endpoint: &str, proof: &str) -> String {
    let mut h = Sha256::new();
    for part in [conference, endpoint, proof] {
        h.update((part.len() as u64).to_be_bytes());
        h.update(part.as_bytes());
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ice_pwd_is_found_and_bounded() {
        let sdp = "v=0\r\na=ice-ufrag:abcd\r\na=ice-pwd:s3cretpassword123456789\r\nm=audio\r\n";
        assert_eq!(ice_pwd(sdp), Some("s3cretpassword123456789"));
        assert_eq!(ice_pwd("v=0\r\n"), None);
        assert_eq!(ice_pwd("v=0\na=ice-pwd:\n"), None);
        assert_eq!(ice_pwd(&format!("a=ice-pwd:{}", "x".repeat(MAX_PROOF_LEN + 1))), None);
    }

    #[test]
    fn hash_binds_every_part() {
        let h = proof_hash("room", "ep", "pwd");
        assert_eq!(h.len(), 64);
        assert_eq!(h, proof_hash("room", "ep", "pwd"));
        assert_ne!(h, proof_hash("room", "ep2", "pwd"));
        assert_ne!(h, proof_hash("roo", "mep", "pwd"), "length-prefixed: no ambiguity");
        assert_ne!(h, proof_hash("room", "ep", "pwe"));
    }
}
