//! [`WebSocketHandler`]: what a WebSocket controller does on open, message and close.

use std::future::Future;

use crate::ws::handshake::{Handshake, Rejection};
use crate::{CloseInfo, Connection, Message, Request, Result};

/// A WebSocket controller: Hyperf's `OnOpenInterface`, `OnMessageInterface` and
/// `OnCloseInterface` in one trait. Every method has a default, so a controller implements only
/// the callbacks it needs.
///
/// One controller value serves every connection of its route (a singleton, as in Hyperf); keep
/// per-connection state in [`Connection::context`].
///
/// ```
/// use ws_core::prelude::*;
///
/// #[derive(Default)]
/// struct Echo;
///
/// impl WebSocketHandler for Echo {
///     async fn on_open(&self, conn: &Connection, _req: &Request) -> Result<()> {
///         conn.push("Opened").await?;
///         Ok(())
///     }
///     async fn on_message(&self, conn: &Connection, msg: Message) -> Result<()> {
///         conn.push(format!("Recv: {}", msg.to_text()?)).await?;
///         Ok(())
///     }
/// }
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a WebSocket controller",
    label = "this type does not implement `WebSocketHandler`",
    note = "add `impl ws_core::WebSocketHandler for {Self} {{}}` and override `on_open`, `on_message` or `on_close`"
)]
pub trait WebSocketHandler: Send + Sync + 'static {
    /// Runs before the upgrade is accepted, with the request; an `Err` rejects the handshake
    /// with its status, headers and body. Values stored in [`Handshake::context`] are seen by the
    /// connection's callbacks; if the handshake fails, they are dropped with it. Headers added
    /// with [`Handshake::header`] go out with the `101` response.
    fn on_handshake(
        &self,
        req: &Request,
        handshake: &mut Handshake,
    ) -> impl Future<Output = Result<(), Rejection>> + Send {
        let _ = (req, handshake);
        async { Ok(()) }
    }

    /// Runs once the connection is open. An `Err` is logged with the fd; the connection stays.
    fn on_open(&self, conn: &Connection, req: &Request) -> impl Future<Output = Result<()>> + Send {
        let _ = (conn, req);
        async { Ok(()) }
    }

    /// Runs for every text or binary message, in order. An `Err` is logged with the fd; the
    /// connection stays.
    fn on_message(
        &self,
        conn: &Connection,
        msg: Message,
    ) -> impl Future<Output = Result<()>> + Send {
        let _ = (conn, msg);
        async { Ok(()) }
    }

    /// Runs once when the connection has closed, however it closed.
    fn on_close(&self, conn: &Connection, close: CloseInfo) -> impl Future<Output = ()> + Send {
        let _ = (conn, close);
        async {}
    }
}
