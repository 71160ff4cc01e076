//! Request decoding and error bodies shared by the generated handlers.
//!
//! Every request the router cannot decode becomes a [`Rejection`], which is
//! written in the API's documented error body:
//! `{"error": {"message": "...", "data": {"<field>": "<message>"}}}`.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::net::SocketAddr;

use axum::body::{Body, HttpBody};
use axum::extract::ConnectInfo;
use axum::http::header::{ALLOW, AsHeaderName, CONTENT_ENCODING, CONTENT_LENGTH, CONTENT_TYPE};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, request::Parts};
use axum::response::{IntoResponse, Response};
use serde::de::{self, DeserializeOwned, MapAccess, SeqAccess, Visitor};
use http_body_util::BodyExt;
use serde_json::{Map, Value};

use crate::validate::{self, Schema};

pub use crate::params::{
    CredentialSource, Credentials, PathParams, QueryParams, cookie_param, enum_default,
    header_param, parse_boolean, parse_enum, parse_integer, parse_number, parse_string, require,
    require_items,
};

/// Maximum size of a request body, in bytes; a larger body gets a 413.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// Details of a request beyond its typed fields.
#[derive(Debug, Clone)]
pub struct RequestContext {
    /// Socket address of the client, when the server was started with
    /// `into_make_service_with_connect_info::<SocketAddr>()`.
    pub peer: Option<SocketAddr>,
    /// Every request header, for example `X-Forwarded-For`.
    pub headers: HeaderMap,
}

impl RequestContext {
    /// Takes the headers out of `parts`, leaving them empty, so that no
    /// request copies its headers.
    pub fn from_parts(parts: &mut Parts) -> Self {
        RequestContext {
            peer: parts
                .extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map(|ConnectInfo(address)| *address),
            headers: std::mem::take(&mut parts.headers),
        }
    }

    /// Returns the context of a request, as [`from_parts`](Self::from_parts)
    /// does, with the path parameters of its route when the server found the
    /// route itself. Then the client address comes from `matched`, and
    /// otherwise from `ConnectInfo` as under the router.
    pub fn read(
        parts: &mut Parts,
        matched: Option<Matched>,
    ) -> (Self, Option<Result<PathParams, Rejection>>) {
        match matched {
            Some(Matched { params, peer }) => {
                let headers = std::mem::take(&mut parts.headers);
                (RequestContext { peer, headers }, Some(params))
            }
            None => (RequestContext::from_parts(parts), None),
        }
    }
}

/// Returns a response with `status` and `body` in JSON, as
/// `(status, axum::Json(body))` does, but with its `Content-Type` header
/// inserted once rather than set and then replaced. A body that fails to
/// serialize gets a 500 with the error as text, as with `axum::Json`.
pub fn json_response<T: serde::Serialize>(status: StatusCode, body: &T) -> Response {
    let mut buffer = Vec::with_capacity(128);
    if let Err(error) = serde_json::to_writer(&mut buffer, body) {
        let text = HeaderValue::from_static("text/plain; charset=utf-8");
        return (StatusCode::INTERNAL_SERVER_ERROR, [(CONTENT_TYPE, text)], error.to_string())
            .into_response();
    }
    let mut response = Response::new(Body::from(buffer));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

/// The path parameters and client address of a request whose route the
/// server found itself rather than through the router, for
/// [`crate::Operation::serve`].
pub struct Matched {
    /// The route's path parameters, from [`PathParams::decode`].
    pub params: Result<PathParams, Rejection>,
    /// Socket address of the client, if known.
    pub peer: Option<SocketAddr>,
}

/// The API key header of a request. `Debug` never prints the key.
#[derive(Clone, PartialEq, Eq)]
pub enum ApiKey {
    /// The header is absent.
    Missing,
    /// The header appears once with a visible-ASCII value.
    Key(String),
    /// The header appears more than once.
    Repeated,
    /// The header value is empty or not visible ASCII.
    Invalid,
}

impl ApiKey {
    /// Reads the header `name`, telling an absent header from a repeated one.
    /// Passing a [`HeaderName`](axum::http::HeaderName) constant avoids
    /// parsing a `&str` name on each call.
    pub fn from_headers(headers: &HeaderMap, name: impl AsHeaderName) -> Self {
        let mut values = headers.get_all(name).iter();
        let Some(value) = values.next() else {
            return ApiKey::Missing;
        };
        if values.next().is_some() {
            return ApiKey::Repeated;
        }
        match value.to_str().map(str::trim) {
            Ok(key) if !key.is_empty() => ApiKey::Key(key.to_string()),
            _ => ApiKey::Invalid,
        }
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ApiKey::Missing => f.write_str("Missing"),
            ApiKey::Key(_) => f.write_str("Key(<redacted>)"),
            ApiKey::Repeated => f.write_str("Repeated"),
            ApiKey::Invalid => f.write_str("Invalid"),
        }
    }
}

/// A request that the router rejects before it reaches the implementation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    pub status: StatusCode,
    pub message: String,
    /// Invalid fields mapped to what is wrong with each.
    pub data: BTreeMap<String, String>,
    /// Methods the path allows, sent in the `Allow` header of a 405.
    pub allow: Vec<Method>,
}

impl Rejection {
    /// Builds a 400 naming one invalid field.
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        let mut data = BTreeMap::new();
        data.insert(field.into(), message.into());
        Rejection::invalid_fields(data)
    }

    /// Builds a 400 naming each invalid field, by its JSON path, with its
    /// message.
    pub fn invalid_fields(data: BTreeMap<String, String>) -> Self {
        Rejection {
            status: StatusCode::BAD_REQUEST,
            message: "Invalid request".to_string(),
            data,
            allow: Vec::new(),
        }
    }

    /// Builds a 401 for a missing or rejected credential, naming the header,
    /// query parameter or cookie that carries it in `data`.
    pub fn unauthorized(field: impl Into<String>, message: impl Into<String>) -> Self {
        Rejection::with_status(StatusCode::UNAUTHORIZED, &field.into(), message.into())
    }

    fn with_status(status: StatusCode, field: &str, message: String) -> Self {
        let mut rejection = Rejection::invalid(field, message.clone());
        rejection.status = status;
        rejection.message = message;
        rejection
    }

    /// Builds a 404 for a path that no operation serves.
    pub fn unknown_path(uri: &Uri) -> Self {
        Rejection::with_status(
            StatusCode::NOT_FOUND,
            "path",
            format!("No operation is served at {}", uri.path()),
        )
    }

    /// A 405 for a known path called with another method.
    pub fn method_not_allowed(method: &Method, allow: Vec<Method>) -> Self {
        let allowed: Vec<&str> = allow.iter().map(Method::as_str).collect();
        let mut rejection = Rejection::with_status(
            StatusCode::METHOD_NOT_ALLOWED,
            "method",
            format!(
                "Method {method} is not allowed here; use {}",
                allowed.join(", ")
            ),
        );
        rejection.allow = allow;
        rejection
    }
}

impl IntoResponse for Rejection {
    fn into_response(self) -> Response {
        let body = serde_json::json!({
            "error": { "message": self.message, "data": self.data }
        });
        let mut response = (self.status, axum::Json(body)).into_response();
        if !self.allow.is_empty() {
            let allowed: Vec<&str> = self.allow.iter().map(Method::as_str).collect();
            if let Ok(value) = HeaderValue::from_str(&allowed.join(", ")) {
                response.headers_mut().insert(ALLOW, value);
            }
        }
        response
    }
}

/// Shape of a JSON body that the router checks before typed decoding.
pub struct BodyShape {
    /// Properties of the body object.
    pub fields: &'static [&'static str],
    /// Whether properties not in `fields` are rejected (`additionalProperties: false`).
    pub closed: bool,
    /// The body's schema, which a body that fails to decode is validated
    /// against to name each invalid field.
    pub schema: &'static Schema,
    /// Whether a body that decodes is validated against `schema` too,
    /// because the schema has keywords that the Rust types do not enforce.
    pub validate_decoded: bool,
}

/// Reads and decodes a required JSON request body.
///
/// Checks, in order: the media type (415), the size (413), presence, JSON
/// syntax with duplicate keys rejected, the schema, then each field's type.
/// Every failure names the offending field in the 400's `data`.
pub async fn json_body<T: DeserializeOwned>(
    headers: &HeaderMap,
    body: Body,
    shape: &BodyShape,
) -> Result<T, Rejection> {
    let bytes = read_body(headers, body).await?;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(Rejection::invalid("body", "Request body is required"));
    }
    decode_json_body(&bytes, shape)
}

/// Reads and decodes an optional JSON request body: an empty body is `None`,
/// any other body is checked as [`json_body`] checks it.
pub async fn optional_json_body<T: DeserializeOwned>(
    headers: &HeaderMap,
    body: Body,
    shape: &BodyShape,
) -> Result<Option<T>, Rejection> {
    let bytes = read_body(headers, body).await?;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    decode_json_body(&bytes, shape).map(Some)
}

/// Decodes a JSON body as [`json_body`] describes. Unless the schema has
/// keywords that the Rust types do not enforce, a valid body is decoded in
/// one pass ([`decode_strict`]). Any other body is parsed into a `Value`,
/// validated and decoded from it, to name what is wrong with it.
fn decode_json_body<T: DeserializeOwned>(bytes: &[u8], shape: &BodyShape) -> Result<T, Rejection> {
    if !shape.validate_decoded
        && let Some(decoded) = decode_strict(bytes, shape)
    {
        return Ok(decoded);
    }
    let value = parse_strict_json(bytes)?;
    decode_body(value, shape)
}

/// Decodes `bytes` straight into `T` with the checks of [`json_body`]: an
/// object, no duplicate key at any depth, no field outside a closed shape,
/// and no trailing data. Returns `None` when any check or the decoding
/// fails.
fn decode_strict<T: DeserializeOwned>(bytes: &[u8], shape: &BodyShape) -> Option<T> {
    // serde also decodes a struct from an array, which the checks reject.
    let first = bytes.iter().find(|byte| !byte.is_ascii_whitespace());
    if first != Some(&b'{') {
        return None;
    }
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let strict = Strict {
        inner: &mut deserializer,
        fields: shape.closed.then_some(shape.fields),
    };
    let decoded = T::deserialize(strict).ok()?;
    deserializer.end().ok()?;
    Some(decoded)
}

/// Decodes a parsed JSON body: validates it against the schema, naming
/// each invalid field by its path in the 400's `data`, then decodes it,
/// naming the field that fails to decode.
pub(crate) fn decode_body<T: DeserializeOwned>(
    value: Value,
    shape: &BodyShape,
) -> Result<T, Rejection> {
    let Value::Object(_) = &value else {
        return Err(Rejection::invalid(
            "body",
            format!("Expected a JSON object, found {}", validate::type_name(&value)),
        ));
    };
    let errors = validate::validate(&value, shape.schema);
    if !errors.is_empty() {
        return Err(Rejection::invalid_fields(errors));
    }

    serde_path_to_error::deserialize(&value).map_err(|error| {
        let field = match error.path().to_string() {
            path if path == "." => "body".to_string(),
            path => path,
        };
        let found = lookup(&value, &field);
        Rejection::invalid(field, field_message(error.inner(), found))
    })
}

/// Reads a request body after checking its headers: one JSON
/// `Content-Type` (415 otherwise), no `Content-Encoding` (415), and a size
/// within [`MAX_BODY_BYTES`] (413, before any byte is read when
/// `Content-Length` declares more). A body that ends early or is malformed
/// is a 400.
pub(crate) async fn read_body(headers: &HeaderMap, body: Body) -> Result<bytes::Bytes, Rejection> {
    check_content_type(headers)?;
    read_limited(headers, body).await
}

/// Reads and decodes a required `application/x-www-form-urlencoded` body.
///
/// Checks, in order: the media type (415), the size (413), presence, the
/// fields of a closed shape, then the typed decoding. A decoding error is a
/// 400 under `body`, because the form decoder does not name the field.
// NOTE: a form body is not validated against the schema's keywords, because
// its values are strings until the typed decoding converts them.
pub async fn form_body<T: DeserializeOwned>(
    headers: &HeaderMap,
    body: Body,
    shape: &BodyShape,
) -> Result<T, Rejection> {
    match optional_form_body(headers, body, shape).await? {
        Some(value) => Ok(value),
        None => Err(Rejection::invalid("body", "Request body is required")),
    }
}

/// Reads and decodes an optional form body: an empty body is `None`, any
/// other is checked as [`form_body`] checks it.
pub async fn optional_form_body<T: DeserializeOwned>(
    headers: &HeaderMap,
    body: Body,
    shape: &BodyShape,
) -> Result<Option<T>, Rejection> {
    let bytes = optional_raw_body(headers, body, "application/x-www-form-urlencoded").await?;
    let Some(bytes) = bytes else {
        return Ok(None);
    };
    let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(&bytes)
        .map_err(|error| Rejection::invalid("body", format!("Invalid form body: {error}")))?;
    if shape.closed
        && let Some((key, _)) = pairs
            .iter()
            .find(|(key, _)| !shape.fields.contains(&key.as_str()))
    {
        let message = format!("Unknown field; allowed fields: {}", shape.fields.join(", "));
        return Err(Rejection::invalid(key.clone(), message));
    }
    serde_urlencoded::from_bytes(&bytes)
        .map(Some)
        .map_err(|error| Rejection::invalid("body", format!("Invalid form body: {error}")))
}

/// Reads a required request body of another media type than JSON, such as
/// `application/octet-stream`, as bytes. The `Content-Type` must name
/// `media_type` (415 otherwise), and the size limit is that of JSON bodies.
pub async fn raw_body(
    headers: &HeaderMap,
    body: Body,
    media_type: &str,
) -> Result<bytes::Bytes, Rejection> {
    match optional_raw_body(headers, body, media_type).await? {
        Some(bytes) => Ok(bytes),
        None => Err(Rejection::invalid("body", "Request body is required")),
    }
}

/// Reads an optional request body of another media type than JSON: an
/// empty body is `None`, any other is checked as [`raw_body`] checks it.
pub async fn optional_raw_body(
    headers: &HeaderMap,
    body: Body,
    media_type: &str,
) -> Result<Option<bytes::Bytes>, Rejection> {
    let content_type = headers
        .get(CONTENT_TYPE)
        .map(|value| String::from_utf8_lossy(value.as_bytes()).to_string());
    let essence = content_type
        .as_deref()
        .and_then(|value| value.split(';').next())
        .map(|essence| essence.trim().to_ascii_lowercase());
    if essence.is_some_and(|essence| essence != media_type) {
        let message = format!(
            "Content-Type `{}` is not supported; send {media_type}",
            content_type.unwrap_or_default()
        );
        return Err(Rejection::with_status(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "content-type",
            message,
        ));
    }
    let bytes = read_limited(headers, body).await?;
    Ok((!bytes.is_empty()).then_some(bytes))
}

/// Reads a body of at most [`MAX_BODY_BYTES`], rejecting a larger one with
/// a 413 before any byte is read when `Content-Length` declares more. A
/// body that arrives in one chunk is returned without a copy.
async fn read_limited(headers: &HeaderMap, mut body: Body) -> Result<bytes::Bytes, Rejection> {
    let too_large = || {
        Rejection::with_status(
            StatusCode::PAYLOAD_TOO_LARGE,
            "body",
            format!("Request body is larger than {MAX_BODY_BYTES} bytes"),
        )
    };
    let declared = headers
        .get(CONTENT_LENGTH)
        .and_then(|length| length.to_str().ok()?.trim().parse::<u64>().ok());
    if declared.is_some_and(|length| length > MAX_BODY_BYTES as u64) {
        return Err(too_large());
    }

    let mut first = bytes::Bytes::new();
    let mut joined: Option<bytes::BytesMut> = None;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|error| {
            Rejection::invalid("body", format!("Request body could not be read: {error}"))
        })?;
        // Trailers carry no body bytes.
        let Ok(data) = frame.into_data() else {
            continue;
        };
        let read = joined.as_ref().map_or(first.len(), bytes::BytesMut::len);
        if read + data.len() > MAX_BODY_BYTES {
            return Err(too_large());
        }
        match &mut joined {
            Some(joined) => joined.extend_from_slice(&data),
            None if first.is_empty() => first = data,
            None => {
                let mut buffer = bytes::BytesMut::with_capacity(read + data.len());
                buffer.extend_from_slice(&first);
                buffer.extend_from_slice(&data);
                joined = Some(buffer);
            }
        }
        // Stopping when the body reports its end saves the poll that returns
        // `None`.
        if HttpBody::is_end_stream(&body) {
            break;
        }
    }
    Ok(joined.map_or(first, bytes::BytesMut::freeze))
}

fn check_content_type(headers: &HeaderMap) -> Result<(), Rejection> {
    let unsupported = |field: &str, message: String| {
        Rejection::with_status(StatusCode::UNSUPPORTED_MEDIA_TYPE, field, message)
    };
    let mut content_types = headers.get_all(CONTENT_TYPE).iter();
    if let Some(content_type) = content_types.next() {
        if content_types.next().is_some() {
            let message = "More than one Content-Type header; send one: application/json";
            return Err(unsupported("content-type", message.to_string()));
        }
        // The common exact value needs no parsing.
        let value = content_type.as_bytes();
        if !value.eq_ignore_ascii_case(b"application/json") {
            let content_type = String::from_utf8_lossy(value);
            if !is_json_media_type(&content_type) {
                let message = format!(
                    "Content-Type `{content_type}` is not supported; send application/json"
                );
                return Err(unsupported("content-type", message));
            }
        }
    }
    for encoding in headers.get_all(CONTENT_ENCODING) {
        let encoding = String::from_utf8_lossy(encoding.as_bytes());
        if !encoding.trim().eq_ignore_ascii_case("identity") {
            let message = format!(
                "Content-Encoding `{encoding}` is not supported; send an uncompressed body"
            );
            return Err(unsupported("content-encoding", message));
        }
    }
    Ok(())
}

/// Accepts `application/json` and `application/<suffix>+json`, with an
/// optional UTF-8 charset.
fn is_json_media_type(content_type: &str) -> bool {
    let mut parts = content_type.split(';');
    let essence = parts.next().unwrap_or_default().trim();
    let prefix = |text: &str| essence.get(..text.len());
    let suffix = |text: &str| essence.get(essence.len().saturating_sub(text.len())..);
    let json = essence.eq_ignore_ascii_case("application/json")
        || (prefix("application/").is_some_and(|part| part.eq_ignore_ascii_case("application/"))
            && suffix("+json").is_some_and(|part| part.eq_ignore_ascii_case("+json")));
    let utf8 = parts.all(|parameter| match parameter.split_once('=') {
        Some((name, value)) if name.trim().eq_ignore_ascii_case("charset") => {
            value.trim().trim_matches('"').eq_ignore_ascii_case("utf-8")
        }
        _ => true,
    });
    json && utf8
}

/// Parses JSON text, rejecting duplicate object keys and trailing data.
pub(crate) fn parse_strict_json(bytes: &[u8]) -> Result<Value, Rejection> {
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let parsed = de::Deserialize::deserialize(&mut deserializer)
        .and_then(|StrictValue(value)| deserializer.end().map(|()| value));
    parsed.map_err(|error| Rejection::invalid("body", format!("Invalid JSON: {error}")))
}

/// A JSON value read with [`parse_strict_json`]'s check for repeated keys.
pub(crate) struct StrictValue(pub(crate) Value);

impl<'de> de::Deserialize<'de> for StrictValue {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(StrictVisitor).map(StrictValue)
    }
}

/// Builds a [`Value`], rejecting a repeated key in any object.
pub(crate) struct StrictVisitor;

impl<'de> Visitor<'de> for StrictVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, value: bool) -> Result<Value, E> {
        Ok(Value::Bool(value))
    }

    fn visit_i64<E>(self, value: i64) -> Result<Value, E> {
        Ok(Value::from(value))
    }

    fn visit_u64<E>(self, value: u64) -> Result<Value, E> {
        Ok(Value::from(value))
    }

    fn visit_f64<E>(self, value: f64) -> Result<Value, E> {
        Ok(Value::from(value))
    }

    fn visit_str<E>(self, value: &str) -> Result<Value, E> {
        Ok(Value::String(value.to_string()))
    }

    fn visit_string<E>(self, value: String) -> Result<Value, E> {
        Ok(Value::String(value))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(StrictValue(item)) = seq.next_element()? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut object = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if object.contains_key(&key) {
                return Err(de::Error::custom(format_args!("duplicate key `{key}`")));
            }
            let StrictValue(value) = map.next_value()?;
            object.insert(key, value);
        }
        Ok(Value::Object(object))
    }
}

/// A deserializer that rejects a repeated key in any object it reads, and,
/// when `fields` is set, a key of the outer object outside `fields`.
pub(crate) struct Strict<D> {
    inner: D,
    fields: Option<&'static [&'static str]>,
}

impl<D> Strict<D> {
    pub(crate) fn nested(inner: D) -> Self {
        Strict {
            inner,
            fields: None,
        }
    }
}

/// Forwards each `deserialize_*` method to the inner deserializer, with the
/// visitor wrapped.
macro_rules! forward_strict {
    ($($method:ident($($arg:ident: $type:ty),*)),* $(,)?) => {
        $(
            fn $method<V: Visitor<'de>>(self, $($arg: $type,)* visitor: V) -> Result<V::Value, D::Error> {
                let visitor = StrictVisitorOf { inner: visitor, fields: self.fields };
                self.inner.$method($($arg,)* visitor)
            }
        )*
    };
}

impl<'de, D: de::Deserializer<'de>> de::Deserializer<'de> for Strict<D> {
    type Error = D::Error;

    forward_strict! {
        deserialize_any(), deserialize_bool(), deserialize_i8(), deserialize_i16(),
        deserialize_i32(), deserialize_i64(), deserialize_i128(), deserialize_u8(),
        deserialize_u16(), deserialize_u32(), deserialize_u64(), deserialize_u128(),
        deserialize_f32(), deserialize_f64(), deserialize_char(), deserialize_str(),
        deserialize_string(), deserialize_bytes(), deserialize_byte_buf(),
        deserialize_option(), deserialize_unit(), deserialize_seq(), deserialize_map(),
        deserialize_identifier(),
        deserialize_unit_struct(name: &'static str),
        deserialize_newtype_struct(name: &'static str),
        deserialize_tuple(len: usize),
        deserialize_tuple_struct(name: &'static str, len: usize),
        deserialize_struct(name: &'static str, fields: &'static [&'static str]),
        deserialize_enum(name: &'static str, variants: &'static [&'static str]),
    }

    /// Reads an ignored value in full, so its objects are checked too.
    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, D::Error> {
        self.deserialize_any(visitor)
    }

    fn is_human_readable(&self) -> bool {
        self.inner.is_human_readable()
    }
}

/// A visitor whose maps, sequences, enums and nested values are read
/// through [`Strict`].
struct StrictVisitorOf<V> {
    inner: V,
    fields: Option<&'static [&'static str]>,
}

/// Forwards each `visit_*` method of a plain value to the inner visitor.
macro_rules! forward_visits {
    ($($method:ident($type:ty)),* $(,)?) => {
        $(
            fn $method<E: de::Error>(self, value: $type) -> Result<V::Value, E> {
                self.inner.$method(value)
            }
        )*
    };
}

impl<'de, V: Visitor<'de>> Visitor<'de> for StrictVisitorOf<V> {
    type Value = V::Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.inner.expecting(f)
    }

    forward_visits! {
        visit_bool(bool), visit_i8(i8), visit_i16(i16), visit_i32(i32), visit_i64(i64),
        visit_i128(i128), visit_u8(u8), visit_u16(u16), visit_u32(u32), visit_u64(u64),
        visit_u128(u128), visit_f32(f32), visit_f64(f64), visit_char(char),
        visit_str(&str), visit_borrowed_str(&'de str), visit_string(String),
        visit_bytes(&[u8]), visit_borrowed_bytes(&'de [u8]), visit_byte_buf(Vec<u8>),
    }

    fn visit_none<E: de::Error>(self) -> Result<V::Value, E> {
        self.inner.visit_none()
    }

    fn visit_unit<E: de::Error>(self) -> Result<V::Value, E> {
        self.inner.visit_unit()
    }

    fn visit_some<D2: de::Deserializer<'de>>(self, inner: D2) -> Result<V::Value, D2::Error> {
        self.inner.visit_some(Strict::nested(inner))
    }

    fn visit_newtype_struct<D2: de::Deserializer<'de>>(
        self,
        inner: D2,
    ) -> Result<V::Value, D2::Error> {
        self.inner.visit_newtype_struct(Strict {
            inner,
            fields: self.fields,
        })
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<V::Value, A::Error> {
        self.inner.visit_seq(StrictSeq(seq))
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<V::Value, A::Error> {
        self.inner.visit_map(StrictMap {
            inner: map,
            keys: SeenKeys::new(self.fields),
            fields: self.fields,
        })
    }

    fn visit_enum<A: de::EnumAccess<'de>>(self, data: A) -> Result<V::Value, A::Error> {
        self.inner.visit_enum(StrictEnum(data))
    }
}

/// A seed whose value is read through [`Strict`].
struct StrictSeed<S>(S);

impl<'de, S: de::DeserializeSeed<'de>> de::DeserializeSeed<'de> for StrictSeed<S> {
    type Value = S::Value;

    fn deserialize<D: de::Deserializer<'de>>(self, inner: D) -> Result<S::Value, D::Error> {
        self.0.deserialize(Strict::nested(inner))
    }
}

struct StrictSeq<A>(A);

impl<'de, A: SeqAccess<'de>> SeqAccess<'de> for StrictSeq<A> {
    type Error = A::Error;

    fn next_element_seed<S: de::DeserializeSeed<'de>>(
        &mut self,
        seed: S,
    ) -> Result<Option<S::Value>, A::Error> {
        self.0.next_element_seed(StrictSeed(seed))
    }

    fn size_hint(&self) -> Option<usize> {
        self.0.size_hint()
    }
}

/// An object's entries, with the keys read so far.
struct StrictMap<'de, A> {
    inner: A,
    keys: SeenKeys<'de>,
    fields: Option<&'static [&'static str]>,
}

impl<'de, A: MapAccess<'de>> MapAccess<'de> for StrictMap<'de, A> {
    type Error = A::Error;

    fn next_key_seed<S: de::DeserializeSeed<'de>>(
        &mut self,
        seed: S,
    ) -> Result<Option<S::Value>, A::Error> {
        let Some(key) = self.inner.next_key_seed(KeySeed)? else {
            return Ok(None);
        };
        let field = match self.fields {
            Some(fields) => match fields.iter().position(|field| *field == key) {
                Some(index) => Some(index),
                None => return Err(de::Error::custom(format_args!("unknown field `{key}`"))),
            },
            None => None,
        };
        let value = seed.deserialize(de::value::StrDeserializer::<A::Error>::new(&key))?;
        if !self.keys.insert(key, field) {
            return Err(de::Error::custom("duplicate key"));
        }
        Ok(Some(value))
    }

    fn next_value_seed<S: de::DeserializeSeed<'de>>(&mut self, seed: S) -> Result<S::Value, A::Error> {
        self.inner.next_value_seed(StrictSeed(seed))
    }

    fn size_hint(&self) -> Option<usize> {
        self.inner.size_hint()
    }
}

/// Reads an object key, borrowed from the input unless it has escapes.
pub(crate) struct KeySeed;

impl<'de> de::DeserializeSeed<'de> for KeySeed {
    type Value = Cow<'de, str>;

    fn deserialize<D: de::Deserializer<'de>>(self, inner: D) -> Result<Self::Value, D::Error> {
        inner.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for KeySeed {
    type Value = Cow<'de, str>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object key")
    }

    fn visit_borrowed_str<E>(self, key: &'de str) -> Result<Self::Value, E> {
        Ok(Cow::Borrowed(key))
    }

    fn visit_str<E>(self, key: &str) -> Result<Self::Value, E> {
        Ok(Cow::Owned(key.to_string()))
    }

    fn visit_string<E>(self, key: String) -> Result<Self::Value, E> {
        Ok(Cow::Owned(key))
    }
}

/// The keys of an object read so far, kept so that a repeated key is found
/// without an allocation in the common cases.
enum SeenKeys<'de> {
    /// A bit per field of a closed shape of at most 64 fields, whose
    /// outer object has no other keys.
    Fields(u64),
    /// Up to [`SeenKeys::LIST_MAX`] keys, searched in order.
    List(Vec<Cow<'de, str>>),
    /// More keys.
    Set(BTreeSet<Cow<'de, str>>),
}

impl<'de> SeenKeys<'de> {
    const LIST_MAX: usize = 16;

    fn new(fields: Option<&'static [&'static str]>) -> Self {
        match fields {
            Some(fields) if fields.len() <= 64 => SeenKeys::Fields(0),
            _ => SeenKeys::List(Vec::new()),
        }
    }

    /// Adds `key`, which is the `field`-th field of a closed shape when
    /// `field` is set. Returns false if the key was already there.
    fn insert(&mut self, key: Cow<'de, str>, field: Option<usize>) -> bool {
        match self {
            SeenKeys::Fields(seen) => {
                let bit = 1u64 << field.expect("a closed shape's key is one of its fields");
                let new = *seen & bit == 0;
                *seen |= bit;
                new
            }
            SeenKeys::List(keys) if keys.contains(&key) => false,
            SeenKeys::List(keys) if keys.len() < Self::LIST_MAX => {
                keys.push(key);
                true
            }
            SeenKeys::List(keys) => {
                let mut set: BTreeSet<_> = keys.drain(..).collect();
                set.insert(key);
                *self = SeenKeys::Set(set);
                true
            }
            SeenKeys::Set(keys) => keys.insert(key),
        }
    }
}

struct StrictEnum<A>(A);

impl<'de, A: de::EnumAccess<'de>> de::EnumAccess<'de> for StrictEnum<A> {
    type Error = A::Error;
    type Variant = StrictEnum<A::Variant>;

    fn variant_seed<S: de::DeserializeSeed<'de>>(
        self,
        seed: S,
    ) -> Result<(S::Value, Self::Variant), A::Error> {
        let (value, variant) = self.0.variant_seed(seed)?;
        Ok((value, StrictEnum(variant)))
    }
}

impl<'de, A: de::VariantAccess<'de>> de::VariantAccess<'de> for StrictEnum<A> {
    type Error = A::Error;

    fn unit_variant(self) -> Result<(), A::Error> {
        self.0.unit_variant()
    }

    fn newtype_variant_seed<S: de::DeserializeSeed<'de>>(self, seed: S) -> Result<S::Value, A::Error> {
        self.0.newtype_variant_seed(StrictSeed(seed))
    }

    fn tuple_variant<V: Visitor<'de>>(self, len: usize, visitor: V) -> Result<V::Value, A::Error> {
        let visitor = StrictVisitorOf { inner: visitor, fields: None };
        self.0.tuple_variant(len, visitor)
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, A::Error> {
        let visitor = StrictVisitorOf { inner: visitor, fields: None };
        self.0.struct_variant(fields, visitor)
    }
}

/// Finds the value at a `serde_path_to_error` path such as `a.b[0]`.
fn lookup<'a>(value: &'a Value, path: &str) -> Option<&'a Value> {
    let mut current = value;
    for segment in path.split('.') {
        let (key, indexes) = segment.split_once('[').unwrap_or((segment, ""));
        if !key.is_empty() {
            current = current.get(key)?;
        }
        for index in indexes.split('[').filter(|s| !s.is_empty()) {
            current = current.get(index.trim_end_matches(']').parse::<usize>().ok()?)?;
        }
    }
    Some(current)
}

/// Words a field's decoding error for a client. An empty string that the
/// schema forbids gets the API's own message.
fn field_message(error: &serde_json::Error, found: Option<&Value>) -> String {
    // NOTE: typify words a `minLength` failure "shorter than N characters";
    // an empty string is the only value that fails `minLength: 1`.
    if found == Some(&Value::String(String::new())) {
        return "Empty value is not allowed".to_string();
    }
    let message = error.to_string();
    match found {
        Some(value) if message.starts_with("invalid type") => {
            let expected = message
                .split_once(", expected ")
                .map(|(_, expected)| expected)
                .unwrap_or("another type");
            format!("Expected {expected}, found {}", validate::type_name(value))
        }
        _ => message,
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    /// An open object, with a map and a raw JSON value inside.
    #[derive(Debug, PartialEq, serde::Deserialize)]
    struct Open {
        #[serde(default)]
        labels: HashMap<String, String>,
        #[serde(default)]
        extra: Option<Value>,
    }

    const OPEN: BodyShape = BodyShape {
        fields: &["labels", "extra"],
        closed: false,
        schema: &Schema::ANY,
        validate_decoded: false,
    };

    /// Decodes `text` both ways and checks that the one-pass decoder agrees
    /// with the `Value` path: a result only where the `Value` path has one,
    /// and then the same.
    fn agree(text: &str, shape: &BodyShape) -> Option<Open> {
        let fast = decode_strict::<Open>(text.as_bytes(), shape);
        let slow = parse_strict_json(text.as_bytes()).and_then(|value| decode_body(value, shape));
        match (&fast, slow) {
            (Some(fast), Ok(slow)) => assert_eq!(fast, &slow, "{text}"),
            (Some(fast), Err(rejection)) => panic!("{text}: {fast:?}, but {rejection:?}"),
            (None, _) => {}
        }
        fast
    }

    #[test]
    fn valid_bodies_decode_in_one_pass() {
        let decoded = agree(r#"{"labels": {"a": "1"}, "extra": {"b": [1, {"c": null}]}}"#, &OPEN);
        assert!(decoded.is_some());
        assert!(agree(r#" {"unknown": {"x": 1}} "#, &OPEN).is_some());
    }

    #[test]
    fn repeated_keys_fail_at_any_depth() {
        let cases = [
            r#"{"labels": {"a": "1", "a": "2"}}"#,
            r#"{"extra": {"b": [{"c": 1, "c": 2}]}}"#,
            r#"{"unknown": {"x": 1, "x": 2}}"#,
            r#"{"labels": {}, "labels": {}}"#,
        ];
        for text in cases {
            assert_eq!(agree(text, &OPEN), None, "{text}");
            assert!(parse_strict_json(text.as_bytes()).is_err(), "{text}");
        }
    }

    #[test]
    fn long_and_closed_objects_reject_repeats() {
        let keys: Vec<String> = (0..20).map(|i| format!(r#""k{i}": {i}"#)).collect();
        let many = format!(r#"{{"extra": {{{}}}}}"#, keys.join(", "));
        assert!(agree(&many, &OPEN).is_some());
        let late = format!(r#"{{"extra": {{{}, "k19": 0}}}}"#, keys.join(", "));
        assert_eq!(agree(&late, &OPEN), None);
        let escaped = r#"{"labels": {"a": "1", "\u0061": "2"}}"#;
        assert_eq!(agree(escaped, &OPEN), None);

        let closed = BodyShape {
            closed: true,
            ..OPEN
        };
        assert!(agree(r#"{"labels": {}, "extra": 1}"#, &closed).is_some());
        assert_eq!(agree(r#"{"extra": 1, "labels": {}, "extra": 2}"#, &closed), None);
    }

    #[test]
    fn other_shapes_fail() {
        let closed = BodyShape {
            closed: true,
            ..OPEN
        };
        assert_eq!(agree(r#"{"unknown": 1}"#, &closed), None);
        assert_eq!(agree(r#"[{}, null]"#, &OPEN), None);
        assert_eq!(agree(r#"{} {}"#, &OPEN), None);
        assert_eq!(agree(r#"{"labels": {"a": 1}}"#, &OPEN), None);
    }
}
