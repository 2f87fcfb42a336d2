//! `ponte token`: mint a client token (HS256 JWT) that signaling accepts on `join`, with the
//! claims type signaling verifies ([`ponte_signaling::Claims`]).

use std::time::Duration;

use anyhow::{bail, Context};

use ponte_signaling::{mint_token, Claims};

/// Mint a join token and print it.
#[derive(Debug, clap::Args)]
pub struct TokenArgs {
    /// The room the token admits to; `*` for every room.
    #[arg(long)]
    room: String,
    /// The display name the bearer gets (replaces the one the client asks for).
    #[arg(long)]
    name: Option<String>,
    /// How long the token stays valid: seconds, or a number with s, m, h or d.
    #[arg(long, default_value = "1h", value_parser = parse_ttl)]
    ttl: Duration,
    /// The bearer moderates the room.
    #[arg(long)]
    moderator: bool,
    /// The secret signaling verifies with (its jwt_secret).
    #[arg(long, env = "PONTE_SIGNALING_JWT_SECRET", hide_env_values = true)]
    secret: String,
}

impl TokenArgs {
    pub fn run(self) -> anyhow::Result<()> {
        if self.room.is_empty() {
            bail!("--room must name a room (or `*` for every room)");
        }
        let claims = Claims::new(self.room, self.name, self.moderator, self.ttl);
        println!("{}", mint_token(&self.secret, &claims)?);
        Ok(())
    }
}

/// `90`, `90s`, `15m`, `1h`, `7d`.
fn parse_ttl(text: &str) -> anyhow::Result<Duration> {
    let text = text.trim();
    let split = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let n: u64 = number.parse().with_context(|| format!("{text:?} is not a duration like 90s, 15m, 1h or 7d"))?;
    let secs = match unit {
        "" | "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        other => bail!("unknown unit {other:?} in {text:?} (use s, m, h or d)"),
    };
    let ttl = n.checked_mul(secs).map(Duration::from_secs).context("the ttl is too long")?;
    if ttl.is_zero() {
        bail!("the ttl must be longer than zero");
    }
    Ok(ttl)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ttls() {
        assert_eq!(parse_ttl("90").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_ttl("15m").unwrap(), Duration::from_secs(900));
        assert_eq!(parse_ttl("1h").unwrap(), Duration::from_secs(3600));
        assert_eq!(parse_ttl("2d").unwrap(), Duration::from_secs(172_800));
        assert!(parse_ttl("0").is_err() && parse_ttl("1w").is_err() && parse_ttl("h").is_err());
    }
}
