//! The room load: `--room-members` clients join one room with `join-room`; one more client sends
//! `say` (`{"room": .., "message": "m<seq>"}`) to it, keeping at most `--inflight` messages not
//! yet delivered to every member. Each member checks it gets `<sid> say: m<seq>` for every
//! message, in order.
//!
//! The window is counted in deliveries, not acks: a server acks (or finishes handling) an emit
//! once it is queued for the members, and a sender paced by that alone would measure how much a
//! server buffers rather than how fast it delivers.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::bail;
use tokio::sync::{Notify, mpsc, watch};
use tokio::task::JoinSet;
use tokio_tungstenite::tungstenite::handshake::client::Request;

use super::super::upgrade;
use super::super::{CONNECT_TIMEOUT, Schedule};
use super::conn::{SioConn, event_frame};
use super::{BenchSocketIoArgs, SETUP_TIMEOUT, SocketIoReport};

/// What a member gets for each `say`: `42["event","<sid> say: m<seq>"]`.
const SAID: &[u8] = b" say: m";
/// What a joiner gets back once it is in the room (the seed's `join-room`, and the references').
const JOINED: &[u8] = b"42[\"event\",\"There are ";

/// Deliveries so far, and when the sender wants to hear of them.
struct Tally {
    delivered: AtomicU64,
    /// The delivery count the sender waits for; `u64::MAX` while it does not wait.
    wake_at: AtomicU64,
    wake: Notify,
    errors: AtomicU64,
    first_error: std::sync::Mutex<Option<String>>,
}

impl Tally {
    fn add(&self, deliveries: u64) {
        let before = self.delivered.fetch_add(deliveries, Ordering::AcqRel);
        let wake_at = self.wake_at.load(Ordering::Acquire);
        if before < wake_at && wake_at <= before + deliveries {
            self.wake.notify_one();
        }
    }

    fn fail(&self, error: &anyhow::Error) {
        self.errors.fetch_add(1, Ordering::Relaxed);
        if let Ok(mut first) = self.first_error.lock() {
            first.get_or_insert_with(|| format!("{error:#}"));
        }
    }

    fn first_error(&self) -> Option<String> {
        self.first_error.lock().ok().and_then(|first| first.clone())
    }
}

pub(super) async fn run(
    args: &BenchSocketIoArgs,
    request: Request,
    members: u32,
) -> anyhow::Result<SocketIoReport> {
    let tally = Arc::new(Tally {
        delivered: AtomicU64::new(0),
        wake_at: AtomicU64::new(u64::MAX),
        wake: Notify::new(),
        errors: AtomicU64::new(0),
        first_error: std::sync::Mutex::new(None),
    });
    let join = event_frame(
        None,
        &serde_json::json!(["join-room", args.room]).to_string(),
    );
    let (ready_tx, mut ready) = mpsc::channel::<()>(members as usize + 1);
    let (go_tx, go) = watch::channel(None::<Schedule>);
    let mut tasks = JoinSet::new();
    let permits = Arc::new(tokio::sync::Semaphore::new(
        super::super::CONNECT_CONCURRENCY,
    ));
    // The members, then the sender: each sets up, reports ready, and waits for the start.
    for index in 0..=members {
        let is_sender = index == members;
        let request = crate::connect::fresh_request(&request);
        let (tally, ready_tx, mut go, join) =
            (tally.clone(), ready_tx.clone(), go.clone(), join.clone());
        let room = args.room.clone();
        let inflight = u64::from(args.inflight);
        let permits = Arc::clone(&permits);
        tasks.spawn(async move {
            let setup = async {
                let upgraded = upgrade::upgrade(request, CONNECT_TIMEOUT).await?;
                let mut conn = SioConn::open(upgraded).await?;
                if !is_sender {
                    conn.out.extend_from_slice(&join);
                    conn.flush().await?;
                    while !conn.next_message().await?.starts_with(JOINED) {}
                }
                anyhow::Ok(conn)
            };
            // At most so many set up at once: a burst of thousands of SYNs overflows the listen
            // backlog and stalls in retransmits.
            let permit = permits.acquire_owned().await;
            let set_up = tokio::time::timeout(SETUP_TIMEOUT, setup).await;
            drop(permit);
            let mut conn = match set_up {
                Ok(Ok(conn)) => conn,
                Ok(Err(error)) => return tally.fail(&error),
                Err(_) => return tally.fail(&anyhow::anyhow!("setup timed out")),
            };
            let _ = ready_tx.send(()).await;
            // Held no longer, so a client that fails to set up ends the wait for the others.
            drop(ready_tx);
            let Ok(Some(schedule)) = go.wait_for(Option::is_some).await.map(|go| *go) else {
                return;
            };
            let outcome = if is_sender {
                sender(
                    &mut conn,
                    &room,
                    &tally,
                    (u64::from(members), inflight),
                    schedule,
                )
                .await
            } else {
                member(&mut conn, &tally).await
            };
            if let Err(error) = outcome {
                tally.fail(&error);
            }
        });
    }
    drop(ready_tx);
    let mut set_up = 0;
    while set_up <= members && ready.recv().await.is_some() {
        set_up += 1;
    }
    if set_up <= members {
        bail!(
            "{} of {} clients could not join: {}",
            members + 1 - set_up,
            members + 1,
            tally.first_error().unwrap_or_default()
        );
    }
    let schedule = Schedule::starting_now(args.warmup, args.secs);
    let _ = go_tx.send(Some(schedule));
    let windows = super::measure(schedule, args.server_pid, || {
        tally.delivered.load(Ordering::Acquire)
    })
    .await;
    tasks.abort_all();
    Ok(SocketIoReport::new(
        "room",
        args,
        u64::from(members),
        windows,
        tally.errors.load(Ordering::Relaxed),
        tally.first_error(),
    ))
}

/// Says `m0`, `m1`, ... to the room, message `seq` once messages up to `seq - inflight` could
/// have reached every member (counted in deliveries, whichever members they went to).
async fn sender(
    conn: &mut SioConn,
    room: &str,
    tally: &Tally,
    (members, inflight): (u64, u64),
    schedule: Schedule,
) -> anyhow::Result<()> {
    let mut seq: u64 = 0;
    loop {
        let needed = seq.saturating_sub(inflight) * members;
        while tally.delivered.load(Ordering::Acquire) < needed {
            tally.wake_at.store(needed, Ordering::Release);
            if tally.delivered.load(Ordering::Acquire) >= needed {
                break;
            }
            tokio::select! {
                () = tally.wake.notified() => {}
                () = tokio::time::sleep_until(schedule.end.into()) => return Ok(()),
            }
        }
        tally.wake_at.store(u64::MAX, Ordering::Release);
        if std::time::Instant::now() >= schedule.end {
            return Ok(());
        }
        let say = serde_json::json!(["say", { "room": room, "message": format!("m{seq}") }]);
        conn.out
            .extend_from_slice(&event_frame(None, &say.to_string()));
        conn.flush().await?;
        seq += 1;
    }
}

/// Counts the messages said to the room, checking they come in order.
async fn member(conn: &mut SioConn, tally: &Tally) -> anyhow::Result<()> {
    let mut expected: u64 = 0;
    loop {
        conn.fill().await?;
        let mut got = 0;
        conn.drain(|payload, _| {
            match said_seq(payload) {
                Some(seq) if seq == expected => {
                    expected += 1;
                    got += 1;
                }
                Some(seq) => bail!("got message m{seq} where m{expected} was next"),
                // Late news of another member's join.
                None if payload.starts_with(b"42[\"event\",") => {}
                None => bail!(
                    "an unexpected packet: {}",
                    String::from_utf8_lossy(&payload[..payload.len().min(200)])
                ),
            }
            Ok(())
        })?;
        conn.flush().await?;
        tally.add(got);
    }
}

/// The sequence number of a `42["event","<sid> say: m<seq>"]` packet, or of
/// `42["event","<sid> say: m<seq>","<offset>"]`: a namespace with connection state recovery
/// adds each emit's stream offset as a last argument.
fn said_seq(payload: &[u8]) -> Option<u64> {
    let body = payload.strip_prefix(b"42[\"event\",\"")?;
    let at = body.windows(SAID.len()).position(|w| w == SAID)?;
    let digits = &body[at + SAID.len()..];
    let len = digits.iter().take_while(|b| b.is_ascii_digit()).count();
    let rest = digits.get(len..)?;
    let closed = rest == b"\"]"
        || rest.strip_prefix(b"\",\"").is_some_and(|offset| {
            offset
                .strip_suffix(b"\"]")
                .is_some_and(|offset| !offset.contains(&b'"'))
        });
    if !closed {
        return None;
    }
    std::str::from_utf8(&digits[..len]).ok()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn said_messages_are_read_off_the_packet() {
        assert_eq!(said_seq(b"42[\"event\",\"abc say: m17\"]"), Some(17));
        assert_eq!(said_seq(b"42[\"event\",\"abc has joined bench\"]"), None);
        assert_eq!(said_seq(b"42[\"event\",\"abc say: m17x\"]"), None);
        assert_eq!(said_seq(b"43[\"abc say: m1\"]"), None);
        assert_eq!(
            said_seq(b"42[\"event\",\"abc say: m17\",\"0-3\"]"),
            Some(17)
        );
        assert_eq!(said_seq(b"42[\"event\",\"abc say: m17\",3]"), None);
    }
}
