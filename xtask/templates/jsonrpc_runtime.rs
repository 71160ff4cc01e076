//! The JSON-RPC 2.0 envelope: parsing, batches, notifications, ids, and
//! error objects. The generated dispatcher maps each method to an operation.
//!
//! The HTTP status says whether the payload followed the envelope rules:
//! 200 (or 204 for notifications only) when it did, whatever the calls
//! returned, and 400 when the body is not JSON, is an empty or oversized
//! batch, or holds an invalid request object. The body is the JSON-RPC
//! response either way, so a batch with one invalid member still carries
//! the results of the others.

use std::borrow::Cow;
use std::collections::BTreeSet;
use std::fmt;
use std::future::Future;

use axum::body::{Body, Bytes};
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::de::{self, DeserializeOwned, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde::ser::SerializeStruct;
use serde::{Serialize, Serializer};
use serde_json::value::RawValue;
use serde_json::{Map, Value, json};

use crate::runtime::{self, BodyShape, KeySeed, Rejection, StrictValue, StrictVisitor};

mod plain;

/// Code of a body that is not JSON.
pub const PARSE_ERROR: i64 = -32700;
/// Code of a request object that breaks the envelope rules.
pub const INVALID_REQUEST: i64 = -32600;
/// Code of an unknown method.
pub const METHOD_NOT_FOUND: i64 = -32601;
/// Code of params that do not decode.
pub const INVALID_PARAMS: i64 = -32602;

/// Members a request object may have.
const REQUEST_MEMBERS: [&str; 4] = ["jsonrpc", "method", "params", "id"];

/// Maximum number of requests in one batch.
pub const MAX_BATCH_LEN: usize = 100;

/// Names of the methods that a request called, attached to the HTTP response
/// as an extension so that request logging can show them.
#[derive(Debug, Clone, Default)]
pub struct JsonRpcMethods(pub Vec<String>);

/// A JSON-RPC error object.
#[derive(Debug, Clone, PartialEq)]
pub struct CallError {
    pub code: i64,
    pub message: String,
    pub data: Option<Value>,
}

impl CallError {
    pub fn new(code: i64, message: impl Into<String>, data: Option<Value>) -> Self {
        CallError {
            code,
            message: message.into(),
            data,
        }
    }

    /// Converts a documented REST error body `{"error": {"message", "data"}}`
    /// into an error object with `code` and the same message and data.
    pub fn from_rest<E: Serialize>(code: i64, body: &E) -> Self {
        let value = serde_json::to_value(body).unwrap_or(Value::Null);
        let error = value.get("error");
        let message = error
            .and_then(|error| error.get("message"))
            .and_then(Value::as_str)
            .unwrap_or("Server error")
            .to_string();
        let data = error.and_then(|error| error.get("data")).cloned();
        CallError::new(code, message, data)
    }

    /// Converts a rejected request into an error object with `code`.
    pub fn from_rejection(code: i64, rejection: Rejection) -> Self {
        CallError::new(code, rejection.message, Some(json!(rejection.data)))
    }

    fn invalid_request(data: Value) -> Self {
        CallError::new(INVALID_REQUEST, "Invalid Request", Some(data))
    }

    pub fn method_not_found(method: &str) -> Self {
        CallError::new(
            METHOD_NOT_FOUND,
            "Method not found",
            Some(json!({ "method": format!("Unknown method `{method}`") })),
        )
    }
}

impl Serialize for CallError {
    /// Writes the members sorted by name, as a `serde_json::Value` object
    /// would: `code`, `data` if present, then `message`.
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut error = serializer.serialize_struct("CallError", 3)?;
        error.serialize_field("code", &self.code)?;
        match &self.data {
            Some(data) => error.serialize_field("data", data)?,
            None => error.skip_field("data")?,
        }
        error.serialize_field("message", &self.message)?;
        error.end()
    }
}

/// Implements the `visit_*` methods of a visitor for the JSON values that
/// are neither strings nor containers, each returning `Ok($value)`.
macro_rules! visit_non_string_scalars {
    ($value:expr) => {
        fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
            Ok($value)
        }

        fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
            Ok($value)
        }

        fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
            Ok($value)
        }

        fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
            Ok($value)
        }

        fn visit_unit<E>(self) -> Result<Self::Value, E> {
            Ok($value)
        }
    };
}

/// The params of one call, keyed by parameter name.
pub struct Params<'a> {
    values: ParamValues<'a>,
    /// Every parameter of the method, for messages about unknown ones.
    names: &'static [&'static str],
}

/// The params of a call: by name as written, each value its JSON text, or
/// as decoded values. Params by name take the first form, which builds no
/// `Value` while they decode into the operation's types.
enum ParamValues<'a> {
    Raw(Vec<(Cow<'a, str>, &'a RawValue)>),
    Decoded(Map<String, Value>),
}

/// Decodes each of `members`, the raw params by name.
fn decode_members(
    members: Vec<(Cow<'_, str>, &RawValue)>,
) -> Result<Map<String, Value>, serde_json::Error> {
    members
        .into_iter()
        .map(|(name, raw)| Ok((name.into_owned(), serde_json::from_str(raw.get())?)))
        .collect()
}

impl<'a> Params<'a> {
    /// Reads params by name (an object) or by position (an array, mapped to
    /// `names` in order). Absent params are an empty object.
    pub fn new(
        params: Option<RawParams<'a>>,
        names: &'static [&'static str],
        code: i64,
    ) -> Result<Self, CallError> {
        let values = match params {
            None => ParamValues::Raw(Vec::new()),
            Some(RawParams::ByName(members)) => ParamValues::Raw(members),
            Some(RawParams::ByPosition(items)) => {
                if items.len() > names.len() {
                    let message = format!(
                        "Expected at most {} params ({}), found {}",
                        names.len(),
                        names.join(", "),
                        items.len()
                    );
                    return Err(CallError::from_rejection(
                        code,
                        Rejection::invalid("params", message),
                    ));
                }
                let mut object = Map::new();
                for (name, item) in names.iter().zip(items) {
                    let value = serde_json::from_str(item.get()).map_err(internal_error)?;
                    object.insert(name.to_string(), value);
                }
                ParamValues::Decoded(object)
            }
        };
        let params = Params { values, names };
        params.check_names(code)?;
        Ok(params)
    }

    /// Rejects params by name that the method does not have, naming each.
    fn check_names(&self, code: i64) -> Result<(), CallError> {
        let data = match &self.values {
            ParamValues::Raw(members) => self.unknown(members.iter().map(|(name, _)| name.as_ref())),
            ParamValues::Decoded(object) => self.unknown(object.keys().map(String::as_str)),
        };
        if data.is_empty() {
            return Ok(());
        }
        Err(CallError::new(code, "Invalid request", Some(Value::Object(data))))
    }

    /// Returns the message of each of `keys` that is not a parameter of the
    /// method, by key.
    fn unknown<'k>(&self, keys: impl Iterator<Item = &'k str>) -> Map<String, Value> {
        let mut data = Map::new();
        for key in keys {
            if !self.names.contains(&key) {
                let message = format!(
                    "Unknown parameter; allowed parameters: {}",
                    self.names.join(", ")
                );
                data.insert(key.to_string(), message.into());
            }
        }
        data
    }

    /// Takes out the string parameter `name`, which must be present and
    /// not empty.
    pub fn take_string(&mut self, name: &str, code: i64) -> Result<String, CallError> {
        let invalid = |message: &str| {
            CallError::from_rejection(code, Rejection::invalid(name, message))
        };
        let value = match &mut self.values {
            ParamValues::Raw(members) => members
                .iter()
                .position(|(key, _)| key == name)
                .map(|index| string_value(members.swap_remove(index).1)),
            ParamValues::Decoded(object) => object.remove(name).map(|value| match value {
                Value::String(value) => Some(value),
                _ => None,
            }),
        };
        match value {
            Some(Some(value)) if !value.is_empty() => Ok(value),
            Some(Some(_)) => Err(invalid("Empty value is not allowed")),
            Some(None) => Err(invalid("Expected a string")),
            None => Err(invalid("Missing required parameter")),
        }
    }

    /// Rejects params left over after the operation took its own.
    pub fn finish(self, code: i64) -> Result<(), CallError> {
        self.check_names(code)
    }

    /// Decodes the remaining params as the operation's JSON body. Unless the
    /// schema has keywords that the Rust types do not enforce, params that
    /// decode are valid, so only a failure is validated to name each
    /// invalid field.
    pub fn into_body<T: DeserializeOwned>(self, shape: &BodyShape, code: i64) -> Result<T, CallError> {
        let value = match self.values {
            ParamValues::Raw(members) => {
                if !shape.validate_decoded {
                    let pairs = members.iter().map(|(name, raw)| (name.as_ref(), *raw));
                    let deserializer = de::value::MapDeserializer::<_, serde_json::Error>::new(pairs);
                    if let Ok(body) = T::deserialize(deserializer) {
                        return Ok(body);
                    }
                }
                Value::Object(decode_members(members).map_err(internal_error)?)
            }
            ParamValues::Decoded(object) => {
                let value = Value::Object(object);
                if !shape.validate_decoded
                    && let Ok(body) = T::deserialize(&value)
                {
                    return Ok(body);
                }
                value
            }
        };
        runtime::decode_body(value, shape).map_err(|rejection| CallError::from_rejection(code, rejection))
    }
}

/// Returns the string that `raw` contains, or `None` for another value.
fn string_value(raw: &RawValue) -> Option<String> {
    let text = raw.get();
    // A raw value is valid JSON, so a string without escapes is its
    // contents between the quotes.
    match text.strip_prefix('"').and_then(|rest| rest.strip_suffix('"')) {
        Some(contents) if !contents.contains('\\') => Some(contents.to_string()),
        _ => serde_json::from_str(text).ok(),
    }
}

/// The `params` of a request object as the envelope's parse read them: each
/// member or item as its JSON text, checked for repeated keys and, unless
/// it is a plain literal, for everything else that fails a parse.
pub enum RawParams<'a> {
    ByName(Vec<(Cow<'a, str>, &'a RawValue)>),
    ByPosition(Vec<&'a RawValue>),
}

impl RawParams<'_> {
    fn is_empty(&self) -> bool {
        match self {
            RawParams::ByName(members) => members.is_empty(),
            RawParams::ByPosition(items) => items.is_empty(),
        }
    }
}

/// Reads `params`: [`RawParams`] for an object or an array, `None` for any
/// other value.
struct ParamsSeed;

impl<'de> DeserializeSeed<'de> for ParamsSeed {
    type Value = Option<RawParams<'de>>;

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for ParamsSeed {
    type Value = Option<RawParams<'de>>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("params")
    }

    visit_non_string_scalars!(None);

    fn visit_str<E>(self, _: &str) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element::<&'de RawValue>()? {
            check_value(item)?;
            items.push(item);
        }
        Ok(Some(RawParams::ByPosition(items)))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut members: Vec<(Cow<'de, str>, &'de RawValue)> = Vec::new();
        while let Some(name) = map.next_key_seed(KeySeed)? {
            if members.iter().any(|(seen, _)| *seen == name) {
                return Err(de::Error::custom(format_args!("duplicate key `{name}`")));
            }
            let value: &'de RawValue = map.next_value()?;
            check_value(value)?;
            members.push((name, value));
        }
        Ok(Some(RawParams::ByName(members)))
    }
}

/// Fails on what a parse into a `Value` fails on in `raw`, read as raw text:
/// a repeated key at any depth, a number out of the range of `f64`, or a
/// string with an invalid escape. `null`, `true`, `false` and strings
/// without escapes are read in full already.
fn check_value<E: de::Error>(raw: &RawValue) -> Result<(), E> {
    let text = raw.get();
    let plain = matches!(text, "null" | "true" | "false")
        || (text.starts_with('"') && !text.contains('\\'));
    if plain {
        return Ok(());
    }
    let mut deserializer = serde_json::Deserializer::from_str(text);
    let strict = runtime::Strict::nested(&mut deserializer);
    <de::IgnoredAny as de::Deserialize>::deserialize(strict)
        .map(|_| ())
        .map_err(E::custom)
}

/// Reads the body of a request to the JSON-RPC endpoint, or returns the
/// error response to a body that cannot be read.
///
/// `http_error_code` maps an HTTP status of the whole request (413, 415) to
/// its JSON-RPC code.
pub async fn read_payload(
    headers: &HeaderMap,
    body: Body,
    http_error_code: impl Fn(StatusCode) -> i64,
) -> Result<Bytes, Response> {
    runtime::read_body(headers, body).await.map_err(|rejection| {
        let status = rejection.status;
        reject(status, CallError::from_rejection(http_error_code(status), rejection))
    })
}

/// Serves the payload `bytes` of one HTTP request to the JSON-RPC endpoint:
/// runs each call through `call(method, params)`, with the method and the
/// params borrowed from `bytes`, and writes the response.
pub async fn serve<'b, F, Fut>(bytes: &'b [u8], call: F) -> Response
where
    F: Fn(Cow<'b, str>, Option<RawParams<'b>>) -> Fut,
    Fut: Future<Output = Result<Box<RawValue>, CallError>>,
{
    let payload = match parse_payload(bytes) {
        Ok(payload) => payload,
        Err(rejection) => {
            let data = CallError::from_rejection(PARSE_ERROR, rejection).data;
            let error = CallError::new(PARSE_ERROR, "Parse error", data);
            return reject(StatusCode::BAD_REQUEST, error);
        }
    };

    let mut outcome = Outcome::default();
    match payload {
        Payload::Batch(items) if items.is_empty() => {
            let error = CallError::invalid_request(json!({ "batch": "Empty batch" }));
            reject(StatusCode::BAD_REQUEST, error)
        }
        Payload::Batch(items) if items.len() > MAX_BATCH_LEN => {
            let message = format!("Batch of {} requests; the limit is {MAX_BATCH_LEN}", items.len());
            let error = CallError::invalid_request(json!({ "batch": message }));
            reject(StatusCode::BAD_REQUEST, error)
        }
        Payload::Batch(items) => {
            let mut responses = Vec::with_capacity(items.len());
            for item in items {
                if let Some(response) = handle_one(item, &call, &mut outcome).await {
                    responses.push(response);
                }
            }
            let body = (!responses.is_empty()).then_some(Reply::Batch(responses));
            reply(body, outcome)
        }
        Payload::Single(item) => {
            let body = handle_one(item, &call, &mut outcome).await;
            reply(body.map(Reply::Single), outcome)
        }
    }
}

/// The outcome of the calls of one HTTP request, for its status and logging.
#[derive(Default)]
struct Outcome {
    methods: Vec<String>,
    /// Whether a request object broke the envelope rules.
    invalid: bool,
}

/// Writes a single error response with a null id and the HTTP `status`.
pub fn reject(status: StatusCode, error: CallError) -> Response {
    let body = Reply::Single(ResponseObject {
        outcome: Err(error),
        id: Cow::Borrowed(RawValue::NULL),
    });
    json_response(status, &body)
}

/// The id of a response as the request's own JSON text, so a number comes
/// back exactly as the request wrote it (`1e2`, `-0`, or an integer beyond
/// 64 bits), and a string with the same escapes.
type ReplyId<'a> = Cow<'a, RawValue>;

/// One JSON-RPC response object: the result as JSON text, or the error.
struct ResponseObject<'a> {
    outcome: Result<Box<RawValue>, CallError>,
    id: ReplyId<'a>,
}

impl ResponseObject<'_> {
    /// Appends the object's JSON text to `buffer`, with the members in the
    /// order `jsonrpc`, `result` or `error`, `id`. The result and the id
    /// are JSON text already, so only an error is serialised.
    fn write_to(&self, buffer: &mut Vec<u8>) {
        buffer.extend_from_slice(br#"{"jsonrpc":"2.0","#);
        match &self.outcome {
            Ok(result) => {
                buffer.extend_from_slice(br#""result":"#);
                buffer.extend_from_slice(result.get().as_bytes());
            }
            Err(error) => {
                buffer.extend_from_slice(br#""error":"#);
                // A `CallError` holds only strings, integers and `Value`s,
                // and a `Vec` accepts every write.
                serde_json::to_writer(&mut *buffer, error)
                    .expect("an error object always serialises");
            }
        }
        buffer.extend_from_slice(br#","id":"#);
        buffer.extend_from_slice(self.id.get().as_bytes());
        buffer.push(b'}');
    }
}

/// The body of a reply: one response, or the responses of a batch.
enum Reply<'a> {
    Single(ResponseObject<'a>),
    Batch(Vec<ResponseObject<'a>>),
}

/// Writes `body` as an `application/json` response with `status`.
fn json_response(status: StatusCode, body: &Reply<'_>) -> Response {
    let mut buffer = Vec::with_capacity(128);
    match body {
        Reply::Single(response) => response.write_to(&mut buffer),
        Reply::Batch(responses) => {
            buffer.push(b'[');
            for (index, response) in responses.iter().enumerate() {
                if index > 0 {
                    buffer.push(b',');
                }
                response.write_to(&mut buffer);
            }
            buffer.push(b']');
        }
    }
    let mut response = Response::new(Body::from(buffer));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

/// Runs one request object; returns its response, or `None` for a
/// notification.
async fn handle_one<'a, F, Fut>(
    item: Item<'a>,
    call: &F,
    outcome: &mut Outcome,
) -> Option<ResponseObject<'a>>
where
    F: Fn(Cow<'a, str>, Option<RawParams<'a>>) -> Fut,
    Fut: Future<Output = Result<Box<RawValue>, CallError>>,
{
    let request = match item {
        Ok(request) => request,
        Err(invalid) => {
            outcome.invalid = true;
            return Some(ResponseObject {
                outcome: Err(invalid.error),
                id: invalid.id,
            });
        }
    };
    // The method is borrowed from the payload unless it has escapes, and
    // only the copy for the log line and the journal is allocated.
    outcome.methods.push(request.method.to_string());
    let result = call(request.method, request.params).await;
    request.id.map(|id| ResponseObject {
        outcome: result,
        id,
    })
}

/// The request objects of a payload: one, or the members of a batch.
enum Payload<'a> {
    Single(Item<'a>),
    Batch(Vec<Item<'a>>),
}

/// A request object that passed the envelope rules, or the response to one
/// that did not.
type Item<'a> = Result<Request<'a>, InvalidRequest<'a>>;

/// A request object that passed the envelope rules.
struct Request<'a> {
    method: Cow<'a, str>,
    params: Option<RawParams<'a>>,
    /// `None` for a notification.
    id: Option<ReplyId<'a>>,
}

/// A request object that broke the envelope rules: the error, and its id
/// when the id itself is valid (null otherwise).
struct InvalidRequest<'a> {
    id: ReplyId<'a>,
    error: CallError,
}

impl InvalidRequest<'_> {
    fn not_an_object() -> Self {
        let error = CallError::invalid_request(json!({
            "request": "Expected a request object"
        }));
        InvalidRequest {
            id: Cow::Borrowed(RawValue::NULL),
            error,
        }
    }
}

/// Parses a payload: a plain request object by [`plain::parse`], and any
/// other by [`parse_full`].
fn parse_payload(bytes: &[u8]) -> Result<Payload<'_>, Rejection> {
    match plain::parse(bytes) {
        Some(request) => Ok(Payload::Single(Ok(request))),
        None => parse_full(bytes),
    }
}

/// Parses a payload in one pass with the checks of a JSON body: valid
/// syntax, no repeated key at any depth, and no trailing data. A payload
/// that fails them is parsed again by [`runtime::parse_strict_json`] for
/// the error message, so that it reads as for a REST body.
fn parse_full(bytes: &[u8]) -> Result<Payload<'_>, Rejection> {
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let first = bytes
        .iter()
        .find(|byte| !matches!(byte, b' ' | b'\t' | b'\n' | b'\r'));
    let parsed = if first == Some(&b'[') {
        BatchSeed.deserialize(&mut deserializer).map(Payload::Batch)
    } else {
        ItemSeed.deserialize(&mut deserializer).map(Payload::Single)
    };
    parsed
        .and_then(|payload| deserializer.end().map(|()| payload))
        .map_err(|error| match runtime::parse_strict_json(bytes) {
            Err(rejection) => rejection,
            Ok(_) => Rejection::invalid("body", format!("Invalid JSON: {error}")),
        })
}

/// Reads the request objects of a batch.
struct BatchSeed;

impl<'de> DeserializeSeed<'de> for BatchSeed {
    type Value = Vec<Item<'de>>;

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for BatchSeed {
    type Value = Vec<Item<'de>>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a batch of request objects")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element_seed(ItemSeed)? {
            items.push(item);
        }
        Ok(items)
    }
}

/// Reads one request object and checks the envelope rules. Any other JSON
/// value is read in full, so that its objects are checked for repeated
/// keys too, and becomes an invalid request.
struct ItemSeed;

impl<'de> DeserializeSeed<'de> for ItemSeed {
    type Value = Item<'de>;

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for ItemSeed {
    type Value = Item<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a request object")
    }

    visit_non_string_scalars!(Err(InvalidRequest::not_an_object()));

    fn visit_str<E>(self, _: &str) -> Result<Self::Value, E> {
        Ok(Err(InvalidRequest::not_an_object()))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
        StrictVisitor.visit_seq(seq)?;
        Ok(Err(InvalidRequest::not_an_object()))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut members = Members::default();
        while let Some(key) = map.next_key_seed(KeySeed)? {
            let repeated = match key.as_ref() {
                "jsonrpc" => members.jsonrpc.replace(map.next_value_seed(TextSeed)?).is_some(),
                "method" => members.method.replace(map.next_value_seed(TextSeed)?).is_some(),
                "params" => members.params.replace(map.next_value_seed(ParamsSeed)?).is_some(),
                "id" => {
                    let raw: &'de RawValue = map.next_value()?;
                    let id = reply_id(raw)?;
                    members.id.replace(id).is_some()
                }
                _ => {
                    map.next_value::<StrictValue>()?;
                    !members.unknown.insert(key.clone())
                }
            };
            if repeated {
                return Err(de::Error::custom(format_args!("duplicate key `{key}`")));
            }
        }
        Ok(members.check())
    }
}

/// The members of a request object as read.
#[derive(Default)]
struct Members<'a> {
    /// `jsonrpc`, with its text when it is a string.
    jsonrpc: Option<Option<Cow<'a, str>>>,
    /// `method`, with its text when it is a string.
    method: Option<Option<Cow<'a, str>>>,
    /// `params`, with `None` inside for a value that is neither an object
    /// nor an array.
    params: Option<Option<RawParams<'a>>>,
    /// `id`, when it is present: the response's id when it is a valid one.
    id: Option<Option<ReplyId<'a>>>,
    /// Members that a request object may not have.
    unknown: BTreeSet<Cow<'a, str>>,
}

impl<'a> Members<'a> {
    /// Checks the envelope rules. An invalid request gets a response with
    /// its id when the id itself is valid, and null otherwise.
    fn check(self) -> Item<'a> {
        let mut problems = Map::new();
        let id = match self.id {
            Some(None) => {
                problems.insert("id".into(), "Expected a string, a number or null".into());
                None
            }
            Some(Some(id)) => Some(id),
            None => None,
        };
        if self.jsonrpc.flatten().as_deref() != Some("2.0") {
            problems.insert("jsonrpc".into(), "Expected \"2.0\"".into());
        }
        let method = self.method.flatten();
        if method.is_none() {
            problems.insert("method".into(), "Expected a method name string".into());
        }
        if matches!(self.params, Some(None)) {
            problems.insert("params".into(), "Expected an object or an array".into());
        }
        for key in self.unknown {
            let message = format!("Unknown member; allowed members: {}", REQUEST_MEMBERS.join(", "));
            problems.insert(key.into_owned(), message.into());
        }

        match method {
            Some(method) if problems.is_empty() => Ok(Request {
                method,
                params: self.params.flatten(),
                id,
            }),
            _ => Err(InvalidRequest {
                id: id.unwrap_or(Cow::Borrowed(RawValue::NULL)),
                error: CallError::invalid_request(Value::Object(problems)),
            }),
        }
    }
}

/// Returns the response id for the raw `id` member: its own text for a
/// string, a number or null, and `None` for a value that is not a valid id.
/// A number out of the range of `f64` or a string with a lone surrogate
/// fails the payload as a parse error, as it fails a REST body, so that no
/// response echoes it.
fn reply_id<E: de::Error>(raw: &RawValue) -> Result<Option<ReplyId<'_>>, E> {
    let text = raw.get();
    match text.as_bytes().first() {
        Some(b'n') => Ok(Some(Cow::Borrowed(raw))),
        Some(b'"') if !text.contains('\\') => Ok(Some(Cow::Borrowed(raw))),
        Some(_) if is_short_integer(text) => Ok(Some(Cow::Borrowed(raw))),
        Some(b'"' | b'-' | b'0'..=b'9') => {
            // The raw value was read without the range check of a number
            // and the check of a string's escapes, which parsing adds.
            serde_json::from_str::<Value>(text).map_err(E::custom)?;
            Ok(Some(Cow::Borrowed(raw)))
        }
        Some(b'{' | b'[') => {
            // The raw value was read without the check for repeated keys.
            runtime::parse_strict_json(text.as_bytes())
                .map_err(|rejection| E::custom(rejection.message))?;
            Ok(None)
        }
        _ => Ok(None),
    }
}

/// Returns whether `text`, a JSON value, is an integer of at most 300
/// digits, which is within the range of `f64`.
fn is_short_integer(text: &str) -> bool {
    let digits = text.strip_prefix('-').unwrap_or(text);
    !digits.is_empty() && digits.len() <= 300 && digits.bytes().all(|byte| byte.is_ascii_digit())
}

/// Reads a member's value in full, keeping its text when it is a string.
struct TextSeed;

impl<'de> DeserializeSeed<'de> for TextSeed {
    type Value = Option<Cow<'de, str>>;

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for TextSeed {
    type Value = Option<Cow<'de, str>>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    visit_non_string_scalars!(None);

    fn visit_borrowed_str<E>(self, text: &'de str) -> Result<Self::Value, E> {
        Ok(Some(Cow::Borrowed(text)))
    }

    fn visit_str<E>(self, text: &str) -> Result<Self::Value, E> {
        Ok(Some(Cow::Owned(text.to_string())))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
        StrictVisitor.visit_seq(seq).map(|_| None)
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        StrictVisitor.visit_map(map).map(|_| None)
    }
}

/// Returns the OpenRPC `document` for `rpc.discover`, which takes no params.
pub fn discover(
    document: &str,
    params: Option<RawParams<'_>>,
    code: i64,
) -> Result<Box<RawValue>, CallError> {
    if params.is_some_and(|params| !params.is_empty()) {
        let data = json!({ "params": "rpc.discover takes no params" });
        return Err(CallError::new(code, "Invalid params", Some(data)));
    }
    // Parsed and written again, so the result is compact with sorted keys.
    let document: Value = serde_json::from_str(document).map_err(internal_error)?;
    result(&document)
}

/// Serialises an operation's result.
pub fn result<T: Serialize>(body: &T) -> Result<Box<RawValue>, CallError> {
    serde_json::value::to_raw_value(body).map_err(internal_error)
}

fn internal_error(error: serde_json::Error) -> CallError {
    CallError::new(-32603, "Internal error", Some(json!(error.to_string())))
}

/// Writes the body with 200, or 400 when a request object was invalid, or
/// 204 when every request was a notification.
fn reply(body: Option<Reply<'_>>, outcome: Outcome) -> Response {
    let status = if outcome.invalid {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    let mut response = match body {
        Some(body) => json_response(status, &body),
        None => StatusCode::NO_CONTENT.into_response(),
    };
    response
        .extensions_mut()
        .insert(JsonRpcMethods(outcome.methods));
    response
}
