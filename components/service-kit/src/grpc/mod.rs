//! Unary gRPC over the same edge as REST: a gRPC method is a `POST` route of a service's
//! table, authorized and metered like any other, whose handler reads one message with
//! [`read_message`] and answers with [`reply`]. A refusal anywhere on the way (a [`Problem`])
//! becomes a [`Status`] for a gRPC caller, chosen by the request's `content-type`.
//!
//! Every response, error or not, is `200` with headers, then the body, then trailers holding
//! `grpc-status`: Spin 4.1 delivers a trailers-only response (status in the headers, no body)
//! to clients as `UNKNOWN: Stream removed`, so none is ever sent (`docs/grpc.md`).
//!
//! [`Problem`]: crate::Problem

pub mod code;
pub mod details;
pub mod health;
pub mod status;
pub mod wire;

pub use code::Code;
pub use status::Status;
pub use wire::{is_grpc, read_message, reply};
