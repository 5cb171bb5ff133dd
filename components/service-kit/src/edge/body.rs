//! The body of every response: bytes known in full before the headers go out, and the
//! trailer fields that follow them when the response has any (a gRPC status travels there).

use bytes::Bytes;
use http::HeaderMap;
use http_body::{Frame, SizeHint};
use std::convert::Infallible;
use std::pin::Pin;
use std::task::{Context, Poll};

/// A complete body and optional trailers. Unlike a streamed body its length is known, so
/// the builders in [`super::respond`] can state `content-length`.
#[derive(Debug, Default, Clone)]
pub struct Body {
    data: Option<Bytes>,
    trailers: Option<HeaderMap>,
}

impl Body {
    pub fn new(data: impl Into<Bytes>) -> Self {
        let data: Bytes = data.into();
        Self {
            data: (!data.is_empty()).then_some(data),
            trailers: None,
        }
    }

    /// The same bytes, then `trailers` once they are sent.
    pub fn with_trailers(self, trailers: HeaderMap) -> Self {
        Self {
            trailers: Some(trailers),
            ..self
        }
    }

    /// How many bytes of data the body holds (trailers are not counted, as HTTP does not).
    pub fn len(&self) -> usize {
        self.data.as_ref().map_or(0, Bytes::len)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl http_body::Body for Body {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        let this = self.get_mut();
        if let Some(data) = this.data.take() {
            return Poll::Ready(Some(Ok(Frame::data(data))));
        }
        Poll::Ready(this.trailers.take().map(|t| Ok(Frame::trailers(t))))
    }

    fn is_end_stream(&self) -> bool {
        self.data.is_none() && self.trailers.is_none()
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.len() as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body::Body as _;
    use http_body_util::BodyExt;

    fn collected(body: Body) -> (Bytes, Option<HeaderMap>) {
        let collected = futures::executor::block_on(body.collect()).unwrap_or_else(|n| match n {});
        let trailers = collected.trailers().cloned();
        (collected.to_bytes(), trailers)
    }

    #[test]
    fn the_data_comes_first_then_the_trailers() {
        let mut trailers = HeaderMap::new();
        trailers.insert("grpc-status", http::HeaderValue::from_static("0"));
        let (data, trailers) = collected(Body::new("abc").with_trailers(trailers));
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
        let (data, trailers) = collected(body);
        assert_eq!((data.len(), trailers.is_some()), (0, true));
    }

    #[test]
    fn a_plain_body_states_its_exact_length() {
        assert_eq!(Body::new("four").size_hint().exact(), Some(4));
    }
}
