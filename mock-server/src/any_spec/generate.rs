//! Values generated from OpenAPI 3.0 schemas, for responses documented
//! without an example. The draws come from a seeded SplitMix64 sequence, so
//! a seed always gives the same values.

use std::ops::RangeInclusive;

use regex_syntax::hir::{Class, Hir, HirKind};
use serde_json::{Map, Value};

use super::load::resolve;
use crate::telemetry::mix;

/// Depth below which optional object properties are generated. Deeper
/// objects get their required properties only, so recursive schemas end.
const OPTIONAL_DEPTH: usize = 4;

/// Depth at which generation stops with `null`, for schemas whose required
/// properties recurse.
const MAX_DEPTH: usize = 16;

/// The max size of a generated value, counted as one for each value and
/// one for each character of a string. A schema whose `minLength` or
/// `minItems` needs more gets a smaller value, which the start-up check
/// then reports as not matching its schema, rather than holding start-up.
const MAX_GENERATED_SIZE: usize = 100_000;

/// Words that generated strings are made of.
const WORDS: [&str; 8] = [
    "alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel",
];

/// A generator of values for the schemas of one document.
pub(super) struct Generator<'a> {
    document: &'a Value,
    state: u64,
    /// Whether a schema's `example` is taken as its value.
    use_examples: bool,
    /// Which alternative of a `oneOf` or `anyOf` is generated, counted
    /// from the first and wrapping around.
    alternative: usize,
    /// The size left of [`MAX_GENERATED_SIZE`] for the value.
    budget: usize,
}

impl<'a> Generator<'a> {
    pub(super) fn new(
        document: &'a Value,
        seed: u64,
        use_examples: bool,
        alternative: usize,
    ) -> Self {
        Generator {
            document,
            state: seed,
            use_examples,
            alternative,
            budget: MAX_GENERATED_SIZE,
        }
    }

    /// Returns the next draw of the sequence.
    fn next(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        mix(self.state)
    }

    /// Returns a draw in `low..=high`.
    fn between(&mut self, low: i64, high: i64) -> i64 {
        if high <= low {
            return low;
        }
        let span = high.abs_diff(low).saturating_add(1);
        low.wrapping_add((self.next() % span) as i64)
    }

    /// Generates a value of `schema`, for a response: `writeOnly`
    /// properties are left out, required ones too, because OpenAPI 3.0
    /// requires those in requests only.
    pub(super) fn value(&mut self, schema: &Value) -> Value {
        self.generate(schema, 0)
    }

    fn generate(&mut self, schema: &Value, depth: usize) -> Value {
        let Ok(schema) = resolve(self.document, schema) else {
            return Value::Null;
        };
        if depth >= MAX_DEPTH {
            return Value::Null;
        }
        self.budget = self.budget.saturating_sub(1);
        if self.use_examples
            && let Some(example) = schema.get("example")
        {
            return example.clone();
        }
        if let Some(Value::Array(values)) = schema.get("enum") {
            let choices: Vec<&Value> = values.iter().filter(|value| !value.is_null()).collect();
            if choices.is_empty() {
                return Value::Null;
            }
            let index = self.next() as usize % choices.len();
            return choices[index].clone();
        }
        if let Some(Value::Array(parts)) = schema.get("allOf") {
            return self.all_of(schema, parts, depth);
        }
        for keyword in ["oneOf", "anyOf"] {
            if let Some(Value::Array(alternatives)) = schema.get(keyword)
                && !alternatives.is_empty()
            {
                let chosen = &alternatives[self.alternative % alternatives.len()];
                return self.generate(chosen, depth + 1);
            }
        }
        let kind = match schema.get("type").and_then(Value::as_str) {
            Some(kind) => kind,
            None if schema.get("properties").is_some() => "object",
            None if schema.get("items").is_some() => "array",
            None => "string",
        };
        match kind {
            "object" => self.object(schema, depth),
            "array" => self.array(schema, depth),
            "integer" => self.integer(schema),
            "number" => self.number(schema),
            "boolean" => Value::Bool(self.next().is_multiple_of(2)),
            _ => Value::String(self.string(schema)),
        }
    }

    /// Generates each part of an `allOf` and merges the objects, so the
    /// value has the properties of every part.
    fn all_of(&mut self, schema: &Value, parts: &[Value], depth: usize) -> Value {
        let mut merged = Map::new();
        let mut own = schema.clone();
        if let Value::Object(map) = &mut own {
            map.remove("allOf");
        }
        let own_is_empty = own.as_object().is_none_or(|map| {
            map.keys()
                .all(|key| !matches!(key.as_str(), "properties" | "type" | "items"))
        });
        let mut values: Vec<Value> = parts
            .iter()
            .map(|part| self.generate(part, depth + 1))
            .collect();
        if !own_is_empty {
            values.push(self.generate(&own, depth + 1));
        }
        for value in values {
            match value {
                Value::Object(map) => merged.extend(map),
                other if merged.is_empty() => return other,
                _ => {}
            }
        }
        Value::Object(merged)
    }

    fn object(&mut self, schema: &Value, depth: usize) -> Value {
        let required: Vec<&str> = schema
            .get("required")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        let mut object = Map::new();
        let properties = schema.get("properties").and_then(Value::as_object);
        for (name, property) in properties.into_iter().flatten() {
            let is_required = required.contains(&name.as_str());
            let write_only = resolve(self.document, property)
                .is_ok_and(|property| property.get("writeOnly") == Some(&Value::Bool(true)));
            if write_only || (!is_required && depth >= OPTIONAL_DEPTH) {
                continue;
            }
            object.insert(name.clone(), self.generate(property, depth + 1));
        }
        if object.is_empty()
            && let Some(additional) = schema.get("additionalProperties")
            && additional.is_object()
        {
            object.insert("key".to_string(), self.generate(additional, depth + 1));
        }
        Value::Object(object)
    }

    fn array(&mut self, schema: &Value, depth: usize) -> Value {
        let min = bound(schema, "minItems").unwrap_or(0.0) as i64;
        let max = bound(schema, "maxItems").map_or(i64::MAX, |max| max as i64);
        let count = self
            .between(1, 2)
            .clamp(min, max.max(min))
            .min(self.budget as i64);
        let Some(items) = schema.get("items") else {
            return Value::Array(Vec::new());
        };
        let unique = schema.get("uniqueItems") == Some(&Value::Bool(true));
        let mut values: Vec<Value> = Vec::new();
        // A unique array draws a few more times when an item repeats.
        let mut attempts = 0;
        while (values.len() as i64) < count && attempts < count * 4 && self.budget > 0 {
            attempts += 1;
            let value = self.generate(items, depth + 1);
            if unique && values.contains(&value) {
                continue;
            }
            values.push(value);
        }
        Value::Array(values)
    }

    fn integer(&mut self, schema: &Value) -> Value {
        let (low, high) = range(schema, 0.0, 100.0);
        let (low, high) = (low.ceil() as i64, high.floor() as i64);
        let multiple = bound(schema, "multipleOf").map_or(1, |step| (step as i64).max(1));
        let mut value = self.between(low, high.max(low));
        if multiple > 1 {
            value = (value.div_euclid(multiple) + 1) * multiple;
            if value > high {
                value -= multiple;
            }
        }
        Value::from(value)
    }

    fn number(&mut self, schema: &Value) -> Value {
        let (low, high) = range(schema, 0.0, 100.0);
        let fraction = (self.next() % 1000) as f64 / 1000.0;
        let mut value = low + (high - low) * fraction;
        if let Some(step) = bound(schema, "multipleOf").filter(|step| *step > 0.0) {
            value = (value / step).ceil() * step;
            if value > high {
                value -= step;
            }
        } else {
            value = (value * 100.0).round() / 100.0;
        }
        serde_json::Number::from_f64(value).map_or(Value::Null, Value::Number)
    }

    /// Generates a string of `schema` and takes its length from the
    /// budget.
    fn string(&mut self, schema: &Value) -> String {
        let text = self.string_within_budget(schema);
        self.budget = self.budget.saturating_sub(text.chars().count());
        text
    }

    /// Generates a string of `schema` of at most the budget's length.
    fn string_within_budget(&mut self, schema: &Value) -> String {
        let draw = self.next();
        let format = schema.get("format").and_then(Value::as_str);
        let text = match format {
            Some("date-time") => format!(
                "2026-{:02}-{:02}T{:02}:00:00Z",
                1 + draw % 12,
                1 + draw % 28,
                draw % 24
            ),
            Some("date") => format!("2026-{:02}-{:02}", 1 + draw % 12, 1 + draw % 28),
            Some("time") => format!("{:02}:{:02}:00", draw % 24, draw % 60),
            Some("uuid") => {
                let low = self.next();
                format!(
                    "{:08x}-{:04x}-4{:03x}-8{:03x}-{:012x}",
                    draw >> 32,
                    (draw >> 16) & 0xffff,
                    draw & 0xfff,
                    low >> 52,
                    low & 0xffff_ffff_ffff
                )
            }
            Some("email") => format!("{}@example.com", WORDS[draw as usize % WORDS.len()]),
            Some("uri" | "url" | "uri-reference") => {
                format!("https://example.com/{}", WORDS[draw as usize % WORDS.len()])
            }
            Some("hostname") => format!("{}.example.com", WORDS[draw as usize % WORDS.len()]),
            Some("ipv4") => format!("192.0.2.{}", draw % 256),
            Some("ipv6") => format!("2001:db8::{:x}", draw % 0xffff),
            Some("byte") => "bW9jaw==".to_string(),
            _ => format!("{}-{}", WORDS[draw as usize % WORDS.len()], draw % 1000),
        };
        let min = bound(schema, "minLength").unwrap_or(0.0) as usize;
        let max = bound(schema, "maxLength").map_or(usize::MAX, |max| max as usize);
        let (min, max) = (min.min(self.budget), max.min(self.budget));
        // NOTE: a pattern that regex-syntax cannot parse, or whose matches
        // this finds break the length bounds, is not followed. The
        // start-up check logs such a response.
        let pattern = schema.get("pattern").and_then(Value::as_str);
        if let Some(text) = pattern.and_then(|pattern| matching_string(pattern, min..=max)) {
            return text;
        }
        let mut text: String = text.chars().take(max.max(min)).collect();
        let length = text.chars().count();
        if length < min {
            text.extend(std::iter::repeat_n('x', min - length));
        }
        text
    }
}

/// Returns a string that `pattern` matches with a length in `lengths`,
/// built from its syntax tree. It takes the first alternative, a letter,
/// digit or the lowest character of each class, and the fewest
/// repetitions, one where zero is allowed. When that is too short, each
/// repetition runs the shortest length more times. Anchors add nothing.
/// Returns `None` when regex-syntax cannot parse the pattern or neither
/// string fits.
fn matching_string(pattern: &str, lengths: RangeInclusive<usize>) -> Option<String> {
    let hir = regex_syntax::parse(pattern).ok()?;
    let limit = (*lengths.end()).min(MAX_GENERATED_SIZE);
    [0, *lengths.start()].into_iter().find_map(|extra| {
        let mut text = String::new();
        push_match(&hir, extra, limit, &mut text)?;
        lengths.contains(&text.chars().count()).then_some(text)
    })
}

/// Appends a string that `hir` matches to `text`, with `extra` more
/// repetitions of each repetition that allows them. Returns `None` when
/// `text` grows past `limit` bytes.
fn push_match(hir: &Hir, extra: usize, limit: usize, text: &mut String) -> Option<()> {
    match hir.kind() {
        HirKind::Empty | HirKind::Look(_) => {}
        HirKind::Literal(literal) => text.push_str(std::str::from_utf8(&literal.0).ok()?),
        HirKind::Class(Class::Unicode(class)) => {
            let contains = |c: char| {
                class
                    .ranges()
                    .iter()
                    .any(|r| (r.start()..=r.end()).contains(&c))
            };
            let preferred = CLASS_CHOICES.into_iter().find(|&c| contains(c));
            text.push(preferred.or_else(|| class.ranges().first().map(|r| r.start()))?);
        }
        HirKind::Class(Class::Bytes(class)) => {
            let contains = |b: u8| {
                class
                    .ranges()
                    .iter()
                    .any(|r| (r.start()..=r.end()).contains(&b))
            };
            let preferred = CLASS_CHOICES
                .into_iter()
                .find(|&c| c.is_ascii() && contains(c as u8));
            let byte = preferred
                .map(|c| c as u8)
                .or_else(|| class.ranges().first().map(|r| r.start()))?;
            text.push(char::from(byte).is_ascii().then_some(char::from(byte))?);
        }
        HirKind::Repetition(repetition) => {
            let max = repetition.max.map_or(usize::MAX, |max| max as usize);
            let least = (repetition.min as usize).max(1).min(max);
            let count = least.saturating_add(extra).min(max);
            for _ in 0..count {
                push_match(&repetition.sub, extra, limit, text)?;
                if text.len() > limit {
                    return None;
                }
            }
        }
        HirKind::Capture(capture) => push_match(&capture.sub, extra, limit, text)?,
        HirKind::Concat(parts) => {
            for part in parts {
                push_match(part, extra, limit, text)?;
            }
        }
        HirKind::Alternation(alternatives) => {
            push_match(alternatives.first()?, extra, limit, text)?;
        }
    }
    Some(())
}

/// Characters that a generated string takes from a class, in order of
/// preference, so that generated values read as words and numbers.
const CLASS_CHOICES: [char; 8] = ['a', 'b', 'x', 'A', '0', '1', '-', '_'];

/// Returns the numeric keyword `name` of `schema`.
fn bound(schema: &Value, name: &str) -> Option<f64> {
    schema.get(name).and_then(Value::as_f64)
}

/// Returns the bounds of a number schema, with OpenAPI 3.0's boolean
/// `exclusiveMinimum` and `exclusiveMaximum` moving them inward, and the
/// defaults where a bound is missing.
fn range(schema: &Value, default_low: f64, default_high: f64) -> (f64, f64) {
    let exclusive = |name: &str| schema.get(name) == Some(&Value::Bool(true));
    let step = if schema.get("type").and_then(Value::as_str) == Some("integer") {
        1.0
    } else {
        0.01
    };
    let low = bound(schema, "minimum").map(|low| {
        if exclusive("exclusiveMinimum") {
            low + step
        } else {
            low
        }
    });
    let high = bound(schema, "maximum").map(|high| {
        if exclusive("exclusiveMaximum") {
            high - step
        } else {
            high
        }
    });
    match (low, high) {
        (Some(low), Some(high)) => (low, high),
        (Some(low), None) => (low, low + default_high),
        (None, Some(high)) => ((high - default_high).min(default_low.min(high)), high),
        (None, None) => (default_low, default_high),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn strings_match_their_pattern() {
        let patterns = [
            r"^[A-Z]{3}-\d{4}$",
            r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$",
            r"^(cron|backup)\.service$",
            r"^\+?[1-9]\d{1,14}$",
            r"[^\s]+@[^\s]+",
            r"^v\d+(\.\d+){2}(-[0-9A-Za-z.]+)?$",
        ];
        for pattern in patterns {
            let schema = json!({"type": "string", "pattern": pattern});
            let document = json!({});
            let value = Generator::new(&document, 7, false, 0).value(&schema);
            let validator = jsonschema::validator_for(&schema).expect("a valid schema");
            assert!(validator.is_valid(&value), "{pattern}: {value}");
        }
    }

    #[test]
    fn long_string_fits_budget() {
        let document = json!({});
        for pattern in [None, Some("^(a+)+$")] {
            let mut schema = json!({"type": "string", "minLength": 10 * MAX_GENERATED_SIZE});
            if let Some(pattern) = pattern {
                schema["pattern"] = json!(pattern);
            }
            let value = Generator::new(&document, 7, false, 0).value(&schema);
            let length = value.as_str().map_or(0, |text| text.chars().count());
            assert!(length <= MAX_GENERATED_SIZE, "{pattern:?}: {length}");
            assert!(length > 0, "{pattern:?}");
        }
    }

    #[test]
    fn nested_arrays_fit_budget() {
        let document = json!({});
        let schema = json!({
            "type": "array",
            "minItems": 1000,
            "items": {"type": "array", "minItems": 1000, "items": {"type": "integer"}},
        });
        let value = Generator::new(&document, 7, false, 0).value(&schema);
        let rows = value.as_array().expect("an array");
        let count: usize = rows
            .iter()
            .map(|row| row.as_array().map_or(0, Vec::len))
            .sum();
        assert!(count <= MAX_GENERATED_SIZE, "{count}");
        assert!(count > 0);
    }

    #[test]
    fn pattern_keeps_length_bounds() {
        let document = json!({});
        let within = json!({"type": "string", "pattern": "^[a-z]+$", "minLength": 1});
        let value = Generator::new(&document, 7, false, 0).value(&within);
        assert_eq!(value, json!("a"));
        // One letter is too short, so the repetition runs longer.
        let long = json!({"type": "string", "pattern": "^[a-z]+$", "minLength": 20});
        let value = Generator::new(&document, 7, false, 0).value(&long);
        assert_eq!(value, json!("a".repeat(21)));
    }
}
