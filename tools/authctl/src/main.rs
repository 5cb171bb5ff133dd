//! `authctl`: what an operator of the auth service does outside it.
//!
//! - `keygen`: a new Ed25519 signing key for `auth_signing_key`, with its public key and id.
//! - `public-key`: the public key of the signing key in `SPIN_VARIABLE_AUTH_SIGNING_KEY`, for
//!   `auth_previous_public_keys` when rotating.
//! - `register`: registers a client (or replaces its secret and scopes) in the auth database,
//!   creating the schema if the service has not yet; prints the secret once.
//! - `token`: mints a token offline with `SPIN_VARIABLE_AUTH_SIGNING_KEY`, for development.
#![cfg_attr(target_arch = "wasm32", allow(unused))]

#[cfg(not(target_arch = "wasm32"))]
fn main() -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match authctl::commands::run(&args) {
        Ok(output) => {
            print!("{output}");
            std::process::ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("authctl: {error}\n\n{}", authctl::commands::USAGE);
            std::process::ExitCode::FAILURE
        }
    }
}

#[cfg(target_arch = "wasm32")]
fn main() {}
