//! The commands, parsed by clap, each returning what it prints, so tests can run them
//! in-process.

use auth::migrations::{DEVELOPMENT_KEY, MIGRATIONS, REGISTER_CLIENT};
use auth::model::{ClientId, ScopeSet};
use chrono::Duration;
use clap::{Args, Parser, Subcommand};
use service_kit::auth::sign::{Issue, Signer, encode_base64url};
use service_kit::instance::ConfigError;
use std::path::{Path, PathBuf};

/// The defaults of `spin.toml`'s `jwt_issuer` and `jwt_audience`.
pub const DEFAULT_ISSUER: &str = "movie-system-auth";
pub const DEFAULT_AUDIENCE: &str = "movie-system";
const KEY_VARIABLE: &str = "SPIN_VARIABLE_AUTH_SIGNING_KEY";
/// Where `runtime-config.toml` keeps the auth database, from the repository root.
const DEFAULT_DB: &str = ".spin/auth.db";

/// What an operator of the auth service does outside it.
#[derive(Debug, Parser)]
#[command(
    name = "authctl",
    version,
    about = "Signing keys, client registration and development tokens of the movie system's auth service",
    after_help = "The signing key is SPIN_VARIABLE_AUTH_SIGNING_KEY, as the auth component reads \
auth_signing_key. When it is unset or empty, public-key, jwks and token use the development key \
in the auth database (--db), creating it if the app has not yet: the key `spin up` signs with \
when none is configured.\n\nScopes: metadata:write ratings:write ratings:admin"
)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Print a new Ed25519 signing key as a shell line setting SPIN_VARIABLE_AUTH_SIGNING_KEY,
    /// with its public key and key id as comments.
    Keygen,
    /// Print the public key of the signing key (for auth_previous_public_keys when rotating).
    PublicKey(KeyArgs),
    /// Print the JWKS auth publishes: what a split deployment pins in jwt_jwks.
    Jwks {
        /// Public keys of retired signing keys, comma-separated (as auth_previous_public_keys).
        #[arg(long, default_value = "")]
        previous: String,
        #[command(flatten)]
        key: KeyArgs,
    },
    /// Register a client, or replace its secret and scopes; prints the secret once.
    Register(RegisterArgs),
    /// Mint a token as auth would issue it (for development and scripts).
    Token(TokenArgs),
}

/// Where the signing key comes from when SPIN_VARIABLE_AUTH_SIGNING_KEY is not set.
#[derive(Debug, Args)]
struct KeyArgs {
    /// The auth database holding the development key.
    #[arg(long, default_value = DEFAULT_DB)]
    db: PathBuf,
}

#[derive(Debug, Args)]
pub struct RegisterArgs {
    /// The client id.
    #[arg(long)]
    id: String,
    /// Space-separated scopes the client may ask for.
    #[arg(long)]
    scopes: String,
    /// The auth database (created and migrated if it does not exist).
    #[arg(long, default_value = DEFAULT_DB)]
    db: PathBuf,
    /// A secret of your choosing (checked for strength); by default a random one.
    #[arg(long)]
    secret: Option<String>,
}

#[derive(Debug, Args)]
pub struct TokenArgs {
    /// The token's subject: the user or client it speaks for.
    #[arg(long)]
    sub: String,
    /// Space-separated scopes.
    #[arg(long)]
    scopes: String,
    /// Seconds the token is valid (1 to 86400, as auth_token_lifetime_s).
    #[arg(long = "lifetime-s", default_value_t = 300,
          value_parser = clap::value_parser!(u32).range(1..=86_400))]
    lifetime_s: u32,
    /// The issuer (spin.toml's jwt_issuer).
    #[arg(long, default_value = DEFAULT_ISSUER)]
    issuer: String,
    /// The audience (spin.toml's jwt_audience).
    #[arg(long, default_value = DEFAULT_AUDIENCE)]
    audience: String,
    #[command(flatten)]
    key: KeyArgs,
}

/// Runs a command line (without the program name); what to print, or why it failed, as the
/// binary would print them (`--help` is printed, a usage error is clap's message).
pub fn run(args: &[String]) -> Result<String, String> {
    match Cli::try_parse_from(command_line(args)) {
        Ok(cli) => execute(cli),
        Err(shown) if !shown.use_stderr() => Ok(shown.render().to_string()),
        Err(error) => Err(error.render().to_string()),
    }
}

fn command_line(args: &[String]) -> impl Iterator<Item = &str> {
    std::iter::once("authctl").chain(args.iter().map(String::as_str))
}

/// Parses a command line (without the program name) as the binary would, without running
/// it: what a test of documented commands needs.
pub fn parse(args: &[String]) -> Result<Cli, String> {
    Cli::try_parse_from(command_line(args)).map_err(|error| error.render().to_string())
}

/// Runs parsed arguments.
pub fn execute(cli: Cli) -> Result<String, String> {
    match cli.command {
        Command::Keygen => Ok(keygen(random()?)),
        Command::PublicKey(key) => public_key(&signing_key(&key.db)?),
        Command::Jwks { previous, key } => jwks(&previous, &signing_key(&key.db)?),
        Command::Register(args) => register(&args, random()?, random()?),
        Command::Token(args) => token(&args, &signing_key(&args.key.db)?, random()?),
    }
}

fn random<const N: usize>() -> Result<[u8; N], String> {
    let mut bytes = [0; N];
    getrandom::fill(&mut bytes).map_err(|error| error.to_string())?;
    Ok(bytes)
}

/// The key auth signs with: `SPIN_VARIABLE_AUTH_SIGNING_KEY` when set, else the development
/// key in `db` (stored first if there is none, by the statement auth runs), with a note on
/// stderr saying which.
fn signing_key(db: &Path) -> Result<String, String> {
    match std::env::var(KEY_VARIABLE) {
        Ok(key) if !key.trim().is_empty() => Ok(key),
        _ => {
            let seed = development_key(db, random()?)?;
            let kid = Signer::parse(&seed).map_err(|error| error.to_string())?;
            eprintln!(
                "authctl: {KEY_VARIABLE} is not set: using the development key in {} (kid {})",
                db.display(),
                kid.kid()
            );
            Ok(seed)
        }
    }
}

/// The development key's seed in the auth database at `path`: the stored one, or `candidate`
/// after storing it. Auth runs the same statement, so whichever comes first, both sign alike.
pub fn development_key(path: &Path, candidate: [u8; 32]) -> Result<String, String> {
    let connection = open(path)?;
    let now = chrono::Utc::now().timestamp();
    connection
        .query_row(
            DEVELOPMENT_KEY,
            rusqlite::params![encode_base64url(&candidate), now],
            |row| row.get(0),
        )
        .map_err(|error| format!("{}: {error}", path.display()))
}

/// Shell lines: the key as the variable Spin reads, then its public half and id as comments.
pub fn keygen(seed: [u8; 32]) -> String {
    let signer = Signer::from_seed(seed);
    format!(
        "export {KEY_VARIABLE}={}\n# public key: {}\n# kid: {}\n",
        encode_base64url(&seed),
        encode_base64url(signer.public_key().as_ref()),
        signer.kid()
    )
}

pub fn public_key(key: &str) -> Result<String, String> {
    let signer = Signer::parse(key).map_err(|error| error.to_string())?;
    Ok(format!(
        "{}\n",
        encode_base64url(signer.public_key().as_ref())
    ))
}

/// The JWKS auth publishes for `key` and the `previous` public keys (comma-separated, as
/// `auth_previous_public_keys`): what a split deployment pins in `jwt_jwks`, so metadata and
/// rating verify tokens without fetching keys across the network.
pub fn jwks(previous: &str, key: &str) -> Result<String, String> {
    let signer = Signer::parse(key).map_err(|error| error.to_string())?;
    let previous = auth::keyring::parse_public_keys(previous).map_err(|error| match error {
        ConfigError::Invalid { reason, .. } => format!("--previous: {reason}"),
        other => other.to_string(),
    })?;
    let keys = service_kit::auth::KeySet::new(std::iter::once(signer.public_key()).chain(previous));
    Ok(format!("{}\n", keys.to_jwks()))
}

/// Registers `--id` with `--scopes` and `--secret` (or a new random one) in `--db`.
pub fn register(
    args: &RegisterArgs,
    new_secret: [u8; 32],
    salt: [u8; 16],
) -> Result<String, String> {
    let id = ClientId::parse(&args.id).map_err(|error| format!("--id: {error}"))?;
    let scopes = ScopeSet::parse(&args.scopes).map_err(|error| format!("--scopes: {error}"))?;
    let secret = match &args.secret {
        Some(chosen) => {
            auth::secret::check_strength(chosen).map_err(|error| format!("--secret: {error}"))?;
            chosen.clone()
        }
        None => encode_base64url(&new_secret),
    };
    let hash = auth::secret::hash(&secret, &salt)?;
    let connection = open(&args.db)?;
    let now = chrono::Utc::now().timestamp();
    connection
        .execute(
            REGISTER_CLIENT,
            rusqlite::params![id.as_str(), hash, scopes.to_claim(), now],
        )
        .map_err(|error| format!("{}: {error}", args.db.display()))?;
    Ok(format!(
        "client_id={}\nclient_secret={secret}\nscopes={}\n",
        id,
        scopes.to_claim()
    ))
}

/// The auth database at `path`, created and migrated as the service would (same migrations,
/// same `user_version` bookkeeping, write-ahead log), so the service finds nothing to do.
fn open(path: &Path) -> Result<rusqlite::Connection, String> {
    let fail = |error: rusqlite::Error| format!("{}: {error}", path.display());
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)
            .map_err(|error| format!("{}: {error}", parent.display()))?;
    }
    let mut connection = rusqlite::Connection::open(path).map_err(fail)?;
    connection
        .pragma_update(None, "journal_mode", "wal")
        .map_err(fail)?;
    let transaction = connection
        .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
        .map_err(fail)?;
    let current: u32 = transaction
        .query_row("PRAGMA user_version", [], |row| row.get(0))
        .map_err(fail)?;
    for migration in MIGRATIONS.iter().filter(|m| m.version > current) {
        for statement in migration.statements {
            transaction.execute_batch(statement).map_err(fail)?;
        }
        transaction
            .execute_batch(&format!("PRAGMA user_version = {}", migration.version))
            .map_err(fail)?;
    }
    transaction.commit().map_err(fail)?;
    Ok(connection)
}

/// A token signed with `key`, as the auth service would issue it.
pub fn token(args: &TokenArgs, key: &str, id: [u8; 16]) -> Result<String, String> {
    let signer = Signer::parse(key).map_err(|error| error.to_string())?;
    let scopes = ScopeSet::parse(&args.scopes).map_err(|error| format!("--scopes: {error}"))?;
    Ok(format!(
        "{}\n",
        signer.sign(&Issue {
            issuer: &args.issuer,
            audience: &args.audience,
            subject: &args.sub,
            scope: &scopes.to_claim(),
            id: &encode_base64url(&id),
            now: chrono::Utc::now(),
            lifetime: Duration::seconds(i64::from(args.lifetime_s)),
        })
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(command: &str, args: &[&str]) -> Command {
        let line = ["authctl", command].into_iter().chain(args.iter().copied());
        Cli::try_parse_from(line).unwrap().command
    }

    fn register_args(args: &[&str]) -> RegisterArgs {
        let Command::Register(args) = parse("register", args) else {
            panic!("not a register command")
        };
        args
    }

    fn token_args(args: &[&str]) -> TokenArgs {
        let Command::Token(args) = parse("token", args) else {
            panic!("not a token command")
        };
        args
    }

    #[test]
    fn a_registered_client_is_stored_with_a_hash_its_secret_matches() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("nested/auth.db");
        let db = db.to_str().unwrap();
        let printed = register(
            &register_args(&["--id", "cli", "--scopes", "ratings:write", "--db", db]),
            [9; 32],
            [1; 16],
        )
        .unwrap();
        let secret = printed
            .lines()
            .nth(1)
            .unwrap()
            .strip_prefix("client_secret=")
            .unwrap();
        let connection = rusqlite::Connection::open(db).unwrap();
        let (hash, scopes, version): (String, String, u32) = connection
            .query_row(
                "SELECT secret_hash, scopes, (SELECT user_version FROM pragma_user_version) FROM clients WHERE id = 'cli'",
                [],
                |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)),
            )
            .unwrap();
        assert!(
            auth::secret::matches(secret, &hash),
            "the stored hash matches the printed secret"
        );
        assert_eq!(
            (scopes.as_str(), version),
            ("ratings:write", MIGRATIONS.len() as u32)
        );
    }

    /// Two strong secrets an operator might choose.
    const ONE: &str = "one-Tq8vZ3mK9pW2xR7nB4cY6hJ1sD5fG0aL";
    const TWO: &str = "two-Hn5rE8uI2oP7aS4dF1gJ9kL3zX6cV0bM";

    fn register_with_secret(db: &str, secret: &str) -> Result<String, String> {
        let args = [
            "--id",
            "cli",
            "--scopes",
            "ratings:write",
            "--db",
            db,
            "--secret",
            secret,
        ];
        register(&register_args(&args), [0; 32], [1; 16])
    }

    #[test]
    fn the_jwks_holds_the_signing_key_and_the_previous_ones_by_their_ids() {
        let old = Signer::from_seed([2; 32]);
        let previous = encode_base64url(old.public_key().as_ref());
        let printed = jwks(&previous, &encode_base64url(&[1; 32])).unwrap();
        let keys = service_kit::auth::KeySet::parse(printed.as_bytes()).unwrap();
        for signer in [Signer::from_seed([1; 32]), old] {
            assert!(keys.get(signer.kid()).is_some(), "key {}", signer.kid());
        }
    }

    #[test]
    fn registering_again_replaces_the_secret() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("auth.db");
        let db = db.to_str().unwrap();
        register_with_secret(db, ONE).unwrap();
        register_with_secret(db, TWO).unwrap();
        let connection = rusqlite::Connection::open(db).unwrap();
        let hash: String = connection
            .query_row("SELECT secret_hash FROM clients", [], |row| row.get(0))
            .unwrap();
        assert!(auth::secret::matches(TWO, &hash) && !auth::secret::matches(ONE, &hash));
    }

    #[test]
    fn a_weak_chosen_secret_is_refused_before_anything_is_written() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("auth.db");
        for weak in ["one", "secretsecretsecretsecretsecret00"] {
            let error = register_with_secret(db.to_str().unwrap(), weak).unwrap_err();
            assert!(error.starts_with("--secret: "), "{weak}: {error}");
        }
        assert!(
            !db.exists(),
            "the database was created for a refused secret"
        );
    }

    #[test]
    fn an_unknown_scope_is_refused_before_anything_is_written() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("auth.db");
        let args = [
            "--id",
            "cli",
            "--scopes",
            "root",
            "--db",
            db.to_str().unwrap(),
        ];
        assert!(register(&register_args(&args), [0; 32], [1; 16]).is_err());
        assert!(!db.exists(), "no database was created");
    }

    #[test]
    fn keygen_prints_a_key_whose_public_half_matches() {
        let printed = keygen([3; 32]);
        let key = printed.lines().next().unwrap().split_once('=').unwrap().1;
        let public = printed
            .lines()
            .nth(1)
            .unwrap()
            .strip_prefix("# public key: ")
            .unwrap();
        assert_eq!(public_key(key).unwrap().trim(), public);
    }

    #[test]
    fn a_minted_token_names_the_kid_of_its_key() {
        let key = encode_base64url(&[3; 32]);
        let token = token(
            &token_args(&["--sub", "u1", "--scopes", "ratings:write"]),
            &key,
            [0; 16],
        )
        .unwrap();
        let header = format!("Bearer {}", token.trim());
        let presented = service_kit::auth::verify::Presented::from_header(Some(&header)).unwrap();
        assert_eq!(presented.key_id(), Some(Signer::from_seed([3; 32]).kid()));
    }

    #[test]
    fn the_development_key_is_created_once_and_then_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join(".spin/auth.db");
        let first = development_key(&db, [7; 32]).unwrap();
        let second = development_key(&db, [8; 32]).unwrap();
        assert_eq!(
            first,
            encode_base64url(&[7; 32]),
            "the first candidate is stored"
        );
        assert_eq!(second, first, "a later candidate does not replace it");
    }

    #[test]
    fn help_names_every_command() {
        let help = run(&["--help".to_owned()]).unwrap();
        for command in ["keygen", "public-key", "jwks", "register", "token"] {
            assert!(help.contains(command), "--help lacks {command}: {help}");
        }
    }

    #[test]
    fn an_unknown_command_is_a_usage_error() {
        let error = run(&["mint".to_owned()]).unwrap_err();
        assert!(error.contains("unrecognized subcommand"), "{error}");
    }

    #[test]
    fn a_token_without_its_subject_is_a_usage_error_naming_it() {
        let error = run(&["token".into(), "--scopes".into(), "ratings:write".into()]).unwrap_err();
        assert!(error.contains("--sub"), "{error}");
    }
}
