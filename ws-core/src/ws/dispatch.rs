//! What a handler's error or panic does to its connection: an error is counted and logged and
//! the connection stays open; a panic is counted and logged and closes it with 1011.

use crate::Fd;
use crate::SendError;
use crate::metrics::Metrics;
use crate::ws::message::{CloseFrame, close_frame};

pub(crate) fn handler_failed(metrics: &Metrics, fd: Fd, callback: &str, error: &crate::Error) {
    metrics
        .handler_errors
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    // A refused push (a client not reading, a gone fd) is a normal outcome the handler chose to
    // pass up; under a flood it happens per message, and a warning each time would be log spam.
    if error.downcast_ref::<SendError>().is_some() {
        tracing::debug!(fd = %fd, callback, error = %error, "handler returned an error; the connection stays open");
    } else {
        tracing::warn!(fd = %fd, callback, error = %error, "handler returned an error; the connection stays open");
    }
}

/// Counts and logs a handler panic; the close frame that ends its connection.
///
/// Takes the payload as `catch_unwind` returns it: a `&Box<dyn Any>` passed where a `&dyn Any`
/// is expected coerces to the box itself, and the panic message would be lost.
pub(crate) fn handler_panicked(
    metrics: &Metrics,
    fd: Fd,
    callback: &str,
    panic: Box<dyn std::any::Any + Send>,
) -> CloseFrame {
    metrics
        .handler_panics
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let text = panic_text(&*panic);
    if callback == "on_close" {
        tracing::error!(fd = %fd, callback, panic = %text, "handler panicked after its connection closed");
    } else {
        tracing::error!(fd = %fd, callback, panic = %text, "handler panicked; closing the connection with 1011");
    }
    close_frame(1011, "internal error")
}

/// The message of a panic payload, for the log.
pub(crate) fn panic_text(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "non-text panic payload".into())
}
