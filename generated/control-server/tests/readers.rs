//! The runtime's parameter and body readers over real HTTP on loopback,
//! for the kinds the control API does not use: cookies, repeated query
//! parameters, integer path parameters and raw bodies.

use std::net::SocketAddr;

use axum::extract::Request;
use axum::response::{IntoResponse, Response};
use mock_control_server::runtime::{self, PathParams, QueryParams};
use mock_control_server::validate::Schema;
use mock_control_server::{BodyShape, CredentialSource, Credentials};
use serde_json::Value;

/// Answers 200 with the debug form of `decoded`, or the rejection.
fn reply<T: std::fmt::Debug>(decoded: Result<T, mock_control_server::Rejection>) -> Response {
    match decoded {
        Ok(value) => format!("{value:?}").into_response(),
        Err(rejection) => rejection.into_response(),
    }
}

async fn cookie(request: Request) -> Response {
    reply(runtime::cookie_param(request.headers(), "sid"))
}

async fn tags(request: Request) -> Response {
    let query = match QueryParams::from_uri(request.uri()) {
        Ok(query) => query,
        Err(rejection) => return rejection.into_response(),
    };
    reply(query.all("tag", |text| {
        runtime::parse_integer("tag", text, Some(0), Some(9))
    }))
}

async fn required_tags(request: Request) -> Response {
    let query = match QueryParams::from_uri(request.uri()) {
        Ok(query) => query,
        Err(rejection) => return rejection.into_response(),
    };
    let parse = |text: &str| runtime::parse_integer("tag", text, None, None);
    reply(
        query
            .all("tag", parse)
            .and_then(|values| runtime::require_items("tag", values)),
    )
}

async fn item(request: Request) -> Response {
    let (mut parts, _) = request.into_parts();
    let mut params = match PathParams::from_parts(&mut parts).await {
        Ok(params) => params,
        Err(rejection) => return rejection.into_response(),
    };
    reply(
        params
            .take("item_id")
            .and_then(|text| runtime::parse_integer("item_id", &text, Some(1), None)),
    )
}

/// A form body with the fields of a closed object schema.
#[derive(Debug, serde::Deserialize)]
struct Search {
    #[allow(dead_code)]
    criteria: String,
    #[allow(dead_code)]
    rows: i64,
}

async fn search(request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let shape = BodyShape {
        fields: &["criteria", "rows"],
        closed: true,
        schema: &Schema::ANY,
        validate_decoded: false,
    };
    reply(runtime::form_body::<Search>(&parts.headers, body, &shape).await)
}

async fn upload(request: Request) -> Response {
    let (parts, body) = request.into_parts();
    reply(runtime::raw_body(&parts.headers, body, "application/octet-stream").await)
}

/// Answers the debug form of the credentials of three schemes.
async fn credentials(request: Request) -> Response {
    let credentials = Credentials::read(
        request.headers(),
        request.uri(),
        &[&["jwt"], &["key", "session"]],
        false,
        &[
            ("jwt", CredentialSource::Bearer),
            ("key", CredentialSource::Query("key")),
            ("session", CredentialSource::Cookie("sid")),
        ],
    );
    let states: Vec<String> = ["jwt", "key", "session"]
        .iter()
        .map(|name| match credentials.get(name) {
            mock_control_server::ApiKey::Key(value) => format!("{name}={value}"),
            other => format!("{name}:{other:?}"),
        })
        .collect();
    states.join(" ").into_response()
}

async fn start() -> String {
    let app = axum::Router::new()
        .route("/credentials", axum::routing::get(credentials))
        .route("/cookie", axum::routing::get(cookie))
        .route("/tags", axum::routing::get(tags))
        .route("/required-tags", axum::routing::get(required_tags))
        .route("/items/{item_id}", axum::routing::get(item))
        .route("/upload", axum::routing::post(upload))
        .route("/search", axum::routing::post(search));
    let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
        .await
        .expect("bind loopback");
    let address = listener.local_addr().expect("local address");
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{address}")
}

/// Sends `request` and returns the status and body text.
async fn send(request: reqwest::RequestBuilder) -> (u16, String) {
    let response = request.send().await.expect("request is sent");
    let status = response.status().as_u16();
    (status, response.text().await.expect("body"))
}

/// Returns the message that a 400 body gives for `field`.
fn field_message(body: &str, field: &str) -> String {
    let body: Value = serde_json::from_str(body).expect("JSON error body");
    body["error"]["data"][field]
        .as_str()
        .unwrap_or_else(|| panic!("data names `{field}`: {body}"))
        .to_string()
}

#[tokio::test]
async fn cookie_is_read_from_the_header() {
    let base = start().await;
    let http = reqwest::Client::new();
    let get = |cookie: &'static str| http.get(format!("{base}/cookie")).header("cookie", cookie);
    assert_eq!(
        send(get("theme=dark; sid=abc")).await,
        (200, "Some(\"abc\")".into())
    );
    assert_eq!(send(get("theme=dark")).await, (200, "None".into()));
    let (status, body) = send(get("sid=a; sid=b")).await;
    assert_eq!(status, 400);
    assert!(field_message(&body, "sid").contains("one cookie"), "{body}");
    let (status, body) = send(get("sid=")).await;
    assert_eq!(status, 400);
    assert!(field_message(&body, "sid").contains("Empty"), "{body}");
}

#[tokio::test]
async fn repeated_query_parameter_is_an_array() {
    let base = start().await;
    let http = reqwest::Client::new();
    let get = |query: &str| http.get(format!("{base}/tags{query}"));
    assert_eq!(
        send(get("?tag=1&tag=2&other=x")).await,
        (200, "[1, 2]".into())
    );
    assert_eq!(send(get("")).await, (200, "[]".into()));
    let (status, body) = send(get("?tag=1&tag=12")).await;
    assert_eq!(status, 400);
    assert!(
        field_message(&body, "tag").contains("from 0 to 9"),
        "{body}"
    );
}

#[tokio::test]
async fn required_array_needs_a_value() {
    let base = start().await;
    let http = reqwest::Client::new();
    let (status, body) = send(http.get(format!("{base}/required-tags"))).await;
    assert_eq!(status, 400);
    assert!(field_message(&body, "tag").contains("missing"), "{body}");
    let (status, body) = send(http.get(format!("{base}/required-tags?tag=3"))).await;
    assert_eq!((status, body.as_str()), (200, "[3]"));
}

#[tokio::test]
async fn integer_path_parameter_is_checked() {
    let base = start().await;
    let http = reqwest::Client::new();
    assert_eq!(
        send(http.get(format!("{base}/items/42"))).await,
        (200, "42".into())
    );
    let (status, body) = send(http.get(format!("{base}/items/0"))).await;
    assert_eq!(status, 400);
    assert!(
        field_message(&body, "item_id").contains("at least 1"),
        "{body}"
    );
    let (status, body) = send(http.get(format!("{base}/items/abc"))).await;
    assert_eq!(status, 400);
    assert!(
        field_message(&body, "item_id").contains("an integer"),
        "{body}"
    );
}

#[tokio::test]
async fn raw_body_checks_its_media_type() {
    let base = start().await;
    let http = reqwest::Client::new();
    let post = |content_type: &'static str, body: &'static str| {
        http.post(format!("{base}/upload"))
            .header("content-type", content_type)
            .body(body)
    };
    let (status, body) = send(post("application/octet-stream", "abc")).await;
    assert_eq!(status, 200);
    assert_eq!(body, "b\"abc\"");
    let (status, _) = send(post("application/json", "{}")).await;
    assert_eq!(status, 415);
    let (status, body) = send(post("application/octet-stream", "")).await;
    assert_eq!(status, 400);
    assert!(field_message(&body, "body").contains("required"), "{body}");
}

#[tokio::test]
async fn credentials_of_each_scheme() {
    let base = start().await;
    let http = reqwest::Client::new();
    let get = |query: &str| http.get(format!("{base}/credentials{query}"));
    let (status, body) = send(
        get("?key=k1")
            .header("authorization", "Bearer t1")
            .header("cookie", "sid=s1"),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(body, "jwt=t1 key=k1 session=s1");

    let (_, body) = send(get("?key=a&key=b").header("authorization", "Basic dTpw")).await;
    assert_eq!(body, "jwt:Invalid key:Repeated session:Missing");
}

#[tokio::test]
async fn form_body_is_decoded() {
    let base = start().await;
    let http = reqwest::Client::new();
    let post = |content_type: &'static str, body: &'static str| {
        http.post(format!("{base}/search"))
            .header("content-type", content_type)
            .body(body)
    };
    let form = "application/x-www-form-urlencoded";
    let (status, body) = send(post(form, "criteria=a%3Ab&rows=5")).await;
    assert_eq!(status, 200);
    assert_eq!(body, "Search { criteria: \"a:b\", rows: 5 }");

    let (status, body) = send(post(form, "criteria=x&rows=five")).await;
    assert_eq!(status, 400);
    assert!(
        field_message(&body, "body").contains("Invalid form body"),
        "{body}"
    );

    let (status, body) = send(post(form, "criteria=x&rows=1&extra=1")).await;
    assert_eq!(status, 400);
    assert!(
        field_message(&body, "extra").contains("Unknown field"),
        "{body}"
    );

    let (status, _) = send(post("application/json", "{}")).await;
    assert_eq!(status, 415);
}
