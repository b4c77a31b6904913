//! {{name}}: a ws-core application.
//!
//! Controllers register themselves: `#[ws_controller]` and `#[controller]` in [`controller`]
//! need no route table. [`setup`] holds what is declared in code instead.

pub mod controller;

use ws_core::App;
use ws_core::http::HttpRequest;

/// Routes in code (Hyperf's `config/routes.php`) and providers (`app.provide(value)`), used by
/// `main` and by the tests alike.
pub fn setup(app: &mut App) {
    app.router("http")
        .get("/", |_req: HttpRequest| async { "{{name}} is running" });
}
