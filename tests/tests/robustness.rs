//! Robustness properties over raw TCP connections. Arbitrary bytes, mutated
//! requests and arbitrary JSON-RPC payloads never crash the mock and never
//! get a 5xx. Within a time bound, each gets either complete HTTP responses
//! in the documented bodies or a closed connection.
//!
//! Each exchange writes its bytes and then shuts down the write half of the
//! connection, so the server reads the end of the input at once instead of
//! waiting for more bytes until its read timeouts.

use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};

use mock_server::state::ClusterState;
use mock_server::{DEFAULT_API_KEY, Limits, MockApi};
use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use serde_json::{Map, Value, json};

/// Time within which the server must send its responses and close a
/// connection whose write half the client has shut down.
const EXCHANGE_TIMEOUT: Duration = Duration::from_secs(5);

/// Cases of each property: a few seconds in all in a debug build.
const CASES: u32 = 128;

const METHOD: &str = "system.services.active.mark_terminate";

/// A mock server on 127.0.0.1 served by its own tokio runtime, so that
/// blocking test code can talk to it over `std::net`. Its read timeouts
/// are short, as a bound for any exchange the client fails to end.
struct RawMock {
    address: SocketAddr,
    /// Kept for the server task; dropping it stops the server.
    _runtime: tokio::runtime::Runtime,
}

impl RawMock {
    fn start() -> Self {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("build a tokio runtime");
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .expect("bind an ephemeral loopback port");
        let address = listener.local_addr().expect("read the bound address");
        let api = MockApi::new(
            ClusterState::default_state(),
            vec![DEFAULT_API_KEY.to_string()],
        );
        let limits = Limits {
            header_read_timeout: Duration::from_secs(2),
            body_read_timeout: Duration::from_secs(2),
            shutdown_timeout: Duration::from_secs(1),
        };
        runtime.spawn(async move {
            let stopped =
                mock_server::serve_with(listener, Arc::new(api), limits, std::future::pending());
            stopped.await.expect("serve the mock");
        });
        RawMock {
            address,
            _runtime: runtime,
        }
    }

    /// Writes `bytes` on a new connection, shuts down the write half and
    /// returns everything the server sends until it closes the connection.
    fn exchange(&self, bytes: &[u8]) -> Result<Vec<u8>, String> {
        let started = Instant::now();
        let mut stream = TcpStream::connect_timeout(&self.address, EXCHANGE_TIMEOUT)
            .map_err(|error| format!("connecting failed: {error}"))?;
        stream
            .set_read_timeout(Some(EXCHANGE_TIMEOUT))
            .and_then(|()| stream.set_write_timeout(Some(EXCHANGE_TIMEOUT)))
            .map_err(|error| format!("setting socket timeouts failed: {error}"))?;
        // The server may answer and close before it has read every byte,
        // for example after a malformed request line, so a failed write
        // still leaves a response to read.
        let _ = stream.write_all(bytes);
        let _ = stream.shutdown(Shutdown::Write);

        let mut received = Vec::new();
        let mut buffer = [0; 16 * 1024];
        loop {
            if started.elapsed() > EXCHANGE_TIMEOUT {
                return Err(format!(
                    "the server neither finished nor closed within {EXCHANGE_TIMEOUT:?}; received {:?}",
                    String::from_utf8_lossy(&received)
                ));
            }
            match stream.read(&mut buffer) {
                Ok(0) => return Ok(received),
                Ok(count) => received.extend_from_slice(&buffer[..count]),
                // A reset after the server closed with unread input.
                Err(error) if error.kind() == ErrorKind::ConnectionReset => return Ok(received),
                Err(error) if error.kind() == ErrorKind::Interrupted => {}
                Err(error) => {
                    return Err(format!(
                        "reading the response failed after {:?}: {error}; received {:?}",
                        started.elapsed(),
                        String::from_utf8_lossy(&received)
                    ));
                }
            }
        }
    }

    /// Checks that the server still serves a valid request on a new
    /// connection: a terminate call on `backup`, which has no processes.
    fn assert_serving(&self) -> Result<(), TestCaseError> {
        let request = post(
            "/system/services/active/backup/terminate",
            br#"{"nodes_id": null}"#,
        );
        let received = self.exchange(&request).map_err(TestCaseError::fail)?;
        let responses = parse_responses(&received, false).map_err(TestCaseError::fail)?;
        let [response] = responses.as_slice() else {
            return Err(TestCaseError::fail(format!(
                "a valid request afterwards gets one response, not {:?}",
                String::from_utf8_lossy(&received)
            )));
        };
        prop_assert_eq!(response.status, 200, "a valid request afterwards");
        prop_assert_eq!(&response.body, b"0");
        Ok(())
    }
}

/// Builds a POST request with the API key and a JSON body, after which
/// the server may keep the connection open.
fn post(path: &str, body: &[u8]) -> Vec<u8> {
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Api-Key: {DEFAULT_API_KEY}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    let mut request = head.into_bytes();
    request.extend_from_slice(body);
    request
}

/// One HTTP response read from a connection.
struct Response {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl std::fmt::Debug for Response {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Response")
            .field("status", &self.status)
            .field("headers", &self.headers)
            .field("body", &String::from_utf8_lossy(&self.body))
            .finish()
    }
}

/// Returns `text` cut to its first 300 characters, for failure messages.
fn shorten(text: &str) -> String {
    match text.char_indices().nth(300) {
        Some((end, _)) => format!("{}... ({} bytes)", &text[..end], text.len()),
        None => text.to_string(),
    }
}

impl Response {
    fn header(&self, name: &str) -> Option<&str> {
        let mut headers = self.headers.iter();
        let found = headers.find(|(header, _)| header.eq_ignore_ascii_case(name));
        found.map(|(_, value)| value.as_str())
    }
}

/// Splits the bytes a server sent into complete responses, skipping
/// interim 1xx responses. Each response must have a `Content-Length`,
/// which every response of the mock has, except for 204 and 304. When
/// `head_possible` is set, a request of the input may have been a HEAD
/// request, whose response has no body, so a response followed directly
/// by another response, or by the end, gets an empty body.
fn parse_responses(bytes: &[u8], head_possible: bool) -> Result<Vec<Response>, String> {
    let mut responses = Vec::new();
    let mut rest = bytes;
    while !rest.is_empty() {
        let shown = || String::from_utf8_lossy(bytes).into_owned();
        let Some(end) = rest.windows(4).position(|window| window == b"\r\n\r\n") else {
            return Err(format!("an incomplete response head in {:?}", shown()));
        };
        let head = std::str::from_utf8(&rest[..end])
            .map_err(|_| format!("a response head that is not UTF-8 in {:?}", shown()))?;
        rest = &rest[end + 4..];
        let mut lines = head.split("\r\n");
        let status_line = lines.next().unwrap_or_default();
        let status = status_line
            .strip_prefix("HTTP/1.1 ")
            .or_else(|| status_line.strip_prefix("HTTP/1.0 "))
            .and_then(|status| status.get(..3)?.parse::<u16>().ok())
            .ok_or_else(|| format!("an invalid status line {status_line:?} in {:?}", shown()))?;
        let mut headers = Vec::new();
        for line in lines {
            let (name, value) = line
                .split_once(':')
                .ok_or_else(|| format!("an invalid header line {line:?} in {:?}", shown()))?;
            headers.push((name.trim().to_string(), value.trim().to_string()));
        }
        let mut response = Response {
            status,
            headers,
            body: Vec::new(),
        };
        if (100..200).contains(&status) {
            continue;
        }
        if status == 204 || status == 304 {
            responses.push(response);
            continue;
        }
        let length: usize = response
            .header("content-length")
            .and_then(|length| length.parse().ok())
            .ok_or_else(|| format!("a response without Content-Length in {:?}", shown()))?;
        let bodiless = head_possible && (rest.is_empty() || rest.starts_with(b"HTTP/1."));
        if !bodiless {
            if rest.len() < length {
                return Err(format!(
                    "a body shorter than its Content-Length {length} in {:?}",
                    shown()
                ));
            }
            response.body = rest[..length].to_vec();
            rest = &rest[length..];
        }
        responses.push(response);
    }
    Ok(responses)
}

/// Returns whether `body` is the documented REST error body: an object whose only
/// member `error` has a string `message` and an optional object `data`.
fn is_rest_error_body(body: &Value) -> bool {
    let Some(object) = body.as_object() else {
        return false;
    };
    let Some(error) = object.get("error").and_then(Value::as_object) else {
        return false;
    };
    let known = error.keys().all(|key| key == "message" || key == "data");
    let data_valid = error.get("data").is_none_or(Value::is_object);
    object.len() == 1 && known && error.get("message").is_some_and(Value::is_string) && data_valid
}

/// Returns what is wrong with a JSON-RPC response object, if anything:
/// `jsonrpc` "2.0", exactly one of `result` and `error`, an `id` that is a
/// string, a number or null, and an error with an integer `code` and a
/// string `message`.
fn rpc_response_problem(response: &Value) -> Option<String> {
    let Some(object) = response.as_object() else {
        return Some(format!("{response} is not a response object"));
    };
    let allowed = ["jsonrpc", "result", "error", "id"];
    if let Some(key) = object.keys().find(|key| !allowed.contains(&key.as_str())) {
        return Some(format!("{response} has the unknown member {key}"));
    }
    if object.get("jsonrpc") != Some(&json!("2.0")) {
        return Some(format!("{response} lacks \"jsonrpc\": \"2.0\""));
    }
    let id_valid = matches!(
        object.get("id"),
        Some(Value::Null | Value::String(_) | Value::Number(_))
    );
    if !id_valid {
        return Some(format!("{response} lacks a valid id"));
    }
    match (object.get("result"), object.get("error")) {
        (Some(_), None) => None,
        (None, Some(error)) => {
            let code_valid = error.get("code").is_some_and(Value::is_i64);
            let message_valid = error.get("message").is_some_and(Value::is_string);
            let known = error.as_object().is_some_and(|error| {
                let members = ["code", "message", "data"];
                error.keys().all(|key| members.contains(&key.as_str()))
            });
            (!(code_valid && message_valid && known))
                .then(|| format!("{response} has an invalid error object"))
        }
        _ => Some(format!("{response} needs exactly one of result and error")),
    }
}

/// Returns whether `body` is a JSON-RPC reply: one response object, or a
/// non-empty array of them.
fn is_rpc_reply(body: &Value) -> bool {
    match body {
        Value::Array(items) => {
            !items.is_empty()
                && items
                    .iter()
                    .all(|item| rpc_response_problem(item).is_none())
        }
        single => rpc_response_problem(single).is_none(),
    }
}

/// Checks every response to an arbitrary input: no 5xx, a JSON body in a
/// documented shape for every error, a JSON body or none for a success.
fn check_responses(responses: &[Response]) -> Result<(), TestCaseError> {
    for response in responses {
        let status = response.status;
        prop_assert!(status < 500, "a server error: {:?}", response);
        if response.body.is_empty() {
            // Only a 204, or the response to a HEAD request, is empty.
            prop_assert!(
                status == 204 || response.header("content-length") != Some("0"),
                "an empty body with status {}: {:?}",
                status,
                response
            );
            continue;
        }
        let body: Value = serde_json::from_slice(&response.body).map_err(|error| {
            TestCaseError::fail(format!("a body that is not JSON ({error}): {response:?}"))
        })?;
        prop_assert_eq!(
            response.header("content-type"),
            Some("application/json"),
            "content type of {:?}",
            response
        );
        if status >= 400 {
            prop_assert!(
                is_rest_error_body(&body) || is_rpc_reply(&body),
                "status {} has neither the documented error body nor a JSON-RPC reply: {}",
                status,
                body
            );
        }
    }
    Ok(())
}

/// Sends `input` raw and checks the exchange and that the server still
/// serves requests after it.
fn check_raw_input(mock: &RawMock, input: &[u8]) -> Result<(), TestCaseError> {
    let received = mock.exchange(input).map_err(TestCaseError::fail)?;
    let head_possible = input.windows(5).any(|window| window == b"HEAD ");
    let responses = parse_responses(&received, head_possible).map_err(TestCaseError::fail)?;
    check_responses(&responses)?;
    mock.assert_serving()
}

fn run_property<S: Strategy>(strategy: S, test: impl Fn(S::Value) -> Result<(), TestCaseError>)
where
    S::Value: std::fmt::Debug,
{
    let config = Config {
        cases: CASES,
        failure_persistence: None,
        ..Config::default()
    };
    let mut runner = TestRunner::new(config);
    if let Err(error) = runner.run(&strategy, test) {
        panic!("{error}");
    }
}

/// Bytes that look like HTTP now and then: a mix of request fragments and
/// arbitrary bytes.
fn http_like_bytes() -> impl Strategy<Value = Vec<u8>> {
    let fragment = prop_oneof![
        Just(b"GET ".to_vec()),
        Just(b"POST ".to_vec()),
        Just(b"HEAD ".to_vec()),
        Just(b"/jsonrpc".to_vec()),
        Just(b"/system/services/active/cron/terminate".to_vec()),
        Just(b" HTTP/1.1".to_vec()),
        Just(b" HTTP/1.0".to_vec()),
        Just(b"\r\n".to_vec()),
        Just(b"\r\n\r\n".to_vec()),
        Just(b"Host: x\r\n".to_vec()),
        Just(format!("X-Api-Key: {DEFAULT_API_KEY}\r\n").into_bytes()),
        Just(b"Content-Type: application/json\r\n".to_vec()),
        Just(b"Content-Length: ".to_vec()),
        Just(b"Transfer-Encoding: chunked\r\n".to_vec()),
        Just(b"Connection: keep-alive\r\n".to_vec()),
        Just(b"Expect: 100-continue\r\n".to_vec()),
        "[0-9]{1,6}".prop_map(String::into_bytes),
        Just(br#"{"nodes_id": null}"#.to_vec()),
        Just(br#"{"jsonrpc": "2.0", "method": "x", "id": 1}"#.to_vec()),
        proptest::collection::vec(any::<u8>(), 1..16),
    ];
    proptest::collection::vec(fragment, 0..24).prop_map(|parts| parts.concat())
}

#[test]
fn raw_bytes_never_crash_server() {
    let mock = RawMock::start();
    let input = prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..1024),
        http_like_bytes(),
    ];
    run_property(input, |bytes| check_raw_input(&mock, &bytes));
}

/// A change to a valid request's bytes.
#[derive(Debug, Clone)]
enum Mutation {
    FlipByte(Index, u8),
    Insert(Index, Vec<u8>),
    Delete(Index, usize),
    Truncate(Index),
    /// Sends the bytes twice, as pipelined requests.
    Repeat,
    /// Replaces each `\r\n` with `\n`.
    BareNewlines,
    /// Replaces the value of the first `Content-Length` header.
    ContentLength(String),
    /// Appends bytes after the request, as a pipelined request would be.
    Append(Vec<u8>),
}

impl Mutation {
    fn apply(&self, bytes: &mut Vec<u8>) {
        match self {
            Mutation::FlipByte(index, mask) if !bytes.is_empty() => {
                let position = index.index(bytes.len());
                bytes[position] ^= (*mask).max(1);
            }
            Mutation::Insert(index, inserted) => {
                let position = index.index(bytes.len() + 1);
                bytes.splice(position..position, inserted.iter().copied());
            }
            Mutation::Delete(index, count) if !bytes.is_empty() => {
                let start = index.index(bytes.len());
                let end = (start + count).min(bytes.len());
                bytes.drain(start..end);
            }
            Mutation::Truncate(index) => {
                let length = index.index(bytes.len() + 1);
                bytes.truncate(length);
            }
            Mutation::Repeat => bytes.extend_from_within(..),
            Mutation::BareNewlines => {
                let text = String::from_utf8_lossy(bytes).replace("\r\n", "\n");
                *bytes = text.into_bytes();
            }
            Mutation::ContentLength(value) => {
                let text = String::from_utf8_lossy(bytes);
                let Some(start) = text.find("Content-Length: ") else {
                    return;
                };
                let start = start + "Content-Length: ".len();
                let end = text[start..]
                    .find("\r\n")
                    .map_or(text.len(), |end| start + end);
                let replaced = format!("{}{value}{}", &text[..start], &text[end..]);
                *bytes = replaced.into_bytes();
            }
            Mutation::Append(appended) => bytes.extend_from_slice(appended),
            Mutation::FlipByte(..) | Mutation::Delete(..) => {}
        }
    }
}

/// Valid requests to mutate: REST, a JSON-RPC batch, a chunked JSON-RPC
/// call, and an HTTP/1.0 keep-alive request, after which a server reads
/// further requests on the same connection.
fn valid_requests() -> Vec<Vec<u8>> {
    let rest = post(
        "/system/services/active/web_server/terminate",
        br#"{"nodes_id": "node-2"}"#,
    );
    let batch = json!([
        {"jsonrpc": "2.0", "method": METHOD, "params": ["cron", "node-1"], "id": 1},
        {"jsonrpc": "2.0", "method": METHOD, "params": {"system_services_id": "backup"}},
    ]);
    let rpc = post("/jsonrpc", batch.to_string().as_bytes());
    let call = json!({"jsonrpc": "2.0", "method": METHOD, "params": ["mail_queue"], "id": "c"});
    let call = call.to_string();
    let chunked = format!(
        "POST /jsonrpc HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Api-Key: {DEFAULT_API_KEY}\r\n\
         Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n\
         {:x}\r\n{call}\r\n0\r\n\r\n",
        call.len()
    );
    let http10 = format!(
        "POST /system/services/active/cron/terminate HTTP/1.0\r\nConnection: keep-alive\r\n\
         X-Api-Key: {DEFAULT_API_KEY}\r\nContent-Type: application/json\r\n\
         Content-Length: 2\r\n\r\n{{}}"
    );
    vec![rest, rpc, chunked.into_bytes(), http10.into_bytes()]
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let bytes = proptest::collection::vec(any::<u8>(), 1..32);
    prop_oneof![
        3 => (any::<Index>(), any::<u8>()).prop_map(|(index, mask)| Mutation::FlipByte(index, mask)),
        2 => (any::<Index>(), bytes.clone()).prop_map(|(index, bytes)| Mutation::Insert(index, bytes)),
        2 => (any::<Index>(), 1..64usize).prop_map(|(index, count)| Mutation::Delete(index, count)),
        1 => any::<Index>().prop_map(Mutation::Truncate),
        1 => Just(Mutation::Repeat),
        1 => Just(Mutation::BareNewlines),
        2 => prop_oneof![
            "[0-9]{1,20}",
            Just("-1".to_string()),
            Just("1, 2".to_string()),
            "[ -~]{0,8}",
        ]
        .prop_map(Mutation::ContentLength),
        2 => bytes.prop_map(Mutation::Append),
    ]
}

#[test]
fn mutated_requests_never_crash_server() {
    let mock = RawMock::start();
    let requests = valid_requests();
    let case = (
        0..requests.len(),
        proptest::collection::vec(mutation(), 1..4),
    );
    run_property(case, |(request, mutations)| {
        let mut bytes = requests[request].clone();
        for mutation in &mutations {
            mutation.apply(&mut bytes);
        }
        check_raw_input(&mock, &bytes)
    });
}

#[test]
fn valid_requests_get_one_response_each() {
    // The unmutated requests of `mutated_requests_never_crash_server`: each
    // gets exactly one response, which shows that the property starts from
    // requests the server accepts.
    let mock = RawMock::start();
    for request in valid_requests() {
        let shown = String::from_utf8_lossy(&request).into_owned();
        let received = mock
            .exchange(&request)
            .expect("an exchange within the time limit");
        let responses = parse_responses(&received, false).expect("complete responses");
        let statuses: Vec<u16> = responses.iter().map(|response| response.status).collect();
        assert_eq!(statuses, [200], "{shown}");
    }
}

/// Any JSON value, nested at most four levels deep.
fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |number| number.is_finite())
            .prop_map(Value::from),
        ".{0,12}".prop_map(Value::from),
        Just(json!("2.0")),
        Just(json!(METHOD)),
    ];
    leaf.prop_recursive(4, 48, 5, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..5).prop_map(Value::from),
            proptest::collection::btree_map(".{0,8}", inner, 0..5)
                .prop_map(|map| Value::Object(map.into_iter().collect())),
        ]
    })
}

/// Generates a request object that is often valid: each member is present or not,
/// with a valid value or an arbitrary one, and now and then an unknown
/// member.
fn request_object() -> impl Strategy<Value = Value> {
    let jsonrpc = prop_oneof![4 => Just(json!("2.0")), 1 => any_json()];
    let method = prop_oneof![
        3 => Just(json!(METHOD)),
        1 => Just(json!("rpc.discover")),
        1 => ".{0,12}".prop_map(Value::from),
        1 => any_json(),
    ];
    let service = prop_oneof![
        Just(json!("cron")),
        Just(json!("mailer")),
        Just(json!("tasks_scheduler")),
        Just(json!("")),
        any_json(),
    ];
    let node = prop_oneof![
        Just(Value::Null),
        Just(json!("node-2")),
        Just(json!("node-9")),
        any_json(),
    ];
    let params = prop_oneof![
        2 => (service.clone(), node.clone()).prop_map(|(service, node)| {
            json!({"system_services_id": service, "nodes_id": node})
        }),
        2 => (service, node).prop_map(|(service, node)| json!([service, node])),
        1 => any_json(),
    ];
    let id = prop_oneof![
        any::<i64>().prop_map(Value::from),
        ".{0,8}".prop_map(Value::from),
        Just(Value::Null),
        any_json(),
    ];
    let unknown = (".{1,8}", any_json());
    (
        proptest::option::weighted(0.9, jsonrpc),
        proptest::option::weighted(0.9, method),
        proptest::option::weighted(0.8, params),
        proptest::option::weighted(0.7, id),
        proptest::option::weighted(0.1, unknown),
    )
        .prop_map(|(jsonrpc, method, params, id, unknown)| {
            let mut object = Map::new();
            let members = [
                ("jsonrpc", jsonrpc),
                ("method", method),
                ("params", params),
                ("id", id),
            ];
            for (name, value) in members {
                if let Some(value) = value {
                    object.insert(name.to_string(), value);
                }
            }
            if let Some((name, value)) = unknown {
                object.insert(name, value);
            }
            Value::Object(object)
        })
}

fn rpc_payload() -> impl Strategy<Value = Value> {
    let item = prop_oneof![4 => request_object(), 1 => any_json()];
    prop_oneof![
        3 => request_object(),
        2 => any_json(),
        3 => proptest::collection::vec(item, 0..8).prop_map(Value::Array),
        1 => proptest::collection::vec(request_object(), 99..103).prop_map(Value::Array),
    ]
}

/// Returns whether `item` follows the envelope rules of a request object.
fn is_valid_request(item: &Value) -> bool {
    let Some(object) = item.as_object() else {
        return false;
    };
    let members = ["jsonrpc", "method", "params", "id"];
    object.keys().all(|key| members.contains(&key.as_str()))
        && object.get("jsonrpc") == Some(&json!("2.0"))
        && object.get("method").is_some_and(Value::is_string)
        && matches!(
            object.get("params"),
            None | Some(Value::Object(_) | Value::Array(_))
        )
        && matches!(
            object.get("id"),
            None | Some(Value::Null | Value::String(_) | Value::Number(_))
        )
}

fn is_notification(item: &Value) -> bool {
    is_valid_request(item) && item.get("id").is_none()
}

/// Checks the response to one request object of a payload.
fn check_rpc_item(item: &Value, response: &Value) -> Result<(), TestCaseError> {
    if let Some(problem) = rpc_response_problem(response) {
        return Err(TestCaseError::fail(problem));
    }
    let code = response["error"]["code"].as_i64();
    if !is_valid_request(item) {
        prop_assert_eq!(
            code,
            Some(-32600),
            "an invalid request object: {}",
            response
        );
        return Ok(());
    }
    prop_assert_eq!(&response["id"], &item["id"], "the id is echoed");
    let allowed: &[i64] = match item["method"].as_str() {
        Some(METHOD) => &[-32602, -32004, -32022],
        Some("rpc.discover") => &[-32602],
        _ => &[-32601],
    };
    if let Some(code) = code {
        prop_assert!(
            allowed.contains(&code),
            "code {} for {}: {}",
            code,
            item,
            response
        );
    } else {
        prop_assert!(
            !allowed.contains(&-32601),
            "an unknown method has a result: {}",
            response
        );
    }
    Ok(())
}

/// Checks the response to a payload against the envelope rules.
fn check_rpc_payload(payload: &Value, status: u16, body: &[u8]) -> Result<(), TestCaseError> {
    let items: Vec<&Value> = match payload {
        Value::Array(items) => items.iter().collect(),
        single => vec![single],
    };
    let batch_rejected = payload.is_array()
        && (items.is_empty() || items.len() > system_services_server::MAX_BATCH_LEN);
    let invalid = items.iter().any(|item| !is_valid_request(item));
    let expected = if batch_rejected || invalid {
        400
    } else if items.iter().all(|item| is_notification(item)) {
        204
    } else {
        200
    };
    prop_assert_eq!(
        status,
        expected,
        "status of the reply {}",
        shorten(&String::from_utf8_lossy(body))
    );
    if status == 204 {
        prop_assert!(body.is_empty(), "a 204 has no body");
        return Ok(());
    }
    let reply: Value = serde_json::from_slice(body)
        .map_err(|error| TestCaseError::fail(format!("a reply that is not JSON: {error}")))?;

    if batch_rejected {
        prop_assert!(rpc_response_problem(&reply).is_none(), "{}", reply);
        prop_assert_eq!(reply["error"]["code"].as_i64(), Some(-32600));
        prop_assert_eq!(&reply["id"], &Value::Null);
        return Ok(());
    }
    let Value::Array(_) = payload else {
        return check_rpc_item(payload, &reply);
    };
    let Value::Array(responses) = &reply else {
        return Err(TestCaseError::fail(format!(
            "a batch gets an array: {reply}"
        )));
    };
    // Responses follow the order of the requests that get one.
    let answered: Vec<&Value> = items
        .into_iter()
        .filter(|item| !is_notification(item))
        .collect();
    prop_assert_eq!(responses.len(), answered.len(), "responses of {}", reply);
    for (item, response) in answered.into_iter().zip(responses) {
        check_rpc_item(item, response)?;
    }
    Ok(())
}

#[test]
fn jsonrpc_payloads_get_envelope() {
    let mock = RawMock::start();
    run_property(rpc_payload(), |payload| {
        let body = payload.to_string();
        let request = post("/jsonrpc", body.as_bytes());
        let received = mock.exchange(&request).map_err(TestCaseError::fail)?;
        let responses = parse_responses(&received, false).map_err(TestCaseError::fail)?;
        let [response] = responses.as_slice() else {
            return Err(TestCaseError::fail(format!(
                "one response, not {:?}",
                String::from_utf8_lossy(&received)
            )));
        };
        prop_assert!(
            [200, 204, 400].contains(&response.status),
            "status {} for {}: {:?}",
            response.status,
            shorten(&body),
            response
        );
        check_rpc_payload(&payload, response.status, &response.body)
    });
}

#[test]
fn half_closed_requests_get_responses() {
    // A client may shut down its write half right after a request and then
    // wait for the response, as `nc -N` does.
    let mock = RawMock::start();
    let request = post("/system/services/active/backup/terminate", b"{}");
    for attempt in 0..200 {
        let received = mock
            .exchange(&request)
            .expect("an exchange within the time limit");
        let responses = parse_responses(&received, false).expect("complete responses");
        let statuses: Vec<u16> = responses.iter().map(|response| response.status).collect();
        assert_eq!(statuses, [200], "attempt {attempt}");
    }
}

#[test]
fn http10_protocol_error_has_json_body() {
    // After an HTTP/1.0 keep-alive request, hyper writes its own protocol
    // error response with an HTTP/1.0 status line.
    let mock = RawMock::start();
    let request =
        b"GET /unknown HTTP/1.0\r\nConnection: keep-alive\r\n\r\n\x7fnot a request\r\n\r\n";
    let received = mock.exchange(request).expect("an exchange");
    let responses = parse_responses(&received, false).expect("complete responses");
    let statuses: Vec<u16> = responses.iter().map(|response| response.status).collect();
    assert_eq!(statuses, [404, 400]);
    let body: Value = serde_json::from_slice(&responses[1].body).expect("a JSON body");
    assert!(is_rest_error_body(&body), "{body}");
    assert!(body["error"]["data"]["request"].is_string(), "{body}");
}

#[test]
fn unread_body_response_closes_connection() {
    // The server sends these responses before it reads the body, and then
    // closes the connection instead of reading the rest.
    let mock = RawMock::start();
    let large = vec![b' '; 70 * 1024];
    let cases: [(&str, &[u8], u16); 4] = [
        ("/unknown", b"{}", 404),
        ("/jsonrpc", &large, 413),
        ("/system/services/active/cron/terminate", &large, 413),
        ("/system/services/active/mailer/terminate", &large, 413),
    ];
    for (path, body, status) in cases {
        let received = mock.exchange(&post(path, body)).expect("an exchange");
        let responses = parse_responses(&received, false).expect("complete responses");
        let [response] = responses.as_slice() else {
            panic!("one response to POST {path}, not {responses:?}");
        };
        assert_eq!(response.status, status, "POST {path}");
        assert_eq!(response.header("connection"), Some("close"), "POST {path}");
    }

    // A body the handler reads keeps the connection open.
    let request = post("/system/services/active/backup/terminate", b"{}");
    let received = mock.exchange(&request).expect("an exchange");
    let responses = parse_responses(&received, false).expect("complete responses");
    assert_eq!(responses.len(), 1, "{responses:?}");
    assert_eq!(responses[0].header("connection"), None);
}

#[test]
fn client_reuses_connection_after_early_error() {
    // A keep-alive client sends its next request on the same connection
    // unless the response has `Connection: close`. Here each request is
    // rejected before the server reads its 70 KiB body, then a valid
    // request follows.
    let mock = RawMock::start();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("build a tokio runtime");
    runtime.block_on(async {
        let client = reqwest::Client::new();
        let base_url = format!("http://{}", mock.address);
        let rejected = [("/unknown", 404), ("/jsonrpc", 401), ("/jsonrpc", 405)];
        for attempt in 0..5 {
            for (path, status) in rejected {
                let method = if status == 405 {
                    reqwest::Method::PUT
                } else {
                    reqwest::Method::POST
                };
                let response = client
                    .request(method, format!("{base_url}{path}"))
                    .header("Content-Type", "application/json")
                    .body(vec![b' '; 70 * 1024])
                    .send()
                    .await
                    .unwrap_or_else(|error| {
                        panic!("attempt {attempt}: the {status} of {path} arrives: {error:?}")
                    });
                assert_eq!(response.status(), status, "attempt {attempt}: {path}");
            }
            let next = client
                .post(format!(
                    "{base_url}/system/services/active/backup/terminate"
                ))
                .header("X-Api-Key", DEFAULT_API_KEY)
                .json(&json!({}))
                .send()
                .await
                .unwrap_or_else(|error| {
                    panic!("attempt {attempt}: the next request succeeds: {error:?}")
                });
            assert_eq!(next.status(), 200, "attempt {attempt}");
        }
    });
}

#[test]
fn truncated_body_is_bad_request() {
    // A body that ends before its Content-Length is malformed, not too large.
    let mock = RawMock::start();
    let request = format!(
        "POST /system/services/active/cron/terminate HTTP/1.1\r\nHost: x\r\n\
         X-Api-Key: {DEFAULT_API_KEY}\r\nContent-Type: application/json\r\n\
         Content-Length: 20\r\n\r\n{{}}"
    );
    let received = mock.exchange(request.as_bytes()).expect("an exchange");
    let responses = parse_responses(&received, false).expect("complete responses");
    let statuses: Vec<u16> = responses.iter().map(|response| response.status).collect();
    assert_eq!(statuses, [400]);
}
