//! HTTP for the metadata service: routes requests to the controller and maps its outcomes to
//! status codes. Nothing here knows about SQLite.
//!
//! Routes (see `spin.toml`):
//! - `GET|PUT|DELETE /metadata/{id}`
//! - `GET /metadata?limit=&cursor=` (listing) and `GET /metadata?id=` (the book's route)
//! - `GET /health/metadata`

use crate::controller::{MetadataController, MetadataError, MetadataRepository};
use crate::etag::{ETag, matches_any};
use crate::model::{Cursor, Metadata, MovieId, PageLimit};
use crate::representation::{MetadataView, PageView, metadata_from_body};
use http::header::{ETAG, HeaderValue, IF_NONE_MATCH};
use http::{Method, Request, StatusCode};
use service_kit::request::{Query, RequestBody, json_object};
use service_kit::{FieldErrors, HttpResponse, Problem, health, respond};

pub async fn handle<R, B>(controller: &MetadataController<R>, request: Request<B>) -> HttpResponse
where
    R: MetadataRepository,
    B: RequestBody,
{
    route(controller, request)
        .await
        .unwrap_or_else(Problem::into_response)
}

async fn route<R, B>(
    controller: &MetadataController<R>,
    request: Request<B>,
) -> Result<HttpResponse, Problem>
where
    R: MetadataRepository,
    B: RequestBody,
{
    let path = request.uri().path().to_owned();
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    match (segments.as_slice(), request.method()) {
        (["metadata"], &Method::GET) => {
            let query = Query::parse(request.uri().query());
            match query.get("id") {
                Some(id) => get(controller, &parse_id(id)?, &request).await,
                None => list(controller, &query).await,
            }
        }
        (["metadata"], _) => Err(Problem::method_not_allowed("GET")),
        (["metadata", id], &Method::GET) => get(controller, &parse_id(id)?, &request).await,
        (["metadata", id], &Method::PUT) => {
            let id = parse_id(id)?;
            let (parts, body) = request.into_parts();
            let object = json_object(&parts.headers, body).await?;
            let metadata = metadata_from_body(id, object)?;
            let stored = controller.put(&metadata).await.map_err(problem)?;
            representation(stored.status(), &metadata)
        }
        (["metadata", id], &Method::DELETE) => {
            controller.delete(&parse_id(id)?).await.map_err(problem)?;
            Ok(respond::empty(StatusCode::NO_CONTENT))
        }
        (["metadata", _], _) => Err(Problem::method_not_allowed("GET, PUT, DELETE")),
        (["health", "metadata"], &Method::GET) => {
            let outcome = controller.health().await;
            Ok(health::report("metadata", &[("sqlite", outcome)]))
        }
        (["health", "metadata"], _) => Err(Problem::method_not_allowed("GET")),
        _ => Err(Problem::not_found(format!("no resource at {path}"))),
    }
}

async fn get<R: MetadataRepository, B>(
    controller: &MetadataController<R>,
    id: &MovieId,
    request: &Request<B>,
) -> Result<HttpResponse, Problem> {
    let metadata = controller.get(id).await.map_err(problem)?;
    let response = representation(StatusCode::OK, &metadata)?;
    let current = response.headers().get(ETAG);
    let if_none_match = request.headers().get(IF_NONE_MATCH);
    match (current, if_none_match) {
        (Some(current), Some(wanted)) if matches_any(current, wanted) => {
            let mut not_modified = respond::empty(StatusCode::NOT_MODIFIED);
            not_modified.headers_mut().insert(ETAG, current.clone());
            Ok(not_modified)
        }
        _ => Ok(response),
    }
}

async fn list<R: MetadataRepository>(
    controller: &MetadataController<R>,
    query: &Query,
) -> Result<HttpResponse, Problem> {
    let mut errors = FieldErrors::new();
    let limit = errors.check(
        "limit",
        query.get("limit").map(PageLimit::parse).transpose(),
    );
    let cursor = errors.check("cursor", query.get("cursor").map(Cursor::parse).transpose());
    let (Some(limit), Some(cursor)) = (limit, cursor) else {
        return Err(Problem::invalid_fields(errors.into_vec()));
    };
    let page = controller
        .list(cursor.as_ref(), limit.unwrap_or_default())
        .await
        .map_err(problem)?;
    Ok(respond::json(StatusCode::OK, &PageView::from(&page)))
}

fn parse_id(raw: &str) -> Result<MovieId, Problem> {
    let mut errors = FieldErrors::new();
    errors
        .check("id", MovieId::parse(raw))
        .ok_or_else(|| Problem::invalid_fields(errors.into_vec()))
}

/// The stored metadata with its ETag. The tag is derived from the representation's bytes, so
/// equal bodies share a tag and a change to any field changes it.
fn representation(status: StatusCode, metadata: &Metadata) -> Result<HttpResponse, Problem> {
    let body = serde_json::to_vec(&MetadataView::from(metadata)).map_err(|error| {
        eprintln!("serialising metadata failed: {error}");
        Problem::internal()
    })?;
    let tag =
        HeaderValue::try_from(ETag::of(&body).to_string()).map_err(|_| Problem::internal())?;
    let mut response = respond::bytes(status, respond::JSON, body);
    response.headers_mut().insert(ETAG, tag);
    Ok(response)
}

/// Controller errors become problems here and only here.
fn problem(error: MetadataError) -> Problem {
    match error {
        MetadataError::NotFound(_) => Problem::not_found(error.to_string()),
        MetadataError::Storage(failure) => {
            eprintln!("metadata storage: {failure}");
            Problem::internal()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::repository::memory::InMemoryMetadataRepository;
    use serde_json::{Value, json};
    use service_kit::testing::{block_on, read, rejected_fields, request};

    fn controller() -> MetadataController<InMemoryMetadataRepository> {
        MetadataController::new(InMemoryMetadataRepository::default())
    }

    fn call(
        controller: &MetadataController<InMemoryMetadataRepository>,
        method: Method,
        uri: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        read(block_on(handle(controller, request(method, uri, body))))
    }

    fn godfather() -> Value {
        json!({"title": "The Godfather", "description": "Family business", "director": "Coppola"})
    }

    #[test]
    fn put_creates_with_201_then_replaces_with_200_and_get_returns_it() {
        let c = controller();
        let (status, body) = call(&c, Method::PUT, "/metadata/m1", Some(godfather()));
        assert_eq!(status, StatusCode::CREATED);
        assert_eq!(body["id"], "m1");
        let (status, _) = call(
            &c,
            Method::PUT,
            "/metadata/m1",
            Some(json!({"title": "New"})),
        );
        assert_eq!(status, StatusCode::OK);
        let (status, body) = call(&c, Method::GET, "/metadata/m1", None);
        assert_eq!(status, StatusCode::OK);
        assert_eq!(
            body,
            json!({"id": "m1", "title": "New", "description": "", "director": ""})
        );
    }

    #[test]
    fn the_book_query_route_answers_like_the_path_route() {
        let c = controller();
        call(&c, Method::PUT, "/metadata/m1", Some(godfather()));
        assert_eq!(
            call(&c, Method::GET, "/metadata?id=m1", None),
            call(&c, Method::GET, "/metadata/m1", None)
        );
        assert_eq!(
            call(&c, Method::GET, "/metadata?id=zz", None).0,
            StatusCode::NOT_FOUND
        );
    }

    #[test]
    fn an_absent_movie_is_404_with_a_problem_body() {
        let (status, body) = call(&controller(), Method::GET, "/metadata/nope", None);
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert_eq!(body["status"], 404);
        assert_eq!(body["type"], "about:blank");
    }

    #[test]
    fn every_invalid_field_is_named_and_nothing_is_stored() {
        let c = controller();
        let body = json!({"id": "other", "title": " ", "director": "d".repeat(257), "rating": 5});
        let (status, problem) = call(&c, Method::PUT, "/metadata/m1", Some(body));
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(
            rejected_fields(&problem),
            ["id", "title", "director", "rating"]
        );
        assert_eq!(
            call(&c, Method::GET, "/metadata/m1", None).0,
            StatusCode::NOT_FOUND
        );
    }

    #[test]
    fn an_invalid_path_id_is_400_naming_id() {
        let (status, problem) = call(&controller(), Method::GET, "/metadata/a%20b", None);
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(rejected_fields(&problem), ["id"]);
    }

    #[test]
    fn unsupported_methods_are_405_with_allow() {
        let c = controller();
        let response = block_on(handle(&c, request(Method::POST, "/metadata/m1", None)));
        assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(response.headers()["allow"], "GET, PUT, DELETE");
        let response = block_on(handle(&c, request(Method::DELETE, "/metadata", None)));
        assert_eq!(response.headers()["allow"], "GET");
    }

    #[test]
    fn a_write_without_a_json_media_type_is_415() {
        let request = Request::builder()
            .method(Method::PUT)
            .uri("/metadata/m1")
            .header("content-type", "text/plain")
            .body(http_body_util::Full::new(bytes::Bytes::from(
                godfather().to_string(),
            )))
            .unwrap();
        let c = controller();
        assert_eq!(
            read(block_on(handle(&c, request))).0,
            StatusCode::UNSUPPORTED_MEDIA_TYPE
        );
        assert_eq!(
            call(&c, Method::GET, "/metadata/m1", None).0,
            StatusCode::NOT_FOUND
        );
    }

    #[test]
    fn delete_is_204_whether_or_not_the_movie_existed() {
        let c = controller();
        call(&c, Method::PUT, "/metadata/m1", Some(godfather()));
        assert_eq!(
            call(&c, Method::DELETE, "/metadata/m1", None).0,
            StatusCode::NO_CONTENT
        );
        assert_eq!(
            call(&c, Method::DELETE, "/metadata/m1", None).0,
            StatusCode::NO_CONTENT
        );
        assert_eq!(
            call(&c, Method::GET, "/metadata/m1", None).0,
            StatusCode::NOT_FOUND
        );
    }

    #[test]
    fn a_matching_if_none_match_is_304_and_a_changed_movie_is_200() {
        let c = controller();
        call(&c, Method::PUT, "/metadata/m1", Some(godfather()));
        let response = block_on(handle(&c, request(Method::GET, "/metadata/m1", None)));
        let etag = response.headers()[ETAG].clone();
        let conditional = |etag: &HeaderValue| {
            let mut request = request(Method::GET, "/metadata/m1", None);
            request.headers_mut().insert(IF_NONE_MATCH, etag.clone());
            block_on(handle(&c, request)).status()
        };
        assert_eq!(conditional(&etag), StatusCode::NOT_MODIFIED);
        call(
            &c,
            Method::PUT,
            "/metadata/m1",
            Some(json!({"title": "Changed"})),
        );
        assert_eq!(conditional(&etag), StatusCode::OK);
    }

    #[test]
    fn the_listing_pages_with_a_cursor_and_rejects_bad_parameters() {
        let c = controller();
        for id in ["b", "a", "c"] {
            call(
                &c,
                Method::PUT,
                &format!("/metadata/{id}"),
                Some(godfather()),
            );
        }
        let (status, first) = call(&c, Method::GET, "/metadata?limit=2", None);
        assert_eq!(status, StatusCode::OK);
        assert_eq!(first["items"].as_array().map(Vec::len), Some(2));
        let cursor = first["nextCursor"].as_str().unwrap();
        let (_, second) = call(
            &c,
            Method::GET,
            &format!("/metadata?limit=2&cursor={cursor}"),
            None,
        );
        assert_eq!(second["items"][0]["id"], "c");
        assert_eq!(second["nextCursor"], Value::Null);
        let (status, problem) = call(&c, Method::GET, "/metadata?limit=0&cursor=zz", None);
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(rejected_fields(&problem), ["limit", "cursor"]);
    }

    #[test]
    fn a_storage_failure_is_a_500_that_hides_the_cause() {
        let repository = InMemoryMetadataRepository::default();
        repository.failing.set(true);
        let c = MetadataController::new(repository);
        let (status, body) = call(&c, Method::GET, "/metadata/m1", None);
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
        assert!(!body.to_string().contains("in-memory"), "{body}");
    }

    #[test]
    fn health_is_200_when_the_store_answers_and_503_when_not() {
        let c = controller();
        assert_eq!(
            call(&c, Method::GET, "/health/metadata", None).0,
            StatusCode::OK
        );
        let repository = InMemoryMetadataRepository::default();
        repository.failing.set(true);
        let c = MetadataController::new(repository);
        let (status, body) = call(&c, Method::GET, "/health/metadata", None);
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(body["status"], "fail");
    }

    #[test]
    fn unknown_paths_are_404() {
        assert_eq!(
            call(&controller(), Method::GET, "/metadata/a/b", None).0,
            StatusCode::NOT_FOUND
        );
    }
}
