//! `cargo run`: every server of `config/server.toml` (HTTP 9501, WebSocket 9502).
//! `cargo run -- routes` lists the routes, `cargo run -- config` prints the effective config.

#[ws_core::main]
async fn main(app: &mut ws_core::App) {
    {{crate_name}}::setup(app);
}
