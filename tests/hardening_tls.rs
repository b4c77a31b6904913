//! TLS through rustls from PEM files named in config: `wss://` and `https://` with a certificate
//! generated in the test, and one clear boot error for an unreadable, malformed or mismatched
//! certificate or key.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use futures_util::{SinkExt, StreamExt};
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use ws_core::http::HttpRequest;
use ws_core::prelude::*;
use ws_core::testing::TestServer;

#[derive(Default)]
struct Echo;

impl WebSocketHandler for Echo {
    async fn on_message(&self, conn: &Connection, msg: Message) -> Result<()> {
        conn.push(msg).await?;
        Ok(())
    }
}

/// A folder of PEM files, removed when dropped.
struct Pems {
    dir: PathBuf,
    cert: CertificateDer<'static>,
}

impl Pems {
    /// A fresh self-signed certificate for `localhost` and its key.
    fn generate(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("ws-tls-{}-{name}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let generated = rcgen::generate_simple_self_signed(vec![
            "localhost".to_string(),
            "127.0.0.1".to_string(),
        ])
        .expect("generate a certificate");
        std::fs::write(dir.join("cert.pem"), generated.cert.pem()).expect("write cert");
        std::fs::write(dir.join("key.pem"), generated.signing_key.serialize_pem())
            .expect("write key");
        Self {
            dir,
            cert: generated.cert.der().clone(),
        }
    }

    fn path(&self, file: &str) -> PathBuf {
        self.dir.join(file)
    }

    fn connector(&self) -> TlsConnector {
        let mut roots = rustls::RootCertStore::empty();
        roots
            .add(self.cert.clone())
            .expect("trust the test certificate");
        let config = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .expect("protocol versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
        TlsConnector::from(Arc::new(config))
    }
}

impl Drop for Pems {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn config(cert: &Path, key: &Path) -> String {
    let tls = format!(
        "tls = {{ cert = {:?}, key = {:?} }}",
        cert.display().to_string(),
        key.display().to_string()
    );
    format!(
        "[[servers]]\nname = \"ws\"\ntype = \"websocket\"\nport = 0\n[servers.settings]\n{tls}\n\n\
         [[servers]]\nname = \"http\"\ntype = \"http\"\nport = 0\n[servers.settings]\n{tls}\n"
    )
}

fn app() -> App {
    let mut app = App::new();
    app.router("ws").ws("/", Echo);
    app.router("http")
        .get("/ping", |_req: HttpRequest| async { "pong" });
    app
}

async fn tls_stream(pems: &Pems, addr: SocketAddr) -> tokio_rustls::client::TlsStream<TcpStream> {
    let tcp = TcpStream::connect(addr).await.expect("connect");
    let name = ServerName::try_from("localhost").expect("server name");
    pems.connector()
        .connect(name, tcp)
        .await
        .expect("TLS handshake")
}

#[tokio::test]
async fn wss_echoes_and_closes_cleanly_with_a_generated_certificate() {
    let pems = Pems::generate("wss");
    let server = TestServer::start(
        app(),
        &config(&pems.path("cert.pem"), &pems.path("key.pem")),
    )
    .await
    .expect("boot");
    let addr = server.app().addr("ws").expect("ws");
    let tls = tls_stream(&pems, addr).await;
    let url = format!("wss://localhost:{}/", addr.port());
    let (mut ws, response) = tokio_tungstenite::client_async(url, tls)
        .await
        .expect("wss upgrade");
    assert_eq!(response.status(), 101);
    ws.send(Message::text("secret")).await.expect("send");
    assert_eq!(
        ws.next().await.expect("echo").expect("echo"),
        Message::text("secret")
    );
    ws.send(Message::binary(vec![0u8, 1, 2]))
        .await
        .expect("send");
    assert_eq!(
        ws.next().await.expect("echo").expect("echo"),
        Message::binary(vec![0u8, 1, 2])
    );

    ws.close(None).await.expect("close");
    let ended = tokio::time::timeout(std::time::Duration::from_secs(5), async {
        loop {
            match ws.next().await {
                Some(Ok(Message::Close(_))) => continue,
                other => return other.map(|r| r.map(|_| ())),
            }
        }
    })
    .await
    .expect("the server did not finish the closing handshake");
    // The server closes first and says so with TLS close_notify: a clean end, not an EOF error.
    assert!(ended.is_none(), "unclean end of the TLS stream: {ended:?}");
    server.shutdown().await;
}

#[tokio::test]
async fn https_answers_on_the_http_server() {
    let pems = Pems::generate("https");
    let server = TestServer::start(
        app(),
        &config(&pems.path("cert.pem"), &pems.path("key.pem")),
    )
    .await
    .expect("boot");
    let addr = server.app().addr("http").expect("http");
    let mut tls = tls_stream(&pems, addr).await;
    tls.write_all(b"GET /ping HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .await
        .expect("send");
    let mut raw = Vec::new();
    let _ =
        tokio::time::timeout(std::time::Duration::from_secs(5), tls.read_to_end(&mut raw)).await;
    let text = String::from_utf8_lossy(&raw);
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    assert!(text.ends_with("pong"), "{text}");
    server.shutdown().await;
}

#[tokio::test]
async fn a_plain_client_on_the_tls_port_fails_and_the_server_goes_on() {
    let pems = Pems::generate("plain");
    let server = TestServer::start(
        app(),
        &config(&pems.path("cert.pem"), &pems.path("key.pem")),
    )
    .await
    .expect("boot");
    let addr = server.app().addr("ws").expect("ws");
    let plain = tokio::time::timeout(
        std::time::Duration::from_secs(5),
        tokio_tungstenite::connect_async(format!("ws://{addr}/")),
    )
    .await
    .expect("a plain client on a TLS port must fail, not hang");
    assert!(plain.is_err());

    let tls = tls_stream(&pems, addr).await;
    let (mut ws, _) =
        tokio_tungstenite::client_async(format!("wss://localhost:{}/", addr.port()), tls)
            .await
            .expect("wss");
    ws.send(Message::text("after")).await.expect("send");
    assert_eq!(
        ws.next().await.expect("echo").expect("echo"),
        Message::text("after")
    );
    server.shutdown().await;
}

async fn boot_error(cert: &Path, key: &Path) -> String {
    match TestServer::start(app(), &config(cert, key)).await {
        Ok(server) => {
            server.shutdown().await;
            panic!(
                "booted with cert {} and key {}",
                cert.display(),
                key.display()
            );
        }
        Err(error) => error.to_string(),
    }
}

#[tokio::test]
async fn an_unreadable_certificate_or_key_is_one_clear_error() {
    let pems = Pems::generate("missing");
    let missing = pems.path("nope.pem");
    let error = boot_error(&missing, &pems.path("key.pem")).await;
    assert!(
        error.contains("tls error") && error.contains("cannot read certificate"),
        "{error}"
    );
    assert!(
        error.contains("nope.pem") && error.contains("server `"),
        "{error}"
    );
    let error = boot_error(&pems.path("cert.pem"), &missing).await;
    assert!(
        error.contains("cannot read key") && error.contains("nope.pem"),
        "{error}"
    );
}

#[tokio::test]
async fn malformed_pem_files_are_one_clear_error() {
    let pems = Pems::generate("malformed");
    std::fs::write(pems.path("garbage.pem"), "not a certificate\n").expect("write");
    let error = boot_error(&pems.path("garbage.pem"), &pems.path("key.pem")).await;
    assert!(error.contains("holds no certificate"), "{error}");
    // A certificate where the key should be.
    let error = boot_error(&pems.path("cert.pem"), &pems.path("cert.pem")).await;
    assert!(error.contains("holds no private key"), "{error}");
}

#[tokio::test]
async fn a_key_that_does_not_match_the_certificate_is_refused_at_boot() {
    let pems = Pems::generate("mismatch-a");
    let other = Pems::generate("mismatch-b");
    let error = boot_error(&pems.path("cert.pem"), &other.path("key.pem")).await;
    assert!(error.contains("do not match"), "{error}");
}
