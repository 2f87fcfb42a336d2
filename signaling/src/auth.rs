//! Client tokens: HS256 JWTs with a `room` claim (the room, or `*` for any) and an `exp`.
//! A failed check becomes an `unauthorized` error naming the `token` field.

use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;

use ponte_proto::signal::{ErrorCode, SignalError};

/// Clock skew tolerated on `exp`, in seconds.
const LEEWAY_SECS: u64 = 30;

pub struct TokenVerifier {
    key: DecodingKey,
    validation: Validation,
}

#[derive(Deserialize)]
struct Claims {
    room: Option<String>,
}

impl TokenVerifier {
    pub fn new(secret: &str) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = LEEWAY_SECS;
        // Tokens name their room; an audience is not part of Ponte's tokens.
        validation.validate_aud = false;
        Self { key: DecodingKey::from_secret(secret.as_bytes()), validation }
    }

    /// Does `token` admit its bearer to `room`?
    pub fn verify(&self, token: Option<&str>, room: &str) -> Result<(), SignalError> {
        let refuse = |message: String| SignalError::field(ErrorCode::Unauthorized, "token", message);
        let token = token.ok_or_else(|| refuse("this server needs a `token` to join".into()))?;
        let claims = jsonwebtoken::decode::<Claims>(token, &self.key, &self.validation)
            .map_err(|e| refuse(describe(e.kind())))?
            .claims;
        match claims.room.as_deref() {
            Some(r) if r == room || r == "*" => Ok(()),
            Some(r) => Err(refuse(format!("the token is for room {r:?}, not {room:?}"))),
            None => Err(refuse("the token has no `room` claim".into())),
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
    use jsonwebtoken::{encode, EncodingKey, Header};

    pub(crate) fn token(secret: &str, room: &str, exp_from_now: i64) -> String {
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64;
        let claims = serde_json::json!({ "room": room, "exp": now + exp_from_now });
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
