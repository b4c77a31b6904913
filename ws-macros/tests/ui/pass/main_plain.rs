//! `#[ws_core::main]` on `async fn main()`: compiled, not run (running boots the app).

mod app {
    #[ws_core::main]
    pub async fn main() {}
}

fn main() {
    let _: fn() -> std::process::ExitCode = app::main;
}
