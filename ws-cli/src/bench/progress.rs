//! Live progress line on stderr.

use std::io::IsTerminal;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use tokio::task::JoinHandle;

use super::Schedule;

const TICK: Duration = Duration::from_millis(500);

/// Totals the workers bump once per batch (not per message) so that a shared
/// cache line is not a cost the generator adds to what it measures.
#[derive(Debug, Default)]
pub(super) struct Counters {
    pub(super) done: AtomicU64,
    pub(super) errors: AtomicU64,
}

impl Counters {
    pub(super) fn add_done(&self, n: u64) {
        self.done.fetch_add(n, Ordering::Relaxed);
    }

    pub(super) fn add_error(&self) {
        self.errors.fetch_add(1, Ordering::Relaxed);
    }
}

/// What the numbers on the line mean.
#[derive(Debug, Clone, Copy)]
pub(super) enum Unit {
    /// A count of completed operations, shown with its rate.
    Rate(&'static str),
    /// A level (e.g. open connections), shown as is.
    Level(&'static str),
}

pub(super) struct Progress {
    bar: Option<ProgressBar>,
}

impl Progress {
    /// A hidden progress when disabled or when stderr is not a terminal, so logs
    /// and CI output get only the final report.
    pub(super) fn new(enabled: bool) -> Self {
        let bar = (enabled && std::io::stderr().is_terminal()).then(|| {
            let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr_with_hz(4));
            if let Ok(style) = ProgressStyle::with_template("{spinner} [{elapsed}] {msg}") {
                bar.set_style(style);
            }
            bar
        });
        Self { bar }
    }

    pub(super) fn set_message(&self, message: String) {
        if let Some(bar) = &self.bar {
            bar.set_message(message);
        }
    }

    /// Prints above the progress line (or plainly on stderr when there is none).
    pub(super) fn println(&self, line: &str) {
        match &self.bar {
            Some(bar) => bar.println(line),
            None => eprintln!("{line}"),
        }
    }

    /// Refreshes the line from `counters` until the schedule ends; abort the
    /// handle to stop earlier.
    pub(super) fn track(
        &self,
        counters: Arc<Counters>,
        schedule: Schedule,
        unit: Unit,
    ) -> Option<JoinHandle<()>> {
        let bar = self.bar.clone()?;
        Some(tokio::spawn(async move {
            let mut ticks = tokio::time::interval(TICK);
            let mut last = (Instant::now(), 0u64);
            loop {
                ticks.tick().await;
                let now = Instant::now();
                if now >= schedule.end {
                    bar.set_message("finishing");
                    return;
                }
                let phase = if now < schedule.measure_from {
                    "warmup"
                } else {
                    "measuring"
                };
                let done = counters.done.load(Ordering::Relaxed);
                let errors = counters.errors.load(Ordering::Relaxed);
                let figures = match unit {
                    Unit::Rate(name) => {
                        let elapsed = now.duration_since(last.0).as_secs_f64();
                        let rate = (done - last.1) as f64 / elapsed.max(1e-9);
                        format!("{rate:.0} {name}/s, total {done}")
                    }
                    Unit::Level(name) => format!("{done} {name}"),
                };
                bar.set_message(format!("{phase}: {figures}, errors {errors}"));
                bar.tick();
                last = (now, done);
            }
        }))
    }

    pub(super) fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}
