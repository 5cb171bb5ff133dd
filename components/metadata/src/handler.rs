//! HTTP for the metadata service: its route table and one function per route. Routing, 404,
//! 405, request reading and error statuses are the kit's ([`service_kit::edge`]); nothing here
//! knows about SQLite.

use crate::controller::{ImportId, MetadataController, MetadataRepository};
use crate::grpc;
use crate::model::{Cursor, Metadata, MovieId, PageLimit};
use crate::representation::{MetadataLine, MetadataView, PageView};
use futures::StreamExt;
use http::{Method, Request, StatusCode};
use movie_proto::paths;
use service_kit::FieldErrors;
use service_kit::auth::config::Trust;
use service_kit::auth::{Access, scopes};
use service_kit::edge::conditional::unless_unchanged;
use service_kit::edge::ndjson;
use service_kit::edge::negotiate::{self, Format, protobuf_message};
use service_kit::edge::respond::{self, write_status};
use service_kit::edge::{
    About, Answer, Check, Fields, HttpService, Query, RequestBody, Route, Routed, json_object,
};
use service_kit::telemetry::RequestId;
use std::rc::Rc;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetadataRoute {
    /// `GET /metadata?id=` (the book's route) or, without `id`, `GET /metadata?limit=&cursor=`.
    FindOrList,
    Get,
    Put,
    Delete,
    /// gRPC `MetadataService/GetMetadata`.
    RpcGet,
    /// gRPC `MetadataService/PutMetadata`.
    RpcPut,
    /// `GET /metadata/export`: every movie, NDJSON, streamed from one snapshot.
    Export,
    /// `POST /metadata/import`: NDJSON movies, validated line by line, applied together.
    Import,
}

impl<R: MetadataRepository> HttpService for MetadataController<R> {
    type Tokens = Rc<Trust>;
    const NAME: &'static str = "metadata";
    const ABOUT: About = About {
        path: "/metadata/about",
        catalog_info: include_str!("../catalog-info.yaml"),
    };
    type Route = MetadataRoute;

    const ROUTES: &'static [Route<MetadataRoute>] = &[
        (Method::GET, "/metadata", MetadataRoute::FindOrList),
        // Before `/metadata/{id}`: a table is matched in order (and neither name is a movie id).
        (Method::GET, "/metadata/export", MetadataRoute::Export),
        (Method::POST, "/metadata/import", MetadataRoute::Import),
        (Method::GET, "/metadata/{id}", MetadataRoute::Get),
        (Method::PUT, "/metadata/{id}", MetadataRoute::Put),
        (Method::DELETE, "/metadata/{id}", MetadataRoute::Delete),
        (Method::POST, paths::GET_METADATA, MetadataRoute::RpcGet),
        (Method::POST, paths::PUT_METADATA, MetadataRoute::RpcPut),
    ];

    async fn health_checks(&self) -> Vec<Check> {
        vec![Check::new("sqlite", self.health().await)]
    }

    /// Reads are public; a write needs a token granting `metadata:write`.
    fn access(route: MetadataRoute) -> Access {
        match route {
            MetadataRoute::Put
            | MetadataRoute::Delete
            | MetadataRoute::RpcPut
            | MetadataRoute::Import => Access::AnyScope(&[scopes::METADATA_WRITE]),
            MetadataRoute::FindOrList
            | MetadataRoute::Get
            | MetadataRoute::RpcGet
            | MetadataRoute::Export => Access::Public,
        }
    }

    /// Writes are metered, and so are the bulk routes, each one request however many movies
    /// it carries; reads are one primary-key lookup or a page of them.
    fn is_metered(route: MetadataRoute) -> bool {
        matches!(
            route,
            MetadataRoute::Put
                | MetadataRoute::Delete
                | MetadataRoute::RpcPut
                | MetadataRoute::Export
                | MetadataRoute::Import
        )
    }

    async fn call<B: RequestBody>(&self, route: MetadataRoute, routed: Routed<B>) -> Answer {
        let Routed {
            params, request, ..
        } = routed;
        match route {
            MetadataRoute::FindOrList => find_or_list(self, &request).await,
            MetadataRoute::Get => get(self, params.one("id", MovieId::parse)?, &request).await,
            MetadataRoute::Put => put(self, params.one("id", MovieId::parse)?, request).await,
            MetadataRoute::Delete => delete(self, params.one("id", MovieId::parse)?).await,
            MetadataRoute::RpcGet => grpc::get_metadata(self, request).await,
            MetadataRoute::RpcPut => grpc::put_metadata(self, request).await,
            MetadataRoute::Export => export(self).await,
            MetadataRoute::Import => import(self, request).await,
        }
    }
}

/// Every movie as NDJSON, one [`MetadataView`] per line, sent page by page.
async fn export<R: MetadataRepository>(controller: &MetadataController<R>) -> Answer {
    let pages = controller.export().await?;
    let lines = pages.map(|page| page.map(|movies| movies.into_iter().map(MetadataLine).collect()));
    Ok(ndjson::response("metadata", lines))
}

/// Reads the NDJSON body line by line and answers with the import's report.
async fn import<R: MetadataRepository, B: RequestBody>(
    controller: &MetadataController<R>,
    request: Request<B>,
) -> Answer {
    let (parts, body) = request.into_parts();
    ndjson::require_import(&parts.headers, &crate::import::LIMITS)?;
    let mut lines = ndjson::LineReader::new(body, crate::import::LIMITS);
    let import = ImportId(RequestId::generate().as_str().to_owned());
    let report = controller.import(&import, &mut lines).await?;
    Ok(respond::json(StatusCode::OK, &report))
}

/// The book's lookup by `?id=`, or else a page of the listing.
async fn find_or_list<R: MetadataRepository, B>(
    controller: &MetadataController<R>,
    request: &Request<B>,
) -> Answer {
    let query = Query::of(request);
    // The paging parameters are checked even beside `id`, which ignores them: a request is
    // refused for what it sends, whichever lookup it asks for.
    let mut errors = FieldErrors::new();
    let limit = errors.check(
        "limit",
        query.get("limit").map(PageLimit::parse).transpose(),
    );
    let cursor = errors.check("cursor", query.get("cursor").map(Cursor::parse).transpose());
    let id = errors.check("id", query.get("id").map(MovieId::parse).transpose());
    let ((limit, cursor), id) = errors.conclude(limit.zip(cursor).zip(id))?;
    if let Some(id) = id {
        return get(controller, id, request).await;
    }
    let page = controller
        .list(cursor.as_ref(), limit.unwrap_or_default())
        .await?;
    Ok(respond::json(StatusCode::OK, &PageView::from(&page)))
}

/// The movie's metadata, or 304 when the client's `If-None-Match` names its current tag.
async fn get<R: MetadataRepository, B>(
    controller: &MetadataController<R>,
    id: MovieId,
    request: &Request<B>,
) -> Answer {
    let metadata = controller.get(&id).await?;
    let format = Format::accepted(request.headers());
    let response = representation(StatusCode::OK, format, &metadata)?;
    Ok(unless_unchanged(response, request.headers()))
}

async fn put<R: MetadataRepository, B: RequestBody>(
    controller: &MetadataController<R>,
    id: MovieId,
    request: Request<B>,
) -> Answer {
    let (parts, body) = request.into_parts();
    let metadata = match Format::sent(&parts.headers) {
        Format::Json => Metadata::from_json(id, json_object(&parts.headers, body).await?)?,
        Format::Protobuf => {
            let message = protobuf_message(&parts.headers, body).await?;
            grpc::from_message(Some(message), "", Some(id))?
        }
    };
    let stored = controller.put(&metadata).await?;
    let format = Format::accepted(&parts.headers);
    representation(write_status(stored), format, &metadata)
}

async fn delete<R: MetadataRepository>(controller: &MetadataController<R>, id: MovieId) -> Answer {
    controller.delete(&id).await?;
    Ok(respond::empty(StatusCode::NO_CONTENT))
}

/// The stored metadata, as JSON or as the book's `Metadata` message, with its ETag.
fn representation(status: StatusCode, format: Format, metadata: &Metadata) -> Answer {
    negotiate::representation(status, format, &MetadataView::from(metadata), || {
        grpc::message(metadata)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::repository::memory::InMemoryMetadataRepository as Memory;
    use http::header::{ETAG, HeaderValue, IF_NONE_MATCH};
    use serde_json::{Value, json};
    use service_kit::testing::serve;
    use service_kit::testing::{
        assert_problem, block_on, call, call_as, health, rejected_fields, request, request_as,
        respond, token,
    };

    type Controller = MetadataController<Memory>;

    fn controller() -> Controller {
        MetadataController::new(Memory::default())
    }

    fn godfather() -> Value {
        json!({"title": "The Godfather", "description": "Family business", "director": "Coppola"})
    }

    /// A controller that already holds `m1`.
    fn with_movie() -> Controller {
        let c = controller();
        let (status, _) = call(&c, Method::PUT, "/metadata/m1", Some(godfather()));
        assert_eq!(status, StatusCode::CREATED, "seeding PUT /metadata/m1");
        c
    }

    fn status_of_get(c: &Controller, uri: &str) -> StatusCode {
        call(c, Method::GET, uri, None).0
    }

    #[test]
    fn a_first_put_is_201_with_the_stored_metadata() {
        let (status, body) = call(
            &controller(),
            Method::PUT,
            "/metadata/m1",
            Some(godfather()),
        );
        assert_eq!(status, StatusCode::CREATED, "PUT /metadata/m1: {body}");
        assert_eq!(body["id"], "m1", "PUT /metadata/m1 answers the stored id");
    }

    #[test]
    fn a_second_put_is_200() {
        let (status, _) = call(
            &with_movie(),
            Method::PUT,
            "/metadata/m1",
            Some(godfather()),
        );
        assert_eq!(status, StatusCode::OK, "second PUT /metadata/m1");
    }

    #[test]
    fn get_returns_the_last_put_with_omitted_fields_empty() {
        let c = with_movie();
        call(
            &c,
            Method::PUT,
            "/metadata/m1",
            Some(json!({"title": "New"})),
        );
        let (_, body) = call(&c, Method::GET, "/metadata/m1", None);
        assert_eq!(
            body,
            json!({"id": "m1", "title": "New", "description": "", "director": ""}),
            "GET /metadata/m1 after replacing it"
        );
    }

    #[test]
    fn the_book_query_route_answers_like_the_path_route() {
        let c = with_movie();
        assert_eq!(
            call(&c, Method::GET, "/metadata?id=m1", None),
            call(&c, Method::GET, "/metadata/m1", None),
            "GET /metadata?id=m1 against GET /metadata/m1"
        );
    }

    #[test]
    fn the_book_query_route_refuses_invalid_paging_parameters_too() {
        let uri = "/metadata?id=m1&limit=0";
        let (status, problem) = call(&with_movie(), Method::GET, uri, None);
        assert_eq!(status, StatusCode::BAD_REQUEST, "GET {uri}");
        assert_eq!(rejected_fields(&problem), ["limit"], "GET {uri}");
    }

    #[test]
    fn the_book_query_route_is_404_for_an_absent_movie() {
        let status = status_of_get(&with_movie(), "/metadata?id=zz");
        assert_eq!(status, StatusCode::NOT_FOUND, "GET /metadata?id=zz");
    }

    #[test]
    fn an_absent_movie_is_404_with_a_problem_body() {
        let answer = call(&controller(), Method::GET, "/metadata/nope", None);
        assert_problem(&answer, StatusCode::NOT_FOUND, "GET /metadata/nope");
    }

    #[test]
    fn a_put_with_invalid_fields_is_400_naming_each_one() {
        let body = json!({"id": "other", "title": " ", "director": "d".repeat(257), "rating": 5});
        let (status, problem) = call(&controller(), Method::PUT, "/metadata/m1", Some(body));
        assert_eq!(
            status,
            StatusCode::BAD_REQUEST,
            "PUT /metadata/m1: {problem}"
        );
        assert_eq!(
            rejected_fields(&problem),
            ["id", "title", "director", "rating"],
            "PUT /metadata/m1: {problem}"
        );
    }

    #[test]
    fn a_rejected_put_stores_nothing() {
        let c = controller();
        call(&c, Method::PUT, "/metadata/m1", Some(json!({"title": " "})));
        let status = status_of_get(&c, "/metadata/m1");
        assert_eq!(
            status,
            StatusCode::NOT_FOUND,
            "GET /metadata/m1 after a 400"
        );
    }

    #[test]
    fn an_invalid_path_id_is_400_naming_id() {
        let (status, problem) = call(&controller(), Method::GET, "/metadata/a%20b", None);
        assert_eq!(status, StatusCode::BAD_REQUEST, "GET /metadata/a%20b");
        assert_eq!(rejected_fields(&problem), ["id"], "GET /metadata/a%20b");
    }

    fn put_as_text(c: &Controller) -> StatusCode {
        let request = Request::builder()
            .method(Method::PUT)
            .uri("/metadata/m1")
            .header("content-type", "text/plain")
            .header(
                "authorization",
                format!("Bearer {}", service_kit::testing::editor_token()),
            )
            .body(http_body_util::Full::new(bytes::Bytes::from(
                godfather().to_string(),
            )))
            .unwrap();
        block_on(serve(c, request)).status()
    }

    #[test]
    fn a_write_without_a_json_media_type_is_415() {
        let status = put_as_text(&controller());
        assert_eq!(
            status,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "PUT /metadata/m1 as text/plain"
        );
    }

    #[test]
    fn a_write_without_a_json_media_type_stores_nothing() {
        let c = controller();
        put_as_text(&c);
        let status = status_of_get(&c, "/metadata/m1");
        assert_eq!(
            status,
            StatusCode::NOT_FOUND,
            "GET /metadata/m1 after a 415"
        );
    }

    #[test]
    fn delete_is_204_and_removes_the_movie() {
        let c = with_movie();
        let (status, _) = call(&c, Method::DELETE, "/metadata/m1", None);
        assert_eq!(status, StatusCode::NO_CONTENT, "DELETE /metadata/m1");
        let status = status_of_get(&c, "/metadata/m1");
        assert_eq!(
            status,
            StatusCode::NOT_FOUND,
            "GET /metadata/m1 after DELETE"
        );
    }

    #[test]
    fn deleting_an_absent_movie_is_204_too() {
        let (status, _) = call(&controller(), Method::DELETE, "/metadata/m1", None);
        assert_eq!(
            status,
            StatusCode::NO_CONTENT,
            "DELETE /metadata/m1 of nothing"
        );
    }

    fn conditional_get(c: &Controller, etag: &HeaderValue) -> StatusCode {
        let mut request = request(Method::GET, "/metadata/m1", None);
        request.headers_mut().insert(IF_NONE_MATCH, etag.clone());
        block_on(serve(c, request)).status()
    }

    fn current_etag(c: &Controller) -> HeaderValue {
        respond(c, Method::GET, "/metadata/m1", None).headers()[ETAG].clone()
    }

    #[test]
    fn a_get_whose_if_none_match_names_the_current_tag_is_304() {
        let c = with_movie();
        let etag = current_etag(&c);
        let status = conditional_get(&c, &etag);
        assert_eq!(
            status,
            StatusCode::NOT_MODIFIED,
            "GET /metadata/m1 with If-None-Match {etag:?}"
        );
    }

    #[test]
    fn a_get_whose_if_none_match_names_a_replaced_tag_is_200() {
        let c = with_movie();
        let etag = current_etag(&c);
        call(
            &c,
            Method::PUT,
            "/metadata/m1",
            Some(json!({"title": "Changed"})),
        );
        let status = conditional_get(&c, &etag);
        assert_eq!(
            status,
            StatusCode::OK,
            "GET /metadata/m1 with an old If-None-Match"
        );
    }

    fn listed_ids(page: &Value) -> Vec<String> {
        page["items"]
            .as_array()
            .map(|items| {
                items
                    .iter()
                    .map(|m| m["id"].as_str().unwrap().to_owned())
                    .collect()
            })
            .unwrap_or_default()
    }

    #[test]
    fn the_listing_continues_from_its_cursor_until_none_is_left() {
        let c = controller();
        for id in ["b", "a", "c"] {
            call(
                &c,
                Method::PUT,
                &format!("/metadata/{id}"),
                Some(godfather()),
            );
        }
        let (_, first) = call(&c, Method::GET, "/metadata?limit=2", None);
        let cursor = first["nextCursor"].as_str().unwrap();
        let uri = format!("/metadata?limit=2&cursor={cursor}");
        let (_, second) = call(&c, Method::GET, &uri, None);
        assert_eq!(
            (
                listed_ids(&first),
                listed_ids(&second),
                second["nextCursor"].clone()
            ),
            (
                vec!["a".into(), "b".into()],
                vec!["c".to_owned()],
                Value::Null
            ),
            "GET /metadata?limit=2 then {uri}"
        );
    }

    #[test]
    fn a_listing_with_bad_parameters_is_400_naming_both() {
        let uri = "/metadata?limit=0&cursor=zz";
        let (status, problem) = call(&controller(), Method::GET, uri, None);
        assert_eq!(status, StatusCode::BAD_REQUEST, "GET {uri}");
        assert_eq!(rejected_fields(&problem), ["limit", "cursor"], "GET {uri}");
    }

    #[test]
    fn a_storage_failure_is_a_500_that_hides_the_cause() {
        let (status, body) = call(
            &MetadataController::new(Memory::failing()),
            Method::GET,
            "/metadata/m1",
            None,
        );
        assert_eq!(
            status,
            StatusCode::INTERNAL_SERVER_ERROR,
            "GET /metadata/m1"
        );
        assert!(
            !body.to_string().contains("told to fail"),
            "GET /metadata/m1: {body}"
        );
    }

    #[test]
    fn health_reports_a_failing_store_as_503_fail() {
        let (status, body) = health(&MetadataController::new(Memory::failing()));
        let outcome = (status, body["status"].as_str());
        let expected = (StatusCode::SERVICE_UNAVAILABLE, Some("fail"));
        assert_eq!(outcome, expected, "GET /health/metadata: {body}");
    }

    #[test]
    fn a_path_below_a_movie_is_404() {
        let status = status_of_get(&controller(), "/metadata/a/b");
        assert_eq!(status, StatusCode::NOT_FOUND, "GET /metadata/a/b");
    }

    fn put_as(c: &Controller, token: Option<&str>) -> (StatusCode, Value) {
        call_as(c, token, Method::PUT, "/metadata/m1", Some(godfather()))
    }

    #[test]
    fn a_write_without_a_token_is_401_with_an_invalid_token_challenge() {
        let response = block_on(serve(
            &controller(),
            request_as(None, Method::PUT, "/metadata/m1", Some(godfather())),
        ));
        let challenge = response.headers().get("www-authenticate").cloned();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        assert!(
            challenge.is_some_and(|c| c.to_str().unwrap().contains("error=\"invalid_token\"")),
            "PUT /metadata/m1 without a token must challenge with invalid_token"
        );
    }

    #[test]
    fn a_write_refused_for_its_token_stores_nothing() {
        let c = controller();
        put_as(&c, None);
        put_as(&c, Some("not-a-token"));
        put_as(&c, Some(&token("editor", "ratings:admin")));
        let status = status_of_get(&c, "/metadata/m1");
        assert_eq!(status, StatusCode::NOT_FOUND, "GET after refused writes");
    }

    #[test]
    fn a_token_without_metadata_write_is_403_naming_the_scope() {
        let response = block_on(serve(
            &controller(),
            request_as(
                Some(&token("editor", "ratings:write ratings:admin")),
                Method::DELETE,
                "/metadata/m1",
                None,
            ),
        ));
        let challenge = response.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .to_owned();
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "{challenge}");
        assert!(
            challenge.contains("error=\"insufficient_scope\"")
                && challenge.contains("scope=\"metadata:write\""),
            "{challenge}"
        );
    }

    #[test]
    fn a_token_with_metadata_write_may_write() {
        let (status, body) = put_as(&controller(), Some(&token("editor", "metadata:write")));
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }

    #[test]
    fn reads_need_no_token() {
        let c = with_movie();
        let (status, _) = call_as(&c, None, Method::GET, "/metadata/m1", None);
        assert_eq!(status, StatusCode::OK, "anonymous GET /metadata/m1");
    }

    #[test]
    fn every_route_is_in_the_openapi_document_and_nothing_else_is() {
        service_kit::testing::assert_routes_documented::<Controller>(include_str!(
            "../../../docs/openapi.json"
        ));
    }

    fn protobuf_put(c: &Controller, message: &movie_proto::Metadata) -> StatusCode {
        let request = Request::put("/metadata/m1")
            .header("content-type", movie_proto::PROTOBUF)
            .header(
                "authorization",
                format!("Bearer {}", service_kit::testing::editor_token()),
            )
            .body(http_body_util::Full::new(bytes::Bytes::from(
                prost::Message::encode_to_vec(message),
            )))
            .unwrap();
        block_on(serve(c, request)).status()
    }

    fn sent_as_protobuf() -> movie_proto::Metadata {
        movie_proto::Metadata {
            id: String::new(),
            title: "The Godfather".into(),
            description: "Family business".into(),
            director: "Coppola".into(),
        }
    }

    #[test]
    fn a_protobuf_put_is_stored_and_read_back_as_json() {
        let c = controller();
        assert_eq!(protobuf_put(&c, &sent_as_protobuf()), StatusCode::CREATED);
        let (_, body) = call(&c, Method::GET, "/metadata/m1", None);
        assert_eq!(body["director"], "Coppola", "GET /metadata/m1: {body}");
    }

    #[test]
    fn a_protobuf_put_naming_another_id_is_400() {
        let other = movie_proto::Metadata {
            id: "m2".into(),
            ..sent_as_protobuf()
        };
        assert_eq!(protobuf_put(&controller(), &other), StatusCode::BAD_REQUEST);
    }

    #[test]
    fn a_client_accepting_protobuf_gets_the_books_message() {
        let mut request = request(Method::GET, "/metadata/m1", None);
        request.headers_mut().insert(
            http::header::ACCEPT,
            HeaderValue::from_static(movie_proto::PROTOBUF),
        );
        let response = block_on(serve(&with_movie(), request));
        assert_eq!(
            response.headers()["content-type"],
            movie_proto::PROTOBUF,
            "GET /metadata/m1 accepting protobuf"
        );
        let bytes = block_on(http_body_util::BodyExt::collect(response.into_body()))
            .unwrap()
            .to_bytes();
        let message: movie_proto::Metadata = prost::Message::decode(bytes).unwrap();
        assert_eq!(
            (message.id.as_str(), message.title.as_str()),
            ("m1", "The Godfather")
        );
    }
}
