//! Environment overrides of `server.toml`, applied to the parsed table before it is checked, so
//! a bad override is reported like a bad key: `WS_SERVER_<NAME>_HOST`, `WS_SERVER_<NAME>_PORT`
//! (NAME upper-cased, `-` and `.` as `_`), `WS_CLUSTER_URL`, `WS_CLUSTER_TLS`,
//! `WS_CLUSTER_TLS_CA`, `WS_CLUSTER_TLS_CERT`, `WS_CLUSTER_TLS_KEY`, `WS_LOG_LEVEL`, `WS_LOG_FORMAT`.

use std::path::Path;

use super::ConfigError;

/// Applies the overrides `env` knows to `table`, read from `file`.
pub(super) fn apply_overrides(
    table: &mut toml::Table,
    file: &Path,
    env: &impl Fn(&str) -> Option<String>,
) -> Result<(), ConfigError> {
    let env_error = |var: &str, reason: String| ConfigError::Env {
        var: var.to_string(),
        file: file.to_path_buf(),
        reason,
    };
    if let Some(servers) = table.get_mut("servers").and_then(|s| s.as_array_mut()) {
        for server in servers.iter_mut().filter_map(|s| s.as_table_mut()) {
            let Some(name) = server
                .get("name")
                .and_then(|n| n.as_str())
                .map(str::to_string)
            else {
                continue;
            };
            let stem = format!("WS_SERVER_{}", name.to_uppercase().replace(['-', '.'], "_"));
            let host_var = format!("{stem}_HOST");
            if let Some(host) = env(&host_var) {
                server.insert("host".into(), toml::Value::String(host));
            }
            let port_var = format!("{stem}_PORT");
            if let Some(port) = env(&port_var) {
                let port: u16 = port.trim().parse().map_err(|_| {
                    env_error(
                        &port_var,
                        format!("`{port}` is not a port number (0-65535)"),
                    )
                })?;
                server.insert("port".into(), toml::Value::Integer(i64::from(port)));
            }
        }
    }
    let mut set = |section: &str, key: &str, var: &str| {
        if let Some(value) = env(var) {
            let entry = table
                .entry(section.to_string())
                .or_insert_with(|| toml::Value::Table(Default::default()));
            if let Some(t) = entry.as_table_mut() {
                t.insert(key.into(), toml::Value::String(value));
            }
        }
    };
    set("cluster", "url", "WS_CLUSTER_URL");
    set("cluster", "tls_ca", "WS_CLUSTER_TLS_CA");
    set("cluster", "tls_cert", "WS_CLUSTER_TLS_CERT");
    set("cluster", "tls_key", "WS_CLUSTER_TLS_KEY");
    set("log", "level", "WS_LOG_LEVEL");
    set("log", "format", "WS_LOG_FORMAT");
    if let Some(value) = env("WS_CLUSTER_TLS") {
        let tls = match value.trim().to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" | "on" => true,
            "false" | "0" | "no" | "off" | "" => false,
            _ => {
                return Err(env_error(
                    "WS_CLUSTER_TLS",
                    format!("`{value}` is not a boolean (true or false)"),
                ));
            }
        };
        let cluster = table
            .entry("cluster".to_string())
            .or_insert_with(|| toml::Value::Table(Default::default()));
        if let Some(cluster) = cluster.as_table_mut() {
            cluster.insert("tls".into(), toml::Value::Boolean(tls));
        }
    }
    Ok(())
}
