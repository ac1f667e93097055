//! Access tokens (JWT, RFC 7519, HS256) and opaque refresh tokens.

use std::future::Future;
use std::pin::Pin;

use actix_web::{dev::Payload, web, FromRequest, HttpRequest};
use base64::Engine;
use daftar_client_core::protocol::{Role, Roles};
use jsonwebtoken::{decode, encode, Algorithm, DecodingKey, EncodingKey, Header, Validation};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::config::AuthConfig;
use crate::db::Db;
use crate::errors::ApiError;

/// Claims of an access token. `sub` is the user id, `sch` the school (tenant) id; every query a
/// handler makes is filtered by `sch`. `fam` is the refresh-token family (one per login) the
/// token was issued under: when that family is revoked (logout, refresh-token reuse) the access
/// token stops working at once, not at its expiry (ARCHITECTURE.md §7).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    pub sub: Uuid,
    pub sch: Uuid,
    /// Every role the user held when the token was issued (issue #17; a change of roles ends
    /// the user's logins, so a token never outlives the roles it names).
    pub roles: Roles,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dev: Option<Uuid>,
    pub fam: Uuid,
    /// The school requires two-factor login of this admin or accountant, who has not turned it
    /// on: the token is good only for turning it on (issue #17; [`TWO_FACTOR_SETUP_PATHS`]).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub tfa_setup: bool,
    /// Expiry, seconds since the Unix epoch (UTC).
    pub exp: i64,
    /// Issued at, seconds since the Unix epoch (UTC).
    pub iat: i64,
}

/// Signs an access token for `user` valid for `config.access_ttl_secs`, under refresh-token
/// family `family_id`.
///
/// Errors: only on an internal signing failure.
pub fn issue_access_token(
    config: &AuthConfig,
    user_id: Uuid,
    school_id: Uuid,
    roles: Roles,
    device_id: Option<Uuid>,
    family_id: Uuid,
    two_factor_setup: bool,
) -> anyhow::Result<String> {
    let now = chrono::Utc::now().timestamp();
    let claims = Claims {
        sub: user_id,
        sch: school_id,
        roles,
        dev: device_id,
        fam: family_id,
        tfa_setup: two_factor_setup,
        iat: now,
        exp: now + config.access_ttl_secs,
    };
    encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(&config.jwt_secret),
    )
    .map_err(|e| anyhow::anyhow!("signing access token: {e}"))
}

/// Verifies signature and expiry (no leeway) of an access token.
///
/// Errors: [`ApiError::Unauthorized`] saying whether it was expired or invalid.
pub fn verify_access_token(config: &AuthConfig, token: &str) -> Result<Claims, ApiError> {
    let mut validation = Validation::new(Algorithm::HS256);
    validation.leeway = 0;
    decode::<Claims>(
        token,
        &DecodingKey::from_secret(&config.jwt_secret),
        &validation,
    )
    .map(|d| d.claims)
    .map_err(|e| match e.kind() {
        jsonwebtoken::errors::ErrorKind::ExpiredSignature => {
            ApiError::Unauthorized("access token expired; refresh it".into())
        }
        _ => ApiError::Unauthorized("access token invalid".into()),
    })
}

/// A fresh refresh token `"<school uuid>.<43 base64url chars>"` (256 random bits) and the
/// SHA-256 of its secret part, which is all the database keeps.
pub fn new_refresh_token(school_id: Uuid) -> (String, Vec<u8>) {
    let mut secret = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut secret);
    let secret = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(secret);
    let hash = Sha256::digest(secret.as_bytes()).to_vec();
    (format!("{school_id}.{secret}"), hash)
}

/// Splits a presented refresh token into its school id and the SHA-256 of its secret.
///
/// Errors: [`ApiError::Unauthorized`] when malformed.
pub fn parse_refresh_token(token: &str) -> Result<(Uuid, Vec<u8>), ApiError> {
    let bad = || ApiError::Unauthorized("refresh token invalid".into());
    let (school, secret) = token.split_once('.').ok_or_else(bad)?;
    let school_id = Uuid::parse_str(school).map_err(|_| bad())?;
    if secret.len() != 43 {
        return Err(bad());
    }
    Ok((school_id, Sha256::digest(secret.as_bytes()).to_vec()))
}

/// The authenticated caller, taken from `Authorization: Bearer <jwt>` (the scheme name is
/// case-insensitive, RFC 7235 §2.1). Besides the signature and expiry, extraction checks in the
/// database that the token's login is still live: its refresh-token family is not revoked and
/// the user is active (one primary-key probe per request). Handlers scope every query to
/// `school_id` and check `roles` with [`AuthUser::require`].
#[derive(Debug, Clone, Copy)]
pub struct AuthUser {
    pub user_id: Uuid,
    pub school_id: Uuid,
    /// Every role the caller holds; what it may do is their union (issue #17).
    pub roles: Roles,
    pub device_id: Option<Uuid>,
}

impl AuthUser {
    /// Ok when one of the caller's roles is one of `roles`.
    ///
    /// Errors: [`ApiError::Forbidden`] naming the roles allowed.
    pub fn require(&self, roles: &[Role]) -> Result<(), ApiError> {
        if self.roles.any(roles) {
            return Ok(());
        }
        let allowed: Vec<&str> = roles.iter().map(|r| r.as_str()).collect();
        Err(ApiError::forbidden(format!(
            "role {} may not do this (allowed: {})",
            self.roles.names(),
            allowed.join(", ")
        )))
    }

    /// Whether the caller holds `role`.
    pub fn has(&self, role: Role) -> bool {
        self.roles.has(role)
    }

    /// Whether the caller is office staff (admin or accountant among its roles).
    pub fn is_office(&self) -> bool {
        self.roles.is_office()
    }

    /// Ok for admin and accountant.
    pub fn require_office(&self) -> Result<(), ApiError> {
        self.require(&[Role::Admin, Role::Accountant])
    }

    /// Ok for admin.
    pub fn require_admin(&self) -> Result<(), ApiError> {
        self.require(&[Role::Admin])
    }
}

impl From<&AuthUser> for crate::audit::Actor {
    fn from(u: &AuthUser) -> Self {
        crate::audit::Actor {
            user_id: Some(u.user_id),
            device_id: u.device_id,
        }
    }
}

/// What a token with [`Claims::tfa_setup`] may call: who am I, and turning two-factor login on.
pub const TWO_FACTOR_SETUP_PATHS: [&str; 3] = [
    "/api/v1/me",
    "/api/v1/auth/two-factor/enrol",
    "/api/v1/auth/two-factor/confirm",
];

impl FromRequest for AuthUser {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let claims = extract(req).and_then(|c| {
            if c.tfa_setup && !TWO_FACTOR_SETUP_PATHS.contains(&req.path()) {
                return Err(ApiError::Refused {
                    code: "two_factor_setup_required",
                    detail: "the school requires two-factor login for admins and accountants: turn it on (POST /api/v1/auth/two-factor/enrol, then confirm), then log in again with the code".into(),
                });
            }
            Ok(c)
        });
        let db = req.app_data::<web::Data<Db>>().cloned();
        Box::pin(async move {
            let claims = claims?;
            let db =
                db.ok_or_else(|| ApiError::Internal(anyhow::anyhow!("Db missing from app data")))?;
            let (school_id, user_id, family_id, device) =
                (claims.sch, claims.sub, claims.fam, claims.dev);
            let (live, device_revoked) = db
                .run(move |conn| {
                    let live = super::repo::login_is_live(conn, school_id, user_id, family_id)?;
                    // Only a dead login asks why: a revoked device's tokens die with it.
                    let revoked = match (live, device) {
                        (false, Some(d)) => super::repo::device_revoked(conn, school_id, d)?,
                        _ => false,
                    };
                    Ok((live, revoked))
                })
                .await?;
            if device_revoked {
                return Err(ApiError::device_revoked());
            }
            if !live {
                return Err(ApiError::Unauthorized(
                    "this login was signed out or the account disabled; log in again".into(),
                ));
            }
            Ok(AuthUser {
                user_id: claims.sub,
                school_id: claims.sch,
                roles: claims.roles,
                device_id: claims.dev,
            })
        })
    }
}

fn extract(req: &HttpRequest) -> Result<Claims, ApiError> {
    let config = req
        .app_data::<web::Data<AuthConfig>>()
        .ok_or_else(|| ApiError::Internal(anyhow::anyhow!("AuthConfig missing from app data")))?;
    let header = req
        .headers()
        .get(actix_web::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| ApiError::Unauthorized("Authorization: Bearer token required".into()))?;
    let token = header
        .trim_start()
        .split_once(' ')
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token)
        .ok_or_else(|| ApiError::Unauthorized("Authorization must be a Bearer token".into()))?;
    verify_access_token(config, token.trim())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn access_token_round_trips_and_rejects_other_keys() {
        let cfg = AuthConfig::new(b"0123456789abcdef0123456789abcdef".to_vec());
        let (u, s) = (Uuid::now_v7(), Uuid::now_v7());
        let roles = Roles::of([Role::Teacher, Role::Parent]);
        let t = issue_access_token(&cfg, u, s, roles, None, Uuid::now_v7(), false).expect("sign");
        let c = verify_access_token(&cfg, &t).expect("verify");
        assert_eq!((c.sub, c.sch, c.roles), (u, s, roles));
        let other = AuthConfig::new(b"another-secret-another-secret-xx".to_vec());
        assert!(verify_access_token(&other, &t).is_err());
    }

    #[test]
    fn refresh_token_parses_back_to_the_same_hash() {
        let s = Uuid::now_v7();
        let (tok, hash) = new_refresh_token(s);
        assert_eq!(parse_refresh_token(&tok).expect("parse"), (s, hash));
        assert!(parse_refresh_token("garbage").is_err());
    }
}
