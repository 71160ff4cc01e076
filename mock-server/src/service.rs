//! The API's router with the middleware around it, as one tower service.

use std::convert::Infallible;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::extract::Request;
use axum::response::Response;
use futures_util::FutureExt;
use futures_util::future::{BoxFuture, Map};
use tower_service::Service;

use crate::cors::{self, Cors};
use crate::journal::{self, Journal};
use crate::{AppOptions, MockApi, body_timeout, internal_error, routed, telemetry};

/// A router with the mock's middleware. From the outside in, it gives each
/// request an id and logs it ([`telemetry::log_request`]), and records it
/// in the API's journal ([`journal`]). Unless the CORS
/// policy is `None`, it adds the CORS headers to every response ([`cors`]).
/// It turns a handler panic into the documented 500 response, and gives
/// the request body the body deadline, responding to a later body with a
/// 408 in the documented error body. After routing, the routes respond to
/// CORS preflight requests and, for the API, apply its faults and respond
/// to `Prefer` selections (the `routed` module).
///
/// The middleware wraps the router as plain function calls in one boxed
/// future per request, rather than as router layers, which box and clone
/// each layer of each route for every request.
#[derive(Clone)]
pub struct MockService {
    router: axum::Router,
    /// The journal that records each request, inside the log.
    journal: Option<Arc<Journal>>,
    cors: Option<Arc<Cors>>,
    body_read_timeout: Duration,
}

impl MockService {
    /// Wraps `router`; `api` is the API whose journal records the
    /// requests, and whose faults and `Prefer` selections apply to them, if
    /// any.
    pub(crate) fn new(
        router: axum::Router,
        options: &AppOptions,
        api: Option<Arc<MockApi>>,
    ) -> Self {
        let cors = options.cors.clone().map(Arc::new);
        let journal = api.as_ref().map(|api| api.journal().clone());
        let router = router.layer(routed::layer(cors.clone(), api));
        MockService {
            router,
            journal,
            cors,
            body_read_timeout: options.body_read_timeout,
        }
    }

    /// Returns the future of the response to `request`.
    pub fn serve(&self, request: Request) -> BoxFuture<'static, Response> {
        let MockService {
            router,
            journal,
            cors,
            body_read_timeout,
        } = self.clone();
        let inner = move |request| {
            cors::add_cors_headers(cors, request, move |request| {
                let routed = body_timeout::limit_body_read(body_read_timeout, request, |request| {
                    route(router, request)
                });
                internal_error::catch_panic(routed)
            })
        };
        Box::pin(telemetry::log_request(request, |request| async move {
            match journal {
                Some(journal) => journal::record_request(&journal, request, inner).await,
                None => inner(request).await,
            }
        }))
    }
}

impl Service<Request> for MockService {
    type Response = Response;
    type Error = Infallible;
    type Future = Map<BoxFuture<'static, Response>, fn(Response) -> Result<Response, Infallible>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request) -> Self::Future {
        self.serve(request).map(Ok)
    }
}

/// Calls `router`, which is always ready, with `request`.
async fn route(mut router: axum::Router, request: Request) -> Response {
    match router.call(request).await {
        Ok(response) => response,
        Err(never) => match never {},
    }
}
