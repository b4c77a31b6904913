//! Reconnect delays of the broker backplanes.

use std::time::Duration;

/// Exponential reconnect delays: 100 ms doubling to a 2 s cap, with up to 25 % jitter so nodes
/// that lost the broker together do not reconnect in lockstep.
#[derive(Debug)]
pub(super) struct Backoff {
    attempt: u32,
}

impl Backoff {
    pub(super) const FIRST: Duration = Duration::from_millis(100);
    pub(super) const CAP: Duration = Duration::from_secs(2);

    pub(super) fn new() -> Self {
        Self { attempt: 0 }
    }

    /// Starts over from [`Backoff::FIRST`], after a success.
    pub(super) fn reset(&mut self) {
        self.attempt = 0;
    }

    pub(super) fn next_delay(&mut self) -> Duration {
        let delay = Self::delay(self.attempt as usize);
        self.attempt = self.attempt.saturating_add(1);
        delay
    }

    /// The delay before reconnect attempt `attempt` (0-based). A plain function, so the NATS
    /// client's own reconnect loop can use it too.
    pub(super) fn delay(attempt: usize) -> Duration {
        let exp = u32::try_from(attempt.min(16)).unwrap_or(16);
        let base = Self::FIRST.saturating_mul(1 << exp).min(Self::CAP);
        let jitter = base.mul_f64(fastrand::f64() / 4.0);
        (base + jitter).min(Self::CAP)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_to_the_cap() {
        let mut backoff = Backoff::new();
        let first = backoff.next_delay();
        assert!(
            first >= Backoff::FIRST && first <= Backoff::FIRST.mul_f64(1.25),
            "{first:?}"
        );
        for _ in 0..20 {
            assert!(backoff.next_delay() <= Backoff::CAP);
        }
        assert!(Backoff::delay(10) >= Duration::from_millis(1500));
        backoff.reset();
        assert!(backoff.next_delay() < Duration::from_millis(200));
    }
}
