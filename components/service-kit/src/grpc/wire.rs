//! gRPC's unary framing over HTTP: a request is one length-prefixed message, a reply is one
//! length-prefixed message followed by `grpc-status: 0` in the trailers.
//!
//! A message frame is a compression flag (one byte), its length (four bytes, big-endian) and
//! the protobuf bytes. This system does not compress (it never offers `grpc-accept-encoding`),
//! so a compressed request is `UNIMPLEMENTED`.

use super::code::Code;
use crate::edge::body::Body;
use crate::edge::request::{RequestBody, bounded_body};
use crate::edge::{HttpResponse, Problem};
use bytes::{BufMut, Bytes, BytesMut};
use http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use http::{HeaderMap, HeaderValue, Request, StatusCode};

/// The trailers that carry a call's outcome (the gRPC over HTTP/2 protocol).
pub const GRPC_STATUS: &str = "grpc-status";
pub const GRPC_MESSAGE: &str = "grpc-message";
pub const GRPC_STATUS_DETAILS: &str = "grpc-status-details-bin";

/// The media type of gRPC over HTTP/2 with protobuf messages.
pub const GRPC: &str = "application/grpc";

const PREFIX_BYTES: usize = 5;

/// Whether a request is a gRPC call (`application/grpc`, alone or with a `+codec` suffix): its
/// refusals are then gRPC statuses instead of problem documents.
pub fn is_grpc(headers: &HeaderMap) -> bool {
    headers
        .get(CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| {
            let essence = value.split(';').next().unwrap_or_default().trim();
            essence == GRPC || essence == "application/grpc+proto"
        })
}

/// The one message of a unary call: refused (before decoding) when the request is not gRPC
/// (415, for it is not a gRPC client that sent it), when it is larger than the services accept
/// (`RESOURCE_EXHAUSTED`), compressed (`UNIMPLEMENTED`), not exactly one frame, or not a valid
/// `M` (`INVALID_ARGUMENT`).
pub async fn read_message<M, B>(request: Request<B>) -> Result<M, Problem>
where
    M: prost::Message + Default,
    B: RequestBody,
{
    let (parts, body) = request.into_parts();
    if !is_grpc(&parts.headers) {
        return Err(Problem::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "a gRPC method must be called with content-type application/grpc",
        ));
    }
    let bytes = bounded_body(&parts.headers, body).await?;
    let message = unframe(&bytes)?;
    M::decode(message).map_err(|error| {
        Problem::bad_request(format!("the request message could not be decoded: {error}"))
    })
}

/// The message of a single frame (a request's, or a reply's for a client).
pub fn unframe(bytes: &[u8]) -> Result<&[u8], Problem> {
    let (prefix, message) = bytes
        .split_at_checked(PREFIX_BYTES)
        .ok_or_else(|| Problem::bad_request("the request holds no complete message frame"))?;
    let [compressed, length @ ..] = prefix else {
        return Err(Problem::bad_request("the request holds no message frame"));
    };
    if *compressed != 0 {
        return Err(Problem::new(
            StatusCode::NOT_IMPLEMENTED,
            "compressed messages are not supported; send them uncompressed",
        ));
    }
    let declared = length
        .try_into()
        .map(u32::from_be_bytes)
        .map_err(|_| Problem::bad_request("the request holds no message frame"))?;
    if usize::try_from(declared).ok() != Some(message.len()) {
        return Err(Problem::bad_request(
            "a unary call's request must be exactly one message frame",
        ));
    }
    Ok(message)
}

/// A successful reply: `message` in one frame, then `grpc-status: 0`.
pub fn reply(message: &impl prost::Message) -> HttpResponse {
    let mut trailers = HeaderMap::new();
    trailers.insert(GRPC_STATUS, HeaderValue::from(u16::from(Code::Ok.number())));
    grpc_response(frame(message), trailers)
}

/// `message` as one uncompressed frame (a reply's, or a request's for a client).
pub fn frame(message: &impl prost::Message) -> Bytes {
    let length = message.encoded_len();
    let mut framed = BytesMut::with_capacity(PREFIX_BYTES + length);
    framed.put_u8(0);
    framed.put_u32(u32::try_from(length).unwrap_or(u32::MAX));
    // Encoding into a buffer of sufficient capacity cannot fail.
    let _ = message.encode(&mut framed);
    framed.freeze()
}

/// `200 application/grpc` with `data`, then `trailers`. The length is stated, as on every
/// response of the system (a streamed body costs a keep-alive client a delayed ACK).
pub(super) fn grpc_response(data: Bytes, trailers: HeaderMap) -> HttpResponse {
    let length = data.len();
    let mut response = http::Response::new(Body::new(data).with_trailers(trailers));
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(GRPC));
    headers.insert(CONTENT_LENGTH, HeaderValue::from(length));
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::grpc::health::HealthCheckRequest;
    use http_body_util::{BodyExt, Full};

    fn grpc_request(body: Vec<u8>) -> Request<Full<Bytes>> {
        Request::post("/grpc.health.v1.Health/Check")
            .header(CONTENT_TYPE, GRPC)
            .body(Full::new(Bytes::from(body)))
            .unwrap_or_default()
    }

    fn framed(message: &[u8]) -> Vec<u8> {
        let mut bytes = vec![0];
        bytes.extend((message.len() as u32).to_be_bytes());
        bytes.extend(message);
        bytes
    }

    fn read(request: Request<Full<Bytes>>) -> Result<HealthCheckRequest, Problem> {
        futures::executor::block_on(read_message(request))
    }

    #[test]
    fn a_framed_message_is_read() {
        let sent = HealthCheckRequest {
            service: "MovieService".into(),
        };
        let read = read(grpc_request(framed(&prost::Message::encode_to_vec(&sent))));
        assert_eq!(read, Ok(sent));
    }

    #[test]
    fn a_request_that_is_not_grpc_is_415() {
        let mut request = grpc_request(framed(b""));
        request.headers_mut().remove(CONTENT_TYPE);
        assert_eq!(
            read(request).map_err(|p| p.status()),
            Err(StatusCode::UNSUPPORTED_MEDIA_TYPE)
        );
    }

    #[test]
    fn a_compressed_message_is_unimplemented() {
        let mut bytes = framed(b"");
        bytes[0] = 1;
        let code = read(grpc_request(bytes)).map_err(|p| Code::from_http(p.status()));
        assert_eq!(code, Err(Code::Unimplemented));
    }

    #[test]
    fn a_truncated_or_padded_frame_is_an_invalid_argument() {
        let whole = framed(b"\x0a\x01x");
        for bytes in [
            &whole[..3],
            &whole[..whole.len() - 1],
            &[&whole[..], b"!"].concat(),
        ] {
            let code = read(grpc_request(bytes.to_vec())).map_err(|p| Code::from_http(p.status()));
            assert_eq!(code, Err(Code::InvalidArgument), "{bytes:?}");
        }
    }

    #[test]
    fn bytes_that_are_not_the_message_are_an_invalid_argument() {
        let code = read(grpc_request(framed(b"\xff\xff"))).map_err(|p| Code::from_http(p.status()));
        assert_eq!(code, Err(Code::InvalidArgument));
    }

    #[test]
    fn a_reply_is_one_frame_then_status_ok() {
        let response = reply(&HealthCheckRequest {
            service: "x".into(),
        });
        assert_eq!(response.headers()[CONTENT_LENGTH], "8");
        let collected = futures::executor::block_on(response.into_body().collect())
            .expect("a complete body cannot fail");
        let trailers = collected.trailers().cloned().unwrap_or_default();
        assert_eq!(
            collected.to_bytes().as_ref(),
            framed(b"\x0a\x01x").as_slice()
        );
        assert_eq!(
            trailers.get(GRPC_STATUS),
            Some(&HeaderValue::from_static("0"))
        );
    }
}
