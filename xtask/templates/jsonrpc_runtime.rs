//! The JSON-RPC 2.0 envelope: parsing, batches, notifications, ids, and
//! error objects. The generated dispatcher maps each method to an operation.
//!
//! The HTTP status says whether the payload followed the envelope rules:
//! 200 (or 204 for notifications only) when it did, whatever the calls
//! returned, and 400 when the body is not JSON, is an empty or oversized
//! batch, or holds an invalid request object. The body is the JSON-RPC
//! response either way, so a batch with one invalid member still carries
//! the results of the others.

use std::future::Future;

use axum::body::Body;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::{Map, Value, json};

use crate::runtime::{self, BodyShape, Rejection};

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

    fn to_value(&self) -> Value {
        let mut error = Map::new();
        error.insert("code".into(), self.code.into());
        error.insert("message".into(), self.message.clone().into());
        if let Some(data) = &self.data {
            error.insert("data".into(), data.clone());
        }
        Value::Object(error)
    }
}

/// The params of one call, as an object keyed by parameter name.
pub struct Params {
    object: Map<String, Value>,
    /// Every parameter of the method, for messages about unknown ones.
    names: Vec<&'static str>,
}

impl Params {
    /// Reads params by name (an object) or by position (an array, mapped to
    /// `names` in order). Absent params are an empty object.
    pub fn new(
        params: Option<Value>,
        names: &[&'static str],
        code: i64,
    ) -> Result<Self, CallError> {
        let object = match params {
            None => Map::new(),
            Some(Value::Object(object)) => object,
            Some(Value::Array(items)) => {
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
                names
                    .iter()
                    .map(|name| name.to_string())
                    .zip(items)
                    .collect()
            }
            Some(_) => unreachable!("the envelope check accepts only objects and arrays"),
        };
        let params = Params {
            object,
            names: names.to_vec(),
        };
        params.check_names(code)?;
        Ok(params)
    }

    /// Rejects params by name that the method does not have, naming each.
    fn check_names(&self, code: i64) -> Result<(), CallError> {
        let mut data = Map::new();
        for key in self.object.keys() {
            if !self.names.contains(&key.as_str()) {
                let message = format!(
                    "Unknown parameter; allowed parameters: {}",
                    self.names.join(", ")
                );
                data.insert(key.clone(), message.into());
            }
        }
        if data.is_empty() {
            return Ok(());
        }
        Err(CallError::new(code, "Invalid request", Some(Value::Object(data))))
    }

    /// Takes out the string parameter `name`, which must be present and
    /// not empty.
    pub fn take_string(&mut self, name: &str, code: i64) -> Result<String, CallError> {
        let invalid = |message: &str| {
            CallError::from_rejection(code, Rejection::invalid(name, message))
        };
        match self.object.remove(name) {
            Some(Value::String(value)) if !value.is_empty() => Ok(value),
            Some(Value::String(_)) => Err(invalid("Empty value is not allowed")),
            Some(_) => Err(invalid("Expected a string")),
            None => Err(invalid("Missing required parameter")),
        }
    }

    /// Rejects params left over after the operation took its own.
    pub fn finish(self, code: i64) -> Result<(), CallError> {
        self.check_names(code)
    }

    /// Decodes the remaining params as the operation's JSON body.
    pub fn into_body<T: serde::de::DeserializeOwned>(
        self,
        shape: &BodyShape,
        code: i64,
    ) -> Result<T, CallError> {
        runtime::decode_body(Value::Object(self.object), shape)
            .map_err(|rejection| CallError::from_rejection(code, rejection))
    }
}

/// Serves one HTTP request to the JSON-RPC endpoint: reads the body, runs
/// each call through `call(method, params)`, and writes the response.
///
/// `http_error_code` maps an HTTP status of the whole request (413, 415) to
/// its JSON-RPC code.
pub async fn serve<F, Fut>(
    headers: &HeaderMap,
    body: Body,
    http_error_code: impl Fn(StatusCode) -> i64,
    call: F,
) -> Response
where
    F: Fn(String, Option<Value>) -> Fut,
    Fut: Future<Output = Result<Value, CallError>>,
{
    let bytes = match runtime::read_body(headers, body).await {
        Ok(bytes) => bytes,
        Err(rejection) => {
            let status = rejection.status;
            return reject(status, CallError::from_rejection(http_error_code(status), rejection));
        }
    };
    let payload = match runtime::parse_strict_json(&bytes) {
        Ok(payload) => payload,
        Err(rejection) => {
            let data = CallError::from_rejection(PARSE_ERROR, rejection).data;
            let error = CallError::new(PARSE_ERROR, "Parse error", data);
            return reject(StatusCode::BAD_REQUEST, error);
        }
    };

    let mut outcome = Outcome::default();
    let mut raw_ids = raw_ids(&bytes).into_iter();
    match payload {
        Value::Array(items) if items.is_empty() => {
            let error = CallError::invalid_request(json!({ "batch": "Empty batch" }));
            reject(StatusCode::BAD_REQUEST, error)
        }
        Value::Array(items) if items.len() > MAX_BATCH_LEN => {
            let message = format!("Batch of {} requests; the limit is {MAX_BATCH_LEN}", items.len());
            let error = CallError::invalid_request(json!({ "batch": message }));
            reject(StatusCode::BAD_REQUEST, error)
        }
        Value::Array(items) => {
            let mut responses = Vec::new();
            for item in items {
                let raw_id = raw_ids.next().flatten();
                if let Some(response) = handle_one(item, raw_id, &call, &mut outcome).await {
                    responses.push(response);
                }
            }
            let body = (!responses.is_empty()).then_some(Reply::Batch(responses));
            reply(body, outcome)
        }
        single => {
            let raw_id = raw_ids.next().flatten();
            let body = handle_one(single, raw_id, &call, &mut outcome).await;
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
    (status, axum::Json(response(null_id(), Err(error)))).into_response()
}

/// One JSON-RPC response object. The id is kept as raw JSON text, so a
/// number comes back exactly as the request wrote it (`1e2`, `-0`, or an
/// integer beyond 64 bits).
#[derive(Serialize)]
struct ResponseObject {
    jsonrpc: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    result: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<Value>,
    id: Box<RawValue>,
}

/// The body of a reply: one response, or the responses of a batch.
#[derive(Serialize)]
#[serde(untagged)]
enum Reply {
    Single(ResponseObject),
    Batch(Vec<ResponseObject>),
}

#[derive(Deserialize)]
struct IdMember<'a> {
    #[serde(borrow, default)]
    id: Option<&'a RawValue>,
}

/// Returns the raw `id` text of each request object of a payload, by
/// position: one entry for a single request, one per member of a batch.
fn raw_ids(bytes: &[u8]) -> Vec<Option<Box<RawValue>>> {
    let id_of = |item: &RawValue| {
        serde_json::from_str::<IdMember<'_>>(item.get())
            .ok()
            .and_then(|member| member.id.map(ToOwned::to_owned))
    };
    let Ok(payload) = serde_json::from_slice::<&RawValue>(bytes) else {
        return Vec::new();
    };
    match serde_json::from_str::<Vec<&RawValue>>(payload.get()) {
        Ok(items) => items.into_iter().map(id_of).collect(),
        Err(_) => vec![id_of(payload)],
    }
}

fn null_id() -> Box<RawValue> {
    RawValue::from_string("null".to_string()).expect("null is JSON")
}

/// Returns the id of the response: the raw text of a numeric id, so that it
/// is echoed exactly, and the parsed value otherwise.
fn reply_id(id: &Value, raw: Option<Box<RawValue>>) -> Box<RawValue> {
    match raw {
        Some(raw) if id.is_number() => raw,
        _ => RawValue::from_string(id.to_string()).unwrap_or_else(|_| null_id()),
    }
}

/// Runs one request object; returns its response, or `None` for a
/// notification.
async fn handle_one<F, Fut>(
    item: Value,
    raw_id: Option<Box<RawValue>>,
    call: &F,
    outcome: &mut Outcome,
) -> Option<ResponseObject>
where
    F: Fn(String, Option<Value>) -> Fut,
    Fut: Future<Output = Result<Value, CallError>>,
{
    let request = match Request::parse(item) {
        Ok(request) => request,
        Err((id, error)) => {
            outcome.invalid = true;
            return Some(response(reply_id(&id, raw_id), Err(error)));
        }
    };
    outcome.methods.push(request.method.clone());
    let result = call(request.method, request.params).await;
    request
        .id
        .map(|id| response(reply_id(&id, raw_id), result))
}

/// A request object that passed the envelope rules.
struct Request {
    method: String,
    params: Option<Value>,
    /// `None` for a notification.
    id: Option<Value>,
}

impl Request {
    /// Checks the envelope rules. An invalid request gets a response with
    /// its id when the id itself is valid, and null otherwise.
    fn parse(item: Value) -> Result<Request, (Value, CallError)> {
        let Value::Object(mut object) = item else {
            let error = CallError::invalid_request(json!({
                "request": "Expected a request object"
            }));
            return Err((Value::Null, error));
        };

        let id = object.remove("id");
        let id_valid = matches!(
            id,
            None | Some(Value::Null | Value::String(_) | Value::Number(_))
        );
        let reply_id = if id_valid {
            id.clone().unwrap_or(Value::Null)
        } else {
            Value::Null
        };

        let mut problems = Map::new();
        if !id_valid {
            problems.insert("id".into(), "Expected a string, a number or null".into());
        }
        if object.get("jsonrpc") != Some(&Value::from("2.0")) {
            problems.insert("jsonrpc".into(), "Expected \"2.0\"".into());
        }
        if !matches!(object.get("method"), Some(Value::String(_))) {
            problems.insert("method".into(), "Expected a method name string".into());
        }
        if !matches!(
            object.get("params"),
            None | Some(Value::Object(_) | Value::Array(_))
        ) {
            problems.insert("params".into(), "Expected an object or an array".into());
        }
        for key in object.keys() {
            if !REQUEST_MEMBERS.contains(&key.as_str()) {
                let message = format!("Unknown member; allowed members: {}", REQUEST_MEMBERS.join(", "));
                problems.insert(key.clone(), message.into());
            }
        }
        if !problems.is_empty() {
            return Err((reply_id, CallError::invalid_request(Value::Object(problems))));
        }

        let Some(Value::String(method)) = object.remove("method") else {
            unreachable!("the method was checked above");
        };
        Ok(Request {
            method,
            params: object.remove("params"),
            id: id.map(|_| reply_id),
        })
    }
}

/// Returns the OpenRPC `document` for `rpc.discover`, which takes no params.
pub fn discover(document: &str, params: Option<Value>, code: i64) -> Result<Value, CallError> {
    let empty = match &params {
        None => true,
        Some(Value::Array(items)) => items.is_empty(),
        Some(Value::Object(object)) => object.is_empty(),
        Some(_) => false,
    };
    if !empty {
        let data = json!({ "params": "rpc.discover takes no params" });
        return Err(CallError::new(code, "Invalid params", Some(data)));
    }
    serde_json::from_str(document).map_err(|error| {
        CallError::new(-32603, "Internal error", Some(json!(error.to_string())))
    })
}

/// Serialises an operation's result.
pub fn result<T: Serialize>(body: &T) -> Result<Value, CallError> {
    serde_json::to_value(body)
        .map_err(|error| CallError::new(-32603, "Internal error", Some(json!(error.to_string()))))
}

fn response(id: Box<RawValue>, outcome: Result<Value, CallError>) -> ResponseObject {
    let (result, error) = match outcome {
        Ok(result) => (Some(result), None),
        Err(error) => (None, Some(error.to_value())),
    };
    ResponseObject {
        jsonrpc: "2.0",
        result,
        error,
        id,
    }
}

/// Writes the body with 200, or 400 when a request object was invalid, or
/// 204 when every request was a notification.
fn reply(body: Option<Reply>, outcome: Outcome) -> Response {
    let status = if outcome.invalid {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    let mut response = match body {
        Some(body) => (status, axum::Json(body)).into_response(),
        None => StatusCode::NO_CONTENT.into_response(),
    };
    response
        .extensions_mut()
        .insert(JsonRpcMethods(outcome.methods));
    response
}
