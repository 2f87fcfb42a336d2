//! `ponte token` mints what signaling accepts: a token for the room (and its display name)
//! gets in, the same token for another room is refused as unauthorized.

use std::time::Duration;

use ponte::StackConfig;
use ponte_loadtest::{Participant, ParticipantError, ParticipantOptions};
use ponte_proto::signal::ErrorCode;
use ponte_tests::{process, stack};

const SECRET: &str = "token-test-secret";

/// Run `ponte token` with the secret in the environment, as an operator would.
fn mint(args: &[&str]) -> String {
    let out = std::process::Command::new(process::binary("ponte"))
        .arg("token")
        .args(args)
        .env("PONTE_SIGNALING_JWT_SECRET", SECRET)
        .output()
        .expect("ponte token runs");
    assert!(out.status.success(), "ponte token: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).expect("a token is ASCII").trim().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_minted_token_admits_to_its_room_only() {
    let mut config = StackConfig::loopback();
    config.signaling.jwt_secret = Some(SECRET.into());
    let stack = stack::start_with(config).await;
    let token = mint(&["--room", "vip", "--name", "Ada Lovelace", "--ttl", "10m", "--moderator"]);

    let opts = || ParticipantOptions { token: Some(token.clone()), send_video: false, ..Default::default() };
    let ada = stack::join_with(&stack, "vip", "someone else", opts()).await;

    match Participant::join(&stack.ws_url(), "other-room", "Ada", opts()).await {
        Err(ParticipantError::Refused { code: ErrorCode::Unauthorized, message }) => {
            assert!(message.contains("vip"), "the refusal names the token's room: {message}");
        }
        Err(e) => panic!("expected unauthorized, got {e}"),
        Ok(_) => panic!("a token for `vip` must not admit to `other-room`"),
    }
    let none = ParticipantOptions { token: None, ..Default::default() };
    let refused = Participant::join(&stack.ws_url(), "vip", "Eve", none).await;
    assert!(matches!(refused, Err(ParticipantError::Refused { code: ErrorCode::Unauthorized, .. })));

    let any = mint(&["--room", "*", "--ttl", "60"]);
    let opts = ParticipantOptions { token: Some(any), send_video: false, ..Default::default() };
    let bob = tokio::time::timeout(Duration::from_secs(15), stack::join_with(&stack, "vip", "Bob", opts)).await;
    let bob = bob.expect("a `*` token admits to any room");
    let seen = bob.roster().into_iter().find(|p| p.id == ada.id()).expect("Bob sees Ada");
    assert_eq!(seen.display_name, "Ada Lovelace", "the token's name wins over the one asked for");
    stack.shutdown().await.unwrap();
}
