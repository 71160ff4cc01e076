//! Finds where a value sits in YAML text, given its path such as
//! `processes[2].node`, so that a fixture error can name the line.

use std::fmt;

use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};

/// One step of a path: a mapping key or a sequence index.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Key(String),
    Index(usize),
}

/// Returns the 1-based line and column of the value at `path` in `text`, or
/// `None` when the text does not parse or has no such value.
///
/// NOTE: serde_yaml reports the start of the mapping that contains the
/// value, so `processes[1].node` points at the line where the second
/// process entry starts.
pub fn locate(text: &str, path: &str) -> Option<(usize, usize)> {
    let segments = parse_path(path)?;
    let deserializer = serde_yaml::Deserializer::from_str(text);
    // The probe walks to the value and fails there on purpose: the parser's
    // error then carries the value's position.
    let error = Probe(&segments).deserialize(deserializer).err()?;
    if error.to_string().contains(PROBE_MESSAGE) {
        let location = error.location()?;
        Some((location.line(), location.column()))
    } else {
        None
    }
}

const PROBE_MESSAGE: &str = "probe reached the value";

/// Splits `a.b[2].c` into `a`, `b`, `2`, `c`.
fn parse_path(path: &str) -> Option<Vec<Segment>> {
    let mut segments = Vec::new();
    for part in path.split('.') {
        let (key, indexes) = part.split_once('[').unwrap_or((part, ""));
        if !key.is_empty() {
            segments.push(Segment::Key(key.to_string()));
        }
        for index in indexes.split('[').filter(|index| !index.is_empty()) {
            let index = index.strip_suffix(']')?.parse().ok()?;
            segments.push(Segment::Index(index));
        }
    }
    Some(segments)
}

struct Probe<'a>(&'a [Segment]);

impl<'de> DeserializeSeed<'de> for Probe<'_> {
    type Value = ();

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        match self.0.first() {
            None => Err(de::Error::custom(PROBE_MESSAGE)),
            Some(Segment::Key(_)) => deserializer.deserialize_map(self),
            Some(Segment::Index(_)) => deserializer.deserialize_seq(self),
        }
    }
}

impl<'de> Visitor<'de> for Probe<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a mapping or a sequence on the path")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let Some((Segment::Key(wanted), rest)) = self.0.split_first() else {
            return Ok(());
        };
        while let Some(key) = map.next_key::<String>()? {
            if &key == wanted {
                return map.next_value_seed(Probe(rest));
            }
            map.next_value::<IgnoredAny>()?;
        }
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let Some((Segment::Index(wanted), rest)) = self.0.split_first() else {
            return Ok(());
        };
        for _ in 0..*wanted {
            if seq.next_element::<IgnoredAny>()?.is_none() {
                return Ok(());
            }
        }
        seq.next_element_seed(Probe(rest)).map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "nodes:\n  - id: a\n    name: A\nprocesses:\n  - service: s\n    node: b\n  - service: t\n    node: c\n";

    #[test]
    fn locates_nested_field() {
        assert_eq!(
            locate(TEXT, "processes[1].node").map(|(line, _)| line),
            Some(7)
        );
    }

    #[test]
    fn locates_list_item() {
        assert_eq!(locate(TEXT, "nodes[0]").map(|(line, _)| line), Some(2));
    }

    #[test]
    fn locates_in_json() {
        let json = "{\"processes\": [\n {\"node\": \"a\"},\n {\"node\": \"b\"}]}";
        assert_eq!(
            locate(json, "processes[1].node").map(|(line, _)| line),
            Some(3)
        );
    }

    #[test]
    fn missing_path_is_none() {
        assert_eq!(locate(TEXT, "processes[5].node"), None);
        assert_eq!(locate(TEXT, "services[0]"), None);
    }
}
