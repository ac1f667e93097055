//! Money as text: ISO 4217 minor-unit exponents, exact formatting and parsing of amounts
//! typed by people (integer arithmetic only; money is `i64` minor units everywhere else).

/// ISO 4217 minor-unit exponent: 0 for JPY, KRW, …; 3 for BHD, KWD, …; else 2.
pub fn minor_unit_exponent(currency: &str) -> u32 {
    match currency {
        "BIF" | "CLP" | "DJF" | "GNF" | "ISK" | "JPY" | "KMF" | "KRW" | "PYG" | "RWF" | "UGX"
        | "UYI" | "VND" | "VUV" | "XAF" | "XOF" | "XPF" => 0,
        "BHD" | "IQD" | "JOD" | "KWD" | "LYD" | "OMR" | "TND" => 3,
        _ => 2,
    }
}

/// `12345` PKR → `"123.45"`; exact (integer arithmetic).
pub fn format_money(minor: i64, currency: &str) -> String {
    format_money_wide(i128::from(minor), currency)
}

/// [`format_money`] for totals that may pass `i64` (report sums); exact.
pub fn format_money_wide(minor: i128, currency: &str) -> String {
    let exp = minor_unit_exponent(currency);
    if exp == 0 {
        return minor.to_string();
    }
    let div = 10u128.pow(exp);
    let sign = if minor < 0 { "-" } else { "" };
    let abs = minor.unsigned_abs();
    format!(
        "{sign}{}.{:0width$}",
        abs / div,
        abs % div,
        width = exp as usize
    )
}

/// Parses an amount typed in major units (`"1500"`, `"1,500.50"`) into minor units of
/// `currency`, exactly. Errors: a message saying what is wrong (not a number, more decimals
/// than the currency has, not positive, too large).
pub fn parse_money(text: &str, currency: &str) -> Result<i64, String> {
    let exp = minor_unit_exponent(currency) as usize;
    let t: String = text
        .trim()
        .chars()
        .filter(|c| *c != ',' && *c != '_')
        .collect();
    let (whole, frac) = match t.split_once('.') {
        Some((w, f)) => (w, f),
        None => (t.as_str(), ""),
    };
    if whole.is_empty() && frac.is_empty()
        || !whole.chars().all(|c| c.is_ascii_digit())
        || !frac.chars().all(|c| c.is_ascii_digit())
    {
        return Err(format!("`{text}` is not an amount like 1500 or 1500.50"));
    }
    if frac.len() > exp {
        return Err(format!(
            "{currency} has {exp} decimal places; `{text}` has more"
        ));
    }
    let scaled = format!("{whole}{frac:0<exp$}");
    let v: i64 = scaled
        .trim_start_matches('0')
        .parse()
        .or_else(|e| {
            if scaled.trim_start_matches('0').is_empty() {
                Ok(0)
            } else {
                Err(e)
            }
        })
        .map_err(|_| format!("`{text}` is too large"))?;
    if v <= 0 {
        return Err("must be more than zero".into());
    }
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_formats_exactly() {
        assert_eq!(parse_money("1,500.5", "PKR"), Ok(150_050));
        assert_eq!(parse_money("1500", "PKR"), Ok(150_000));
        assert_eq!(parse_money("12", "JPY"), Ok(12));
        assert_eq!(parse_money("1.234", "KWD"), Ok(1234));
        assert!(parse_money("1.234", "PKR").is_err());
        assert!(parse_money("0", "PKR").is_err());
        assert!(parse_money("abc", "PKR").is_err());
        assert_eq!(format_money(150_050, "PKR"), "1500.50");
        assert_eq!(format_money(-5, "PKR"), "-0.05");
    }
}
