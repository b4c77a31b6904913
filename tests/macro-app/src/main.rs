//! `cargo run -p macro-app`: the macro-mode test app (HTTP 9601, WebSocket 9602).

use ws_core::App;

#[ws_core::main]
async fn main(app: &mut App) {
    macro_app::routes(app);
}
