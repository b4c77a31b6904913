//! The ack load: every client keeps `--inflight` `echo` events outstanding, checks each ack
//! against what it sent, and sends the same event again.
//!
//! Each client has `--inflight` slots, slot `i` an event with ack id `i` and its own payload,
//! framed once. An ack frees its slot, which is refilled with the same frame: ids are the
//! client's to reuse once acked, and a server that answers out of order (one that runs handlers
//! concurrently) is still checked exactly.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::bail;
use tokio::task::JoinSet;
use tokio_tungstenite::tungstenite::handshake::client::Request;

use super::super::upgrade;
use super::super::{CONNECT_TIMEOUT, Schedule};
use super::conn::{SioConn, event_frame};
use super::{BenchSocketIoArgs, SETUP_TIMEOUT, SocketIoReport};

const PATTERN: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";

/// What every client shares: the acks counted, the errors seen.
#[derive(Default)]
struct Shared {
    acked: AtomicU64,
    errors: AtomicU64,
    first_error: std::sync::Mutex<Option<String>>,
}

impl Shared {
    fn fail(&self, error: &anyhow::Error) {
        self.errors.fetch_add(1, Ordering::Relaxed);
        if let Ok(mut first) = self.first_error.lock() {
            first.get_or_insert_with(|| format!("{error:#}"));
        }
    }
}

/// The events of one client's slots and the acks they must get.
struct Slots {
    frames: Vec<Vec<u8>>,
    acks: Vec<Vec<u8>>,
}

impl Slots {
    fn new(inflight: usize, size: usize) -> Self {
        let text: Vec<u8> = PATTERN
            .iter()
            .copied()
            .cycle()
            .take(size + inflight)
            .collect();
        let (mut frames, mut acks) = (Vec::new(), Vec::new());
        for slot in 0..inflight {
            // The pattern's letters need no JSON escaping.
            let payload = String::from_utf8_lossy(&text[slot..slot + size]).into_owned();
            frames.push(event_frame(
                Some(slot),
                &format!("[\"echo\",\"{payload}\"]"),
            ));
            acks.push(format!("43{slot}[\"{payload}\"]").into_bytes());
        }
        Self { frames, acks }
    }
}

pub(super) async fn run(
    args: &BenchSocketIoArgs,
    request: Request,
) -> anyhow::Result<SocketIoReport> {
    let shared = Arc::new(Shared::default());
    let inflight = args.inflight as usize;
    let slots = Arc::new(Slots::new(inflight, args.size as usize));
    let (ready_tx, mut ready) = tokio::sync::mpsc::channel::<()>(args.conns as usize);
    let (go_tx, go) = tokio::sync::watch::channel(None::<Schedule>);
    let mut tasks = JoinSet::new();
    let permits = Arc::new(tokio::sync::Semaphore::new(
        super::super::CONNECT_CONCURRENCY,
    ));
    for _ in 0..args.conns {
        let request = crate::connect::fresh_request(&request);
        let (shared, slots, ready_tx, mut go) =
            (shared.clone(), slots.clone(), ready_tx.clone(), go.clone());
        let permits = Arc::clone(&permits);
        tasks.spawn(async move {
            let setup = async {
                let upgraded = upgrade::upgrade(request, CONNECT_TIMEOUT).await?;
                anyhow::Ok(SioConn::open(upgraded).await?)
            };
            // At most so many set up at once: a burst of thousands of SYNs overflows the listen
            // backlog and stalls in retransmits.
            let permit = permits.acquire_owned().await;
            let set_up = tokio::time::timeout(SETUP_TIMEOUT, setup).await;
            drop(permit);
            let mut conn = match set_up {
                Ok(Ok(conn)) => conn,
                Ok(Err(error)) => return shared.fail(&error),
                Err(_) => return shared.fail(&anyhow::anyhow!("setup timed out")),
            };
            let _ = ready_tx.send(()).await;
            // Held no longer, so a client that fails to set up ends the wait for the others.
            drop(ready_tx);
            let Ok(go) = go.wait_for(Option::is_some).await.map(|go| *go) else {
                return;
            };
            if let Some(schedule) = go
                && let Err(error) = client(&mut conn, &slots, &shared, schedule).await
            {
                shared.fail(&error);
            }
        });
    }
    drop(ready_tx);
    let mut clients = 0;
    while clients < args.conns && ready.recv().await.is_some() {
        clients += 1;
    }
    if clients == 0 {
        bail!(
            "no client could connect: {}",
            shared
                .first_error
                .lock()
                .ok()
                .and_then(|first| first.clone())
                .unwrap_or_default()
        );
    }
    let schedule = Schedule::starting_now(args.warmup, args.secs);
    let _ = go_tx.send(Some(schedule));
    let windows = super::measure(schedule, args.server_pid, || {
        shared.acked.load(Ordering::Relaxed)
    })
    .await;
    tasks.abort_all();
    let errors = shared.errors.load(Ordering::Relaxed);
    let first_error = shared
        .first_error
        .lock()
        .ok()
        .and_then(|first| first.clone());
    Ok(SocketIoReport::new(
        "ack",
        args,
        u64::from(clients),
        windows,
        errors,
        first_error,
    ))
}

/// One client's loop: one read takes every ack that has arrived, one write sends their
/// replacements.
async fn client(
    conn: &mut SioConn,
    slots: &Slots,
    shared: &Shared,
    schedule: Schedule,
) -> anyhow::Result<()> {
    let mut outstanding = vec![true; slots.frames.len()];
    for frame in &slots.frames {
        conn.out.extend_from_slice(frame);
    }
    conn.flush().await?;
    loop {
        conn.fill().await?;
        let mut acked = 0;
        conn.drain(|payload, out| {
            let slot = ack_slot(payload)
                .filter(|slot| outstanding.get(*slot) == Some(&true))
                .filter(|slot| slots.acks[*slot] == payload);
            let Some(slot) = slot else {
                bail!(
                    "an unexpected packet: {}",
                    String::from_utf8_lossy(&payload[..payload.len().min(200)])
                );
            };
            outstanding[slot] = false;
            out.extend_from_slice(&slots.frames[slot]);
            acked += 1;
            Ok(())
        })?;
        conn.flush().await?;
        // Every slot acked in this batch was sent again: all are outstanding once more.
        outstanding.fill(true);
        shared.acked.fetch_add(acked, Ordering::Relaxed);
        if std::time::Instant::now() >= schedule.end {
            return Ok(());
        }
    }
}

/// The ack id of a `43<id>[...]` packet of the namespace `/`.
fn ack_slot(payload: &[u8]) -> Option<usize> {
    let digits = payload.strip_prefix(b"43")?;
    let len = digits.iter().take_while(|b| b.is_ascii_digit()).count();
    std::str::from_utf8(&digits[..len]).ok()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ack_ids_are_read_off_the_packet() {
        assert_eq!(ack_slot(b"4312[\"x\"]"), Some(12));
        assert_eq!(ack_slot(b"430[]"), Some(0));
        assert_eq!(ack_slot(b"42[\"event\"]"), None);
        assert_eq!(ack_slot(b"43[\"x\"]"), None);
    }

    #[test]
    fn every_slot_has_its_own_payload() {
        let slots = Slots::new(3, 4);
        assert_eq!(slots.acks[0], b"430[\"abcd\"]");
        assert_eq!(slots.acks[2], b"432[\"cdef\"]");
    }
}
