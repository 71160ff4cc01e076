//! Sends one case and checks its response: against the spec with the
//! checker, then against the rules that hold whatever the server's state.

use reqwest::Method;
use serde_json::Value;

use super::Failure;
use super::cases::{
    CallKind, Case, ItemKind, KeyChoice, RestBody, RestCase, RpcCase, RpcItem, RpcPayload,
};
use crate::checker::{Checker, RecordedRequest, RecordedResponse, curl_line, record};

/// A key that no server accepts.
const WRONG_KEY: &str = "contract-wrong-key";

/// Sends `case` to `base_url` and checks the exchange.
///
/// # Errors
///
/// Returns the first broken property, with the request as a curl line.
pub async fn check_case(
    http: &reqwest::Client,
    base_url: &str,
    api_key: &str,
    case: &Case,
) -> Result<(), Failure> {
    match case {
        Case::Rest(rest) => check_rest(http, base_url, api_key, rest).await,
        Case::JsonRpc(rpc) => check_rpc(http, base_url, api_key, rpc).await,
    }
}

async fn exchange(
    http: &reqwest::Client,
    request: &RecordedRequest,
) -> Result<RecordedResponse, Failure> {
    let response = record(http, request).await.map_err(|error| Failure {
        property: "server-answers",
        message: format!("no response: {error}\nrequest:\n  {}", curl_line(request)),
    })?;
    if response.status >= 500 {
        return Err(failure(
            "no-server-error",
            "the server answered with a 5xx status",
            request,
            &response,
        ));
    }
    Checker::shared()
        .check(request, &response)
        .map_err(|violation| Failure {
            property: "matches-spec",
            message: violation.to_string(),
        })?;
    Ok(response)
}

fn failure(
    property: &'static str,
    message: &str,
    request: &RecordedRequest,
    response: &RecordedResponse,
) -> Failure {
    let body = String::from_utf8_lossy(&response.body);
    Failure {
        property,
        message: format!(
            "{message}\nrequest:\n  {}\nresponse:\n  status: {}\n  body: {body}",
            curl_line(request),
            response.status
        ),
    }
}

fn with_key(request: RecordedRequest, key: KeyChoice, api_key: &str) -> RecordedRequest {
    match key {
        KeyChoice::Valid => request.header("X-Api-Key", api_key),
        KeyChoice::Missing => request,
        KeyChoice::Wrong => request.header("X-Api-Key", WRONG_KEY),
        KeyChoice::Repeated => request
            .header("X-Api-Key", api_key)
            .header("X-Api-Key", api_key),
    }
}

fn encode_segment(segment: &str) -> String {
    let mut encoded = String::new();
    for byte in segment.bytes() {
        if byte.is_ascii_alphanumeric() || b"-_.~".contains(&byte) {
            encoded.push(byte as char);
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    encoded
}

async fn check_rest(
    http: &reqwest::Client,
    base_url: &str,
    api_key: &str,
    case: &RestCase,
) -> Result<(), Failure> {
    let path = format!(
        "/system/services/active/{}/terminate",
        encode_segment(&case.service)
    );
    let mut request = RecordedRequest::new(Method::POST, base_url, &path);
    if let Some(content_type) = case.content_type {
        request = request.header("Content-Type", content_type);
    }
    request = with_key(request, case.key, api_key).body(match &case.body {
        RestBody::Valid(value) | RestBody::Invalid(value) => value.to_string().into_bytes(),
        RestBody::Raw(bytes) => bytes.clone(),
    });
    let response = exchange(http, &request).await?;

    let expected = expected_rest_statuses(case);
    if !expected.contains(&response.status) {
        let message = format!("expected a status in {expected:?}");
        return Err(failure("rest-status", &message, &request, &response));
    }
    if response.status == 404 {
        check_not_found(case, &request, &response)?;
    }
    if response.status == 200 {
        check_repeat_is_zero(http, &request).await?;
    }
    Ok(())
}

/// Returns the statuses the spec allows for a REST case on a server in any
/// state. When the key and the body are both wrong, the spec does not say
/// which is checked first.
fn expected_rest_statuses(case: &RestCase) -> Vec<u16> {
    let media_ok = case
        .content_type
        .is_none_or(|content_type| content_type.starts_with("application/json"));
    let body_ok = matches!(case.body, RestBody::Valid(_));
    let key_ok = case.key == KeyChoice::Valid;
    let mut allowed = Vec::new();
    if !key_ok {
        allowed.push(401);
    }
    if !media_ok {
        allowed.push(415);
    } else if !body_ok {
        allowed.push(400);
    }
    if allowed.is_empty() {
        allowed.extend([200, 404, 422]);
    }
    allowed
}

/// Checks that a 404 names the service or the node of the request.
fn check_not_found(
    case: &RestCase,
    request: &RecordedRequest,
    response: &RecordedResponse,
) -> Result<(), Failure> {
    let body: Value = serde_json::from_slice(&response.body).unwrap_or_default();
    let data = &body["error"]["data"];
    let node = match &case.body {
        RestBody::Valid(value) => value["nodes_id"].as_str().map(str::to_string),
        _ => None,
    };
    let names_service =
        data["object_name"] == "system_services" && data["object_id"] == case.service.as_str();
    let names_node = data["object_name"] == "nodes"
        && node.is_some_and(|node| data["object_id"] == node.as_str());
    if names_service || names_node {
        Ok(())
    } else {
        let message =
            "a 404 must name the requested service or node in data.object_name and data.object_id";
        Err(failure(
            "not-found-names-object",
            message,
            request,
            response,
        ))
    }
}

/// Repeating a successful terminate call at once affects 0 rows.
async fn check_repeat_is_zero(
    http: &reqwest::Client,
    request: &RecordedRequest,
) -> Result<(), Failure> {
    let repeated = exchange(http, request).await?;
    if repeated.status == 200 && repeated.body == b"0" {
        Ok(())
    } else {
        let message =
            "the same terminate call repeated at once must return 200 with 0 affected rows";
        Err(failure("repeat-returns-zero", message, request, &repeated))
    }
}

async fn check_rpc(
    http: &reqwest::Client,
    base_url: &str,
    api_key: &str,
    case: &RpcCase,
) -> Result<(), Failure> {
    let body = match &case.payload {
        RpcPayload::Single(item) => item.value.to_string().into_bytes(),
        RpcPayload::Batch(items) => Value::from(
            items
                .iter()
                .map(|item| item.value.clone())
                .collect::<Vec<_>>(),
        )
        .to_string()
        .into_bytes(),
        RpcPayload::Raw(bytes) => bytes.clone(),
    };
    let request = RecordedRequest::new(Method::POST, base_url, "/jsonrpc")
        .header("Content-Type", "application/json")
        .body(body);
    let request = with_key(request, case.key, api_key);
    let response = exchange(http, &request).await?;

    let expected = expected_rpc_status(case);
    if response.status != expected {
        let message = format!("expected HTTP status {expected}");
        return Err(failure("jsonrpc-status", &message, &request, &response));
    }
    if let (200 | 400, RpcPayload::Single(item)) = (expected, &case.payload) {
        let reply: Value = serde_json::from_slice(&response.body).unwrap_or_default();
        check_rpc_responses(std::slice::from_ref(item), &[reply], &request, &response)?;
    }
    if let (200 | 400, RpcPayload::Batch(items)) = (expected, &case.payload) {
        let reply: Value = serde_json::from_slice(&response.body).unwrap_or_default();
        let replies = reply.as_array().cloned().unwrap_or_default();
        if !items.is_empty() {
            check_rpc_responses(items, &replies, &request, &response)?;
        }
    }
    Ok(())
}

fn expected_rpc_status(case: &RpcCase) -> u16 {
    if case.key != KeyChoice::Valid {
        return 401;
    }
    let items = match &case.payload {
        RpcPayload::Raw(_) => return 400,
        RpcPayload::Single(item) => std::slice::from_ref(item),
        RpcPayload::Batch(items) if items.is_empty() => return 400,
        RpcPayload::Batch(items) => items.as_slice(),
    };
    if items.iter().any(|item| item.kind == ItemKind::Invalid) {
        400
    } else if items.iter().all(is_notification) {
        204
    } else {
        200
    }
}

fn is_notification(item: &RpcItem) -> bool {
    matches!(item.kind, ItemKind::Call { id: None, .. })
}

/// Checks that every request with an id, and every invalid request, has
/// exactly one response with the right id and a fitting result or error.
fn check_rpc_responses(
    items: &[RpcItem],
    replies: &[Value],
    request: &RecordedRequest,
    response: &RecordedResponse,
) -> Result<(), Failure> {
    let mut unmatched: Vec<&Value> = replies.iter().collect();
    for item in items {
        let (id, allowed_codes): (Value, &[i64]) = match &item.kind {
            ItemKind::Call { id: None, .. } => continue,
            ItemKind::Invalid => (invalid_request_id(&item.value), &[-32600]),
            ItemKind::Call { id: Some(id), call } => (id.clone(), allowed_codes(*call)),
        };
        let position = unmatched
            .iter()
            .position(|reply| reply["id"] == id && reply_fits(reply, allowed_codes, &item.kind));
        match position {
            Some(position) => {
                unmatched.remove(position);
            }
            None => {
                let message = format!(
                    "no response with id {id} and a fitting result or error code {allowed_codes:?} for {}",
                    item.value
                );
                return Err(failure("jsonrpc-responses", &message, request, response));
            }
        }
    }
    if let Some(extra) = unmatched.first() {
        let message = format!("a response answers no request: {extra}");
        return Err(failure("jsonrpc-responses", &message, request, response));
    }
    Ok(())
}

/// Returns the id of the response to an invalid request: its own id when that
/// is a string, a number or null, and null otherwise.
fn invalid_request_id(value: &Value) -> Value {
    match value.get("id") {
        Some(id @ (Value::String(_) | Value::Number(_))) => id.clone(),
        _ => Value::Null,
    }
}

fn allowed_codes(call: CallKind) -> &'static [i64] {
    match call {
        CallKind::Terminate => &[-32004, -32022],
        CallKind::BadParams => &[-32602],
        CallKind::UnknownMethod => &[-32601],
    }
}

fn reply_fits(reply: &Value, allowed_codes: &[i64], kind: &ItemKind) -> bool {
    let terminate = matches!(
        kind,
        ItemKind::Call {
            call: CallKind::Terminate,
            ..
        }
    );
    if let Some(result) = reply.get("result") {
        return terminate && result.is_u64();
    }
    reply["error"]["code"]
        .as_i64()
        .is_some_and(|code| allowed_codes.contains(&code))
}
