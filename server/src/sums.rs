//! Sums of money read from SQL without overflow (ARCHITECTURE.md §4).
//!
//! PostgreSQL's `sum(bigint)` is `numeric` and never overflows, but casting it back to
//! `bigint` fails the whole query ("bigint out of range") once a total passes `i64::MAX`; a
//! journal is immutable, so that report would fail for that period for ever. Reports
//! therefore read every sum as `numeric` into [`Sum128`] (an `i128`: the sum of 2^64 rows of
//! `i64::MAX` still fits) and add in `i128` with checked arithmetic.

use diesel::deserialize::{self, FromSql, FromSqlRow};
use diesel::expression::AsExpression;
use diesel::pg::data_types::PgNumeric;
use diesel::pg::{Pg, PgValue};
use diesel::sql_types::Numeric;

/// An integral SQL `numeric` (a sum of minor units or a count) as `i128`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default, FromSqlRow, AsExpression)]
#[diesel(sql_type = Numeric)]
pub struct Sum128(pub i128);

/// Why a `numeric` is not an `i128`.
#[derive(Debug, thiserror::Error)]
#[error("numeric value is {0}")]
struct NotAnInteger(&'static str);

impl FromSql<Numeric, Pg> for Sum128 {
    fn from_sql(bytes: PgValue<'_>) -> deserialize::Result<Self> {
        let (negative, weight, digits) = match PgNumeric::from_sql(bytes)? {
            PgNumeric::Positive { weight, digits, .. } => (false, weight, digits),
            PgNumeric::Negative { weight, digits, .. } => (true, weight, digits),
            PgNumeric::NaN => return Err(Box::new(NotAnInteger("NaN"))),
        };
        from_base_10000(negative, weight, &digits)
            .map(Sum128)
            .ok_or_else(|| Box::new(NotAnInteger("fractional or beyond i128")) as _)
    }
}

/// The integer `±Σ digits[i] · 10000^(weight − i)` (PostgreSQL's `numeric` wire format), or
/// `None` when it has a fractional part or does not fit in `i128`.
fn from_base_10000(negative: bool, weight: i16, digits: &[i16]) -> Option<i128> {
    let mut value: i128 = 0;
    for (i, d) in digits.iter().enumerate() {
        let exponent = i32::from(weight) - i32::try_from(i).ok()?;
        if exponent < 0 {
            if *d != 0 {
                return None;
            }
            continue;
        }
        let term =
            i128::from(*d).checked_mul(10_000i128.checked_pow(exponent.try_into().ok()?)?)?;
        value = value.checked_add(term)?;
    }
    Some(if negative { -value } else { value })
}

/// A total that is shown or used as `i64` (a family's balance, its statement lines) but that
/// stored data put beyond `i64`. Answered as 422 `amount_out_of_range`, never as a wrapped
/// number or a 500 (see [`crate::errors`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a total of {0} minor units is beyond what one figure can hold (±9.2·10^18); the journal holds amounts above the school's limit")]
pub struct AmountOutOfRange(pub i128);

/// `total` as `i64`.
///
/// Errors: [`AmountOutOfRange`].
pub fn to_i64(total: i128) -> Result<i64, AmountOutOfRange> {
    i64::try_from(total).map_err(|_| AmountOutOfRange(total))
}

/// An integral SQL `numeric` sum that must fit `i64`: decoding fails with
/// [`AmountOutOfRange`] (inside Diesel's deserialization error) when it does not.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, FromSqlRow, AsExpression)]
#[diesel(sql_type = Numeric)]
pub struct Sum64(pub i64);

impl FromSql<Numeric, Pg> for Sum64 {
    fn from_sql(bytes: PgValue<'_>) -> deserialize::Result<Self> {
        let wide = Sum128::from_sql(bytes)?.0;
        Ok(Sum64(to_i64(wide)?))
    }
}

/// `Σ values` in `i128`; `None` only past ±1.7·10^38.
pub fn checked_sum(values: impl IntoIterator<Item = i128>) -> Option<i128> {
    values
        .into_iter()
        .try_fold(0i128, |acc, v| acc.checked_add(v))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// `value` in PostgreSQL's `numeric` wire layout: sign, weight, base-10000 digits.
    fn to_base_10000(value: i128) -> (bool, i16, Vec<i16>) {
        let mut rest = value.unsigned_abs();
        let mut digits = Vec::new();
        while rest > 0 {
            digits.push(i16::try_from(rest % 10_000).expect("< 10000"));
            rest /= 10_000;
        }
        digits.reverse();
        let weight = i16::try_from(digits.len()).expect("small") - 1;
        (value < 0, weight.max(0), digits)
    }

    fn amount() -> impl Strategy<Value = i64> {
        prop_oneof![
            Just(i64::MAX),
            Just(i64::MIN + 1),
            Just(crate::ledger::limits::MAX_AMOUNT_CEILING),
            (crate::ledger::limits::MAX_AMOUNT_CEILING - 1_000)
                ..=crate::ledger::limits::MAX_AMOUNT_CEILING,
            any::<i64>(),
        ]
    }

    proptest! {
        /// Sums of amounts at and past the bounds are exact, as numeric decoded to i128 and
        /// as checked i128 addition (ARCHITECTURE.md §4).
        #[test]
        fn sums_at_the_bounds_are_exact(values in proptest::collection::vec(amount(), 0..300)) {
            let exact: i128 = values.iter().map(|v| i128::from(*v)).sum();
            let (negative, weight, digits) = to_base_10000(exact);
            prop_assert_eq!(from_base_10000(negative, weight, &digits), Some(exact));
            prop_assert_eq!(checked_sum(values.iter().map(|v| i128::from(*v))), Some(exact));
            prop_assert_eq!(to_i64(exact).ok().map(i128::from), i64::try_from(exact).ok().map(i128::from));
        }
    }

    #[test]
    fn base_10000_digits_decode_exactly() {
        assert_eq!(from_base_10000(false, 0, &[]), Some(0));
        assert_eq!(from_base_10000(false, 0, &[1234]), Some(1234));
        // 12,345,678 = 1234·10000 + 5678
        assert_eq!(from_base_10000(false, 1, &[1234, 5678]), Some(12_345_678));
        // trailing zero groups are left out: 5·10000^2
        assert_eq!(from_base_10000(true, 2, &[5]), Some(-500_000_000));
        // 2 · i64::MAX, past i64
        let two_max = 2 * i128::from(i64::MAX);
        let s = two_max.to_string();
        let groups: Vec<i16> = {
            let pad = (4 - s.len() % 4) % 4;
            let padded = format!("{}{s}", "0".repeat(pad));
            padded
                .as_bytes()
                .chunks(4)
                .map(|c| {
                    std::str::from_utf8(c)
                        .expect("ascii")
                        .parse()
                        .expect("digits")
                })
                .collect()
        };
        let weight = i16::try_from(groups.len() - 1).expect("small");
        assert_eq!(from_base_10000(false, weight, &groups), Some(two_max));
        assert_eq!(
            from_base_10000(false, 0, &[1, 5000]),
            None,
            "1.5 is not an integer"
        );
        assert_eq!(from_base_10000(false, 0, &[1, 0]), Some(1), "1.0 is");
    }
}
