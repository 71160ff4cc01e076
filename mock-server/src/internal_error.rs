//! The 500 response of an internal failure, and the middleware that sends it for a panic.

use std::any::Any;
use std::collections::BTreeMap;
use std::fmt;

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use system_services_server::types::{Error, ErrorBody, ErrorData};

/// `error.message` of every 500 response.
pub const INTERNAL_ERROR_MESSAGE: &str = "An unexpected error occurred";

/// Logs `error` with a new error id and returns the 500 body that carries
/// the id in `data.error_id`. The body never contains `error` itself.
pub fn internal_error(error: &dyn fmt::Display) -> Error {
    let error_id = crate::telemetry::new_id();
    tracing::error!(
        request_id = crate::telemetry::request_id_field(),
        %error_id,
        %error,
        "internal error"
    );
    internal_error_body(error_id)
}

fn internal_error_body(error_id: String) -> Error {
    let extra = BTreeMap::from([("error_id".to_string(), error_id)]);
    Error {
        error: ErrorBody {
            message: INTERNAL_ERROR_MESSAGE.to_string(),
            data: Some(ErrorData {
                code: None,
                message: None,
                object_id: None,
                object_name: None,
                extra,
            }),
        },
    }
}

/// Logs the panic of a request handler, whose payload is `payload`, and
/// returns the 500 response to send in place of the handler's, so the
/// connection stays open for further requests.
pub(crate) fn panic_response(payload: Box<dyn Any + Send>) -> Response {
    let message = PanicMessage(payload.as_ref());
    let body = internal_error(&format_args!("request handler panicked: {message}"));
    (StatusCode::INTERNAL_SERVER_ERROR, Json(body)).into_response()
}

/// The message of a panic payload, for the `&str` and `String` payloads
/// that `panic!` creates.
struct PanicMessage<'a>(&'a (dyn Any + Send));

impl fmt::Display for PanicMessage<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(message) = self.0.downcast_ref::<&str>() {
            f.write_str(message)
        } else if let Some(message) = self.0.downcast_ref::<String>() {
            f.write_str(message)
        } else {
            f.write_str("payload of unknown type")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_error_body_matches_schema() {
        let body = serde_json::to_value(internal_error_body("abc".into())).unwrap();
        let expected = serde_json::json!({
            "error": {"message": "An unexpected error occurred", "data": {"error_id": "abc"}}
        });
        assert_eq!(body, expected);
    }

    #[test]
    fn panic_message_reads_common_payloads() {
        let text: Box<dyn Any + Send> = Box::new("static text");
        let owned: Box<dyn Any + Send> = Box::new(String::from("formatted 7"));
        let other: Box<dyn Any + Send> = Box::new(7_u8);
        assert_eq!(PanicMessage(text.as_ref()).to_string(), "static text");
        assert_eq!(PanicMessage(owned.as_ref()).to_string(), "formatted 7");
        assert_eq!(
            PanicMessage(other.as_ref()).to_string(),
            "payload of unknown type"
        );
    }
}
