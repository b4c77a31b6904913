//! `cargo run`: the seed app, HTTP on 9501 and WebSocket on 9502.

use ws_core::App;

#[ws_core::main]
async fn main(app: &mut App) {
    seed::routes(app);
}
