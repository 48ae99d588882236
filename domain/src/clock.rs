//! Where time comes from.
//!
//! Every reading of the current time goes through an injected [`Clock`], so tests, demos and
//! the server's simulated-clock mode control it (SPEC §9, STYLE §3). Deciders never read a
//! clock: the command runner reads it once and passes `now` in the `Context`.
//!
//! Architecture invariant: this is the only module that calls `SystemTime::now`,
//! `Utc::now` or `Instant::now` (enforced by `clippy.toml` `disallowed-methods`); measurement
//! code elsewhere uses [`monotonic_now`].

use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Instant;

use chrono::Utc;

use crate::time::Timestamp;

/// A source of the current instant.
pub trait Clock: Send + Sync + 'static {
    /// The current instant.
    fn now(&self) -> Timestamp;
}

/// The machine's wall clock. It may jump backwards when the system time is adjusted;
/// consumers that need monotonic time (the log's recorded-at) must enforce it themselves.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    // The one sanctioned read of wall-clock time: everything else is handed a `Clock`.
    #[allow(clippy::disallowed_methods)]
    fn now(&self) -> Timestamp {
        Timestamp::from_datetime(Utc::now())
    }
}

/// A clock that stands still until told to move, and only ever moves forward.
///
/// Shared between threads (the server's admin endpoint advances it while handlers read it);
/// an atomic keeps reads lock-free and "never backwards" holds under any interleaving.
#[derive(Debug)]
pub struct SimulatedClock {
    now_micros: AtomicI64,
}

impl SimulatedClock {
    /// A clock showing `start` until advanced.
    pub fn new(start: Timestamp) -> SimulatedClock {
        SimulatedClock {
            now_micros: AtomicI64::new(start.as_micros()),
        }
    }

    /// Moves the clock forward by `seconds` (saturating at [`Timestamp::MAX`]) and returns the
    /// new time.
    pub fn advance(&self, seconds: u64) -> Timestamp {
        let seconds = i64::try_from(seconds).unwrap_or(i64::MAX);
        self.update(|now| now.plus_seconds(seconds))
    }

    /// Moves the clock to `at_least` if it shows an earlier time; otherwise leaves it. Returns
    /// the time now shown. Used on restart to resume from the last recorded event time, so
    /// that time never goes backwards (SPEC §9).
    pub fn advance_to_at_least(&self, at_least: Timestamp) -> Timestamp {
        self.update(|now| now.max(at_least))
    }

    fn update(&self, step: impl Fn(Timestamp) -> Timestamp) -> Timestamp {
        let mut current = self.now_micros.load(Ordering::Acquire);
        loop {
            let next = step(Timestamp::from_micros(current)).max(Timestamp::from_micros(current));
            match self.now_micros.compare_exchange_weak(
                current,
                next.as_micros(),
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => return next,
                Err(observed) => current = observed,
            }
        }
    }
}

impl Clock for SimulatedClock {
    fn now(&self) -> Timestamp {
        Timestamp::from_micros(self.now_micros.load(Ordering::Acquire))
    }
}

/// A monotonic instant for measuring durations (latency histograms, progress bars). Never use
/// it for business time: it has no calendar meaning and differs between processes.
// Measurement needs a monotonic source that the domain `Clock` deliberately is not.
#[allow(clippy::disallowed_methods)]
pub fn monotonic_now() -> Instant {
    Instant::now()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn start() -> Timestamp {
        Timestamp::parse_rfc3339("2026-11-22T08:00:00+08:00").unwrap()
    }

    #[test]
    fn simulated_clock_stands_still_between_advances() {
        let clock = SimulatedClock::new(start());
        assert_eq!(clock.now(), start());
        assert_eq!(clock.now(), start());
    }

    #[test]
    fn simulated_clock_advances_by_whole_seconds() {
        let clock = SimulatedClock::new(start());
        let moved = clock.advance(90);
        assert_eq!(moved, start().plus_seconds(90));
        assert_eq!(clock.now(), moved);
    }

    #[test]
    fn simulated_clock_advance_saturates_at_max() {
        let clock = SimulatedClock::new(start());
        assert_eq!(clock.advance(u64::MAX), Timestamp::MAX);
        assert_eq!(clock.advance(1), Timestamp::MAX);
    }

    #[test]
    fn simulated_clock_never_goes_backwards() {
        let clock = SimulatedClock::new(start());
        let earlier = start().plus_seconds(-3600);
        assert_eq!(clock.advance_to_at_least(earlier), start());
        assert_eq!(clock.now(), start());
        let later = start().plus_seconds(3600);
        assert_eq!(clock.advance_to_at_least(later), later);
        assert_eq!(clock.now(), later);
    }

    #[test]
    fn simulated_clock_sums_concurrent_advances() {
        let clock = Arc::new(SimulatedClock::new(start()));
        let threads: Vec<_> = (0..8)
            .map(|_| {
                let clock = Arc::clone(&clock);
                std::thread::spawn(move || {
                    for _ in 0..1000 {
                        clock.advance(1);
                    }
                })
            })
            .collect();
        for thread in threads {
            thread.join().unwrap();
        }
        assert_eq!(clock.now(), start().plus_seconds(8000));
    }

    #[test]
    fn system_clock_reads_a_plausible_wall_time() {
        let now = SystemClock.now();
        let year_2020 = Timestamp::parse_rfc3339("2020-01-01T00:00:00Z").unwrap();
        assert!(now > year_2020, "{now}");
    }

    #[test]
    fn clocks_are_usable_as_shared_trait_objects() {
        let clock: Arc<dyn Clock> = Arc::new(SimulatedClock::new(start()));
        assert_eq!(clock.now(), start());
    }

    #[test]
    fn monotonic_now_does_not_go_backwards() {
        let first = monotonic_now();
        let second = monotonic_now();
        assert!(second >= first);
    }
}
