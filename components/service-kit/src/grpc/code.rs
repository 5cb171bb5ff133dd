//! gRPC status codes, and the one mapping from the HTTP status of a [`Problem`] to them.
//!
//! [`Problem`]: crate::Problem

use http::StatusCode;

/// The status codes of gRPC, numbered as `google.rpc.Code`: those this system sends, and those
/// it may read from an upstream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Code {
    Ok = 0,
    Cancelled = 1,
    Unknown = 2,
    InvalidArgument = 3,
    DeadlineExceeded = 4,
    NotFound = 5,
    AlreadyExists = 6,
    PermissionDenied = 7,
    ResourceExhausted = 8,
    FailedPrecondition = 9,
    Aborted = 10,
    OutOfRange = 11,
    Unimplemented = 12,
    Internal = 13,
    Unavailable = 14,
    DataLoss = 15,
    Unauthenticated = 16,
}

/// Every code, in number order.
const ALL: [Code; 17] = [
    Code::Ok,
    Code::Cancelled,
    Code::Unknown,
    Code::InvalidArgument,
    Code::DeadlineExceeded,
    Code::NotFound,
    Code::AlreadyExists,
    Code::PermissionDenied,
    Code::ResourceExhausted,
    Code::FailedPrecondition,
    Code::Aborted,
    Code::OutOfRange,
    Code::Unimplemented,
    Code::Internal,
    Code::Unavailable,
    Code::DataLoss,
    Code::Unauthenticated,
];

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

    /// The code a `grpc-status` value names: its decimal number, 0 to 16.
    pub fn parse(value: &str) -> Option<Self> {
        let number: usize = value.trim().parse().ok()?;
        ALL.get(number).copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_is_parsed_from_its_own_number() {
        for code in ALL {
            assert_eq!(Code::parse(&code.number().to_string()), Some(code));
        }
        assert_eq!(Code::parse("17"), None, "past the last code");
        assert_eq!(Code::parse("x"), None);
    }

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
