//! gRPC status codes, and the one mapping from the HTTP status of a [`Problem`] to them.
//!
//! [`Problem`]: crate::Problem

use http::StatusCode;

/// The codes this system sends (the numbering of `google.rpc.Code`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Code {
    Ok = 0,
    InvalidArgument = 3,
    NotFound = 5,
    PermissionDenied = 7,
    ResourceExhausted = 8,
    FailedPrecondition = 9,
    Unimplemented = 12,
    Internal = 13,
    Unavailable = 14,
    Unauthenticated = 16,
}

impl Code {
    /// The code of a refusal the edge or a controller expressed as an HTTP status:
    /// 400 and 415 `INVALID_ARGUMENT`, 401 `UNAUTHENTICATED`, 403 `PERMISSION_DENIED`,
    /// 404 `NOT_FOUND`, 405 and 501 `UNIMPLEMENTED`, 409 and 412 `FAILED_PRECONDITION`, 413 and
    /// 429 `RESOURCE_EXHAUSTED`, 502 to 504 `UNAVAILABLE` (an upstream, or this service, may
    /// answer if asked again), anything else `INTERNAL`.
    pub fn from_http(status: StatusCode) -> Self {
        match status.as_u16() {
            200..=299 => Self::Ok,
            400 | 415 => Self::InvalidArgument,
            401 => Self::Unauthenticated,
            403 => Self::PermissionDenied,
            404 => Self::NotFound,
            405 | 501 => Self::Unimplemented,
            409 | 412 => Self::FailedPrecondition,
            413 | 429 => Self::ResourceExhausted,
            502..=504 => Self::Unavailable,
            _ => Self::Internal,
        }
    }

    pub fn number(self) -> u8 {
        self as u8
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_refusal_the_issue_names_has_its_code() {
        let cases = [
            (400, Code::InvalidArgument),
            (401, Code::Unauthenticated),
            (403, Code::PermissionDenied),
            (404, Code::NotFound),
            (429, Code::ResourceExhausted),
            (500, Code::Internal),
            (502, Code::Unavailable),
            (503, Code::Unavailable),
            (504, Code::Unavailable),
        ];
        for (http, code) in cases {
            let status = StatusCode::from_u16(http).unwrap_or(StatusCode::IM_A_TEAPOT);
            assert_eq!(Code::from_http(status), code, "HTTP {http}");
        }
    }

    #[test]
    fn the_numbers_are_google_rpc_codes() {
        assert_eq!(
            [Code::NotFound, Code::Unavailable, Code::Unauthenticated].map(Code::number),
            [5, 14, 16]
        );
    }
}
