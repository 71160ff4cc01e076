//! The middleware that runs after routing, where the matched route is known:
//! the route template for the request's log line, the CORS preflight
//! response, the faults, the start of the request's session, and the `Prefer`
//! selection of a documented example.
//!
//! Each layer that `axum::Router::layer` adds wraps every route in a boxed
//! service, which the router clones for each request. So the routes get
//! this one layer, and the rest of the middleware wraps the whole router
//! ([`crate::MockService`]).

use std::convert::Infallible;
use std::future::Ready;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::extract::{MatchedPath, Request};
use axum::response::Response;
use futures_util::future::Either;

use tower_layer::Stack;

use crate::cors::{self, Cors};
use crate::faults::{FaultLayer, Faults};
use crate::telemetry;
use crate::{AnySpec, MockApi, prefer};

/// Builds the one layer of the routes: from the outside in, the route
/// template for the log line and the CORS preflight response (with
/// `cors`), the faults of `api` for requests whose API key it accepts,
/// and its `Prefer` selection. Without an
/// API, only the first part runs.
pub(crate) fn layer(
    cors: Option<Arc<Cors>>,
    api: Option<Arc<MockApi>>,
) -> Stack<Stack<PreferLayer, FaultLayer>, PreflightLayer> {
    let faults = match &api {
        Some(api) => api.faults().clone(),
        None => Arc::new(Faults::new(0)),
    };
    let spec = api.as_ref().and_then(|api| api.spec().cloned());
    Stack::new(
        Stack::new(
            PreferLayer { api: api.clone() },
            FaultLayer::new(faults, api),
        ),
        PreflightLayer { cors, spec },
    )
}

/// Tower layer that stores the route template for the log line and
/// responds to CORS preflight requests.
#[derive(Clone)]
pub(crate) struct PreflightLayer {
    /// The CORS policy whose preflight requests get a response, if any.
    cors: Option<Arc<Cors>>,
    /// The document that `--spec` loads, whose paths the mock routes by
    /// itself, after axum's routes.
    spec: Option<Arc<AnySpec>>,
}

impl<S> tower_layer::Layer<S> for PreflightLayer {
    type Service = PreflightService<S>;

    fn layer(&self, inner: S) -> PreflightService<S> {
        PreflightService {
            inner,
            cors: self.cors.clone(),
            spec: self.spec.clone(),
        }
    }
}

/// The service of [`PreflightLayer`].
#[derive(Clone)]
pub(crate) struct PreflightService<S> {
    inner: S,
    cors: Option<Arc<Cors>>,
    spec: Option<Arc<AnySpec>>,
}

impl<S> tower_service::Service<Request> for PreflightService<S>
where
    S: tower_service::Service<Request, Response = Response, Error = Infallible>,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Either<S::Future, Ready<Result<Response, Infallible>>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        telemetry::note_route(&request);
        let preflight = match (&self.spec, request.extensions().get::<MatchedPath>()) {
            (Some(spec), None) => spec.route_request(self.cors.as_deref(), &request),
            _ => self
                .cors
                .as_ref()
                .and_then(|cors| cors::preflight(cors, &request)),
        };
        match preflight {
            Some(response) => Either::Right(std::future::ready(Ok(response))),
            None => Either::Left(self.inner.call(request)),
        }
    }
}

/// Tower layer that starts the session of a request with an accepted key,
/// rejects JSON-RPC requests with an invalid session name, and responds to
/// `Prefer` selections of documented examples.
#[derive(Clone)]
pub(crate) struct PreferLayer {
    /// The API whose keys a selection checks; `None` ignores `Prefer`.
    api: Option<Arc<MockApi>>,
}

impl<S> tower_layer::Layer<S> for PreferLayer {
    type Service = PreferService<S>;

    fn layer(&self, inner: S) -> PreferService<S> {
        PreferService {
            inner,
            api: self.api.clone(),
        }
    }
}

/// The service of [`PreferLayer`].
#[derive(Clone)]
pub(crate) struct PreferService<S> {
    inner: S,
    api: Option<Arc<MockApi>>,
}

impl<S> tower_service::Service<Request> for PreferService<S>
where
    S: tower_service::Service<Request, Response = Response, Error = Infallible>,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Either<S::Future, Ready<Result<Response, Infallible>>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        let selected = self.api.as_ref().and_then(|api| {
            api.admit_session(&request)
                .or_else(|| prefer::select(api, &request))
        });
        match selected {
            Some(response) => Either::Right(std::future::ready(Ok(response))),
            None => Either::Left(self.inner.call(request)),
        }
    }
}
