//! The plain-text log format, with a fast path for the request log line.
//!
//! tracing-subscriber's `Full` format writes each part of a line through
//! `core::fmt`, with ANSI styles even when colours are off. For the line
//! that every request logs this cost about 12,000 instructions. The fast
//! path writes the same text directly, and every other event, or the
//! request line with colours on or inside a span, goes to the `Full`
//! format.

use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

use tracing::field::{Field, Visit};
use tracing::{Event, Level, Metadata, Subscriber};
use tracing_subscriber::fmt::format::{Format, Full, Writer};
use tracing_subscriber::fmt::time::SystemTime as SystemTimer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

/// The `Full` text format, writing the request log line directly.
#[derive(Default)]
pub(crate) struct TextFormat {
    full: Format<Full, SystemTimer>,
}

impl<S, N> FormatEvent<S, N> for TextFormat
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let metadata = event.metadata();
        let fast =
            !writer.has_ansi_escapes() && is_request_line(metadata) && ctx.event_scope().is_none();
        let timestamp = fast.then(|| format_timestamp(SystemTime::now())).flatten();
        let Some(timestamp) = timestamp else {
            return self.full.format_event(ctx, writer, event);
        };

        // The same parts as `Full`: time, level, target, then the fields.
        writer.write_str(&timestamp)?;
        writer.write_str("  INFO ")?;
        writer.write_str(metadata.target())?;
        writer.write_str(": ")?;
        let mut visitor = LineVisitor {
            writer: &mut writer,
            first: true,
            result: Ok(()),
        };
        event.record(&mut visitor);
        visitor.result?;
        writer.write_char('\n')
    }
}

/// Returns whether `metadata` is that of the request log line.
fn is_request_line(metadata: &Metadata<'_>) -> bool {
    *metadata.level() == Level::INFO
        && metadata.target() == super::TARGET
        && metadata.fields().field(super::LATENCY_FIELD).is_some()
}

/// Formats `time` as `Full` does, in RFC 3339 UTC with microseconds, such
/// as `2026-12-04T18:34:50.787498Z`. Returns `None` outside the years 1970
/// to 9999.
fn format_timestamp(time: SystemTime) -> Option<String> {
    let since_epoch = time.duration_since(UNIX_EPOCH).ok()?;
    let seconds = since_epoch.as_secs();
    let (year, month, day) = crate::clock::civil_from_days(i128::from(seconds / 86_400));
    let year = u64::try_from(year).ok().filter(|year| *year <= 9999)?;
    let (month, day) = (month as u64, day as u64);
    let second_of_day = seconds % 86_400;
    let mut text = String::with_capacity(27);
    let parts = [
        (year, 4, '-'),
        (month, 2, '-'),
        (day, 2, 'T'),
        (second_of_day / 3600, 2, ':'),
        (second_of_day / 60 % 60, 2, ':'),
        (second_of_day % 60, 2, '.'),
        (u64::from(since_epoch.subsec_micros()), 6, 'Z'),
    ];
    for (value, width, separator) in parts {
        push_padded(&mut text, value, width);
        text.push(separator);
    }
    Some(text)
}

/// Appends the last `width` decimal digits of `value`, zero-padded.
fn push_padded(text: &mut String, value: u64, width: u32) {
    for position in (0..width).rev() {
        let digit = value / 10_u64.pow(position) % 10;
        text.push(char::from(b'0' + digit as u8));
    }
}

/// Writes fields as `Full`'s default visitor does: the message first as
/// it is, then `name=value` with each value's `Debug` form, separated by
/// spaces.
struct LineVisitor<'a, 'writer> {
    writer: &'a mut Writer<'writer>,
    first: bool,
    result: fmt::Result,
}

impl LineVisitor<'_, '_> {
    /// Writes the space before every field but the first.
    fn separate(&mut self) {
        if self.first {
            self.first = false;
        } else if self.result.is_ok() {
            self.result = self.writer.write_char(' ');
        }
    }

    fn write_name(&mut self, field: &Field) {
        if self.result.is_ok() {
            self.result = self
                .writer
                .write_str(field.name())
                .and_then(|()| self.writer.write_char('='));
        }
    }
}

impl Visit for LineVisitor<'_, '_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            return self.record_debug(field, &format_args!("{value}"));
        }
        self.separate();
        self.write_name(field);
        if self.result.is_err() {
            return;
        }
        // `Debug` of a string quotes it and escapes only quotes,
        // backslashes and characters other than printable ASCII.
        let plain = value
            .bytes()
            .all(|byte| (byte.is_ascii_graphic() || byte == b' ') && !matches!(byte, b'"' | b'\\'));
        self.result = if plain {
            self.writer.write_char('"').and_then(|()| {
                self.writer.write_str(value)?;
                self.writer.write_char('"')
            })
        } else {
            write!(self.writer, "{value:?}")
        };
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.separate();
        self.write_name(field);
        if self.result.is_ok() {
            let mut digits = String::with_capacity(20);
            let width = value.checked_ilog10().unwrap_or(0) + 1;
            push_padded(&mut digits, value, width);
            self.result = self.writer.write_str(&digits);
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.separate();
        if field.name() != "message" {
            self.write_name(field);
        }
        if self.result.is_ok() {
            self.result = write!(self.writer, "{value:?}");
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::telemetry::tests::Capture;

    #[test]
    fn timestamp_matches_rfc3339_micros() {
        let time = UNIX_EPOCH + Duration::new(1_796_409_290, 787_498_123);
        let text = format_timestamp(time).expect("a year before 10000");
        assert_eq!(text, "2026-12-04T18:34:50.787498Z");
        let leap_day = UNIX_EPOCH + Duration::from_secs(951_782_400);
        assert_eq!(
            format_timestamp(leap_day).unwrap(),
            "2000-02-29T00:00:00.000000Z"
        );
        assert_eq!(
            format_timestamp(UNIX_EPOCH).unwrap(),
            "1970-01-01T00:00:00.000000Z"
        );
    }

    /// Logs a request line with `route` and `rpc_methods` through `Full`
    /// and through [`TextFormat`], and returns both lines without their
    /// timestamps.
    fn both_formats(route: &str, rpc_methods: Option<&str>) -> (String, String) {
        let log = || {
            tracing::info!(
                target: super::super::TARGET,
                request_id = "0123456789abcdef",
                method = %axum::http::Method::POST,
                route,
                status = 200_u16,
                latency_ms = 0.25,
                rpc_methods,
                "request completed"
            );
        };
        let full = Capture::default();
        tracing::subscriber::with_default(full.subscriber(), log);
        let fast = Capture::default();
        let writer = fast.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .event_format(TextFormat::default())
            .finish();
        tracing::subscriber::with_default(subscriber, log);

        let without_time = |capture: Capture| {
            let text = capture.output();
            let (_, rest) = text.split_once(' ').expect("a timestamp before a space");
            rest.to_string()
        };
        (without_time(full), without_time(fast))
    }

    #[test]
    fn request_line_matches_full_format() {
        let (full, fast) = both_formats(
            "/system/services/active/{system_services_id}/terminate",
            None,
        );
        assert!(fast.contains("status=200 latency_ms=0.25"), "{fast}");
        assert_eq!(fast, full);
    }

    #[test]
    fn escaped_values_match_full_format() {
        let (full, fast) = both_formats("/a \"b\"\\c\u{e9}\n", Some("x.y,z"));
        assert!(fast.contains(r#"\"b\""#), "{fast}");
        assert_eq!(fast, full);
    }
}
