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

/// The least length of a client secret an operator chooses (`authctl register --secret`).
pub const MIN_SECRET_CHARS: usize = 32;
/// The least estimated strength of such a secret, in bits: what a guesser must search.
pub const MIN_SECRET_BITS: f64 = 128.0;

/// Whether `secret` is strong enough to register: at least [`MIN_SECRET_CHARS`] characters
/// and an estimated [`MIN_SECRET_BITS`], the estimate being the length of its shortest
/// repeating unit (a pattern said twice counts once) times the entropy of that unit's
/// character frequencies. Generated secrets (32 random bytes, 43 base64url characters)
/// score about 200; repeated or few-letter strings (`aaaa...`, a word said four times) fail.
/// It is an estimate that refuses the obviously weak, not a proof of randomness: generated
/// secrets remain the advice. `Err` says which rule failed, never the secret.
pub fn check_strength(secret: &str) -> Result<(), String> {
    let length = secret.chars().count();
    if length < MIN_SECRET_CHARS {
        return Err(format!(
            "a client secret must be at least {MIN_SECRET_CHARS} characters; this one has {length} \
             (leave --secret out to get a random one)"
        ));
    }
    let bits = estimated_bits(secret);
    if bits < MIN_SECRET_BITS {
        return Err(format!(
            "a client secret must be estimated at {MIN_SECRET_BITS:.0} bits or more; this one at \
             {bits:.0} (too few different characters, or a repeated pattern; leave --secret out \
             to get a random one)"
        ));
    }
    Ok(())
}

/// The length of the shortest unit `secret` repeats (itself if none) times the Shannon
/// entropy of that unit's characters' frequencies.
fn estimated_bits(secret: &str) -> f64 {
    let characters: Vec<char> = secret.chars().collect();
    let period = (1..=characters.len())
        .find(|&period| {
            characters
                .iter()
                .zip(characters.iter().skip(period))
                .all(|(a, b)| a == b)
        })
        .unwrap_or(characters.len());
    let mut counts = std::collections::HashMap::<char, u32>::new();
    for character in characters.iter().take(period) {
        *counts.entry(*character).or_default() += 1;
    }
    let length = f64::from(counts.values().sum::<u32>());
    let per_character: f64 = counts
        .values()
        .map(|count| {
            let p = f64::from(*count) / length;
            -p * p.log2()
        })
        .sum();
    per_character * length
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
    fn a_generated_secret_is_strong_enough() {
        // What `authctl register` prints: 32 random bytes in base64url.
        assert_eq!(
            check_strength("kP3_xQ9aZ-7vLm2RtY8bN0cWdF4hJ6sUeGiOpAq1TzE"),
            Ok(())
        );
    }

    #[test]
    fn a_secret_shorter_than_32_characters_is_refused() {
        let error = check_strength("kP3_xQ9aZ-7vLm2RtY8bN0cWdF4hJ6s").unwrap_err();
        assert!(error.contains("at least 32 characters"), "{error}");
    }

    #[test]
    fn long_secrets_of_few_characters_or_repeated_words_are_refused() {
        for weak in [
            "a".repeat(64),
            "password".repeat(4),
            "correcthorse".repeat(3),
            "0123".repeat(16),
        ] {
            assert!(check_strength(&weak).is_err(), "{weak} was accepted");
        }
    }

    #[test]
    fn a_refusal_never_holds_the_secret() {
        let weak = "password".repeat(4);
        let error = check_strength(&weak).unwrap_err();
        assert!(!error.contains("password"), "{error}");
    }

    #[test]
    fn a_malformed_stored_hash_matches_nothing() {
        assert!(!matches("", "not a hash"));
    }
}
