//! Movie metadata as the domain sees it: every value here has passed its `parse`.

use service_kit::field::bounded_text;
use service_kit::json::{JsonObject, required};
use service_kit::{FieldErrors, Invalid};

service_kit::identifier_type!(
    /// The id of a movie. `export`, `import` and `about` name routes of the service
    /// (`/metadata/export`, ...), so no movie can have them.
    MovieId,
    reserved: movie_proto::paths::RESERVED_MOVIE_IDS
);

/// 1-256 characters, not only whitespace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Title(String);

impl Title {
    pub const MAX_CHARS: usize = 256;

    pub fn parse(raw: String) -> Result<Self, Invalid> {
        if raw.trim().is_empty() {
            return Err(Invalid::new("must not be empty or blank"));
        }
        bounded_text(raw, Self::MAX_CHARS).map(Self)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// At most 4096 characters; may be empty.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Description(String);

impl Description {
    pub const MAX_CHARS: usize = 4096;

    pub fn parse(raw: String) -> Result<Self, Invalid> {
        bounded_text(raw, Self::MAX_CHARS).map(Self)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// At most 256 characters; may be empty.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Director(String);

impl Director {
    pub const MAX_CHARS: usize = 256;

    pub fn parse(raw: String) -> Result<Self, Invalid> {
        bounded_text(raw, Self::MAX_CHARS).map(Self)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The metadata of one movie.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Metadata {
    pub id: MovieId,
    pub title: Title,
    pub description: Description,
    pub director: Director,
}

impl Metadata {
    /// A write of the movie `id` from its JSON fields, whatever surface carried them: `title`
    /// is required, `description` and `director` default to empty, an `id` member must repeat
    /// `id`, and nothing else is accepted. Every rejected field is named.
    pub fn from_json(id: MovieId, mut fields: JsonObject) -> Result<Self, FieldErrors> {
        let mut errors = FieldErrors::new();
        let named_id = errors.check("id", fields.take_string("id")).flatten();
        if named_id.is_some_and(|named| named != id.as_str()) {
            errors.reject("id", Invalid::new("must equal the id in the path"));
        }
        Self::from_fields(errors, Some(id), fields)
    }

    /// A write of a whole movie from one JSON object that names its own `id` (required): a
    /// line of an import. The other fields follow [`Self::from_json`]'s rules.
    pub fn from_record(mut fields: JsonObject) -> Result<Self, FieldErrors> {
        let mut errors = FieldErrors::new();
        let id = errors.check(
            "id",
            required(fields.take_string("id")).and_then(|raw| MovieId::parse(&raw)),
        );
        Self::from_fields(errors, id, fields)
    }

    /// The fields other than `id`, parsed into `errors`, and nothing else accepted.
    fn from_fields(
        mut errors: FieldErrors,
        id: Option<MovieId>,
        mut fields: JsonObject,
    ) -> Result<Self, FieldErrors> {
        let title = errors.check(
            "title",
            required(fields.take_string("title")).and_then(Title::parse),
        );
        let description = errors.check(
            "description",
            fields
                .take_string("description")
                .and_then(|d| Description::parse(d.unwrap_or_default())),
        );
        let director = errors.check(
            "director",
            fields
                .take_string("director")
                .and_then(|d| Director::parse(d.unwrap_or_default())),
        );
        fields.reject_unknown(&mut errors);
        Self::assemble(errors, id, title, description, director)
    }

    /// Metadata from its separately parsed fields, or every error met while parsing them:
    /// JSON bodies and protobuf messages carry the fields differently, so each surface parses
    /// them into `errors` and this puts them together.
    pub fn assemble(
        errors: FieldErrors,
        id: Option<MovieId>,
        title: Option<Title>,
        description: Option<Description>,
        director: Option<Director>,
    ) -> Result<Self, FieldErrors> {
        let metadata = match (id, title, description, director) {
            (Some(id), Some(title), Some(description), Some(director)) => Some(Metadata {
                id,
                title,
                description,
                director,
            }),
            _ => None,
        };
        errors.conclude(metadata)
    }
}

/// How many items one page of the listing holds: 1-100, 20 unless asked otherwise.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageLimit(u8);

impl PageLimit {
    pub const MAX: u8 = 100;

    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        match raw.parse::<u8>() {
            Ok(limit) if (1..=Self::MAX).contains(&limit) => Ok(Self(limit)),
            _ => Err(Invalid::new("must be an integer from 1 to 100")),
        }
    }

    pub fn get(self) -> usize {
        usize::from(self.0)
    }
}

impl Default for PageLimit {
    fn default() -> Self {
        Self(20)
    }
}

/// Where the next page of the listing starts: after the movie it names.
///
/// Clients must treat it as opaque; it is the hex of a versioned key so the encoding can change
/// without clients noticing, and so ids never need escaping inside it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor(MovieId);

impl Cursor {
    const PREFIX: &'static str = "v1:";

    pub fn after(id: MovieId) -> Self {
        Self(id)
    }

    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        let invalid = || Invalid::new("is not a cursor this service issued");
        let bytes = decode_hex(raw).ok_or_else(invalid)?;
        let text = String::from_utf8(bytes).map_err(|_| invalid())?;
        let id = text.strip_prefix(Self::PREFIX).ok_or_else(invalid)?;
        MovieId::parse(id).map(Self).map_err(|_| invalid())
    }

    pub fn encode(&self) -> String {
        let key = format!("{}{}", Self::PREFIX, self.0.as_str());
        key.bytes().map(|b| format!("{b:02x}")).collect()
    }

    pub fn last_seen(&self) -> &MovieId {
        &self.0
    }
}

fn decode_hex(raw: &str) -> Option<Vec<u8>> {
    if !raw.len().is_multiple_of(2) || raw.len() > 2 * 80 {
        return None;
    }
    raw.as_bytes()
        .chunks(2)
        .map(|pair| {
            std::str::from_utf8(pair)
                .ok()
                .and_then(|p| u8::from_str_radix(p, 16).ok())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn from_json(id: &str, fields: serde_json::Value) -> Result<Metadata, Vec<String>> {
        let fields = JsonObject::from_value(fields).unwrap();
        Metadata::from_json(MovieId::parse(id).unwrap(), fields)
            .map_err(|errors| errors.into_vec().into_iter().map(|e| e.field).collect())
    }

    #[test]
    fn a_write_needs_only_a_title_and_defaults_the_rest_to_empty() {
        let metadata = from_json("m1", json!({"title": "T"})).unwrap();
        assert_eq!(metadata.id.as_str(), "m1");
        assert_eq!(metadata.title.as_str(), "T");
        assert_eq!(metadata.description, Description::default());
        assert_eq!(metadata.director, Director::default());
    }

    fn from_record(fields: serde_json::Value) -> Result<Metadata, Vec<String>> {
        let fields = JsonObject::from_value(fields).unwrap();
        Metadata::from_record(fields)
            .map_err(|errors| errors.into_vec().into_iter().map(|e| e.field).collect())
    }

    #[test]
    fn a_record_names_its_own_id() {
        let metadata = from_record(json!({"id": "m9", "title": "T"})).unwrap();
        assert_eq!(metadata.id.as_str(), "m9");
    }

    #[test]
    fn a_record_without_an_id_is_rejected_with_its_other_errors() {
        assert_eq!(
            from_record(json!({"title": " ", "x": 1})),
            Err(vec!["id".into(), "title".into(), "x".into()])
        );
    }

    #[test]
    fn the_bulk_route_names_are_not_movie_ids() {
        for reserved in ["export", "import", "about"] {
            assert!(MovieId::parse(reserved).is_err(), "{reserved} was accepted");
        }
        assert!(
            MovieId::parse("exports").is_ok(),
            "only the exact names are reserved"
        );
    }

    #[test]
    fn a_write_may_repeat_its_own_id_but_not_name_another() {
        assert!(from_json("m1", json!({"id": "m1", "title": "T"})).is_ok());
        assert_eq!(
            from_json("m1", json!({"id": "m2", "title": "T"})),
            Err(vec!["id".to_owned()])
        );
    }

    #[test]
    fn a_write_names_every_rejected_field_in_order_with_unknown_ones_last() {
        let fields = json!({"rating": 5, "director": 7, "title": " ", "id": "other"});
        assert_eq!(
            from_json("m1", fields),
            Err(vec![
                "id".into(),
                "title".into(),
                "director".into(),
                "rating".into()
            ])
        );
    }

    #[test]
    fn a_write_without_a_title_says_title_is_required() {
        let errors = Metadata::from_json(
            MovieId::parse("m1").unwrap(),
            JsonObject::from_value(json!({})).unwrap(),
        )
        .unwrap_err()
        .into_vec();
        assert_eq!(
            (errors[0].field.as_str(), errors[0].message.as_str()),
            ("title", "is required")
        );
    }

    #[test]
    fn a_blank_title_is_rejected() {
        assert!(Title::parse("   \t".into()).is_err());
        assert!(Title::parse(String::new()).is_err());
    }

    #[test]
    fn a_title_of_256_characters_is_accepted_and_257_rejected() {
        assert!(Title::parse("é".repeat(256)).is_ok());
        assert!(Title::parse("é".repeat(257)).is_err());
    }

    #[test]
    fn a_description_may_be_empty_but_not_over_4096_characters() {
        assert!(Description::parse(String::new()).is_ok());
        assert!(Description::parse("d".repeat(4096)).is_ok());
        assert!(Description::parse("d".repeat(4097)).is_err());
    }

    #[test]
    fn a_director_may_be_empty_but_not_over_256_characters() {
        assert!(Director::parse(String::new()).is_ok());
        assert!(Director::parse("d".repeat(256)).is_ok());
        assert!(Director::parse("d".repeat(257)).is_err());
    }

    #[test]
    fn a_movie_id_follows_the_identifier_rule() {
        assert!(MovieId::parse("tt0111161").is_ok());
        assert!(MovieId::parse("no spaces").is_err());
        assert!(MovieId::parse(&"x".repeat(65)).is_err());
    }

    #[test]
    fn page_limits_run_from_1_to_100() {
        assert_eq!(PageLimit::parse("1").map(PageLimit::get), Ok(1));
        assert_eq!(PageLimit::parse("100").map(PageLimit::get), Ok(100));
        for raw in ["0", "101", "-1", "ten", "", "1.5"] {
            assert!(PageLimit::parse(raw).is_err(), "{raw} was accepted");
        }
        assert_eq!(PageLimit::default().get(), 20);
    }

    #[test]
    fn a_cursor_round_trips_through_its_encoding() {
        let cursor = Cursor::after(MovieId::parse("m-42").unwrap());
        assert_eq!(Cursor::parse(&cursor.encode()), Ok(cursor));
    }

    #[test]
    fn a_forged_or_garbled_cursor_is_rejected() {
        let bare_id: String = "m-42".bytes().map(|b| format!("{b:02x}")).collect();
        for raw in ["", "zz", "abc", bare_id.as_str(), "763a", "763a2f2f"] {
            assert!(Cursor::parse(raw).is_err(), "{raw} was accepted");
        }
    }
}
