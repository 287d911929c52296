//! [`Schedule`]: a pure, seeded open-model arrival schedule. Operations are due at fixed offsets
//! from the workload's start, whatever the system does: when it slows down, requests queue up
//! instead of being sent later, so response times measured from the *intended* send time include
//! the waiting (coordinated-omission correction). No clock is read here.

use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// How arrivals are spaced.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Arrivals {
    /// Exactly `1/rate` apart.
    Constant,
    /// Exponential gaps with mean `1/rate` (a Poisson process), seeded.
    Poisson,
}

/// The intended send offsets of a workload.
#[derive(Debug, Clone)]
pub struct Schedule {
    rate: f64,
    limit: Option<Duration>,
    arrivals: Arrivals,
    rng: StdRng,
    next: Duration,
    count: u64,
}

impl Schedule {
    /// `rate` operations per second (must be > 0), for `limit` (None: unbounded; the caller stops).
    pub fn new(rate: f64, limit: Option<Duration>, arrivals: Arrivals, seed: u64) -> Self {
        Self {
            rate: if rate.is_finite() && rate > 0.0 {
                rate
            } else {
                1.0
            },
            limit,
            arrivals,
            rng: StdRng::seed_from_u64(seed),
            next: Duration::ZERO,
            count: 0,
        }
    }
}

impl Iterator for Schedule {
    /// (sequence number from 0, intended offset from the start).
    type Item = (u64, Duration);

    fn next(&mut self) -> Option<Self::Item> {
        if self.limit.is_some_and(|l| self.next >= l) {
            return None;
        }
        let item = (self.count, self.next);
        let gap = match self.arrivals {
            Arrivals::Constant => 1.0 / self.rate,
            Arrivals::Poisson => {
                let u: f64 = self.rng.random_range(f64::EPSILON..1.0);
                -u.ln() / self.rate
            }
        };
        self.next += Duration::from_secs_f64(gap);
        self.count += 1;
        Some(item)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constant_rate_is_exact_and_bounded() {
        let s: Vec<_> =
            Schedule::new(10.0, Some(Duration::from_secs(1)), Arrivals::Constant, 1).collect();
        assert_eq!(s.len(), 10);
        assert_eq!(s[3], (3, Duration::from_millis(300)));
    }

    #[test]
    fn poisson_is_seeded_and_near_the_rate() {
        let a: Vec<_> =
            Schedule::new(100.0, Some(Duration::from_secs(100)), Arrivals::Poisson, 7).collect();
        let b: Vec<_> =
            Schedule::new(100.0, Some(Duration::from_secs(100)), Arrivals::Poisson, 7).collect();
        assert_eq!(a, b);
        // 10 000 expected; a Poisson count has sd 100, so ±5 % is 5 sd.
        assert!((9_500..=10_500).contains(&a.len()), "{}", a.len());
        assert!(a.windows(2).all(|w| w[0].1 <= w[1].1));
    }
}
