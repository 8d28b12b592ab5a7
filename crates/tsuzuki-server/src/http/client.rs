//! Who sent a request: the client address (through trusted proxies only) and the user agent.

use crate::audit::ClientInfo;
use axum::http::{HeaderMap, HeaderName, header};
use ipnet::IpNet;
use std::net::{IpAddr, SocketAddr};

/// The TCP peer, inserted by the connection loop.
#[derive(Debug, Clone, Copy)]
pub struct PeerAddr(pub SocketAddr);

/// A `HeaderName`, so that a lookup does not parse the name on every request.
const X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");

/// Longest user agent kept; longer ones are cut (they are stored and shown in device lists).
const MAX_USER_AGENT: usize = 256;

/// The client's address. `X-Forwarded-For` is believed only when the peer is a trusted proxy,
/// and is walked from the right, skipping further trusted proxies: the first untrusted address
/// is the client. A client cannot spoof its address by sending the header itself.
pub fn client_ip(headers: &HeaderMap, peer: Option<IpAddr>, trusted: &[IpNet]) -> Option<IpAddr> {
    let peer = peer?;
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|n| n.contains(ip));
    if !is_trusted(&peer) {
        return Some(peer);
    }
    // From the right, without collecting: every request through a proxy carries the header.
    headers
        .get_all(X_FORWARDED_FOR)
        .iter()
        .rev()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.rsplit(','))
        .filter_map(|s| s.trim().parse::<IpAddr>().ok())
        .find(|ip| !is_trusted(ip))
        .or(Some(peer))
}

pub fn client_info(headers: &HeaderMap, peer: Option<IpAddr>, trusted: &[IpNet]) -> ClientInfo {
    let ip = client_ip(headers, peer, trusted)
        .map(|ip| ip.to_string())
        .unwrap_or_else(|| "unknown".into());
    let user_agent = headers
        .get(header::USER_AGENT)
        .map(|v| {
            String::from_utf8_lossy(v.as_bytes())
                .chars()
                .take(MAX_USER_AGENT)
                .collect()
        })
        .unwrap_or_default();
    ClientInfo {
        ip,
        user_agent,
        browser: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    /// X-Forwarded-For, one header line per item.
    fn forwarded(lines: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for line in lines {
            h.append("x-forwarded-for", HeaderValue::from_str(line).unwrap());
        }
        h
    }

    #[test]
    fn forwarded_for_is_ignored_from_untrusted_peers() {
        let peer: IpAddr = "203.0.113.9".parse().unwrap();
        assert_eq!(
            client_ip(&forwarded(&["1.2.3.4"]), Some(peer), &[]),
            Some(peer)
        );
    }

    #[test]
    fn walks_from_the_right_through_trusted_proxies() {
        let trusted: Vec<IpNet> = vec!["10.0.0.0/8".parse().unwrap()];
        let peer: IpAddr = "10.0.0.2".parse().unwrap();
        let cases: [(&[&str], &str, &str); 5] = [
            (
                &["6.6.6.6, 198.51.100.4, 10.0.0.7"],
                "198.51.100.4",
                "the leftmost value is whatever the client claimed; the proxy appended the real one",
            ),
            (&[], "10.0.0.2", "no header: the peer"),
            (
                &["6.6.6.6, 192.0.2.1", "198.51.100.4, 10.0.0.7"],
                "198.51.100.4",
                "several header lines are one list: the last line's values are the nearest",
            ),
            (
                &["192.0.2.1", "10.0.0.7, 10.0.0.8"],
                "192.0.2.1",
                "walks on into the earlier line",
            ),
            (
                &["10.0.0.7, 10.0.0.8"],
                "10.0.0.2",
                "only trusted hops: the peer",
            ),
        ];
        for (lines, expected, why) in cases {
            let got = client_ip(&forwarded(lines), Some(peer), &trusted);
            assert_eq!(got, Some(expected.parse().unwrap()), "{why}");
        }
    }

    #[test]
    fn user_agent_is_cut_and_lossy() {
        let mut h = HeaderMap::new();
        h.insert(
            header::USER_AGENT,
            HeaderValue::from_bytes(&[b'a'; 1000]).unwrap(),
        );
        assert_eq!(client_info(&h, None, &[]).user_agent.len(), MAX_USER_AGENT);
    }
}
