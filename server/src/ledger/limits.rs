//! Bounds on money inputs (ARCHITECTURE.md §4).
//!
//! Every amount a person or device enters — a payment, discount, fine, refund, fee amount — is
//! a positive number of minor units no larger than the school's `max_amount`
//! (`schools.max_amount`, shown on `GET /api/v1/school`), which is itself at most
//! [`MAX_AMOUNT_CEILING`]. Without a bound, one payment of `i64::MAX` made every later total
//! wrap, and the journal being immutable, its date range stayed broken for good. Sums over the
//! journal are additionally computed in `numeric`/`i128` (`crate::reports`), so no stored row,
//! however large, can make a report fail.

use diesel::prelude::*;
use uuid::Uuid;

use crate::errors::{ApiError, ApiResult};
use crate::schema::schools;

/// The largest `max_amount` a school may have, in minor units: 10^13, i.e. 100 billion major
/// units of a two-decimal currency. Also the `maximum` the OpenAPI document gives every money
/// input (a school's own limit may be lower).
pub const MAX_AMOUNT_CEILING: i64 = 10_000_000_000_000;

/// The school's largest accepted single amount, in minor units.
pub fn max_amount(conn: &mut PgConnection, school_id: Uuid) -> QueryResult<i64> {
    schools::table
        .find(school_id)
        .select(schools::max_amount)
        .first(conn)
}

/// Ok when `amount` is 1..=`max` minor units.
///
/// Errors: [`ApiError::Validation`] naming `field`, saying the bound.
pub fn check_amount(field: &str, amount: i64, max: i64) -> ApiResult<()> {
    if amount <= 0 {
        return Err(ApiError::validation(
            field,
            "must be a positive number of minor units",
        ));
    }
    if amount > max {
        return Err(ApiError::validation(
            field,
            format!("must be at most {max} minor units (this school's largest single amount)"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_are_bounded_on_both_sides() {
        assert!(check_amount("amount", 1, 100).is_ok());
        assert!(check_amount("amount", 100, 100).is_ok());
        for bad in [0, -1, 101, i64::MAX, i64::MIN] {
            let e = check_amount("amount", bad, 100).expect_err("out of bounds");
            assert_eq!(e.problem().field.as_deref(), Some("amount"));
        }
    }
}
