//! The request body deadline: a body that has not arrived completely a
//! fixed time after the request's headers ends the request with a 408.
//! The same body wrapper records whether the handler read the whole body,
//! so that a response sent before the body was read closes the connection,
//! and copies what the handler reads for the journal.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::Request;
use axum::http::header::CONNECTION;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use http_body::{Frame, SizeHint};
use system_services_server::Rejection;
use tokio::time::{Instant, Sleep};

/// The body deadline of one request: [`BodyDeadline::start`] gives the
/// request's body `timeout` from now to arrive, and [`BodyDeadline::finish`]
/// turns the handler's response into the one to send.
///
/// A body read that is still waiting for data at the deadline fails, and
/// the response becomes a 408 in the documented error body, whatever the
/// handler made of the failed read. The connection is closed after it,
/// because the rest of the body was not read.
///
/// A response to a request whose body the handler did not read to the end,
/// such as a 404, 405, 401, 413 or 415, gets `Connection: close` too. hyper
/// closes such a connection after the response instead of reading the rest
/// of the body, and with the header a keep-alive client does not send its
/// next request on it.
pub(crate) struct BodyDeadline {
    timeout: Duration,
    state: Arc<BodyState>,
}

impl BodyDeadline {
    /// Returns the deadline `timeout` from now, and `request` with a body
    /// that fails a read still waiting for data after it. The body appends
    /// what it passes on to `copy`, if any, which
    /// [`take_copy`](Self::take_copy) returns.
    pub(crate) fn start(
        timeout: Duration,
        request: Request,
        copy: Option<BodyCopy>,
    ) -> (BodyDeadline, Request) {
        let state = Arc::new(BodyState {
            copy: Mutex::new(copy),
            ..BodyState::default()
        });
        let deadline = Instant::now() + timeout;
        let request = request.map(|body| {
            let complete = http_body::Body::is_end_stream(&body);
            state.complete.store(complete, Ordering::Release);
            Body::new(DeadlineBody {
                inner: body,
                deadline,
                sleep: None,
                state: state.clone(),
            })
        });
        (BodyDeadline { timeout, state }, request)
    }

    /// Takes the copy of the body that [`start`](Self::start) was given,
    /// with what the handler read of the body appended.
    pub(crate) fn take_copy(&self) -> Option<BodyCopy> {
        self.state
            .copy
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .take()
    }

    /// Returns the response to send for the handler's `response`: the 408
    /// when a body read passed the deadline, and otherwise `response`, with
    /// `Connection: close` when the body was not read to its end.
    pub(crate) fn finish(self, mut response: Response) -> Response {
        if !self.state.expired.load(Ordering::Acquire) {
            if !self.state.complete.load(Ordering::Acquire) {
                response
                    .headers_mut()
                    .insert(CONNECTION, HeaderValue::from_static("close"));
            }
            return response;
        }
        tracing::info!(
            request_id = crate::telemetry::request_id_field(),
            timeout_secs = self.timeout.as_secs_f64(),
            "request body timed out"
        );
        timeout_response(self.timeout)
    }
}

/// A copy of the request body as the handler reads it. `text` takes the
/// data read up to `limit` bytes in all, and drops the rest.
pub(crate) struct BodyCopy {
    pub text: Vec<u8>,
    pub limit: usize,
}

/// The flags and the body copy that a [`DeadlineBody`] records for
/// [`BodyDeadline`] to read after the handler ran.
#[derive(Default)]
struct BodyState {
    /// Set when a read passed the deadline.
    expired: AtomicBool,
    /// Set once the body has been read to its end.
    complete: AtomicBool,
    copy: Mutex<Option<BodyCopy>>,
}

/// Builds the 408 response, in the documented error body.
fn timeout_response(timeout: Duration) -> Response {
    let message = timeout_message(timeout);
    let mut rejection = Rejection::invalid("body", message.clone());
    rejection.status = StatusCode::REQUEST_TIMEOUT;
    rejection.message = message;
    let mut response = rejection.into_response();
    response
        .headers_mut()
        .insert(CONNECTION, HeaderValue::from_static("close"));
    response
}

/// Builds the 408 message, with "second" in the singular for exactly one.
fn timeout_message(timeout: Duration) -> String {
    let seconds = timeout.as_secs_f64();
    let unit = if seconds == 1.0 { "second" } else { "seconds" };
    format!("Request body did not arrive within {seconds} {unit}")
}

impl BodyState {
    fn append_to_copy(&self, data: &[u8]) {
        let mut copy = self
            .copy
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(BodyCopy { text, limit }) = &mut *copy {
            let room = limit.saturating_sub(text.len());
            text.extend_from_slice(&data[..data.len().min(room)]);
        }
    }
}

/// Error of a body read that passed the deadline.
#[derive(Debug, thiserror::Error)]
#[error("request body did not arrive in time")]
struct BodyTimedOut;

/// A request body that fails once its deadline has passed while it waits
/// for data. Data that has already arrived is still delivered, and copied
/// into the state's [`BodyCopy`], if any.
struct DeadlineBody {
    inner: Body,
    deadline: Instant,
    /// The timer, started the first time the body waits for data, so a
    /// body that has arrived with its headers starts none.
    sleep: Option<Pin<Box<Sleep>>>,
    state: Arc<BodyState>,
}

impl http_body::Body for DeadlineBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        context: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        let this = &mut *self;
        if let Poll::Ready(frame) = Pin::new(&mut this.inner).poll_frame(context) {
            if let Some(Ok(frame)) = &frame
                && let Some(data) = frame.data_ref()
            {
                this.state.append_to_copy(data);
            }
            if frame.is_none() || this.inner.is_end_stream() {
                this.state.complete.store(true, Ordering::Release);
            }
            return Poll::Ready(frame);
        }
        let deadline = this.deadline;
        let sleep = this
            .sleep
            .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
        if sleep.as_mut().poll(context).is_ready() {
            this.state.expired.store(true, Ordering::Release);
            return Poll::Ready(Some(Err(axum::Error::new(BodyTimedOut))));
        }
        Poll::Pending
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use axum::routing::post;
    use tower_service::Service;

    use super::*;

    /// Sends a POST with `body` to `path` through the middleware, on a
    /// route that reads the body and one that does not, and returns the
    /// response's `Connection` header.
    async fn connection_header(path: &str, body: &'static str) -> Option<HeaderValue> {
        let router = axum::Router::new()
            .route("/read", post(|body: String| async move { body }))
            .route("/ignore", post(|| async { "ignored" }));
        let request = axum::http::Request::post(path)
            .body(Body::from(body))
            .expect("a valid request");
        let (deadline, request) = BodyDeadline::start(Duration::from_secs(10), request, None);
        let mut router = router;
        let Ok(response) = router.call(request).await;
        let response = deadline.finish(response);
        response.headers().get(CONNECTION).cloned()
    }

    #[tokio::test]
    async fn unread_body_closes_connection() {
        let close = Some(HeaderValue::from_static("close"));
        assert_eq!(connection_header("/ignore", "{}").await, close);
        assert_eq!(connection_header("/read", "{}").await, None);
        assert_eq!(connection_header("/ignore", "").await, None);
    }

    #[test]
    fn timeout_message_pluralises_seconds() {
        let cases = [
            (Duration::from_secs(1), "within 1 second"),
            (Duration::from_secs(2), "within 2 seconds"),
            (Duration::from_millis(500), "within 0.5 seconds"),
            (Duration::from_millis(1500), "within 1.5 seconds"),
        ];
        for (timeout, expected) in cases {
            let message = timeout_message(timeout);
            assert!(message.ends_with(expected), "{message}");
        }
    }
}
