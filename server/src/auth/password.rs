//! argon2id password hashing with the OWASP Password Storage Cheat Sheet's parameters
//! (m = 19 MiB, t = 2, p = 1). Hashing is CPU-heavy: callers run it on the blocking pool,
//! never on an async worker.

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};

use crate::errors::ApiError;

/// Minimum and maximum password length in characters (NIST SP 800-63B §5.1.1.2 asks ≥ 8;
/// we ask 10).
pub const PASSWORD_LEN: std::ops::RangeInclusive<usize> = 10..=256;

fn hasher() -> Argon2<'static> {
    // OWASP: argon2id, m=19456 KiB, t=2, p=1.
    let params = Params::new(19_456, 2, 1, None).unwrap_or_default();
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// Checks a new password's length, naming `field` on failure.
pub fn validate(field: &str, password: &str) -> Result<(), ApiError> {
    let n = password.chars().count();
    if !PASSWORD_LEN.contains(&n) {
        return Err(ApiError::validation(
            field,
            format!(
                "must be {} to {} characters long",
                PASSWORD_LEN.start(),
                PASSWORD_LEN.end()
            ),
        ));
    }
    Ok(())
}

/// PHC-format argon2id hash of `password` with a fresh random salt.
///
/// Errors: only on an internal argon2 failure.
pub fn hash(password: &str) -> anyhow::Result<String> {
    let salt = SaltString::generate(&mut OsRng);
    hasher()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| anyhow::anyhow!("hashing password: {e}"))
}

/// True when `password` matches the PHC hash `stored`; false for a wrong password or an
/// unparseable hash.
pub fn verify(password: &str, stored: &str) -> bool {
    match PasswordHash::new(stored) {
        Ok(parsed) => hasher()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok(),
        Err(_) => false,
    }
}

/// A hash of a random password, verified against when the account does not exist, so a
/// wrong username costs as long as a wrong password (no user enumeration by timing).
pub fn dummy_hash() -> &'static str {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DUMMY.get_or_init(|| hash("not-a-real-password-ever").unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_is_argon2id_with_owasp_parameters_and_verifies() {
        let h = hash("correct horse battery").expect("hash");
        assert!(h.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{h}");
        assert!(verify("correct horse battery", &h));
        assert!(!verify("wrong horse battery", &h));
        assert!(!verify("x", "not a phc string"));
    }

    #[test]
    fn short_password_names_the_field() {
        let err = validate("password", "short").expect_err("too short");
        assert_eq!(err.problem().field.as_deref(), Some("password"));
    }
}
