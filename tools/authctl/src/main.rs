//! `authctl`: what an operator of the auth service does outside it (`authctl --help`).
//!
//! - `keygen`: a new Ed25519 signing key for `auth_signing_key`, with its public key and id.
//! - `public-key`, `jwks`: the public half of the signing key, and the JWKS auth publishes.
//! - `register`: registers a client (or replaces its secret and scopes) in the auth database,
//!   creating the schema if the service has not yet; prints the secret once.
//! - `token`: mints a token as auth would issue it.
//!
//! The signing key is `SPIN_VARIABLE_AUTH_SIGNING_KEY`, else the development key in the auth
//! database, the one `spin up` signs with when no key is configured.
#![cfg_attr(target_arch = "wasm32", allow(unused))]

#[cfg(not(target_arch = "wasm32"))]
fn main() -> std::process::ExitCode {
    use clap::Parser;
    let cli = authctl::commands::Cli::parse();
    match authctl::commands::execute(cli) {
        Ok(output) => {
            print!("{output}");
            std::process::ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("authctl: {error}");
            std::process::ExitCode::FAILURE
        }
    }
}

#[cfg(target_arch = "wasm32")]
fn main() {}
