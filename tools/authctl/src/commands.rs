//! The commands, each returning what it prints, so tests can run them in-process.

use auth::migrations::{MIGRATIONS, REGISTER_CLIENT};
use auth::model::{ClientId, ScopeSet};
use chrono::Duration;
use service_kit::auth::sign::{Issue, Signer, encode_base64url};
use std::collections::HashMap;

pub const USAGE: &str = "usage:
  authctl keygen
  authctl public-key                      (reads SPIN_VARIABLE_AUTH_SIGNING_KEY)
  authctl jwks [--previous \"PK,...\"]       (reads SPIN_VARIABLE_AUTH_SIGNING_KEY)
  authctl register --id ID --scopes \"S ...\" [--db .spin/auth.db] [--secret SECRET]
  authctl token --sub SUBJECT --scopes \"S ...\" [--lifetime-s 300]
                [--issuer movie-system-auth] [--audience movie-system]
                                          (reads SPIN_VARIABLE_AUTH_SIGNING_KEY)
scopes: metadata:write ratings:write ratings:admin";

/// The defaults of `spin.toml`'s `jwt_issuer` and `jwt_audience`.
pub const DEFAULT_ISSUER: &str = "movie-system-auth";
pub const DEFAULT_AUDIENCE: &str = "movie-system";
const KEY_VARIABLE: &str = "SPIN_VARIABLE_AUTH_SIGNING_KEY";

pub fn run(args: &[String]) -> Result<String, String> {
    let (command, rest) = args.split_first().ok_or("no command given")?;
    let options = Options::parse(rest)?;
    match command.as_str() {
        "keygen" => Ok(keygen(random()?)),
        "public-key" => public_key(&signing_key_from_env()?),
        "jwks" => jwks(&options, &signing_key_from_env()?),
        "register" => register(&options, random()?, random16()?),
        "token" => token(&options, &signing_key_from_env()?, random16()?),
        other => Err(format!("unknown command {other:?}")),
    }
}

/// `--name value` pairs.
pub struct Options(HashMap<String, String>);

impl Options {
    pub fn parse(args: &[String]) -> Result<Self, String> {
        let mut options = HashMap::new();
        let mut args = args.iter();
        while let Some(flag) = args.next() {
            let name = flag
                .strip_prefix("--")
                .ok_or_else(|| format!("expected an option, got {flag:?}"))?;
            let value = args
                .next()
                .ok_or_else(|| format!("--{name} needs a value"))?;
            options.insert(name.to_owned(), value.clone());
        }
        Ok(Self(options))
    }

    fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }

    fn required(&self, name: &str) -> Result<&str, String> {
        self.get(name)
            .ok_or_else(|| format!("--{name} is required"))
    }
}

fn random() -> Result<[u8; 32], String> {
    let mut bytes = [0; 32];
    getrandom::fill(&mut bytes).map_err(|error| error.to_string())?;
    Ok(bytes)
}

fn random16() -> Result<[u8; 16], String> {
    let mut bytes = [0; 16];
    getrandom::fill(&mut bytes).map_err(|error| error.to_string())?;
    Ok(bytes)
}

fn signing_key_from_env() -> Result<String, String> {
    std::env::var(KEY_VARIABLE)
        .map_err(|_| format!("{KEY_VARIABLE} is not set (see `authctl keygen`)"))
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

/// The JWKS auth publishes for `key` and the `--previous` public keys (comma-separated, as
/// `auth_previous_public_keys`): what a split deployment pins in `jwt_jwks`, so metadata and
/// rating verify tokens without fetching keys across the network.
pub fn jwks(options: &Options, key: &str) -> Result<String, String> {
    let signer = Signer::parse(key).map_err(|error| error.to_string())?;
    let previous = auth::keyring::parse_public_keys(options.get("previous").unwrap_or_default())?;
    let keys = service_kit::auth::KeySet::new(std::iter::once(signer.public_key()).chain(previous));
    Ok(format!("{}\n", keys.to_jwks()))
}

/// Registers `--id` with `--scopes` and `--secret` (or a new random one) in `--db`.
pub fn register(options: &Options, new_secret: [u8; 32], salt: [u8; 16]) -> Result<String, String> {
    let id = ClientId::parse(options.required("id")?).map_err(|error| format!("--id: {error}"))?;
    let scopes = ScopeSet::parse(options.required("scopes")?)
        .map_err(|error| format!("--scopes: {error}"))?;
    let secret = match options.get("secret") {
        Some(chosen) => {
            auth::secret::check_strength(chosen).map_err(|error| format!("--secret: {error}"))?;
            chosen.to_owned()
        }
        None => encode_base64url(&new_secret),
    };
    let hash = auth::secret::hash(&secret, &salt)?;
    let path = options.get("db").unwrap_or(".spin/auth.db");
    let connection = open(path)?;
    let now = chrono::Utc::now().timestamp();
    connection
        .execute(
            REGISTER_CLIENT,
            rusqlite::params![id.as_str(), hash, scopes.to_claim(), now],
        )
        .map_err(|error| format!("{path}: {error}"))?;
    Ok(format!(
        "client_id={}\nclient_secret={secret}\nscopes={}\n",
        id,
        scopes.to_claim()
    ))
}

/// The auth database at `path`, created and migrated as the service would (same migrations,
/// same `user_version` bookkeeping, write-ahead log), so the service finds nothing to do.
fn open(path: &str) -> Result<rusqlite::Connection, String> {
    let fail = |error: rusqlite::Error| format!("{path}: {error}");
    if let Some(parent) = std::path::Path::new(path)
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
    {
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
pub fn token(options: &Options, key: &str, id: [u8; 16]) -> Result<String, String> {
    let signer = Signer::parse(key).map_err(|error| error.to_string())?;
    let scopes = ScopeSet::parse(options.required("scopes")?)
        .map_err(|error| format!("--scopes: {error}"))?;
    let lifetime: i64 = options
        .get("lifetime-s")
        .unwrap_or("300")
        .parse()
        .map_err(|_| "--lifetime-s must be a number of seconds".to_owned())?;
    Ok(format!(
        "{}\n",
        signer.sign(&Issue {
            issuer: options.get("issuer").unwrap_or(DEFAULT_ISSUER),
            audience: options.get("audience").unwrap_or(DEFAULT_AUDIENCE),
            subject: options.required("sub")?,
            scope: &scopes.to_claim(),
            id: &encode_base64url(&id),
            now: chrono::Utc::now(),
            lifetime: Duration::seconds(lifetime),
        })
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options(args: &[&str]) -> Options {
        Options::parse(&args.iter().map(|a| (*a).to_owned()).collect::<Vec<_>>()).unwrap()
    }

    #[test]
    fn a_registered_client_is_stored_with_a_hash_its_secret_matches() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("nested/auth.db");
        let db = db.to_str().unwrap();
        let printed = register(
            &options(&["--id", "cli", "--scopes", "ratings:write", "--db", db]),
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
        register(&options(&args), [0; 32], [1; 16])
    }

    #[test]
    fn the_jwks_holds_the_signing_key_and_the_previous_ones_by_their_ids() {
        let old = Signer::from_seed([2; 32]);
        let previous = encode_base64url(old.public_key().as_ref());
        let printed = jwks(
            &options(&["--previous", &previous]),
            &encode_base64url(&[1; 32]),
        )
        .unwrap();
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
        assert!(register(&options(&args), [0; 32], [1; 16]).is_err());
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
            &options(&["--sub", "u1", "--scopes", "ratings:write"]),
            &key,
            [0; 16],
        )
        .unwrap();
        let header = format!("Bearer {}", token.trim());
        let presented = service_kit::auth::verify::Presented::from_header(Some(&header)).unwrap();
        assert_eq!(presented.key_id(), Some(Signer::from_seed([3; 32]).kid()));
    }
}
