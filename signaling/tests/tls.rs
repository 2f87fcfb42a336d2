//! HTTPS and WSS on the signaling listener with a certificate from files, as an operator
//! without a reverse proxy runs it; and clear start-up errors for bad certificate settings.

use std::sync::Arc;

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::rustls::pki_types::{CertificateDer, ServerName};
use tokio_rustls::rustls::{ClientConfig, RootCertStore};
use tokio_rustls::TlsConnector;
use tokio_tungstenite::tungstenite::Message;

use ponte_focus::{Focus, FocusConfig};
use ponte_signaling::{Signaling, SignalingConfig};

/// A self-signed certificate for `localhost` written to a temp dir: (dir, cert DER).
fn certificate() -> (std::path::PathBuf, CertificateDer<'static>) {
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = rcgen::CertificateParams::new(vec!["localhost".into()]).unwrap().self_signed(&key).unwrap();
    let dir = std::env::temp_dir().join(format!("ponte-tls-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("cert.pem"), cert.pem()).unwrap();
    std::fs::write(dir.join("key.pem"), key.serialize_pem()).unwrap();
    (dir, cert.der().clone())
}

async fn connect_tls(addr: std::net::SocketAddr, trusted: CertificateDer<'static>) -> tokio_rustls::client::TlsStream<TcpStream> {
    let mut roots = RootCertStore::empty();
    roots.add(trusted).unwrap();
    let config = ClientConfig::builder().with_root_certificates(roots).with_no_client_auth();
    let tcp = TcpStream::connect(addr).await.unwrap();
    TlsConnector::from(Arc::new(config))
        .connect(ServerName::try_from("localhost").unwrap(), tcp)
        .await
        .expect("TLS handshake with the signaling listener")
}

#[tokio::test]
async fn https_and_wss_with_a_certificate() {
    let (dir, der) = certificate();
    let config = SignalingConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        tls_cert: Some(dir.join("cert.pem")),
        tls_key: Some(dir.join("key.pem")),
        ..Default::default()
    };
    let (focus, events) = Focus::new(FocusConfig::default(), prometheus::Registry::new());
    let signaling = Signaling::bind(config, focus, events).await.expect("bind with TLS");
    assert_eq!(signaling.scheme(), "https");
    let addr = signaling.addr();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(signaling.run(async move {
        let _ = stopped.await;
    }));

    let mut tls = connect_tls(addr, der.clone()).await;
    tls.write_all(b"GET /health HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n").await.unwrap();
    let mut response = String::new();
    tls.read_to_string(&mut response).await.unwrap();
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(response.ends_with("ok"), "{response}");

    // A plain-text client gets nowhere.
    let mut plain = TcpStream::connect(addr).await.unwrap();
    plain.write_all(b"GET /health HTTP/1.1\r\nHost: localhost\r\n\r\n").await.unwrap();
    let mut buf = [0u8; 64];
    let n = tokio::time::timeout(std::time::Duration::from_secs(5), plain.read(&mut buf)).await.unwrap().unwrap_or(0);
    assert!(!String::from_utf8_lossy(&buf[..n]).contains("200"), "no plain HTTP on a TLS listener");

    let tls = connect_tls(addr, der).await;
    let (mut ws, _) = tokio_tungstenite::client_async(format!("wss://localhost:{}/ws", addr.port()), tls).await.expect("WSS upgrade");
    ws.send(Message::text(json!({"type":"join","room":"secure","display_name":"Tess"}).to_string())).await.unwrap();
    let reply = loop {
        if let Message::Text(t) = ws.next().await.unwrap().unwrap() {
            break serde_json::from_str::<Value>(&t).unwrap();
        }
    };
    assert_eq!(reply["type"], "welcome", "{reply}");
    drop(ws);
    stop.send(()).unwrap();
    server.await.unwrap().unwrap();
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn bad_certificate_settings_fail_at_start_naming_the_key() {
    let (focus, events) = Focus::new(FocusConfig::default(), prometheus::Registry::new());
    let only_cert = SignalingConfig { tls_cert: Some("/nonexistent/cert.pem".into()), ..Default::default() };
    let e = only_cert.validate().unwrap_err().to_string();
    assert!(e.contains("tls_key"), "{e}");
    let missing = SignalingConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        tls_cert: Some("/nonexistent/cert.pem".into()),
        tls_key: Some("/nonexistent/key.pem".into()),
        ..Default::default()
    };
    let e = Signaling::bind(missing, focus, events).await.err().expect("refused").to_string();
    assert!(e.contains("tls_cert") && e.contains("/nonexistent/cert.pem"), "{e}");
}
