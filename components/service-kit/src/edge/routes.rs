//! Routing written once: a component declares its name, its route table, its health checks
//! and one function per route; this module splits the path, captures `{name}` segments, serves
//! `GET /health/{name}`, and answers what no route handles: 404 for an unknown path, 405 with
//! `Allow` for a known path and another method.

use super::about::{self, About};
use super::access::{AccessNotes, Arrival, Failure};
use super::health::{self, Check};
use super::problem::Problem;
use super::rate_limit::{annotate, client_key};
use super::request::{Fields, RequestBody};
use super::respond::HttpResponse;
use super::setup::{Edge, Meter, Tokens};
use crate::auth::{Access, Principal, Rejection};
use crate::grpc::{Status, is_grpc};
use crate::rate_limit::ClientKey;
use http::{Method, Request, StatusCode};

/// One route: a method, a path pattern and the component's name for the route. A pattern is
/// a path whose `{name}` segments match any one segment and capture it under `name`, e.g.
/// `/ratings/{recordType}/{recordId}`. Captures are named after the fields they carry, so a
/// 400 names the same field as the pattern.
pub type Route<K> = (Method, &'static str, K);

/// What a route answers: a response, or the problem that stopped it.
pub type Answer = Result<HttpResponse, Problem>;

/// A request that matched a route, with the path parameters the route captured and, on a
/// protected route, the caller its token proved.
pub struct Routed<B> {
    pub params: Params,
    pub request: Request<B>,
    pub caller: Option<Principal>,
    /// Counts the request when the route learns it is expensive ([`Admission`]): a route
    /// that [`HttpService::is_metered`] names was counted before it ran.
    ///
    /// [`Admission`]: crate::rate_limit::Admission
    pub meter: Meter,
}

/// A component's HTTP surface: its name, route table and health checks, and what it does for
/// each route.
// Components are single-threaded, so the futures need not be `Send`.
#[allow(async_fn_in_trait)]
pub trait HttpService {
    /// The service's name. Its health report answers `GET /health/{NAME}`, outside the
    /// service's own paths so that no id can collide with it.
    const NAME: &'static str;

    /// How its edge checks bearer tokens: `Rc<Trust>` for a service with protected routes,
    /// [`NoTokens`](super::setup::NoTokens) for one whose routes are all public.
    type Tokens: Tokens;

    /// The component's names for its routes.
    type Route: Copy + 'static;

    /// Every route the component serves. The same pattern may appear once per method; their
    /// order is the order of the `Allow` header.
    const ROUTES: &'static [Route<Self::Route>];

    /// The service's catalog entry and where it is served, public like the health report.
    const ABOUT: About;

    /// One check per store or dependency the service owns.
    async fn health_checks(&self) -> Vec<Check>;

    /// Sections of the health report that inform without deciding its status: state of
    /// optional machinery an operator watches (rating's event pipeline). None by default.
    async fn health_details(&self) -> serde_json::Map<String, serde_json::Value> {
        serde_json::Map::new()
    }

    /// Who sees [`health_details`](Self::health_details). The report's pass or fail is public
    /// (probes and load balancers ask without a token); details that cost host calls or tell
    /// an outsider how the system is doing are for a scope. A request without a token gets
    /// the report without them, and they are not computed; one with a token is verified and
    /// refused (401, 403) like any protected route, so an operator learns why.
    const HEALTH_DETAILS: Access = Access::Public;

    /// Handles a request that matched `route`.
    async fn call<B: RequestBody>(&self, route: Self::Route, routed: Routed<B>) -> Answer;

    /// Who may call `route`. Everything is public unless a service says so; a protected
    /// route is refused (401 or 403) before anything else runs, rate limits included.
    fn access(_route: Self::Route) -> Access {
        Access::Public
    }

    /// Whether a request on `route` counts against its client's quota: what is expensive
    /// (writes). Nothing is metered unless a service says so.
    fn is_metered(_route: Self::Route) -> bool {
        false
    }
}

/// Answers a request: the health report, the matching route's response, or the problem that
/// stopped it; with its `x-request-id`, and its access line written.
pub async fn serve<S: HttpService, B: RequestBody>(
    edge: &Edge<S::Tokens>,
    service: &S,
    request: Request<B>,
) -> HttpResponse {
    serve_noted(edge, service, request, &()).await
}

/// [`serve`], with the service's own notes on the access line.
pub async fn serve_noted<S: HttpService, B: RequestBody>(
    edge: &Edge<S::Tokens>,
    service: &S,
    request: Request<B>,
    notes: &impl AccessNotes,
) -> HttpResponse {
    crate::telemetry::name_component(S::NAME);
    let arrival = Arrival::of(request.method(), request.uri().path(), request.headers());
    let grpc = is_grpc(request.headers());
    let (outcome, pattern) = if is_health_path(request.uri().path(), S::NAME) {
        let report = health_report(edge, service, &request).await;
        (report, Some(HEALTH_ROUTE))
    } else if request.uri().path() == S::ABOUT.path {
        (
            about::answer(&S::ABOUT, request.method()),
            Some(S::ABOUT.path),
        )
    } else {
        route(edge, service, request, grpc).await
    };
    let (mut response, failure) = match outcome {
        Ok(response) => (response, None),
        Err(problem) => {
            let failure = Failure {
                status: problem.status().as_u16(),
                error_type: problem.error_type(),
                cause: problem.cause().map(str::to_owned),
                grpc_code: None,
            };
            if grpc {
                let status = Status::from(problem);
                let failure = Failure {
                    grpc_code: Some(status.code.number()),
                    ..failure
                };
                (status.into_response(), Some(failure))
            } else {
                (problem.into_response(), Some(failure))
            }
        }
    };
    arrival.finish(S::NAME, pattern, &mut response, failure, notes);
    response
}

/// The route of every health report, as the access line names it.
const HEALTH_ROUTE: &str = "/health/{service}";

/// The route's answer: matched (or 404/405), authorized (or 401/403), counted (or 429), called.
/// For a gRPC caller, a path no route has is a method this service does not implement.
async fn route<S: HttpService, B: RequestBody>(
    edge: &Edge<S::Tokens>,
    service: &S,
    request: Request<B>,
    grpc: bool,
) -> (Answer, Option<&'static str>) {
    let path = request.uri().path();
    let resolved = resolve(S::ROUTES, request.method(), path).map_err(|problem| {
        if grpc && problem.status() == StatusCode::NOT_FOUND {
            Problem::new(
                StatusCode::NOT_IMPLEMENTED,
                format!("this service has no method {path}"),
            )
        } else {
            problem
        }
    });
    let (route, params, pattern) = match resolved {
        Ok(resolved) => resolved,
        Err(problem) => return (Err(problem), None),
    };
    let answer = async {
        let caller = authorize::<S, B>(edge, route, &request).await?;
        let client = match (&caller, edge.limits()) {
            (_, None) => ClientKey::unknown(),
            (Some(caller), Some(_)) => ClientKey::subject(&caller.subject),
            (None, Some(limits)) => client_key(request.headers(), &limits.trusted),
        };
        let routed = Routed {
            params,
            request,
            caller,
            meter: edge.meter(client),
        };
        metered(service, route, routed).await
    };
    (answer.await, Some(pattern))
}

/// The verified caller of a protected route (none for a public one), or the 401, 403 or 503
/// that refuses the request.
async fn authorize<S: HttpService, B>(
    edge: &Edge<S::Tokens>,
    route: S::Route,
    request: &Request<B>,
) -> Result<Option<Principal>, Problem> {
    let access = S::access(route);
    if access == Access::Public {
        return Ok(None);
    }
    let authorization = request
        .headers()
        .get(http::header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok());
    caller_with(edge, access, authorization).await.map(Some)
}

/// The caller an `Authorization` header value proves, if it has `access`; the 401, 403 or 503
/// that refuses it otherwise.
async fn caller_with<T: Tokens>(
    edge: &Edge<T>,
    access: Access,
    authorization: Option<&str>,
) -> Result<Principal, Problem> {
    let caller = edge.authenticate(authorization).await?;
    if !caller.may(access) {
        let scope = access.first_scope().unwrap_or_default();
        return Err(Problem::from(Rejection::InsufficientScope(scope)));
    }
    Ok(caller)
}

/// Calls the route, first counting the request if the route is metered: over the quota it is
/// a 429 and nothing runs. A route that counts itself while it runs ([`Meter`]) is counted
/// then. Either way a counted answer carries the `RateLimit` headers.
async fn metered<S: HttpService, B: RequestBody>(
    service: &S,
    route: S::Route,
    routed: Routed<B>,
) -> Answer {
    let meter = routed.meter.clone();
    if S::is_metered(route)
        && let Some(decision) = meter.count().await?
        && !decision.allowed
    {
        return Err(Problem::from(meter.over_quota(decision)));
    }
    let mut answer = service.call(route, routed).await;
    if let (Ok(response), Some(decision)) = (&mut answer, meter.decision()) {
        annotate(response, &decision);
    }
    answer
}

fn is_health_path(path: &str, service: &str) -> bool {
    path.strip_prefix("/health/") == Some(service)
}

async fn health_report<S: HttpService, B>(
    edge: &Edge<S::Tokens>,
    service: &S,
    request: &Request<B>,
) -> Answer {
    if request.method() != Method::GET {
        return Err(Problem::method_not_allowed(Method::GET.to_string()));
    }
    let authorization = request.headers().get(http::header::AUTHORIZATION);
    let with_details = match (S::HEALTH_DETAILS, authorization) {
        (Access::Public, _) => true,
        (_, None) => false,
        (access, Some(authorization)) => {
            caller_with(edge, access, authorization.to_str().ok()).await?;
            true
        }
    };
    let details = async {
        if with_details {
            service.health_details().await
        } else {
            serde_json::Map::new()
        }
    };
    let (checks, details) = futures::join!(service.health_checks(), details);
    Ok(health::report(S::NAME, &checks, details))
}

/// The route for `method` on `path`, its captured parameters and its pattern; 405 naming the
/// methods the path does support, or 404 when no pattern matches the path.
pub fn resolve<K: Copy>(
    routes: &[Route<K>],
    method: &Method,
    path: &str,
) -> Result<(K, Params, &'static str), Problem> {
    // A path that a pattern without captures names exactly belongs to that pattern's routes,
    // whatever the method: `PUT /metadata/export` is 405, not a write of movie "export".
    let literal = routes
        .iter()
        .any(|(_, pattern, _)| !pattern.contains('{') && capture(pattern, path).is_some());
    let candidates = || {
        routes
            .iter()
            .filter(move |(_, pattern, _)| !literal || !pattern.contains('{'))
    };
    let for_method = candidates().filter(|(route_method, ..)| route_method == method);
    for (_, pattern, route) in for_method {
        if let Some(params) = capture(pattern, path) {
            return Ok((*route, params, pattern));
        }
    }
    let mut allowed: Vec<&str> = Vec::new();
    for (route_method, pattern, _) in candidates() {
        if capture(pattern, path).is_some() && !allowed.contains(&route_method.as_str()) {
            allowed.push(route_method.as_str());
        }
    }
    if allowed.is_empty() {
        Err(Problem::not_found(format!("no resource at {path}")))
    } else {
        Err(Problem::method_not_allowed(allowed.join(", ")))
    }
}

/// The parameters `pattern` captures from `path`, or `None` when it does not match.
fn capture(pattern: &'static str, path: &str) -> Option<Params> {
    let mut wanted = segments(pattern);
    let mut actual = segments(path);
    let mut captured = Vec::new();
    loop {
        match (wanted.next(), actual.next()) {
            (None, None) => return Some(Params { captured }),
            (Some(want), Some(got)) => {
                match want.strip_prefix('{').and_then(|w| w.strip_suffix('}')) {
                    Some(name) => captured.push((name, got.to_owned())),
                    None if want == got => {}
                    None => return None,
                }
            }
            _ => return None,
        }
    }
}

fn segments(path: &str) -> std::str::Split<'_, char> {
    path.trim_start_matches('/').split('/')
}

/// The `{name}` segments a route captured from the path, still raw (percent-encoded as sent).
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Params {
    captured: Vec<(&'static str, String)>,
}

impl Fields for Params {
    fn get(&self, name: &str) -> Option<&str> {
        self.captured
            .iter()
            .find(|(key, _)| *key == name)
            .map(|(_, value)| value.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    enum Named {
        Collection,
        Read,
        Write,
        Nested,
    }

    const ROUTES: &[Route<Named>] = &[
        (Method::GET, "/things", Named::Collection),
        (Method::POST, "/things/import", Named::Collection),
        (Method::GET, "/things/{id}", Named::Read),
        (Method::PUT, "/things/{id}", Named::Write),
        (
            Method::DELETE,
            "/things/{kind}/{id}/parts/{part}",
            Named::Nested,
        ),
    ];

    fn route(method: Method, path: &str) -> Result<(Named, Params), Problem> {
        resolve(ROUTES, &method, path).map(|(route, params, _)| (route, params))
    }

    #[test]
    fn a_pattern_matches_its_method_and_captures_named_segments() {
        let (named, params) = route(Method::DELETE, "/things/movie/m1/parts/p%20q").unwrap();
        assert_eq!(named, Named::Nested);
        assert_eq!(params.get("kind"), Some("movie"));
        assert_eq!(params.get("id"), Some("m1"));
        assert_eq!(params.get("part"), Some("p%20q"), "captures stay raw");
    }

    #[test]
    fn a_literal_pattern_matches_only_its_own_path() {
        assert_eq!(
            route(Method::GET, "/things").map(|r| r.0),
            Ok(Named::Collection)
        );
        assert_eq!(
            route(Method::GET, "/things/m1").map(|r| r.0),
            Ok(Named::Read)
        );
    }

    #[test]
    fn a_path_a_literal_pattern_names_is_that_patterns_even_for_another_method() {
        let problem = route(Method::PUT, "/things/import")
            .err()
            .map(|p| p.status());
        assert_eq!(
            problem,
            Some(StatusCode::METHOD_NOT_ALLOWED),
            "PUT /things/import beside PUT /things/{{id}}"
        );
        assert_eq!(
            route(Method::POST, "/things/import").map(|r| r.0),
            Ok(Named::Collection)
        );
    }

    #[test]
    fn another_method_on_a_known_path_is_405_listing_the_methods_in_table_order() {
        let problem = route(Method::POST, "/things/m1")
            .unwrap_err()
            .into_response();
        assert_eq!(problem.status(), StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(problem.headers()["allow"], "GET, PUT");
    }

    #[test]
    fn a_path_no_pattern_matches_is_404() {
        for path in ["/things/m1/extra", "/thing", "/", "/things/a/b/parts"] {
            let status = route(Method::GET, path)
                .map(|r| r.0)
                .map_err(|p| p.status());
            assert_eq!(status, Err(StatusCode::NOT_FOUND), "{path}");
        }
    }

    /// A service whose reads count themselves while they run (twice, to show a request is
    /// counted once) and whose writes are metered before they run; without limits, neither is
    /// counted.
    struct Things;

    impl HttpService for Things {
        const NAME: &'static str = "things";
        const ABOUT: About = About {
            path: "/things/about",
            catalog_info: "kind: Component\n",
        };
        type Tokens = super::super::setup::NoTokens;
        type Route = Named;
        const ROUTES: &'static [Route<Named>] = ROUTES;

        async fn health_checks(&self) -> Vec<Check> {
            vec![Check::new("store", Ok::<_, String>(()))]
        }

        fn is_metered(route: Named) -> bool {
            route == Named::Write
        }

        async fn call<B: RequestBody>(&self, route: Named, routed: Routed<B>) -> Answer {
            use crate::rate_limit::Admission;
            if route == Named::Read {
                routed.meter.admit().await?;
                routed.meter.admit().await?;
            }
            Ok(super::super::respond::empty(StatusCode::NO_CONTENT))
        }
    }

    fn served(method: Method, uri: &str) -> HttpResponse {
        let request = crate::testing::request(method, uri, None);
        futures::executor::block_on(serve(&crate::testing::edge::<Things>(), &Things, request))
    }

    #[test]
    fn the_health_route_of_the_service_answers_its_report() {
        let response = served(Method::GET, "/health/things");
        assert_eq!(response.status(), StatusCode::OK);
    }

    #[test]
    fn the_health_route_refuses_other_methods_with_allow_get() {
        let response = served(Method::POST, "/health/things");
        assert_eq!(
            (response.status(), response.headers().get("allow").cloned()),
            (
                StatusCode::METHOD_NOT_ALLOWED,
                Some(http::HeaderValue::from_static("GET"))
            )
        );
    }

    #[test]
    fn another_services_health_route_is_404() {
        assert_eq!(
            served(Method::GET, "/health/other").status(),
            StatusCode::NOT_FOUND
        );
    }

    #[test]
    fn a_matched_route_is_called() {
        assert_eq!(
            served(Method::GET, "/things/m1").status(),
            StatusCode::NO_CONTENT
        );
    }

    #[test]
    fn an_empty_segment_is_captured_as_empty_and_left_to_the_parser() {
        let (_, params) = route(Method::GET, "/things/").unwrap();
        assert_eq!(params.get("id"), Some(""));
    }

    fn counting_edge(counter: super::super::setup::Counter) -> Edge<super::super::setup::NoTokens> {
        let limits = crate::rate_limit::Limits {
            policy: crate::rate_limit::RatePolicy {
                quota: 2,
                window_s: 60,
            },
            ..crate::rate_limit::Limits::OFF
        };
        Edge::new(super::super::setup::NoTokens).with_limits(limits, counter)
    }

    fn memory_edge() -> Edge<super::super::setup::NoTokens> {
        counting_edge(super::super::setup::Counter::memory())
    }

    fn counted(
        edge: &Edge<super::super::setup::NoTokens>,
        method: Method,
    ) -> (StatusCode, Option<String>) {
        let request = crate::testing::request(method, "/things/m1", None);
        let response = futures::executor::block_on(serve(edge, &Things, request));
        let left = response
            .headers()
            .get("ratelimit")
            .map(|value| value.to_str().unwrap().to_owned());
        (response.status(), left)
    }

    #[test]
    fn a_route_that_admits_itself_is_counted_once_and_says_what_is_left() {
        let edge = memory_edge();
        let (status, left) = counted(&edge, Method::GET);
        assert_eq!(status, StatusCode::NO_CONTENT);
        assert!(left.is_some_and(|l| l.contains(";r=1;")), "one of two used");
    }

    #[test]
    fn over_the_quota_a_self_admitting_route_is_429() {
        let edge = memory_edge();
        counted(&edge, Method::GET);
        counted(&edge, Method::GET);
        assert_eq!(counted(&edge, Method::GET).0, StatusCode::TOO_MANY_REQUESTS);
    }

    #[test]
    fn a_metered_route_and_a_self_admitting_one_share_the_quota() {
        let edge = memory_edge();
        counted(&edge, Method::PUT);
        counted(&edge, Method::GET);
        assert_eq!(counted(&edge, Method::PUT).0, StatusCode::TOO_MANY_REQUESTS);
    }

    #[test]
    fn a_failing_counter_lets_a_self_admitting_route_through_but_fails_a_metered_one() {
        let edge = counting_edge(super::super::setup::Counter::failing());
        assert_eq!(
            (counted(&edge, Method::GET).0, counted(&edge, Method::PUT).0),
            (StatusCode::NO_CONTENT, StatusCode::SERVICE_UNAVAILABLE)
        );
    }
}
