//! The generated operations, called without the router through
//! `Operation::find` and `Operation::serve`, respond to every request as the
//! generated router does. Two servers on loopback, one on each path, get the
//! same requests and must send the same responses.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{ConnectInfo, Request, State};
use axum::response::Response;
use mock_server::auth::{ApiKeyEntry, AuthPolicy};
use mock_server::state::ClusterState;
use mock_server::{DEFAULT_API_KEY, MockApi};
use reqwest::Method;
use system_services_server::{Matched, Operation, PathParams, ROUTES};
use tower_service::Service;

/// The generated routes and the router for the requests of no operation.
#[derive(Clone)]
struct Found {
    api: Arc<MockApi>,
    routes: Arc<matchit::Router<usize>>,
    router: axum::Router,
}

/// A key of both servers for loopback clients only.
const LOOPBACK_KEY: &str = "loopback-key";

/// A key of both servers that loopback clients may not use.
const REMOTE_KEY: &str = "remote-key";

/// Serves `request` on its operation when `ROUTES` has one for it, and on
/// the router otherwise.
async fn serve_found(State(found): State<Found>, request: Request) -> Response {
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(address)| *address);
    let operation = found
        .routes
        .at(request.uri().path())
        .ok()
        .and_then(|matched| {
            let operation = Operation::find(*matched.value, request.method())?;
            Some((operation, PathParams::decode(matched.params.iter())))
        });
    match operation {
        Some((operation, params)) => {
            let matched = Matched { params, peer };
            operation.serve(found.api, request, matched).await
        }
        None => match found.router.clone().call(request).await {
            Ok(response) => response,
            Err(never) => match never {},
        },
    }
}

fn api() -> Arc<MockApi> {
    let keys = [
        DEFAULT_API_KEY.to_string(),
        format!("{LOOPBACK_KEY}@127.0.0.1"),
        format!("{REMOTE_KEY}@10.0.0.0/8"),
    ];
    let keys: Vec<ApiKeyEntry> = keys
        .iter()
        .map(|key| key.parse().expect("a valid key entry"))
        .collect();
    let auth = AuthPolicy::new(keys, Vec::new());
    Arc::new(MockApi::new(ClusterState::default_state(), auth))
}

async fn start(app: axum::Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind an ephemeral loopback port");
    let address = listener.local_addr().expect("read the bound address");
    let service = app.into_make_service_with_connect_info::<SocketAddr>();
    tokio::spawn(async move { axum::serve(listener, service).await });
    address
}

/// Starts the server on the router and the server on the operations, each
/// on its own copy of the default state.
async fn servers() -> (SocketAddr, SocketAddr) {
    let through_router = start(system_services_server::router(api())).await;
    let mut routes = matchit::Router::new();
    for (index, (template, _)) in ROUTES.iter().enumerate() {
        routes.insert(*template, index).expect("valid templates");
    }
    let api = api();
    let found = Found {
        router: system_services_server::router(api.clone()),
        api,
        routes: Arc::new(routes),
    };
    let app = axum::Router::new().fallback(serve_found).with_state(found);
    (through_router, start(app).await)
}

/// The parts of a response that the two servers must agree on.
async fn outcome(
    client: &reqwest::Client,
    address: SocketAddr,
    method: &Method,
    path: &str,
    key: Option<&str>,
    body: Option<&str>,
) -> (u16, Option<String>, Option<String>, String) {
    let mut request = client.request(method.clone(), format!("http://{address}{path}"));
    if let Some(key) = key {
        request = request.header("X-Api-Key", key);
    }
    if let Some(body) = body {
        request = request
            .header("Content-Type", "application/json")
            .body(body.to_string());
    }
    let response = request.send().await.expect("a response");
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .map(|value| value.to_str().expect("a visible ASCII header").to_string())
    };
    let content_type = header("content-type");
    let allow = header("allow");
    let status = response.status().as_u16();
    let text = response.text().await.expect("a body");
    (status, content_type, allow, text)
}

#[tokio::test]
async fn operations_respond_like_router() {
    let (through_router, through_operations) = servers().await;
    let client = reqwest::Client::new();

    let ids = [
        "cron",
        "c%72on",
        "%FF",
        "%C3%BC",
        "a%2Fb",
        "cr%20on",
        "",
        "mailer",
        "tasks_scheduler",
        "cron",
    ];
    let mut paths: Vec<String> = ids
        .iter()
        .map(|id| format!("/system/services/active/{id}/terminate"))
        .collect();
    paths.extend(["/jsonrpc", "/jsonrpc/", "/system/services/active/cron"].map(String::from));
    let call = r#"{"jsonrpc":"2.0","id":7,"method":"system.services.active.mark_terminate","params":{"system_services_id":"backup"}}"#;
    let bodies = [
        None,
        Some(r#"{"nodes_id": null}"#),
        Some(r#"{"nodes_id": 2}"#),
        Some(r#"{"nodes_id": "x"}"#),
        Some(r#"{"unknown": 1}"#),
        Some("not json"),
        Some(call),
    ];
    let methods = [Method::POST, Method::GET, Method::HEAD, Method::PUT];
    let keys = [
        Some(DEFAULT_API_KEY),
        Some(LOOPBACK_KEY),
        Some(REMOTE_KEY),
        None,
        Some("wrong"),
    ];

    let mut compared = 0;
    for path in &paths {
        for method in &methods {
            for key in keys {
                for body in bodies {
                    let expected = outcome(&client, through_router, method, path, key, body).await;
                    let actual =
                        outcome(&client, through_operations, method, path, key, body).await;
                    assert_eq!(
                        actual, expected,
                        "{method} {path} with key {key:?} and body {body:?}"
                    );
                    compared += 1;
                }
            }
        }
    }
    assert_eq!(
        compared,
        paths.len() * methods.len() * keys.len() * bodies.len()
    );
}

#[tokio::test]
async fn find_maps_route_and_method() {
    let terminate = ROUTES
        .iter()
        .position(|(template, _)| template.ends_with("/terminate"))
        .expect("the terminate route");
    let jsonrpc = ROUTES
        .iter()
        .position(|(template, _)| *template == "/jsonrpc")
        .expect("the JSON-RPC route");
    assert_eq!(
        Operation::find(terminate, &Method::POST),
        Some(Operation::MarkTerminate)
    );
    assert_eq!(
        Operation::find(jsonrpc, &Method::POST),
        Some(Operation::Jsonrpc)
    );
    assert_eq!(Operation::find(terminate, &Method::GET), None);
    assert_eq!(Operation::find(jsonrpc, &Method::OPTIONS), None);
    assert_eq!(Operation::find(ROUTES.len(), &Method::POST), None);
}
