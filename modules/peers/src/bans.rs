//! Banned addresses and subnets, each until a Unix time, at most `max_bans` of them (the
//! ban that ends first makes room for a new one). Kept in memory: a restart forgets them.

use std::collections::BTreeMap;
use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

/// An IP address and a prefix length: one address (`/32`, `/128`) or a whole subnet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Subnet {
    network: IpAddr,
    prefix: u8,
}

/// A string that is neither an IP address nor `ADDRESS/PREFIX`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid IP address or subnet {0:?}")]
pub struct InvalidSubnet(pub String);

impl Subnet {
    /// The subnet holding just `ip`.
    pub fn host(ip: IpAddr) -> Subnet {
        let ip = ip.to_canonical();
        Subnet {
            network: ip,
            prefix: max_prefix(ip),
        }
    }

    /// `ip` with its low bits cleared to a `/prefix` network; `None` if `prefix` is longer
    /// than the address.
    pub fn new(ip: IpAddr, prefix: u8) -> Option<Subnet> {
        let ip = ip.to_canonical();
        if prefix > max_prefix(ip) {
            return None;
        }
        let network = match ip {
            IpAddr::V4(v4) => IpAddr::V4((u32::from(v4) & mask32(prefix)).into()),
            IpAddr::V6(v6) => IpAddr::V6((u128::from(v6) & mask128(prefix)).into()),
        };
        Some(Subnet { network, prefix })
    }

    /// Whether `ip` lies in the subnet.
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.network, ip.to_canonical()) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                u32::from(ip) & mask32(self.prefix) == u32::from(net)
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                u128::from(ip) & mask128(self.prefix) == u128::from(net)
            }
            _ => false,
        }
    }
}

fn max_prefix(ip: IpAddr) -> u8 {
    if ip.is_ipv4() {
        32
    } else {
        128
    }
}

fn mask32(prefix: u8) -> u32 {
    u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0)
}

fn mask128(prefix: u8) -> u128 {
    u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0)
}

impl FromStr for Subnet {
    type Err = InvalidSubnet;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let invalid = || InvalidSubnet(s.to_string());
        match s.split_once('/') {
            None => s.parse().map(Subnet::host).map_err(|_| invalid()),
            Some((ip, prefix)) => {
                let ip: IpAddr = ip.parse().map_err(|_| invalid())?;
                let prefix: u8 = prefix.parse().map_err(|_| invalid())?;
                Subnet::new(ip, prefix).ok_or_else(invalid)
            }
        }
    }
}

impl fmt::Display for Subnet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.network, self.prefix)
    }
}

/// One ban, as `listbanned` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BanEntry {
    /// What is banned.
    pub subnet: Subnet,
    /// Unix time the ban was made.
    pub created: u64,
    /// Unix time the ban ends.
    pub until: u64,
}

#[derive(Debug)]
pub(crate) struct BanList {
    entries: BTreeMap<Subnet, (u64, u64)>,
    max: usize,
}

impl BanList {
    pub(crate) fn new(max: usize) -> Self {
        BanList {
            entries: BTreeMap::new(),
            max: max.max(1),
        }
    }

    fn sweep(&mut self, now: u64) {
        self.entries.retain(|_, (_, until)| *until > now);
    }

    /// Bans `subnet` until `until`. An existing ban is extended, never shortened, and
    /// reported as not new.
    pub(crate) fn add(&mut self, subnet: Subnet, until: u64, now: u64) -> bool {
        self.sweep(now);
        if let Some((_, end)) = self.entries.get_mut(&subnet) {
            *end = (*end).max(until);
            return false;
        }
        if self.entries.len() >= self.max {
            let first_to_end = self
                .entries
                .iter()
                .min_by_key(|(_, (_, until))| *until)
                .map(|(subnet, _)| *subnet);
            if let Some(subnet) = first_to_end {
                self.entries.remove(&subnet);
            }
        }
        self.entries.insert(subnet, (now, until));
        true
    }

    pub(crate) fn remove(&mut self, subnet: &Subnet) -> bool {
        self.entries.remove(subnet).is_some()
    }

    pub(crate) fn is_banned(&self, ip: IpAddr, now: u64) -> bool {
        self.entries
            .iter()
            .any(|(subnet, (_, until))| *until > now && subnet.contains(ip))
    }

    pub(crate) fn list(&mut self, now: u64) -> Vec<BanEntry> {
        self.sweep(now);
        self.entries
            .iter()
            .map(|(subnet, (created, until))| BanEntry {
                subnet: *subnet,
                created: *created,
                until: *until,
            })
            .collect()
    }

    pub(crate) fn clear(&mut self) {
        self.entries.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn subnets_parse_mask_and_match() {
        let net: Subnet = "10.1.2.3/16".parse().unwrap();
        assert_eq!(net.to_string(), "10.1.0.0/16");
        assert!(net.contains(ip("10.1.200.9")));
        assert!(!net.contains(ip("10.2.0.1")));
        assert!(net.contains(ip("::ffff:10.1.0.1")), "IPv4-mapped is IPv4");
        let host: Subnet = "192.0.2.7".parse().unwrap();
        assert_eq!(host.to_string(), "192.0.2.7/32");
        assert!(!host.contains(ip("192.0.2.8")));
        let v6: Subnet = "2001:db8::1/32".parse().unwrap();
        assert_eq!(v6.to_string(), "2001:db8::/32");
        assert!(v6.contains(ip("2001:db8:ffff::1")));
        assert!(!v6.contains(ip("10.1.0.1")));
        let all: Subnet = "0.0.0.0/0".parse().unwrap();
        assert!(all.contains(ip("8.8.8.8")));
        for bad in ["", "10.1.2.3/33", "::1/129", "nope", "1.2.3.4/x"] {
            assert!(bad.parse::<Subnet>().is_err(), "{bad}");
        }
    }

    #[test]
    fn bans_expire_extend_and_stay_bounded() {
        let mut bans = BanList::new(2);
        let a: Subnet = "10.0.0.1".parse().unwrap();
        let b: Subnet = "10.0.0.2".parse().unwrap();
        let c: Subnet = "10.0.0.3".parse().unwrap();
        assert!(bans.add(a, 200, 100));
        assert!(!bans.add(a, 150, 100), "already banned");
        assert_eq!(bans.list(100)[0].until, 200, "never shortened");
        assert!(bans.add(b, 300, 100));
        assert!(bans.add(c, 400, 100));
        assert!(
            !bans.is_banned(ip("10.0.0.1"), 100),
            "first to end made room"
        );
        assert!(bans.is_banned(ip("10.0.0.3"), 100));
        assert!(!bans.is_banned(ip("10.0.0.2"), 300), "expired");
        assert!(bans.remove(&c));
        assert!(!bans.remove(&c));
        bans.add(a, 500, 100);
        bans.clear();
        assert!(bans.list(100).is_empty());
    }
}
