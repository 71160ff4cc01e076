//! The ceiling server: the mock's two routes, each a bare axum handler that
//! reads the request body and responds with a constant.
//!
//! `ceiling [--listen ADDR]` listens on ADDR (default `127.0.0.1:0`) and
//! prints `listening on http://ADDR` once it accepts connections.

use axum::Router;
use axum::body::Bytes;
use axum::http::header::CONTENT_TYPE;
use axum::routing::post;

/// Body of the mock's REST response once every process is flagged.
const REST_BODY: &str = "0";
/// Body of the mock's JSON-RPC response to the same call with id 1.
const JSONRPC_BODY: &str = r#"{"id":1,"jsonrpc":"2.0","result":0}"#;

type Json = ([(axum::http::HeaderName, &'static str); 1], &'static str);

async fn terminate(_body: Bytes) -> Json {
    ([(CONTENT_TYPE, "application/json")], REST_BODY)
}

async fn jsonrpc(_body: Bytes) -> Json {
    ([(CONTENT_TYPE, "application/json")], JSONRPC_BODY)
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let listen = match (args.next().as_deref(), args.next()) {
        (None, _) => "127.0.0.1:0".to_string(),
        (Some("--listen"), Some(address)) => address,
        _ => {
            eprintln!("usage: ceiling [--listen ADDR]");
            std::process::exit(2);
        }
    };
    let app = Router::new()
        .route(
            "/system/services/active/{system_services_id}/terminate",
            post(terminate),
        )
        .route("/jsonrpc", post(jsonrpc));
    let listener = tokio::net::TcpListener::bind(&listen).await?;
    println!("listening on http://{}", listener.local_addr()?);
    axum::serve(listener, app).await
}
