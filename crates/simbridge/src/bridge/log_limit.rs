//! A cap on how many lines of one kind reach the log: a server that faces the Internet logs
//! every refused handshake at WARN, and a flood of bogus handshakes must not flood the log (or
//! the disk) with them. Up to `burst` lines per `window` pass; the rest are counted and the
//! next line that passes says how many were left out.

use std::sync::Mutex;
use std::time::{Duration, Instant};

struct Window {
    start: Option<Instant>,
    passed: u32,
    suppressed: u64,
}

/// A per-kind line limiter.
pub struct LogLimit {
    burst: u32,
    window: Duration,
    state: Mutex<Window>,
}

impl LogLimit {
    /// Up to `burst` lines per `window`.
    pub const fn new(burst: u32, window: Duration) -> Self {
        Self {
            burst,
            window,
            state: Mutex::new(Window {
                start: None,
                passed: 0,
                suppressed: 0,
            }),
        }
    }

    /// Whether a line may be logged at `now`: `Some(n)` with the number of lines left out
    /// since the last one that passed, `None` when this one is to be left out.
    pub fn allow(&self, now: Instant) -> Option<u64> {
        let Ok(mut w) = self.state.lock() else {
            return Some(0);
        };
        let fresh = w
            .start
            .is_none_or(|s| now.saturating_duration_since(s) >= self.window);
        if fresh {
            w.start = Some(now);
            w.passed = 0;
        }
        if w.passed < self.burst {
            w.passed += 1;
            Some(std::mem::take(&mut w.suppressed))
        } else {
            w.suppressed += 1;
            None
        }
    }
}

/// `" (N similar lines left out)"` when `n > 0`, else nothing.
pub fn left_out(n: u64) -> String {
    if n == 0 {
        String::new()
    } else {
        format!(" ({n} similar lines left out before this one)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bursts_pass_then_lines_are_counted_and_reported() {
        let l = LogLimit::new(3, Duration::from_secs(10));
        let t0 = Instant::now();
        assert_eq!(
            (0..5).map(|_| l.allow(t0)).collect::<Vec<_>>(),
            vec![Some(0), Some(0), Some(0), None, None]
        );
        assert_eq!(l.allow(t0 + Duration::from_secs(9)), None);
        assert_eq!(l.allow(t0 + Duration::from_secs(10)), Some(3));
        assert_eq!(l.allow(t0 + Duration::from_secs(10)), Some(0));
        assert_eq!(left_out(0), "");
        assert!(left_out(3).contains("3 similar"));
    }
}
