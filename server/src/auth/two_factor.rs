//! Two-factor login (issue #17, "Two-factor login"): TOTP (RFC 6238 — HMAC-SHA1, 6 digits,
//! 30-second steps, one step of clock skew either way) for admins and accountants, opt-in per
//! user, with ten one-time recovery codes. The code arithmetic is `totp-rs`'s; what is ours is
//! the enrolment (a secret is confirmed by a code before it counts), that a code is accepted
//! at most once (`last_used_step`: a code seen on a shoulder or a screen cannot be replayed in
//! its 90 seconds), and that recovery codes are kept only as SHA-256 hashes and spent once.
//!
//! The office agent's offline sign-in is untouched by this: a device signs a user in offline
//! against the password hash it kept from an online sign-in, which needed the code.

use chrono::{DateTime, Utc};
use daftar_client_core::protocol::{RecoveryCodes, Roles, TwoFactorEnrolment, TwoFactorPolicy};
use diesel::prelude::*;
use rand::RngCore;
use sha2::{Digest, Sha256};
use totp_rs::{Algorithm, TOTP};
use uuid::Uuid;

use super::AuthUser;
use crate::audit::{Actor, AuditEntry};
use crate::errors::{ApiError, ApiResult};
use crate::schema::{school_two_factor_policy, user_recovery_codes, user_two_factor};

/// Seconds per TOTP step (RFC 6238 §4, the default every authenticator app uses).
pub const STEP_SECS: u64 = 30;
/// Digits per code.
pub const DIGITS: usize = 6;
/// Recovery codes issued at confirmation.
pub const RECOVERY_CODES: usize = 10;
/// Bytes of a new secret (160 bits, RFC 4226 §4's recommended length for HMAC-SHA1).
pub const SECRET_BYTES: usize = 20;

fn totp(secret: Vec<u8>, issuer: &str, account: &str) -> Result<TOTP, ApiError> {
    // An issuer or account may not contain ':' (Key Uri Format); the school's name might.
    let clean = |s: &str| s.replace(':', " ");
    TOTP::new(
        Algorithm::SHA1,
        DIGITS,
        1,
        STEP_SECS,
        secret,
        Some(clean(issuer)),
        clean(account),
    )
    .map_err(|e| ApiError::Internal(anyhow::anyhow!("TOTP parameters: {e}")))
}

/// The step (`unix time / 30`) whose code `code` is, within one step of `now`, if any.
/// `code` is compared in constant time; spaces in it are ignored (apps show `123 456`).
pub fn matching_step(secret: &[u8], code: &str, now: DateTime<Utc>) -> Option<u64> {
    let code: String = code.chars().filter(|c| !c.is_whitespace()).collect();
    if code.len() != DIGITS || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let t = totp(secret.to_vec(), "Daftar", "user").ok()?;
    let now = u64::try_from(now.timestamp()).ok()?;
    let step = now / STEP_SECS;
    (step.saturating_sub(1)..=step + 1).find(|s| {
        let expected = t.generate(s * STEP_SECS);
        expected
            .bytes()
            .zip(code.bytes())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
    })
}

/// The code an authenticator app with `secret` shows at `at` (what a person types; also
/// what tests type with a fixed clock).
pub fn code_at(secret: &[u8], at: DateTime<Utc>) -> String {
    let secs = u64::try_from(at.timestamp()).unwrap_or(0);
    totp(secret.to_vec(), "Daftar", "user")
        .map(|t| t.generate(secs))
        .unwrap_or_default()
}

/// A recovery code as stored: SHA-256 of the code lower-cased without spaces or dashes.
pub fn recovery_hash(code: &str) -> Vec<u8> {
    let normal: String = code
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_lowercase())
        .collect();
    Sha256::digest(normal.as_bytes()).to_vec()
}

/// Ten new recovery codes, `xxxxx-xxxxx` of lower-case base32 (50 random bits each).
pub fn new_recovery_codes() -> Vec<String> {
    const ALPHABET: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";
    let mut rng = rand::thread_rng();
    (0..RECOVERY_CODES)
        .map(|_| {
            let mut bytes = [0u8; 10];
            rng.fill_bytes(&mut bytes);
            let chars: String = bytes
                .iter()
                .map(|b| ALPHABET[(*b & 31) as usize] as char)
                .collect();
            format!("{}-{}", &chars[..5], &chars[5..])
        })
        .collect()
}

/// Whether `user_id` has two-factor login on (a confirmed secret).
pub fn is_on(conn: &mut PgConnection, school_id: Uuid, user_id: Uuid) -> QueryResult<bool> {
    let confirmed: Option<Option<DateTime<Utc>>> = user_two_factor::table
        .find((school_id, user_id))
        .select(user_two_factor::confirmed_at)
        .first(conn)
        .optional()?;
    Ok(matches!(confirmed, Some(Some(_))))
}

/// Whether the school requires two-factor login of admins and accountants (off unless an
/// admin turned it on).
pub fn policy(conn: &mut PgConnection, school_id: Uuid) -> QueryResult<TwoFactorPolicy> {
    let required: Option<bool> = school_two_factor_policy::table
        .find(school_id)
        .select(school_two_factor_policy::required)
        .first(conn)
        .optional()?;
    Ok(TwoFactorPolicy {
        required_for_office: required.unwrap_or(false),
    })
}

/// Sets the school's policy (admin); audited on the school.
pub fn set_policy(
    conn: &mut PgConnection,
    auth: &AuthUser,
    wanted: &TwoFactorPolicy,
) -> QueryResult<TwoFactorPolicy> {
    let before = policy(conn, auth.school_id)?;
    diesel::insert_into(school_two_factor_policy::table)
        .values((
            school_two_factor_policy::school_id.eq(auth.school_id),
            school_two_factor_policy::required.eq(wanted.required_for_office),
        ))
        .on_conflict(school_two_factor_policy::school_id)
        .do_update()
        .set((
            school_two_factor_policy::required.eq(wanted.required_for_office),
            school_two_factor_policy::updated_at.eq(Utc::now()),
        ))
        .execute(conn)?;
    if before != *wanted {
        AuditEntry::new(auth.school_id, Actor::from(auth), "school", auth.school_id).event(
            conn,
            "two_factor_policy_changed",
            Some(wanted),
        )?;
    }
    Ok(wanted.clone())
}

/// Whether a token issued now to `user_id` (holding `roles`) is only for turning two-factor
/// login on: the school requires it of admins and accountants, this user is one (among its
/// other roles) and has not turned it on.
pub fn setup_required(
    conn: &mut PgConnection,
    school_id: Uuid,
    user_id: Uuid,
    roles: Roles,
) -> QueryResult<bool> {
    if !roles.is_office() {
        return Ok(false);
    }
    Ok(policy(conn, school_id)?.required_for_office && !is_on(conn, school_id, user_id)?)
}

/// Starts (or restarts) enrolment for `auth`'s user: a new secret, not yet in force, as
/// base32, `otpauth://` URI and QR code (SVG). Audited without the secret.
///
/// Errors: 409 `two_factor_already_on` when it is on (disable it first).
pub fn enrol(
    conn: &mut PgConnection,
    auth: &AuthUser,
    school_name: &str,
    username: &str,
) -> ApiResult<TwoFactorEnrolment> {
    if is_on(conn, auth.school_id, auth.user_id)? {
        return Err(ApiError::Conflict {
            code: "two_factor_already_on",
            detail: "two-factor login is already on for this user; disable it first to enrol a new phone".into(),
        });
    }
    let mut secret = vec![0u8; SECRET_BYTES];
    rand::thread_rng().fill_bytes(&mut secret);
    diesel::insert_into(user_two_factor::table)
        .values((
            user_two_factor::school_id.eq(auth.school_id),
            user_two_factor::user_id.eq(auth.user_id),
            user_two_factor::secret.eq(&secret),
        ))
        .on_conflict((user_two_factor::school_id, user_two_factor::user_id))
        .do_update()
        .set((
            user_two_factor::secret.eq(&secret),
            user_two_factor::last_used_step.eq(None::<i64>),
            user_two_factor::created_at.eq(Utc::now()),
        ))
        .execute(conn)?;
    AuditEntry::new(auth.school_id, Actor::from(auth), "user", auth.user_id).event(
        conn,
        "two_factor_enrolment_started",
        None::<&()>,
    )?;
    let t = totp(secret, &format!("Daftar {school_name}"), username)?;
    let otpauth_uri = t.get_url();
    let qr = qrcode::QrCode::new(otpauth_uri.as_bytes())
        .map_err(|e| ApiError::Internal(anyhow::anyhow!("QR code: {e}")))?;
    let qr_svg = qr
        .render::<qrcode::render::svg::Color>()
        .min_dimensions(200, 200)
        .build();
    Ok(TwoFactorEnrolment {
        secret_base32: t.get_secret_base32(),
        otpauth_uri,
        qr_svg,
    })
}

/// Confirms enrolment with a code from the app: two-factor login is on from now, and ten new
/// recovery codes are returned this once (earlier ones are void).
///
/// Errors: 409 `two_factor_not_started` (no enrolment to confirm) or `two_factor_already_on`;
/// 422 naming `code` when it is not the app's code now.
pub fn confirm(
    conn: &mut PgConnection,
    auth: &AuthUser,
    code: &str,
    now: DateTime<Utc>,
) -> ApiResult<RecoveryCodes> {
    let row: Option<(Vec<u8>, Option<DateTime<Utc>>)> = user_two_factor::table
        .find((auth.school_id, auth.user_id))
        .select((user_two_factor::secret, user_two_factor::confirmed_at))
        .for_update()
        .first(conn)
        .optional()?;
    let secret = match row {
        None => {
            return Err(ApiError::Conflict {
                code: "two_factor_not_started",
                detail: "start with POST /auth/two-factor/enrol".into(),
            })
        }
        Some((_, Some(_))) => {
            return Err(ApiError::Conflict {
                code: "two_factor_already_on",
                detail: "two-factor login is already on for this user".into(),
            })
        }
        Some((secret, None)) => secret,
    };
    let Some(step) = matching_step(&secret, code, now) else {
        return Err(ApiError::validation(
            "code",
            "not the code the authenticator app shows now (6 digits; check the phone's clock)",
        ));
    };
    diesel::update(user_two_factor::table.find((auth.school_id, auth.user_id)))
        .set((
            user_two_factor::confirmed_at.eq(Some(now)),
            user_two_factor::last_used_step.eq(Some(step as i64)),
        ))
        .execute(conn)?;
    let codes = replace_recovery_codes(conn, auth.school_id, auth.user_id)?;
    AuditEntry::new(auth.school_id, Actor::from(auth), "user", auth.user_id).event(
        conn,
        "two_factor_enabled",
        None::<&()>,
    )?;
    Ok(RecoveryCodes {
        recovery_codes: codes,
    })
}

fn replace_recovery_codes(
    conn: &mut PgConnection,
    school_id: Uuid,
    user_id: Uuid,
) -> QueryResult<Vec<String>> {
    diesel::delete(
        user_recovery_codes::table
            .filter(user_recovery_codes::school_id.eq(school_id))
            .filter(user_recovery_codes::user_id.eq(user_id)),
    )
    .execute(conn)?;
    let codes = new_recovery_codes();
    let rows: Vec<_> = codes
        .iter()
        .map(|c| {
            (
                user_recovery_codes::school_id.eq(school_id),
                user_recovery_codes::user_id.eq(user_id),
                user_recovery_codes::code_hash.eq(recovery_hash(c)),
            )
        })
        .collect();
    diesel::insert_into(user_recovery_codes::table)
        .values(&rows)
        .execute(conn)?;
    Ok(codes)
}

/// How a login's second factor went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoginFactor {
    /// The user has no two-factor login: the password is enough.
    NotOn,
    /// It is on and no code came.
    Required,
    /// The code is wrong, already used, or a spent recovery code.
    Invalid,
    /// A current TOTP code (now spent).
    Totp,
    /// An unused recovery code (now spent).
    RecoveryCode,
}

/// Checks (and spends) the second factor `code` of a login of `user_id` whose password was
/// right. Run in a transaction: the row is locked, so two logins cannot spend one code.
pub fn check_login(
    conn: &mut PgConnection,
    school_id: Uuid,
    user_id: Uuid,
    code: Option<&str>,
    now: DateTime<Utc>,
) -> QueryResult<LoginFactor> {
    let row: Option<(Vec<u8>, Option<i64>)> = user_two_factor::table
        .find((school_id, user_id))
        .filter(user_two_factor::confirmed_at.is_not_null())
        .select((user_two_factor::secret, user_two_factor::last_used_step))
        .for_update()
        .first(conn)
        .optional()?;
    let Some((secret, last_step)) = row else {
        return Ok(LoginFactor::NotOn);
    };
    let Some(code) = code.map(str::trim).filter(|c| !c.is_empty()) else {
        return Ok(LoginFactor::Required);
    };
    if let Some(step) = matching_step(&secret, code, now) {
        if last_step.is_some_and(|l| step as i64 <= l) {
            return Ok(LoginFactor::Invalid); // that code (or a later one) was used already
        }
        diesel::update(user_two_factor::table.find((school_id, user_id)))
            .set(user_two_factor::last_used_step.eq(Some(step as i64)))
            .execute(conn)?;
        return Ok(LoginFactor::Totp);
    }
    let spent = diesel::update(
        user_recovery_codes::table
            .filter(user_recovery_codes::school_id.eq(school_id))
            .filter(user_recovery_codes::user_id.eq(user_id))
            .filter(user_recovery_codes::code_hash.eq(recovery_hash(code)))
            .filter(user_recovery_codes::used_at.is_null()),
    )
    .set(user_recovery_codes::used_at.eq(Some(now)))
    .execute(conn)?;
    Ok(if spent == 1 {
        LoginFactor::RecoveryCode
    } else {
        LoginFactor::Invalid
    })
}

/// Turns two-factor login off for `auth`'s user, given a current code or an unused recovery
/// code; the secret and every recovery code are deleted. Audited.
///
/// Errors: 409 `two_factor_not_on`; 422 naming `code` when it is wrong or spent.
pub fn disable(
    conn: &mut PgConnection,
    auth: &AuthUser,
    code: &str,
    now: DateTime<Utc>,
) -> ApiResult<()> {
    match check_login(conn, auth.school_id, auth.user_id, Some(code), now)? {
        LoginFactor::NotOn => {
            return Err(ApiError::Conflict {
                code: "two_factor_not_on",
                detail: "two-factor login is not on for this user".into(),
            })
        }
        LoginFactor::Totp | LoginFactor::RecoveryCode => {}
        LoginFactor::Required | LoginFactor::Invalid => {
            return Err(ApiError::validation(
                "code",
                "not the app's current code nor an unused recovery code",
            ))
        }
    }
    diesel::delete(
        user_recovery_codes::table
            .filter(user_recovery_codes::school_id.eq(auth.school_id))
            .filter(user_recovery_codes::user_id.eq(auth.user_id)),
    )
    .execute(conn)?;
    diesel::delete(user_two_factor::table.find((auth.school_id, auth.user_id))).execute(conn)?;
    AuditEntry::new(auth.school_id, Actor::from(auth), "user", auth.user_id).event(
        conn,
        "two_factor_disabled",
        None::<&()>,
    )?;
    Ok(())
}

/// An admin turns another user's two-factor login off (issue #17: a lost phone and no
/// recovery codes), in the caller's transaction: the secret and the recovery codes are
/// deleted and every login of the user is ended (whoever holds the phone holds a session too);
/// the user signs in with the password alone, or is asked to enrol again where the school
/// requires it. Audited as `two_factor_reset` by the admin.
///
/// Errors: 404 unknown user; validation naming `id` for the admin's own (turn it off with a
/// code instead); 409 `two_factor_not_on`.
pub fn reset_by_admin(conn: &mut PgConnection, admin: &AuthUser, user_id: Uuid) -> ApiResult<()> {
    if user_id == admin.user_id {
        return Err(ApiError::validation(
            "id",
            "turn your own two-factor login off with a code (POST /auth/two-factor/disable)",
        ));
    }
    super::repo::user_by_id(conn, admin.school_id, user_id)
        .optional()?
        .ok_or(ApiError::NotFound("user"))?;
    diesel::delete(
        user_recovery_codes::table
            .filter(user_recovery_codes::school_id.eq(admin.school_id))
            .filter(user_recovery_codes::user_id.eq(user_id)),
    )
    .execute(conn)?;
    let gone =
        diesel::delete(user_two_factor::table.find((admin.school_id, user_id))).execute(conn)?;
    if gone == 0 {
        return Err(ApiError::Conflict {
            code: "two_factor_not_on",
            detail: "two-factor login is not on for this user".into(),
        });
    }
    super::repo::revoke_user_logins(conn, admin.school_id, user_id)?;
    AuditEntry::new(admin.school_id, Actor::from(admin), "user", user_id).event(
        conn,
        "two_factor_reset",
        None::<&()>,
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    /// RFC 6238 Appendix B, SHA-1 seed "12345678901234567890": at T = 59 s the 8-digit code
    /// is 94287082, at 1111111109 s 07081804, so the 6-digit codes are their last six digits.
    #[test]
    fn codes_are_rfc_6238s_at_a_fixed_clock() {
        let secret = b"12345678901234567890";
        let at = |s: i64| Utc.timestamp_opt(s, 0).single().expect("instant");
        assert_eq!(matching_step(secret, "287082", at(59)), Some(1));
        assert_eq!(
            matching_step(secret, "081804", at(1_111_111_109)),
            Some(1_111_111_109 / 30)
        );
        assert_eq!(
            matching_step(secret, "081 804", at(1_111_111_109)),
            Some(37_037_036)
        );
        // One step of skew either way, not two.
        assert!(matching_step(secret, "081804", at(1_111_111_109 + 30)).is_some());
        assert!(matching_step(secret, "081804", at(1_111_111_109 + 61)).is_none());
        assert!(matching_step(secret, "081805", at(1_111_111_109)).is_none());
        assert!(matching_step(secret, "08180", at(1_111_111_109)).is_none());
    }

    #[test]
    fn recovery_codes_are_ten_distinct_and_hash_the_same_however_typed() {
        let codes = new_recovery_codes();
        assert_eq!(codes.len(), RECOVERY_CODES);
        let mut unique = codes.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), RECOVERY_CODES);
        assert!(codes
            .iter()
            .all(|c| c.len() == 11 && c.as_bytes()[5] == b'-'));
        assert_eq!(recovery_hash("abcde-fghij"), recovery_hash(" ABCDE fghij "));
        assert_ne!(recovery_hash("abcde-fghij"), recovery_hash("abcde-fghik"));
    }
}
