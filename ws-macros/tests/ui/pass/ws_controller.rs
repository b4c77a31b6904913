//! `#[ws_controller]` on unit, named and tuple structs, in modules, with injection.

use std::sync::Arc;

use ws_core::prelude::*;

#[ws_controller(server = "ws", path = "/")]
pub struct Unit;

impl WebSocketHandler for Unit {}

#[component]
pub struct Rooms;

#[ws_controller(server = "ws", path = "/chat/{room}", protocols = ["chat.v2", "chat.v1"])]
pub struct Chat {
    #[inject]
    sender: Sender,
    #[inject]
    rooms: Arc<Rooms>,
    #[inject]
    config: ws_core::Config,
    #[value("app.chat.greeting")]
    greeting: String,
    #[value("app.chat.limit")]
    limit: Option<u32>,
    /// Not injected: `Default::default()`.
    messages: std::sync::atomic::AtomicU64,
}

impl WebSocketHandler for Chat {
    async fn on_open(&self, conn: &Connection, _req: &Request) -> Result<()> {
        let _ = (&self.sender, &self.rooms, &self.config, self.limit, &self.messages);
        conn.push(self.greeting.clone()).await?;
        Ok(())
    }
}

/// A tuple struct is fine as long as nothing is injected.
#[ws_controller(server = "ws", path = "/tuple")]
pub struct Tuple(std::sync::atomic::AtomicU64, String);

impl WebSocketHandler for Tuple {}

mod nested {
    pub(crate) mod deeper {
        use ws_core::prelude::*;

        #[ws_core::ws_controller(server = "ws", path = "/nested")]
        pub(crate) struct Nested {
            #[inject]
            pub(crate) sender: Sender,
        }

        impl WebSocketHandler for Nested {}
    }
}

#[allow(non_camel_case_types)]
#[ws_controller(server = "ws", path = "/raw")]
struct r#type;

impl WebSocketHandler for r#type {}

fn main() {}
