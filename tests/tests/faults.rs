//! Fault injection over a real socket: documented error responses, counts,
//! rates and seeds, latency, dropped connections and JSON-RPC errors.

mod chunked;

use std::time::{Duration, Instant};

use contract_tests::MockServer;
use mock_server::faults::{AddError, FaultMatch, FaultSpec, Faults, Latency};
use mock_server::journal::JournalFilter;
use mock_server::state::ClusterState;
use mock_server::{DEFAULT_API_KEY, MockApi};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const METHOD: &str = "system.services.active.mark_terminate";

/// A service without active processes, so that a terminate call changes
/// nothing and returns 0 each time.
const IDLE_PATH: &str = "/system/services/active/backup/terminate";

async fn start(seed: u64) -> MockServer {
    let api = MockApi::new(ClusterState::default_state(), vec![DEFAULT_API_KEY.into()])
        .with_faults(Faults::new(seed));
    MockServer::start_with_api(api).await
}

fn add(mock: &MockServer, spec: FaultSpec) -> String {
    mock.api.faults().add(None, spec).expect("a valid fault").id
}

fn status_fault(status: i64) -> FaultSpec {
    FaultSpec {
        status: Some(status),
        ..FaultSpec::default()
    }
}

/// Posts `body` to `path` with the default key; returns the status and the
/// parsed body.
async fn post(mock: &MockServer, path: &str, body: &Value) -> (u16, Value) {
    let response = reqwest::Client::new()
        .post(format!("{}{path}", mock.base_url()))
        .header("X-Api-Key", DEFAULT_API_KEY)
        .json(body)
        .send()
        .await
        .expect("the mock answers");
    let status = response.status().as_u16();
    let body = response.json().await.expect("a JSON body");
    (status, body)
}

async fn terminate_idle(mock: &MockServer) -> u16 {
    post(mock, IDLE_PATH, &json!({})).await.0
}

#[tokio::test]
async fn status_fault_on_other_method_keeps_allow() {
    let mock = start(1).await;
    add(&mock, status_fault(500));
    let client = reqwest::Client::new();
    for (method, allow) in [
        (reqwest::Method::GET, Some("POST")),
        (reqwest::Method::DELETE, Some("POST")),
        (reqwest::Method::POST, None),
    ] {
        let response = client
            .request(method.clone(), format!("{}{IDLE_PATH}", mock.base_url()))
            .header("X-Api-Key", DEFAULT_API_KEY)
            .json(&json!({}))
            .send()
            .await
            .expect("the mock answers");
        assert_eq!(response.status().as_u16(), 500, "{method}");
        let header = response.headers().get("allow");
        let header = header.map(|value| value.to_str().expect("an ASCII header"));
        assert_eq!(header, allow, "{method}");
    }
}

#[tokio::test]
async fn status_fault_applies_count_times() {
    let mock = start(1).await;
    let id = add(
        &mock,
        FaultSpec {
            count: Some(2),
            ..status_fault(500)
        },
    );

    for _ in 0..2 {
        let (status, body) =
            post(&mock, "/system/services/active/cron/terminate", &json!({})).await;
        assert_eq!(status, 500);
        assert_eq!(body["error"]["message"], "An unexpected error occurred");
    }
    let (status, body) = post(&mock, "/system/services/active/cron/terminate", &json!({})).await;
    assert_eq!((status, body), (200, json!(2)));
    assert!(mock.api.faults().list(None).is_empty());

    let journal = mock.api.journal().list(None, &JournalFilter::default());
    let faults: Vec<Option<&str>> = journal
        .entries
        .iter()
        .map(|entry| entry.fault.as_deref())
        .collect();
    assert_eq!(faults, [Some(id.as_str()), Some(id.as_str()), None]);
    assert_eq!(journal.entries[0].status, 500);
}

#[tokio::test]
async fn status_fault_sends_documented_example() {
    let mock = start(1).await;
    add(&mock, status_fault(404));
    let (status, body) = post(&mock, IDLE_PATH, &json!({})).await;
    assert_eq!(status, 404);
    assert_eq!(body["error"]["data"]["object_id"], "mailer");
    let fault = &mock.api.faults().list(None)[0];
    assert_eq!(fault.applied, 1);
    assert_eq!(fault.remaining, None);
}

#[tokio::test]
async fn rate_zero_never_applies() {
    let mock = start(1).await;
    add(
        &mock,
        FaultSpec {
            rate: Some(0.0),
            ..status_fault(500)
        },
    );
    for _ in 0..20 {
        assert_eq!(terminate_idle(&mock).await, 200);
    }
    assert_eq!(mock.api.faults().list(None)[0].applied, 0);
}

#[tokio::test]
async fn rate_one_always_applies() {
    let mock = start(1).await;
    add(
        &mock,
        FaultSpec {
            rate: Some(1.0),
            ..status_fault(422)
        },
    );
    for _ in 0..20 {
        assert_eq!(terminate_idle(&mock).await, 422);
    }
    assert_eq!(mock.api.faults().list(None)[0].applied, 20);
}

/// Returns the statuses of 40 requests to a mock seeded with `seed` with a
/// 500 fault at rate one half.
async fn half_rate_statuses(seed: u64) -> Vec<u16> {
    let mock = start(seed).await;
    add(
        &mock,
        FaultSpec {
            rate: Some(0.5),
            ..status_fault(500)
        },
    );
    let mut statuses = Vec::new();
    for _ in 0..40 {
        statuses.push(terminate_idle(&mock).await);
    }
    statuses
}

#[tokio::test]
async fn same_seed_repeats_sequence() {
    let first = half_rate_statuses(42).await;
    let second = half_rate_statuses(42).await;
    assert_eq!(first, second);
    assert!(first.contains(&200), "{first:?}");
    assert!(first.contains(&500), "{first:?}");
}

#[tokio::test]
async fn fault_passed_over_leaves_request_to_next() {
    let mock = start(7).await;
    add(
        &mock,
        FaultSpec {
            rate: Some(0.0),
            ..status_fault(500)
        },
    );
    add(&mock, status_fault(401));
    assert_eq!(terminate_idle(&mock).await, 401);
}

#[tokio::test]
async fn latency_delays_at_least_min() {
    let mock = start(1).await;
    add(
        &mock,
        FaultSpec {
            latency_ms: Some(Latency {
                min: 300,
                max: Some(350),
            }),
            ..FaultSpec::default()
        },
    );
    let started = Instant::now();
    let (status, body) = post(&mock, IDLE_PATH, &json!({})).await;
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert_eq!((status, body), (200, json!(0)));
}

#[tokio::test]
async fn latency_delays_status_fault() {
    let mock = start(1).await;
    add(
        &mock,
        FaultSpec {
            latency_ms: Some(Latency {
                min: 200,
                max: None,
            }),
            ..status_fault(422)
        },
    );
    let started = Instant::now();
    let (status, body) = post(&mock, IDLE_PATH, &json!({})).await;
    assert!(started.elapsed() >= Duration::from_millis(200));
    assert_eq!(status, 422);
    let code = &body["error"]["data"]["code"];
    assert_eq!(code, "system_services-scheduler-self-terminate");
}

/// Sends a terminate request on a raw connection and returns what the
/// server sent until it closed the connection.
async fn raw_exchange(mock: &MockServer) -> Vec<u8> {
    let mut stream = tokio::net::TcpStream::connect(mock.address)
        .await
        .expect("connect to the mock");
    let request = format!(
        "POST {IDLE_PATH} HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Api-Key: {DEFAULT_API_KEY}\r\n\
         Content-Type: application/json\r\nContent-Length: 2\r\n\r\n{{}}"
    );
    stream
        .write_all(request.as_bytes())
        .await
        .expect("send the request");
    let mut received = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut received))
        .await
        .expect("the server closes the connection");
    if let Err(error) = read {
        assert_eq!(error.kind(), std::io::ErrorKind::ConnectionReset, "{error}");
    }
    received
}

#[tokio::test]
async fn drop_connection_closes_without_response() {
    let mock = start(1).await;
    let id = add(
        &mock,
        FaultSpec {
            drop_connection: Some(true),
            count: Some(2),
            ..FaultSpec::default()
        },
    );
    let received = raw_exchange(&mock).await;
    assert!(
        received.is_empty(),
        "{}",
        String::from_utf8_lossy(&received)
    );

    let error = reqwest::Client::new()
        .post(format!("{}{IDLE_PATH}", mock.base_url()))
        .header("X-Api-Key", DEFAULT_API_KEY)
        .json(&json!({}))
        .send()
        .await
        .expect_err("no response");
    assert!(error.status().is_none(), "{error}");

    assert_eq!(terminate_idle(&mock).await, 200);
    let journal = mock.api.journal().list(None, &JournalFilter::default());
    assert_eq!(journal.entries[0].fault.as_deref(), Some(id.as_str()));
    assert_eq!(journal.entries[0].status, 444);
}

#[tokio::test]
async fn jsonrpc_gets_mapped_error_code() {
    let mock = start(1).await;
    add(&mock, status_fault(404));
    let call = json!({"jsonrpc": "2.0", "method": METHOD, "params": ["backup"], "id": "abc"});
    let (status, body) = post(&mock, "/jsonrpc", &call).await;
    assert_eq!(status, 200);
    assert_eq!(body["id"], "abc");
    assert_eq!(body["error"]["code"], -32004);
    assert_eq!(body["error"]["data"]["object_name"], "system_services");

    let notification = json!({"jsonrpc": "2.0", "method": METHOD, "params": ["backup"]});
    let batch = json!([call, notification, {"jsonrpc": "2.0", "method": METHOD, "id": 7}]);
    let (status, body) = post(&mock, "/jsonrpc", &batch).await;
    assert_eq!(status, 200);
    let ids: Vec<&Value> = body
        .as_array()
        .expect("a batch response")
        .iter()
        .map(|response| &response["id"])
        .collect();
    assert_eq!(ids, [&json!("abc"), &json!(7)]);
    assert_eq!(body[1]["error"]["code"], -32004);

    let journal = mock.api.journal().list(None, &JournalFilter::default());
    assert_eq!(journal.entries[1].rpc_methods, [METHOD, METHOD, METHOD]);
}

#[tokio::test]
async fn jsonrpc_status_codes_follow_spec() {
    let mock = start(1).await;
    let call = json!({"jsonrpc": "2.0", "method": METHOD, "params": ["backup"], "id": 1});
    for (status, code) in [(401, -32001), (422, -32022), (500, -32603), (400, -32602)] {
        let id = add(&mock, status_fault(status));
        let (_, body) = post(&mock, "/jsonrpc", &call).await;
        assert_eq!(body["error"]["code"], code, "status {status}: {body}");
        assert!(mock.api.faults().remove(None, &id));
    }
}

#[tokio::test]
async fn rpc_method_match_reads_body() {
    let mock = start(1).await;
    let only = |method: &str| FaultSpec {
        matches: Some(FaultMatch {
            rpc_method: Some(method.into()),
            ..FaultMatch::default()
        }),
        ..status_fault(500)
    };
    add(&mock, only("other.method"));
    let call = json!({"jsonrpc": "2.0", "method": METHOD, "params": ["cron"], "id": 1});
    let (status, body) = post(&mock, "/jsonrpc", &call).await;
    assert_eq!((status, &body["result"]), (200, &json!(2)));

    add(&mock, only(METHOD));
    let (_, body) = post(&mock, "/jsonrpc", &call).await;
    assert_eq!(body["error"]["code"], -32603, "{body}");
    assert_eq!(terminate_idle(&mock).await, 200);
}

#[tokio::test]
async fn match_selects_method_and_path() {
    let mock = start(1).await;
    add(
        &mock,
        FaultSpec {
            matches: Some(FaultMatch {
                method: Some("POST".into()),
                path: Some("/jsonrpc".into()),
                ..FaultMatch::default()
            }),
            ..status_fault(500)
        },
    );
    assert_eq!(terminate_idle(&mock).await, 200);
    let call = json!({"jsonrpc": "2.0", "method": METHOD, "params": ["backup"], "id": 1});
    let (_, body) = post(&mock, "/jsonrpc", &call).await;
    assert_eq!(body["error"]["code"], -32603);
}

#[tokio::test]
async fn spec_documents_are_not_faulted() {
    let mock = start(1).await;
    add(&mock, status_fault(500));
    let response = reqwest::get(format!("{}/openapi.yaml", mock.base_url()))
        .await
        .expect("the mock answers");
    assert_eq!(response.status().as_u16(), 200);
    assert_eq!(mock.api.faults().list(None)[0].applied, 0);
}

#[tokio::test]
async fn session_faults_stay_in_session() {
    let mock = start(1).await;
    mock.api
        .sessions()
        .get(Some("s1"))
        .expect("start a session");
    let faults = mock.api.faults();
    faults
        .add(Some("s1"), status_fault(500))
        .expect("a valid fault");
    let in_session = |session: &'static str| {
        reqwest::Client::new()
            .post(format!("{}{IDLE_PATH}", mock.base_url()))
            .header("X-Api-Key", DEFAULT_API_KEY)
            .header("X-Mock-Session", session)
            .json(&json!({}))
            .send()
    };
    let faulted = in_session("s1").await.expect("the mock answers");
    assert_eq!(faulted.status().as_u16(), 500);
    let other = in_session("s2").await.expect("the mock answers");
    assert_eq!(other.status().as_u16(), 200);
    assert_eq!(terminate_idle(&mock).await, 200);

    assert!(mock.api.sessions().remove("s1"));
    assert!(faults.list(Some("s1")).is_empty());
    let ended = faults.add(Some("s1"), status_fault(500));
    assert!(ended.is_err());
}

#[tokio::test]
async fn invalid_specs_name_fields() {
    let faults = Faults::new(1);
    let cases = [
        (FaultSpec::default(), "body"),
        (status_fault(418), "status"),
        (
            FaultSpec {
                drop_connection: Some(true),
                ..status_fault(500)
            },
            "drop_connection",
        ),
        (
            FaultSpec {
                latency_ms: Some(Latency {
                    min: 10,
                    max: Some(5),
                }),
                ..FaultSpec::default()
            },
            "latency_ms.max",
        ),
        (
            FaultSpec {
                latency_ms: Some(Latency {
                    min: 60_001,
                    max: None,
                }),
                ..FaultSpec::default()
            },
            "latency_ms.min",
        ),
        (
            FaultSpec {
                count: Some(0),
                ..status_fault(500)
            },
            "count",
        ),
        (
            FaultSpec {
                rate: Some(-0.1),
                ..status_fault(500)
            },
            "rate",
        ),
    ];
    for (spec, field) in cases {
        let Err(AddError::Invalid(errors)) = faults.add(None, spec.clone()) else {
            panic!("expected an invalid fault: {spec:?}");
        };
        assert!(errors.contains_key(field), "{spec:?}: {errors:?}");
    }
    assert!(faults.list(None).is_empty());
}

#[tokio::test]
async fn fault_request_decodes_control_example() {
    let example = json!({"drop_connection": true, "rate": 0.1, "match": {"path": "/jsonrpc"}});
    let spec: FaultSpec = serde_json::from_value(example.clone()).expect("decode the example");
    let fault = Faults::new(1).add(None, spec).expect("a valid fault");
    let value = serde_json::to_value(&fault).expect("serialise the fault");
    assert_eq!(value["fault"], example);
    assert_eq!(value["applied"], 0);
    assert_eq!(value["remaining"], Value::Null);
    let unknown = serde_json::from_value::<FaultSpec>(json!({"status": 500, "x": 1}));
    assert!(unknown.is_err());
}

#[tokio::test]
async fn control_api_names_invalid_fields() {
    let mock = start(1).await;
    let cases = [
        (json!({}), "body"),
        (
            json!({"status": 500, "drop_connection": true}),
            "drop_connection",
        ),
        (
            json!({"latency_ms": {"min": 300, "max": 200}}),
            "latency_ms.max",
        ),
        (json!({"latency_ms": {"min": 70000}}), "latency_ms.min"),
        (json!({"rate": 1.5, "status": 500}), "rate"),
        (
            json!({"match": {"path": "jsonrpc"}, "status": 500}),
            "match.path",
        ),
        (json!({"status": 418}), "status"),
    ];
    for (body, field) in cases {
        let (status, response) = post(&mock, "/__mock/faults", &body).await;
        assert_eq!(status, 400, "{body}: {response}");
        let data = &response["error"]["data"];
        assert!(data[field].is_string(), "{body}: {response}");
    }
    let (status, response) = post(
        &mock,
        "/__mock/faults",
        &json!({"latency_ms": {"min": 70000}}),
    )
    .await;
    assert_eq!(status, 400);
    assert!(
        response["error"]["data"].get("latency_ms.max").is_none(),
        "{response}"
    );

    let listed = reqwest::get(format!("{}/__mock/faults", mock.base_url()))
        .await
        .expect("the mock answers");
    assert_eq!(
        listed.json::<Value>().await.expect("a JSON body"),
        json!([])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn count_holds_under_parallel_requests() {
    let mock = start(1).await;
    add(
        &mock,
        FaultSpec {
            count: Some(5),
            ..status_fault(500)
        },
    );
    let mock = std::sync::Arc::new(mock);
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..40 {
        let mock = mock.clone();
        tasks.spawn(async move { terminate_idle(&mock).await });
    }
    let mut statuses = Vec::new();
    while let Some(status) = tasks.join_next().await {
        statuses.push(status.expect("the request task finishes"));
    }
    let faulted = statuses.iter().filter(|&&status| status == 500).count();
    let normal = statuses.iter().filter(|&&status| status == 200).count();
    assert_eq!((faulted, normal), (5, 35), "{statuses:?}");
}

#[tokio::test]
async fn rpc_method_match_keeps_large_body() {
    let mock = start(1).await;
    add(
        &mock,
        FaultSpec {
            matches: Some(FaultMatch {
                rpc_method: Some(METHOD.into()),
                ..FaultMatch::default()
            }),
            ..status_fault(500)
        },
    );
    assert_eq!(
        chunked::post_chunked(mock.address, "/jsonrpc", 100 * 1024).await,
        413
    );
    assert_eq!(mock.api.faults().list(None)[0].applied, 0);
    let journal = mock.api.journal().list(None, &JournalFilter::default());
    assert_eq!(journal.entries[0].status, 413);
    let body = journal.entries[0].body.as_deref().unwrap_or_default();
    assert_eq!(body.len(), mock_server::journal::MAX_BODY_BYTES);
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig {
        cases: 256,
        ..proptest::prelude::ProptestConfig::default()
    })]

    /// Any fault either is added with the values it was given, or is
    /// rejected naming at least one field; validation never panics.
    #[test]
    fn any_fault_is_added_or_rejected(
        status in proptest::option::of(-1000i64..1000),
        drop_connection in proptest::option::of(proptest::bool::ANY),
        latency in proptest::option::of((-10i64..70_000, proptest::option::of(-10i64..70_000))),
        count in proptest::option::of(0u64..5),
        rate in proptest::option::of(-0.5f64..1.5),
        path in proptest::option::of("[a-z/]{0,4}"),
    ) {
        let spec = FaultSpec {
            matches: path.map(|path| FaultMatch { path: Some(path), ..FaultMatch::default() }),
            status,
            drop_connection,
            latency_ms: latency.map(|(min, max)| Latency { min, max }),
            count,
            rate,
        };
        match Faults::new(3).add(None, spec.clone()) {
            Ok(fault) => {
                proptest::prop_assert_eq!(&fault.fault, &spec);
                proptest::prop_assert_eq!(fault.remaining, count);
                let valid_rate = rate.is_none_or(|rate| (0.0..=1.0).contains(&rate));
                proptest::prop_assert!(valid_rate);
            }
            Err(AddError::Invalid(errors)) => proptest::prop_assert!(!errors.is_empty()),
            Err(AddError::LimitReached) => proptest::prop_assert!(false, "one fault is no limit"),
        }
    }
}

/// Posts the raw `body` as JSON to `path`, with `key` as the API key;
/// returns the status and the parsed body.
async fn post_raw(mock: &MockServer, path: &str, body: &str, key: Option<&str>) -> (u16, Value) {
    let mut request = reqwest::Client::new()
        .post(format!("{}{path}", mock.base_url()))
        .header("Content-Type", "application/json")
        .body(body.to_string());
    if let Some(key) = key {
        request = request.header("X-Api-Key", key);
    }
    let response = request.send().await.expect("the mock answers");
    let status = response.status().as_u16();
    (status, response.json().await.expect("a JSON body"))
}

#[tokio::test]
async fn count_takes_the_whole_u64_range() {
    let mock = start(1).await;
    for count in [9_223_372_036_854_775_808_u64, u64::MAX] {
        let body = json!({"status": 500, "count": count});
        let (status, fault) = post(&mock, "/__mock/faults", &body).await;
        assert_eq!(status, 201, "{fault}");
        assert_eq!(fault["remaining"], count, "{fault}");
    }
}

#[tokio::test]
async fn fault_limit_is_422_with_code() {
    let mock = start(1).await;
    for _ in 0..mock_server::faults::MAX_FAULTS {
        add(&mock, status_fault(500));
    }
    let (status, body) = post(&mock, "/__mock/faults", &json!({"status": 500})).await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["error"]["data"]["code"], "mock-fault-limit", "{body}");
    assert_eq!(body["error"]["data"]["limit"], "100", "{body}");
}

#[tokio::test]
async fn unparsable_jsonrpc_leaves_count_unused() {
    let mock = start(1).await;
    let id = add(
        &mock,
        FaultSpec {
            count: Some(1),
            ..status_fault(500)
        },
    );
    let (status, body) = post_raw(&mock, "/jsonrpc", "garbage", Some(DEFAULT_API_KEY)).await;
    assert_eq!((status, &body["error"]["code"]), (400, &json!(-32700)));
    assert_eq!(mock.api.faults().list(None)[0].remaining, Some(1));
    let journal = mock.api.journal().list(None, &JournalFilter::default());
    assert_eq!(journal.entries[0].fault, None);

    let call = json!({"jsonrpc": "2.0", "method": METHOD, "params": ["backup"], "id": 1});
    let (status, body) = post(&mock, "/jsonrpc", &call).await;
    assert_eq!((status, &body["error"]["code"]), (200, &json!(-32603)));
    let journal = mock.api.journal().list(None, &JournalFilter::default());
    assert_eq!(journal.entries[1].fault.as_deref(), Some(id.as_str()));
    assert!(mock.api.faults().list(None).is_empty());
}

#[tokio::test]
async fn jsonrpc_whole_request_statuses_answer_at_http_level() {
    let mock = start(1).await;
    let call = json!([{"jsonrpc": "2.0", "method": METHOD, "params": ["cron"], "id": 7}]);
    for (status, code) in [(413, -32013), (415, -32015)] {
        let id = add(&mock, status_fault(i64::from(status)));
        let (got, body) = post(&mock, "/jsonrpc", &call).await;
        assert_eq!(got, status, "{body}");
        assert_eq!(body["jsonrpc"], "2.0", "{body}");
        assert_eq!(body["id"], Value::Null, "{body}");
        assert_eq!(body["error"]["code"], code, "{body}");
        assert!(mock.api.faults().remove(None, &id));
    }

    add(&mock, status_fault(408));
    let (got, body) = post(&mock, "/jsonrpc", &call).await;
    assert_eq!(got, 408, "{body}");
    assert!(body["error"]["message"].is_string(), "{body}");
    assert!(body.get("jsonrpc").is_none(), "{body}");
}

#[tokio::test]
async fn dropped_jsonrpc_request_keeps_rpc_methods() {
    let mock = start(1).await;
    let id = add(
        &mock,
        FaultSpec {
            drop_connection: Some(true),
            matches: Some(FaultMatch {
                rpc_method: Some(METHOD.into()),
                ..FaultMatch::default()
            }),
            ..FaultSpec::default()
        },
    );
    let call = json!({"jsonrpc": "2.0", "method": METHOD, "params": ["backup"], "id": 4});
    let error = reqwest::Client::new()
        .post(format!("{}/jsonrpc", mock.base_url()))
        .header("X-Api-Key", DEFAULT_API_KEY)
        .json(&call)
        .send()
        .await
        .expect_err("no response");
    assert!(error.status().is_none(), "{error}");

    let filter = JournalFilter {
        rpc_method: Some(METHOD.into()),
        ..JournalFilter::default()
    };
    let journal = mock.api.journal().list(None, &filter);
    assert_eq!(journal.entries.len(), 1, "{journal:?}");
    assert_eq!(journal.entries[0].status, 444);
    assert_eq!(journal.entries[0].fault.as_deref(), Some(id.as_str()));
}

#[tokio::test]
async fn missing_key_gets_401_before_faults() {
    let mock = start(1).await;
    for spec in [
        status_fault(500),
        FaultSpec {
            drop_connection: Some(true),
            ..FaultSpec::default()
        },
        FaultSpec {
            latency_ms: Some(Latency {
                min: 3000,
                max: None,
            }),
            ..FaultSpec::default()
        },
    ] {
        let id = add(
            &mock,
            FaultSpec {
                count: Some(1),
                ..spec
            },
        );
        let started = Instant::now();
        let (status, body) = post_raw(&mock, IDLE_PATH, "{}", None).await;
        assert_eq!(status, 401, "{body}");
        assert!(started.elapsed() < Duration::from_secs(2), "no delay");
        let (status, _) = post_raw(&mock, IDLE_PATH, "{}", Some("wrong-key")).await;
        assert_eq!(status, 401);
        assert_eq!(mock.api.faults().list(None)[0].applied, 0);
        assert!(mock.api.faults().remove(None, &id));
    }
}

#[tokio::test]
async fn match_path_compares_decoded_path() {
    let mock = start(1).await;
    add(
        &mock,
        FaultSpec {
            matches: Some(FaultMatch {
                path: Some("/system/services/active/backup".into()),
                ..FaultMatch::default()
            }),
            ..status_fault(500)
        },
    );
    let (status, body) = post(
        &mock,
        "/system/services/active/%62ackup/terminate",
        &json!({}),
    )
    .await;
    assert_eq!(status, 500, "{body}");
}
