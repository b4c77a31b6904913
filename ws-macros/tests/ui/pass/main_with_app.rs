//! `#[ws_core::main]` taking the app and returning a `Result`: compiled, not run.

mod with_result {
    use ws_core::http::HttpRequest;
    use ws_core::prelude::*;

    #[ws_core::main]
    pub async fn main(app: &mut App) -> ws_core::Result<()> {
        app.router("http").get("/ping", |_req: HttpRequest| async { "pong" });
        if std::env::var_os("FAIL").is_some() {
            return Err(ws_core::Error::msg("asked to fail"));
        }
        let _port: u16 = "9501".parse()?;
        Ok(())
    }
}

mod other_error {
    #[derive(Debug)]
    pub struct SetupError;

    impl std::fmt::Display for SetupError {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("setup failed")
        }
    }

    impl std::error::Error for SetupError {}

    #[ws_core::main]
    pub async fn main() -> Result<(), SetupError> {
        Err(SetupError)
    }
}

fn main() {
    let _: fn() -> std::process::ExitCode = with_result::main;
    let _: fn() -> std::process::ExitCode = other_error::main;
}
