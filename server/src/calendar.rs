//! School-local dates: the calendar day an instant falls on in the school's IANA time zone.
//! Everything a person reads, and every date the ledger and registers file under, is
//! school-local; instants are UTC on the wire and in storage (ARCHITECTURE.md §3).

use chrono::Utc;
use diesel::prelude::*;
use uuid::Uuid;

use crate::schema::schools;

/// The calendar date of `instant` in the IANA time zone `tz` (UTC if `tz` is unknown).
pub fn local_date_in(tz: &str, instant: chrono::DateTime<Utc>) -> chrono::NaiveDate {
    let tz: chrono_tz::Tz = tz.parse().unwrap_or(chrono_tz::UTC);
    instant.with_timezone(&tz).date_naive()
}

/// The calendar date of `instant` in the school's IANA time zone (UTC if the zone is unknown):
/// the date journal entries and registers are filed under.
pub fn local_date(
    conn: &mut PgConnection,
    school_id: Uuid,
    instant: chrono::DateTime<Utc>,
) -> QueryResult<chrono::NaiveDate> {
    let tz: String = schools::table
        .find(school_id)
        .select(schools::timezone)
        .first(conn)?;
    Ok(local_date_in(&tz, instant))
}
