//! The request log line in the plain-text format, written without going
//! through `tracing`.
//!
//! Dispatching the line as a `tracing` event and formatting it with
//! tracing-subscriber's `Full` format cost about 12,000 instructions per
//! request, and a direct `FormatEvent` still 5,700: most of it recording
//! the fields through `core::fmt`. This module writes the same text as
//! `Full` straight into the log output.

use std::cell::{Cell, RefCell};
use std::io::Write;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::{LogOutput, TARGET};

/// The fields of a request log line.
pub(super) struct RequestLine<'a> {
    /// The hex digits of a [`RequestId`](super::RequestId).
    pub request_id: &'a str,
    pub method: &'a str,
    pub route: &'a str,
    pub status: u16,
    pub latency: Duration,
    pub rpc_methods: Option<&'a [String]>,
}

thread_local! {
    /// The line being written, reused between requests.
    static LINE: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
    /// The second of the last timestamp, and its text up to the `.`.
    static SECOND: Cell<(u64, [u8; 20])> = const { Cell::new((u64::MAX, [0; 20])) };
}

/// Writes `line` to the log output as `Full` formats the request event,
/// colours off. Returns `false`, writing nothing, when the clock is outside
/// the years 1970 to 9999, whose timestamps only `Full` formats.
pub(super) fn write(line: &RequestLine<'_>) -> bool {
    LINE.with_borrow_mut(|text| {
        text.clear();
        let formatted = format(text, SystemTime::now(), line).is_some();
        if formatted {
            let _ = LogOutput.write_all(text);
        }
        formatted
    })
}

/// Appends `line`, logged at `time`, to `text`; `None` when `time` is
/// outside the years 1970 to 9999.
fn format(text: &mut Vec<u8>, time: SystemTime, line: &RequestLine<'_>) -> Option<()> {
    push_timestamp(text, time)?;
    text.extend_from_slice(b"  INFO ");
    text.extend_from_slice(TARGET.as_bytes());
    text.extend_from_slice(b": request completed request_id=\"");
    // Hex digits, which `Debug` prints as they are.
    text.extend_from_slice(line.request_id.as_bytes());
    text.push(b'"');
    text.extend_from_slice(b" method=");
    text.extend_from_slice(line.method.as_bytes());
    text.extend_from_slice(b" route=");
    push_quoted(text, line.route);
    text.extend_from_slice(b" status=");
    push_decimal(text, u64::from(line.status), 1);
    text.extend_from_slice(b" latency_ms=");
    push_milliseconds(text, line.latency);
    if let Some(names) = line.rpc_methods {
        text.extend_from_slice(b" rpc_methods=");
        push_quoted_list(text, names);
    }
    text.push(b'\n');
    Some(())
}

/// Appends `time` as `Full` does, in RFC 3339 UTC with microseconds, such
/// as `2026-12-04T18:34:50.787498Z`. The date and time of day are formatted
/// once per second. Returns `None`, appending nothing, outside the years
/// 1970 to 9999.
fn push_timestamp(text: &mut Vec<u8>, time: SystemTime) -> Option<()> {
    let since_epoch = time.duration_since(UNIX_EPOCH).ok()?;
    let seconds = since_epoch.as_secs();
    let (cached, mut prefix) = SECOND.get();
    if cached != seconds {
        prefix = second_prefix(seconds)?;
        SECOND.set((seconds, prefix));
    }
    text.extend_from_slice(&prefix);
    push_decimal(text, u64::from(since_epoch.subsec_micros()), 6);
    text.push(b'Z');
    Some(())
}

/// Returns `YYYY-MM-DDTHH:MM:SS.` of the Unix time `seconds`, or `None`
/// outside the years 1970 to 9999.
fn second_prefix(seconds: u64) -> Option<[u8; 20]> {
    let (year, month, day) = crate::clock::civil_from_days(i128::from(seconds / 86_400));
    let year = u64::try_from(year).ok().filter(|year| *year <= 9999)?;
    let second_of_day = seconds % 86_400;
    let parts = [
        (year, 4, b'-'),
        (month as u64, 2, b'-'),
        (day as u64, 2, b'T'),
        (second_of_day / 3600, 2, b':'),
        (second_of_day / 60 % 60, 2, b':'),
        (second_of_day % 60, 2, b'.'),
    ];
    let mut text = Vec::with_capacity(20);
    for (value, width, separator) in parts {
        push_decimal(&mut text, value, width);
        text.push(separator);
    }
    text.try_into().ok()
}

/// Appends the decimal digits of `value`, zero-padded to at least `width`.
fn push_decimal(text: &mut Vec<u8>, value: u64, width: usize) {
    let mut digits = [b'0'; 20];
    let mut rest = value;
    let mut start = digits.len();
    // Two digits a division, from a table of the pairs 00 to 99. The last
    // pair is at least 10, so it has no leading zero.
    while rest >= 10 {
        let pair = usize::try_from(rest % 100).expect("below 100") * 2;
        rest /= 100;
        start -= 2;
        digits[start..start + 2].copy_from_slice(&DIGIT_PAIRS[pair..pair + 2]);
    }
    if rest > 0 {
        start -= 1;
        digits[start] = b'0' + rest as u8;
    }
    let start = start.min(digits.len() - width.clamp(1, digits.len()));
    text.extend_from_slice(&digits[start..]);
}

/// The decimal digits of 00 to 99, two bytes each.
const DIGIT_PAIRS: [u8; 200] = {
    let mut pairs = [0; 200];
    let mut value = 0;
    while value < 100 {
        pairs[value * 2] = b'0' + (value / 10) as u8;
        pairs[value * 2 + 1] = b'0' + (value % 10) as u8;
        value += 1;
    }
    pairs
};

/// Appends `latency` in milliseconds as `Debug` prints the `f64` of its
/// whole microseconds divided by 1000, such as `12.0`, `1.5` or `0.025`.
/// That is the shortest decimal that reads back as the number, which is the
/// exact quotient while it has at most 15 significant digits.
fn push_milliseconds(text: &mut Vec<u8>, latency: Duration) {
    let micros = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
    if micros >= 1_000_000_000_000_000 {
        let _ = write!(text, "{:?}", micros as f64 / 1000.0);
        return;
    }
    push_decimal(text, micros / 1000, 1);
    text.push(b'.');
    let mut fraction = micros % 1000;
    if fraction == 0 {
        return text.push(b'0');
    }
    let mut width = 3;
    while fraction % 10 == 0 {
        fraction /= 10;
        width -= 1;
    }
    push_decimal(text, fraction, width);
}

/// Whether `Debug` prints each byte of a string as it is, which is true for
/// printable ASCII except the quote and the backslash. It is a table
/// because the route and id are checked byte by byte on every request.
const PLAIN: [bool; 256] = {
    let mut plain = [false; 256];
    let mut byte = b' ';
    while byte <= b'~' {
        plain[byte as usize] = byte != b'"' && byte != b'\\';
        byte += 1;
    }
    plain
};

fn is_plain(value: &str) -> bool {
    value.bytes().all(|byte| PLAIN[usize::from(byte)])
}

/// Appends `names` joined with commas as [`push_quoted`] appends the
/// joined string, without joining them into a new string first.
fn push_quoted_list(text: &mut Vec<u8>, names: &[String]) {
    if !names.iter().all(|name| is_plain(name)) {
        return push_quoted(text, &names.join(","));
    }
    text.push(b'"');
    for (index, name) in names.iter().enumerate() {
        if index > 0 {
            text.push(b',');
        }
        text.extend_from_slice(name.as_bytes());
    }
    text.push(b'"');
}

/// Appends `value` as `Debug` prints a string: quoted, with quotes,
/// backslashes and characters other than printable ASCII escaped.
fn push_quoted(text: &mut Vec<u8>, value: &str) {
    if is_plain(value) {
        text.push(b'"');
        text.extend_from_slice(value.as_bytes());
        text.push(b'"');
    } else {
        let _ = write!(text, "{value:?}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::telemetry::tests::Capture;

    fn timestamp(time: SystemTime) -> String {
        let mut text = Vec::new();
        push_timestamp(&mut text, time).expect("a year from 1970 to 9999");
        String::from_utf8(text).unwrap()
    }

    #[test]
    fn timestamp_matches_rfc3339_micros() {
        let time = UNIX_EPOCH + Duration::new(1_796_409_290, 787_498_123);
        assert_eq!(timestamp(time), "2026-12-04T18:34:50.787498Z");
        // The same second again, from the cached prefix.
        let later = UNIX_EPOCH + Duration::new(1_796_409_290, 900_000_000);
        assert_eq!(timestamp(later), "2026-12-04T18:34:50.900000Z");
        let leap_day = UNIX_EPOCH + Duration::from_secs(951_782_400);
        assert_eq!(timestamp(leap_day), "2000-02-29T00:00:00.000000Z");
        assert_eq!(timestamp(UNIX_EPOCH), "1970-01-01T00:00:00.000000Z");
    }

    #[test]
    fn milliseconds_match_f64_debug() {
        let micros = [
            0,
            1,
            10,
            25,
            250,
            999,
            1000,
            1500,
            12_000,
            123_456,
            987_654_321_012,
        ];
        for micros in micros {
            let mut text = Vec::new();
            push_milliseconds(&mut text, Duration::from_micros(micros));
            let expected = format!("{:?}", micros as f64 / 1000.0);
            assert_eq!(String::from_utf8(text).unwrap(), expected, "{micros} µs");
        }
    }

    /// Logs a request line with `route` and `rpc_methods` through `Full`
    /// and through [`format`], and returns both lines without their
    /// timestamps.
    fn both_formats(route: &str, rpc_methods: Option<&[String]>) -> (String, String) {
        let latency = Duration::from_micros(250);
        let joined = rpc_methods.map(|names| names.join(","));
        let full = Capture::default();
        tracing::subscriber::with_default(full.subscriber(), || {
            tracing::info!(
                target: TARGET,
                request_id = "0123456789abcdef",
                method = %axum::http::Method::POST,
                route,
                status = 200_u16,
                latency_ms = latency.as_micros() as f64 / 1000.0,
                rpc_methods = joined.as_deref(),
                "request completed"
            );
        });
        let line = RequestLine {
            request_id: "0123456789abcdef",
            method: "POST",
            route,
            status: 200,
            latency,
            rpc_methods,
        };
        let mut direct = Vec::new();
        format(&mut direct, SystemTime::now(), &line).expect("a year from 1970 to 9999");

        let without_time = |text: String| {
            let (_, rest) = text.split_once(' ').expect("a timestamp before a space");
            rest.to_string()
        };
        (
            without_time(full.output()),
            without_time(String::from_utf8(direct).unwrap()),
        )
    }

    #[test]
    fn request_line_matches_full_format() {
        let (full, direct) = both_formats(
            "/system/services/active/{system_services_id}/terminate",
            None,
        );
        assert!(direct.contains("status=200 latency_ms=0.25"), "{direct}");
        assert_eq!(direct, full);
    }

    #[test]
    fn escaped_values_match_full_format() {
        let names = ["x.y".to_string(), "z".to_string()];
        let (full, direct) = both_formats("/a \"b\"\\c\u{e9}\n", Some(&names));
        assert!(direct.contains(r#"\"b\""#), "{direct}");
        assert!(direct.contains(r#"rpc_methods="x.y,z""#), "{direct}");
        assert_eq!(direct, full);
    }

    #[test]
    fn escaped_rpc_methods_match_full_format() {
        let names = ["x.y".to_string(), "a\"b\u{e9}".to_string()];
        let (full, direct) = both_formats("/jsonrpc", Some(&names));
        assert!(direct.contains(r#"rpc_methods="x.y,a\"b"#), "{direct}");
        assert_eq!(direct, full);
    }
}
