//! Client tokens: HS256 JWTs. The claims ([`Claims`]) are the room (or `*` for any room), the
//! display name, whether the bearer moderates, and the expiry. [`mint_token`] makes them (the
//! `ponte token` command) and [`TokenVerifier`] checks them on `join`, from the one type, so
//! what is minted is what is verified. A failed check becomes an `unauthorized` error naming
//! the `token` field.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use ponte_proto::signal::{ErrorCode, SignalError};

use crate::error::SignalingError;

/// Clock skew tolerated on `exp`, in seconds.
const LEEWAY_SECS: u64 = 30;

/// The `room` claim that admits to every room.
pub const ANY_ROOM: &str = "*";

/// What a client token says about its bearer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// The room the token admits to, or `*` for any room. Empty when a token lacks it.
    #[serde(default)]
    pub room: String,
    /// The bearer's display name; when present it replaces the name the client asks for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Whether the bearer moderates the room.
    #[serde(default)]
    pub moderator: bool,
    /// Expiry, seconds since the Unix epoch.
    pub exp: u64,
}

impl Claims {
    /// Claims valid for `ttl` from now.
    pub fn new(room: impl Into<String>, name: Option<String>, moderator: bool, ttl: Duration) -> Self {
        let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
        Self { room: room.into(), name, moderator, exp: (now + ttl).as_secs() }
    }
}

/// Sign `claims` with the HS256 `secret` signaling verifies with.
pub fn mint_token(secret: &str, claims: &Claims) -> Result<String, SignalingError> {
    if secret.is_empty() {
        return Err(SignalingError::Config { key: "jwt_secret".into(), reason: "must not be empty".into() });
    }
    jsonwebtoken::encode(&Header::new(Algorithm::HS256), claims, &EncodingKey::from_secret(secret.as_bytes()))
        .map_err(|e| SignalingError::Config { key: "jwt_secret".into(), reason: format!("cannot sign a token: {e}") })
}

pub struct TokenVerifier {
    key: DecodingKey,
    validation: Validation,
}

impl TokenVerifier {
    pub fn new(secret: &str) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = LEEWAY_SECS;
        // Tokens name their room; an audience is not part of Ponte's tokens.
        validation.validate_aud = false;
        Self { key: DecodingKey::from_secret(secret.as_bytes()), validation }
    }

    /// Does `token` admit its bearer to `room`? The claims when it does.
    pub fn verify(&self, token: Option<&str>, room: &str) -> Result<Claims, SignalError> {
        let refuse = |message: String| SignalError::field(ErrorCode::Unauthorized, "token", message);
        let token = token.ok_or_else(|| refuse("this server needs a `token` to join".into()))?;
        let claims = jsonwebtoken::decode::<Claims>(token, &self.key, &self.validation)
            .map_err(|e| refuse(describe(e.kind())))?
            .claims;
        match claims.room.as_str() {
            "" => Err(refuse("the token has no `room` claim".into())),
            r if r == room || r == ANY_ROOM => Ok(claims),
            r => Err(refuse(format!("the token is for room {r:?}, not {room:?}"))),
        }
    }
}

fn describe(kind: &ErrorKind) -> String {
    match kind {
        ErrorKind::ExpiredSignature => "the token has expired".into(),
        ErrorKind::InvalidSignature => "the token's signature does not match this server's secret".into(),
        ErrorKind::InvalidAlgorithm => "the token must be signed with HS256".into(),
        ErrorKind::MissingRequiredClaim(c) => format!("the token has no `{c}` claim"),
        ErrorKind::InvalidToken | ErrorKind::Base64(_) | ErrorKind::Json(_) | ErrorKind::Utf8(_) => {
            "the token is not a well-formed JWT".into()
        }
        other => format!("the token is not valid: {other:?}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jsonwebtoken::encode;

    pub(crate) fn token(secret: &str, room: &str, exp_from_now: i64) -> String {
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64;
        let claims = serde_json::json!({ "room": room, "exp": now + exp_from_now });
        encode(&Header::new(Algorithm::HS256), &claims, &EncodingKey::from_secret(secret.as_bytes())).unwrap()
    }

    #[test]
    fn minted_tokens_verify_with_their_claims() {
        let v = TokenVerifier::new("s3cret");
        let claims = Claims::new("r1", Some("Ada".into()), true, Duration::from_secs(3600));
        let token = mint_token("s3cret", &claims).unwrap();
        assert_eq!(v.verify(Some(&token), "r1").unwrap(), claims);
        let e = v.verify(Some(&token), "r2").unwrap_err();
        assert_eq!(e.code, ErrorCode::Unauthorized);
        let any = mint_token("s3cret", &Claims::new(ANY_ROOM, None, false, Duration::from_secs(60))).unwrap();
        let c = v.verify(Some(&any), "r2").unwrap();
        assert_eq!((c.name, c.moderator), (None, false));
        let no_room = token_json("s3cret", serde_json::json!({ "exp": 4_000_000_000u64 }));
        assert!(v.verify(Some(&no_room), "r1").unwrap_err().message.contains("no `room`"));
        assert!(mint_token("", &claims).is_err());
    }

    fn token_json(secret: &str, claims: serde_json::Value) -> String {
        encode(&Header::new(Algorithm::HS256), &claims, &EncodingKey::from_secret(secret.as_bytes())).unwrap()
    }

    #[test]
    fn checks_room_expiry_and_signature() {
        let v = TokenVerifier::new("s3cret");
        v.verify(Some(&token("s3cret", "r1", 60)), "r1").unwrap();
        v.verify(Some(&token("s3cret", "*", 60)), "r1").unwrap();
        let e = v.verify(Some(&token("s3cret", "r2", 60)), "r1").unwrap_err();
        assert_eq!((e.code, e.field.as_deref()), (ErrorCode::Unauthorized, Some("token")));
        assert!(v.verify(Some(&token("s3cret", "r1", -3600)), "r1").unwrap_err().message.contains("expired"));
        assert!(v.verify(Some(&token("other", "r1", 60)), "r1").unwrap_err().message.contains("signature"));
        assert!(v.verify(Some("garbage"), "r1").unwrap_err().message.contains("well-formed"));
        assert!(v.verify(None, "r1").is_err());
    }
}
