//! Per-client caps of a WebSocket server: how many connections one client address may hold
//! open, and how many upgrades it may attempt per second.
//!
//! Only built when a cap is configured: a server without caps has no table, and its
//! connections carry nothing for it. A connection that passed the caps is remembered by its fd
//! here, so its task needs no extra field to give its place back when it ends.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use dashmap::DashMap;
use http::StatusCode;

use crate::Fd;
use crate::config::ServerSettings;
use crate::ws::rejection::Rejection;

/// What one client address is holding.
#[derive(Debug)]
struct ClientState {
    open: usize,
    /// Handshake tokens left, refilled at `rate` a second up to `rate`.
    tokens: f64,
    refilled: Instant,
}

/// Why a client was turned away, and when it may try again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// Over the handshake rate: 429.
    TooFast(Duration),
    /// Over the open-connection cap (or the table is full of busy clients): 503.
    TooMany(Duration),
}

impl Refusal {
    /// The answer the refused client gets.
    pub(crate) fn rejection(self) -> Rejection {
        let (status, body, wait) = match self {
            Refusal::TooFast(wait) => (
                StatusCode::TOO_MANY_REQUESTS,
                "too many handshakes from this address, slow down\n",
                wait,
            ),
            Refusal::TooMany(wait) => (
                StatusCode::SERVICE_UNAVAILABLE,
                "too many connections from this address, try again later\n",
                wait,
            ),
        };
        Rejection::new(status, body).header("Retry-After", &wait.as_secs().max(1).to_string())
    }
}

/// The per-client tables of one server.
#[derive(Debug)]
pub(crate) struct ClientCaps {
    max_open: usize,
    rate: f64,
    max_tracked: usize,
    clients: DashMap<IpAddr, ClientState>,
    /// Which client each open connection counts against.
    owners: DashMap<Fd, IpAddr>,
}

impl ClientCaps {
    /// The caps of `settings`, or `None` when both are off.
    pub(crate) fn new(settings: &ServerSettings) -> Option<Self> {
        settings.caps_clients().then(|| Self {
            max_open: settings.max_connections_per_client,
            rate: f64::from(settings.max_handshake_rate_per_client),
            max_tracked: settings.max_tracked_clients,
            clients: DashMap::new(),
            owners: DashMap::new(),
        })
    }

    /// Charges one upgrade attempt to `client`.
    pub(crate) fn handshake(&self, client: IpAddr) -> Result<(), Refusal> {
        if self.rate == 0.0 {
            return Ok(());
        }
        let now = Instant::now();
        self.make_room(client, now)?;
        let mut state = self
            .clients
            .entry(client)
            .or_insert_with(|| self.fresh(now));
        self.refill(&mut state, now);
        if state.tokens >= 1.0 {
            state.tokens -= 1.0;
            return Ok(());
        }
        let wait = (1.0 - state.tokens) / self.rate;
        Err(Refusal::TooFast(Duration::from_secs_f64(
            wait.ceil().max(1.0),
        )))
    }

    /// Counts a connection against `client`; the lease gives it back when dropped unless it is
    /// bound to the connection's fd. `None` when open connections are not capped.
    pub(crate) fn open(&self, client: IpAddr) -> Result<Option<ClientLease<'_>>, Refusal> {
        if self.max_open == 0 {
            return Ok(None);
        }
        let now = Instant::now();
        self.make_room(client, now)?;
        let mut state = self
            .clients
            .entry(client)
            .or_insert_with(|| self.fresh(now));
        if state.open >= self.max_open {
            return Err(Refusal::TooMany(Duration::from_secs(1)));
        }
        state.open += 1;
        Ok(Some(ClientLease {
            caps: self,
            client,
            bound: false,
        }))
    }

    /// The connection `fd` ended: its client may open another.
    pub(crate) fn closed(&self, fd: Fd) {
        if let Some((_, client)) = self.owners.remove(&fd) {
            self.release(client);
        }
    }

    fn release(&self, client: IpAddr) {
        if let Some(mut state) = self.clients.get_mut(&client) {
            state.open = state.open.saturating_sub(1);
        }
    }

    fn fresh(&self, now: Instant) -> ClientState {
        ClientState {
            open: 0,
            tokens: self.rate,
            refilled: now,
        }
    }

    fn refill(&self, state: &mut ClientState, now: Instant) {
        let elapsed = now.saturating_duration_since(state.refilled).as_secs_f64();
        state.tokens = (state.tokens + elapsed * self.rate).min(self.rate);
        state.refilled = now;
    }

    /// Keeps the table under `max_tracked` before `client` is added to it: forgets clients
    /// that hold nothing and whose bucket is full again, then, if that was not enough, clients
    /// that merely hold nothing (their rate history is lost, which only favours them). A table
    /// full of clients with open connections refuses the newcomer.
    fn make_room(&self, client: IpAddr, now: Instant) -> Result<(), Refusal> {
        if self.clients.len() < self.max_tracked || self.clients.contains_key(&client) {
            return Ok(());
        }
        let full_after = |state: &ClientState| {
            let elapsed = now.saturating_duration_since(state.refilled).as_secs_f64();
            self.rate == 0.0 || state.tokens + elapsed * self.rate >= self.rate
        };
        self.clients
            .retain(|_, state| state.open > 0 || !full_after(state));
        if self.clients.len() >= self.max_tracked {
            self.clients.retain(|_, state| state.open > 0);
        }
        if self.clients.len() >= self.max_tracked {
            tracing::warn!(
                tracked = self.clients.len(),
                "per-client table full of clients with open connections; refusing a new client (raise max_tracked_clients)"
            );
            return Err(Refusal::TooMany(Duration::from_secs(1)));
        }
        Ok(())
    }

    #[cfg(test)]
    fn tracked(&self) -> usize {
        self.clients.len()
    }
}

/// A connection counted against its client while its handshake goes on.
#[derive(Debug)]
pub(crate) struct ClientLease<'a> {
    caps: &'a ClientCaps,
    client: IpAddr,
    bound: bool,
}

impl ClientLease<'_> {
    /// The handshake succeeded: the count now ends with the connection `fd`
    /// (see [`ClientCaps::closed`]).
    pub(crate) fn bind(mut self, fd: Fd) {
        self.caps.owners.insert(fd, self.client);
        self.bound = true;
    }
}

impl Drop for ClientLease<'_> {
    fn drop(&mut self) {
        if !self.bound {
            self.caps.release(self.client);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caps(per_client: usize, rate: u32, tracked: usize) -> ClientCaps {
        ClientCaps::new(&ServerSettings {
            max_connections_per_client: per_client,
            max_handshake_rate_per_client: rate,
            max_tracked_clients: tracked,
            ..ServerSettings::default()
        })
        .unwrap()
    }

    fn ip(last: u8) -> IpAddr {
        IpAddr::from([192, 0, 2, last])
    }

    #[test]
    fn off_by_default() {
        assert!(ClientCaps::new(&ServerSettings::default()).is_none());
    }

    #[test]
    fn open_connections_are_capped_and_given_back() {
        let caps = caps(2, 0, 10);
        caps.open(ip(1)).unwrap().unwrap().bind(Fd(1));
        let lease = caps.open(ip(1)).unwrap();
        assert!(matches!(caps.open(ip(1)), Err(Refusal::TooMany(_))));
        caps.open(ip(2)).unwrap().unwrap().bind(Fd(3));
        drop(lease); // a handshake that failed after the count
        caps.open(ip(1)).unwrap().unwrap().bind(Fd(2));
        assert!(caps.open(ip(1)).is_err());
        caps.closed(Fd(1));
        assert!(caps.open(ip(1)).is_ok());
    }

    #[test]
    fn handshakes_are_rate_limited_per_client() {
        let caps = caps(0, 3, 10);
        for _ in 0..3 {
            caps.handshake(ip(1)).unwrap();
        }
        assert_eq!(
            caps.handshake(ip(1)),
            Err(Refusal::TooFast(Duration::from_secs(1)))
        );
        caps.handshake(ip(2)).unwrap();
    }

    #[test]
    fn the_table_stays_bounded() {
        let caps = caps(1, 1000, 4);
        for n in 0..100 {
            caps.open(ip(n)).unwrap(); // dropped at once: nothing held
        }
        assert!(caps.tracked() <= 4);
        for n in 0..4 {
            caps.open(ip(n)).unwrap().unwrap().bind(Fd(u64::from(n)));
        }
        assert!(matches!(caps.open(ip(200)), Err(Refusal::TooMany(_))));
        caps.closed(Fd(0));
        assert!(caps.open(ip(200)).is_ok());
    }
}
