//! When to warn that a certificate expires. An IdP that rolls its signing certificate without
//! the workspace updating the metadata locks every user out on the day the old one expires; a
//! warning a month, a week and a day before (and once it has expired) gives the admin time.
//!
//! Pure: [`due_warning`] says which warning a certificate is due at a moment. The store records
//! each (certificate, warning) once, so replicas and restarts never repeat one, and a new
//! certificate (another expiry) starts over.

use crate::Timestamp;

/// The warnings, in days before expiry; `0` is "has expired".
pub const WARNING_DAYS: [i64; 4] = [30, 7, 1, 0];

/// The warning a certificate that expires at `not_after` is due at `now`: the nearest threshold
/// it has passed (`0` once expired), or `None` while more than 30 days remain.
pub fn due_warning(not_after: Timestamp, now: Timestamp) -> Option<i64> {
    let remaining = not_after.as_micros() - now.as_micros();
    if remaining <= 0 {
        return Some(0);
    }
    WARNING_DAYS
        .into_iter()
        .rev()
        .find(|days| *days > 0 && remaining <= days * 86_400 * 1_000_000)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_certificate_is_warned_about_a_month_a_week_and_a_day_before_and_once_expired() {
        const DAY: i64 = 86_400;
        let now = Timestamp::from_micros(1_000_000 * 1_000_000);
        let table: &[(i64, Option<i64>)] = &[
            (400 * DAY, None),
            (30 * DAY + 1, None),
            (30 * DAY, Some(30)),
            (8 * DAY, Some(30)),
            (7 * DAY, Some(7)),
            (2 * DAY, Some(7)),
            (DAY, Some(1)),
            (60, Some(1)),
            (0, Some(0)),
            (-5 * DAY, Some(0)),
        ];
        for (seconds_left, want) in table {
            assert_eq!(
                due_warning(now.plus_seconds(*seconds_left), now),
                *want,
                "{seconds_left} s left"
            );
        }
    }
}
