//! Who may write: bearer tokens (JWT, RFC 7519) issued by the `auth` component or any identity
//! provider, verified the same way by every service.
//!
//! Transport-free like the rest of the kit: [`claims`] (what a token says and the scopes it
//! grants), [`keys`] (the public keys a JWKS publishes, and the key ids derived from them),
//! [`verify`] (signature, algorithm, time, issuer and audience checks) and [`sign`] (issuance,
//! for the `auth` component and the development tools). [`config`] reads the Spin variables
//! and fetches the JWKS, [`held_keys`] bounds how long fetched keys are trusted, [`verified`]
//! remembers the tokens an instance has verified; the edge turns a rejection into a 401 or
//! 403.

pub mod claims;
pub mod config;
pub mod held_keys;
pub mod keys;
pub mod sign;
pub mod verified;
pub mod verify;

pub use claims::{Access, Grant, Principal, scopes};
pub use keys::{KeySet, key_id};
pub use verify::{Rejection, TrustPolicy, Verifier};
