//! The book's integration scenario, over real HTTP against the app served like `spin up`,
//! under Spin's instance reuse and with a fresh instance per request.

use super::common;

use serde_json::{Value, json};
use spin_test_host::{AppOptions, InstanceLimits, Server};

struct Client {
    http: reqwest::Client,
    base: String,
}

impl Client {
    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> (u16, Value) {
        // The book's client acts as an editor who also enters users' ratings.
        let mut request = self
            .http
            .request(method.clone(), format!("{}{path}", self.base))
            .bearer_auth(spin_test_host::movie_system::editor_token());
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request
            .send()
            .await
            .unwrap_or_else(|e| panic!("{method} {path}: {e}"));
        let status = response.status().as_u16();
        let text = response
            .text()
            .await
            .unwrap_or_else(|e| panic!("{method} {path}: {e}"));
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    /// GETs `path`, asserts the answer, naming the request if it differs.
    async fn get(&self, path: &str, expected: (u16, Value)) {
        let answer = self.call(reqwest::Method::GET, path, None).await;
        assert_eq!(answer, expected, "GET {path}");
    }

    /// Like [`Self::get`], with `Cache-Control: no-cache`: a client that must see its own
    /// writes at once asks for a composed view (a cached one may be up to the cache's fresh
    /// TTL old, README "Reliability").
    async fn get_uncached(&self, path: &str, expected: (u16, Value)) {
        let response = self
            .http
            .get(format!("{}{path}", self.base))
            .header("cache-control", "no-cache")
            .send()
            .await
            .unwrap_or_else(|e| panic!("GET {path}: {e}"));
        let status = response.status().as_u16();
        let text = response.text().await.unwrap_or_default();
        let answer = (status, serde_json::from_str(&text).unwrap_or(Value::Null));
        assert_eq!(answer, expected, "GET {path} (no-cache)");
    }

    /// PUTs `body` to `path`, asserts the status, and returns the body.
    async fn put(&self, path: &str, body: Option<Value>, status: u16) -> Value {
        let (answered, body) = self.call(reqwest::Method::PUT, path, body).await;
        assert_eq!(answered, status, "PUT {path}: {body}");
        body
    }
}

/// The app served over HTTP with the given reuse, and a client for it. The app and the server
/// must outlive the client's requests.
async fn serve(limits: InstanceLimits) -> (common::MovieSystem, Server, Client) {
    let app = common::movie_system_with(AppOptions {
        limits,
        ..AppOptions::default()
    });
    let server = app.serve().await.expect("serve");
    let client = Client {
        http: reqwest::Client::new(),
        base: server.url(),
    };
    (app, server, client)
}

async fn scenario(limits: InstanceLimits) {
    let (_app, _server, client) = serve(limits).await;
    let godfather = json!({
        "id": "tt0068646",
        "title": "The Godfather",
        "description": "The aging patriarch of an organized crime dynasty transfers control to his son.",
        "director": "Francis Ford Coppola"
    });

    let stored = client
        .put("/metadata/tt0068646", Some(godfather.clone()), 201)
        .await;
    assert_eq!(
        stored, godfather,
        "PUT /metadata/tt0068646 answers what it stored"
    );
    client
        .get("/metadata/tt0068646", (200, godfather.clone()))
        .await;
    let unrated =
        json!({"id": "tt0068646", "metadata": godfather, "rating": null, "ratingCount": 0});
    client.get("/movies/tt0068646", (200, unrated)).await;

    for (user, value) in [("alice", 5), ("bob", 4), ("carol", 3)] {
        let path = format!("/ratings/movie/tt0068646/users/{user}");
        let stored = client.put(&path, Some(json!({"value": value})), 201).await;
        assert_eq!(
            stored,
            json!({"recordType": "movie", "recordId": "tt0068646", "userId": user, "value": value}),
            "PUT {path} answers what it stored"
        );
    }
    let aggregate = |average: f64| json!({"recordType": "movie", "recordId": "tt0068646", "average": average, "count": 3});
    client
        .get("/ratings/movie/tt0068646", (200, aggregate(4.0)))
        .await;

    // carol changes her mind: her rating is replaced, not added.
    let carol = "/ratings/movie/tt0068646/users/carol";
    client.put(carol, Some(json!({"value": 5})), 200).await;
    client
        .get("/ratings/movie/tt0068646", (200, aggregate(14.0 / 3.0)))
        .await;
    let rated =
        json!({"id": "tt0068646", "metadata": godfather, "rating": 14.0 / 3.0, "ratingCount": 3});
    client.get_uncached("/movies/tt0068646", (200, rated)).await;
}

async fn book_routes(limits: InstanceLimits) {
    let (_app, _server, client) = serve(limits).await;
    let metadata =
        json!({"id": "m1", "title": "Heat", "description": "", "director": "Michael Mann"});
    client
        .put("/metadata/m1", Some(metadata.clone()), 201)
        .await;
    client.get("/metadata?id=m1", (200, metadata.clone())).await;
    client
        .get("/movie?id=m1", (200, json!({"metadata": metadata})))
        .await;
    let (unrated, _) = client
        .call(reqwest::Method::GET, "/rating?id=m1&type=movie", None)
        .await;
    assert_eq!(
        unrated, 404,
        "GET /rating?id=m1&type=movie before any rating"
    );

    client
        .put("/rating?id=m1&type=movie&userId=u1&value=2", None, 201)
        .await;
    client
        .put("/rating?id=m1&type=movie&userId=u2&value=5", None, 201)
        .await;
    client
        .put("/rating?id=m1&type=movie&userId=u1&value=4", None, 200)
        .await;
    client
        .get("/rating?id=m1&type=movie", (200, json!(4.5)))
        .await;
    client
        .get_uncached(
            "/movie?id=m1",
            (200, json!({"rating": 4.5, "metadata": metadata})),
        )
        .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_book_scenario_with_spins_instance_reuse() {
    scenario(InstanceLimits::default()).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_book_scenario_with_a_fresh_instance_per_request() {
    scenario(InstanceLimits::NO_REUSE).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_book_compatible_routes_with_spins_instance_reuse() {
    book_routes(InstanceLimits::default()).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_book_compatible_routes_with_a_fresh_instance_per_request() {
    book_routes(InstanceLimits::NO_REUSE).await;
}
