//! The bulk write: NDJSON lines, each a movie checked by the same rules as a `PUT`
//! ([`Metadata::from_record`]), applied together once the whole body has arrived.
//!
//! Valid lines are staged in batches as they are read, so an instance holds one batch and
//! one line whatever the import's size; a bad line is reported and skipped and never stops
//! the good ones. Only after the last line is everything staged written to `metadata`, in one
//! statement: a body cut off midway, or over its limits, writes nothing at all.

use crate::controller::{ImportId, MetadataController, MetadataRepository};
use crate::model::Metadata;
use serde::Serialize;
use service_kit::edge::RequestBody;
use service_kit::edge::ndjson::{Limits, Line, LineReader, ReadError};
use service_kit::{JsonObject, Problem, StorageFailure};

/// What one import may send: 100,000 movies of ordinary size, or fewer large ones; one line
/// may be as large as a `PUT` body.
pub const LIMITS: Limits = Limits {
    max_body_bytes: 64 * 1024 * 1024,
    max_lines: 200_000,
    max_line_bytes: service_kit::edge::request::MAX_BODY_BYTES,
};

/// Valid lines staged per statement, and the bytes of text that close a batch sooner.
const BATCH_LINES: usize = 500;
const BATCH_BYTES: usize = 256 * 1024;
/// Rejected lines described in the report; the rest are only counted.
pub const MAX_REPORTED_ERRORS: usize = 100;

/// The answer to an import.
#[derive(Debug, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ImportReport {
    /// Lines read, blank ones included.
    pub lines: u64,
    pub accepted: u64,
    pub rejected: u64,
    /// Movies written: accepted lines less repeated ids (the last line of an id wins).
    pub movies: u64,
    /// The first [`MAX_REPORTED_ERRORS`] rejections, in line order.
    pub errors: Vec<LineError>,
    pub errors_truncated: bool,
}

/// Why one line was rejected: the field at fault (none when the line is not a JSON object).
#[derive(Debug, PartialEq, Eq, Serialize)]
pub struct LineError {
    pub line: u64,
    pub field: Option<String>,
    pub message: String,
}

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error(transparent)]
    Read(#[from] ReadError),
    #[error(transparent)]
    Storage(#[from] StorageFailure),
}

/// A body over its limits is 413, one cut off 400; storage fails as it does everywhere.
impl From<ImportError> for Problem {
    fn from(error: ImportError) -> Self {
        match error {
            ImportError::Read(error) => error.into(),
            ImportError::Storage(failure) => failure.into(),
        }
    }
}

/// The movie a line holds, or why it holds none.
fn parse_line(number: u64, text: &[u8]) -> Result<Metadata, Vec<LineError>> {
    let whole_line = |message: String| {
        vec![LineError {
            line: number,
            field: None,
            message,
        }]
    };
    let value: serde_json::Value = serde_json::from_slice(text)
        .map_err(|error| whole_line(format!("is not valid JSON: {error}")))?;
    let fields = JsonObject::from_value(value)
        .ok_or_else(|| whole_line("must be a JSON object".to_owned()))?;
    Metadata::from_record(fields).map_err(|errors| {
        errors
            .into_vec()
            .into_iter()
            .map(|error| LineError {
                line: number,
                field: Some(error.field),
                message: error.message,
            })
            .collect()
    })
}

/// The valid lines read since the last statement.
#[derive(Default)]
struct Batch {
    movies: Vec<Metadata>,
    bytes: usize,
}

impl Batch {
    fn add(&mut self, movie: Metadata, bytes: usize) -> bool {
        self.movies.push(movie);
        self.bytes += bytes;
        self.movies.len() >= BATCH_LINES || self.bytes >= BATCH_BYTES
    }
}

impl ImportReport {
    fn reject(&mut self, errors: Vec<LineError>) {
        self.rejected += 1;
        for error in errors {
            if self.errors.len() < MAX_REPORTED_ERRORS {
                self.errors.push(error);
            } else {
                self.errors_truncated = true;
            }
        }
    }
}

impl<R: MetadataRepository> MetadataController<R> {
    /// Reads every line of `lines`, stages the valid ones under `import` and, once the body
    /// has ended within its limits, applies them all at once. On any failure what was staged
    /// is discarded and nothing is applied.
    pub async fn import<B: RequestBody>(
        &self,
        import: &ImportId,
        lines: &mut LineReader<B>,
    ) -> Result<ImportReport, ImportError> {
        let outcome = self.stage_all(import, lines).await;
        let applied = match outcome {
            Ok(report) => self
                .repository
                .apply_staged(import)
                .await
                .map(|movies| ImportReport { movies, ..report })
                .map_err(ImportError::from),
            Err(error) => Err(error),
        };
        if applied.is_err()
            && let Err(failure) = self.repository.discard_staged(import).await
        {
            service_kit::telemetry::warn("metadata.import_discard_failed")
                .cause(failure)
                .emit();
        }
        applied
    }

    async fn stage_all<B: RequestBody>(
        &self,
        import: &ImportId,
        lines: &mut LineReader<B>,
    ) -> Result<ImportReport, ImportError> {
        let mut report = ImportReport::default();
        let mut batch = Batch::default();
        while let Some(line) = lines.next_line().await? {
            let parsed = match &line {
                Line::Text { number, text } => parse_line(*number, text).map(|m| (m, text.len())),
                Line::TooLong { number } => Err(vec![LineError {
                    line: *number,
                    field: None,
                    message: format!("is longer than {} bytes", LIMITS.max_line_bytes),
                }]),
            };
            match parsed {
                Ok((movie, bytes)) => {
                    report.accepted += 1;
                    if batch.add(movie, bytes) {
                        let full = std::mem::take(&mut batch);
                        self.repository.stage(import, &full.movies).await?;
                    }
                }
                Err(errors) => report.reject(errors),
            }
        }
        if !batch.movies.is_empty() {
            self.repository.stage(import, &batch.movies).await?;
        }
        report.lines = lines.lines();
        Ok(report)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::MovieId;
    use crate::repository::memory::InMemoryMetadataRepository as Memory;
    use bytes::Bytes;
    use futures::executor::block_on;
    use http_body::Frame;
    use http_body_util::StreamBody;

    type Controller = MetadataController<Memory>;

    fn import(
        c: &Controller,
        frames: Vec<Result<&'static str, &'static str>>,
    ) -> Result<ImportReport, ImportError> {
        let frames: Vec<Result<Frame<Bytes>, std::io::Error>> = frames
            .into_iter()
            .map(|f| {
                f.map(|text| Frame::data(Bytes::from_static(text.as_bytes())))
                    .map_err(std::io::Error::other)
            })
            .collect();
        let mut lines = LineReader::new(StreamBody::new(futures::stream::iter(frames)), LIMITS);
        block_on(c.import(&ImportId("i1".into()), &mut lines))
    }

    fn title_of(c: &Controller, id: &str) -> Option<String> {
        block_on(c.get(&MovieId::parse(id).unwrap()))
            .ok()
            .map(|m| m.title.as_str().to_owned())
    }

    #[test]
    fn valid_lines_are_applied_and_counted() {
        let c = MetadataController::new(Memory::default());
        let report = import(
            &c,
            vec![Ok(
                "{\"id\":\"a\",\"title\":\"A\"}\n{\"id\":\"b\",\"title\":\"B\"}\n",
            )],
        )
        .unwrap();
        assert_eq!(
            (
                report.lines,
                report.accepted,
                report.rejected,
                report.movies
            ),
            (2, 2, 0, 2)
        );
        assert_eq!(title_of(&c, "b").as_deref(), Some("B"));
    }

    #[test]
    fn a_bad_line_is_reported_with_its_number_and_field_and_the_good_ones_still_apply() {
        let c = MetadataController::new(Memory::default());
        let body = "{\"id\":\"a\",\"title\":\"A\"}\n{\"id\":\"b\",\"title\":\" \"}\nnot json\n[1]\n{\"id\":\"c\",\"title\":\"C\"}\n";
        let report = import(&c, vec![Ok(body)]).unwrap();
        let described: Vec<(u64, Option<&str>)> = report
            .errors
            .iter()
            .map(|e| (e.line, e.field.as_deref()))
            .collect();
        assert_eq!(described, [(2, Some("title")), (3, None), (4, None)]);
        assert_eq!((report.accepted, report.rejected), (2, 3));
        assert_eq!(
            title_of(&c, "c").as_deref(),
            Some("C"),
            "a good line after bad ones"
        );
    }

    #[test]
    fn the_last_line_of_a_repeated_id_wins() {
        let c = MetadataController::new(Memory::default());
        let body = "{\"id\":\"a\",\"title\":\"First\"}\n{\"id\":\"a\",\"title\":\"Last\"}\n";
        let report = import(&c, vec![Ok(body)]).unwrap();
        assert_eq!((report.accepted, report.movies), (2, 1));
        assert_eq!(title_of(&c, "a").as_deref(), Some("Last"));
    }

    #[test]
    fn a_body_cut_off_midway_applies_nothing_and_leaves_nothing_staged() {
        let c = MetadataController::new(Memory::default());
        let many: &'static str = Box::leak(
            (0..250)
                .map(|i| format!("{{\"id\":\"m{i}\",\"title\":\"T\"}}\n"))
                .collect::<String>()
                .into_boxed_str(),
        );
        let outcome = import(&c, vec![Ok(many), Err("connection reset")]);
        assert!(
            matches!(outcome, Err(ImportError::Read(ReadError::Interrupted(_)))),
            "{outcome:?}"
        );
        assert_eq!(title_of(&c, "m0"), None, "a movie of a staged batch");
        assert_eq!(c.repository.staged_rows(), 0, "rows left staged");
    }

    #[test]
    fn only_the_first_errors_are_described_and_the_rest_counted() {
        let c = MetadataController::new(Memory::default());
        let bad: &'static str = Box::leak("{}\n".repeat(MAX_REPORTED_ERRORS + 5).into_boxed_str());
        let report = import(&c, vec![Ok(bad)]).unwrap();
        assert_eq!(
            (
                report.rejected,
                report.errors.len(),
                report.errors_truncated
            ),
            ((MAX_REPORTED_ERRORS + 5) as u64, MAX_REPORTED_ERRORS, true)
        );
    }
}
