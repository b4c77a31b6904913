[package]
name = "{{name}}"
version = "0.1.0"
edition = "2024"
publish = false

[dependencies]
# Features: `redis`, `nats` (cluster backplanes) and `tls` (wss://, https://) are on by default;
# `default-features = false, features = [...]` keeps only what the app uses.
{{ws_core_dep}}
tracing = "0.1"

[dev-dependencies]
{{ws_core_dev_dep}}
tokio = { version = "1", features = ["macros", "rt-multi-thread"] }

# A standalone app: never a member of a workspace it happens to be generated inside.
[workspace]
