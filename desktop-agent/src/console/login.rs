//! Who may use the console on this device, checked offline (office-console issue: "verify
//! against what the device stored at a successful online login; lock after repeated
//! failures").
//!
//! A user who once signed in successfully while the server was reachable (at `init`, or at
//! the console) is remembered in `outbox.db` as a [`RememberedUser`]: their id, name, role
//! and an argon2id hash of their password computed on this device (PHC string; the server's
//! own hash never leaves the server). After [`MAX_FAILURES`] wrong passwords in a row the user
//! is locked for [`LOCK_MINUTES`] minutes, whether the server is reachable or not.

use argon2::password_hash::{rand_core::OsRng, PasswordHash, PasswordHasher, SaltString};
use argon2::{Argon2, PasswordVerifier};
use chrono::{DateTime, Duration, Utc};
use daftar_client_core::client::{Api, ClientError, Store};
use daftar_client_core::protocol::{LoginRequest, Role, Roles, User};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Wrong passwords in a row before the user is locked.
pub const MAX_FAILURES: u32 = 5;
/// How long a locked user waits, in minutes.
pub const LOCK_MINUTES: i64 = 5;

/// A user this device may sign in offline.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RememberedUser {
    pub user_id: Uuid,
    pub username: String,
    pub display_name: String,
    /// The most privileged of `roles` (what a device remembered before users had several).
    pub role: Role,
    /// Every role the user held at their last online sign-in here (issue #17).
    #[serde(default)]
    pub roles: Vec<Role>,
    /// argon2id PHC string of the password, made on this device.
    pub password_hash: String,
    /// Wrong passwords since the last success.
    #[serde(default)]
    pub failures: u32,
    /// Locked until this instant (UTC) after [`MAX_FAILURES`] failures.
    #[serde(default)]
    pub locked_until: Option<DateTime<Utc>>,
}

impl RememberedUser {
    /// The roles as a set (`[role]` for a user remembered before users had several).
    pub fn role_set(&self) -> Roles {
        if self.roles.is_empty() {
            Roles::of([self.role])
        } else {
            Roles::of(self.roles.iter().copied())
        }
    }
}

/// Why a sign-in was refused, in words for the login page.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum Refusal {
    #[error("username or password is wrong")]
    Wrong,
    #[error("too many wrong passwords: try again after {0} (school time)")]
    Locked(String),
    #[error(
        "{0} has not signed in on this device yet; the first sign-in needs the server, which \
         cannot be reached now"
    )]
    NeverOnline(String),
    #[error("this account has two-factor login: type the code the authenticator app shows now (needed once on this computer)")]
    TwoFactorNeeded,
    #[error("the two-factor code is wrong or was used already: type the one the app shows now")]
    TwoFactorWrong,
    #[error("{0}")]
    Other(String),
}

fn key(username: &str) -> String {
    format!("console_user:{}", username.to_lowercase())
}

fn load(store: &mut Store, username: &str) -> Result<Option<RememberedUser>, Refusal> {
    let raw = store
        .device(&key(username))
        .map_err(|e| Refusal::Other(e.to_string()))?;
    Ok(raw.and_then(|r| serde_json::from_str(&r).ok()))
}

fn save(store: &mut Store, user: &RememberedUser) -> Result<(), Refusal> {
    let json = serde_json::to_string(user).map_err(|e| Refusal::Other(e.to_string()))?;
    store
        .set_device(&key(&user.username), &json)
        .map_err(|e| Refusal::Other(e.to_string()))
}

/// Remembers `user` with `password` (after the server accepted them). Errors: storage.
pub fn remember(store: &mut Store, user: &User, password: &str) -> anyhow::Result<()> {
    let salt = SaltString::generate(&mut OsRng);
    let hash = Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map_err(|e| anyhow::anyhow!("hashing the password: {e}"))?
        .to_string();
    save(
        store,
        &RememberedUser {
            user_id: user.id,
            username: user.username.clone(),
            display_name: user.display_name.clone(),
            role: user.role,
            roles: user.role_set().to_vec(),
            password_hash: hash,
            failures: 0,
            locked_until: None,
        },
    )
    .map_err(|e| anyhow::anyhow!("{e}"))
}

/// Checks `login`'s username and password: against the remembered hash when this device knows
/// the user; otherwise through the server at `server_url` with its code when the account
/// has two-factor login (and remembers them on success, so later sign-ins here, offline too,
/// need the password only: this computer was trusted by that one sign-in with the code).
/// `timezone` (IANA) only words the lock message.
pub fn sign_in(
    store: &mut Store,
    server_url: Option<&str>,
    login: &LoginRequest,
    now: DateTime<Utc>,
    timezone: chrono_tz::Tz,
) -> Result<RememberedUser, Refusal> {
    let (username, password) = (login.username.trim(), login.password.as_str());
    if let Some(mut user) = load(store, username)? {
        if let Some(until) = user.locked_until.filter(|u| *u > now) {
            return Err(Refusal::Locked(
                until.with_timezone(&timezone).format("%H:%M").to_string(),
            ));
        }
        let ok = PasswordHash::new(&user.password_hash)
            .map(|h| {
                Argon2::default()
                    .verify_password(password.as_bytes(), &h)
                    .is_ok()
            })
            .unwrap_or(false);
        if ok {
            user.failures = 0;
            user.locked_until = None;
            save(store, &user)?;
            return Ok(user);
        }
        user.failures += 1;
        if user.failures >= MAX_FAILURES {
            user.locked_until = Some(now + Duration::minutes(LOCK_MINUTES));
            user.failures = 0;
        }
        save(store, &user)?;
        return Err(Refusal::Wrong);
    }
    let Some(url) = server_url else {
        return Err(Refusal::NeverOnline(username.to_string()));
    };
    let login = LoginRequest {
        username: username.to_string(),
        device_id: None,
        ..login.clone()
    };
    match Api::new(url).login(&login) {
        Ok(tokens) => {
            remember(store, &tokens.user, password).map_err(|e| Refusal::Other(e.to_string()))?;
            load(store, username)?.ok_or(Refusal::Wrong)
        }
        Err(ClientError::Network(_)) => Err(Refusal::NeverOnline(username.to_string())),
        Err(e) if e.is_two_factor_required() => Err(Refusal::TwoFactorNeeded),
        Err(ClientError::Server { problem, .. }) if problem.code == "two_factor_invalid" => {
            Err(Refusal::TwoFactorWrong)
        }
        Err(ClientError::Server { problem, .. }) if problem.status == 401 => Err(Refusal::Wrong),
        Err(ClientError::Server { problem, .. }) if problem.status == 429 => {
            Err(Refusal::Other(problem.detail.clone()))
        }
        Err(e) => Err(Refusal::Other(e.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn creds(username: &str, password: &str) -> LoginRequest {
        LoginRequest {
            school: "demo".into(),
            username: username.into(),
            password: password.into(),
            device_id: None,
            two_factor_code: None,
        }
    }

    fn user(role: Role) -> User {
        User {
            id: Uuid::now_v7(),
            school_id: Uuid::now_v7(),
            username: "Cashier1".into(),
            display_name: "Amna Cashier".into(),
            role,
            roles: vec![role],
            email: None,
            phone: None,
            active: true,
        }
    }

    #[test]
    fn a_remembered_user_signs_in_offline_and_is_locked_after_five_wrong_passwords() {
        let dir = tempfile::tempdir().unwrap();
        let (mut store, _) = Store::open(dir.path()).unwrap();
        remember(&mut store, &user(Role::Accountant), "right password").unwrap();
        let now = Utc::now();
        let tz = chrono_tz::Asia::Karachi;
        let ok = sign_in(
            &mut store,
            None,
            &creds("cashier1", "right password"),
            now,
            tz,
        );
        assert_eq!(ok.expect("offline sign-in").display_name, "Amna Cashier");
        for _ in 0..MAX_FAILURES {
            assert_eq!(
                sign_in(&mut store, None, &creds("cashier1", "wrong"), now, tz).unwrap_err(),
                Refusal::Wrong
            );
        }
        let locked = sign_in(
            &mut store,
            None,
            &creds("cashier1", "right password"),
            now,
            tz,
        );
        assert!(matches!(locked, Err(Refusal::Locked(_))), "{locked:?}");
        let later = now + Duration::minutes(LOCK_MINUTES + 1);
        assert!(sign_in(
            &mut store,
            None,
            &creds("cashier1", "right password"),
            later,
            tz
        )
        .is_ok());
        assert_eq!(
            sign_in(&mut store, None, &creds("nobody", "x"), now, tz).unwrap_err(),
            Refusal::NeverOnline("nobody".into())
        );
    }
}
