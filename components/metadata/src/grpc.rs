//! The book's `MetadataService` over gRPC: the same controller and the same validation as the
//! REST routes, with fields named as `movie.proto` names them (`movie_id`, `metadata.title`).
//! Framing, statuses and every refusal's code are the kit's ([`service_kit::grpc`]).

use crate::controller::{MetadataController, MetadataRepository};
use crate::model::{Description, Director, Metadata, MovieId, Title};
use http::Request;
use movie_proto as proto;
use service_kit::edge::{Answer, RequestBody};
use service_kit::field::one;
use service_kit::grpc::{read_message, reply};
use service_kit::{FieldErrors, Invalid};

/// `GetMetadata`: `NOT_FOUND` for an absent movie, `INVALID_ARGUMENT` for a bad `movie_id`.
pub async fn get_metadata<R: MetadataRepository, B: RequestBody>(
    controller: &MetadataController<R>,
    request: Request<B>,
) -> Answer {
    let call: proto::GetMetadataRequest = read_message(request).await?;
    let id = one("movie_id", MovieId::parse(&call.movie_id))?;
    let metadata = controller.get(&id).await?;
    Ok(reply(&proto::GetMetadataResponse {
        metadata: Some(message(&metadata)),
    }))
}

/// `PutMetadata`: stores the metadata, the id inside it naming the movie.
pub async fn put_metadata<R: MetadataRepository, B: RequestBody>(
    controller: &MetadataController<R>,
    request: Request<B>,
) -> Answer {
    let call: proto::PutMetadataRequest = read_message(request).await?;
    let metadata = from_message(call.metadata, "metadata.", None)?;
    controller.put(&metadata).await?;
    Ok(reply(&proto::PutMetadataResponse {}))
}

/// The book's message of stored metadata.
pub fn message(metadata: &Metadata) -> proto::Metadata {
    proto::Metadata {
        id: metadata.id.as_str().to_owned(),
        title: metadata.title.as_str().to_owned(),
        description: metadata.description.as_str().to_owned(),
        director: metadata.director.as_str().to_owned(),
    }
}

/// Validated metadata from a message, every invalid field named at once under `prefix`. With
/// `addressed` (a REST path's id), the message's id may be empty or must equal it, as a JSON
/// body's; without, the message's id names the movie.
pub fn from_message(
    message: Option<proto::Metadata>,
    prefix: &str,
    addressed: Option<MovieId>,
) -> Result<Metadata, FieldErrors> {
    let named = |field: &str| format!("{prefix}{field}");
    let Some(message) = message else {
        let mut errors = FieldErrors::new();
        errors.reject(prefix.trim_end_matches('.'), Invalid::new("is required"));
        return Err(errors);
    };
    let mut errors = FieldErrors::new();
    let id = match addressed {
        Some(path_id) if message.id.is_empty() || message.id == path_id.as_str() => Some(path_id),
        Some(_) => {
            errors.reject(&named("id"), Invalid::new("must equal the id in the path"));
            None
        }
        None => errors.check(&named("id"), MovieId::parse(&message.id)),
    };
    let title = errors.check(&named("title"), Title::parse(message.title));
    let description = errors.check(
        &named("description"),
        Description::parse(message.description),
    );
    let director = errors.check(&named("director"), Director::parse(message.director));
    Metadata::assemble(errors, id, title, description, director)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::repository::memory::InMemoryMetadataRepository as Memory;
    use proto::paths;
    use service_kit::testing::{GrpcFailure, editor_token, grpc_call, token};

    type Controller = MetadataController<Memory>;

    fn controller() -> Controller {
        MetadataController::new(Memory::default())
    }

    fn godfather(id: &str) -> proto::Metadata {
        proto::Metadata {
            id: id.into(),
            title: "The Godfather".into(),
            description: "Family business".into(),
            director: "Coppola".into(),
        }
    }

    fn put(c: &Controller, metadata: Option<proto::Metadata>) -> Result<(), GrpcFailure> {
        let call = proto::PutMetadataRequest { metadata };
        grpc_call::<_, proto::PutMetadataResponse>(
            c,
            Some(&editor_token()),
            paths::PUT_METADATA,
            &call,
        )
        .map(drop)
    }

    fn get(c: &Controller, id: &str) -> Result<Option<proto::Metadata>, GrpcFailure> {
        let call = proto::GetMetadataRequest {
            movie_id: id.into(),
        };
        grpc_call::<_, proto::GetMetadataResponse>(c, None, paths::GET_METADATA, &call)
            .map(|reply| reply.metadata)
    }

    #[test]
    fn put_then_get_returns_the_metadata() {
        let c = controller();
        assert_eq!(put(&c, Some(godfather("m1"))), Ok(()), "PutMetadata m1");
        assert_eq!(get(&c, "m1"), Ok(Some(godfather("m1"))), "GetMetadata m1");
    }

    #[test]
    fn an_absent_movie_is_not_found() {
        let code = get(&controller(), "nope").map_err(|f| f.code);
        assert_eq!(code, Err(5), "GetMetadata of an absent movie");
    }

    #[test]
    fn an_invalid_movie_id_is_an_invalid_argument_naming_movie_id() {
        let failure = get(&controller(), "a b").unwrap_err();
        assert_eq!(
            (failure.code, failure.fields),
            (3, vec!["movie_id".to_owned()])
        );
    }

    #[test]
    fn invalid_fields_are_named_by_their_path_in_the_message_and_nothing_is_stored() {
        let c = controller();
        let bad = proto::Metadata {
            title: " ".into(),
            director: "d".repeat(257),
            ..godfather("m1")
        };
        let failure = put(&c, Some(bad)).unwrap_err();
        assert_eq!(
            (failure.code, failure.fields.clone()),
            (
                3,
                vec!["metadata.title".to_owned(), "metadata.director".to_owned()]
            ),
            "{failure:?}"
        );
        assert!(
            failure.message.contains("metadata.title"),
            "{}",
            failure.message
        );
        assert_eq!(
            get(&c, "m1").map_err(|f| f.code),
            Err(5),
            "after the refused put"
        );
    }

    #[test]
    fn a_put_without_metadata_names_it() {
        let failure = put(&controller(), None).unwrap_err();
        assert_eq!(
            (failure.code, failure.fields),
            (3, vec!["metadata".to_owned()])
        );
    }

    #[test]
    fn a_put_without_a_token_is_unauthenticated_and_with_another_scope_permission_denied() {
        let c = controller();
        let call = proto::PutMetadataRequest {
            metadata: Some(godfather("m1")),
        };
        let as_caller = |token: Option<&str>| {
            grpc_call::<_, proto::PutMetadataResponse>(&c, token, paths::PUT_METADATA, &call)
                .map_err(|f| f.code)
        };
        assert_eq!(as_caller(None), Err(16), "PutMetadata without a token");
        let rater = token("u1", "ratings:write");
        assert_eq!(
            as_caller(Some(&rater)),
            Err(7),
            "PutMetadata with ratings:write"
        );
    }

    #[test]
    fn an_unknown_method_is_unimplemented() {
        let call = proto::GetMetadataRequest::default();
        let code = grpc_call::<_, proto::GetMetadataResponse>(
            &controller(),
            None,
            "/MetadataService/ListMetadata",
            &call,
        )
        .map_err(|f| f.code);
        assert_eq!(code, Err(12));
    }
}
