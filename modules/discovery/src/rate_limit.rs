//! Per-source-IP token buckets for incoming requests, so one host cannot make us answer (or
//! ping back) without bound. The map of sources is itself bounded.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::Instant;

struct Tokens {
    left: f64,
    last: Instant,
}

pub(crate) struct RateLimiter {
    per_second: f64,
    burst: f64,
    max_sources: usize,
    sources: HashMap<IpAddr, Tokens>,
}

impl RateLimiter {
    pub(crate) fn new(per_second: u32, burst: u32, max_sources: usize) -> Self {
        RateLimiter {
            per_second: f64::from(per_second),
            burst: f64::from(burst.max(1)),
            max_sources: max_sources.max(1),
            sources: HashMap::new(),
        }
    }

    /// Takes one token for `ip`; `false` means drop the request.
    pub(crate) fn allow(&mut self, ip: IpAddr, now: Instant) -> bool {
        let ip = ip.to_canonical();
        if !self.sources.contains_key(&ip) && self.sources.len() >= self.max_sources {
            self.make_room(now);
        }
        let tokens = self.sources.entry(ip).or_insert(Tokens {
            left: self.burst,
            last: now,
        });
        let refill = now.saturating_duration_since(tokens.last).as_secs_f64() * self.per_second;
        tokens.left = (tokens.left + refill).min(self.burst);
        tokens.last = now;
        if tokens.left >= 1.0 {
            tokens.left -= 1.0;
            true
        } else {
            false
        }
    }

    /// Forgets sources whose bucket has refilled (they lose nothing by being forgotten);
    /// if none has, forgets the longest idle one.
    fn make_room(&mut self, now: Instant) {
        let (per_second, burst) = (self.per_second, self.burst);
        self.sources.retain(|_, t| {
            t.left + now.saturating_duration_since(t.last).as_secs_f64() * per_second < burst
        });
        if self.sources.len() >= self.max_sources {
            let idle = self
                .sources
                .iter()
                .min_by_key(|(_, t)| t.last)
                .map(|(ip, _)| *ip);
            if let Some(ip) = idle {
                self.sources.remove(&ip);
            }
        }
    }

    #[cfg(test)]
    fn tracked(&self) -> usize {
        self.sources.len()
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn ip(last: u8) -> IpAddr {
        IpAddr::from([10, 0, 0, last])
    }

    #[test]
    fn burst_then_refill_per_source() {
        let mut limiter = RateLimiter::new(10, 5, 100);
        let now = Instant::now();
        for _ in 0..5 {
            assert!(limiter.allow(ip(1), now));
        }
        assert!(!limiter.allow(ip(1), now));
        // Another source has its own bucket.
        assert!(limiter.allow(ip(2), now));
        // 10 per second: one token after 100 ms.
        assert!(!limiter.allow(ip(1), now + Duration::from_millis(50)));
        assert!(limiter.allow(ip(1), now + Duration::from_millis(160)));
        assert!(!limiter.allow(ip(1), now + Duration::from_millis(160)));
        // Never more than the burst, however long the pause.
        let later = now + Duration::from_secs(100);
        for _ in 0..5 {
            assert!(limiter.allow(ip(1), later));
        }
        assert!(!limiter.allow(ip(1), later));
    }

    #[test]
    fn mapped_ipv6_shares_the_ipv4_bucket() {
        let mut limiter = RateLimiter::new(1, 1, 100);
        let now = Instant::now();
        assert!(limiter.allow(ip(1), now));
        let mapped: IpAddr = "::ffff:10.0.0.1".parse().expect("ip");
        assert!(!limiter.allow(mapped, now));
    }

    #[test]
    fn source_map_is_bounded() {
        let mut limiter = RateLimiter::new(1, 3, 4);
        let now = Instant::now();
        for n in 0..50 {
            assert!(limiter.allow(ip(n), now + Duration::from_millis(u64::from(n))));
            assert!(limiter.tracked() <= 4);
        }
    }
}
