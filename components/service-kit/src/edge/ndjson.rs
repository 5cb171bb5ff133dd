//! Newline-delimited JSON (`application/x-ndjson`), both ways, in constant memory: an export
//! is written page by page while it is sent, and an import is read line by line while it
//! arrives. Neither side ever holds the whole set.

use super::body::{Body, StreamError};
use super::problem::Problem;
use super::request::{RequestBody, declared_length, media_type};
use super::respond::HttpResponse;
use crate::instance::Stopwatch;
use bytes::{Buf, Bytes, BytesMut};
use futures::{Stream, StreamExt};
use http::StatusCode;
use http::header::{CONTENT_TYPE, HeaderMap, HeaderValue};
use http_body_util::BodyExt;
use serde::Serialize;
use std::pin::Pin;

pub const MEDIA_TYPE: &str = "application/x-ndjson";

/// A `200` whose body is `pages` written as NDJSON, one line per item, each page sent once it
/// is read. The response has no `content-length`: its size is not known until the last page.
/// A page that fails ends the body early (the host aborts the response, so a client cannot
/// take a cut export for a whole one) and writes an `error` line; a finished stream writes an
/// `info` line with its count, and one the client left, a `warn` line.
pub fn response<T, E>(
    export: &'static str,
    pages: impl Stream<Item = Result<Vec<T>, E>> + 'static,
) -> HttpResponse
where
    T: Serialize,
    E: std::fmt::Display,
{
    let state = Some((Box::pin(pages), Progress::new(export)));
    let chunks = futures::stream::unfold(state, |state| async move {
        let (mut pages, mut progress) = state?;
        let Some(page) = pages.next().await else {
            progress.finish();
            return None;
        };
        let chunk = page
            .map_err(|error| error.to_string())
            .and_then(|items| encode(&items).map(|chunk| (items.len(), chunk)));
        match chunk {
            Ok((rows, chunk)) => {
                progress.rows += rows as u64;
                progress.bytes += chunk.len() as u64;
                Some((Ok(chunk), Some((pages, progress))))
            }
            Err(cause) => {
                progress.fail(&cause);
                Some((Err(StreamError::from(cause)), None))
            }
        }
    });
    let mut response = http::Response::new(Body::streamed(chunks));
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(MEDIA_TYPE));
    response
}

/// One JSON line per item.
fn encode<T: Serialize>(items: &[T]) -> Result<Bytes, String> {
    let mut chunk = Vec::with_capacity(items.len() * 128);
    for item in items {
        serde_json::to_writer(&mut chunk, item).map_err(|e| e.to_string())?;
        chunk.push(b'\n');
    }
    Ok(Bytes::from(chunk))
}

/// What an export has sent, told once when it ends however it ends.
struct Progress {
    export: &'static str,
    rows: u64,
    bytes: u64,
    clock: Stopwatch,
    told: bool,
}

impl Progress {
    fn new(export: &'static str) -> Self {
        Self {
            export,
            rows: 0,
            bytes: 0,
            clock: Stopwatch::start(),
            told: false,
        }
    }

    fn line(&mut self, line: crate::telemetry::Line) -> crate::telemetry::Line {
        self.told = true;
        line.with("export.name", self.export)
            .with("export.rows", self.rows)
            .with("export.bytes", self.bytes)
            .with("duration_ms", crate::instance::millis(self.clock.elapsed()))
    }

    fn finish(&mut self) {
        let line = crate::telemetry::info("export.finished");
        self.line(line).emit();
    }

    fn fail(&mut self, cause: &str) {
        let line = crate::telemetry::error("export.failed");
        self.line(line).cause(cause).emit();
    }
}

impl Drop for Progress {
    /// The stream dropped before its end: the client went away.
    fn drop(&mut self) {
        if !self.told {
            let line = crate::telemetry::warn("export.abandoned");
            self.line(line).emit();
        }
    }
}

/// How much an import may send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// The whole body; past it the import is refused with 413 and nothing is applied.
    pub max_body_bytes: u64,
    /// Lines counted, blank ones included; past it, 413 as well.
    pub max_lines: u64,
    /// One line, without its newline; a longer line is rejected on its own.
    pub max_line_bytes: usize,
}

/// One line of an import.
#[derive(Debug, PartialEq, Eq)]
pub enum Line {
    /// The line's bytes, without the newline (and without a `\r` before it).
    Text { number: u64, text: Bytes },
    /// A line longer than [`Limits::max_line_bytes`], skipped to its end unread.
    TooLong { number: u64 },
}

/// Why an import body could not be read to its end.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("the body must be at most {0} bytes")]
    BodyTooLarge(u64),
    #[error("the body must have at most {0} lines")]
    TooManyLines(u64),
    /// The client stopped sending or the connection failed: nothing may be applied.
    #[error("the body could not be read to its end: {0}")]
    Interrupted(String),
}

impl From<ReadError> for Problem {
    fn from(error: ReadError) -> Self {
        match error {
            ReadError::BodyTooLarge(_) | ReadError::TooManyLines(_) => {
                Problem::new(StatusCode::PAYLOAD_TOO_LARGE, error.to_string())
            }
            ReadError::Interrupted(_) => Problem::bad_request(error.to_string()),
        }
    }
}

/// Splits a request body into lines as its frames arrive, holding at most one line (up to
/// [`Limits::max_line_bytes`]) and one frame.
pub struct LineReader<B> {
    body: Pin<Box<B>>,
    limits: Limits,
    /// Bytes received and not yet split into lines.
    pending: BytesMut,
    /// The line being read is over the limit: its bytes are dropped until its newline.
    skipping: bool,
    received: u64,
    lines: u64,
    ended: bool,
}

impl<B: RequestBody> LineReader<B> {
    pub fn new(body: B, limits: Limits) -> Self {
        Self {
            body: Box::pin(body),
            limits,
            pending: BytesMut::new(),
            skipping: false,
            received: 0,
            lines: 0,
            ended: false,
        }
    }

    /// Lines read so far, blank ones included.
    pub fn lines(&self) -> u64 {
        self.lines
    }

    /// The next non-blank line, `None` at the end of the body.
    pub async fn next_line(&mut self) -> Result<Option<Line>, ReadError> {
        loop {
            if let Some(line) = self.split_line()? {
                match &line {
                    Line::Text { text, .. } if text.iter().all(u8::is_ascii_whitespace) => {
                        continue;
                    }
                    _ => return Ok(Some(line)),
                }
            }
            if self.ended {
                return self.last_line();
            }
            self.receive().await?;
        }
    }

    /// A complete line from what was received, if it holds one.
    fn split_line(&mut self) -> Result<Option<Line>, ReadError> {
        let Some(end) = self.pending.iter().position(|&b| b == b'\n') else {
            if self.pending.len() > self.limits.max_line_bytes {
                self.skipping = true;
                self.pending.clear();
            }
            return Ok(None);
        };
        let mut text = self.pending.split_to(end).freeze();
        self.pending.advance(1);
        if text.last() == Some(&b'\r') {
            text.truncate(text.len() - 1);
        }
        self.counted(text).map(Some)
    }

    /// What remains once the body ended: a last line without a newline, if any.
    fn last_line(&mut self) -> Result<Option<Line>, ReadError> {
        if self.pending.is_empty() && !self.skipping {
            return Ok(None);
        }
        let text = self.pending.split().freeze();
        match self.counted(text)? {
            Line::Text { text, .. } if text.iter().all(u8::is_ascii_whitespace) => Ok(None),
            line => Ok(Some(line)),
        }
    }

    /// The line just split, numbered, checked against the line limits.
    fn counted(&mut self, text: Bytes) -> Result<Line, ReadError> {
        self.lines += 1;
        if self.lines > self.limits.max_lines {
            return Err(ReadError::TooManyLines(self.limits.max_lines));
        }
        let number = self.lines;
        if std::mem::take(&mut self.skipping) || text.len() > self.limits.max_line_bytes {
            return Ok(Line::TooLong { number });
        }
        Ok(Line::Text { number, text })
    }

    /// Waits for the next data frame (trailers are ignored).
    async fn receive(&mut self) -> Result<(), ReadError> {
        match self.body.frame().await {
            None => self.ended = true,
            Some(Err(error)) => return Err(ReadError::Interrupted(error.into().to_string())),
            Some(Ok(frame)) => {
                if let Ok(mut data) = frame.into_data() {
                    self.received += data.remaining() as u64;
                    if self.received > self.limits.max_body_bytes {
                        return Err(ReadError::BodyTooLarge(self.limits.max_body_bytes));
                    }
                    while data.has_remaining() {
                        let chunk = data.chunk();
                        let read = chunk.len();
                        self.pending.extend_from_slice(chunk);
                        data.advance(read);
                    }
                }
            }
        }
        Ok(())
    }
}

/// Refuses an import body that is not NDJSON (415) or declares more than `limits` allow (413)
/// before a byte of it is read.
pub fn require_import(headers: &HeaderMap, limits: &Limits) -> Result<(), Problem> {
    if media_type(headers).as_deref() != Some(MEDIA_TYPE) {
        return Err(Problem::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            format!("the body must be sent as {MEDIA_TYPE}"),
        ));
    }
    if declared_length(headers).is_some_and(|length| length > limits.max_body_bytes) {
        return Err(ReadError::BodyTooLarge(limits.max_body_bytes).into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::executor::block_on;
    use http_body::Frame;
    use http_body_util::StreamBody;

    const LIMITS: Limits = Limits {
        max_body_bytes: 1024,
        max_lines: 10,
        max_line_bytes: 8,
    };

    type FrameResult = Result<Frame<Bytes>, std::io::Error>;
    type Frames = Vec<FrameResult>;
    type TestBody = StreamBody<futures::stream::Iter<std::vec::IntoIter<FrameResult>>>;

    fn body(frames: &[&'static str]) -> TestBody {
        let frames: Frames = frames
            .iter()
            .map(|f| Ok(Frame::data(Bytes::from_static(f.as_bytes()))))
            .collect();
        StreamBody::new(futures::stream::iter(frames))
    }

    /// Every line of `frames` as the reader yields it, or the error that stopped it.
    fn read_all(frames: &[&'static str], limits: Limits) -> Result<Vec<Line>, ReadError> {
        let mut reader = LineReader::new(body(frames), limits);
        block_on(async {
            let mut lines = Vec::new();
            while let Some(line) = reader.next_line().await? {
                lines.push(line);
            }
            Ok(lines)
        })
    }

    fn text(number: u64, text: &'static str) -> Line {
        Line::Text {
            number,
            text: Bytes::from_static(text.as_bytes()),
        }
    }

    #[test]
    fn lines_split_across_frames_are_joined_and_numbered() {
        let lines = read_all(&["{\"a\"", ":1}\n{}", "\n"], LIMITS).unwrap();
        assert_eq!(lines, [text(1, "{\"a\":1}"), text(2, "{}")]);
    }

    #[test]
    fn blank_lines_are_skipped_but_counted_and_crlf_is_a_newline() {
        let lines = read_all(&["a\r\n\n  \r\nb"], LIMITS).unwrap();
        assert_eq!(lines, [text(1, "a"), text(4, "b")], "line 4 has no newline");
    }

    #[test]
    fn a_line_over_the_limit_is_reported_alone_and_the_next_is_read() {
        let lines = read_all(&["ok\n0123456", "789abcdef", "0123\nnext\n"], LIMITS).unwrap();
        assert_eq!(
            lines,
            [text(1, "ok"), Line::TooLong { number: 2 }, text(3, "next")]
        );
    }

    #[test]
    fn a_last_line_over_the_limit_without_newline_is_reported() {
        let lines = read_all(&["0123456789abcdef"], LIMITS).unwrap();
        assert_eq!(lines, [Line::TooLong { number: 1 }]);
    }

    #[test]
    fn a_body_over_its_limit_stops_the_import() {
        let limits = Limits {
            max_body_bytes: 6,
            ..LIMITS
        };
        let outcome = read_all(&["a\nb\n", "c\nd\n"], limits);
        assert!(
            matches!(outcome, Err(ReadError::BodyTooLarge(6))),
            "8 bytes against 6: {outcome:?}"
        );
    }

    #[test]
    fn too_many_lines_stop_the_import() {
        let limits = Limits {
            max_lines: 2,
            ..LIMITS
        };
        let outcome = read_all(&["a\nb\nc\n"], limits);
        assert!(
            matches!(outcome, Err(ReadError::TooManyLines(2))),
            "3 lines against 2: {outcome:?}"
        );
    }

    #[test]
    fn a_body_that_fails_midway_is_interrupted() {
        let frames: Frames = vec![
            Ok(Frame::data(Bytes::from_static(b"a\n"))),
            Err(std::io::Error::other("connection reset")),
        ];
        let mut reader = LineReader::new(StreamBody::new(futures::stream::iter(frames)), LIMITS);
        let first = block_on(reader.next_line()).unwrap();
        assert_eq!(first, Some(text(1, "a")));
        let second = block_on(reader.next_line());
        assert!(
            matches!(second, Err(ReadError::Interrupted(ref cause)) if cause.contains("connection reset")),
            "{second:?}"
        );
    }

    #[test]
    fn an_import_must_be_ndjson() {
        let mut headers = HeaderMap::new();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        let refused = require_import(&headers, &LIMITS).map_err(|p| p.status());
        assert_eq!(refused, Err(StatusCode::UNSUPPORTED_MEDIA_TYPE));
    }

    #[test]
    fn an_import_declaring_more_than_the_limit_is_refused_unread() {
        let mut headers = HeaderMap::new();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static(MEDIA_TYPE));
        headers.insert(http::header::CONTENT_LENGTH, HeaderValue::from(1025));
        let refused = require_import(&headers, &LIMITS).map_err(|p| p.status());
        assert_eq!(refused, Err(StatusCode::PAYLOAD_TOO_LARGE));
    }

    #[test]
    fn an_export_writes_one_line_per_item_page_by_page() {
        let pages = futures::stream::iter(vec![
            Ok::<_, String>(vec![
                serde_json::json!({"id": "a"}),
                serde_json::json!({"id": "b"}),
            ]),
            Ok(vec![serde_json::json!({"id": "c"})]),
        ]);
        let response = response("test", pages);
        assert_eq!(response.headers()[CONTENT_TYPE], MEDIA_TYPE);
        assert!(
            response
                .headers()
                .get(http::header::CONTENT_LENGTH)
                .is_none()
        );
        let body = block_on(response.into_body().collect()).unwrap().to_bytes();
        assert_eq!(body, "{\"id\":\"a\"}\n{\"id\":\"b\"}\n{\"id\":\"c\"}\n");
    }

    #[test]
    fn an_export_whose_page_fails_ends_with_the_error() {
        let pages = futures::stream::iter(vec![
            Ok(vec![serde_json::json!(1)]),
            Err("database gone".to_owned()),
        ]);
        let outcome = block_on(response("test", pages).into_body().collect());
        assert_eq!(
            outcome.err().map(|e| e.to_string()).as_deref(),
            Some("database gone")
        );
    }
}
