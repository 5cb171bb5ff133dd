//! A cached movie view: what it was composed of, from which upstream versions, and when.
//!
//! Stored as JSON with a format number. An entry that does not decode, has another format,
//! or belongs to another movie is a miss (and is overwritten by the next composition), never
//! an error: the cache may only make a view faster, not fail it.

use crate::model::{MovieDetails, MovieId, MovieMetadata, RatingSummary};
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// Bumped whenever the stored shape changes, so entries of an older build are misses.
pub const FORMAT: u32 = 1;

/// The key of a movie's view in the `cache` store.
pub fn key(id: &MovieId) -> String {
    format!("view:v{FORMAT}:{id}")
}

/// An upstream representation's entity tag, as the upstream sent it (opaque to this service).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Validator(pub String);

/// A composed view and the versions it was built from.
#[derive(Debug, Clone, PartialEq)]
pub struct CachedView {
    pub details: MovieDetails,
    /// Wall-clock milliseconds since the epoch when the upstreams last confirmed this view.
    pub composed_at_ms: u64,
    /// The metadata's ETag, for `If-None-Match` on revalidation.
    pub metadata_tag: Option<Validator>,
    /// The rating aggregate's ETag; `None` for an unrated movie (the rating service answers
    /// 404, which has no tag).
    pub rating_tag: Option<Validator>,
}

impl CachedView {
    /// The entry's age at `now_ms`; a composition time in the future (a clock that stepped
    /// back) counts as infinitely old, so such an entry is never served as fresh.
    pub fn age(&self, now_ms: u64) -> Duration {
        now_ms
            .checked_sub(self.composed_at_ms)
            .map_or(Duration::MAX, Duration::from_millis)
    }

    /// The same view built from the same upstream versions, whenever composed.
    pub fn same_view(&self, other: &CachedView) -> bool {
        self.details == other.details
            && self.metadata_tag == other.metadata_tag
            && self.rating_tag == other.rating_tag
    }

    pub fn encode(&self) -> Vec<u8> {
        serde_json::to_vec(&Stored::from(self)).unwrap_or_default()
    }

    /// The entry stored for `id`, or `None` if the bytes are not one.
    pub fn decode(id: &MovieId, bytes: &[u8]) -> Option<Self> {
        let stored: Stored = serde_json::from_slice(bytes).ok()?;
        if stored.format != FORMAT || stored.metadata.id != id.as_str() {
            return None;
        }
        Some(Self {
            details: MovieDetails {
                id: id.clone(),
                metadata: stored.metadata,
                rating: stored.rating.map(|r| RatingSummary {
                    average: r.average,
                    count: r.count,
                }),
            },
            composed_at_ms: stored.composed_at_ms,
            metadata_tag: stored.metadata_tag,
            rating_tag: stored.rating_tag,
        })
    }
}

/// The stored shape.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Stored {
    format: u32,
    composed_at_ms: u64,
    metadata: MovieMetadata,
    metadata_tag: Option<Validator>,
    rating: Option<StoredRating>,
    rating_tag: Option<Validator>,
}

#[derive(Serialize, Deserialize)]
struct StoredRating {
    average: f64,
    count: u64,
}

impl From<&CachedView> for Stored {
    fn from(view: &CachedView) -> Self {
        Self {
            format: FORMAT,
            composed_at_ms: view.composed_at_ms,
            metadata: view.details.metadata.clone(),
            metadata_tag: view.metadata_tag.clone(),
            rating: view.details.rating.map(|r| StoredRating {
                average: r.average,
                count: r.count,
            }),
            rating_tag: view.rating_tag.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(raw: &str) -> MovieId {
        MovieId::parse(raw).unwrap()
    }

    fn view() -> CachedView {
        CachedView {
            details: MovieDetails {
                id: id("m1"),
                metadata: MovieMetadata {
                    id: "m1".into(),
                    title: "T".into(),
                    description: "D".into(),
                    director: "X".into(),
                },
                rating: Some(RatingSummary {
                    average: 4.5,
                    count: 2,
                }),
            },
            composed_at_ms: 1_000,
            metadata_tag: Some(Validator("\"a\"".into())),
            rating_tag: Some(Validator("\"b\"".into())),
        }
    }

    #[test]
    fn an_entry_round_trips_with_its_validators() {
        assert_eq!(
            CachedView::decode(&id("m1"), &view().encode()),
            Some(view())
        );
    }

    #[test]
    fn garbage_is_a_miss() {
        assert_eq!(CachedView::decode(&id("m1"), b"\x00\xffnot json"), None);
    }

    #[test]
    fn an_entry_of_another_format_is_a_miss() {
        let mut value: serde_json::Value = serde_json::from_slice(&view().encode()).unwrap();
        value["format"] = serde_json::json!(FORMAT + 1);
        let bytes = serde_json::to_vec(&value).unwrap();
        assert_eq!(CachedView::decode(&id("m1"), &bytes), None);
    }

    #[test]
    fn an_entry_of_another_movie_is_a_miss() {
        assert_eq!(CachedView::decode(&id("m2"), &view().encode()), None);
    }

    #[test]
    fn an_entry_from_the_future_is_infinitely_old() {
        assert_eq!(view().age(999), Duration::MAX);
        assert_eq!(view().age(1_500), Duration::from_millis(500));
    }
}
