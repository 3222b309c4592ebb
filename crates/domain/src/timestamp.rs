//! Instants as whole microseconds since the Unix epoch.
//!
//! One integer representation works identically on SQLite and PostgreSQL, sorts and compares in
//! SQL (SCIM `meta.lastModified gt ...`), and renders as RFC 3339 for the wire.

use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use crate::DomainError;

/// An instant, in microseconds since 1970-01-01T00:00:00Z.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(i64);

impl Timestamp {
    pub fn now() -> Self {
        Self::from_offset(OffsetDateTime::now_utc())
    }

    pub fn from_micros(micros: i64) -> Self {
        Self(micros)
    }

    pub fn as_micros(&self) -> i64 {
        self.0
    }

    /// This instant plus a number of seconds (negative to go back).
    pub fn plus_seconds(&self, seconds: i64) -> Self {
        Self(self.0.saturating_add(seconds.saturating_mul(1_000_000)))
    }

    /// RFC 3339 with millisecond precision in UTC, as SCIM and JSON APIs show it.
    pub fn to_rfc3339(&self) -> String {
        let nanos = i128::from(self.0) * 1000;
        let at = OffsetDateTime::from_unix_timestamp_nanos(nanos)
            .unwrap_or(OffsetDateTime::UNIX_EPOCH)
            .replace_nanosecond(((self.0.rem_euclid(1_000_000)) / 1000 * 1_000_000) as u32)
            .unwrap_or(OffsetDateTime::UNIX_EPOCH);
        at.format(&Rfc3339).unwrap_or_default()
    }

    /// Parses an RFC 3339 instant (any offset).
    pub fn parse_rfc3339(text: &str) -> Result<Self, DomainError> {
        OffsetDateTime::parse(text, &Rfc3339)
            .map(Self::from_offset)
            .map_err(|_| DomainError::invalid("timestamp", "not an RFC 3339 date-time"))
    }

    fn from_offset(at: OffsetDateTime) -> Self {
        let micros = at.unix_timestamp_nanos() / 1000;
        Self(i64::try_from(micros).unwrap_or(i64::MAX))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_and_parses_rfc3339() {
        let at = Timestamp::parse_rfc3339("2024-05-06T07:08:09.123456Z").unwrap();
        assert_eq!(at.as_micros(), 1_714_979_289_123_456);
        assert_eq!(at.to_rfc3339(), "2024-05-06T07:08:09.123Z");
        let offset = Timestamp::parse_rfc3339("2024-05-06T09:08:09+02:00").unwrap();
        assert_eq!(offset.to_rfc3339(), "2024-05-06T07:08:09Z");
        assert!(Timestamp::parse_rfc3339("yesterday").is_err());
    }

    #[test]
    fn plus_seconds_moves_forward_and_back() {
        let at = Timestamp::from_micros(5_000_000);
        assert_eq!(at.plus_seconds(2).as_micros(), 7_000_000);
        assert_eq!(at.plus_seconds(-5).as_micros(), 0);
    }
}
