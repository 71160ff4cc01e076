//! Conversion of OpenAPI 3.0 Schema Objects to JSON Schema draft 2020-12.

use serde_json::{Map, Value, json};

/// OpenAPI 3.0 keywords that JSON Schema does not have. `nullable` is
/// folded into `type` before it is dropped.
const OPENAPI_ONLY: &[&str] = &[
    "nullable",
    "example",
    "xml",
    "externalDocs",
    "discriminator",
];

/// Converts an OpenAPI 3.0 Schema Object to JSON Schema draft 2020-12.
///
/// - `nullable: true` adds `"null"` to `type`. It widens only `type`, so an
///   `enum` accepts null only when it lists null.
/// - A boolean `exclusiveMinimum` or `exclusiveMaximum` becomes the number
///   form, taking the value of `minimum` or `maximum`.
/// - Siblings of `$ref` are dropped, because OpenAPI 3.0 ignores them.
/// - OpenAPI-only keywords and `x-` extensions are dropped.
///
/// Property names are never taken for keywords: the conversion descends only
/// into the keywords whose values are schemas.
///
/// ```
/// use serde_json::json;
///
/// let schema = json!({"type": "string", "nullable": true, "example": "a"});
/// let converted = openapi_schema::to_json_schema(&schema);
/// assert_eq!(converted, json!({"type": ["string", "null"]}));
/// ```
pub fn to_json_schema(schema: &Value) -> Value {
    let Value::Object(object) = schema else {
        return schema.clone();
    };
    if let Some(reference) = object.get("$ref") {
        return json!({ "$ref": reference });
    }
    let mut converted = Map::new();
    for (keyword, value) in object {
        if let Some(value) = convert_keyword(keyword, value) {
            converted.insert(keyword.clone(), value);
        }
    }
    if object.get("nullable") == Some(&Value::Bool(true)) {
        add_null_type(&mut converted);
    }
    convert_exclusive_bound(&mut converted, "exclusiveMinimum", "minimum");
    convert_exclusive_bound(&mut converted, "exclusiveMaximum", "maximum");
    Value::Object(converted)
}

/// Converts every schema of a `components/schemas` map.
pub fn convert_components(schemas: Option<&Value>) -> Value {
    schemas.map_or_else(|| json!({}), convert_map_values)
}

/// Builds the document a validator compiles: the converted `schema` at the
/// root and the converted component schemas at `/components/schemas`, so a
/// `$ref` to `#/components/schemas/Name` resolves as it does in the spec.
///
/// Only the components that `schema` reaches through `$ref`s, directly or
/// through other components, are embedded. So each document, and the
/// validator compiled from it, grows with what the schema uses rather than
/// with the whole spec. When a `$ref` names a component
/// that this cannot find, every component is embedded and the validator
/// resolves the reference.
pub fn root_document(schema: &Value, components: &Value) -> Value {
    let mut root = to_json_schema(schema);
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

fn convert_keyword(keyword: &str, value: &Value) -> Option<Value> {
    if OPENAPI_ONLY.contains(&keyword) || keyword.starts_with("x-") {
        return None;
    }
    let converted = match keyword {
        "properties" => convert_map_values(value),
        "items" | "additionalProperties" | "not" => to_json_schema(value),
        "allOf" | "anyOf" | "oneOf" => convert_array_items(value),
        _ => value.clone(),
    };
    Some(converted)
}

fn convert_map_values(value: &Value) -> Value {
    match value {
        Value::Object(map) => map
            .iter()
            .map(|(name, schema)| (name.clone(), to_json_schema(schema)))
            .collect::<Map<_, _>>()
            .into(),
        other => other.clone(),
    }
}

fn convert_array_items(value: &Value) -> Value {
    match value {
        Value::Array(items) => items.iter().map(to_json_schema).collect(),
        other => other.clone(),
    }
}

/// Adds `"null"` to `type`. OpenAPI 3.0.3 defines `nullable` only together
/// with `type`, so a schema without `type` is left as it is.
fn add_null_type(schema: &mut Map<String, Value>) {
    let Some(Value::String(name)) = schema.get("type") else {
        return;
    };
    let types = json!([name, "null"]);
    schema.insert("type".to_string(), types);
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
        let converted = to_json_schema(&json!({"type": "string", "nullable": true}));
        assert_eq!(converted, json!({"type": ["string", "null"]}));
    }

    #[test]
    fn nullable_leaves_enum_alone() {
        let schema = json!({"type": "string", "enum": ["a"], "nullable": true});
        let converted = to_json_schema(&schema);
        assert_eq!(converted["enum"], json!(["a"]));
    }

    #[test]
    fn nullable_without_type_is_dropped() {
        let converted = to_json_schema(&json!({"nullable": true, "minLength": 1}));
        assert_eq!(converted, json!({"minLength": 1}));
    }

    #[test]
    fn exclusive_minimum_becomes_number() {
        let schema = json!({"type": "integer", "minimum": 0, "exclusiveMinimum": true});
        let converted = to_json_schema(&schema);
        assert_eq!(converted, json!({"type": "integer", "exclusiveMinimum": 0}));
    }

    #[test]
    fn false_exclusive_maximum_is_dropped() {
        let schema = json!({"maximum": 9, "exclusiveMaximum": false});
        assert_eq!(to_json_schema(&schema), json!({"maximum": 9}));
    }

    #[test]
    fn ref_siblings_are_dropped() {
        let schema = json!({"$ref": "#/components/schemas/A", "nullable": true, "type": "object"});
        let converted = to_json_schema(&schema);
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
        assert_eq!(to_json_schema(&schema), json!({"type": "object"}));
    }

    #[test]
    fn property_named_example_is_kept() {
        let schema = json!({"properties": {"example": {"type": "string", "nullable": true}}});
        let converted = to_json_schema(&schema);
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
        let converted = to_json_schema(&schema);
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
        let root = root_document(&json!({"$ref": "#/components/schemas/A"}), &components);
        assert_eq!(
            root["components"]["schemas"]["A"],
            json!({"type": "string"})
        );
        assert_eq!(root["$ref"], "#/components/schemas/A");
    }

    #[test]
    fn root_document_embeds_reached_components() {
        let components = json!({
            "A": {"properties": {"b": {"$ref": "#/components/schemas/B"}}},
            "B": {"items": {"$ref": "#/components/schemas/C/items"}},
            "C": {"items": {"type": "string"}},
            "Unused": {"type": "string"},
        });
        let root = root_document(&json!({"$ref": "#/components/schemas/A"}), &components);
        let embedded = root["components"]["schemas"].as_object().unwrap();
        let names: Vec<&str> = embedded.keys().map(String::as_str).collect();
        assert_eq!(names, ["A", "B", "C"]);
    }

    #[test]
    fn root_document_without_references_embeds_none() {
        let components = json!({"A": {"type": "string"}});
        let root = root_document(&json!({"type": "integer"}), &components);
        assert_eq!(root["components"]["schemas"], json!({}));
    }

    #[test]
    fn unknown_component_embeds_all() {
        let components = json!({"A b": {"type": "string"}, "C": {"type": "integer"}});
        let root = root_document(&json!({"$ref": "#/components/schemas/A%20b"}), &components);
        assert_eq!(root["components"]["schemas"], components);
    }
}
