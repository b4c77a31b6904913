//! Shared by `cluster_auth_redis.rs` and `cluster_auth_nats.rs`: certificates made at test
//! time, brokers of our own that require credentials and TLS on free ports, and real seed
//! processes that must get a push across them, or be refused clearly.
#![allow(dead_code, unreachable_pub)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
};
use support::SeedProcess;
use support::delivery::assert_exactly_once;

use crate::cluster::{TempDir, eventually, http, seed_client, seed_config_with, unique_prefix};

/// A CA, a server certificate for 127.0.0.1 signed by it, a client certificate signed by it,
/// and an unrelated CA, as PEM files in a temporary folder.
pub struct Certs {
    pub dir: TempDir,
}

impl Certs {
    pub fn generate() -> Self {
        let dir = TempDir::new("broker-certs");
        let ca = write_ca(&dir.0, "ca", "test broker CA");
        write_ca(&dir.0, "other-ca", "some other CA");
        let leaf = |name: &str, usage: ExtendedKeyUsagePurpose| {
            let mut params =
                CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".into()])
                    .expect("certificate params");
            params.distinguished_name.push(DnType::CommonName, name);
            params.extended_key_usages = vec![usage];
            let key = KeyPair::generate().expect("key");
            let cert = params.signed_by(&key, &ca).expect("sign");
            std::fs::write(dir.0.join(format!("{name}.pem")), cert.pem()).expect("write cert");
            std::fs::write(dir.0.join(format!("{name}-key.pem")), key.serialize_pem())
                .expect("write key");
        };
        leaf("server", ExtendedKeyUsagePurpose::ServerAuth);
        leaf("client", ExtendedKeyUsagePurpose::ClientAuth);
        Self { dir }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.0.join(name)
    }

    /// Copies `names` into `dir` (a node's config folder), so the config names them relatively.
    pub fn copy_to(&self, dir: &Path, names: &[&str]) {
        for name in names {
            std::fs::copy(self.path(name), dir.join(name)).expect("copy certificate");
        }
    }
}

fn write_ca(dir: &Path, name: &str, common_name: &str) -> Issuer<'static, KeyPair> {
    let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params
        .distinguished_name
        .push(DnType::CommonName, common_name);
    let key = KeyPair::generate().expect("CA key");
    let cert = params.self_signed(&key).expect("self-sign CA");
    std::fs::write(dir.join(format!("{name}.pem")), cert.pem()).expect("write CA");
    Issuer::new(params, key)
}

/// A broker process of our own, killed on drop.
pub struct OwnBroker {
    pub process: support::Spawned,
    pub port: u16,
    /// Where its config and data live.
    pub dir: TempDir,
}

impl OwnBroker {
    /// Runs `command` and waits for its `ready` line.
    pub fn start(command: Command, ready: &str, port: u16, dir: TempDir) -> Self {
        let mut process = support::Spawned::start(command);
        process.wait_for_output(ready, Duration::from_secs(20));
        Self { process, port, dir }
    }
}

/// A seed process on `url` with `extra` lines in its `[cluster]` section, configured from its
/// own folder (`files` of `certs` are copied there, so `extra` names them relatively).
pub struct Node {
    pub seed: SeedProcess,
    pub dir: TempDir,
}

pub fn node(url: &str, prefix: &str, extra: &str, certs: Option<(&Certs, &[&str])>) -> Node {
    let dir = TempDir::new("auth-node");
    seed_config_with(&dir.0, url, prefix, extra);
    if let Some((certs, names)) = certs {
        certs.copy_to(&dir.0, names);
    }
    let config = dir.0.display().to_string();
    let seed = SeedProcess::start(&[("WS_CONFIG_DIR", &config)]);
    Node { seed, dir }
}

/// Two nodes, each with its own URL and `[cluster]` lines, get ready and carry a push from
/// each to a client of the other; neither prints a secret of its URL.
pub async fn push_crosses(
    nodes: [(&str, &str); 2],
    certs: Option<(&Certs, &[&str])>,
    secrets: &[&str],
) {
    let prefix = unique_prefix("auth");
    let started = std::time::Instant::now();
    let a = node(nodes[0].0, &prefix, nodes[0].1, certs);
    let b = node(nodes[1].0, &prefix, nodes[1].1, certs);
    for (node, name) in [(&a, "A"), (&b, "B")] {
        let http_addr = node.seed.http;
        eventually(
            Duration::from_secs(15),
            &format!("node {name} ready"),
            || async move { http(http_addr, "/ready").await.0 == 200 },
        )
        .await;
    }
    eprintln!("both nodes ready after {:?}", started.elapsed());
    let (mut on_a, fd_a) = seed_client(&a.seed).await;
    let (mut on_b, fd_b) = seed_client(&b.seed).await;
    assert_ne!(fd_a.node(), fd_b.node());
    for (via, fd, client, who) in [
        (a.seed.http, fd_b, &mut on_b, "client on B, pushed via A"),
        (b.seed.http, fd_a, &mut on_a, "client on A, pushed via B"),
    ] {
        let (status, body, _) = http(via, &format!("/server/send?fd={fd}")).await;
        assert_eq!(status, 200, "{who}: {body}");
        assert_exactly_once(client, "Hello World.", who).await;
    }
    for node in [&a, &b] {
        let output = node.seed.process.output();
        for secret in secrets {
            assert!(
                !output.contains(secret),
                "a secret reached the log:\n{output}"
            );
        }
    }
}

/// A node the broker refuses (`expect` is in the reason) binds and serves anyway: `/health`
/// 200, `/ready` 503 naming the refusal, one error line for it however often it retries, no
/// secret in its output, and still alive after several retries.
pub async fn refused(
    url: &str,
    extra: &str,
    certs: Option<(&Certs, &[&str])>,
    expect: &str,
    secrets: &[&str],
) {
    let node = node(url, &unique_prefix("refused"), extra, certs);
    let http_addr = node.seed.http;
    assert_eq!(http(http_addr, "/health").await.0, 200);
    let started = std::time::Instant::now();
    loop {
        let (status, body, _) = http(http_addr, "/ready").await;
        if status == 503 && body.contains(expect) {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "/ready does not name the refusal ({expect:?}): {status} {body}\n{}",
            node.seed.process.output()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    eprintln!("refusal on /ready after {:?}", started.elapsed());
    // Several retries later (the backoff is capped at 2 s) it is still up and still says so.
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert_eq!(http(http_addr, "/health").await.0, 200, "the node died");
    let (status, body, _) = http(http_addr, "/ready").await;
    assert_eq!(status, 503, "{body}");
    assert!(body.contains(expect), "{body}");
    let output = node.seed.process.output();
    let errors: Vec<&str> = output
        .lines()
        .filter(|line| line.contains("ERROR") && line.contains(expect))
        .collect();
    assert_eq!(errors.len(), 1, "one error line for the refusal:\n{output}");
    for secret in secrets {
        assert!(
            !output.contains(secret),
            "a secret reached the log:\n{output}"
        );
        assert!(!body.contains(secret), "a secret reached /ready: {body}");
    }
    eprintln!("refused as expected: {}", errors[0]);
}
