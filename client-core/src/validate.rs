//! Field rules for roster records, shared by the server (which enforces them on every write)
//! and the office agent (which checks them before it queues an edit offline, so a bad value is
//! refused on the spot instead of coming back as a rejection after sync). Every error names
//! the field it is about.

/// A value refused by one of the rules: the field (as the caller named it) and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl FieldError {
    fn new(field: &str, message: impl Into<String>) -> Self {
        FieldError {
            field: field.to_string(),
            message: message.into(),
        }
    }
}

impl std::fmt::Display for FieldError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

impl std::error::Error for FieldError {}

/// Trims `value` and checks it is 1..=`max` characters.
pub fn text(field: &str, value: &str, max: usize) -> Result<String, FieldError> {
    let v = value.trim();
    if v.is_empty() {
        return Err(FieldError::new(field, "must not be empty"));
    }
    if v.chars().count() > max {
        return Err(FieldError::new(
            field,
            format!("must be at most {max} characters"),
        ));
    }
    Ok(v.to_string())
}

/// Like [`text`] for optional fields; an empty string becomes `None`.
pub fn opt_text(
    field: &str,
    value: Option<&str>,
    max: usize,
) -> Result<Option<String>, FieldError> {
    match value.map(str::trim) {
        None | Some("") => Ok(None),
        Some(v) => text(field, v, max).map(Some),
    }
}

/// A phone number: optional leading `+`, then 7..=15 digits (ITU-T E.164 length); spaces,
/// dashes and parentheses are dropped. Empty is `None`.
pub fn phone(field: &str, value: Option<&str>) -> Result<Option<String>, FieldError> {
    let Some(raw) = value.map(str::trim).filter(|v| !v.is_empty()) else {
        return Ok(None);
    };
    let cleaned: String = raw
        .chars()
        .filter(|c| !matches!(c, ' ' | '-' | '(' | ')'))
        .collect();
    let digits = cleaned.strip_prefix('+').unwrap_or(&cleaned);
    if !(7..=15).contains(&digits.len()) || !digits.chars().all(|c| c.is_ascii_digit()) {
        return Err(FieldError::new(
            field,
            "must be a phone number: optional + then 7 to 15 digits",
        ));
    }
    Ok(Some(cleaned))
}

/// An e-mail address: something@something.something, at most 254 characters (RFC 5321).
/// Empty is `None`.
pub fn email(field: &str, value: Option<&str>) -> Result<Option<String>, FieldError> {
    let Some(v) = value.map(str::trim).filter(|v| !v.is_empty()) else {
        return Ok(None);
    };
    let ok = v.len() <= 254
        && v.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty() && domain.contains('.') && !domain.starts_with('.')
        });
    if !ok {
        return Err(FieldError::new(field, "must be an e-mail address"));
    }
    Ok(Some(v.to_string()))
}

/// A username: 1..=100 of letters, digits and `._@+-`.
pub fn username(field: &str, value: &str) -> Result<String, FieldError> {
    let v = value.trim();
    if v.is_empty()
        || v.len() > 100
        || !v
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._@+-".contains(c))
    {
        return Err(FieldError::new(
            field,
            "must be 1 to 100 letters, digits or . _ @ + -",
        ));
    }
    Ok(v.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phone_accepts_e164_and_names_field_on_garbage() {
        assert_eq!(
            phone("phone", Some("+92 300-1234567")).expect("ok"),
            Some("+923001234567".into())
        );
        assert_eq!(phone("phone", Some("")).expect("ok"), None);
        let e = phone("guardian.phone", Some("call me")).expect_err("bad");
        assert_eq!(e.field, "guardian.phone");
    }

    #[test]
    fn text_trims_and_bounds() {
        assert_eq!(text("name", "  Aisha ", 10).expect("ok"), "Aisha");
        assert!(text("name", "   ", 10).is_err());
        assert!(text("name", "abcdefghijk", 10).is_err());
    }

    #[test]
    fn email_needs_a_domain_with_a_dot() {
        assert_eq!(
            email("email", Some(" a@b.pk ")).expect("ok"),
            Some("a@b.pk".into())
        );
        assert!(email("email", Some("a@b")).is_err());
        assert_eq!(email("email", Some("")).expect("ok"), None);
    }
}
