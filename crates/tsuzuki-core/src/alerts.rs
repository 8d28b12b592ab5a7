//! Which sign-ins deserve a word to the person (S10): a device and network never seen for the
//! account ("new"), and the ones the suspicious-sign-in rules flag.

use std::net::IpAddr;
use std::time::Duration;

/// What the account's history knows of the browser and network a sign-in comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Familiarity {
    /// A successful sign-in came from this browser (its browser cookie) before.
    pub browser_seen: bool,
    /// A successful sign-in came from this network before.
    pub network_seen: bool,
    /// Any successful sign-in at all before: the very first one has nothing to compare with.
    pub any_success: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AlertRules {
    /// A new-device sign-in that follows at least this many failed attempts on the account
    /// within `failure_window` is suspicious. 0 turns the rule off.
    pub failures_before_success: u32,
    pub failure_window: Duration,
}

impl Default for AlertRules {
    fn default() -> Self {
        AlertRules {
            failures_before_success: 5,
            failure_window: Duration::from_secs(3600),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Assessment {
    /// Neither the browser nor the network was seen before: tell the person (S10).
    pub new_device: bool,
    /// The rules flag it: revoke long-lived credentials and tell the person.
    pub suspicious: bool,
}

/// Judge a successful sign-in.
pub fn assess(seen: Familiarity, recent_failures: u32, rules: &AlertRules) -> Assessment {
    let new_device = seen.any_success && !seen.browser_seen && !seen.network_seen;
    let suspicious = new_device
        && rules.failures_before_success > 0
        && recent_failures >= rules.failures_before_success;
    Assessment {
        new_device,
        suspicious,
    }
}

/// The network an address belongs to, for "a network seen before": the /24 of an IPv4 address,
/// the /64 of an IPv6 one (what one subscriber usually holds). Anything else is its own network.
pub fn network_of(ip: &str) -> String {
    match ip.parse::<IpAddr>() {
        Ok(IpAddr::V4(v4)) => {
            let o = v4.octets();
            format!("{}.{}.{}.0/24", o[0], o[1], o[2])
        }
        Ok(IpAddr::V6(v6)) => {
            let s = v6.segments();
            format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
        }
        Err(_) => ip.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seen(browser: bool, network: bool) -> Familiarity {
        Familiarity {
            browser_seen: browser,
            network_seen: network,
            any_success: true,
        }
    }

    #[test]
    fn new_only_when_neither_browser_nor_network_was_seen() {
        // S10: "a device and network never seen for that account".
        let r = AlertRules::default();
        assert!(assess(seen(false, false), 0, &r).new_device);
        assert!(
            !assess(seen(true, false), 0, &r).new_device,
            "known browser"
        );
        assert!(
            !assess(seen(false, true), 0, &r).new_device,
            "known network"
        );
        let first = Familiarity::default();
        assert!(
            !assess(first, 0, &r).new_device,
            "the first sign-in has no baseline"
        );
    }

    #[test]
    fn failures_then_success_from_a_new_place_is_suspicious() {
        let r = AlertRules::default();
        assert!(assess(seen(false, false), 5, &r).suspicious);
        assert!(!assess(seen(false, false), 4, &r).suspicious);
        assert!(
            !assess(seen(true, true), 50, &r).suspicious,
            "the person's own device after typos"
        );
        let off = AlertRules {
            failures_before_success: 0,
            ..r
        };
        assert!(!assess(seen(false, false), 50, &off).suspicious);
    }

    #[test]
    fn networks_group_addresses() {
        assert_eq!(network_of("192.0.2.17"), "192.0.2.0/24");
        assert_eq!(network_of("192.0.2.200"), network_of("192.0.2.1"));
        assert_eq!(network_of("2001:db8:1:2:aaaa::1"), "2001:db8:1:2::/64");
        assert_eq!(network_of("unknown"), "unknown");
    }
}
