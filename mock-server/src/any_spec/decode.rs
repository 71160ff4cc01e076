//! Strict decoding of request bodies: JSON without repeated object keys,
//! and form bodies whose names and values are UTF-8.

use std::collections::HashSet;
use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::Value;

/// Parses JSON text, rejecting an object with a repeated key at any depth,
/// as the mock's own operations do. Returns the parser's message on
/// failure.
pub(super) fn parse_json(body: &[u8]) -> Result<Value, String> {
    let mut deserializer = serde_json::Deserializer::from_slice(body);
    UniqueKeys::deserialize(&mut deserializer).map_err(|error| error.to_string())?;
    serde_json::from_slice(body).map_err(|error| error.to_string())
}

/// A JSON value that was read only to check that no object repeats a key.
struct UniqueKeys;

impl<'de> Deserialize<'de> for UniqueKeys {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(UniqueKeys)
    }
}

impl<'de> Visitor<'de> for UniqueKeys {
    type Value = UniqueKeys;

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("a JSON value")
    }

    fn visit_bool<E>(self, _: bool) -> Result<Self, E> {
        Ok(UniqueKeys)
    }

    fn visit_i64<E>(self, _: i64) -> Result<Self, E> {
        Ok(UniqueKeys)
    }

    fn visit_u64<E>(self, _: u64) -> Result<Self, E> {
        Ok(UniqueKeys)
    }

    fn visit_f64<E>(self, _: f64) -> Result<Self, E> {
        Ok(UniqueKeys)
    }

    fn visit_str<E>(self, _: &str) -> Result<Self, E> {
        Ok(UniqueKeys)
    }

    fn visit_unit<E>(self) -> Result<Self, E> {
        Ok(UniqueKeys)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut items: A) -> Result<Self, A::Error> {
        while items.next_element::<UniqueKeys>()?.is_some() {}
        Ok(UniqueKeys)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self, A::Error> {
        let mut keys = HashSet::new();
        while let Some(key) = map.next_key::<String>()? {
            if keys.contains(&key) {
                return Err(de::Error::custom(format_args!("duplicate key `{key}`")));
            }
            map.next_value::<UniqueKeys>()?;
            keys.insert(key);
        }
        Ok(UniqueKeys)
    }
}

/// Decodes the `name=value` pairs of an `application/x-www-form-urlencoded`
/// body. Returns the name, decoded lossily, of the first pair whose name or
/// value is not UTF-8 once percent-decoded.
pub(super) fn form_pairs(body: &[u8]) -> Result<Vec<(String, String)>, String> {
    let mut pairs = Vec::new();
    for pair in body.split(|&byte| byte == b'&') {
        if pair.is_empty() {
            continue;
        }
        let (name, value) = match pair.iter().position(|&byte| byte == b'=') {
            Some(index) => (&pair[..index], &pair[index + 1..]),
            None => (pair, &b""[..]),
        };
        let name = String::from_utf8(form_decode(name))
            .map_err(|error| String::from_utf8_lossy(error.as_bytes()).into_owned())?;
        let value = String::from_utf8(form_decode(value)).map_err(|_| name.clone())?;
        pairs.push((name, value));
    }
    Ok(pairs)
}

/// Percent-decodes a form name or value, reading `+` as a space.
fn form_decode(text: &[u8]) -> Vec<u8> {
    let spaced: Vec<u8> = text
        .iter()
        .map(|&byte| if byte == b'+' { b' ' } else { byte })
        .collect();
    percent_encoding::percent_decode(&spaced).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_key_rejected_at_depth() {
        let error = parse_json(br#"{"a": [{"b": 1, "b": 2}]}"#).unwrap_err();
        assert!(error.starts_with("duplicate key `b`"), "{error}");
        assert!(parse_json(br#"{"a": {"b": 1}, "b": {"a": 1}}"#).is_ok());
    }

    #[test]
    fn form_value_must_be_utf8() {
        let pairs = form_pairs(b"a=x+y&b=%C3%BC&&c").unwrap();
        let expected = [("a", "x y"), ("b", "ü"), ("c", "")];
        let expected: Vec<(String, String)> = expected
            .iter()
            .map(|(name, value)| (name.to_string(), value.to_string()))
            .collect();
        assert_eq!(pairs, expected);
        assert_eq!(form_pairs(b"ok=1&email=%FF").unwrap_err(), "email");
    }
}
