//! Gives hyper's own protocol error responses the documented error body.
//!
//! hyper rejects a request it cannot parse (a malformed request line or
//! header, a URI or headers over its limits) itself, before any route runs,
//! with an empty body and `connection: close`. [`ErrorBodyIo`] wraps a
//! connection, recognises such a response among the bytes hyper writes, and
//! sends the same status with `{"error": {"message", "data"}}` instead.
//!
//! The routes never write an empty-bodied 4xx or 5xx with
//! `content-length: 0`: every error they send has a JSON body. So the
//! responses this module rewrites all come from hyper.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// A connection whose empty protocol error responses get a JSON body.
pub struct ErrorBodyIo<S> {
    inner: S,
    peer: SocketAddr,
    /// A rewritten response not yet written to `inner`.
    pending: Vec<u8>,
}

impl<S> ErrorBodyIo<S> {
    pub fn new(inner: S, peer: SocketAddr) -> Self {
        ErrorBodyIo {
            inner,
            peer,
            pending: Vec::new(),
        }
    }
}

impl<S: AsyncWrite + Unpin> ErrorBodyIo<S> {
    /// Writes the pending rewritten response, if any, to the connection.
    fn poll_pending(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while !self.pending.is_empty() {
            let written = ready!(Pin::new(&mut self.inner).poll_write(cx, &self.pending))?;
            if written == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.pending.drain(..written);
        }
        Poll::Ready(Ok(()))
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for ErrorBodyIo<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for ErrorBodyIo<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        ready!(self.poll_pending(cx))?;
        if let Some(replacement) = rewrite(buf) {
            tracing::info!(
                peer = %self.peer,
                status = %String::from_utf8_lossy(&buf[9..12]),
                "request rejected before routing: not a valid HTTP/1.1 request"
            );
            self.pending = replacement;
            // The whole original response counts as written; the
            // replacement goes out before any later write or flush.
            let _ = self.poll_pending(cx)?;
            return Poll::Ready(Ok(buf.len()));
        }
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.poll_pending(cx))?;
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.poll_pending(cx))?;
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// Returns the replacement of `response` when it is a complete, empty
/// 4xx or 5xx response head with `content-length: 0`.
fn rewrite(response: &[u8]) -> Option<Vec<u8>> {
    // The bytes are checked first, so that a response with a body, as every
    // route sends, costs no UTF-8 check.
    let error_head = response.len() > 12
        && response.starts_with(b"HTTP/1.")
        && matches!(response[9], b'4'..=b'9')
        && response.ends_with(b"\r\n\r\n");
    if !error_head {
        return None;
    }
    let text = std::str::from_utf8(response).ok()?;
    let head = text.strip_suffix("\r\n\r\n")?;
    if head.contains("\r\n\r\n") {
        return None;
    }
    let mut lines = head.split("\r\n");
    let status_line = lines.next()?;
    // hyper writes an HTTP/1.0 status line on a connection whose previous
    // request was an HTTP/1.0 keep-alive request.
    let status: u16 = status_line
        .strip_prefix("HTTP/1.1 ")
        .or_else(|| status_line.strip_prefix("HTTP/1.0 "))?
        .get(..3)?
        .parse()
        .ok()?;
    if status < 400 {
        return None;
    }
    let headers: Vec<&str> = lines.collect();
    let empty = headers
        .iter()
        .any(|header| header.eq_ignore_ascii_case("content-length: 0"));
    if !empty {
        return None;
    }

    let message = message(status);
    let body = serde_json::json!({
        "error": { "message": message, "data": { "request": message } }
    })
    .to_string();
    let mut replacement = format!("{status_line}\r\n");
    for header in headers {
        if !header.to_ascii_lowercase().starts_with("content-length:") {
            replacement.push_str(header);
            replacement.push_str("\r\n");
        }
    }
    replacement.push_str("content-type: application/json\r\n");
    replacement.push_str(&format!("content-length: {}\r\n\r\n{body}", body.len()));
    Some(replacement.into_bytes())
}

fn message(status: u16) -> &'static str {
    match status {
        400 => {
            "The request is not valid HTTP/1.1: check the request line, the headers and Content-Length"
        }
        414 => "The request URI is longer than the server accepts",
        431 => "The request headers are larger or more numerous than the server accepts",
        505 => "The HTTP version is not supported; send HTTP/1.1",
        _ => "The request could not be read",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HYPER_431: &[u8] = b"HTTP/1.1 431 Request Header Fields Too Large\r\nconnection: close\r\ncontent-length: 0\r\ndate: Fri, 04 Dec 2026 17:07:01 GMT\r\n\r\n";

    #[test]
    fn empty_error_gets_json_body() {
        let replacement = String::from_utf8(rewrite(HYPER_431).expect("rewritten")).unwrap();
        let (head, body) = replacement
            .split_once("\r\n\r\n")
            .expect("a head and a body");
        assert!(head.starts_with("HTTP/1.1 431 Request Header Fields Too Large\r\n"));
        assert!(head.contains("\r\nconnection: close"));
        assert!(head.contains("\r\ncontent-type: application/json"));
        assert!(head.contains(&format!("\r\ncontent-length: {}", body.len())));
        let body: serde_json::Value = serde_json::from_str(body).expect("a JSON body");
        assert!(body["error"]["message"].is_string());
        assert!(body["error"]["data"]["request"].is_string());
    }

    #[test]
    fn http10_error_gets_json_body() {
        let hyper_400 = b"HTTP/1.0 400 Bad Request\r\ncontent-length: 0\r\ndate: Fri, 04 Dec 2026 17:07:01 GMT\r\n\r\n";
        let replacement = String::from_utf8(rewrite(hyper_400).expect("rewritten")).unwrap();
        let (head, body) = replacement
            .split_once("\r\n\r\n")
            .expect("a head and a body");
        assert!(head.starts_with("HTTP/1.0 400 Bad Request\r\n"), "{head}");
        assert!(head.contains(&format!("\r\ncontent-length: {}", body.len())));
        let body: serde_json::Value = serde_json::from_str(body).expect("a JSON body");
        assert!(body["error"]["data"]["request"].is_string(), "{body}");
    }

    #[test]
    fn responses_with_bodies_pass_through() {
        let ok = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 1\r\n\r\n2";
        assert_eq!(rewrite(ok), None);
        let json_error = b"HTTP/1.1 404 Not Found\r\ncontent-length: 2\r\n\r\n{}";
        assert_eq!(rewrite(json_error), None);
        let no_content = b"HTTP/1.1 204 No Content\r\ndate: x\r\n\r\n";
        assert_eq!(rewrite(no_content), None);
    }
}
