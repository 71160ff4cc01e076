//! The `discriminator` of OpenAPI 3.0: the property whose value selects
//! the schema of an object among `oneOf` or `anyOf` alternatives, or among
//! the schemas that extend a base schema through `allOf`.

use serde_json::{Map, Value, json};

/// The prefix of a reference to a component schema.
const SCHEMAS: &str = "#/components/schemas/";

/// The suffix of the name under which [`add_dispatch`] keeps a base
/// schema's own keywords without the dispatch on its discriminator. `!` is
/// not allowed in a component name of a valid OpenAPI 3.0 document, so the
/// name clashes with none of the document's names.
const BASE_SUFFIX: &str = "!base";

/// A discriminator read from a schema: the property, and for each value it
/// may take, the reference to the schema that the value selects.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Discriminator {
    /// The `propertyName`.
    pub property: String,
    /// Each value with its schema reference, such as
    /// `("text", "#/components/schemas/TextBlock")`, in the order of
    /// `mapping` and then of the implicit values.
    pub choices: Vec<(String, String)>,
}

impl Discriminator {
    /// Reads the discriminator of a schema with `oneOf` or `anyOf`
    /// alternatives. The values are the keys of `mapping`, and the
    /// component name of each `$ref` alternative that no mapping value
    /// names, as OpenAPI 3.0 defines the implicit mapping.
    ///
    /// Returns `None` when the schema has no such discriminator, when an
    /// alternative is not a `$ref` to a component schema (no value could
    /// select it), or when a mapping value is a reference to another
    /// document.
    ///
    /// ```
    /// use openapi_schema::Discriminator;
    /// use serde_json::json;
    ///
    /// let schema = json!({
    ///     "oneOf": [
    ///         {"$ref": "#/components/schemas/Cat"},
    ///         {"$ref": "#/components/schemas/Dog"},
    ///     ],
    ///     "discriminator": {"propertyName": "pet", "mapping": {"dog": "Dog"}},
    /// });
    /// let discriminator = Discriminator::of_alternatives(&schema).unwrap();
    /// assert_eq!(discriminator.values(), ["dog", "Cat"]);
    /// ```
    pub fn of_alternatives(schema: &Value) -> Option<Self> {
        let alternatives = ["oneOf", "anyOf"]
            .iter()
            .find_map(|keyword| schema.get(*keyword)?.as_array())?;
        let mut implicit = Vec::new();
        for alternative in alternatives {
            let reference = alternative.get("$ref")?.as_str()?;
            implicit.push(reference.to_string());
        }
        Self::with_implicit(schema, implicit)
    }

    /// Reads the discriminator of the component schema `name`, a base
    /// schema without `oneOf` or `anyOf` that other component schemas
    /// extend (see [`is_subtype`]). The values are the keys of `mapping`,
    /// and the name of each subtype that no mapping value names, a subtype
    /// of a subtype included. A base that itself extends another schema,
    /// such as `Car` that repeats the discriminator of `Vehicle`, also
    /// takes its own name, the value that selected it from its base.
    ///
    /// Returns `None` when the component has no discriminator, has
    /// alternatives, or no value selects a schema.
    pub fn of_base(name: &str, schemas: &Map<String, Value>) -> Option<Self> {
        let base = schemas.get(name)?;
        if base.get("oneOf").is_some() || base.get("anyOf").is_some() {
            return None;
        }
        let reference = component_reference(name);
        let mut implicit = subtypes(&reference, schemas);
        let extends = |(other, _): (&String, &Value)| {
            other != name && is_subtype(base, &component_reference(other))
        };
        if schemas.iter().any(extends) {
            implicit.push(reference);
        }
        Self::with_implicit(base, implicit)
    }

    /// Reads `propertyName` and `mapping`, and adds the implicit value of
    /// each reference of `implicit` that no mapping value names. A mapping
    /// key wins over an implicit value of the same name, as the mapping is
    /// read first.
    fn with_implicit(schema: &Value, implicit: Vec<String>) -> Option<Self> {
        let discriminator = schema.get("discriminator")?;
        let property = discriminator.get("propertyName")?.as_str()?.to_string();
        let mut choices = Vec::new();
        let mapping = discriminator.get("mapping").and_then(Value::as_object);
        for (value, target) in mapping.into_iter().flatten() {
            choices.push((value.clone(), mapping_reference(target.as_str()?)?));
        }
        for reference in implicit {
            if choices.iter().any(|(_, target)| *target == reference) {
                continue;
            }
            let name = schema_name(&reference)?;
            if choices.iter().any(|(value, _)| *value == name) {
                continue;
            }
            choices.push((name, reference));
        }
        (!choices.is_empty()).then_some(Discriminator { property, choices })
    }

    /// Returns the values the property may take.
    pub fn values(&self) -> Vec<&str> {
        self.choices
            .iter()
            .map(|(value, _)| value.as_str())
            .collect()
    }

    /// Returns the first value that selects the schema `reference`.
    pub fn value_of(&self, reference: &str) -> Option<&str> {
        let (value, _) = self
            .choices
            .iter()
            .find(|(_, target)| target == reference)?;
        Some(value)
    }

    /// Builds the JSON Schema that requires the property, rejects a value
    /// outside [`Discriminator::values`], and validates the object against
    /// the schema that its value selects. `base` is the reference of an
    /// inheritance base, which a selected schema reaches as its base
    /// without this dispatch.
    fn dispatch(&self, base: Option<&str>) -> Value {
        let property = &self.property;
        let mut targets: Vec<(&str, Vec<&str>)> = Vec::new();
        for (value, target) in &self.choices {
            match targets.iter_mut().find(|(known, _)| known == target) {
                Some((_, values)) => values.push(value),
                None => targets.push((target, vec![value])),
            }
        }
        let branches: Vec<Value> = targets
            .into_iter()
            .map(|(target, values)| {
                let target = match base {
                    Some(base) if base == target => format!("{target}{BASE_SUFFIX}"),
                    _ => target.to_string(),
                };
                json!({
                    "if": {"required": [property], "properties": {property: {"enum": values}}},
                    "then": {"$ref": target},
                })
            })
            .collect();
        json!({
            "required": [property],
            "properties": {property: {"enum": self.values()}},
            "allOf": branches,
        })
    }
}

/// Returns whether `schema` extends the schema `reference` through
/// `allOf`: its `allOf` lists `{"$ref": reference}` and at least one more
/// part. An `allOf` of the reference alone, such as a nullable or
/// described reference, is the reference itself, not a subtype.
pub fn is_subtype(schema: &Value, reference: &str) -> bool {
    let Some(parts) = schema.get("allOf").and_then(Value::as_array) else {
        return false;
    };
    let refers = |part: &Value| part.get("$ref").and_then(Value::as_str) == Some(reference);
    parts.len() > 1 && parts.iter().any(refers)
}

/// Returns the references of the component schemas that extend the schema
/// `reference` through `allOf`, directly or through other subtypes, in
/// breadth-first order.
fn subtypes(reference: &str, schemas: &Map<String, Value>) -> Vec<String> {
    let mut found: Vec<String> = Vec::new();
    let mut parents = vec![reference.to_string()];
    while let Some(parent) = parents.pop() {
        for (name, schema) in schemas {
            let subtype = component_reference(name);
            if subtype != reference && !found.contains(&subtype) && is_subtype(schema, &parent) {
                found.push(subtype.clone());
                parents.insert(0, subtype);
            }
        }
    }
    found
}

/// Returns the reference to the component schema `name`.
pub fn component_reference(name: &str) -> String {
    let token = name.replace('~', "~0").replace('/', "~1");
    format!("{SCHEMAS}{token}")
}

/// Returns the name of the component schema that `reference` points at,
/// such as `Pet` for `#/components/schemas/Pet`, or `None` for a reference
/// to anything else.
pub fn schema_name(reference: &str) -> Option<String> {
    let token = reference.strip_prefix(SCHEMAS)?;
    if token.contains('/') {
        return None;
    }
    Some(token.replace("~1", "/").replace("~0", "~"))
}

/// Returns the reference that a `mapping` value names: the value itself
/// when it is a reference inside the document, else the component schema
/// of that name. A reference to another document gives `None`.
fn mapping_reference(target: &str) -> Option<String> {
    if target.starts_with('#') {
        return Some(target.to_string());
    }
    if target.contains('/') || target.contains('#') {
        return None;
    }
    Some(component_reference(target))
}

/// Replaces the `oneOf` or `anyOf` of the converted `schema`, whose
/// original `discriminator` is `discriminator`, with a dispatch on the
/// property's value, so that an invalid object gets the errors of the
/// schema its value selects rather than of every alternative.
pub(crate) fn replace_alternatives(schema: &mut Map<String, Value>, discriminator: &Discriminator) {
    schema.remove("oneOf");
    schema.remove("anyOf");
    push_all_of(schema, discriminator.dispatch(None));
}

/// Adds the dispatch of each base schema with a discriminator to the
/// converted `components`. The base's own keywords stay under its name
/// with [`BASE_SUFFIX`], and each subtype's `allOf` refers to that, so a
/// subtype is not dispatched again.
pub(crate) fn add_dispatch(original: &Map<String, Value>, components: &mut Map<String, Value>) {
    for name in original.keys() {
        let Some(discriminator) = Discriminator::of_base(name, original) else {
            continue;
        };
        let Some(Value::Object(base)) = components.get(name).cloned() else {
            continue;
        };
        let reference = component_reference(name);
        let base_name = format!("{name}{BASE_SUFFIX}");
        let base_reference = format!("{reference}{BASE_SUFFIX}");
        for schema in components.values_mut() {
            refer_to_base(schema, &reference, &base_reference);
        }
        let mut dispatching = base.clone();
        push_all_of(&mut dispatching, discriminator.dispatch(Some(&reference)));
        components.insert(base_name, Value::Object(base));
        components.insert(name.clone(), Value::Object(dispatching));
    }
}

/// Points the `allOf` part `{"$ref": reference}` of each subtype inside
/// `schema` at `base_reference`.
fn refer_to_base(schema: &mut Value, reference: &str, base_reference: &str) {
    let subtype = is_subtype(schema, reference);
    match schema {
        Value::Object(map) => {
            if subtype && let Some(Value::Array(parts)) = map.get_mut("allOf") {
                for part in parts.iter_mut() {
                    if part.get("$ref").and_then(Value::as_str) == Some(reference) {
                        *part = json!({ "$ref": base_reference });
                    }
                }
            }
            for nested in map.values_mut() {
                refer_to_base(nested, reference, base_reference);
            }
        }
        Value::Array(items) => {
            for nested in items {
                refer_to_base(nested, reference, base_reference);
            }
        }
        _ => {}
    }
}

/// Appends `part` to the `allOf` of `schema`.
fn push_all_of(schema: &mut Map<String, Value>, part: Value) {
    match schema.get_mut("allOf") {
        Some(Value::Array(parts)) => parts.push(part),
        _ => {
            schema.insert("allOf".to_string(), json!([part]));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Components, Direction};

    /// Component schemas of blocks in both styles: `Block` is a base that
    /// `TextBlock` and `TodoBlock` extend, `Shape` has `oneOf`
    /// alternatives without a mapping. `Car` extends `Vehicle` and repeats
    /// its discriminator, and `SportsCar` extends `Car`.
    fn components() -> Value {
        json!({
            "Block": {
                "type": "object",
                "required": ["kind"],
                "properties": {"kind": {"type": "string"}},
                "discriminator": {
                    "propertyName": "kind",
                    "mapping": {"text": "#/components/schemas/TextBlock", "todo": "TodoBlock"},
                },
            },
            "TextBlock": {"allOf": [
                {"$ref": "#/components/schemas/Block"},
                {"required": ["text"], "properties": {"text": {"type": "string"}}},
            ]},
            "TodoBlock": {"allOf": [
                {"$ref": "#/components/schemas/Block"},
                {"required": ["items"], "properties": {"items": {"type": "array"}}},
            ]},
            "Note": {"properties": {"blocks": {
                "type": "array",
                "items": {"$ref": "#/components/schemas/Block"},
            }}},
            "Shape": {
                "oneOf": [
                    {"$ref": "#/components/schemas/Circle"},
                    {"$ref": "#/components/schemas/Square"},
                ],
                "discriminator": {"propertyName": "shape"},
            },
            "Circle": {"required": ["radius"], "properties": {"radius": {"type": "number"}}},
            "Square": {"properties": {"side": {"type": "number"}}},
            "Vehicle": {
                "required": ["type"],
                "properties": {"type": {"type": "string"}},
                "discriminator": {"propertyName": "type"},
            },
            "Car": {
                "allOf": [
                    {"$ref": "#/components/schemas/Vehicle"},
                    {"required": ["doors"], "properties": {"doors": {"type": "integer"}}},
                ],
                "discriminator": {"propertyName": "type"},
            },
            "SportsCar": {"allOf": [
                {"$ref": "#/components/schemas/Car"},
                {"required": ["speed"], "properties": {"speed": {"type": "integer"}}},
            ]},
        })
    }

    /// Returns the JSON pointers of the errors of `value` against the
    /// component `name`, a missing property's name appended.
    fn errors(name: &str, value: &Value) -> Vec<String> {
        let components = Components::new(Some(&components()));
        let schema = json!({ "$ref": component_reference(name) });
        let root = components.root_document(&schema, Direction::Request);
        let validator = jsonschema::draft202012::new(&root).expect("a valid schema");
        let mut pointers: Vec<String> = validator
            .iter_errors(value)
            .map(|error| {
                let mut pointer = error.instance_path().as_str().to_string();
                if let jsonschema::error::ValidationErrorKind::Required { property } = error.kind()
                {
                    pointer.push('/');
                    pointer.push_str(property.as_str().unwrap_or_default());
                }
                pointer
            })
            .collect();
        pointers.sort();
        pointers.dedup();
        pointers
    }

    #[test]
    fn base_values_from_mapping() {
        let schemas = components();
        let discriminator = Discriminator::of_base("Block", schemas.as_object().unwrap());
        let discriminator = discriminator.expect("a discriminator");
        assert_eq!(discriminator.property, "kind");
        assert_eq!(discriminator.values(), ["text", "todo"]);
        assert_eq!(
            discriminator.value_of("#/components/schemas/TodoBlock"),
            Some("todo")
        );
    }

    #[test]
    fn alternatives_use_schema_names() {
        let schemas = components();
        let discriminator = Discriminator::of_alternatives(&schemas["Shape"]);
        let values = discriminator.as_ref().map(Discriminator::values);
        assert_eq!(values, Some(vec!["Circle", "Square"]));
    }

    #[test]
    fn mapping_key_wins_over_schema_name() {
        let schema = json!({
            "oneOf": [
                {"$ref": "#/components/schemas/Left"},
                {"$ref": "#/components/schemas/Right"},
            ],
            "discriminator": {"propertyName": "side", "mapping": {"Left": "Right"}},
        });
        let discriminator = Discriminator::of_alternatives(&schema).expect("a discriminator");
        assert_eq!(
            discriminator.choices,
            [("Left".to_string(), component_reference("Right"))]
        );
    }

    #[test]
    fn inline_alternative_has_no_dispatch() {
        let schema = json!({
            "oneOf": [{"$ref": "#/components/schemas/Circle"}, {"type": "object"}],
            "discriminator": {"propertyName": "shape"},
        });
        assert_eq!(Discriminator::of_alternatives(&schema), None);
    }

    #[test]
    fn described_reference_is_no_subtype() {
        let reference = "#/components/schemas/Block";
        assert!(!is_subtype(
            &json!({"allOf": [{"$ref": reference}]}),
            reference
        ));
        let extended = json!({"allOf": [{"$ref": reference}, {"type": "object"}]});
        assert!(is_subtype(&extended, reference));
    }

    #[test]
    fn base_dispatches_by_value() {
        let cases = [
            (json!({"kind": "text", "text": "hi"}), vec![]),
            (json!({"kind": "todo", "items": []}), vec![]),
            (json!({"kind": "todo"}), vec!["/items"]),
            (json!({"kind": "video"}), vec!["/kind"]),
            (json!({"text": "hi"}), vec!["/kind"]),
        ];
        for (value, expected) in cases {
            assert_eq!(errors("Block", &value), expected, "{value}");
        }
        let nested = json!({"blocks": [{"kind": "text"}]});
        assert_eq!(errors("Note", &nested), ["/blocks/0/text"]);
    }

    #[test]
    fn nested_subtypes_take_their_names() {
        let schemas = components();
        let schemas = schemas.as_object().unwrap();
        let vehicle = Discriminator::of_base("Vehicle", schemas).expect("a discriminator");
        assert_eq!(vehicle.values(), ["Car", "SportsCar"]);
        let car = Discriminator::of_base("Car", schemas).expect("a discriminator");
        assert_eq!(car.values(), ["SportsCar", "Car"]);

        let cases = [
            ("Vehicle", json!({"type": "Car", "doors": 2}), vec![]),
            (
                "Vehicle",
                json!({"type": "SportsCar", "doors": 2, "speed": 1}),
                vec![],
            ),
            (
                "Vehicle",
                json!({"type": "SportsCar", "doors": 2}),
                vec!["/speed"],
            ),
            ("Vehicle", json!({"type": "Car"}), vec!["/doors"]),
            ("Vehicle", json!({"type": "Vehicle"}), vec!["/type"]),
            ("Car", json!({"type": "Car", "doors": 2}), vec![]),
            (
                "Car",
                json!({"type": "SportsCar", "doors": 2}),
                vec!["/speed"],
            ),
            (
                "SportsCar",
                json!({"type": "SportsCar", "doors": 2, "speed": 1}),
                vec![],
            ),
        ];
        for (name, value, expected) in cases {
            assert_eq!(errors(name, &value), expected, "{name}: {value}");
        }
    }

    #[test]
    fn alternatives_dispatch_by_value() {
        let cases = [
            (json!({"shape": "Circle", "radius": 1}), vec![]),
            (json!({"shape": "Square"}), vec![]),
            (json!({"shape": "Circle"}), vec!["/radius"]),
            (json!({"shape": "circle", "radius": 1}), vec!["/shape"]),
        ];
        for (value, expected) in cases {
            assert_eq!(errors("Shape", &value), expected, "{value}");
        }
    }
}
