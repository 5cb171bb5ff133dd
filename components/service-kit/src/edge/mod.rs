//! The HTTP edge every component shares: routing with 404 and 405, request reading, RFC 9457
//! problems, sized responses, the health report and the access line of every request. Everything that knows about HTTP is here;
//! the rest of the kit is transport-free.

pub mod about;
pub mod access;
pub mod body;
pub mod conditional;
pub mod entry;
pub mod health;
pub mod ndjson;
pub mod negotiate;
pub mod problem;
pub mod rate_limit;
pub mod request;
pub mod respond;
pub mod routes;
pub mod setup;

pub use about::About;
pub use access::AccessNotes;
pub use entry::{Setup, run};
pub use health::Check;
pub use problem::Problem;
pub use request::{Fields, Query, RequestBody, form, json_array, json_object};
pub use respond::HttpResponse;
pub use routes::{Answer, HttpService, Params, Route, Routed, serve, serve_noted};
pub use setup::{Counter, CountsIn, Edge, EdgeConfig, Meter, NoTokens, Tokens, Uncounted};
