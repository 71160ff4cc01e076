//! Access to the control API: every request carries the control token, or,
//! without a configured token, comes from a loopback client.
//!
//! Without a token, a request must also name a loopback host in `Host` and,
//! when it has an `Origin`, come from a page of the mock itself. A web page
//! of another site that the developer opens can make the browser send
//! requests to 127.0.0.1, and read their responses after a DNS rebinding.
//! These two checks reject such requests.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use axum::http::HeaderMap;
use axum::http::header::{HOST, ORIGIN};

use crate::auth::constant_time_eq;

/// Request header that carries the control token.
pub const CONTROL_TOKEN_HEADER: &str = "X-Mock-Control-Token";

/// Error code of every rejected control request.
pub const CONTROL_AUTH_FAILED_CODE: &str = "mock-control-auth-failed";

/// The secret that control requests carry in [`CONTROL_TOKEN_HEADER`].
/// `Debug` never prints it.
#[derive(Clone, PartialEq, Eq)]
pub struct ControlToken(String);

impl fmt::Debug for ControlToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ControlToken(<redacted>)")
    }
}

/// A control token that no header can carry. The message does not contain
/// the token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a control token is 1 or more visible ASCII characters, without spaces")]
pub struct InvalidControlToken;

impl FromStr for ControlToken {
    type Err = InvalidControlToken;

    fn from_str(token: &str) -> Result<Self, InvalidControlToken> {
        if token.is_empty() || !token.bytes().all(|byte| byte.is_ascii_graphic()) {
            return Err(InvalidControlToken);
        }
        Ok(ControlToken(token.to_string()))
    }
}

/// Reason a control request is rejected. The `Display` text goes into the
/// 401 body's `data.message`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ControlAuthError {
    #[error("missing {CONTROL_TOKEN_HEADER} header")]
    MissingToken,
    #[error("more than one {CONTROL_TOKEN_HEADER} header")]
    RepeatedToken,
    #[error("wrong control token")]
    WrongToken,
    #[error(
        "client {0} is not on the loopback interface; start the mock with --control-token to \
         allow other clients"
    )]
    NotLoopback(IpAddr),
    #[error(
        "client IP address is unknown: no peer address, or a trusted proxy sent an X-Forwarded-For entry that is not an IP address"
    )]
    UnknownClient,
    #[error("the Host header does not name a loopback host")]
    ForeignHost,
    #[error("cross-origin requests to the control API are rejected")]
    CrossOrigin,
}

/// The access rule of the control API: a token, or loopback clients only.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ControlAccess {
    /// `None` allows loopback clients without a token.
    token: Option<ControlToken>,
}

impl ControlAccess {
    /// Requires `token` on every request, or allows loopback clients
    /// without a token for `None`.
    pub fn new(token: Option<ControlToken>) -> Self {
        ControlAccess { token }
    }

    /// Returns whether a token is configured.
    pub fn has_token(&self) -> bool {
        self.token.is_some()
    }

    /// Checks a control request from the client IP `client`: the TCP peer,
    /// or the client that a trusted proxy names. With a token, the request
    /// must carry it, compared in constant time for a given length.
    /// Without one, see [`check_local`].
    pub fn check(
        &self,
        client: Option<IpAddr>,
        headers: &HeaderMap,
    ) -> Result<(), ControlAuthError> {
        let Some(ControlToken(expected)) = &self.token else {
            return check_local(client, headers);
        };
        let mut values = headers.get_all(CONTROL_TOKEN_HEADER).iter();
        let Some(presented) = values.next() else {
            return Err(ControlAuthError::MissingToken);
        };
        if values.next().is_some() {
            return Err(ControlAuthError::RepeatedToken);
        }
        if constant_time_eq(expected.as_bytes(), presented.as_bytes()) {
            Ok(())
        } else {
            Err(ControlAuthError::WrongToken)
        }
    }
}

/// Checks a control request without a configured token. The client IP
/// must be a loopback address ([`is_loopback`]). The `Host` header, when
/// present, must name a loopback host, and the `Origin` header, when
/// present, must be the mock's own origin (`http://` and the `Host` value). This function reads
/// no `X-Forwarded-For`: the caller passes the TCP peer, or the client a
/// trusted proxy names.
pub fn check_local(client: Option<IpAddr>, headers: &HeaderMap) -> Result<(), ControlAuthError> {
    let client = client.ok_or(ControlAuthError::UnknownClient)?;
    if !is_loopback(client) {
        return Err(ControlAuthError::NotLoopback(client));
    }
    let host = match headers.get(HOST) {
        Some(value) => {
            let host = value.to_str().map_err(|_| ControlAuthError::ForeignHost)?;
            if !is_loopback_host(host) {
                return Err(ControlAuthError::ForeignHost);
            }
            Some(host)
        }
        None => None,
    };
    if let Some(origin) = headers.get(ORIGIN) {
        let same = host.is_some_and(|host| {
            let origin = origin.as_bytes();
            origin.len() == "http://".len() + host.len()
                && origin[.."http://".len()].eq_ignore_ascii_case(b"http://")
                && origin["http://".len()..].eq_ignore_ascii_case(host.as_bytes())
        });
        if !same {
            return Err(ControlAuthError::CrossOrigin);
        }
    }
    Ok(())
}

/// Returns whether `address` is a loopback address: 127.0.0.0/8, `::1`, or
/// an IPv4-mapped IPv6 form of 127.0.0.0/8.
pub fn is_loopback(address: IpAddr) -> bool {
    address.to_canonical().is_loopback()
}

/// Returns whether a `Host` value names a loopback host: `localhost`, a
/// name under `.localhost` (RFC 6761), or a loopback IP address, with an
/// optional port.
fn is_loopback_host(host: &str) -> bool {
    let name = if let Some(bracketed) = host.strip_prefix('[') {
        match bracketed.split_once(']') {
            Some((address, rest)) if rest.is_empty() || is_port(rest) => address,
            _ => return false,
        }
    } else {
        match host.rsplit_once(':') {
            Some((name, port)) if is_port(&format!(":{port}")) => name,
            Some(_) => return false,
            None => host,
        }
    };
    if let Ok(address) = name.parse::<IpAddr>() {
        return is_loopback(address);
    }
    let name = name.trim_end_matches('.').to_ascii_lowercase();
    name == "localhost" || name.ends_with(".localhost")
}

/// Returns whether `text` is `:` and 1 to 5 digits.
fn is_port(text: &str) -> bool {
    text.strip_prefix(':').is_some_and(|digits| {
        (1..=5).contains(&digits.len()) && digits.bytes().all(|byte| byte.is_ascii_digit())
    })
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    const LOOPBACK: IpAddr = IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for (name, value) in pairs {
            headers.append(*name, HeaderValue::from_static(value));
        }
        headers
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn loopback_peers_only() {
        for local in [
            "127.0.0.1",
            "127.0.0.2",
            "127.255.255.254",
            "::1",
            "::ffff:127.0.0.1",
        ] {
            assert!(is_loopback(ip(local)), "{local}");
        }
        for remote in [
            "10.0.0.1",
            "192.0.2.7",
            "0.0.0.0",
            "::",
            "::ffff:10.0.0.1",
            "2001:db8::1",
        ] {
            assert!(!is_loopback(ip(remote)), "{remote}");
        }
    }

    #[test]
    fn local_check_rejects_remote_peer() {
        let access = ControlAccess::default();
        assert_eq!(access.check(Some(LOOPBACK), &HeaderMap::new()), Ok(()));
        assert_eq!(
            access.check(Some(ip("192.0.2.7")), &HeaderMap::new()),
            Err(ControlAuthError::NotLoopback(ip("192.0.2.7")))
        );
        assert_eq!(
            access.check(None, &HeaderMap::new()),
            Err(ControlAuthError::UnknownClient)
        );
    }

    #[test]
    fn forwarded_for_does_not_make_peer_local() {
        let forwarded = headers(&[("x-forwarded-for", "127.0.0.1"), ("host", "127.0.0.1")]);
        assert_eq!(
            check_local(Some(ip("192.0.2.7")), &forwarded),
            Err(ControlAuthError::NotLoopback(ip("192.0.2.7")))
        );
    }

    #[test]
    fn loopback_hosts_pass() {
        for host in [
            "127.0.0.1:4010",
            "127.0.0.1",
            "localhost:4010",
            "LOCALHOST",
            "app.localhost:80",
            "[::1]:4010",
            "[::1]",
        ] {
            assert!(is_loopback_host(host), "{host}");
        }
        for host in [
            "evil.test:4010",
            "localhost.evil.test",
            "10.0.0.1:4010",
            "[2001:db8::1]:4010",
            "127.0.0.1:port",
            "[::1]x",
            "",
        ] {
            assert!(!is_loopback_host(host), "{host}");
        }
    }

    #[test]
    fn rebinding_host_rejected() {
        let rebound = headers(&[("host", "evil.test:4010")]);
        assert_eq!(
            check_local(Some(LOOPBACK), &rebound),
            Err(ControlAuthError::ForeignHost)
        );
    }

    #[test]
    fn origin_must_be_mock_itself() {
        let same = headers(&[
            ("host", "127.0.0.1:4010"),
            ("origin", "http://127.0.0.1:4010"),
        ]);
        assert_eq!(check_local(Some(LOOPBACK), &same), Ok(()));
        for origin in [
            "http://evil.test",
            "null",
            "http://localhost:4010",
            "https://127.0.0.1:4010",
        ] {
            let mut cross = headers(&[("host", "127.0.0.1:4010")]);
            cross.insert(ORIGIN, HeaderValue::from_static(origin));
            assert_eq!(
                check_local(Some(LOOPBACK), &cross),
                Err(ControlAuthError::CrossOrigin),
                "{origin}"
            );
        }
    }

    #[test]
    fn token_required_from_any_peer() {
        let access = ControlAccess::new(Some("s3cret".parse().unwrap()));
        let remote = Some(ip("192.0.2.7"));
        assert_eq!(
            access.check(Some(LOOPBACK), &HeaderMap::new()),
            Err(ControlAuthError::MissingToken)
        );
        let wrong = headers(&[(CONTROL_TOKEN_HEADER, "s3cres")]);
        assert_eq!(
            access.check(remote, &wrong),
            Err(ControlAuthError::WrongToken)
        );
        let twice = headers(&[
            (CONTROL_TOKEN_HEADER, "s3cret"),
            (CONTROL_TOKEN_HEADER, "s3cret"),
        ]);
        assert_eq!(
            access.check(remote, &twice),
            Err(ControlAuthError::RepeatedToken)
        );
        let right = headers(&[(CONTROL_TOKEN_HEADER, "s3cret")]);
        assert_eq!(access.check(remote, &right), Ok(()));
    }

    #[test]
    fn token_never_printed() {
        let token: ControlToken = "s3cret".parse().unwrap();
        let access = ControlAccess::new(Some(token.clone()));
        assert!(!format!("{token:?} {access:?}").contains("s3cret"));
        assert_eq!("".parse::<ControlToken>(), Err(InvalidControlToken));
        assert_eq!("a b".parse::<ControlToken>(), Err(InvalidControlToken));
    }
}
