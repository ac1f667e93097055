//! Login, token refresh and the signed-in user (`/api/v1/auth/*`, `/api/v1/me`).

use super::*;

/// `POST /api/v1/auth/login`. `school` is the school's slug (usernames are unique per school).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct LoginRequest {
    pub school: String,
    pub username: String,
    pub password: String,
    /// The enrolled device logging in, if any (bound into the token).
    #[serde(default)]
    pub device_id: Option<Uuid>,
    /// For a user with two-factor login (issue #17): the 6-digit code their authenticator
    /// app shows now (RFC 6238), or one of their unused recovery codes (`xxxxx-xxxxx`).
    /// Without it such a login is answered 401 `two_factor_required`; a wrong one 401
    /// `two_factor_invalid`, counted and throttled like a wrong password.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub two_factor_code: Option<String>,
}

/// `POST /api/v1/auth/two-factor/enrol` answer: a new, not yet confirmed TOTP secret
/// (RFC 6238: HMAC-SHA1, 6 digits, 30-second steps) as base32 for typing, as an `otpauth://`
/// URI, and that URI as a QR code (SVG) for the authenticator app to scan.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct TwoFactorEnrolment {
    pub secret_base32: String,
    pub otpauth_uri: String,
    pub qr_svg: String,
}

/// `GET`/`PUT /api/v1/school/two-factor-policy` (admin; issue #17): whether every admin and
/// accountant of the school must have two-factor login. While one has not turned it on, their
/// logins answer every call but `me` and the two-factor enrolment with 403
/// `two_factor_setup_required`; they log in again with the code once it is on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct TwoFactorPolicy {
    pub required_for_office: bool,
}

/// `POST /api/v1/auth/two-factor/confirm` and `/disable`: a code from the authenticator app
/// (`disable` also takes a recovery code).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct TwoFactorCode {
    pub code: String,
}

/// `POST /api/v1/auth/two-factor/confirm` answer: two-factor login is on, and these ten
/// one-time recovery codes are shown this once (the server keeps only their hashes).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct RecoveryCodes {
    pub recovery_codes: Vec<String>,
}

/// `POST /api/v1/auth/refresh` and `/logout`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct RefreshRequest {
    pub refresh_token: String,
}

/// Tokens issued by login and refresh. The access token is a JWT (RFC 7519, HS256) valid for
/// `expires_in` seconds; the refresh token is opaque, single-use, and rotates on every refresh.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct TokenResponse {
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: String,
    /// Access-token lifetime in seconds.
    pub expires_in: i64,
    pub refresh_token: String,
    pub user: User,
}
