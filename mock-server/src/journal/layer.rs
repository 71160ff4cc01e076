//! The middleware that records each request in the journal. The body
//! wrapper of the body deadline copies the part of the body that the
//! server reads.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::time::{Instant, SystemTime};

use axum::extract::Request;
use axum::response::Response;
use system_services_server::JsonRpcMethods;

use super::{
    Journal, MAX_BODY_BYTES, REDACTED, Record, RpcMethods, Secrets, Ticket, is_control_path,
};
use crate::body_timeout::BodyCopy;
use crate::faults::AppliedFault;
use crate::sessions::name_from_headers;
use crate::telemetry;

/// The boxed future of a middleware's response.
pub(crate) type BoxedResponse = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

/// Starts the record of `request`: everything but the body and the
/// outcome, with the values of `secrets` redacted. Its text has room for
/// the body that `Content-Length` announces, up to [`MAX_BODY_BYTES`].
fn start_record(request: &Request, at: SystemTime, secrets: &Secrets) -> Record {
    let headers = request.headers();
    let request_id = telemetry::current_request_id();
    let uri = request.uri();
    let header_bytes: usize = headers
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len().max(REDACTED.len()))
        .sum();
    let body_bytes = http_body::Body::size_hint(request.body())
        .exact()
        .map_or(0, |bytes| bytes.min(MAX_BODY_BYTES as u64) as usize);
    let capacity = request_id.map_or(0, |id| id.as_bytes().len())
        + uri.path().len()
        + uri.query().map_or(0, str::len)
        + header_bytes
        + body_bytes;

    let mut text = Vec::with_capacity(capacity);
    let request_id = request_id.map(|id| Record::push(&mut text, id.as_bytes()));
    let path = Record::push(&mut text, uri.path().as_bytes());
    let query = uri.query().map(|query| {
        let start = text.len() as u32;
        push_query(&mut text, query, &secrets.query);
        (start, text.len() as u32)
    });
    let mut spans = Vec::with_capacity(headers.len());
    for (name, value) in headers {
        let secret = secrets.has_header(name);
        let value = if secret {
            REDACTED.as_bytes()
        } else {
            value.as_bytes()
        };
        let name = Record::push(&mut text, name.as_str().as_bytes());
        spans.push((name, Record::push(&mut text, value)));
    }
    Record {
        seq: 0,
        order: 0,
        at,
        method: request.method().clone(),
        status: 0,
        duration_ms: 0.0,
        text,
        request_id,
        path,
        query,
        headers: spans,
        body: None,
        rpc_methods: RpcMethods::NONE,
        fault: None,
    }
}

/// Appends `query` to `text`, with the value of each parameter named in
/// `secrets` replaced by [`REDACTED`].
fn push_query(text: &mut Vec<u8>, query: &str, secrets: &[String]) {
    if secrets.is_empty() {
        return text.extend_from_slice(query.as_bytes());
    }
    for (index, pair) in query.split('&').enumerate() {
        if index > 0 {
            text.push(b'&');
        }
        let (name, _) = pair.split_once('=').unwrap_or((pair, ""));
        let decoded = form_urlencoded_name(name);
        if secrets.contains(&decoded) {
            text.extend_from_slice(name.as_bytes());
            text.push(b'=');
            text.extend_from_slice(REDACTED.as_bytes());
        } else {
            text.extend_from_slice(pair.as_bytes());
        }
    }
}

/// Decodes a query parameter name: `+` is a space, `%XX` a byte.
fn form_urlencoded_name(name: &str) -> String {
    let spaced = name.replace('+', " ");
    percent_encoding::percent_decode_str(&spaced)
        .decode_utf8_lossy()
        .into_owned()
}

/// Completes `record` with the outcome that `response` carries.
fn finish_record(record: &mut Record, response: &Response, started: Instant) {
    record.duration_ms = started.elapsed().as_micros() as f64 / 1000.0;
    record.status = response.status().as_u16();
    record.fault = response
        .extensions()
        .get::<AppliedFault>()
        .map(|AppliedFault(id)| id.clone());
    if let Some(JsonRpcMethods(names)) = response.extensions().get() {
        record.rpc_methods = Record::push_rpc_methods(&mut record.text, names);
    }
}

/// A request being recorded in the journal: [`Recording::start`] takes
/// everything but the body and the outcome from the request, and
/// [`Recording::finish`] adds the part of the body that the server read and
/// the response's outcome, and stores the entry.
///
/// It must start inside [`telemetry::log_request`], which gives the request
/// its id, and finish outside the faults, so that the response it records
/// carries the fault and the final status.
pub(crate) struct Recording {
    ticket: Ticket,
    session: Option<String>,
    started: Instant,
    record: Record,
    /// The byte offset of the body in the record's text.
    body_start: usize,
}

impl Recording {
    /// Starts recording `request` in `journal`, unless it calls the
    /// control API or names an invalid session.
    pub(crate) fn start(journal: &Journal, request: &Request) -> Option<Recording> {
        if journal.limit == 0 || is_control_path(request.uri().path()) {
            return None;
        }
        // A request with an invalid session name belongs to no session.
        let session = name_from_headers(request.headers()).ok()?;
        let ticket = journal.ticket(session);
        let session = session.map(str::to_string);
        let started = Instant::now();
        let record = start_record(request, SystemTime::now(), journal.secrets());
        let body_start = record.text.len();
        Some(Recording {
            ticket,
            session,
            started,
            record,
            body_start,
        })
    }

    /// Returns the record's text for the body wrapper to append the body
    /// to as the server reads it, up to [`MAX_BODY_BYTES`], or `None` when
    /// `request` has no body.
    pub(crate) fn body_copy(&mut self, request: &Request) -> Option<BodyCopy> {
        if http_body::Body::is_end_stream(request.body()) {
            return None;
        }
        Some(BodyCopy {
            text: std::mem::take(&mut self.record.text),
            limit: self.body_start + MAX_BODY_BYTES,
        })
    }

    /// Completes the record with `copy`, the text from
    /// [`body_copy`](Self::body_copy) with the body appended, and the
    /// outcome that `response` carries, and stores it in `journal`.
    pub(crate) fn finish(mut self, journal: &Journal, copy: Option<BodyCopy>, response: &Response) {
        let record = &mut self.record;
        if let Some(copy) = copy {
            record.text = copy.text;
            if record.text.len() > self.body_start {
                record.body = Some((self.body_start as u32, record.text.len() as u32));
            }
        }
        finish_record(record, response, self.started);
        journal.record(self.session.as_deref(), self.ticket, self.record);
    }
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use axum::http::HeaderValue;

    use super::*;

    #[test]
    fn headers_are_joined_and_redacted() {
        let mut request = Request::new(Body::empty());
        let headers = request.headers_mut();
        headers.append("x-api-key", HeaderValue::from_static("secret"));
        headers.append("x-api-key", HeaderValue::from_static("other"));
        headers.append("accept", HeaderValue::from_static("a"));
        headers.append("accept", HeaderValue::from_static("b"));
        headers.append("cookie", HeaderValue::from_static("id=1"));
        let secrets = Secrets::default();
        let record = start_record(&request, SystemTime::UNIX_EPOCH, &secrets);
        let joined = record.joined_headers(&secrets);
        assert!(joined.contains(&("x-api-key".into(), REDACTED.into())));
        assert!(joined.contains(&("accept".into(), "a, b".into())));
        assert!(joined.contains(&("cookie".into(), REDACTED.into())));
        assert_eq!(joined.len(), 3);
        let text = String::from_utf8_lossy(&record.text);
        assert!(!text.contains("secret"), "{text}");
        assert!(!text.contains("id=1"), "{text}");
    }
}
