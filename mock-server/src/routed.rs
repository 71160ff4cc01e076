//! The middleware that runs after routing, where the matched route is known:
//! the route template for the request's log line, the CORS preflight
//! response, the faults, the start of the request's session, and the `Prefer`
//! selection of a documented example.
//!
//! Each layer that `axum::Router::layer` adds wraps every route in a boxed
//! service, which the router clones for each request. So when the routes
//! of the router are known ([`Routes`]), this middleware wraps the whole
//! router and learns the route from [`Routes::mark`], which runs before it.
//! Otherwise the routes get it as one layer, which learns the route from
//! axum's `MatchedPath`. The rest of the middleware wraps the whole router
//! ([`crate::MockService`]).
//!
//! [`Routes::mark`] keeps the route in the request's telemetry context
//! rather than in its extensions: a fourth extension, beside the peer
//! address and axum's two, makes the extension map grow on every request.

use std::convert::Infallible;
use std::future::{Future, Ready};
use std::ops::Deref;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::extract::{MatchedPath, Request};
use axum::http::header::ALLOW;
use axum::http::{Extensions, HeaderValue, Method};
use axum::response::Response;
use futures_util::future::Either;

use tower_layer::Stack;
use tower_service::Service as _;

use axum::routing::future::RouteFuture;
use futures_util::FutureExt;
use futures_util::future::{BoxFuture, Map};
use system_services_server::{Matched, Operation, PathParams, Rejection};

use crate::cors::{self, Cors};
use crate::faults::{FaultLayer, FaultService, Faults};
use crate::telemetry;
use crate::{AnySpec, MockApi, prefer};

/// The path template of the route that serves a request, such as
/// `/system/services/active/{system_services_id}/terminate`.
pub(crate) enum MatchedRoute<'a> {
    /// The route that axum matched, inside the router.
    Axum(&'a MatchedPath),
    /// The route that [`Routes::mark`] found, before the router.
    Marked(Arc<str>),
}

impl MatchedRoute<'_> {
    /// Returns the route of `request`, if a route matched it.
    pub(crate) fn of<B>(request: &axum::http::Request<B>) -> Option<MatchedRoute<'_>> {
        MatchedRoute::in_extensions(request.extensions())
    }

    /// Returns the route of the request with `extensions`, if a route
    /// matched it.
    pub(crate) fn in_extensions(extensions: &Extensions) -> Option<MatchedRoute<'_>> {
        match extensions.get::<MatchedPath>() {
            Some(matched) => Some(MatchedRoute::Axum(matched)),
            None => telemetry::marked_route().map(MatchedRoute::Marked),
        }
    }
}

impl Deref for MatchedRoute<'_> {
    type Target = str;

    fn deref(&self) -> &str {
        match self {
            MatchedRoute::Axum(matched) => matched.as_str(),
            MatchedRoute::Marked(template) => template,
        }
    }
}

/// The path templates of a router's routes, to find the route of a request
/// before the router does, as axum would find it.
pub(crate) struct Routes {
    templates: matchit::Router<Arc<Route>>,
    /// Number of leading routes that belong to the generated router, whose
    /// operations [`Dispatch`] calls itself.
    operation_routes: usize,
}

/// A route of [`Routes`].
pub(crate) struct Route {
    /// Index of the route in the list given to [`Routes::new`].
    position: usize,
    template: Arc<str>,
    /// The methods of the route, as the value of an `Allow` header.
    allow: HeaderValue,
    /// The same methods, to compare a request's with.
    methods: Vec<Method>,
}

impl Route {
    /// Adds the `Allow` header that axum adds to a response to a method
    /// that the route does not serve, when `method` is such a method and
    /// `response` has none. The router's own responses to such a method
    /// have it already, and the middleware's need it.
    pub(crate) fn add_allow(&self, method: &Method, response: &mut Response) {
        if !self.methods.contains(method) && !response.headers().contains_key(ALLOW) {
            response.headers_mut().insert(ALLOW, self.allow.clone());
        }
    }
}

impl Routes {
    /// Builds the lookup of `routes`, the templates of a router's routes as
    /// given to `axum::Router::route`, each with the `Allow` header value
    /// that axum gives it.
    ///
    /// # Panics
    ///
    /// Panics when two templates conflict, as `axum::Router::route` does,
    /// or an `Allow` value is not a valid header value or list of methods.
    pub(crate) fn new<'a>(routes: impl IntoIterator<Item = (&'a str, &'a str)>) -> Self {
        let mut router = matchit::Router::new();
        for (position, (template, allow)) in routes.into_iter().enumerate() {
            let route = Route {
                position,
                template: Arc::from(template),
                allow: HeaderValue::from_str(allow).expect("a valid Allow header value"),
                methods: allow
                    .split(',')
                    .map(|method| Method::from_bytes(method.as_bytes()).expect("a valid method"))
                    .collect(),
            };
            if let Err(error) = router.insert(template, Arc::new(route)) {
                panic!("invalid route template {template}: {error}");
            }
        }
        Routes {
            templates: router,
            operation_routes: 0,
        }
    }

    /// Builds the lookup of the generated router's `ROUTES`, whose
    /// operations [`Dispatch`] calls itself, followed by `other_routes`.
    pub(crate) fn with_operations<'a>(
        operation_routes: &[(&'a str, &'a str)],
        other_routes: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Self {
        let routes = operation_routes.iter().copied().chain(other_routes);
        Routes {
            operation_routes: operation_routes.len(),
            ..Routes::new(routes)
        }
    }

    /// Stores the route of `request` as the [`MatchedRoute`] of the
    /// request that the current task serves, and returns it, if one of the
    /// templates matches its path. With it comes the generated operation
    /// that serves the request, if the route is a generated one and serves
    /// the request's method.
    pub(crate) fn mark(&self, request: &Request) -> Option<(Arc<Route>, Option<FoundOperation>)> {
        let matched = self.templates.at(request.uri().path()).ok()?;
        let route = matched.value;
        telemetry::mark_route(&route.template);
        let operation = (route.position < self.operation_routes)
            .then(|| Operation::find(route.position, request.method()))
            .flatten()
            .map(|operation| (operation, PathParams::decode(matched.params.iter())));
        Some((route.clone(), operation))
    }
}

/// A generated operation of [`Routes`] with the path parameters of its
/// route.
type FoundOperation = (Operation, Result<PathParams, Rejection>);

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

/// A router with the middleware of [`layer`] after routing.
#[derive(Clone)]
pub(crate) enum Routed {
    /// The middleware wraps the whole router, whose routes are known, and
    /// [`Routed::mark`] gives it the route before it runs.
    Whole(
        PreflightService<FaultService<PreferService<Dispatch>>>,
        Arc<Routes>,
    ),
    /// The middleware is a layer of each route of the router.
    PerRoute(axum::Router),
}

impl Routed {
    /// Puts the middleware of `layer` after the routing of `router`: around
    /// the whole router when its `routes` are known, and as a layer of each
    /// route otherwise.
    ///
    /// With `api`, the generated operations among the known routes are
    /// called without the router ([`Dispatch`]).
    pub(crate) fn new(
        router: axum::Router,
        routes: Option<Routes>,
        layer: Stack<Stack<PreferLayer, FaultLayer>, PreflightLayer>,
        api: Option<Arc<MockApi>>,
    ) -> Self {
        match routes {
            Some(routes) => {
                let dispatch = Dispatch {
                    router,
                    api,
                    found: None,
                };
                Routed::Whole(
                    tower_layer::Layer::layer(&layer, dispatch),
                    Arc::new(routes),
                )
            }
            None => Routed::PerRoute(router.layer(layer)),
        }
    }

    /// Stores the route of `request` for the middleware, and returns it,
    /// when the routes are known and one matches. The generated operation
    /// of the request, if it has one, is kept for [`Dispatch`], so that the
    /// routes are searched once.
    pub(crate) fn mark(&mut self, request: &Request) -> Option<Arc<Route>> {
        match self {
            Routed::Whole(service, routes) => {
                let (route, operation) = routes.mark(request)?;
                service.inner_mut().inner_mut().inner_mut().found = operation;
                Some(route)
            }
            Routed::PerRoute(_) => None,
        }
    }

    /// Returns the future of the response to `request`.
    pub(crate) fn call(
        &mut self,
        request: Request,
    ) -> impl Future<Output = Result<Response, Infallible>> + Send + 'static {
        match self {
            Routed::Whole(service, _) => Either::Left(service.call(request)),
            Routed::PerRoute(router) => Either::Right(router.call(request)),
        }
    }
}

/// The service inside the middleware of [`Routed::Whole`]. It calls the
/// generated operation of a request itself and passes the other requests
/// to the router.
///
/// The router would find the route again, store its path parameters and
/// template in the request's extensions, and box and clone the route's
/// handler.
pub(crate) struct Dispatch {
    router: axum::Router,
    /// The API that serves the operations.
    api: Option<Arc<MockApi>>,
    /// The operation of the request about to be called, from
    /// [`Routed::mark`].
    found: Option<FoundOperation>,
}

impl Clone for Dispatch {
    /// Clones the router and the API, without the operation of a request.
    fn clone(&self) -> Self {
        Dispatch {
            router: self.router.clone(),
            api: self.api.clone(),
            found: None,
        }
    }
}

impl tower_service::Service<Request> for Dispatch {
    type Response = Response;
    type Error = Infallible;
    type Future = Either<
        Map<BoxFuture<'static, Response>, fn(Response) -> Result<Response, Infallible>>,
        RouteFuture<Infallible>,
    >;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request) -> Self::Future {
        let found = self.found.take().zip(self.api.clone());
        match found {
            Some(((operation, params), api)) => {
                let peer = telemetry::client_address(&request);
                let matched = Matched { params, peer };
                let ok: fn(Response) -> Result<Response, Infallible> = Ok;
                Either::Left(operation.serve(api, request, matched).map(ok))
            }
            None => Either::Right(self.router.call(request)),
        }
    }
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

impl<S> PreflightService<S> {
    /// Returns the service that this one wraps.
    pub(crate) fn inner_mut(&mut self) -> &mut S {
        &mut self.inner
    }
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
        let preflight = match (&self.spec, MatchedRoute::of(&request)) {
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

impl<S> PreferService<S> {
    /// Returns the service that this one wraps.
    pub(crate) fn inner_mut(&mut self) -> &mut S {
        &mut self.inner
    }
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

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use axum::body::Body;

    use super::*;

    fn request(uri: &str) -> Request {
        Request::builder()
            .uri(uri)
            .body(Body::empty())
            .expect("a valid request")
    }

    /// Marks a request for `uri` inside a request's telemetry context, as
    /// the mock's service does, and returns the route it then has.
    async fn route_of(routes: &Routes, uri: &str) -> Option<String> {
        let request = request(uri);
        let found = Mutex::new(None);
        let slot = &found;
        telemetry::log_request(request, None, |request| async move {
            let _ = routes.mark(&request);
            let route = MatchedRoute::of(&request).map(|route| route.to_string());
            *slot.lock().expect("not poisoned") = route;
            Response::default()
        })
        .await;
        found.into_inner().expect("not poisoned")
    }

    #[tokio::test]
    async fn routes_mark_matching_template() {
        let routes = Routes::new([
            ("/services/{id}/terminate", "POST"),
            ("/jsonrpc", "POST"),
            ("/lab/%C3%BCber", "GET,HEAD"),
        ]);
        let terminate = route_of(&routes, "/services/cron/terminate?x=1").await;
        assert_eq!(terminate.as_deref(), Some("/services/{id}/terminate"));
        let encoded = route_of(&routes, "/services/a%2Fb/terminate").await;
        assert_eq!(encoded.as_deref(), Some("/services/{id}/terminate"));
        let jsonrpc = route_of(&routes, "/jsonrpc").await;
        assert_eq!(jsonrpc.as_deref(), Some("/jsonrpc"));
        let literal = route_of(&routes, "/lab/%C3%BCber").await;
        assert_eq!(literal.as_deref(), Some("/lab/%C3%BCber"));
    }

    #[tokio::test]
    async fn routes_leave_other_paths_unmarked() {
        let routes = Routes::new([("/services/{id}/terminate", "POST"), ("/jsonrpc", "POST")]);
        assert_eq!(route_of(&routes, "/services/cron").await, None);
        assert_eq!(route_of(&routes, "/jsonrpc/").await, None);
        assert_eq!(route_of(&routes, "/__mock/state").await, None);
    }

    #[test]
    fn allow_added_for_other_methods_only() {
        let routes = Routes::new([("/openapi.json", "GET,HEAD")]);
        let request = request("/openapi.json");
        let (route, _) = routes.mark(&request).expect("a route");
        for (method, expected) in [
            (Method::GET, None),
            (Method::HEAD, None),
            (Method::OPTIONS, Some("GET,HEAD")),
            (Method::POST, Some("GET,HEAD")),
        ] {
            let mut response = Response::default();
            route.add_allow(&method, &mut response);
            let allow = response
                .headers()
                .get(ALLOW)
                .map(|value| value.to_str().unwrap());
            assert_eq!(allow, expected, "{method}");
        }
        let mut response = Response::default();
        response
            .headers_mut()
            .insert(ALLOW, HeaderValue::from_static("GET"));
        route.add_allow(&Method::DELETE, &mut response);
        assert_eq!(response.headers()[ALLOW], "GET");
    }

    #[test]
    fn operations_found_on_generated_routes_only() {
        let routes = Routes::with_operations(
            system_services_server::ROUTES,
            [("/openapi.json", "GET,HEAD")],
        );
        let operation = |method: Method, uri: &str| {
            let mut request = request(uri);
            *request.method_mut() = method;
            let (_, operation) = routes.mark(&request)?;
            operation.map(|(operation, params)| (operation, params.is_ok()))
        };
        let terminate = "/system/services/active/cron/terminate";
        assert_eq!(
            operation(Method::POST, terminate),
            Some((Operation::MarkTerminate, true))
        );
        assert_eq!(
            operation(Method::POST, "/jsonrpc"),
            Some((Operation::Jsonrpc, true))
        );
        // A value that is not UTF-8 once decoded is the operation's 400.
        assert_eq!(
            operation(Method::POST, "/system/services/active/%FF/terminate"),
            Some((Operation::MarkTerminate, false))
        );
        assert_eq!(operation(Method::GET, terminate), None);
        assert_eq!(operation(Method::GET, "/openapi.json"), None);
        assert_eq!(operation(Method::POST, "/unknown"), None);
    }

    #[test]
    fn operation_params_percent_decoded() {
        let routes = Routes::with_operations(system_services_server::ROUTES, []);
        let mut request = request("/system/services/active/c%72on%2Fx/terminate");
        *request.method_mut() = Method::POST;
        let (_, operation) = routes.mark(&request).expect("the terminate route");
        let (_, params) = operation.expect("the terminate operation");
        let mut params = params.unwrap_or_else(|_| panic!("UTF-8 parameters"));
        assert_eq!(
            params.take("system_services_id").ok().as_deref(),
            Some("cron/x")
        );
    }

    #[test]
    fn no_route_outside_request() {
        let routes = Routes::new([("/jsonrpc", "POST")]);
        let request = request("/jsonrpc");
        assert!(routes.mark(&request).is_some());
        assert!(MatchedRoute::of(&request).is_none());
    }
}
