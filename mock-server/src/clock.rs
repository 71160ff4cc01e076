//! Time sources for the mock (the system clock, or a manual clock for tests) and RFC 3339 formatting.

use std::fmt;
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Seconds from the Unix epoch to 9999-12-31T23:59:59Z, the latest time
/// that an RFC 3339 timestamp, with its four-digit year, can show.
pub const MAX_TIME_SECS: u64 = 253_402_300_799;

/// Returns 9999-12-31T23:59:59Z, the latest time a session clock may show.
pub fn max_time() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(MAX_TIME_SECS)
}

/// A source of the current time.
pub trait Clock: fmt::Debug + Send + Sync {
    fn now(&self) -> SystemTime;
}

/// The system's wall clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> SystemTime {
        SystemTime::now()
    }
}

/// A clock whose time changes only when a test sets or advances it.
#[derive(Debug)]
pub struct ManualClock {
    now: Mutex<SystemTime>,
}

impl ManualClock {
    pub fn new(start: SystemTime) -> Self {
        ManualClock {
            now: Mutex::new(start),
        }
    }

    pub fn set(&self, time: SystemTime) {
        *self.lock() = time;
    }

    pub fn advance(&self, by: Duration) {
        *self.lock() += by;
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, SystemTime> {
        // The guarded value is a plain `SystemTime`, always valid.
        self.now
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl Clock for ManualClock {
    fn now(&self) -> SystemTime {
        *self.lock()
    }
}

/// Formats a time as RFC 3339 in UTC, for example `2026-11-30T08:00:00Z`,
/// with milliseconds (`08:00:00.250Z`) only when they are not zero.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rfc3339(pub SystemTime);

impl fmt::Display for Rfc3339 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let millis = millis_since_epoch(self.0);
        let seconds = millis.div_euclid(1000);
        let (year, month, day) = civil_from_days(seconds.div_euclid(86_400));
        let second_of_day = seconds.rem_euclid(86_400);
        let (hour, minute, second) = (
            second_of_day / 3600,
            second_of_day % 3600 / 60,
            second_of_day % 60,
        );
        write!(
            f,
            "{year:04}-{month:02}-{day:02}T{hour:02}:{minute:02}:{second:02}"
        )?;
        match millis.rem_euclid(1000) {
            0 => f.write_str("Z"),
            fraction => write!(f, ".{fraction:03}Z"),
        }
    }
}

/// Serializes a time as an RFC 3339 string, for `#[serde(serialize_with)]`.
pub fn serialize_rfc3339<S: serde::Serializer>(
    time: &SystemTime,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serializer.collect_str(&Rfc3339(*time))
}

/// Serializes an optional time as an RFC 3339 string or `null`, for
/// `#[serde(serialize_with)]`.
pub fn serialize_rfc3339_option<S: serde::Serializer>(
    time: &Option<SystemTime>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    match time {
        Some(time) => serializer.collect_str(&Rfc3339(*time)),
        None => serializer.serialize_none(),
    }
}

/// Milliseconds since the Unix epoch, negative before it.
fn millis_since_epoch(time: SystemTime) -> i128 {
    match time.duration_since(UNIX_EPOCH) {
        Ok(after) => after.as_millis() as i128,
        Err(before) => -(before.duration().as_nanos().div_ceil(1_000_000) as i128),
    }
}

/// Converts days since 1970-01-01 to a proleptic Gregorian (year, month,
/// day), with Howard Hinnant's `civil_from_days` algorithm.
pub(crate) fn civil_from_days(days: i128) -> (i128, i128, i128) {
    let shifted = days + 719_468; // days since 0000-03-01
    let era = shifted.div_euclid(146_097);
    let day_of_era = shifted.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_from_march = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_from_march + 2) / 5 + 1;
    let month = if month_from_march < 10 {
        month_from_march + 3
    } else {
        month_from_march - 9
    };
    let year = year_of_era + era * 400 + i128::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at_seconds(seconds: i64) -> SystemTime {
        if seconds >= 0 {
            UNIX_EPOCH + Duration::from_secs(seconds.unsigned_abs())
        } else {
            UNIX_EPOCH - Duration::from_secs(seconds.unsigned_abs())
        }
    }

    #[test]
    fn rfc3339_formats_known_dates() {
        let cases = [
            (0, "1970-01-01T00:00:00Z"),
            (1_796_025_600, "2026-11-30T08:00:00Z"),
            (1_709_251_199, "2024-02-29T23:59:59Z"),
            (951_868_800, "2000-03-01T00:00:00Z"),
            (-2_208_988_800, "1900-01-01T00:00:00Z"),
        ];
        for (seconds, expected) in cases {
            assert_eq!(Rfc3339(at_seconds(seconds)).to_string(), expected);
        }
    }

    #[test]
    fn max_time_is_last_second_of_9999() {
        assert_eq!(Rfc3339(max_time()).to_string(), "9999-12-31T23:59:59Z");
        let next = max_time() + Duration::from_secs(1);
        assert_eq!(Rfc3339(next).to_string(), "10000-01-01T00:00:00Z");
    }

    #[test]
    fn rfc3339_shows_nonzero_milliseconds() {
        let time = at_seconds(1_796_025_600) + Duration::from_millis(250);
        assert_eq!(Rfc3339(time).to_string(), "2026-11-30T08:00:00.250Z");
    }

    #[test]
    fn rfc3339_before_epoch_borrows_second() {
        let time = UNIX_EPOCH - Duration::from_millis(1);
        assert_eq!(Rfc3339(time).to_string(), "1969-12-31T23:59:59.999Z");
    }

    #[test]
    fn manual_clock_sets_and_advances() {
        let clock = ManualClock::new(UNIX_EPOCH);
        assert_eq!(clock.now(), UNIX_EPOCH);
        clock.advance(Duration::from_secs(60));
        assert_eq!(clock.now(), at_seconds(60));
        clock.set(at_seconds(1_796_025_600));
        assert_eq!(clock.now(), at_seconds(1_796_025_600));
    }
}
