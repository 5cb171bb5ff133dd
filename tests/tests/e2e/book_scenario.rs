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
        let mut request = self.http.request(method, format!("{}{path}", self.base));
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("request");
        let status = response.status().as_u16();
        let text = response.text().await.expect("body");
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    async fn get(&self, path: &str) -> (u16, Value) {
        self.call(reqwest::Method::GET, path, None).await
    }

    async fn put(&self, path: &str, body: Option<Value>) -> (u16, Value) {
        self.call(reqwest::Method::PUT, path, body).await
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

    assert_eq!(
        client
            .put("/metadata/tt0068646", Some(godfather.clone()))
            .await,
        (201, godfather.clone())
    );
    assert_eq!(
        client.get("/metadata/tt0068646").await,
        (200, godfather.clone())
    );

    let (status, details) = client.get("/movies/tt0068646").await;
    assert_eq!(status, 200);
    assert_eq!(
        details,
        json!({"id": "tt0068646", "metadata": godfather, "rating": null, "ratingCount": 0})
    );

    for (user, value) in [("alice", 5), ("bob", 4), ("carol", 3)] {
        let (status, stored) = client
            .put(
                &format!("/ratings/movie/tt0068646/users/{user}"),
                Some(json!({"value": value})),
            )
            .await;
        assert_eq!(status, 201, "{stored}");
        assert_eq!(
            stored,
            json!({"recordType": "movie", "recordId": "tt0068646", "userId": user, "value": value})
        );
    }
    let aggregate = client.get("/ratings/movie/tt0068646").await;
    assert_eq!(
        aggregate,
        (
            200,
            json!({"recordType": "movie", "recordId": "tt0068646", "average": 4.0, "count": 3})
        )
    );

    // carol changes her mind: her rating is replaced, not added.
    let (status, _) = client
        .put(
            "/ratings/movie/tt0068646/users/carol",
            Some(json!({"value": 5})),
        )
        .await;
    assert_eq!(status, 200);
    let (_, aggregate) = client.get("/ratings/movie/tt0068646").await;
    assert_eq!(aggregate["count"], 3);
    assert_eq!(aggregate["average"], 14.0 / 3.0);

    let (status, details) = client.get("/movies/tt0068646").await;
    assert_eq!(status, 200);
    assert_eq!(details["rating"], 14.0 / 3.0);
    assert_eq!(details["ratingCount"], 3);
    assert_eq!(details["metadata"], godfather);
}

async fn book_routes(limits: InstanceLimits) {
    let (_app, _server, client) = serve(limits).await;
    let metadata =
        json!({"id": "m1", "title": "Heat", "description": "", "director": "Michael Mann"});
    assert_eq!(
        client.put("/metadata/m1", Some(metadata.clone())).await.0,
        201
    );
    assert_eq!(client.get("/metadata?id=m1").await, (200, metadata.clone()));

    assert_eq!(
        client.get("/movie?id=m1").await,
        (200, json!({"metadata": metadata}))
    );
    assert_eq!(client.get("/rating?id=m1&type=movie").await.0, 404);

    assert_eq!(
        client
            .put("/rating?id=m1&type=movie&userId=u1&value=2", None)
            .await
            .0,
        201
    );
    assert_eq!(
        client
            .put("/rating?id=m1&type=movie&userId=u2&value=5", None)
            .await
            .0,
        201
    );
    assert_eq!(
        client
            .put("/rating?id=m1&type=movie&userId=u1&value=4", None)
            .await
            .0,
        200
    );
    assert_eq!(
        client.get("/rating?id=m1&type=movie").await,
        (200, json!(4.5))
    );
    assert_eq!(
        client.get("/movie?id=m1").await,
        (200, json!({"rating": 4.5, "metadata": metadata}))
    );
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
