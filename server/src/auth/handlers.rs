//! `/api/v1/auth/*` and `/api/v1/me`.

use actix_web::{get, post, put, web, HttpResponse};
use chrono::{Duration, Utc};
use daftar_client_core::protocol::{
    LoginRequest, Problem, RecoveryCodes, RefreshRequest, TokenResponse, TwoFactorCode,
    TwoFactorEnrolment, TwoFactorPolicy, User,
};
use diesel::prelude::*;
use uuid::Uuid;

use super::repo::{self, RefreshTokenRow};
use super::{password, tokens, two_factor, AuthUser};
use crate::audit::{Actor, AuditEntry};
use crate::config::AuthConfig;
use crate::db::Db;
use crate::errors::{ApiError, ApiResult};
use crate::json::Json;
use crate::tenancy::UserRow;

/// Failed logins allowed before an account is throttled.
pub const MAX_FAILED_LOGINS: i32 = 5;
/// First lock after [`MAX_FAILED_LOGINS`] failures; doubles with each further failure.
pub const BASE_LOCK_SECS: i64 = 30;
/// Longest lock.
pub const MAX_LOCK_SECS: i64 = 3600;

/// Lock length after `failures` consecutive failures: none below [`MAX_FAILED_LOGINS`], then
/// 30 s, 60 s, 120 s … capped at one hour.
pub fn lock_secs(failures: i32) -> Option<i64> {
    if failures < MAX_FAILED_LOGINS {
        return None;
    }
    let doublings = (failures - MAX_FAILED_LOGINS).min(16) as u32;
    Some((BASE_LOCK_SECS << doublings).min(MAX_LOCK_SECS))
}

enum LoginLookup {
    Unknown,
    Locked(i64),
    Found(Box<UserRow>),
}

/// Log in with school slug, username and password.
///
/// After 5 consecutive failures the account is locked and answered 429 with `Retry-After`
/// (30 s, doubling per further failure, at most 1 h) without checking the password. The same
/// holds for a (school, username) that names no account that can log in, so throttling does
/// not tell which accounts exist (ARCHITECTURE.md §7).
#[utoipa::path(
    tag = "auth",
    request_body = LoginRequest,
    responses(
        (status = 200, description = "Logged in", body = TokenResponse),
        (status = 401, description = "`invalid_credentials`: wrong school, username or password; `two_factor_required`: the password is right and the account needs its two-factor code; `two_factor_invalid`: that code is wrong or spent", body = Problem),
        (status = 429, description = "Too many failed attempts; see Retry-After", body = Problem),
    )
)]
#[post("/auth/login")]
pub async fn login(
    db: web::Data<Db>,
    config: web::Data<AuthConfig>,
    body: Json<LoginRequest>,
) -> ApiResult<web::Json<TokenResponse>> {
    let req = body.into_inner();
    let (school, username) = (
        req.school.trim().to_string(),
        req.username.trim().to_string(),
    );
    let attempt = repo::attempt_key(&school, &username);
    let probe = attempt.clone();
    let lookup = db
        .run(move |conn| {
            let user = match repo::school_by_slug(conn, &school)? {
                Some(school) => repo::user_by_username(conn, school.id, &username)?,
                None => None,
            };
            // Accounts that can log in count failures on their own row; any other
            // (school, username) — no such school or user, disabled, no password — counts them
            // in `login_throttles`, so 429 says nothing about which accounts exist.
            let locked_until = match &user {
                Some(u) if u.active && u.password_hash.is_some() => u.locked_until,
                _ => repo::throttle_locked_until(conn, &probe)?,
            };
            if let Some(until) = locked_until {
                let left = (until - Utc::now()).num_seconds();
                if left > 0 {
                    return Ok(LoginLookup::Locked(left));
                }
            }
            Ok(match user {
                Some(u) => LoginLookup::Found(Box::new(u)),
                None => LoginLookup::Unknown,
            })
        })
        .await?;

    let user = match lookup {
        LoginLookup::Locked(secs) => {
            return Err(ApiError::Throttled {
                retry_after_secs: secs.max(1) as u64,
            })
        }
        LoginLookup::Unknown => None,
        LoginLookup::Found(u) => Some(*u),
    };
    let stored = user
        .as_ref()
        .and_then(|u| u.password_hash.clone())
        .unwrap_or_else(|| password::dummy_hash().to_string());
    let presented = req.password;
    let matches = web::block(move || password::verify(&presented, &stored))
        .await
        .map_err(|e| ApiError::Internal(anyhow::anyhow!("password check: {e}")))?;
    let user = match user {
        Some(u) if u.active && u.password_hash.is_some() => u,
        _ => {
            db.transaction(move |conn| {
                let failures = repo::count_failed_attempt(conn, &attempt)?;
                if let Some(secs) = lock_secs(failures) {
                    repo::lock_attempt(conn, &attempt, Utc::now() + Duration::seconds(secs))?;
                }
                Ok(())
            })
            .await?;
            return Err(ApiError::InvalidCredentials);
        }
    };

    let config = config.into_inner();
    let device_id = req.device_id;
    let (school_id, user_id) = (user.school_id, user.id);
    if !matches {
        db.transaction(move |conn| count_failure(conn, school_id, user_id, false))
            .await?;
        return Err(ApiError::InvalidCredentials);
    }
    // The second factor, for a user who has it on (issue #17): its own transaction, so that a
    // wrong code is counted (and throttled) like a wrong password and a right one is spent.
    let code = req.two_factor_code;
    let factor = db
        .transaction(move |conn| {
            let f = two_factor::check_login(conn, school_id, user_id, code.as_deref(), Utc::now())?;
            if f == two_factor::LoginFactor::Invalid {
                count_failure(conn, school_id, user_id, true)?;
            }
            Ok(f)
        })
        .await?;
    let factor = match factor {
        two_factor::LoginFactor::Required => {
            return Err(ApiError::SecondFactor {
                code: "two_factor_required",
                detail: "this account has two-factor login: send the 6-digit code from the authenticator app (or a recovery code) as two_factor_code".into(),
            })
        }
        two_factor::LoginFactor::Invalid => {
            return Err(ApiError::SecondFactor {
                code: "two_factor_invalid",
                detail: "the two-factor code is wrong, was used already, or is a spent recovery code".into(),
            })
        }
        two_factor::LoginFactor::NotOn => None,
        two_factor::LoginFactor::Totp => Some("totp"),
        two_factor::LoginFactor::RecoveryCode => Some("recovery_code"),
    };

    let response = db
        .transaction(move |conn| {
            if let Some(device) = device_id {
                // A token is bound only to a device enrolled to this user and not revoked.
                let owner: Option<(Uuid, Option<chrono::DateTime<Utc>>)> =
                    crate::schema::devices::table
                        .find((school_id, device))
                        .select((
                            crate::schema::devices::user_id,
                            crate::schema::devices::revoked_at,
                        ))
                        .first(conn)
                        .optional()?;
                if matches!(owner, Some((u, Some(_))) if u == user_id) {
                    return Err(ApiError::device_revoked());
                }
                if !matches!(owner, Some((u, None)) if u == user_id) {
                    return Err(ApiError::validation(
                        "device_id",
                        "not a device enrolled to this user",
                    ));
                }
            }
            repo::reset_failed_logins(conn, school_id, user_id)?;
            let family_id = Uuid::now_v7();
            let refresh_token = issue_refresh(conn, &config, &user, family_id, device_id)?;
            let actor = Actor {
                user_id: Some(user_id),
                device_id,
            };
            let detail = factor.map(|f| serde_json::json!({ "two_factor": f }));
            AuditEntry::new(school_id, actor, "user", user_id).event(
                conn,
                "login",
                detail.as_ref(),
            )?;
            token_response(conn, &config, user, device_id, family_id, refresh_token)
        })
        .await?;
    Ok(web::Json(response))
}

/// Counts a failed login of `user_id` (a wrong password, or a wrong second factor when
/// `second_factor`), locks the account after [`MAX_FAILED_LOGINS`], and audits it.
fn count_failure(
    conn: &mut diesel::PgConnection,
    school_id: Uuid,
    user_id: Uuid,
    second_factor: bool,
) -> ApiResult<()> {
    let failures = repo::count_failed_login(conn, school_id, user_id)?;
    if let Some(secs) = lock_secs(failures) {
        repo::lock_user(
            conn,
            school_id,
            user_id,
            Utc::now() + Duration::seconds(secs),
        )?;
    }
    let detail = if second_factor {
        serde_json::json!({ "consecutive_failures": failures, "two_factor": true })
    } else {
        serde_json::json!({ "consecutive_failures": failures })
    };
    AuditEntry::new(school_id, Actor::SYSTEM, "user", user_id).event(
        conn,
        "login_failed",
        Some(&detail),
    )?;
    Ok(())
}

fn issue_refresh(
    conn: &mut diesel::PgConnection,
    config: &AuthConfig,
    user: &UserRow,
    family_id: Uuid,
    device_id: Option<Uuid>,
) -> ApiResult<String> {
    let (token, hash) = tokens::new_refresh_token(user.school_id);
    let now = Utc::now();
    repo::insert_refresh_token(
        conn,
        &RefreshTokenRow {
            school_id: user.school_id,
            id: Uuid::now_v7(),
            family_id,
            user_id: user.id,
            device_id,
            token_hash: hash,
            issued_at: now,
            expires_at: now + Duration::seconds(config.refresh_ttl_secs),
            rotated_at: None,
            revoked_at: None,
        },
    )?;
    Ok(token)
}

fn token_response(
    conn: &mut diesel::PgConnection,
    config: &AuthConfig,
    user: UserRow,
    device_id: Option<Uuid>,
    family_id: Uuid,
    refresh_token: String,
) -> ApiResult<TokenResponse> {
    let roles = crate::tenancy::roles_of(conn, user.school_id, user.id)?;
    let setup = two_factor::setup_required(conn, user.school_id, user.id, roles)?;
    let access_token = tokens::issue_access_token(
        config,
        user.id,
        user.school_id,
        roles,
        device_id,
        family_id,
        setup,
    )?;
    Ok(TokenResponse {
        access_token,
        token_type: "Bearer".into(),
        expires_in: config.access_ttl_secs,
        refresh_token,
        user: crate::tenancy::UserWithRoles { row: user, roles }.into(),
    })
}

enum RefreshOutcome {
    Issued(Box<TokenResponse>),
    Reused,
}

/// Exchange a refresh token for a new access token and a new refresh token (rotation).
///
/// Presenting an already-rotated token revokes its whole token family (every session that
/// descends from the same login) and answers 401 `refresh_token_reused` (RFC 6819 §5.2.2.3).
#[utoipa::path(
    tag = "auth",
    request_body = RefreshRequest,
    responses(
        (status = 200, description = "New tokens", body = TokenResponse),
        (status = 401, description = "Invalid, expired, revoked or reused token", body = Problem),
    )
)]
#[post("/auth/refresh")]
pub async fn refresh(
    db: web::Data<Db>,
    config: web::Data<AuthConfig>,
    body: Json<RefreshRequest>,
) -> ApiResult<web::Json<TokenResponse>> {
    let (school_id, hash) = tokens::parse_refresh_token(&body.refresh_token)?;
    let config = config.into_inner();
    let outcome = db
        .transaction(move |conn| {
            let invalid = || ApiError::Unauthorized("refresh token invalid or signed out".into());
            let row = repo::refresh_token_for_update(conn, school_id, &hash)?.ok_or_else(invalid)?;
            if let Some(device) = row.device_id {
                if repo::device_revoked(conn, school_id, device)? {
                    return Err(ApiError::device_revoked());
                }
            }
            if row.revoked_at.is_some() {
                return Err(invalid());
            }
            if row.rotated_at.is_some() {
                let revoked = repo::revoke_family(conn, school_id, row.family_id)?;
                AuditEntry::new(school_id, Actor::SYSTEM, "refresh_token_family", row.family_id)
                    .event(
                        conn,
                        "revoke_on_reuse",
                        Some(&serde_json::json!({ "user_id": row.user_id, "revoked": revoked })),
                    )?;
                tracing::warn!(%school_id, user_id = %row.user_id, "refresh token reuse; family revoked");
                return Ok(RefreshOutcome::Reused);
            }
            if row.expires_at <= Utc::now() {
                return Err(ApiError::Unauthorized("refresh token expired; log in again".into()));
            }
            let user = repo::user_by_id(conn, school_id, row.user_id)?;
            if !user.active {
                return Err(invalid());
            }
            repo::mark_rotated(conn, school_id, row.id)?;
            let token = issue_refresh(conn, &config, &user, row.family_id, row.device_id)?;
            token_response(conn, &config, user, row.device_id, row.family_id, token)
                .map(|t| RefreshOutcome::Issued(Box::new(t)))
        })
        .await?;
    match outcome {
        RefreshOutcome::Issued(t) => Ok(web::Json(*t)),
        RefreshOutcome::Reused => Err(ApiError::RefreshTokenReused),
    }
}

/// Log out: revokes the presented refresh token's whole family. Idempotent (204 even when the
/// token is unknown or already revoked).
#[utoipa::path(
    tag = "auth",
    request_body = RefreshRequest,
    responses((status = 204, description = "Signed out"))
)]
#[post("/auth/logout")]
pub async fn logout(db: web::Data<Db>, body: Json<RefreshRequest>) -> ApiResult<HttpResponse> {
    let Ok((school_id, hash)) = tokens::parse_refresh_token(&body.refresh_token) else {
        return Ok(HttpResponse::NoContent().finish());
    };
    db.transaction(move |conn| {
        if let Some(row) = repo::refresh_token_for_update(conn, school_id, &hash)? {
            repo::revoke_family(conn, school_id, row.family_id)?;
            let actor = Actor {
                user_id: Some(row.user_id),
                device_id: row.device_id,
            };
            AuditEntry::new(school_id, actor, "user", row.user_id).event(
                conn,
                "logout",
                None::<&()>,
            )?;
        }
        Ok(())
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// The logged-in user.
#[utoipa::path(
    tag = "auth",
    security(("bearer" = [])),
    responses((status = 200, body = User), (status = 401, body = Problem))
)]
#[get("/me")]
pub async fn me(db: web::Data<Db>, auth: AuthUser) -> ApiResult<web::Json<User>> {
    let user = db
        .run(move |conn| {
            let row = repo::user_by_id(conn, auth.school_id, auth.user_id)?;
            let roles = crate::tenancy::roles_of(conn, auth.school_id, auth.user_id)?;
            Ok(crate::tenancy::UserWithRoles { row, roles })
        })
        .await?;
    Ok(web::Json(user.into()))
}

/// Starts two-factor login for the caller (admin or accountant; issue #17): a new secret,
/// not in force until confirmed, as base32, `otpauth://` URI and a QR code (SVG) to scan.
/// Restarting replaces an unconfirmed secret.
#[utoipa::path(
    tag = "auth",
    security(("bearer" = [])),
    responses((status = 200, body = TwoFactorEnrolment), (status = 403, body = Problem),
        (status = 409, description = "`two_factor_already_on`", body = Problem))
)]
#[post("/auth/two-factor/enrol")]
pub async fn enrol_two_factor(
    db: web::Data<Db>,
    auth: AuthUser,
) -> ApiResult<web::Json<TwoFactorEnrolment>> {
    auth.require_office()?;
    let enrolment = db
        .transaction(move |conn| {
            let user = repo::user_by_id(conn, auth.school_id, auth.user_id)?;
            let school: String = crate::schema::schools::table
                .find(auth.school_id)
                .select(crate::schema::schools::name)
                .first(conn)?;
            two_factor::enrol(conn, &auth, &school, &user.username)
        })
        .await?;
    Ok(web::Json(enrolment))
}

/// Confirms two-factor enrolment with the code the app shows now: from here on the caller's
/// logins need a code, and the ten recovery codes in the answer are shown this once.
#[utoipa::path(
    tag = "auth",
    request_body = TwoFactorCode,
    security(("bearer" = [])),
    responses((status = 200, body = RecoveryCodes), (status = 403, body = Problem),
        (status = 409, description = "`two_factor_not_started` or `two_factor_already_on`", body = Problem))
)]
#[post("/auth/two-factor/confirm")]
pub async fn confirm_two_factor(
    db: web::Data<Db>,
    auth: AuthUser,
    body: Json<TwoFactorCode>,
) -> ApiResult<web::Json<RecoveryCodes>> {
    auth.require_office()?;
    let code = body.into_inner().code;
    let codes = db
        .transaction(move |conn| two_factor::confirm(conn, &auth, &code, Utc::now()))
        .await?;
    Ok(web::Json(codes))
}

/// Turns the caller's two-factor login off, given the app's current code or an unused
/// recovery code.
#[utoipa::path(
    tag = "auth",
    request_body = TwoFactorCode,
    security(("bearer" = [])),
    responses((status = 204, description = "Two-factor login is off"), (status = 403, body = Problem),
        (status = 409, description = "`two_factor_not_on`", body = Problem))
)]
#[post("/auth/two-factor/disable")]
pub async fn disable_two_factor(
    db: web::Data<Db>,
    auth: AuthUser,
    body: Json<TwoFactorCode>,
) -> ApiResult<HttpResponse> {
    auth.require_office()?;
    let code = body.into_inner().code;
    db.transaction(move |conn| two_factor::disable(conn, &auth, &code, Utc::now()))
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Turn another user's two-factor login off (admin; issue #17): for a lost phone with no
/// recovery codes. Ends every login of that user.
#[utoipa::path(
    tag = "auth",
    security(("bearer" = [])),
    responses((status = 204, description = "Two-factor login is off for the user"), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 409, description = "`two_factor_not_on`", body = Problem),
        (status = 422, description = "The admin's own (use disable)", body = Problem))
)]
#[post("/users/{id}/two-factor/reset")]
pub async fn reset_two_factor(
    db: web::Data<Db>,
    auth: AuthUser,
    id: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    auth.require_admin()?;
    let user = id.into_inner();
    db.transaction(move |conn| two_factor::reset_by_admin(conn, &auth, user))
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Whether the school requires two-factor login of its admins and accountants (admin).
#[utoipa::path(
    tag = "auth",
    security(("bearer" = [])),
    responses((status = 200, body = TwoFactorPolicy), (status = 403, body = Problem))
)]
#[get("/school/two-factor-policy")]
pub async fn get_two_factor_policy(
    db: web::Data<Db>,
    auth: AuthUser,
) -> ApiResult<web::Json<TwoFactorPolicy>> {
    auth.require_admin()?;
    let p = db
        .run(move |conn| Ok(two_factor::policy(conn, auth.school_id)?))
        .await?;
    Ok(web::Json(p))
}

/// Sets whether the school requires two-factor login of its admins and accountants (admin).
/// Logins issued from now on follow it; an admin or accountant without it can then only turn
/// it on.
#[utoipa::path(
    tag = "auth",
    request_body = TwoFactorPolicy,
    security(("bearer" = [])),
    responses((status = 200, body = TwoFactorPolicy), (status = 403, body = Problem))
)]
#[put("/school/two-factor-policy")]
pub async fn set_two_factor_policy(
    db: web::Data<Db>,
    auth: AuthUser,
    body: Json<TwoFactorPolicy>,
) -> ApiResult<web::Json<TwoFactorPolicy>> {
    auth.require_admin()?;
    let wanted = body.into_inner();
    let p = db
        .transaction(move |conn| Ok(two_factor::set_policy(conn, &auth, &wanted)?))
        .await?;
    Ok(web::Json(p))
}

/// Fresh tokens for `auth`'s user bound to the just-enrolled `device_id` (a new refresh-token
/// family), so enrolment needs no second password prompt.
pub(crate) fn device_tokens(
    conn: &mut diesel::PgConnection,
    config: &AuthConfig,
    auth: &AuthUser,
    device_id: Uuid,
) -> ApiResult<TokenResponse> {
    let user = repo::user_by_id(conn, auth.school_id, auth.user_id)?;
    let family_id = Uuid::now_v7();
    let refresh_token = issue_refresh(conn, config, &user, family_id, Some(device_id))?;
    token_response(
        conn,
        config,
        user,
        Some(device_id),
        family_id,
        refresh_token,
    )
}

#[cfg(test)]
mod tests {
    use super::lock_secs;

    #[test]
    fn lock_grows_exponentially_after_five_failures_and_is_capped() {
        assert_eq!(lock_secs(4), None);
        assert_eq!(lock_secs(5), Some(30));
        assert_eq!(lock_secs(6), Some(60));
        assert_eq!(lock_secs(7), Some(120));
        assert_eq!(lock_secs(40), Some(3600));
    }
}
