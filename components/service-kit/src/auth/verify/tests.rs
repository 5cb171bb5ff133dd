//! Each way a token can be wrong is refused for that reason; a good one yields its caller.

use super::*;
use crate::auth::sign::{Issue, Signer, sign_hs256};
use base64ct::{Base64UrlUnpadded, Encoding};

const ISSUER: &str = "https://auth.example";
const AUDIENCE: &str = "movie-system";

fn signer() -> Signer {
    Signer::from_seed([7; 32])
}

fn now() -> DateTime<Utc> {
    DateTime::from_timestamp(1_800_000_000, 0).unwrap()
}

fn issue() -> Issue<'static> {
    Issue {
        issuer: ISSUER,
        audience: AUDIENCE,
        subject: "u1",
        scope: "ratings:write",
        id: "t1",
        now: now(),
        lifetime: Duration::minutes(5),
    }
}

fn policy(hs256: Option<&[u8]>) -> TrustPolicy {
    TrustPolicy {
        issuer: ISSUER.into(),
        audience: AUDIENCE.into(),
        leeway: Duration::seconds(30),
        hs256: hs256.map(Hs256Key::new),
    }
}

/// Verifies `token` at `at` against the signer's key set.
fn verify_at(token: &str, at: DateTime<Utc>, hs256: Option<&[u8]>) -> Result<Principal, Rejection> {
    let header = format!("Bearer {token}");
    let presented = Presented::from_header(Some(&header))?;
    let keys = KeySet::new([signer().public_key()]);
    Verifier::new(policy(hs256)).verify(&presented, Verifier::key_for(&presented, &keys), at)
}

fn verify(token: &str) -> Result<Principal, Rejection> {
    verify_at(token, now(), None)
}

/// `token` with its payload replaced by `payload`, signature kept.
fn with_payload(token: &str, payload: &str) -> String {
    let parts: Vec<&str> = token.split('.').collect();
    let payload = Base64UrlUnpadded::encode_string(payload.as_bytes());
    format!("{}.{payload}.{}", parts[0], parts[2])
}

fn header_of(json: &str) -> String {
    Base64UrlUnpadded::encode_string(json.as_bytes())
}

#[test]
fn a_good_token_yields_its_subject_and_scopes() {
    let caller = verify(&signer().sign(&issue())).unwrap();
    assert_eq!(
        (caller.subject.as_str(), caller.scopes),
        ("u1", vec!["ratings:write".to_owned()])
    );
}

#[test]
fn no_header_is_missing() {
    assert_eq!(Presented::from_header(None).err(), Some(Rejection::Missing));
}

#[test]
fn another_scheme_is_malformed() {
    let token = signer().sign(&issue());
    let header = format!("Basic {token}");
    assert_eq!(
        Presented::from_header(Some(&header)).err(),
        Some(Rejection::Malformed)
    );
}

#[test]
fn the_scheme_is_case_insensitive() {
    let header = format!("bearer {}", signer().sign(&issue()));
    assert!(Presented::from_header(Some(&header)).is_ok());
}

#[test]
fn garbage_is_malformed() {
    assert_eq!(verify("not.a.jwt").err(), Some(Rejection::Malformed));
}

#[test]
fn alg_none_is_refused() {
    let token = signer().sign(&issue());
    let payload = token.split('.').nth(1).unwrap();
    let unsigned = format!("{}.{payload}.", header_of(r#"{"alg":"none","typ":"JWT"}"#));
    assert_eq!(verify(&unsigned).err(), Some(Rejection::Algorithm));
}

#[test]
fn hs256_is_refused_unless_a_secret_is_configured() {
    let token = sign_hs256(b"dev-secret", &issue());
    assert_eq!(verify(&token).err(), Some(Rejection::Algorithm));
}

#[test]
fn hs256_with_the_configured_secret_is_accepted() {
    let token = sign_hs256(b"dev-secret", &issue());
    assert!(verify_at(&token, now(), Some(b"dev-secret")).is_ok());
}

#[test]
fn hs256_with_another_secret_fails_its_signature() {
    let token = sign_hs256(b"guessed", &issue());
    let outcome = verify_at(&token, now(), Some(b"dev-secret"));
    assert_eq!(outcome.err(), Some(Rejection::Signature));
}

#[test]
fn an_hs256_token_signed_with_the_public_key_is_refused() {
    // The classic confusion attack: the public key used as an HMAC secret.
    let public = signer().public_key();
    let token = sign_hs256(public.as_ref(), &issue());
    assert_eq!(verify(&token).err(), Some(Rejection::Algorithm));
}

#[test]
fn a_token_whose_typ_is_not_an_access_tokens_is_refused() {
    for typ in [Some("JWT"), Some("id+jwt"), None] {
        let token = signer().sign_typed(&issue(), typ);
        assert_eq!(
            verify(&token).err(),
            Some(Rejection::TokenType),
            "a token of typ {typ:?}"
        );
    }
}

#[test]
fn the_access_token_typ_is_accepted_as_its_media_type_in_any_case() {
    for typ in ["at+jwt", "AT+JWT", "application/at+jwt"] {
        let token = signer().sign_typed(&issue(), Some(typ));
        assert!(verify(&token).is_ok(), "a token of typ {typ:?}");
    }
}

#[test]
fn an_hs256_secret_shorter_than_32_bytes_is_refused() {
    assert!(hs256_key(&[b'k'; 31]).is_err());
    assert!(hs256_key(&[b'k'; 32]).is_ok());
    let message = hs256_key(b"dev-secret")
        .err()
        .map(|short| short.to_string())
        .unwrap_or_default();
    assert!(!message.contains("dev-secret"), "{message}");
}

#[test]
fn an_unknown_key_id_is_refused() {
    let token = Signer::from_seed([9; 32]).sign(&issue());
    assert_eq!(verify(&token).err(), Some(Rejection::UnknownKey));
}

#[test]
fn a_tampered_payload_fails_its_signature() {
    let token = signer().sign(&issue());
    let forged = with_payload(
        &token,
        &format!(
            r#"{{"iss":"{ISSUER}","sub":"admin","aud":"{AUDIENCE}","jti":"x","scope":"ratings:admin","exp":1900000000}}"#
        ),
    );
    assert_eq!(verify(&forged).err(), Some(Rejection::Signature));
}

#[test]
fn an_expired_token_is_refused_after_the_leeway() {
    let token = signer().sign(&issue());
    let after = now() + Duration::minutes(5) + Duration::seconds(31);
    assert_eq!(
        verify_at(&token, after, None).err(),
        Some(Rejection::Expired)
    );
}

#[test]
fn a_token_just_expired_is_accepted_within_the_leeway() {
    let token = signer().sign(&issue());
    let after = now() + Duration::minutes(5) + Duration::seconds(20);
    assert!(verify_at(&token, after, None).is_ok());
}

#[test]
fn a_token_not_yet_valid_is_refused_beyond_the_leeway() {
    let token = signer().sign(&issue());
    let before = now() - Duration::seconds(31);
    assert_eq!(
        verify_at(&token, before, None).err(),
        Some(Rejection::NotYetValid)
    );
}

#[test]
fn another_issuer_is_refused() {
    let token = signer().sign(&Issue {
        issuer: "https://evil.example",
        ..issue()
    });
    assert_eq!(verify(&token).err(), Some(Rejection::Issuer));
}

#[test]
fn another_audience_is_refused() {
    let token = signer().sign(&Issue {
        audience: "billing",
        ..issue()
    });
    assert_eq!(verify(&token).err(), Some(Rejection::Audience));
}

#[test]
fn a_rejection_never_echoes_the_token() {
    let token = signer().sign(&Issue {
        audience: "billing",
        ..issue()
    });
    let message = verify(&token).unwrap_err().to_string();
    assert!(!message.contains(&token[..20]), "{message}");
}
