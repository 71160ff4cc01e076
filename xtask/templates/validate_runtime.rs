//! Validation of a decoded JSON body against its schema from the spec.
//!
//! The typed decoding enforces only what the Rust types can hold, so the
//! router also checks each body against a [`Schema`] that the generator
//! writes from the spec. Every failure maps the JSON path of the value,
//! such as `processes[2].pid`, to a message that names the rule.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

/// Maximum number of invalid values that one response lists.
pub const MAX_ERRORS: usize = 100;

/// Maximum number of schema checks on one body. `anyOf` and `oneOf` try
/// each member, so nested ones multiply the work; a body that needs more
/// checks is rejected as too complex.
const MAX_STEPS: usize = 1_000_000;

/// A JSON type that a schema's `type` names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JsonType {
    Boolean,
    Integer,
    Number,
    String,
    Array,
    Object,
}

impl JsonType {
    fn matches(self, value: &Value) -> bool {
        match (self, value) {
            (JsonType::Boolean, Value::Bool(_)) => true,
            (JsonType::Integer, Value::Number(number)) => number.is_i64() || number.is_u64(),
            (JsonType::Number, Value::Number(_)) => true,
            (JsonType::String, Value::String(_)) => true,
            (JsonType::Array, Value::Array(_)) => true,
            (JsonType::Object, Value::Object(_)) => true,
            _ => false,
        }
    }

    fn name(self) -> &'static str {
        match self {
            JsonType::Boolean => "a boolean",
            JsonType::Integer => "an integer",
            JsonType::Number => "a number",
            JsonType::String => "a string",
            JsonType::Array => "an array",
            JsonType::Object => "an object",
        }
    }
}

/// A value of a schema's `enum`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Literal {
    Null,
    Boolean(bool),
    Integer(i64),
    Number(f64),
    String(&'static str),
}

impl Literal {
    fn matches(self, value: &Value) -> bool {
        match (self, value) {
            (Literal::Null, Value::Null) => true,
            (Literal::Boolean(expected), Value::Bool(found)) => expected == *found,
            (Literal::Integer(expected), Value::Number(found)) => found.as_i64() == Some(expected),
            (Literal::Number(expected), Value::Number(found)) => found.as_f64() == Some(expected),
            (Literal::String(expected), Value::String(found)) => expected == found,
            _ => false,
        }
    }

    fn show(self) -> String {
        match self {
            Literal::Null => "null".to_string(),
            Literal::Boolean(value) => value.to_string(),
            Literal::Integer(value) => value.to_string(),
            Literal::Number(value) => value.to_string(),
            Literal::String(value) => value.to_string(),
        }
    }
}

/// A `minimum` or `maximum`, with OpenAPI 3.0's `exclusiveMinimum` or
/// `exclusiveMaximum` flag.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bound {
    pub value: f64,
    pub exclusive: bool,
}

/// A `pattern` and the function that tests a string against it.
#[derive(Debug, Clone, Copy)]
pub struct Pattern {
    pub source: &'static str,
    pub is_match: fn(&str) -> bool,
}

/// The rule for the properties of an object beyond its `properties`.
#[derive(Debug, Clone, Copy)]
pub enum Additional {
    /// Any other property, of any value.
    Any,
    /// No other property (`additionalProperties: false`).
    Forbidden,
    /// Other properties whose values match the schema.
    Schema(&'static Schema),
}

/// The validation keywords of one schema. `Schema::ANY` allows every value,
/// so a generated schema sets only the keywords the spec gives.
#[derive(Debug, Clone, Copy)]
pub struct Schema {
    /// The allowed types; empty allows any.
    pub types: &'static [JsonType],
    /// Whether `null` is allowed beside `types` (OpenAPI 3.0's `nullable`).
    pub nullable: bool,
    /// The allowed values; empty allows any.
    pub enumeration: &'static [Literal],
    pub minimum: Option<Bound>,
    pub maximum: Option<Bound>,
    pub multiple_of: Option<f64>,
    /// Limits on the length of a string, in characters.
    pub min_length: Option<u64>,
    pub max_length: Option<u64>,
    pub pattern: Option<Pattern>,
    pub items: Option<&'static Schema>,
    pub min_items: Option<u64>,
    pub max_items: Option<u64>,
    pub unique_items: bool,
    pub properties: &'static [(&'static str, &'static Schema)],
    pub required: &'static [&'static str],
    pub additional_properties: Additional,
    /// Schemas that the value must all match.
    pub all_of: &'static [&'static Schema],
    /// Schemas of which the value must match one or more.
    pub any_of: &'static [&'static Schema],
    /// Schemas of which the value must match exactly one.
    pub one_of: &'static [&'static Schema],
}

impl Schema {
    /// The schema without keywords, which every value matches.
    pub const ANY: Schema = Schema {
        types: &[],
        nullable: false,
        enumeration: &[],
        minimum: None,
        maximum: None,
        multiple_of: None,
        min_length: None,
        max_length: None,
        pattern: None,
        items: None,
        min_items: None,
        max_items: None,
        unique_items: false,
        properties: &[],
        required: &[],
        additional_properties: Additional::Any,
        all_of: &[],
        any_of: &[],
        one_of: &[],
    };
}

/// Validates a body, returning each invalid value's path mapped to its
/// message; an empty map means the body is valid. A failure of the body
/// itself is under `body`. At most [`MAX_ERRORS`] values are listed.
pub fn validate(value: &Value, schema: &Schema) -> BTreeMap<String, String> {
    let mut validator = Validator {
        errors: BTreeMap::new(),
        steps: 0,
    };
    validator.check(value, schema, &Path::Root);
    validator.errors
}

struct Validator {
    errors: BTreeMap<String, String>,
    steps: usize,
}

impl Validator {
    fn fail(&mut self, path: &Path, message: String) {
        self.insert(path.render(), message);
    }

    fn insert(&mut self, field: String, message: String) {
        if self.errors.len() < MAX_ERRORS {
            self.errors.entry(field).or_insert(message);
        }
    }

    /// Checks `value`, found at `path`, against `schema`.
    fn check(&mut self, value: &Value, schema: &Schema, path: &Path) {
        self.steps += 1;
        if self.steps > MAX_STEPS {
            let message = "The body is too complex to validate".to_string();
            self.errors.insert("body".to_string(), message);
            return;
        }
        if value.is_null() && schema.nullable {
            return;
        }
        if !schema.types.is_empty() && !schema.types.iter().any(|typ| typ.matches(value)) {
            let mut expected: Vec<&str> = schema.types.iter().map(|typ| typ.name()).collect();
            if schema.nullable {
                expected.push("null");
            }
            let found = type_name(value);
            self.fail(
                path,
                format!("Expected {}, found {found}", expected.join(" or ")),
            );
            return;
        }
        if !schema.enumeration.is_empty()
            && !schema
                .enumeration
                .iter()
                .any(|literal| literal.matches(value))
        {
            let allowed: Vec<String> = schema.enumeration.iter().map(|l| l.show()).collect();
            self.fail(path, format!("Must be one of {}", allowed.join(", ")));
            return;
        }
        match value {
            Value::Number(number) => self.check_number(number, schema, path),
            Value::String(text) => self.check_string(text, schema, path),
            Value::Array(items) => self.check_array(items, schema, path),
            Value::Object(object) => self.check_object(object, schema, path),
            Value::Null | Value::Bool(_) => {}
        }
        for member in schema.all_of {
            self.check(value, member, path);
        }
        if !schema.any_of.is_empty() {
            self.check_alternatives(value, schema.any_of, false, path);
        }
        if !schema.one_of.is_empty() {
            self.check_alternatives(value, schema.one_of, true, path);
        }
    }

    fn check_number(&mut self, number: &serde_json::Number, schema: &Schema, path: &Path) {
        if let Some(bound) = schema.minimum {
            let below = compare(number, bound.value).is_lt();
            let at = compare(number, bound.value).is_eq();
            if below || (bound.exclusive && at) {
                let limit = show_number(bound.value);
                let message = if bound.exclusive {
                    format!("Must be more than {limit}")
                } else {
                    format!("Must be {limit} or more")
                };
                return self.fail(path, message);
            }
        }
        if let Some(bound) = schema.maximum {
            let above = compare(number, bound.value).is_gt();
            let at = compare(number, bound.value).is_eq();
            if above || (bound.exclusive && at) {
                let limit = show_number(bound.value);
                let message = if bound.exclusive {
                    format!("Must be less than {limit}")
                } else {
                    format!("Must be {limit} or less")
                };
                return self.fail(path, message);
            }
        }
        if let Some(divisor) = schema.multiple_of
            && !is_multiple(number, divisor)
        {
            let message = format!("Must be a multiple of {}", show_number(divisor));
            self.fail(path, message);
        }
    }

    fn check_string(&mut self, text: &str, schema: &Schema, path: &Path) {
        let length = text.chars().count() as u64;
        if let Some(min) = schema.min_length
            && length < min
        {
            let message = if length == 0 {
                "Empty value is not allowed".to_string()
            } else {
                format!("Must be at least {min} characters long")
            };
            return self.fail(path, message);
        }
        if let Some(max) = schema.max_length
            && length > max
        {
            return self.fail(path, format!("Must be at most {max} characters long"));
        }
        if let Some(pattern) = schema.pattern
            && !(pattern.is_match)(text)
        {
            self.fail(path, format!("Must match the pattern `{}`", pattern.source));
        }
    }

    fn check_array(&mut self, items: &[Value], schema: &Schema, path: &Path) {
        let count = items.len() as u64;
        if let Some(min) = schema.min_items
            && count < min
        {
            return self.fail(path, format!("Must have at least {min} items"));
        }
        if let Some(max) = schema.max_items
            && count > max
        {
            return self.fail(path, format!("Must have at most {max} items"));
        }
        if schema.unique_items {
            let mut seen = BTreeMap::new();
            for (index, item) in items.iter().enumerate() {
                if let Some(first) = seen.insert(canonical(item), index) {
                    let message =
                        format!("Items must be unique; item {index} repeats item {first}");
                    return self.fail(path, message);
                }
            }
        }
        if let Some(item_schema) = schema.items {
            for (index, item) in items.iter().enumerate() {
                self.check(item, item_schema, &Path::Item(path, index));
            }
        }
    }

    fn check_object(
        &mut self,
        object: &serde_json::Map<String, Value>,
        schema: &Schema,
        path: &Path,
    ) {
        for name in schema.required {
            if !object.contains_key(*name) {
                let message = "Field is required".to_string();
                self.fail(&Path::Property(path, name), message);
            }
        }
        for (name, value) in object {
            let declared = schema.properties.iter().find(|(key, _)| key == name);
            let property_schema = match (declared, schema.additional_properties) {
                (Some((_, property_schema)), _) => *property_schema,
                (None, Additional::Any) => continue,
                (None, Additional::Schema(other)) => other,
                (None, Additional::Forbidden) => {
                    let allowed: Vec<&str> =
                        schema.properties.iter().map(|(key, _)| *key).collect();
                    let message = format!("Unknown field; allowed fields: {}", allowed.join(", "));
                    self.fail(&Path::Property(path, name), message);
                    continue;
                }
            };
            self.check(value, property_schema, &Path::Property(path, name));
        }
    }

    /// Checks `anyOf` (`exactly_one` unset) or `oneOf` members. When no
    /// member matches and exactly one member has the value's type, its
    /// failures are reported, as they name the fields to fix.
    fn check_alternatives(
        &mut self,
        value: &Value,
        members: &[&Schema],
        exactly_one: bool,
        path: &Path,
    ) {
        let mut failures = Vec::new();
        for member in members {
            let mut trial = Validator {
                errors: BTreeMap::new(),
                steps: self.steps,
            };
            trial.check(value, member, path);
            self.steps = trial.steps;
            failures.push(trial.errors);
        }
        let matched = failures.iter().filter(|errors| errors.is_empty()).count();
        if exactly_one && matched > 1 {
            let message = format!("Matches {matched} of the allowed schemas; it must match one");
            return self.fail(path, message);
        }
        if matched > 0 {
            return;
        }
        let of_type: Vec<usize> = (0..members.len())
            .filter(|&index| {
                let types = members[index].types;
                types.is_empty() || types.iter().any(|typ| typ.matches(value))
            })
            .collect();
        if let [index] = of_type[..] {
            let errors = std::mem::take(&mut failures[index]);
            for (field, message) in errors {
                self.insert(field, message);
            }
        } else {
            let message = format!("Matches none of the {} allowed schemas", members.len());
            self.fail(path, message);
        }
    }
}

/// The location of a value in the body. It is written out only for an
/// invalid value, so that checking a valid one allocates no path.
enum Path<'a> {
    Root,
    Property(&'a Path<'a>, &'a str),
    Item(&'a Path<'a>, usize),
}

impl Path<'_> {
    /// Writes the path as `processes[2].pid`, or `body` for the body itself.
    fn render(&self) -> String {
        let mut text = String::new();
        self.write(&mut text);
        if text.is_empty() {
            text.push_str("body");
        }
        text
    }

    fn write(&self, text: &mut String) {
        match self {
            Path::Root => {}
            Path::Property(parent, name) => {
                parent.write(text);
                if !text.is_empty() {
                    text.push('.');
                }
                text.push_str(name);
            }
            Path::Item(parent, index) => {
                parent.write(text);
                text.push_str(&format!("[{index}]"));
            }
        }
    }
}

/// Returns the JSON type of a value with its article, as messages name it.
pub(crate) fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Compares a JSON number with a bound, exactly when both are integers.
fn compare(number: &serde_json::Number, bound: f64) -> std::cmp::Ordering {
    let integral_bound = bound.fract() == 0.0 && bound.abs() < 9.0e18;
    let integer = number
        .as_i64()
        .map(i128::from)
        .or_else(|| number.as_u64().map(i128::from));
    match integer {
        Some(integer) if integral_bound => integer.cmp(&(bound as i128)),
        _ => {
            let value = number.as_f64().unwrap_or(f64::NAN);
            value
                .partial_cmp(&bound)
                .unwrap_or(std::cmp::Ordering::Equal)
        }
    }
}

fn is_multiple(number: &serde_json::Number, divisor: f64) -> bool {
    if divisor.fract() == 0.0
        && let Some(integer) = number.as_i64()
    {
        return integer as i128 % divisor as i128 == 0;
    }
    let quotient = number.as_f64().unwrap_or(f64::NAN) / divisor;
    (quotient - quotient.round()).abs() < 1e-9
}

/// Writes a bound as the spec does: `5`, not `5.0`.
fn show_number(value: f64) -> String {
    if value.fract() == 0.0 && value.abs() < 9.0e15 {
        format!("{}", value as i64)
    } else {
        value.to_string()
    }
}

/// Writes a value as JSON with object keys in order, so that equal values
/// give equal text whatever the key order.
fn canonical(value: &Value) -> String {
    match value {
        Value::Array(items) => {
            let items: Vec<String> = items.iter().map(canonical).collect();
            format!("[{}]", items.join(","))
        }
        Value::Object(object) => {
            let sorted: BTreeSet<String> = object
                .iter()
                .map(|(key, value)| format!("{}:{}", Value::from(key.as_str()), canonical(value)))
                .collect();
            format!("{{{}}}", sorted.into_iter().collect::<Vec<_>>().join(","))
        }
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    static PID: Schema = Schema {
        types: &[JsonType::Integer],
        minimum: Some(Bound {
            value: 1.0,
            exclusive: false,
        }),
        maximum: Some(Bound {
            value: 4294967295.0,
            exclusive: false,
        }),
        ..Schema::ANY
    };

    static PROCESS: Schema = Schema {
        types: &[JsonType::Object],
        properties: &[("pid", &PID), ("tags", &TAGS)],
        required: &["pid"],
        additional_properties: Additional::Forbidden,
        ..Schema::ANY
    };

    static TAGS: Schema = Schema {
        types: &[JsonType::Array],
        items: Some(&Schema {
            types: &[JsonType::String],
            min_length: Some(1),
            max_length: Some(3),
            ..Schema::ANY
        }),
        max_items: Some(3),
        unique_items: true,
        ..Schema::ANY
    };

    static BODY: Schema = Schema {
        types: &[JsonType::Object],
        properties: &[
            (
                "processes",
                &Schema {
                    types: &[JsonType::Array],
                    items: Some(&PROCESS),
                    ..Schema::ANY
                },
            ),
            (
                "status",
                &Schema {
                    types: &[JsonType::Integer],
                    nullable: true,
                    enumeration: &[Literal::Integer(400), Literal::Integer(500)],
                    ..Schema::ANY
                },
            ),
            (
                "rate",
                &Schema {
                    types: &[JsonType::Number],
                    minimum: Some(Bound {
                        value: 0.0,
                        exclusive: true,
                    }),
                    multiple_of: Some(0.25),
                    ..Schema::ANY
                },
            ),
        ],
        ..Schema::ANY
    };

    #[test]
    fn valid_body_has_no_errors() {
        let body = json!({
            "processes": [{"pid": 1, "tags": ["a", "bc"]}, {"pid": 4294967295u64}],
            "status": null,
            "rate": 0.75,
            "other": true,
        });
        assert_eq!(validate(&body, &BODY), BTreeMap::new());
    }

    #[test]
    fn each_invalid_value_is_named_by_path() {
        let body = json!({
            "processes": [
                {"pid": 1},
                {"pid": 0, "colour": "red"},
                {"tags": ["a", "a"]},
                {"pid": 1.5, "tags": ["", "abcd"]},
                {"pid": 4294967296u64},
            ],
            "status": 418,
            "rate": 0.3,
        });
        let errors = validate(&body, &BODY);
        let expected = [
            ("processes[1].pid", "Must be 1 or more"),
            (
                "processes[1].colour",
                "Unknown field; allowed fields: pid, tags",
            ),
            ("processes[2].pid", "Field is required"),
            (
                "processes[2].tags",
                "Items must be unique; item 1 repeats item 0",
            ),
            ("processes[3].pid", "Expected an integer, found a number"),
            ("processes[3].tags[0]", "Empty value is not allowed"),
            ("processes[3].tags[1]", "Must be at most 3 characters long"),
            ("processes[4].pid", "Must be 4294967295 or less"),
            ("status", "Must be one of 400, 500"),
            ("rate", "Must be a multiple of 0.25"),
        ];
        for (path, message) in expected {
            assert_eq!(
                errors.get(path).map(String::as_str),
                Some(message),
                "{path}"
            );
        }
        assert_eq!(errors.len(), expected.len(), "{errors:?}");
    }

    #[test]
    fn exclusive_bounds_reject_the_bound() {
        let errors = validate(&json!({"rate": 0}), &BODY);
        assert_eq!(errors["rate"], "Must be more than 0");
        let errors = validate(&json!({"status": "400"}), &BODY);
        assert_eq!(
            errors["status"],
            "Expected an integer or null, found a string"
        );
    }

    #[test]
    fn body_of_another_type_is_named_body() {
        let errors = validate(&json!([1]), &BODY);
        assert_eq!(errors["body"], "Expected an object, found an array");
    }

    #[test]
    fn one_of_reports_matching_type() {
        static EITHER: Schema = Schema {
            one_of: &[
                &PROCESS,
                &Schema {
                    types: &[JsonType::String],
                    ..Schema::ANY
                },
            ],
            ..Schema::ANY
        };
        assert!(validate(&json!("x"), &EITHER).is_empty());
        assert_eq!(
            validate(&json!({"pid": 0}), &EITHER)["pid"],
            "Must be 1 or more"
        );
        let errors = validate(&json!(true), &EITHER);
        assert_eq!(errors["body"], "Matches none of the 2 allowed schemas");
        static BOTH: Schema = Schema {
            one_of: &[&Schema::ANY, &Schema::ANY],
            ..Schema::ANY
        };
        let errors = validate(&json!(1), &BOTH);
        assert_eq!(
            errors["body"],
            "Matches 2 of the allowed schemas; it must match one"
        );
    }

    #[test]
    fn unique_items_ignore_key_order() {
        static OBJECTS: Schema = Schema {
            unique_items: true,
            ..Schema::ANY
        };
        let errors = validate(&json!([{"a": 1, "b": 2}, {"b": 2, "a": 1}]), &OBJECTS);
        assert_eq!(
            errors["body"],
            "Items must be unique; item 1 repeats item 0"
        );
    }
}
