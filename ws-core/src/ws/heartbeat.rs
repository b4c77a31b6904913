//! Heartbeats: one sweep per server and ping interval, instead of a timer per connection.
//!
//! A timer per connection costs a heap-allocated `Sleep` (~110 bytes) and a timer-wheel entry
//! for each idle connection, and a check on every wake-up of a busy one. The sweep walks the
//! server's connections once per interval instead: a connection heard from since the last
//! sweep is left alone, a quiet one is pinged, and one still quiet a sweep after its ping is
//! dropped as 1006. A silent client is therefore pinged 1–2 intervals after it went quiet and
//! dropped 1 interval after that, as with a per-connection timer.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::time::MissedTickBehavior;

use crate::ws::slot::Slots;

/// Sweeps `server`'s connections every `interval` until shutdown.
pub(crate) async fn sweep(
    server: Arc<Slots>,
    interval: Duration,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + interval, interval);
    // After a stall, one sweep, not a burst that would ping and drop in a single instant.
    ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = ticks.tick() => {}
            _ = shutdown.changed() => return,
        }
        server.registry.for_each(|conn| {
            if Arc::ptr_eq(&conn.server, &server.server) && conn.liveness.sweep() {
                conn.outbox.signal();
            }
        });
    }
}
