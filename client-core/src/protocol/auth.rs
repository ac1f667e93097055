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
