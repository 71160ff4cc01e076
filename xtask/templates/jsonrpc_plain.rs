//! A reader for the payload that nearly every client sends. That payload
//! is one request object without escapes in its keys and strings. Its
//! params are by name, with strings, integers, booleans or nulls as values,
//! and its id is a string, an integer or null. The reader scans such a
//! payload once, without serde, and returns `None` for any other payload,
//! which the full parse then reads. For a payload it accepts, the full
//! parse gives the same request.

use std::borrow::Cow;

use serde_json::value::RawValue;

use super::{RawParams, ReplyId, Request};

/// Maximum number of digits of an integer this reader accepts. Longer
/// integers go to the full parse, which checks their range.
const MAX_DIGITS: usize = 18;

/// Reads `bytes` as one plain request object, or returns `None`.
pub(super) fn parse(bytes: &[u8]) -> Option<Request<'_>> {
    let text = std::str::from_utf8(bytes).ok()?;
    let mut scan = Scan { text, at: 0 };
    scan.expect(b'{')?;
    let mut jsonrpc = false;
    let mut method = None;
    let mut params = None;
    let mut id = None;
    loop {
        let key = scan.string()?;
        scan.expect(b':')?;
        let first = match key {
            "jsonrpc" => scan.string()? == "2.0" && !std::mem::replace(&mut jsonrpc, true),
            "method" => method.replace(scan.string()?).is_none(),
            "params" => params.replace(scan.params()?).is_none(),
            "id" => id.replace(scan.id()?).is_none(),
            _ => return None,
        };
        if !first {
            return None;
        }
        match scan.next_byte()? {
            b',' => {}
            b'}' => break,
            _ => return None,
        }
    }
    if !scan.at_end() || !jsonrpc {
        return None;
    }
    Some(Request {
        method: Cow::Borrowed(method?),
        params,
        id,
    })
}

/// A position in the payload's text.
struct Scan<'a> {
    text: &'a str,
    at: usize,
}

impl<'a> Scan<'a> {
    /// Skips whitespace and returns the next byte, consuming it.
    fn next_byte(&mut self) -> Option<u8> {
        let bytes = self.text.as_bytes();
        while let Some(&byte) = bytes.get(self.at) {
            self.at += 1;
            if !matches!(byte, b' ' | b'\t' | b'\n' | b'\r') {
                return Some(byte);
            }
        }
        None
    }

    /// Skips whitespace and consumes `byte`.
    fn expect(&mut self, byte: u8) -> Option<()> {
        (self.next_byte()? == byte).then_some(())
    }

    /// Returns whether only whitespace is left.
    fn at_end(&mut self) -> bool {
        self.next_byte().is_none()
    }

    /// Reads a string without escapes and returns its contents.
    fn string(&mut self) -> Option<&'a str> {
        self.expect(b'"')?;
        self.string_rest()
    }

    /// Reads the rest of a string whose opening quote is consumed.
    fn string_rest(&mut self) -> Option<&'a str> {
        let start = self.at;
        let rest = &self.text.as_bytes()[start..];
        let length = string_end(rest)?;
        if rest[length] != b'"' {
            return None;
        }
        self.at = start + length + 1;
        // Both ends are at ASCII bytes, so they are character boundaries.
        self.text.get(start..start + length)
    }

    /// Reads a string, an integer, a boolean or null, and returns its
    /// JSON text.
    fn scalar(&mut self) -> Option<&'a str> {
        let first = self.next_byte()?;
        let start = self.at - 1;
        match first {
            b'"' => {
                self.string_rest()?;
            }
            b'n' => self.literal("ull")?,
            b't' => self.literal("rue")?,
            b'f' => self.literal("alse")?,
            b'-' | b'0'..=b'9' => self.integer(first)?,
            _ => return None,
        }
        self.text.get(start..self.at)
    }

    /// Consumes `rest`, the remainder of a literal.
    fn literal(&mut self, rest: &str) -> Option<()> {
        let end = self.at + rest.len();
        (self.text.get(self.at..end)? == rest).then(|| self.at = end)
    }

    /// Reads the rest of an integer whose first byte, `first`, is
    /// consumed: an optional minus, then `0` or a digit other than `0`
    /// followed by digits. A fraction or an exponent is left unread, so
    /// the byte after the integer fails the caller's check.
    fn integer(&mut self, first: u8) -> Option<()> {
        let bytes = self.text.as_bytes();
        let lead = if first == b'-' {
            let digit = *bytes.get(self.at)?;
            self.at += 1;
            digit
        } else {
            first
        };
        if !lead.is_ascii_digit() {
            return None;
        }
        let digits_start = self.at - 1;
        if lead != b'0' {
            while bytes.get(self.at).is_some_and(u8::is_ascii_digit) {
                self.at += 1;
            }
        }
        (self.at - digits_start <= MAX_DIGITS).then_some(())
    }

    /// Reads params by name: an object of scalars with no repeated name.
    fn params(&mut self) -> Option<RawParams<'a>> {
        self.expect(b'{')?;
        let mut members: Vec<(Cow<'a, str>, &'a RawValue)> = Vec::new();
        let after_open = self.at;
        if self.next_byte()? == b'}' {
            return Some(RawParams::ByName(members));
        }
        self.at = after_open;
        loop {
            let name = self.string()?;
            self.expect(b':')?;
            let value = raw_value(self.scalar()?)?;
            if members.iter().any(|(seen, _)| *seen == name) {
                return None;
            }
            members.push((Cow::Borrowed(name), value));
            match self.next_byte()? {
                b',' => {}
                b'}' => return Some(RawParams::ByName(members)),
                _ => return None,
            }
        }
    }

    /// Reads an id: a string, an integer or null.
    fn id(&mut self) -> Option<ReplyId<'a>> {
        let text = self.scalar()?;
        if matches!(text.as_bytes()[0], b't' | b'f') {
            return None;
        }
        raw_value(text).map(Cow::Borrowed)
    }
}

/// Returns the index of the first quote, backslash or control character
/// in `bytes`. Reads eight bytes at a time: in each word, a byte that is
/// zero after an XOR with the quote (or the backslash), or that is below
/// 0x20, sets the high bit of its lane in `found`. A lane above a hit may
/// be set falsely by the borrow, so only the lowest set lane counts.
fn string_end(bytes: &[u8]) -> Option<usize> {
    const LANES: u64 = u64::from_le_bytes([1; 8]);
    const HIGH_BITS: u64 = LANES << 7;
    let mut chunks = bytes.chunks_exact(8);
    for (index, chunk) in chunks.by_ref().enumerate() {
        let word = u64::from_le_bytes(chunk.try_into().ok()?);
        let quote = word ^ (LANES * u64::from(b'"'));
        let backslash = word ^ (LANES * u64::from(b'\\'));
        let found = (quote.wrapping_sub(LANES) & !quote)
            | (backslash.wrapping_sub(LANES) & !backslash)
            | (word.wrapping_sub(LANES * 0x20) & !word);
        let found = found & HIGH_BITS;
        if found != 0 {
            return Some(index * 8 + found.trailing_zeros() as usize / 8);
        }
    }
    let tail = chunks.remainder();
    let offset = bytes.len() - tail.len();
    tail.iter()
        .position(|&byte| byte == b'"' || byte == b'\\' || byte < 0x20)
        .map(|at| offset + at)
}

/// Returns `text`, the JSON text of a scalar that [`Scan::scalar`] read,
/// as a raw value.
fn raw_value(text: &str) -> Option<&RawValue> {
    match text {
        "null" => Some(RawValue::NULL),
        "true" => Some(RawValue::TRUE),
        "false" => Some(RawValue::FALSE),
        _ => serde_json::from_str(text).ok(),
    }
}

#[cfg(test)]
mod tests {
    use super::super::{Payload, parse_full};
    use super::*;

    /// Payloads this reader accepts.
    const PLAIN: &[&str] = &[
        r#"{"jsonrpc": "2.0", "method": "system.services.active.mark_terminate", "params": {"system_services_id": "cron", "nodes_id": null}, "id": 1}"#,
        r#"{"jsonrpc":"2.0","method":"m","id":"a b"}"#,
        r#"{"id":-0,"params":{},"method":"","jsonrpc":"2.0"}"#,
        "\t{ \"method\" : \"m\" ,\r\n\"jsonrpc\":\"2.0\" , \"params\" : { } } \n",
        r#"{"jsonrpc":"2.0","method":"m","params":{"a":true,"b":false,"c":-12,"d":"é"},"id":null}"#,
        r#"{"jsonrpc":"2.0","method":"m","id":123456789012345678}"#,
        r#"{"jsonrpc":"2.0","method":"m","params":{"a":0}}"#,
    ];

    /// Payloads that the full parse reads, each for a reason this reader
    /// gives up on.
    const NOT_PLAIN: &[&str] = &[
        r#"{"jsonrpc":"2.0","method":"m","method":"n"}"#,
        r#"{"jsonrpc":"2.0","method":"m","params":{"a":1,"a":2}}"#,
        r#"{"jsonrpc":"2.0","method":"m","id":01}"#,
        r#"{"jsonrpc":"2.0","method":"m","id":1.5}"#,
        r#"{"jsonrpc":"2.0","method":"m","id":1e3}"#,
        r#"{"jsonrpc":"2.0","method":"m","id":1234567890123456789}"#,
        r#"{"jsonrpc":"2.0","method":"m","id":true}"#,
        r#"{"jsonrpc":"2.0","method":"m\u0041"}"#,
        r#"{"jsonrpc":"2.0","method":"m","params":[1]}"#,
        r#"{"jsonrpc":"2.0","method":"m","params":{"a":[1]}}"#,
        r#"{"jsonrpc":"2.0","method":"m","extra":1}"#,
        r#"{"jsonrpc":"1.0","method":"m"}"#,
        r#"{"jsonrpc":"2.0"}"#,
        r#"{"method":"m"}"#,
        r#"{"jsonrpc":"2.0","method":"m"} x"#,
        r#"[{"jsonrpc":"2.0","method":"m"}]"#,
        "{\"jsonrpc\":\"2.0\",\"method\":\"m\u{1}\"}",
        "{}",
        "",
    ];

    /// Renders a request for comparison.
    fn describe(request: &Request<'_>) -> String {
        let params = match &request.params {
            None => "none".to_string(),
            Some(RawParams::ByName(members)) => members
                .iter()
                .map(|(name, value)| format!("{name}={};", value.get()))
                .collect(),
            Some(RawParams::ByPosition(items)) => format!("{} by position", items.len()),
        };
        let id = request.id.as_ref().map(|id| id.get().to_string());
        format!("{} | {params} | {id:?}", request.method)
    }

    /// Checks that the full parse of `text` gives the request this reader
    /// gave, when it gave one, and returns whether it did.
    fn agrees(text: &[u8]) -> bool {
        let Some(plain) = parse(text) else {
            return false;
        };
        let full = match parse_full(text) {
            Ok(Payload::Single(Ok(request))) => describe(&request),
            Ok(_) => panic!("{}: not a single valid request", String::from_utf8_lossy(text)),
            Err(rejection) => panic!("{}: {rejection:?}", String::from_utf8_lossy(text)),
        };
        assert_eq!(describe(&plain), full, "{}", String::from_utf8_lossy(text));
        true
    }

    #[test]
    fn string_end_finds_first_stop() {
        for length in 0..20 {
            for at in 0..=length {
                for stop in [b'"', b'\\', 0x00, 0x1f] {
                    for fill in [b'a', b' ', 0x7f, 0x80, 0xff, b'!', b'#', b'[', b']'] {
                        let mut bytes = vec![fill; length];
                        let expected = (at < length).then(|| {
                            bytes[at] = stop;
                            at
                        });
                        assert_eq!(string_end(&bytes), expected, "{bytes:?}");
                    }
                }
            }
        }
    }

    #[test]
    fn plain_payloads_match_full_parse() {
        for text in PLAIN {
            assert!(agrees(text.as_bytes()), "not read: {text}");
        }
    }

    #[test]
    fn other_payloads_fall_back() {
        for text in NOT_PLAIN {
            assert!(parse(text.as_bytes()).is_none(), "read: {text}");
        }
    }

    /// Every payload one byte away from a plain one, by deletion, insertion
    /// or replacement, is either left to the full parse or read as it reads
    /// it.
    #[test]
    fn near_plain_payloads_match_full_parse() {
        const BYTES: &[u8] = b"\"\\,:{}[]0-.e1 \tnx\x01\xc3";
        let mut read = 0;
        let mut tried = 0;
        for text in PLAIN {
            let text = text.as_bytes();
            for at in 0..=text.len() {
                let mut variants = Vec::new();
                if at < text.len() {
                    variants.push([&text[..at], &text[at + 1..]].concat());
                }
                for &byte in BYTES {
                    variants.push([&text[..at], &[byte], &text[at..]].concat());
                    if at < text.len() {
                        variants.push([&text[..at], &[byte], &text[at + 1..]].concat());
                    }
                }
                for variant in variants {
                    tried += 1;
                    read += usize::from(agrees(&variant));
                }
            }
        }
        assert!(read > 0, "none of {tried} read");
        assert!(read < tried, "all of {tried} read");
    }
}
