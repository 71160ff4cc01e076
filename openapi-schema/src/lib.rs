//! Conversion of OpenAPI 3.0 Schema Objects to JSON Schema draft 2020-12,
//! the checks of a document's structure in [`structure`], and YAML merge
//! keys in [`yaml`].

pub mod structure;
pub mod yaml;

mod discriminator;

use serde_json::{Map, Value, json};

pub use discriminator::{Discriminator, component_reference, is_subtype, schema_name};

/// OpenAPI 3.0 keywords that JSON Schema does not have. `nullable` is
/// folded into `type` before it is dropped.
const OPENAPI_ONLY: &[&str] = &[
    "nullable",
    "example",
    "xml",
    "externalDocs",
    "discriminator",
];

/// The message that a schema validates, which sets the properties it
/// requires.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    /// A request: a required `readOnly` property is not required.
    Request,
    /// A response: a required `writeOnly` property is not required.
    Response,
}

impl Direction {
    /// Returns the keyword that marks a property as absent from this
    /// direction's messages.
    fn excluded(self) -> &'static str {
        match self {
            Direction::Request => "readOnly",
            Direction::Response => "writeOnly",
        }
    }
}

/// Converts an OpenAPI 3.0 Schema Object to JSON Schema draft 2020-12.
///
/// - `nullable: true` adds `"null"` to `type`. It widens only `type`, so an
///   `enum` accepts null only when it lists null.
/// - `nullable: true` on a schema without `type` but with `allOf`, `anyOf`
///   or `oneOf`, the usual way to write a nullable reference, becomes
///   `{"if": {"type": "null"}, "else": schema}`.
/// - A boolean `exclusiveMinimum` or `exclusiveMaximum` becomes the number
///   form, taking the value of `minimum` or `maximum`.
/// - An integer `format` such as `int32` or `uint8`, and `float`, add the
///   range of their type as an `allOf` part, as [`format_range`] gives it.
/// - Siblings of `$ref` are dropped, because OpenAPI 3.0 ignores them.
/// - A `discriminator` with `oneOf` or `anyOf` alternatives replaces
///   them with a dispatch on the property's value: the property is
///   required, takes one of the values of [`Discriminator`], and the
///   object is validated against the schema that its value selects. A
///   base schema with a discriminator dispatches the same way, as
///   [`convert_components`] sets up.
/// - OpenAPI-only keywords and `x-` extensions are dropped.
/// - A `readOnly` property leaves `required` in a request, and a
///   `writeOnly` one in a response, because OpenAPI 3.0 applies such a
///   required property to the other direction only.
///
/// Property names are never taken for keywords: the conversion descends only
/// into the keywords whose values are schemas.
///
/// ```
/// use openapi_schema::{Direction, to_json_schema};
/// use serde_json::json;
///
/// let schema = json!({"type": "string", "nullable": true, "example": "a"});
/// let converted = to_json_schema(&schema, Direction::Response);
/// assert_eq!(converted, json!({"type": ["string", "null"]}));
/// ```
///
/// NOTE: a property counts as `readOnly` or `writeOnly` only when its own
/// schema has the keyword, not when it reaches it through a `$ref`.
pub fn to_json_schema(schema: &Value, direction: Direction) -> Value {
    let Value::Object(object) = schema else {
        return schema.clone();
    };
    if let Some(reference) = object.get("$ref") {
        return json!({ "$ref": reference });
    }
    let mut converted = Map::new();
    for (keyword, value) in object {
        if let Some(value) = convert_keyword(keyword, value, direction) {
            converted.insert(keyword.clone(), value);
        }
    }
    convert_exclusive_bound(&mut converted, "exclusiveMinimum", "minimum");
    convert_exclusive_bound(&mut converted, "exclusiveMaximum", "maximum");
    add_format_range(&mut converted);
    drop_excluded_required(object, &mut converted, direction);
    if let Some(discriminator) = Discriminator::of_alternatives(schema) {
        discriminator::replace_alternatives(&mut converted, &discriminator);
    }
    if object.get("nullable") == Some(&Value::Bool(true)) {
        return add_null_type(converted);
    }
    Value::Object(converted)
}

/// Returns the range of the numeric `format`: the integer formats `int8`
/// to `int64` and `uint8` to `uint64`, and `float` (the finite `f32`
/// values). Other formats, `double` included, have none.
///
/// ```
/// let (minimum, maximum) = openapi_schema::format_range("int32").unwrap();
/// assert_eq!((minimum.as_i64(), maximum.as_i64()), (Some(-2147483648), Some(2147483647)));
/// assert!(openapi_schema::format_range("date").is_none());
/// ```
pub fn format_range(format: &str) -> Option<(serde_json::Number, serde_json::Number)> {
    let signed = |bits: u32| {
        let maximum = (1_i64 << (bits - 1)) - 1;
        Some(((-maximum - 1).into(), maximum.into()))
    };
    let unsigned = |maximum: u64| Some((0.into(), maximum.into()));
    match format {
        "int8" => signed(8),
        "int16" => signed(16),
        "int32" => signed(32),
        "int64" => Some((i64::MIN.into(), i64::MAX.into())),
        "uint8" => unsigned(u8::MAX.into()),
        "uint16" => unsigned(u16::MAX.into()),
        "uint32" => unsigned(u32::MAX.into()),
        "uint64" => unsigned(u64::MAX),
        "float" => {
            let maximum = serde_json::Number::from_f64(f64::from(f32::MAX))?;
            let minimum = serde_json::Number::from_f64(f64::from(f32::MIN))?;
            Some((minimum, maximum))
        }
        _ => None,
    }
}

/// Appends the range of the schema's numeric `format` to its `allOf`, so
/// that a value outside the type of the format is invalid.
fn add_format_range(schema: &mut Map<String, Value>) {
    let Some((minimum, maximum)) = schema
        .get("format")
        .and_then(Value::as_str)
        .and_then(format_range)
    else {
        return;
    };
    let range = json!({"minimum": minimum, "maximum": maximum});
    match schema.get_mut("allOf") {
        Some(Value::Array(parts)) => parts.push(range),
        _ => {
            schema.insert("allOf".to_string(), json!([range]));
        }
    }
}

/// Removes from `required` the properties that `direction`'s messages do
/// not carry, as the original `schema` marks them.
fn drop_excluded_required(
    schema: &Map<String, Value>,
    converted: &mut Map<String, Value>,
    direction: Direction,
) {
    let Some(Value::Object(properties)) = schema.get("properties") else {
        return;
    };
    let Some(Value::Array(required)) = converted.get_mut("required") else {
        return;
    };
    let keyword = direction.excluded();
    required.retain(|name| {
        let property = name.as_str().and_then(|name| properties.get(name));
        property.and_then(|property| property.get(keyword)) != Some(&Value::Bool(true))
    });
}

/// The schemas of a document's `components/schemas` map, converted once
/// for each direction.
pub struct Components {
    request: Value,
    response: Value,
}

impl Components {
    /// Converts every schema of a `components/schemas` map, or of none.
    pub fn new(schemas: Option<&Value>) -> Self {
        Components {
            request: convert_components(schemas, Direction::Request),
            response: convert_components(schemas, Direction::Response),
        }
    }

    /// Builds the document a validator of `direction` compiles from
    /// `schema`, as [`root_document`] does.
    pub fn root_document(&self, schema: &Value, direction: Direction) -> Value {
        let components = match direction {
            Direction::Request => &self.request,
            Direction::Response => &self.response,
        };
        root_document(schema, components, direction)
    }
}

/// Converts every schema of a `components/schemas` map.
///
/// A component with a `discriminator` and no `oneOf` or `anyOf` is the
/// base of the component schemas that extend it through `allOf` (see
/// [`is_subtype`]). A reference to it dispatches on the property's value
/// to the schema that the value selects, as [`Discriminator::of_base`]
/// reads them, while each subtype's `allOf` keeps the base's own keywords
/// without the dispatch.
pub fn convert_components(schemas: Option<&Value>, direction: Direction) -> Value {
    let Some(schemas) = schemas else {
        return json!({});
    };
    let mut converted = convert_map_values(schemas, direction);
    if let (Value::Object(original), Value::Object(components)) = (schemas, &mut converted) {
        discriminator::add_dispatch(original, components);
    }
    converted
}

/// Builds the document a validator compiles: `schema` converted for
/// `direction` at the
/// root and the converted component schemas at `/components/schemas`, so a
/// `$ref` to `#/components/schemas/Name` resolves as it does in the spec.
///
/// Only the components that `schema` reaches through `$ref`s, directly or
/// through other components, are embedded. So each document, and the
/// validator compiled from it, grows with what the schema uses rather than
/// with the whole spec. When a `$ref` names a component
/// that this cannot find, every component is embedded and the validator
/// resolves the reference.
pub fn root_document(schema: &Value, components: &Value, direction: Direction) -> Value {
    let mut root = to_json_schema(schema, direction);
    let reached = reached_components(&root, components);
    if let Value::Object(map) = &mut root {
        map.insert("components".to_string(), json!({ "schemas": reached }));
    }
    root
}

/// Returns the part of the `components` map that `schema` reaches through
/// `$ref`s, or the whole map when a reference names no component in it.
fn reached_components(schema: &Value, components: &Value) -> Value {
    let Value::Object(all) = components else {
        return components.clone();
    };
    let mut pending = Vec::new();
    collect_references(schema, &mut pending);
    let mut reached = Map::new();
    while let Some(reference) = pending.pop() {
        let Some(name) = component_name(reference) else {
            continue;
        };
        if reached.contains_key(&name) {
            continue;
        }
        let Some(component) = all.get(&name) else {
            return components.clone();
        };
        collect_references(component, &mut pending);
        reached.insert(name, component.clone());
    }
    Value::Object(reached)
}

/// Appends every string `$ref` inside `value` to `references`.
fn collect_references<'a>(value: &'a Value, references: &mut Vec<&'a str>) {
    match value {
        Value::Object(map) => {
            if let Some(Value::String(reference)) = map.get("$ref") {
                references.push(reference);
            }
            for nested in map.values() {
                collect_references(nested, references);
            }
        }
        Value::Array(items) => {
            for nested in items {
                collect_references(nested, references);
            }
        }
        _ => {}
    }
}

/// Returns the component name of a reference such as
/// `#/components/schemas/Name` or `#/components/schemas/Name/items`, with
/// its JSON pointer escapes decoded.
fn component_name(reference: &str) -> Option<String> {
    let rest = reference.strip_prefix("#/components/schemas/")?;
    let token = rest.split('/').next().unwrap_or_default();
    Some(token.replace("~1", "/").replace("~0", "~"))
}

fn convert_keyword(keyword: &str, value: &Value, direction: Direction) -> Option<Value> {
    if OPENAPI_ONLY.contains(&keyword) || keyword.starts_with("x-") {
        return None;
    }
    let converted = match keyword {
        "properties" => convert_map_values(value, direction),
        "items" | "additionalProperties" | "not" => to_json_schema(value, direction),
        "allOf" | "anyOf" | "oneOf" => convert_array_items(value, direction),
        _ => value.clone(),
    };
    Some(converted)
}

fn convert_map_values(value: &Value, direction: Direction) -> Value {
    match value {
        Value::Object(map) => map
            .iter()
            .map(|(name, schema)| (name.clone(), to_json_schema(schema, direction)))
            .collect::<Map<_, _>>()
            .into(),
        other => other.clone(),
    }
}

fn convert_array_items(value: &Value, direction: Direction) -> Value {
    match value {
        Value::Array(items) => items
            .iter()
            .map(|item| to_json_schema(item, direction))
            .collect(),
        other => other.clone(),
    }
}

/// Adds `"null"` to `type`. OpenAPI 3.0.3 defines `nullable` only together
/// with `type`. A schema without `type` but with `allOf`, `anyOf` or
/// `oneOf` is taken to accept null too, as typify types a nullable `allOf`
/// reference as an `Option`. Other schemas without `type` are left as
/// they are.
fn add_null_type(mut schema: Map<String, Value>) -> Value {
    if let Some(Value::String(name)) = schema.get("type") {
        let types = json!([name, "null"]);
        schema.insert("type".to_string(), types);
        return Value::Object(schema);
    }
    let composed = ["allOf", "anyOf", "oneOf"]
        .iter()
        .any(|keyword| schema.contains_key(*keyword));
    if !composed {
        return Value::Object(schema);
    }
    // `if` and `else` rather than `anyOf`, so that the errors of a value
    // other than null still name its invalid fields.
    json!({"if": {"type": "null"}, "else": schema})
}

fn convert_exclusive_bound(schema: &mut Map<String, Value>, exclusive: &str, bound: &str) {
    match schema.get(exclusive) {
        Some(Value::Bool(true)) => match schema.remove(bound) {
            Some(limit) => {
                schema.insert(exclusive.to_string(), limit);
            }
            None => {
                schema.remove(exclusive);
            }
        },
        Some(Value::Bool(false)) => {
            schema.remove(exclusive);
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nullable_adds_null_type() {
        let converted = to_json_schema(
            &json!({"type": "string", "nullable": true}),
            Direction::Response,
        );
        assert_eq!(converted, json!({"type": ["string", "null"]}));
    }

    #[test]
    fn nullable_leaves_enum_alone() {
        let schema = json!({"type": "string", "enum": ["a"], "nullable": true});
        let converted = to_json_schema(&schema, Direction::Response);
        assert_eq!(converted["enum"], json!(["a"]));
    }

    #[test]
    fn nullable_without_type_is_dropped() {
        let converted = to_json_schema(
            &json!({"nullable": true, "minLength": 1}),
            Direction::Response,
        );
        assert_eq!(converted, json!({"minLength": 1}));
    }

    #[test]
    fn nullable_all_of_accepts_null() {
        let schema = json!({"nullable": true, "allOf": [{"$ref": "#/components/schemas/A"}]});
        let converted = to_json_schema(&schema, Direction::Request);
        let expected = json!({
            "if": {"type": "null"},
            "else": {"allOf": [{"$ref": "#/components/schemas/A"}]},
        });
        assert_eq!(converted, expected);
    }

    #[test]
    fn integer_format_adds_range() {
        let schema = json!({"type": "integer", "format": "int32", "allOf": [{"minimum": 1}]});
        let converted = to_json_schema(&schema, Direction::Request);
        let range = json!({"minimum": -2_147_483_648_i64, "maximum": 2_147_483_647});
        assert_eq!(converted["allOf"], json!([{"minimum": 1}, range]));
        let unsigned = to_json_schema(&json!({"format": "uint64"}), Direction::Request);
        assert_eq!(unsigned["allOf"][0]["maximum"], json!(u64::MAX));
    }

    #[test]
    fn exclusive_minimum_becomes_number() {
        let schema = json!({"type": "integer", "minimum": 0, "exclusiveMinimum": true});
        let converted = to_json_schema(&schema, Direction::Response);
        assert_eq!(converted, json!({"type": "integer", "exclusiveMinimum": 0}));
    }

    #[test]
    fn false_exclusive_maximum_is_dropped() {
        let schema = json!({"maximum": 9, "exclusiveMaximum": false});
        assert_eq!(
            to_json_schema(&schema, Direction::Response),
            json!({"maximum": 9})
        );
    }

    #[test]
    fn ref_siblings_are_dropped() {
        let schema = json!({"$ref": "#/components/schemas/A", "nullable": true, "type": "object"});
        let converted = to_json_schema(&schema, Direction::Response);
        assert_eq!(converted, json!({"$ref": "#/components/schemas/A"}));
    }

    #[test]
    fn openapi_keywords_are_dropped() {
        let schema = json!({
            "type": "object",
            "example": {},
            "xml": {"name": "a"},
            "externalDocs": {"url": "https://example.com"},
            "discriminator": {"propertyName": "kind"},
            "x-internal": true,
        });
        assert_eq!(
            to_json_schema(&schema, Direction::Response),
            json!({"type": "object"})
        );
    }

    #[test]
    fn property_named_example_is_kept() {
        let schema = json!({"properties": {"example": {"type": "string", "nullable": true}}});
        let converted = to_json_schema(&schema, Direction::Response);
        let property = &converted["properties"]["example"];
        assert_eq!(property, &json!({"type": ["string", "null"]}));
    }

    #[test]
    fn nested_schemas_are_converted() {
        let schema = json!({
            "items": {"type": "string", "nullable": true},
            "additionalProperties": {"type": "integer", "nullable": true},
            "oneOf": [{"type": "boolean", "nullable": true}],
        });
        let converted = to_json_schema(&schema, Direction::Response);
        assert_eq!(converted["items"]["type"], json!(["string", "null"]));
        assert_eq!(
            converted["additionalProperties"]["type"],
            json!(["integer", "null"])
        );
        assert_eq!(converted["oneOf"][0]["type"], json!(["boolean", "null"]));
    }

    #[test]
    fn root_document_keeps_component_path() {
        let components = json!({"A": {"type": "string"}});
        let root = root_document(
            &json!({"$ref": "#/components/schemas/A"}),
            &components,
            Direction::Response,
        );
        assert_eq!(
            root["components"]["schemas"]["A"],
            json!({"type": "string"})
        );
        assert_eq!(root["$ref"], "#/components/schemas/A");
    }

    #[test]
    fn read_only_not_required_in_request() {
        let schema = json!({
            "required": ["id", "name", "secret"],
            "properties": {
                "id": {"type": "string", "readOnly": true},
                "name": {"type": "string"},
                "secret": {"type": "string", "writeOnly": true},
            },
        });
        let request = to_json_schema(&schema, Direction::Request);
        assert_eq!(request["required"], json!(["name", "secret"]));
        let response = to_json_schema(&schema, Direction::Response);
        assert_eq!(response["required"], json!(["id", "name"]));
    }

    #[test]
    fn read_only_in_all_of_part() {
        let schema = json!({"allOf": [{
            "required": ["id"],
            "properties": {"id": {"readOnly": true}},
        }]});
        let request = to_json_schema(&schema, Direction::Request);
        assert_eq!(request["allOf"][0]["required"], json!([]));
    }

    #[test]
    fn root_document_embeds_reached_components() {
        let components = json!({
            "A": {"properties": {"b": {"$ref": "#/components/schemas/B"}}},
            "B": {"items": {"$ref": "#/components/schemas/C/items"}},
            "C": {"items": {"type": "string"}},
            "Unused": {"type": "string"},
        });
        let root = root_document(
            &json!({"$ref": "#/components/schemas/A"}),
            &components,
            Direction::Response,
        );
        let embedded = root["components"]["schemas"].as_object().unwrap();
        let names: Vec<&str> = embedded.keys().map(String::as_str).collect();
        assert_eq!(names, ["A", "B", "C"]);
    }

    #[test]
    fn root_document_without_references_embeds_none() {
        let components = json!({"A": {"type": "string"}});
        let root = root_document(
            &json!({"type": "integer"}),
            &components,
            Direction::Response,
        );
        assert_eq!(root["components"]["schemas"], json!({}));
    }

    #[test]
    fn unknown_component_embeds_all() {
        let components = json!({"A b": {"type": "string"}, "C": {"type": "integer"}});
        let root = root_document(
            &json!({"$ref": "#/components/schemas/A%20b"}),
            &components,
            Direction::Response,
        );
        assert_eq!(root["components"]["schemas"], components);
    }
}
