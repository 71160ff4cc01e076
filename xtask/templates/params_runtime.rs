//! Parameters and credentials of a request: path, query, header and cookie
//! values, parsed and checked, each failure a [`Rejection`] naming the
//! parameter. [`crate::runtime`] re-exports every public item.

use std::borrow::Cow;
use std::fmt;

use axum::extract::{FromRequestParts, RawPathParams};
use axum::http::header::{AUTHORIZATION, COOKIE};
use axum::http::{HeaderMap, Uri, request::Parts};
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::runtime::{ApiKey, Rejection};
use crate::validate::Bound;

/// Path parameters of a matched route, percent-decoded.
pub struct PathParams(PathValues);

/// The values of [`PathParams`], by where they come from.
enum PathValues {
    /// Read from the request by axum's router.
    Router(RawPathParams),
    /// Decoded from the parameters of a route that the caller matched.
    Matched(Vec<(String, String)>),
}

impl PathParams {
    /// Reads the parameters that axum's router found. A value that is not
    /// UTF-8 after percent-decoding is a 400.
    pub async fn from_parts(parts: &mut Parts) -> Result<Self, Rejection> {
        RawPathParams::from_request_parts(parts, &())
            .await
            .map(|params| PathParams(PathValues::Router(params)))
            .map_err(|error| Rejection::invalid("path", error.body_text()))
    }

    /// Percent-decodes the `(name, value)` parameters of a route that the
    /// caller matched itself, as axum's router does: the first value that is
    /// not UTF-8 after decoding is the same 400.
    pub fn decode<'a>(
        params: impl ExactSizeIterator<Item = (&'a str, &'a str)>,
    ) -> Result<Self, Rejection> {
        let mut values = Vec::with_capacity(params.len());
        for (name, value) in params {
            let decoded = if value.contains('%') {
                percent_encoding::percent_decode_str(value).decode_utf8()
            } else {
                Ok(Cow::Borrowed(value))
            };
            match decoded {
                Ok(decoded) => values.push((name.to_string(), decoded.into_owned())),
                Err(_) => {
                    return Err(Rejection::invalid(
                        "path",
                        format!("Invalid UTF-8 in `{name}`"),
                    ));
                }
            }
        }
        Ok(PathParams(PathValues::Matched(values)))
    }

    /// Takes the value of the parameter `name` out, so a second call for the
    /// same name finds none. An empty value is a 400.
    pub fn take(&mut self, name: &str) -> Result<String, Rejection> {
        let value = match &mut self.0 {
            PathValues::Router(params) => params
                .iter()
                .find_map(|(param, value)| (param == name).then(|| value.to_string())),
            PathValues::Matched(params) => params
                .iter_mut()
                .find_map(|(param, value)| (param == name).then(|| std::mem::take(value))),
        };
        match value {
            Some(value) if !value.is_empty() => Ok(value),
            _ => Err(Rejection::invalid(name, "Empty value is not allowed")),
        }
    }
}

/// Query parameters of a request, percent-decoded, in order.
pub struct QueryParams(Vec<(String, String)>);

impl QueryParams {
    /// Parses the query string of `uri`. A request without one has no
    /// parameters.
    pub fn from_uri(uri: &Uri) -> Result<Self, Rejection> {
        let query = uri.query().unwrap_or_default();
        serde_urlencoded::from_str(query)
            .map(QueryParams)
            .map_err(|error| Rejection::invalid("query", format!("Invalid query string: {error}")))
    }

    /// Reads the single value of parameter `name` with `parse`, if present.
    /// A repeated or empty parameter is a 400.
    // NOTE: `allowEmptyValue` is not read, so an empty value is always a 400.
    pub fn one<T>(
        &self,
        name: &str,
        parse: impl Fn(&str) -> Result<T, Rejection>,
    ) -> Result<Option<T>, Rejection> {
        let mut values = self.0.iter().filter(|(key, _)| key == name);
        let Some((_, value)) = values.next() else {
            return Ok(None);
        };
        if values.next().is_some() {
            return Err(Rejection::invalid(name, "Expected one value, found several"));
        }
        if value.is_empty() {
            return Err(Rejection::invalid(name, "Empty value is not allowed"));
        }
        parse(value).map(Some)
    }

    /// Reads every value of the array parameter `name` (`name=a&name=b`)
    /// with `parse`. An absent parameter is an empty array.
    pub fn all<T>(
        &self,
        name: &str,
        parse: impl Fn(&str) -> Result<T, Rejection>,
    ) -> Result<Vec<T>, Rejection> {
        self.0
            .iter()
            .filter(|(key, _)| key == name)
            .map(|(_, value)| match value.as_str() {
                "" => Err(Rejection::invalid(name, "Empty value is not allowed")),
                value => parse(value),
            })
            .collect()
    }

    /// Reads a string parameter.
    pub fn string(&self, name: &str) -> Result<Option<String>, Rejection> {
        self.one(name, parse_string)
    }

    /// Reads an integer parameter within the inclusive bounds.
    pub fn integer(
        &self,
        name: &str,
        minimum: Option<i64>,
        maximum: Option<i64>,
    ) -> Result<Option<i64>, Rejection> {
        self.one(name, |text| parse_integer(name, text, minimum, maximum))
    }

    /// Reads a finite number parameter within the bounds.
    pub fn number(
        &self,
        name: &str,
        minimum: Option<Bound>,
        maximum: Option<Bound>,
    ) -> Result<Option<f64>, Rejection> {
        self.one(name, |text| parse_number(name, text, minimum, maximum))
    }

    /// Reads a boolean parameter: `true` or `false`.
    pub fn boolean(&self, name: &str) -> Result<Option<bool>, Rejection> {
        self.one(name, |text| parse_boolean(name, text))
    }

    /// Reads a string enum parameter, one of `values`, into its type.
    pub fn enumeration<T: DeserializeOwned>(
        &self,
        name: &str,
        values: &[&str],
    ) -> Result<Option<T>, Rejection> {
        self.one(name, |text| parse_enum(name, text, values))
    }
}

/// Parses a string parameter value, which is always valid.
pub fn parse_string(text: &str) -> Result<String, Rejection> {
    Ok(text.to_string())
}

/// Parses the integer value of parameter `name` within the inclusive bounds.
pub fn parse_integer(
    name: &str,
    text: &str,
    minimum: Option<i64>,
    maximum: Option<i64>,
) -> Result<i64, Rejection> {
    parse_bounded(name, "an integer", text, minimum, maximum)
}

/// Parses the finite number value of parameter `name` within the bounds,
/// each inclusive or exclusive.
pub fn parse_number(
    name: &str,
    text: &str,
    minimum: Option<Bound>,
    maximum: Option<Bound>,
) -> Result<f64, Rejection> {
    let exclusive = |bound: Option<Bound>| bound.is_some_and(|bound| bound.exclusive);
    if !exclusive(minimum) && !exclusive(maximum) {
        let value = |bound: Option<Bound>| bound.map(|bound| bound.value);
        return parse_bounded(name, "a number", text, value(minimum), value(maximum));
    }
    let invalid = || Rejection::invalid(name, exclusive_range_message(minimum, maximum));
    let value = text.parse::<f64>().map_err(|_| invalid())?;
    let below = minimum.is_some_and(|bound| {
        value < bound.value || (bound.exclusive && value == bound.value)
    });
    let above = maximum.is_some_and(|bound| {
        value > bound.value || (bound.exclusive && value == bound.value)
    });
    if !value.is_finite() || below || above {
        return Err(invalid());
    }
    Ok(value)
}

fn parse_bounded<T: Bounded>(
    name: &str,
    kind: &str,
    text: &str,
    minimum: Option<T>,
    maximum: Option<T>,
) -> Result<T, Rejection> {
    let invalid = || Rejection::invalid(name, range_message(kind, minimum, maximum));
    let value = text.parse::<T>().map_err(|_| invalid())?;
    let below = minimum.is_some_and(|minimum| value < minimum);
    let above = maximum.is_some_and(|maximum| value > maximum);
    if !value.is_finite() || below || above {
        return Err(invalid());
    }
    Ok(value)
}

/// Parses the boolean value of parameter `name`: `true` or `false`.
pub fn parse_boolean(name: &str, text: &str) -> Result<bool, Rejection> {
    match text {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(Rejection::invalid(name, "Expected true or false")),
    }
}

/// Parses the value of string enum parameter `name`, one of `values`, into
/// its type.
pub fn parse_enum<T: DeserializeOwned>(
    name: &str,
    text: &str,
    values: &[&str],
) -> Result<T, Rejection> {
    let invalid = || Rejection::invalid(name, format!("Expected one of: {}", values.join(", ")));
    if !values.contains(&text) {
        return Err(invalid());
    }
    serde_json::from_value(Value::String(text.to_string())).map_err(|_| invalid())
}

/// A numeric parameter type: parsed from text and compared with bounds.
trait Bounded: std::str::FromStr + PartialOrd + fmt::Display + Copy {
    /// Returns false for infinities and NaN, which `f64` parses.
    fn is_finite(&self) -> bool;
}

impl Bounded for i64 {
    fn is_finite(&self) -> bool {
        true
    }
}

impl Bounded for f64 {
    fn is_finite(&self) -> bool {
        f64::is_finite(*self)
    }
}

/// Words the expected value of a number parameter with its bounds.
fn range_message<T: fmt::Display>(kind: &str, minimum: Option<T>, maximum: Option<T>) -> String {
    match (minimum, maximum) {
        (Some(minimum), Some(maximum)) => format!("Expected {kind} from {minimum} to {maximum}"),
        (Some(minimum), None) => format!("Expected {kind} of at least {minimum}"),
        (None, Some(maximum)) => format!("Expected {kind} of at most {maximum}"),
        (None, None) => format!("Expected {kind}"),
    }
}

/// Formats the expected value of a number parameter with at least one
/// exclusive bound, such as "Expected a number greater than 0 and at most 1".
fn exclusive_range_message(minimum: Option<Bound>, maximum: Option<Bound>) -> String {
    let mut limits = Vec::new();
    if let Some(bound) = minimum {
        limits.push(match bound.exclusive {
            true => format!("greater than {}", bound.value),
            false => format!("of at least {}", bound.value),
        });
    }
    if let Some(bound) = maximum {
        limits.push(match bound.exclusive {
            true => format!("less than {}", bound.value),
            false => format!("at most {}", bound.value),
        });
    }
    format!("Expected a number {}", limits.join(" and "))
}

/// Returns the default of a string enum parameter, which the generator
/// checked is one of `values`.
pub fn enum_default<T: DeserializeOwned>(value: &str, values: &[&str]) -> T {
    debug_assert!(values.contains(&value));
    serde_json::from_value(Value::String(value.to_string()))
        .expect("the generator checks that the default is one of the enum values")
}

/// Reads the header parameter `name`. A repeated header, an empty value or
/// one that is not visible ASCII is a 400.
pub fn header_param(headers: &HeaderMap, name: &str) -> Result<Option<String>, Rejection> {
    let mut values = headers.get_all(name).iter();
    let Some(value) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(Rejection::invalid(name, "Expected one header, found several"));
    }
    match value.to_str().map(str::trim) {
        Ok("") => Err(Rejection::invalid(name, "Empty value is not allowed")),
        Ok(value) => Ok(Some(value.to_string())),
        Err(_) => Err(Rejection::invalid(name, "Expected a visible ASCII value")),
    }
}

/// Reads the cookie parameter `name` from the `Cookie` headers. A cookie
/// that appears more than once or has an empty value is a 400.
pub fn cookie_param(headers: &HeaderMap, name: &str) -> Result<Option<String>, Rejection> {
    match cookie_values(headers, name).as_slice() {
        [] => Ok(None),
        [value] if value.is_empty() => Err(Rejection::invalid(name, "Empty value is not allowed")),
        [value] => Ok(Some(value.clone())),
        _ => Err(Rejection::invalid(name, "Expected one cookie, found several")),
    }
}

/// Returns every value of cookie `name` in the `Cookie` headers, without
/// the quotes of a quoted value.
fn cookie_values(headers: &HeaderMap, name: &str) -> Vec<String> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|header| header.to_str().ok())
        .flat_map(|header| header.split(';'))
        .filter_map(|pair| pair.split_once('='))
        .filter(|(key, _)| key.trim() == name)
        .map(|(_, value)| value.trim().trim_matches('"').to_string())
        .collect()
}

/// Turns a required array parameter without values into a 400.
pub fn require_items<T>(name: &str, values: Vec<T>) -> Result<Vec<T>, Rejection> {
    if values.is_empty() {
        return Err(Rejection::invalid(name, "Required parameter is missing"));
    }
    Ok(values)
}

/// Turns an absent required parameter into a 400.
pub fn require<T>(name: &str, value: Option<T>) -> Result<T, Rejection> {
    value.ok_or_else(|| Rejection::invalid(name, "Required parameter is missing"))
}

/// The location of a security scheme's credential in a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CredentialSource {
    /// An apiKey scheme in this header.
    Header(&'static str),
    /// An apiKey scheme in this query parameter.
    Query(&'static str),
    /// An apiKey scheme in this cookie.
    Cookie(&'static str),
    /// `Authorization: Bearer <token>`: an http bearer, oauth2 or
    /// openIdConnect scheme.
    Bearer,
    /// `Authorization: Basic <credentials>`, still base64-encoded.
    Basic,
}

/// The credentials of a request to an operation with a security
/// requirement: one per scheme the operation lists. `Debug` never prints
/// a credential.
#[derive(Debug, Clone)]
pub struct Credentials {
    /// The operation's alternatives, each a set of scheme names that must
    /// all be satisfied.
    pub alternatives: &'static [&'static [&'static str]],
    /// Whether a request without credentials is also allowed (`{}` among
    /// the alternatives).
    pub optional: bool,
    values: Vec<(&'static str, ApiKey)>,
}

impl Credentials {
    /// Reads the credential of each scheme in `schemes` from the request.
    pub fn read(
        headers: &HeaderMap,
        uri: &Uri,
        alternatives: &'static [&'static [&'static str]],
        optional: bool,
        schemes: &[(&'static str, CredentialSource)],
    ) -> Self {
        let values = schemes
            .iter()
            .map(|&(name, source)| (name, read_credential(headers, uri, source)))
            .collect();
        Credentials {
            alternatives,
            optional,
            values,
        }
    }

    /// Returns the credential of scheme `name`: `ApiKey::Missing` when the
    /// request does not carry it or the operation does not list the scheme.
    pub fn get(&self, name: &str) -> &ApiKey {
        self.values
            .iter()
            .find(|(scheme, _)| *scheme == name)
            .map_or(&ApiKey::Missing, |(_, value)| value)
    }
}

fn read_credential(headers: &HeaderMap, uri: &Uri, source: CredentialSource) -> ApiKey {
    let values: Vec<String> = match source {
        CredentialSource::Header(name) => return ApiKey::from_headers(headers, name),
        CredentialSource::Query(name) => {
            let query = uri.query().unwrap_or_default();
            let pairs: Vec<(String, String)> =
                serde_urlencoded::from_str(query).unwrap_or_default();
            pairs
                .into_iter()
                .filter(|(key, _)| key == name)
                .map(|(_, value)| value)
                .collect()
        }
        CredentialSource::Cookie(name) => cookie_values(headers, name),
        CredentialSource::Bearer => return authorization(headers, "bearer"),
        CredentialSource::Basic => return authorization(headers, "basic"),
    };
    match values.as_slice() {
        [] => ApiKey::Missing,
        [value] if !value.trim().is_empty() => ApiKey::Key(value.trim().to_string()),
        [_] => ApiKey::Invalid,
        _ => ApiKey::Repeated,
    }
}

/// Reads the `Authorization` header of `scheme` (`bearer` or `basic`). A
/// header of another scheme is `ApiKey::Invalid`.
fn authorization(headers: &HeaderMap, scheme: &str) -> ApiKey {
    match ApiKey::from_headers(headers, AUTHORIZATION.as_str()) {
        ApiKey::Key(value) => match value.split_once(' ') {
            Some((name, token)) if name.eq_ignore_ascii_case(scheme) && !token.trim().is_empty() => {
                ApiKey::Key(token.trim().to_string())
            }
            _ => ApiKey::Invalid,
        },
        other => other,
    }
}
