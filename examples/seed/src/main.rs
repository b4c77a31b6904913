//! `cargo run`: the seed app, HTTP on 9501 and WebSocket on 9502.

fn main() -> std::process::ExitCode {
    let mut app =
        ws_core::App::new().fallback_config_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/config"));
    seed::routes(&mut app);
    app.run()
}
