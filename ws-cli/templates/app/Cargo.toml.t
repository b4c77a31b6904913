[package]
name = "{{name}}"
version = "0.1.0"
edition = "2024"
publish = false

[dependencies]
# Features: `redis`, `nats` (cluster backplanes) and `tls` (wss://, https://) are on by default;
# `default-features = false, features = [...]` keeps only what the app uses.
{{ws_core_dep}}
# What the guides' snippets use beside ws-core: `tokio::spawn`, `tokio::time::sleep`, `tracing::info!`.
tokio = { version = "1", features = ["macros", "rt-multi-thread", "time"] }
tracing = "0.1"
# Typed event payloads and JSON (the Socket.IO and HTTP chapters).
serde = { version = "1", features = ["derive"] }
serde_json = "1"

[dev-dependencies]
{{ws_core_dev_dep}}
# A raw WebSocket client, as in the cluster guide's example.
futures-util = "0.3"
tokio-tungstenite = "0.30"
# The middleware guide's tower layers; move it to [dependencies] when a controller uses one.
tower-http = { version = "0.6", default-features = false, features = ["cors", "timeout", "trace"] }

# A standalone app: never a member of a workspace it happens to be generated inside.
[workspace]
