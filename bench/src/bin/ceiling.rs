//! The ceiling server: the mock's two routes, each a bare axum handler that
//! reads the request body and responds with a constant.
//!
//! `ceiling [--listen ADDR] [--batch-writes]` listens on ADDR (default
//! `127.0.0.1:0`) and prints `listening on http://ADDR` once it accepts
//! connections. With `--batch-writes`, each connection is wrapped in the
//! mock's [`mock_server::BatchedWrites`], to tell the gain of the mock's
//! write batching from the rest of its work.

use std::net::SocketAddr;

use axum::Router;
use axum::body::Bytes;
use axum::http::header::CONTENT_TYPE;
use axum::routing::post;
use mock_server::BatchedWrites;
use tokio::net::{TcpListener, TcpStream};

/// Body of the mock's REST response once every process is flagged.
const REST_BODY: &str = "0";
/// Body of the mock's JSON-RPC response to the same call with id 1.
const JSONRPC_BODY: &str = r#"{"id":1,"jsonrpc":"2.0","result":0}"#;

const USAGE: &str = "usage: ceiling [--listen ADDR] [--batch-writes]";

type Json = ([(axum::http::HeaderName, &'static str); 1], &'static str);

async fn terminate(_body: Bytes) -> Json {
    ([(CONTENT_TYPE, "application/json")], REST_BODY)
}

async fn jsonrpc(_body: Bytes) -> Json {
    ([(CONTENT_TYPE, "application/json")], JSONRPC_BODY)
}

/// A listener whose connections are wrapped in [`BatchedWrites`].
struct BatchedListener(TcpListener);

impl axum::serve::Listener for BatchedListener {
    type Io = BatchedWrites<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        let (stream, address) = axum::serve::Listener::accept(&mut self.0).await;
        (BatchedWrites::new(stream), address)
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        self.0.local_addr()
    }
}

/// Prints the usage line and exits with status 2.
fn exit_with_usage() -> ! {
    eprintln!("{USAGE}");
    std::process::exit(2);
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let mut listen = "127.0.0.1:0".to_string();
    let mut batch_writes = false;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--listen" => listen = args.next().unwrap_or_else(|| exit_with_usage()),
            "--batch-writes" => batch_writes = true,
            _ => exit_with_usage(),
        }
    }
    let app = Router::new()
        .route(
            "/system/services/active/{system_services_id}/terminate",
            post(terminate),
        )
        .route("/jsonrpc", post(jsonrpc));
    let listener = TcpListener::bind(&listen).await?;
    println!("listening on http://{}", listener.local_addr()?);
    match batch_writes {
        true => axum::serve(BatchedListener(listener), app).await,
        false => axum::serve(listener, app).await,
    }
}
