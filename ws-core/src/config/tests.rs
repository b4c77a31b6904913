use super::*;

const SEED: &str = r#"
[[servers]]
name = "http"
type = "http"
port = 9501

[[servers]]
name = "ws"
type = "websocket"
port = 9502
"#;

fn parse_with(text: &str, vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
    Config::parse(text, Some(Path::new("config/server.toml")), |k| {
        vars.iter()
            .find(|(name, _)| *name == k)
            .map(|(_, v)| v.to_string())
    })
}

#[test]
fn env_overrides_host_and_port() {
    let config = parse_with(
        SEED,
        &[
            ("WS_SERVER_WS_PORT", "7000"),
            ("WS_SERVER_HTTP_HOST", "127.0.0.1"),
        ],
    )
    .unwrap();
    assert_eq!(config.server("ws").unwrap().port, 7000);
    assert_eq!(config.server("http").unwrap().host, "127.0.0.1");
}

#[test]
fn errors_are_one_line_naming_file_and_key() {
    let cases = [
        (
            "[[servers]]\nname = \"ws\"\ntype = \"websocket\"\nport = \"x\"",
            "servers[0].port",
        ),
        (
            "[[servers]]\nname = \"ws\"\ntype = \"tcp\"\nport = 1",
            "servers[0].type",
        ),
        (
            "[[servers]]\nname = \"ws\"\ntype = \"websocket\"\nport = 1\nprot = 2",
            "servers[0]",
        ),
        (
            "[[servers]]\nname = \"ws\"\ntype = \"websocket\"\nport = 1\n[[servers]]\nname = \"ws\"\ntype = \"http\"\nport = 2",
            "servers[1].name",
        ),
        (
            "[[servers]]\nname = \"a\"\ntype = \"websocket\"\nport = 1\n[[servers]]\nname = \"b\"\ntype = \"http\"\nport = 1",
            "servers[1].port",
        ),
        (
            "[[servers]]\nname = \"a\"\ntype = \"websocket\"\nport = 1\n[servers.settings]\nmax_conections = 3",
            "servers[0].settings",
        ),
        (
            "[[servers]]\nname = \"a\"\ntype = \"websocket\"\nport = 1\n[servers.settings.socketio]\nenabled = true\n[servers.settings.socketio.recovery]\nnamespaces = [\"chat\"]",
            "servers[0].settings.socketio.recovery.namespaces",
        ),
        (
            "[[servers]]\nname = \"a\"\ntype = \"websocket\"\nport = 1\n[servers.settings.socketio]\nenabled = true\n[servers.settings.socketio.recovery]\nmax_packets = 0",
            "servers[0].settings.socketio.recovery.max_packets",
        ),
    ];
    for (text, key) in cases {
        let err = parse_with(text, &[]).unwrap_err().to_string();
        assert!(!err.contains('\n'), "{err}");
        assert!(err.starts_with("config/server.toml"), "{err}");
        assert!(err.contains(key), "{err} should name {key}");
    }
    let err = parse_with("[[servers]\n", &[]).unwrap_err().to_string();
    assert!(err.starts_with("config/server.toml:1:"), "{err}");
    let err = parse_with(SEED, &[("WS_SERVER_WS_PORT", "99999")])
        .unwrap_err()
        .to_string();
    assert!(err.contains("WS_SERVER_WS_PORT"), "{err}");
}

#[test]
fn masked_config_hides_passwords() {
    let config = parse_with(
        SEED,
        &[("WS_CLUSTER_URL", "redis://app:s3cret@127.0.0.1:6379")],
    )
    .unwrap();
    let text = config.to_masked_toml();
    assert!(!text.contains("s3cret"), "{text}");
    assert!(text.contains("app:***@127.0.0.1"), "{text}");
}

#[test]
fn an_override_does_not_hide_an_invalid_value_in_the_file() {
    let text = SEED.replace("port = 9502", "port = \"ninety\"");
    let err = parse_with(&text, &[("WS_SERVER_WS_PORT", "7000")]).unwrap_err();
    assert!(err.to_string().contains("servers[1].port"), "{err}");
    let text = format!("{SEED}\n[log]\nformat = \"fancy\"\n");
    let err = parse_with(&text, &[("WS_LOG_FORMAT", "json")]).unwrap_err();
    assert!(err.to_string().contains("log.format"), "{err}");
}

#[test]
fn tls_paths_are_relative_to_the_config_folder() {
    let text = SEED.replace(
        "port = 9502",
        "port = 9502\n[servers.settings]\ntls = { cert = \"certs/a.crt\", key = \"/etc/a.key\" }",
    );
    let config = parse_with(&text, &[]).unwrap();
    let tls = config.server("ws").unwrap().settings.tls.clone().unwrap();
    assert_eq!(tls.cert, Path::new("config/certs/a.crt"));
    assert_eq!(tls.key, Path::new("/etc/a.key"));
}

#[test]
fn cluster_tls_keys_env_and_paths() {
    let text = "[cluster]\nurl = \"redis://app:pw@host:6380\"\ntls_ca = \"ca.pem\"\n";
    let config = parse_with(
        text,
        &[
            ("WS_CLUSTER_TLS", "true"),
            ("WS_CLUSTER_TLS_CERT", "/etc/ws/node.pem"),
            ("WS_CLUSTER_TLS_KEY", "node-key.pem"),
        ],
    )
    .unwrap();
    assert!(config.cluster.tls_enabled());
    // Relative to the config folder; absolute paths kept.
    assert_eq!(
        config.cluster.tls_ca.as_deref(),
        Some(Path::new("config/ca.pem"))
    );
    assert_eq!(
        config.cluster.tls_cert.as_deref(),
        Some(Path::new("/etc/ws/node.pem"))
    );
    let masked = config.to_masked_toml();
    assert!(
        !masked.contains("pw@") && !masked.contains("node-key"),
        "{masked}"
    );
}

#[test]
fn cluster_tls_mistakes_are_named() {
    let cases = [
        (
            "[cluster]\nurl = \"redis://h:1\"\ntls_ca = \"ca.pem\"\n",
            "`cluster.tls_ca`: is set but TLS is off",
        ),
        (
            "[cluster]\nurl = \"rediss://h:1\"\ntls_cert = \"c.pem\"\n",
            "`cluster.tls_key`: `tls_cert` needs `tls_key`",
        ),
        (
            "[cluster]\ntls = true\n",
            "`cluster.tls`: the memory:// backplane has no broker to secure",
        ),
    ];
    for (text, expected) in cases {
        let error = parse_with(text, &[]).unwrap_err().to_string();
        assert!(error.contains(expected), "{error}");
    }
    let error = parse_with(SEED, &[("WS_CLUSTER_TLS", "maybe")])
        .unwrap_err()
        .to_string();
    assert!(error.starts_with("WS_CLUSTER_TLS"), "{error}");
}
