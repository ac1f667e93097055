//! The one error the apps see: a flat enum whose variant tells the app what to do, and whose
//! message tells the person what happened. The rich [`ClientError`] of
//! client-core stays inside; [`From<ClientError>`] is the only mapping.

use daftar_client_core::client::ClientError;

/// Why a call failed. Every variant carries a human-readable `message` (English, safe to show;
/// never a password or token); it crosses the boundary as the exception's message (UniFFI
/// `flat_error`: Kotlin `DaftarException.Network` with `.message`, Swift
/// `DaftarError.Network(message:)`, Python `DaftarError.Network` with `str(e)`).
///
/// | variant | the app should |
/// |---|---|
/// | `Network` | keep working offline; the outbox retries (server unreachable, 429/503) |
/// | `Auth` | show the login screen (not logged in, wrong password, login ended) |
/// | `Forbidden` | say the user may not do this (a teacher's unassigned class, a locked account) |
/// | `Validation` | show the message next to the input it names (`field: message`) |
/// | `Conflict` | ask the person (already logged in, unsynced edits would be lost, duplicate) |
/// | `Storage` | report it: the phone's database failed (disk full, I/O); nothing was saved |
/// | `Other` | report it: a server error or a bug |
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, uniffi::Error)]
#[uniffi(flat_error)]
pub enum DaftarError {
    #[error("{message}")]
    Network { message: String },
    #[error("{message}")]
    Auth { message: String },
    #[error("{message}")]
    Forbidden { message: String },
    #[error("{message}")]
    Validation { message: String },
    #[error("{message}")]
    Conflict { message: String },
    #[error("{message}")]
    Storage { message: String },
    #[error("{message}")]
    Other { message: String },
}

impl DaftarError {
    /// A validation error naming `field` (`"field: message"`).
    pub fn invalid(field: &str, message: impl std::fmt::Display) -> Self {
        DaftarError::Validation {
            message: format!("{field}: {message}"),
        }
    }

    /// The message, whatever the variant.
    pub fn message(&self) -> &str {
        match self {
            DaftarError::Network { message }
            | DaftarError::Auth { message }
            | DaftarError::Forbidden { message }
            | DaftarError::Validation { message }
            | DaftarError::Conflict { message }
            | DaftarError::Storage { message }
            | DaftarError::Other { message } => message,
        }
    }
}

impl From<ClientError> for DaftarError {
    /// Server problems map by HTTP status (RFC 9110): 401 → `Auth`; 403 → `Forbidden`; 400,
    /// 404 and 422 → `Validation` (with the field the server named); 409 → `Conflict`; 429 and
    /// 503 → `Network` (retry later); other statuses → `Other`. Local refusals: an unknown id
    /// is `Validation`, a device not enrolled is `Auth`, busy/full/corrupt databases are
    /// `Storage`.
    fn from(e: ClientError) -> Self {
        let message = e.to_string();
        match e {
            ClientError::Network(_) => DaftarError::Network { message },
            ClientError::NotEnrolled(_) => DaftarError::Auth { message },
            ClientError::Invalid { .. } | ClientError::NotFound(_) => {
                DaftarError::Validation { message }
            }
            ClientError::Storage { .. } | ClientError::Corrupt { .. } => {
                DaftarError::Storage { message }
            }
            ClientError::Server { problem, .. } => {
                let message = match &problem.field {
                    Some(f) => format!("{f}: {}", problem.detail),
                    None => problem.detail.clone(),
                };
                match problem.status {
                    401 => DaftarError::Auth { message },
                    403 => DaftarError::Forbidden { message },
                    400 | 404 | 422 => DaftarError::Validation { message },
                    409 => DaftarError::Conflict { message },
                    429 | 503 => DaftarError::Network { message },
                    _ => DaftarError::Other { message },
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use daftar_client_core::protocol::Problem;

    fn server(status: u16, field: Option<&str>) -> ClientError {
        ClientError::Server {
            problem: Box::new(Problem {
                type_uri: "urn:daftar:problem:x".into(),
                title: "x".into(),
                status,
                detail: "the detail".into(),
                code: "some_code".into(),
                field: field.map(String::from),
            }),
            retry_after: None,
        }
    }

    fn variant(e: &DaftarError) -> &'static str {
        match e {
            DaftarError::Network { .. } => "Network",
            DaftarError::Auth { .. } => "Auth",
            DaftarError::Forbidden { .. } => "Forbidden",
            DaftarError::Validation { .. } => "Validation",
            DaftarError::Conflict { .. } => "Conflict",
            DaftarError::Storage { .. } => "Storage",
            DaftarError::Other { .. } => "Other",
        }
    }

    #[test]
    fn every_client_error_maps_to_the_variant_the_app_acts_on() {
        let cases = vec![
            (ClientError::Network("refused".into()), "Network"),
            (server(503, None), "Network"),
            (server(429, None), "Network"),
            (server(401, None), "Auth"),
            (ClientError::NotEnrolled("no".into()), "Auth"),
            (server(403, None), "Forbidden"),
            (server(422, Some("marks[0].code")), "Validation"),
            (server(400, None), "Validation"),
            (server(404, None), "Validation"),
            (ClientError::invalid("date", "bad"), "Validation"),
            (ClientError::NotFound("no class".into()), "Validation"),
            (server(409, None), "Conflict"),
            (ClientError::storage("disk full"), "Storage"),
            (
                ClientError::Corrupt {
                    file: "outbox.db".into(),
                    detail: "malformed".into(),
                },
                "Storage",
            ),
            (server(500, None), "Other"),
            (server(502, None), "Other"),
        ];
        for (client, expected) in cases {
            let shown = client.to_string();
            let mapped = DaftarError::from(client);
            assert_eq!(variant(&mapped), expected, "{shown} mapped to {mapped:?}");
            assert!(!mapped.message().is_empty());
        }
    }

    #[test]
    fn a_server_refusal_keeps_the_field_it_named() {
        let e = DaftarError::from(server(422, Some("marks[2].code")));
        assert_eq!(
            e,
            DaftarError::Validation {
                message: "marks[2].code: the detail".into()
            }
        );
        assert_eq!(
            DaftarError::invalid("date", "expected YYYY-MM-DD").message(),
            "date: expected YYYY-MM-DD"
        );
    }
}
