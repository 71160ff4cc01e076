//! Values generated from OpenAPI 3.0 schemas, for responses documented
//! without an example. The draws come from a seeded SplitMix64 sequence, so
//! a seed always gives the same values.

use std::ops::RangeInclusive;

use openapi_schema::{Discriminator, is_subtype, schema_name};
use regex_syntax::hir::{Class, Hir, HirKind};
use serde_json::{Map, Value, json};

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
        self.generate_with(schema, depth, true)
    }

    /// Generates a value of `schema`. With `dispatch` false, a base schema
    /// with a discriminator, or with `oneOf` or `anyOf` alternatives that
    /// extend it, gets a value of its own keywords, as the `allOf` part of
    /// a subtype does, rather than one of a subtype.
    fn generate_with(&mut self, schema: &Value, depth: usize, dispatch: bool) -> Value {
        let reference = schema.get("$ref").and_then(Value::as_str);
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
        if dispatch && let Some(value) = self.discriminated(schema, reference, depth) {
            return value;
        }
        if let Some(Value::Array(values)) = schema.get("enum") {
            let mut choices: Vec<&Value> = values.iter().filter(|value| !value.is_null()).collect();
            if choices.iter().any(|value| fits_bounds(schema, value)) {
                choices.retain(|value| fits_bounds(schema, value));
            }
            if choices.is_empty() {
                return Value::Null;
            }
            let index = self.next() as usize % choices.len();
            return choices[index].clone();
        }
        if let Some(Value::Array(parts)) = schema.get("allOf") {
            return self.all_of(schema, parts, reference, depth);
        }
        for keyword in ["oneOf", "anyOf"] {
            if let Some(Value::Array(alternatives)) = schema.get(keyword)
                && !alternatives.is_empty()
                && (dispatch || !self.lists_subtype(alternatives, reference))
            {
                let chosen = &alternatives[self.alternative % alternatives.len()];
                return self.generate(chosen, depth + 1);
            }
        }
        let kind = match schema.get("type").and_then(Value::as_str) {
            Some(kind) => kind,
            None if schema.get("properties").is_some() || schema.get("required").is_some() => {
                "object"
            }
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

    /// Generates an object of a schema that the discriminator of `schema`
    /// selects, with the discriminator's property set to the value that
    /// selects it, when `schema` has `oneOf` or `anyOf` alternatives with
    /// a discriminator or is a base schema with one. `reference` is the
    /// `$ref` that led to `schema`.
    fn discriminated(
        &mut self,
        schema: &Value,
        reference: Option<&str>,
        depth: usize,
    ) -> Option<Value> {
        let discriminator = Discriminator::of_alternatives(schema).or_else(|| {
            let name = schema_name(reference?)?;
            Discriminator::of_base(&name, self.schemas()?)
        })?;
        let draw = self.next() as usize;
        let index = draw.wrapping_add(self.alternative) % discriminator.choices.len();
        let (value, target) = &discriminator.choices[index];
        // A value that selects the base itself gets the base's own
        // keywords.
        let dispatch = Some(target.as_str()) != reference;
        let mut generated = self.generate_with(&json!({ "$ref": target }), depth + 1, dispatch);
        if let Value::Object(object) = &mut generated {
            object.insert(discriminator.property, Value::String(value.clone()));
        }
        Some(generated)
    }

    /// Returns whether an alternative of `alternatives` extends the schema
    /// `reference` through `allOf`, as `Cat` in `Pet: {oneOf: [Cat, Dog]}`
    /// with `Cat: {allOf: [Pet, {...}]}`. Such a base, generated as a part
    /// of its subtype, takes its own keywords without the alternatives,
    /// which would lead back to the subtype.
    fn lists_subtype(&self, alternatives: &[Value], reference: Option<&str>) -> bool {
        let Some(reference) = reference else {
            return false;
        };
        alternatives.iter().any(|alternative| {
            resolve(self.document, alternative)
                .is_ok_and(|alternative| is_subtype(alternative, reference))
        })
    }

    /// Returns whether the `allOf` part `part` gives the property `name` a
    /// value of its own: it lists `name` in `properties`, or combines other
    /// schemas. A part that only requires `name` gets a placeholder, which
    /// must not replace the value of a part that describes it.
    fn declares(&self, part: &Value, name: &str) -> bool {
        let Ok(part) = resolve(self.document, part) else {
            return false;
        };
        let listed = part
            .get("properties")
            .and_then(Value::as_object)
            .is_some_and(|properties| properties.contains_key(name));
        let combines = ["allOf", "oneOf", "anyOf"]
            .iter()
            .any(|keyword| part.get(*keyword).is_some());
        listed || combines
    }

    /// Returns the document's component schemas.
    fn schemas(&self) -> Option<&'a Map<String, Value>> {
        self.document.pointer("/components/schemas")?.as_object()
    }

    /// Generates each part of an `allOf` and merges the objects, so the
    /// value has the properties of every part. A part that is the base of
    /// `schema` (see [`is_subtype`]) gets its own keywords, and a
    /// discriminator of that base gets the value that selects `schema`,
    /// the component that `reference` names.
    fn all_of(
        &mut self,
        schema: &Value,
        parts: &[Value],
        reference: Option<&str>,
        depth: usize,
    ) -> Value {
        let mut merged = Map::new();
        let mut own = schema.clone();
        if let Value::Object(map) = &mut own {
            map.remove("allOf");
        }
        let own_is_empty = own.as_object().is_none_or(|map| {
            map.keys()
                .all(|key| !matches!(key.as_str(), "properties" | "type" | "items"))
        });
        let mut discriminators = Vec::new();
        let mut values = Vec::new();
        for part in parts {
            let base = part.get("$ref").and_then(Value::as_str);
            let base = base.filter(|base| is_subtype(schema, base));
            values.push(self.generate_with(part, depth + 1, base.is_none()));
            let name = base.and_then(schema_name);
            let schemas = self.schemas();
            let discriminator = name
                .zip(schemas)
                .and_then(|(name, schemas)| Discriminator::of_base(&name, schemas));
            discriminators.extend(discriminator);
        }
        if !own_is_empty {
            values.push(self.generate(&own, depth + 1));
        }
        for (value, part) in values.into_iter().zip(parts.iter().chain([&own])) {
            match value {
                Value::Object(map) => {
                    for (name, value) in map {
                        if !merged.contains_key(&name) || self.declares(part, &name) {
                            merged.insert(name, value);
                        }
                    }
                }
                other if merged.is_empty() => return other,
                _ => {}
            }
        }
        for discriminator in discriminators {
            if let Some(value) = reference.and_then(|reference| discriminator.value_of(reference)) {
                let value = Value::String(value.to_string());
                merged.insert(discriminator.property, value);
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
        // A required property that `properties` does not list, such as one
        // that a YAML merge key left out, gets a value of
        // `additionalProperties`, else a string.
        let additional = schema.get("additionalProperties");
        for name in required {
            let listed = properties.is_some_and(|properties| properties.contains_key(name));
            if listed || additional == Some(&Value::Bool(false)) {
                continue;
            }
            let value = match additional {
                Some(schema @ Value::Object(_)) => self.generate(schema, depth + 1),
                _ => Value::String(self.string(&Value::Null)),
            };
            object.insert(name.to_string(), value);
        }
        // A map gets one entry, or as many as `minProperties` requires.
        let map_entries = match additional {
            Some(Value::Object(_)) if object.is_empty() => 1,
            _ => 0,
        };
        let min_properties = bound(schema, "minProperties").map_or(0, |min| min as usize);
        let target_len = min_properties.max(map_entries).min(self.budget);
        let mut index = 1;
        while object.len() < target_len && additional != Some(&Value::Bool(false)) {
            let key = match index {
                1 => "key".to_string(),
                _ => format!("key{index}"),
            };
            index += 1;
            if object.contains_key(&key) {
                continue;
            }
            let value = match additional {
                Some(schema @ Value::Object(_)) => self.generate(schema, depth + 1),
                _ => Value::String(self.string(&Value::Null)),
            };
            object.insert(key, value);
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
        let range = Range::of(schema);
        let step = bound(schema, "multipleOf").map_or(1, |step| (step as i64).max(1));
        let value = if step > 1 {
            let (low, high) = range.multiples(step as f64);
            self.between(low, high.max(low)).saturating_mul(step)
        } else {
            let (low, high) = range.integers();
            self.between(low, high.max(low))
        };
        Value::from(value)
    }

    /// Generates a number of `schema`: a multiple of its `multipleOf`
    /// rounded to the decimals of the step, else a draw in its range
    /// rounded to two decimals, or more when the range is narrower.
    fn number(&mut self, schema: &Value) -> Value {
        let range = Range::of(schema);
        let value = match bound(schema, "multipleOf").filter(|step| *step > 0.0) {
            Some(step) => {
                let (low, high) = range.multiples(step);
                let k = self.between(low, high.max(low));
                round_to(k as f64 * step, decimals(step))
            }
            None => {
                let fraction = (self.next() % 1000) as f64 / 1000.0;
                let span = range.high - range.low;
                let value = range.low + span * fraction;
                let places = if span > 0.0 {
                    (2.0_f64).max(2.0 - span.log10().floor()) as i32
                } else {
                    2
                };
                let rounded = round_to(value, places);
                let midpoint = range.low + span / 2.0;
                if range.contains(rounded) {
                    rounded
                } else if range.contains(round_to(midpoint, places + 1)) {
                    round_to(midpoint, places + 1)
                } else {
                    midpoint
                }
            }
        };
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
            Some("time") => format!("{:02}:{:02}:00Z", draw % 24, draw % 60),
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

/// The values that a number schema allows: its bounds, moved inside the
/// range of its `format`, and whether each excludes its own value.
#[derive(Clone, Copy, Debug)]
struct Range {
    low: f64,
    high: f64,
    low_open: bool,
    high_open: bool,
}

impl Range {
    /// Reads the bounds of `schema`, with OpenAPI 3.0's boolean
    /// `exclusiveMinimum` and `exclusiveMaximum`, a numeric `format` such
    /// as `int32`, and a span of 100 from the other bound (or from 0)
    /// where a bound is missing.
    fn of(schema: &Value) -> Self {
        const SPAN: f64 = 100.0;
        let exclusive = |name: &str| schema.get(name) == Some(&Value::Bool(true));
        let (low, high) = match (bound(schema, "minimum"), bound(schema, "maximum")) {
            (Some(low), Some(high)) => (low, high),
            (Some(low), None) => (low, low + SPAN),
            (None, Some(high)) => ((high - SPAN).min(0.0_f64.min(high)), high),
            (None, None) => (0.0, SPAN),
        };
        let mut range = Range {
            low,
            high,
            low_open: exclusive("exclusiveMinimum") && bound(schema, "minimum").is_some(),
            high_open: exclusive("exclusiveMaximum") && bound(schema, "maximum").is_some(),
        };
        let format = schema.get("format").and_then(Value::as_str);
        if let Some((minimum, maximum)) = format.and_then(openapi_schema::format_range) {
            let (minimum, maximum) = (minimum.as_f64(), maximum.as_f64());
            if let Some(minimum) = minimum.filter(|minimum| *minimum > range.low) {
                (range.low, range.low_open) = (minimum, false);
            }
            if let Some(maximum) = maximum.filter(|maximum| *maximum < range.high) {
                (range.high, range.high_open) = (maximum, false);
            }
        }
        range
    }

    fn contains(&self, value: f64) -> bool {
        let above = if self.low_open {
            value > self.low
        } else {
            value >= self.low
        };
        let below = if self.high_open {
            value < self.high
        } else {
            value <= self.high
        };
        above && below
    }

    /// Returns the integers of the range, as the lowest and the highest.
    fn integers(&self) -> (i64, i64) {
        let low = if self.low_open {
            self.low.floor() + 1.0
        } else {
            self.low.ceil()
        };
        let high = if self.high_open {
            self.high.ceil() - 1.0
        } else {
            self.high.floor()
        };
        (low as i64, high as i64)
    }

    /// Returns the lowest and highest `k` such that `k * step` is in the
    /// range.
    fn multiples(&self, step: f64) -> (i64, i64) {
        let scaled = Range {
            low: self.low / step,
            high: self.high / step,
            ..*self
        };
        scaled.integers()
    }
}

/// Returns the number of decimals of `step` as it is written in the
/// document, such as 2 for 0.01, at most 17.
fn decimals(step: f64) -> i32 {
    let text = step.to_string();
    let decimals = text
        .split_once('.')
        .map_or(0, |(_, fraction)| fraction.len());
    decimals.min(17) as i32
}

/// Rounds `value` to `decimals` places, so that a multiple of a decimal
/// step has the digits of the step rather than a binary artefact such as
/// 40.800000000000004.
fn round_to(value: f64, decimals: i32) -> f64 {
    let scale = 10_f64.powi(decimals);
    let rounded = (value * scale).round() / scale;
    if rounded.is_finite() { rounded } else { value }
}

/// Returns whether the enum value `value` meets the length and range
/// keywords of `schema`, which an `enum` does not replace.
fn fits_bounds(schema: &Value, value: &Value) -> bool {
    match value {
        Value::String(text) => {
            let length = text.chars().count() as f64;
            let min = bound(schema, "minLength").unwrap_or(0.0);
            let max = bound(schema, "maxLength").unwrap_or(f64::INFINITY);
            (min..=max).contains(&length)
        }
        Value::Number(number) => {
            let value = number.as_f64().unwrap_or_default();
            let has_bounds = ["minimum", "maximum", "format"]
                .iter()
                .any(|keyword| schema.get(*keyword).is_some());
            !has_bounds || Range::of(schema).contains(value)
        }
        _ => true,
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
