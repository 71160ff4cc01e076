//! A raw-socket client that sends a request body in chunked transfer
//! encoding, which reqwest does not do without its `stream` feature.

use std::net::SocketAddr;

use mock_server::DEFAULT_API_KEY;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Posts a JSON request of `size` spaces in 4 KiB chunks to `path`, with
/// the default key, and returns the status of the response, or 0 when
/// none arrived.
pub async fn post_chunked(address: SocketAddr, path: &str, size: usize) -> u16 {
    let body = vec![b' '; size];
    post_chunks(address, path, body.chunks(4096)).await.0
}

/// Posts a JSON request to `path` with the default key, each of `chunks`
/// sent as one chunk, and returns the status of the response (0 when none
/// arrived) and its body.
pub async fn post_chunks<'a>(
    address: SocketAddr,
    path: &str,
    chunks: impl IntoIterator<Item = &'a [u8]>,
) -> (u16, String) {
    let mut stream = tokio::net::TcpStream::connect(address)
        .await
        .expect("connect to the mock");
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Api-Key: {DEFAULT_API_KEY}\r\n\
         Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\
         Connection: close\r\n\r\n"
    );
    stream
        .write_all(head.as_bytes())
        .await
        .expect("send the head");
    for part in chunks {
        let framed = [format!("{:x}\r\n", part.len()).as_bytes(), part, b"\r\n"].concat();
        // The server may close the connection once the body passed its
        // limit; the response is already on its way then.
        if stream.write_all(&framed).await.is_err() {
            break;
        }
    }
    let _ = stream.write_all(b"0\r\n\r\n").await;
    let mut response = Vec::new();
    let _ = stream.read_to_end(&mut response).await;
    let text = String::from_utf8_lossy(&response);
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or(0);
    let body = text
        .split_once("\r\n\r\n")
        .map_or("", |(_, body)| body)
        .to_string();
    (status, body)
}
