//! The body of every response: bytes known in full before the headers go out, with the
//! trailer fields that follow them when the response has any (a gRPC status travels there),
//! or chunks produced while the body is sent (an export).

use bytes::Bytes;
use futures::Stream;
use http::HeaderMap;
use http_body::{Frame, SizeHint};
use std::fmt;
use std::pin::Pin;
use std::task::{Context, Poll};

/// Why a streamed body stopped before its end: the client sees the response cut short.
pub type StreamError = Box<dyn std::error::Error + Send + Sync>;

/// Chunks produced as the body is sent. Not `Send`: a component is single-threaded, and the
/// stream owns what it reads from (a database connection).
pub type Chunks = Pin<Box<dyn Stream<Item = Result<Bytes, StreamError>>>>;

/// A complete body and optional trailers, whose length is known so the builders in
/// [`super::respond`] can state `content-length`; or a stream of chunks, sent as they come.
#[derive(Default)]
pub struct Body {
    data: Option<Bytes>,
    trailers: Option<HeaderMap>,
    chunks: Option<Chunks>,
    /// Set once the body is handed to the host, until the host has taken it.
    _unsent: Option<crate::host_turn::Unsent>,
}

impl Body {
    pub fn new(data: impl Into<Bytes>) -> Self {
        let data: Bytes = data.into();
        Self {
            data: (!data.is_empty()).then_some(data),
            ..Self::default()
        }
    }

    /// A body of `chunks`, each sent once produced: the client has the first while the next
    /// is made, and the component never holds more than one. An error ends the body early,
    /// and the host aborts the response so the client cannot take it for complete.
    pub fn streamed(chunks: impl Stream<Item = Result<Bytes, StreamError>> + 'static) -> Self {
        Self {
            chunks: Some(Box::pin(chunks)),
            ..Self::default()
        }
    }

    /// The same bytes, then `trailers` once they are sent.
    pub fn with_trailers(self, trailers: HeaderMap) -> Self {
        Self {
            trailers: Some(trailers),
            ..self
        }
    }

    /// The body as handed to the host: a sized body counts as unsent until it is dropped
    /// ([`crate::host_turn::before_blocking_call`]); a streamed one is not counted, as its
    /// chunks go out as they come anyway.
    pub fn handed_over(self) -> Self {
        let _unsent = (!self.is_streamed()).then(crate::host_turn::Unsent::new);
        Self { _unsent, ..self }
    }

    /// How many bytes of data the body holds (trailers are not counted, as HTTP does not);
    /// for a streamed body, the bytes not yet produced are not counted either.
    pub fn len(&self) -> usize {
        self.data.as_ref().map_or(0, Bytes::len)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0 && self.chunks.is_none()
    }

    /// Whether the body is produced while it is sent, so its length is unknown.
    pub fn is_streamed(&self) -> bool {
        self.chunks.is_some()
    }
}

impl fmt::Debug for Body {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Body")
            .field("data", &self.data)
            .field("trailers", &self.trailers)
            .field("streamed", &self.chunks.is_some())
            .finish()
    }
}

impl http_body::Body for Body {
    type Data = Bytes;
    type Error = StreamError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, StreamError>>> {
        let this = self.get_mut();
        if let Some(data) = this.data.take() {
            return Poll::Ready(Some(Ok(Frame::data(data))));
        }
        if let Some(chunks) = this.chunks.as_mut() {
            match chunks.as_mut().poll_next(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Some(chunk)) => return Poll::Ready(Some(chunk.map(Frame::data))),
                Poll::Ready(None) => this.chunks = None,
            }
        }
        Poll::Ready(this.trailers.take().map(|t| Ok(Frame::trailers(t))))
    }

    fn is_end_stream(&self) -> bool {
        self.data.is_none() && self.trailers.is_none() && self.chunks.is_none()
    }

    fn size_hint(&self) -> SizeHint {
        if self.chunks.is_some() {
            let mut hint = SizeHint::new();
            hint.set_lower(self.len() as u64);
            hint
        } else {
            SizeHint::with_exact(self.len() as u64)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body::Body as _;
    use http_body_util::BodyExt;

    fn collected(body: Body) -> Result<(Bytes, Option<HeaderMap>), StreamError> {
        let collected = futures::executor::block_on(body.collect())?;
        let trailers = collected.trailers().cloned();
        Ok((collected.to_bytes(), trailers))
    }

    #[test]
    fn the_data_comes_first_then_the_trailers() {
        let mut trailers = HeaderMap::new();
        trailers.insert("grpc-status", http::HeaderValue::from_static("0"));
        let (data, trailers) = collected(Body::new("abc").with_trailers(trailers)).unwrap();
        assert_eq!(data, "abc", "body data");
        assert_eq!(
            trailers.and_then(|t| t.get("grpc-status").cloned()),
            Some(http::HeaderValue::from_static("0")),
            "the trailers after the data"
        );
    }

    #[test]
    fn an_empty_body_with_trailers_sends_only_the_trailers() {
        let body = Body::new(Bytes::new()).with_trailers(HeaderMap::new());
        assert!(!body.is_end_stream(), "the trailers are still to come");
        let (data, trailers) = collected(body).unwrap();
        assert_eq!((data.len(), trailers.is_some()), (0, true));
    }

    #[test]
    fn a_sized_body_handed_over_is_unsent_until_it_is_dropped() {
        use crate::host_turn::unsent_responses;
        let body = Body::new("four").handed_over();
        assert_eq!(unsent_responses(), 1, "a sized body handed over");
        drop(body);
        assert_eq!(unsent_responses(), 0, "once the host has taken it");
    }

    #[test]
    fn a_streamed_body_handed_over_is_not_counted() {
        let body = chunks(vec![Ok("a")]).handed_over();
        assert_eq!(crate::host_turn::unsent_responses(), 0);
        drop(body);
    }

    #[test]
    fn a_plain_body_states_its_exact_length() {
        assert_eq!(Body::new("four").size_hint().exact(), Some(4));
    }

    fn chunks(items: Vec<Result<&'static str, &'static str>>) -> Body {
        Body::streamed(futures::stream::iter(
            items
                .into_iter()
                .map(|item| item.map(Bytes::from).map_err(StreamError::from)),
        ))
    }

    #[test]
    fn a_streamed_body_sends_its_chunks_in_order_and_has_no_exact_length() {
        let body = chunks(vec![Ok("a"), Ok("b"), Ok("c")]);
        assert_eq!(body.size_hint().exact(), None, "a streamed body's length");
        assert_eq!(collected(body).unwrap().0, "abc", "the chunks, in order");
    }

    #[test]
    fn a_failing_chunk_ends_a_streamed_body_with_its_error() {
        let outcome = collected(chunks(vec![Ok("a"), Err("database gone"), Ok("never")]));
        assert_eq!(
            outcome.map_err(|e| e.to_string()).err().as_deref(),
            Some("database gone"),
            "the error that cut the body short"
        );
    }
}
