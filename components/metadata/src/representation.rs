//! The JSON wire format of metadata: what clients send and what they get back.

use crate::controller::Page;
use crate::model::{Description, Director, Metadata, MovieId, Title};
use serde::Serialize;
use service_kit::request::{JsonObject, required};
use service_kit::{FieldErrors, Invalid, Problem};

/// A movie's metadata as sent to clients (and as the movie service reads it).
#[derive(Debug, Serialize)]
pub struct MetadataView<'a> {
    pub id: &'a str,
    pub title: &'a str,
    pub description: &'a str,
    pub director: &'a str,
}

impl<'a> From<&'a Metadata> for MetadataView<'a> {
    fn from(metadata: &'a Metadata) -> Self {
        Self {
            id: metadata.id.as_str(),
            title: metadata.title.as_str(),
            description: metadata.description.as_str(),
            director: metadata.director.as_str(),
        }
    }
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PageView<'a> {
    pub items: Vec<MetadataView<'a>>,
    pub next_cursor: Option<String>,
}

impl<'a> From<&'a Page> for PageView<'a> {
    fn from(page: &'a Page) -> Self {
        Self {
            items: page.items.iter().map(MetadataView::from).collect(),
            next_cursor: page.next.as_ref().map(|cursor| cursor.encode()),
        }
    }
}

/// Parses a PUT body for the movie at `id`: `title` is required, `description` and `director`
/// default to empty, an `id` member must repeat the path's, and nothing else is accepted.
pub fn metadata_from_body(id: MovieId, mut body: JsonObject) -> Result<Metadata, Problem> {
    let mut errors = FieldErrors::new();
    let body_id = errors.check("id", body.take_string("id")).flatten();
    if body_id.is_some_and(|body_id| body_id != id.as_str()) {
        errors.reject("id", Invalid::new("must equal the id in the path"));
    }
    let title = errors.check(
        "title",
        required(body.take_string("title")).and_then(Title::parse),
    );
    let description = errors.check(
        "description",
        body.take_string("description")
            .and_then(|d| Description::parse(d.unwrap_or_default())),
    );
    let director = errors.check(
        "director",
        body.take_string("director")
            .and_then(|d| Director::parse(d.unwrap_or_default())),
    );
    body.reject_unknown(&mut errors);
    match (title, description, director) {
        (Some(title), Some(description), Some(director)) if errors.is_empty() => Ok(Metadata {
            id,
            title,
            description,
            director,
        }),
        _ => Err(Problem::invalid_fields(errors.into_vec())),
    }
}
