//! Client secrets at rest: Argon2id (RFC 9106) in PHC string form, so the parameters travel
//! with each hash and can be raised later without invalidating stored ones.

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};

/// The PHC string of `secret` with `salt` (16 random bytes), under Argon2id's recommended
/// parameters (19 MiB, 2 passes, 1 lane).
pub fn hash(secret: &str, salt: &[u8; 16]) -> Result<String, String> {
    let salt = SaltString::encode_b64(salt).map_err(|error| error.to_string())?;
    Argon2::default()
        .hash_password(secret.as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(|error| error.to_string())
}

/// Whether `secret` is the one `phc` was made from. A malformed stored hash matches nothing.
pub fn matches(secret: &str, phc: &str) -> bool {
    PasswordHash::new(phc).is_ok_and(|hash| {
        Argon2::default()
            .verify_password(secret.as_bytes(), &hash)
            .is_ok()
    })
}

/// Spends what checking a secret costs without anything to check it against: an unknown
/// client id is refused no faster than a wrong secret, so timing does not reveal which ids
/// are registered.
pub fn spend_as_much_as_a_check(secret: &str) {
    let _ = hash(secret, &[0; 16]);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_matches_its_own_hash_only() {
        let phc = hash("right", &[1; 16]).unwrap();
        assert!(matches("right", &phc));
        assert!(!matches("wrong", &phc));
    }

    #[test]
    fn the_hash_is_argon2id_and_never_holds_the_secret() {
        let phc = hash("right", &[1; 16]).unwrap();
        assert!(phc.starts_with("$argon2id$"), "{phc}");
        assert!(!phc.contains("right"), "{phc}");
    }

    #[test]
    fn a_malformed_stored_hash_matches_nothing() {
        assert!(!matches("", "not a hash"));
    }
}
