//! The API's router with the middleware around it, as one tower service.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::extract::Request;
use axum::response::Response;
use futures_util::FutureExt;
use futures_util::future::{BoxFuture, Map};
use tower_service::Service;

use crate::body_timeout::BodyDeadline;
use crate::cors::{Cors, CorsHeaders};
use crate::journal::{Journal, Recording};
use crate::routed::{Routed, Routes};
use crate::{AppOptions, MockApi, internal_error, routed, telemetry};

/// A router with the mock's middleware. From the outside in, it gives each
/// request an id and logs it ([`telemetry::log_request`]), and records it
/// in the API's journal ([`crate::journal`]). Unless the CORS policy is
/// `None`, it adds the CORS headers to every response ([`crate::cors`]).
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
    router: Routed,
    /// The journal that records each request, inside the log.
    journal: Option<Arc<Journal>>,
    cors: Option<Arc<Cors>>,
    body_read_timeout: Duration,
}

impl MockService {
    /// Wraps `router`; `api` is the API whose journal records the
    /// requests, and whose faults and `Prefer` selections apply to them, if
    /// any.
    ///
    /// `routes` are the templates of `router`'s routes, if they are known.
    /// A request on a route that is not among them misses the middleware
    /// that runs after routing.
    pub(crate) fn new(
        router: axum::Router,
        routes: Option<Routes>,
        options: &AppOptions,
        api: Option<Arc<MockApi>>,
    ) -> Self {
        let cors = options.cors.clone().map(Arc::new);
        let journal = api.as_ref().map(|api| api.journal().clone());
        let layer = routed::layer(cors.clone(), api.clone());
        let router = Routed::new(router, routes, layer, api);
        MockService {
            router,
            journal,
            cors,
            body_read_timeout: options.body_read_timeout,
        }
    }

    /// Returns the future of the response to `request`. The client address
    /// comes from the request's `ConnectInfo` extension, if it has one.
    pub fn serve(&self, request: Request) -> BoxFuture<'static, Response> {
        self.serve_from(request, None)
    }

    /// Returns the future of the response to `request` from the client at
    /// `peer`, which the middleware and handlers read in place of a
    /// `ConnectInfo` extension.
    pub fn serve_from(
        &self,
        request: Request,
        peer: Option<SocketAddr>,
    ) -> BoxFuture<'static, Response> {
        let service = self.clone();
        Box::pin(telemetry::log_request(request, peer, |request| {
            service.respond(request)
        }))
    }

    /// Runs the middleware inside the log line and the router on
    /// `request`. Each middleware is a step before and a step after the
    /// router, in one future, so that no middleware's future is built and
    /// moved into another's. The router's future is awaited as it is,
    /// because an `async fn` around it would store the request beside it.
    async fn respond(self, request: Request) -> Response {
        let MockService {
            router,
            journal,
            cors,
            body_read_timeout,
        } = self;
        // The route and the method, for the `Allow` header of the response.
        let mut router = router;
        let route = router
            .mark(&request)
            .map(|route| (route, request.method().clone()));
        let mut recording = journal
            .as_deref()
            .and_then(|journal| Recording::start(journal, &request));
        let cors_headers = CorsHeaders::for_request(cors.as_deref(), &request);
        let copy = recording
            .as_mut()
            .and_then(|recording| recording.body_copy(&request));
        let (deadline, request) = BodyDeadline::start(body_read_timeout, request, copy);

        // `AssertUnwindSafe` is sound because each lock that requests share,
        // such as those of the cluster state, faults and journal, recovers a
        // poisoned lock's value with `into_inner`.
        let result = AssertUnwindSafe(router.call(request)).catch_unwind().await;

        let copy = deadline.take_copy();
        // The response to a panic skips the deadline's step, as it skips
        // the rest of the handler.
        let mut response = match result {
            Ok(Ok(mut response)) => {
                // The router adds `Allow` to its own responses to a method
                // that the route does not serve, but not to the middleware's.
                if let Some((route, method)) = &route {
                    route.add_allow(method, &mut response);
                }
                deadline.finish(response)
            }
            Err(payload) => internal_error::panic_response(payload),
        };
        if let Some(cors_headers) = cors_headers {
            cors_headers.add_to(&mut response);
        }
        if let Some((recording, journal)) = recording.zip(journal) {
            recording.finish(&journal, copy, &response);
        }
        response
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
