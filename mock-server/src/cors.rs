//! CORS, so that a web page served from another origin, such as a
//! frontend dev server, can call the mock from the browser.
//!
//! A request with an `Origin` header that [`Cors`] allows gets
//! `Access-Control-Allow-Origin` on its response, whatever the status, so
//! the page can read the documented error bodies too. A preflight request
//! (`OPTIONS` with `Origin` and `Access-Control-Request-Method`) to a path
//! the mock serves gets a 204 response that allows the path's methods and
//! the headers in [`ALLOWED_HEADERS`]. A preflight from an origin that is
//! not allowed, and any other `OPTIONS` request, go on to the routes, which
//! respond with 405.
//!
//! A listed origin ([`Cors::new`]) may also send credentials, cookies or
//! `Authorization`, so its responses carry
//! `Access-Control-Allow-Credentials: true`. A browser does not let a page
//! read a response to a request with credentials that allows only `*`.

use std::fmt;
use std::str::FromStr;

use axum::extract::Request;
use axum::http::header::{
    ACCESS_CONTROL_ALLOW_CREDENTIALS, ACCESS_CONTROL_ALLOW_HEADERS, ACCESS_CONTROL_ALLOW_METHODS,
    ACCESS_CONTROL_ALLOW_ORIGIN, ACCESS_CONTROL_EXPOSE_HEADERS, ACCESS_CONTROL_MAX_AGE,
    ACCESS_CONTROL_REQUEST_METHOD, ORIGIN, VARY,
};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::Response;

use crate::routed::MatchedRoute;

/// Request headers that a preflight response allows: the body's media
/// type, the API key, `Prefer`, which selects a documented response, and
/// `X-Mock-Session`, which selects a session.
pub const ALLOWED_HEADERS: &str = "Content-Type, X-Api-Key, Prefer, X-Mock-Session";

/// Response headers that a page may read besides the CORS-safelisted ones.
pub const EXPOSED_HEADERS: &str = "X-Request-Id, Preference-Applied";

/// The `Access-Control-Expose-Headers` value of a response whose page may
/// read more headers than [`EXPOSED_HEADERS`], such as the headers that a
/// loaded spec documents. A response extension, which
/// [`add_cors_headers`] sends in place of [`EXPOSED_HEADERS`].
#[derive(Clone, Debug)]
pub(crate) struct ExposedHeaders(pub HeaderValue);

/// Seconds a browser may cache a preflight response.
const MAX_AGE_SECS: &str = "600";

/// The origins allowed to call the API from a browser. [`Cors::default`]
/// allows any origin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cors {
    /// The allowed origins in lower case, or `None` for any origin.
    origins: Option<Vec<String>>,
}

impl Default for Cors {
    fn default() -> Self {
        Cors::any()
    }
}

impl Cors {
    /// Allows any origin: responses carry `Access-Control-Allow-Origin: *`.
    pub fn any() -> Self {
        Cors { origins: None }
    }

    /// Allows the listed origins, or any origin when the list contains
    /// [`CorsOrigin::Any`]. The response to an allowed origin names it in
    /// `Access-Control-Allow-Origin`, with `Vary: Origin`.
    pub fn new(origins: impl IntoIterator<Item = CorsOrigin>) -> Self {
        let mut listed = Vec::new();
        for origin in origins {
            match origin {
                CorsOrigin::Any => return Cors::any(),
                CorsOrigin::Origin(origin) => listed.push(origin),
            }
        }
        Cors {
            origins: Some(listed),
        }
    }

    /// Returns the `Access-Control-Allow-Origin` value for a request from
    /// `origin`, or none when the origin is not allowed.
    fn allow_origin(&self, origin: &HeaderValue) -> Option<HeaderValue> {
        let Some(listed) = &self.origins else {
            return Some(HeaderValue::from_static("*"));
        };
        let text = origin.to_str().ok()?;
        listed
            .iter()
            .any(|allowed| allowed.eq_ignore_ascii_case(text))
            .then(|| origin.clone())
    }

    /// Returns whether responses depend on the request's `Origin`.
    fn varies(&self) -> bool {
        self.origins.is_some()
    }
}

impl fmt::Display for Cors {
    /// `*`, or the allowed origins separated by commas.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.origins {
            None => f.write_str("*"),
            Some(origins) => f.write_str(&origins.join(",")),
        }
    }
}

/// One allowed origin, as `--cors-origin` takes it: `*` for any origin, or
/// `scheme://host[:port]` as browsers send it in `Origin`, such as
/// `http://localhost:5173`. `null` is the origin of a page from a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CorsOrigin {
    /// Any origin.
    Any,
    /// One origin, in lower case.
    Origin(String),
}

/// An origin that is not `*`, `null` or `scheme://host[:port]`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "`{0}` is not an origin; write scheme://host[:port] without a path, such as \
     http://localhost:5173, or * for any origin"
)]
pub struct InvalidOrigin(String);

impl FromStr for CorsOrigin {
    type Err = InvalidOrigin;

    fn from_str(text: &str) -> Result<Self, InvalidOrigin> {
        let invalid = || InvalidOrigin(text.to_string());
        let trimmed = text.trim();
        if trimmed == "*" {
            return Ok(CorsOrigin::Any);
        }
        if trimmed == "null" {
            return Ok(CorsOrigin::Origin(trimmed.to_string()));
        }
        let (scheme, authority) = trimmed.split_once("://").ok_or_else(invalid)?;
        let scheme_valid = scheme.starts_with(|c: char| c.is_ascii_alphabetic())
            && scheme
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
        let authority_valid = !authority.is_empty()
            && authority.chars().all(|c| {
                c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']' | '_')
            });
        if !scheme_valid || !authority_valid || HeaderValue::from_str(trimmed).is_err() {
            return Err(invalid());
        }
        Ok(CorsOrigin::Origin(trimmed.to_ascii_lowercase()))
    }
}

/// The CORS headers that the response to one request gets, from
/// [`CorsHeaders::for_request`].
pub(crate) struct CorsHeaders {
    /// The `Access-Control-Allow-Origin` value, or `None` for an origin
    /// that the policy does not allow.
    allow_origin: Option<HeaderValue>,
    varies: bool,
}

impl CorsHeaders {
    /// Returns the headers that `cors` gives the `Origin` of `request`. A
    /// request without `Origin`, or a policy of `None`, gets none. An
    /// origin that is not allowed is logged.
    pub(crate) fn for_request(cors: Option<&Cors>, request: &Request) -> Option<CorsHeaders> {
        let (cors, origin) = cors.zip(request.headers().get(ORIGIN))?;
        let allow_origin = cors.allow_origin(origin);
        if allow_origin.is_none() {
            tracing::info!(
                request_id = crate::telemetry::request_id_field(),
                origin = %String::from_utf8_lossy(origin.as_bytes()),
                allowed = %cors,
                "origin is not allowed by CORS, so the response does not allow it"
            );
        }
        Some(CorsHeaders {
            allow_origin,
            varies: cors.varies(),
        })
    }

    /// Adds the headers to `response`, unless it is a preflight response,
    /// which [`preflight`] made complete.
    pub(crate) fn add_to(self, response: &mut Response) {
        if !response
            .headers()
            .contains_key(ACCESS_CONTROL_ALLOW_METHODS)
        {
            let exposed = response.extensions().get::<ExposedHeaders>().cloned();
            add_headers(
                response.headers_mut(),
                self.allow_origin,
                exposed,
                self.varies,
            );
        }
    }
}

/// Returns the 204 response to `request` when it is a preflight request
/// from an origin that `cors` allows, to a path the mock serves. It runs
/// after routing, because it needs the matched route.
pub(crate) fn preflight(cors: &Cors, request: &Request) -> Option<Response> {
    preflight_with(cors, request, |request| {
        let path = MatchedRoute::of(request)?;
        crate::spec::document().methods(&path).cloned()
    })
}

/// Returns the 204 response to `request` when it is a preflight request
/// from an origin that `cors` allows, to a path whose methods `methods`
/// returns, or none for a path that the caller does not serve.
pub(crate) fn preflight_with(
    cors: &Cors,
    request: &Request,
    methods: impl FnOnce(&Request) -> Option<HeaderValue>,
) -> Option<Response> {
    let origin = request.headers().get(ORIGIN)?;
    let allow_origin = cors.allow_origin(origin)?;
    if request.method() != Method::OPTIONS
        || !request
            .headers()
            .contains_key(ACCESS_CONTROL_REQUEST_METHOD)
    {
        return None;
    }
    let methods = methods(request)?;
    Some(preflight_response(allow_origin, methods, cors.varies()))
}

fn preflight_response(allow_origin: HeaderValue, methods: HeaderValue, varies: bool) -> Response {
    let mut response = Response::new(axum::body::Body::empty());
    *response.status_mut() = StatusCode::NO_CONTENT;
    let headers = response.headers_mut();
    headers.insert(ACCESS_CONTROL_ALLOW_ORIGIN, allow_origin);
    headers.insert(ACCESS_CONTROL_ALLOW_METHODS, methods);
    headers.insert(
        ACCESS_CONTROL_ALLOW_HEADERS,
        HeaderValue::from_static(ALLOWED_HEADERS),
    );
    headers.insert(
        ACCESS_CONTROL_MAX_AGE,
        HeaderValue::from_static(MAX_AGE_SECS),
    );
    if varies {
        allow_credentials(headers);
    }
    response
}

/// Adds `Vary: Origin` and `Access-Control-Allow-Credentials: true`, the
/// headers of a response that names a listed origin.
fn allow_credentials(headers: &mut HeaderMap) {
    headers.append(VARY, HeaderValue::from_static("Origin"));
    headers.insert(
        ACCESS_CONTROL_ALLOW_CREDENTIALS,
        HeaderValue::from_static("true"),
    );
}

fn add_headers(
    headers: &mut HeaderMap,
    allow_origin: Option<HeaderValue>,
    exposed: Option<ExposedHeaders>,
    varies: bool,
) {
    let Some(allow_origin) = allow_origin else {
        if varies {
            headers.append(VARY, HeaderValue::from_static("Origin"));
        }
        return;
    };
    headers.insert(ACCESS_CONTROL_ALLOW_ORIGIN, allow_origin);
    let exposed = exposed.map_or(HeaderValue::from_static(EXPOSED_HEADERS), |exposed| {
        exposed.0
    });
    headers.insert(ACCESS_CONTROL_EXPOSE_HEADERS, exposed);
    if varies {
        allow_credentials(headers);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn origin(text: &str) -> CorsOrigin {
        text.parse().unwrap_or_else(|error| panic!("{error}"))
    }

    #[test]
    fn origin_parses_scheme_host_port() {
        assert_eq!(origin("*"), CorsOrigin::Any);
        assert_eq!(origin("null"), CorsOrigin::Origin("null".into()));
        assert_eq!(
            origin("HTTP://LocalHost:5173"),
            CorsOrigin::Origin("http://localhost:5173".into())
        );
        assert_eq!(
            origin("http://[::1]:3000"),
            CorsOrigin::Origin("http://[::1]:3000".into())
        );
    }

    #[test]
    fn origin_rejects_paths_and_garbage() {
        for text in [
            "",
            "localhost:5173",
            "http://",
            "http://x/",
            "http://x/app",
            "a b://x",
        ] {
            let error = text.parse::<CorsOrigin>().expect_err(text);
            assert!(error.to_string().contains("is not an origin"), "{error}");
        }
    }

    #[test]
    fn listed_origin_is_echoed() {
        let cors = Cors::new([origin("http://localhost:5173")]);
        let page = HeaderValue::from_static("http://localhost:5173");
        assert_eq!(cors.allow_origin(&page), Some(page.clone()));
        let other = HeaderValue::from_static("http://localhost:3000");
        assert_eq!(cors.allow_origin(&other), None);
        assert!(cors.varies());
        assert_eq!(cors.to_string(), "http://localhost:5173");
    }

    #[test]
    fn star_allows_any_origin() {
        let cors = Cors::new([origin("http://a.test"), origin("*")]);
        assert_eq!(cors, Cors::any());
        let page = HeaderValue::from_static("http://b.test");
        assert_eq!(cors.allow_origin(&page).unwrap(), "*");
        assert!(!cors.varies());
    }
}
