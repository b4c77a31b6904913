use ws_core::prelude::*;

#[component]
pub struct Settings {
    #[value("name")]
    name: String,
    #[value]
    port: u16,
    #[value(key = "app.port")]
    other_port: u16,
    #[inject(optional)]
    sender: Sender,
    #[inject]
    #[value("app.config")]
    config: ws_core::Config,
    #[inject]
    #[inject]
    twice: Sender,
}

fn main() {}
