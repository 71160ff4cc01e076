//! API key policy: configured keys, each optionally limited to client networks.
//!
//! A key entry is written `KEY` or `KEY@NET+NET...`, where each `NET` is an
//! IP address (`192.0.2.7`, `2001:db8::1`) or a CIDR range (`10.0.0.0/8`).
//! The client IP is the socket peer, unless the peer is a trusted proxy:
//! then it is the rightmost `X-Forwarded-For` address that is not a trusted
//! proxy (see [`client_ip`]).

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use axum::http::HeaderMap;
use ipnet::IpNet;
use system_services_server::ApiKey;

use crate::DEFAULT_API_KEY;

/// Header that a reverse proxy appends the client IP to.
pub const X_FORWARDED_FOR: &str = "x-forwarded-for";

/// A configuration value that cannot be used. No variant contains the key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("API key is empty, expected KEY or KEY@NET+NET")]
    EmptyKey,
    #[error("API key may contain only visible ASCII characters other than `,` and `@`")]
    InvalidKey,
    #[error("API key has `@` but no network after it, expected KEY@NET+NET")]
    EmptyNetworkList,
    #[error(
        "invalid network `{0}`, expected an IP address such as 192.0.2.7 \
         or a CIDR range such as 10.0.0.0/8"
    )]
    InvalidNetwork(String),
}

/// Parses an IP address (a host network, /32 or /128) or a CIDR range.
///
/// Host bits of a CIDR range are cleared, so `10.1.2.3/8` is `10.0.0.0/8`.
pub fn parse_network(text: &str) -> Result<IpNet, ConfigError> {
    let text = text.trim();
    if let Ok(address) = text.parse::<IpAddr>() {
        return Ok(IpNet::from(address.to_canonical()));
    }
    text.parse::<IpNet>()
        .map(|network| network.trunc())
        .map_err(|_| ConfigError::InvalidNetwork(text.to_string()))
}

/// One accepted API key and the client networks that it is limited to. An
/// entry without networks accepts any client. `Debug` never prints the key.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKeyEntry {
    key: String,
    networks: Vec<IpNet>,
}

impl ApiKeyEntry {
    /// Creates an entry that accepts `key` from any client IP. The key is not
    /// checked, so a key that no `X-Api-Key` header can carry never matches.
    pub fn unrestricted(key: impl Into<String>) -> Self {
        ApiKeyEntry {
            key: key.into(),
            networks: Vec::new(),
        }
    }

    /// Returns the client networks that the key is limited to, which are
    /// empty for an unrestricted key.
    pub fn networks(&self) -> &[IpNet] {
        &self.networks
    }

    /// Returns whether this is the built-in [`DEFAULT_API_KEY`] without
    /// networks.
    pub fn is_default(&self) -> bool {
        self.key == DEFAULT_API_KEY && self.networks.is_empty()
    }

    fn key_matches(&self, presented: &str) -> bool {
        constant_time_eq(self.key.as_bytes(), presented.as_bytes())
    }

    fn allows(&self, client: IpAddr) -> bool {
        self.networks
            .iter()
            .any(|network| network.contains(&client))
    }
}

impl FromStr for ApiKeyEntry {
    type Err = ConfigError;

    /// Parses `KEY` or `KEY@NET+NET...`. The key ends at the first `@`.
    fn from_str(entry: &str) -> Result<Self, ConfigError> {
        let (key, networks) = match entry.trim().split_once('@') {
            Some((key, networks)) => (key, Some(networks)),
            None => (entry.trim(), None),
        };
        check_key(key)?;
        let networks = match networks {
            Some(networks) if networks.trim().is_empty() => {
                return Err(ConfigError::EmptyNetworkList);
            }
            Some(networks) => networks
                .split('+')
                .map(parse_network)
                .collect::<Result<_, _>>()?,
            None => Vec::new(),
        };
        Ok(ApiKeyEntry {
            key: key.to_string(),
            networks,
        })
    }
}

impl fmt::Debug for ApiKeyEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApiKeyEntry")
            .field("key", &"<redacted>")
            .field("networks", &self.networks)
            .finish()
    }
}

/// Checks that `key` can be sent in an `X-Api-Key` header, which the server
/// reads as a trimmed, non-empty, visible-ASCII value.
fn check_key(key: &str) -> Result<(), ConfigError> {
    if key.is_empty() {
        return Err(ConfigError::EmptyKey);
    }
    if !key.bytes().all(|byte| byte.is_ascii_graphic()) || key.contains(',') {
        return Err(ConfigError::InvalidKey);
    }
    Ok(())
}

/// Compares two byte strings without stopping at the first differing byte,
/// so the time taken does not tell how much of a guessed key is right. The
/// time does depend on the lengths.
pub(crate) fn constant_time_eq(left: &[u8], right: &[u8]) -> bool {
    if left.len() != right.len() {
        return false;
    }
    let mut difference = 0u8;
    for (a, b) in left.iter().zip(right) {
        difference |= std::hint::black_box(a ^ b);
    }
    difference == 0
}

/// Reason a request's API key is rejected. The `Display` text follows
/// `Authentication Failed: ` in the 401 body.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error("missing X-Api-Key header")]
    MissingKey,
    #[error("more than one X-Api-Key header")]
    RepeatedKey,
    #[error("X-Api-Key header is empty or not visible ASCII")]
    InvalidKey,
    #[error("unknown API key")]
    UnknownKey,
    #[error("IP {0} is not allowed")]
    IpNotAllowed(IpAddr),
    /// The key is limited to networks but the client address is unknown:
    /// the server was not served with connect info, or a trusted proxy
    /// sent an `X-Forwarded-For` entry that is not an IP address.
    #[error(
        "client IP address is unknown: no peer address, or a trusted proxy sent an X-Forwarded-For entry that is not an IP address"
    )]
    UnknownClientIp,
}

/// The accepted API keys and the trusted reverse proxies.
#[derive(Debug, Clone)]
pub struct AuthPolicy {
    keys: Vec<ApiKeyEntry>,
    trusted_proxies: Vec<IpNet>,
}

impl AuthPolicy {
    pub fn new(keys: Vec<ApiKeyEntry>, trusted_proxies: Vec<IpNet>) -> Self {
        AuthPolicy {
            keys,
            trusted_proxies,
        }
    }

    /// Returns the client IP of a request from the socket peer `peer`, as
    /// [`client_ip`] finds it with these trusted proxies.
    pub fn client_ip(&self, peer: IpAddr, headers: &HeaderMap) -> Option<IpAddr> {
        client_ip(peer, headers, &self.trusted_proxies)
    }

    /// Accepts `api_key` if an entry with that key allows the client IP.
    ///
    /// Every configured key is compared, so the time taken does not tell
    /// which entry matched. When several entries have the same key, the
    /// key is allowed from the union of their networks.
    pub fn check(
        &self,
        api_key: &ApiKey,
        peer: Option<IpAddr>,
        headers: &HeaderMap,
    ) -> Result<(), AuthError> {
        let presented = match api_key {
            ApiKey::Key(key) => key,
            ApiKey::Missing => return Err(AuthError::MissingKey),
            ApiKey::Repeated => return Err(AuthError::RepeatedKey),
            ApiKey::Invalid => return Err(AuthError::InvalidKey),
        };
        // One pass compares every key and allocates nothing.
        let (mut matched, mut unrestricted) = (false, false);
        for entry in &self.keys {
            if entry.key_matches(presented) {
                matched = true;
                unrestricted |= entry.networks.is_empty();
            }
        }
        if !matched {
            return Err(AuthError::UnknownKey);
        }
        if unrestricted {
            return Ok(());
        }
        let peer = peer.ok_or(AuthError::UnknownClientIp)?;
        let client =
            client_ip(peer, headers, &self.trusted_proxies).ok_or(AuthError::UnknownClientIp)?;
        let mut matches = self
            .keys
            .iter()
            .filter(|entry| entry.key_matches(presented));
        if matches.any(|entry| entry.allows(client)) {
            Ok(())
        } else {
            Err(AuthError::IpNotAllowed(client))
        }
    }
}

impl From<Vec<String>> for AuthPolicy {
    /// Accepts each key from any client, with no trusted proxies.
    fn from(keys: Vec<String>) -> Self {
        let keys = keys.into_iter().map(ApiKeyEntry::unrestricted).collect();
        AuthPolicy::new(keys, Vec::new())
    }
}

/// Finds the client IP of a request from the socket peer `peer`, or `None`
/// when a trusted proxy sent an `X-Forwarded-For` that cannot be read.
///
/// `X-Forwarded-For` counts only when the peer is in `trusted_proxies`.
/// Then the entries of every such header, in order, are walked from the
/// right, skipping trusted proxies, and the first other address is the
/// client. If every entry is a trusted proxy, the leftmost one is the
/// client. An entry reached on that walk that is not a plain IP address
/// (`unknown`, empty, `ip:port`, `[v6]`) makes the client unknown, never
/// the proxy. Entries left of the first untrusted address are not read,
/// because the client may have written them. IPv4-mapped IPv6 addresses
/// are compared and returned as IPv4.
pub fn client_ip(peer: IpAddr, headers: &HeaderMap, trusted_proxies: &[IpNet]) -> Option<IpAddr> {
    let peer = peer.to_canonical();
    let is_trusted = |address: &IpAddr| {
        trusted_proxies
            .iter()
            .any(|network| network.contains(address))
    };
    if !is_trusted(&peer) || !headers.contains_key(X_FORWARDED_FOR) {
        return Some(peer);
    }
    let values: Vec<_> = headers.get_all(X_FORWARDED_FOR).iter().collect();
    let mut leftmost = None;
    for value in values.into_iter().rev() {
        for entry in value.to_str().ok()?.rsplit(',') {
            let address = entry.trim().parse::<IpAddr>().ok()?.to_canonical();
            if !is_trusted(&address) {
                return Some(address);
            }
            leftmost = Some(address);
        }
    }
    leftmost
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn net(text: &str) -> IpNet {
        parse_network(text).expect("valid network")
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().expect("valid IP address")
    }

    fn forwarded(values: &[&str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for value in values {
            headers.append(X_FORWARDED_FOR, HeaderValue::from_str(value).unwrap());
        }
        headers
    }

    #[test]
    fn network_accepts_addresses_and_cidr() {
        assert_eq!(net("192.0.2.7"), "192.0.2.7/32".parse().unwrap());
        assert_eq!(net("10.0.0.0/8"), "10.0.0.0/8".parse().unwrap());
        assert_eq!(net("2001:db8::1"), "2001:db8::1/128".parse().unwrap());
        assert_eq!(net("2001:db8::/32"), "2001:db8::/32".parse().unwrap());
        assert_eq!(net(" ::1 "), "::1/128".parse().unwrap());
    }

    #[test]
    fn network_clears_host_bits() {
        assert_eq!(net("10.1.2.3/8"), "10.0.0.0/8".parse().unwrap());
        assert_eq!(net("2001:db8::5/64"), "2001:db8::/64".parse().unwrap());
    }

    #[test]
    fn network_maps_ipv4_mapped_to_ipv4() {
        assert_eq!(net("::ffff:192.0.2.7"), "192.0.2.7/32".parse().unwrap());
    }

    #[test]
    fn network_rejects_malformed_text() {
        for text in [
            "",
            "10.0.0",
            "10.0.0.0/33",
            "2001:db8::/129",
            "host",
            "10.0.0.0/",
        ] {
            assert_eq!(
                parse_network(text),
                Err(ConfigError::InvalidNetwork(text.to_string())),
                "{text:?}"
            );
        }
    }

    #[test]
    fn key_entry_parses_networks() {
        let entry: ApiKeyEntry = "secret@10.0.0.0/8+192.0.2.7+2001:db8::/32".parse().unwrap();
        assert!(entry.key_matches("secret"));
        assert_eq!(
            entry.networks(),
            [net("10.0.0.0/8"), net("192.0.2.7"), net("2001:db8::/32")]
        );
    }

    #[test]
    fn key_entry_without_networks_is_unrestricted() {
        let entry: ApiKeyEntry = "secret".parse().unwrap();
        assert!(entry.key_matches("secret"));
        assert!(entry.networks().is_empty());
    }

    #[test]
    fn key_entry_rejects_bad_input() {
        let cases = [
            ("", ConfigError::EmptyKey),
            ("@10.0.0.0/8", ConfigError::EmptyKey),
            ("secret@", ConfigError::EmptyNetworkList),
            ("se cret", ConfigError::InvalidKey),
            ("sécret", ConfigError::InvalidKey),
            (
                "secret@10.0.0.0/8+",
                ConfigError::InvalidNetwork(String::new()),
            ),
            (
                "secret@10.0.0.0/8+nowhere",
                ConfigError::InvalidNetwork("nowhere".into()),
            ),
        ];
        for (text, expected) in cases {
            assert_eq!(text.parse::<ApiKeyEntry>(), Err(expected), "{text:?}");
        }
    }

    #[test]
    fn key_entry_debug_hides_key() {
        let entry: ApiKeyEntry = "topsecret@127.0.0.1".parse().unwrap();
        let debug = format!("{entry:?}");
        assert!(!debug.contains("topsecret"), "{debug}");
        assert!(debug.contains("<redacted>"), "{debug}");
        assert!(debug.contains("127.0.0.1/32"), "{debug}");
    }

    #[test]
    fn constant_time_eq_compares_bytes() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
        assert!(constant_time_eq(b"", b""));
    }

    #[test]
    fn client_ip_ignores_header_from_untrusted_peer() {
        let headers = forwarded(&["10.0.0.1"]);
        let client = client_ip(ip("127.0.0.1"), &headers, &[net("192.0.2.0/24")]);
        assert_eq!(client, Some(ip("127.0.0.1")));
    }

    #[test]
    fn client_ip_takes_rightmost_untrusted_address() {
        let headers = forwarded(&["198.51.100.1, 10.0.0.1, 192.0.2.9"]);
        let trusted = [net("127.0.0.1"), net("192.0.2.0/24")];
        let client = client_ip(ip("127.0.0.1"), &headers, &trusted);
        assert_eq!(client, Some(ip("10.0.0.1")));
    }

    #[test]
    fn client_ip_reads_headers_in_order() {
        let headers = forwarded(&["10.0.0.1, 198.51.100.1", "192.0.2.9"]);
        let trusted = [net("127.0.0.1"), net("192.0.2.9")];
        let client = client_ip(ip("127.0.0.1"), &headers, &trusted);
        assert_eq!(client, Some(ip("198.51.100.1")));
    }

    #[test]
    fn client_ip_all_trusted_takes_leftmost() {
        let headers = forwarded(&["192.0.2.1, 192.0.2.2"]);
        let trusted = [net("127.0.0.1"), net("192.0.2.0/24")];
        let client = client_ip(ip("127.0.0.1"), &headers, &trusted);
        assert_eq!(client, Some(ip("192.0.2.1")));
    }

    #[test]
    fn client_ip_malformed_entry_is_unknown() {
        let trusted = [net("127.0.0.1")];
        let cases: [&[&str]; 7] = [
            &["10.0.0.1, unknown"],
            &["10.0.0.1,"],
            &["10.0.0.1:8080"],
            &["[2001:db8::1]"],
            &["10.0.0.1", ""],
            &["garbage"],
            &["127.0.0.1, garbage"],
        ];
        for values in cases {
            let client = client_ip(ip("127.0.0.1"), &forwarded(values), &trusted);
            assert_eq!(client, None, "{values:?}");
        }
    }

    #[test]
    fn client_ip_ignores_entries_left_of_client() {
        let trusted = [net("127.0.0.1")];
        let cases: [&[&str]; 4] = [
            &["garbage, 203.0.113.5"],
            &["garbage", "203.0.113.5"],
            &["unknown,,[::1]:80, 203.0.113.5, 127.0.0.1"],
            &["127.0.0.1, 203.0.113.5"],
        ];
        for values in cases {
            let client = client_ip(ip("127.0.0.1"), &forwarded(values), &trusted);
            assert_eq!(client, Some(ip("203.0.113.5")), "{values:?}");
        }
    }

    #[test]
    fn client_ip_without_header_uses_peer() {
        let client = client_ip(ip("127.0.0.1"), &HeaderMap::new(), &[net("127.0.0.1")]);
        assert_eq!(client, Some(ip("127.0.0.1")));
    }

    #[test]
    fn client_ip_handles_ipv6_and_mapped() {
        let trusted = [net("::1"), net("2001:db8::/32")];
        let headers = forwarded(&["2001:db8:ffff::1, ::ffff:10.0.0.1, 2001:db8::2"]);
        let client = client_ip(ip("::1"), &headers, &trusted);
        assert_eq!(client, Some(ip("10.0.0.1")));
        let mapped_peer = client_ip(ip("::ffff:127.0.0.1"), &HeaderMap::new(), &[]);
        assert_eq!(mapped_peer, Some(ip("127.0.0.1")));
    }

    #[test]
    fn check_rejects_unreadable_forwarded_for() {
        let policy = policy(&["k@127.0.0.1"], &["127.0.0.1"]);
        let headers = forwarded(&["203.0.113.5, unknown"]);
        let result = policy.check(&key("k"), Some(ip("127.0.0.1")), &headers);
        assert_eq!(result, Err(AuthError::UnknownClientIp));
    }

    fn policy(keys: &[&str], trusted: &[&str]) -> AuthPolicy {
        let keys = keys.iter().map(|entry| entry.parse().unwrap()).collect();
        let trusted = trusted.iter().map(|text| net(text)).collect();
        AuthPolicy::new(keys, trusted)
    }

    fn key(text: &str) -> ApiKey {
        ApiKey::Key(text.to_string())
    }

    #[test]
    fn check_rejects_ip_outside_networks() {
        let policy = policy(&["k@10.0.0.0/8"], &[]);
        let result = policy.check(&key("k"), Some(ip("127.0.0.1")), &HeaderMap::new());
        assert_eq!(result, Err(AuthError::IpNotAllowed(ip("127.0.0.1"))));
        assert_eq!(
            result.unwrap_err().to_string(),
            "IP 127.0.0.1 is not allowed"
        );
    }

    #[test]
    fn check_joins_networks_of_same_key() {
        let policy = policy(&["k@10.0.0.0/8", "k@127.0.0.1"], &[]);
        let result = policy.check(&key("k"), Some(ip("127.0.0.1")), &HeaderMap::new());
        assert_eq!(result, Ok(()));
    }

    #[test]
    fn check_rejects_each_header_problem() {
        let policy = policy(&["k"], &[]);
        let headers = HeaderMap::new();
        let peer = Some(ip("127.0.0.1"));
        let cases = [
            (ApiKey::Missing, AuthError::MissingKey),
            (ApiKey::Repeated, AuthError::RepeatedKey),
            (ApiKey::Invalid, AuthError::InvalidKey),
            (key("K"), AuthError::UnknownKey),
            (key("k2"), AuthError::UnknownKey),
        ];
        for (api_key, expected) in cases {
            assert_eq!(policy.check(&api_key, peer, &headers), Err(expected));
        }
    }

    #[test]
    fn check_restricted_key_needs_peer() {
        let restricted = policy(&["k@127.0.0.1"], &[]);
        let result = restricted.check(&key("k"), None, &HeaderMap::new());
        assert_eq!(result, Err(AuthError::UnknownClientIp));
        let open = policy(&["k"], &[]);
        assert_eq!(open.check(&key("k"), None, &HeaderMap::new()), Ok(()));
    }
}
