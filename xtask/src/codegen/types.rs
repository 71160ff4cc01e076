//! Rust types for the spec's schemas, built with typify as progenitor does, so
//! that the client and the server stubs share one definition of each type.

use std::collections::BTreeMap;

use openapiv3::{OpenAPI, ReferenceOr, Schema};
use proc_macro2::TokenStream;
use serde_json::Value;
use typify::{TypeSpace, TypeSpaceSettings};

use super::panics::catch_quietly;
use super::spec::{SpecError, escape_segment};

/// Map type of free-form objects: ordered, so serialised output is stable.
pub const MAP_TYPE: &str = "::std::collections::BTreeMap";

const SCHEMA_REF_PREFIX: &str = "#/components/schemas/";

/// The typify type space of the spec, with `#/components/schemas` loaded.
pub struct Types {
    space: TypeSpace,
    /// Names of the component schemas.
    components: std::collections::BTreeSet<String>,
}

impl Types {
    /// Converts every component schema and adds it to a new type space.
    pub fn new(api: &OpenAPI) -> Result<Self, SpecError> {
        let mut space = TypeSpace::new(&settings());
        let mut definitions = BTreeMap::new();
        if let Some(components) = &api.components {
            for (name, schema) in &components.schemas {
                let pointer = format!("/components/schemas/{}", escape_segment(name));
                definitions.insert(name.clone(), to_json_schema(schema, &pointer)?);
            }
        }
        let added = guarded("/components/schemas", || {
            space.add_ref_types(definitions.clone())
        })
        .and_then(|result| {
            result.map_err(|error| SpecError::new("/components/schemas", error.to_string()))
        });
        if let Err(error) = added {
            return Err(locate_component_error(&definitions).unwrap_or(error));
        }
        let components = api
            .components
            .iter()
            .flat_map(|components| components.schemas.keys().cloned())
            .collect();
        Ok(Types { space, components })
    }

    /// Returns the Rust type of `schema`, adding it under `name` when it is
    /// an inline schema that needs a type of its own.
    pub fn type_of(
        &mut self,
        schema: &ReferenceOr<Schema>,
        name: &str,
        pointer: &str,
    ) -> Result<TokenStream, SpecError> {
        let json_schema = to_json_schema(schema, pointer)?;
        let space = &mut self.space;
        let id = guarded(pointer, || {
            space.add_type_with_name(&json_schema, Some(name.to_string()))
        })?
        .map_err(|error| SpecError::new(pointer, error.to_string()))?;
        let typ = self
            .space
            .get_type(&id)
            .map_err(|error| SpecError::new(pointer, error.to_string()))?;
        Ok(typ.ident())
    }

    /// Emits the definitions of every type, for the `types` module.
    ///
    /// Fails when two definitions share a name, which typify 0.8 produces
    /// for a named schema that is `nullable` without a `type`.
    pub fn to_stream(&self) -> Result<TokenStream, SpecError> {
        let tokens = guarded("/components/schemas", || self.space.to_stream())?;
        let file: syn::File = syn::parse2(tokens.clone())
            .map_err(|error| SpecError::new("/components/schemas", error.to_string()))?;
        let mut names = std::collections::BTreeSet::new();
        for item in &file.items {
            if let syn::Item::Struct(item) = item {
                check_unique_fields(item, &self.components)?;
            }
            let name = match item {
                syn::Item::Struct(item) => &item.ident,
                syn::Item::Enum(item) => &item.ident,
                syn::Item::Type(item) => &item.ident,
                _ => continue,
            };
            if !names.insert(name.to_string()) {
                return Err(SpecError::new(
                    format!("/components/schemas/{}", escape_segment(&name.to_string())),
                    format!(
                        "typify generates two types named `{name}`; \
                         give a nullable schema a `type`, or write it inline where it is used"
                    ),
                ));
            }
        }
        Ok(tokens)
    }
}

/// Returns the settings of the type space, which match progenitor's.
fn settings() -> TypeSpaceSettings {
    let mut settings = TypeSpaceSettings::default();
    settings
        .with_type_mod("types")
        .with_struct_builder(true)
        .with_map_type(MAP_TYPE);
    settings
}

/// Converts the component schemas one at a time, each beside the others
/// as schemas that accept anything, and returns the error of the first
/// one that typify cannot convert, located at that schema.
fn locate_component_error(
    definitions: &BTreeMap<String, schemars::schema::Schema>,
) -> Option<SpecError> {
    definitions.keys().find_map(|name| {
        let alone: BTreeMap<String, schemars::schema::Schema> = definitions
            .iter()
            .map(|(other, schema)| match other == name {
                true => (other.clone(), schema.clone()),
                false => (other.clone(), schemars::schema::Schema::Bool(true)),
            })
            .collect();
        let pointer = format!("/components/schemas/{}", escape_segment(name));
        let mut space = TypeSpace::new(&settings());
        match guarded(&pointer, || space.add_ref_types(alone)) {
            Ok(Ok(())) => None,
            Ok(Err(error)) => Some(SpecError::new(pointer, error.to_string())),
            Err(error) => Some(error),
        }
    })
}

/// Fails when typify gives two properties of one object the same Rust
/// field, such as `a_b` for `a-b` and `a_b`. The error points to the
/// component schema of the type's name, or to `/paths` for the type of an
/// inline schema, such as `PostABody`.
fn check_unique_fields(
    item: &syn::ItemStruct,
    components: &std::collections::BTreeSet<String>,
) -> Result<(), SpecError> {
    let mut fields = std::collections::BTreeSet::new();
    for field in &item.fields {
        let Some(ident) = &field.ident else {
            continue;
        };
        if !fields.insert(ident.to_string()) {
            let name = item.ident.to_string();
            let pointer = if components.contains(&name) {
                format!("/components/schemas/{}", escape_segment(&name))
            } else {
                "/paths".to_string()
            };
            return Err(SpecError::new(
                pointer,
                format!(
                    "typify names two properties of type `{name}` `{ident}`; rename one so \
                     that their snake_case names differ"
                ),
            ));
        }
    }
    Ok(())
}

/// Converts an OpenAPI 3.0 schema into the JSON Schema that typify reads:
/// `nullable: true` becomes a `null` member of `type`, and only local
/// `#/components/schemas/` references are accepted.
fn to_json_schema(
    schema: &ReferenceOr<Schema>,
    pointer: &str,
) -> Result<schemars::schema::Schema, SpecError> {
    let value = json_schema_value(schema, pointer)?;
    serde_json::from_value(value)
        .map_err(|error| SpecError::new(pointer, format!("unsupported schema: {error}")))
}

/// Converts an OpenAPI 3.0 schema into JSON Schema as a JSON value, with the
/// same rules as the Rust types.
pub fn json_schema_value(schema: &ReferenceOr<Schema>, pointer: &str) -> Result<Value, SpecError> {
    let mut value = serde_json::to_value(schema)
        .map_err(|error| SpecError::new(pointer, format!("cannot read schema: {error}")))?;
    convert(&mut value, pointer)?;
    Ok(value)
}

fn convert(value: &mut Value, pointer: &str) -> Result<(), SpecError> {
    let Value::Object(object) = value else {
        return Ok(());
    };

    if let Some(reference) = object.get("$ref") {
        let reference = reference.as_str().unwrap_or_default();
        if !reference.starts_with(SCHEMA_REF_PREFIX) {
            return Err(SpecError::new(
                pointer,
                format!("$ref `{reference}` is not a local {SCHEMA_REF_PREFIX} reference"),
            ));
        }
        return Ok(());
    }

    check_typify_support(object, pointer)?;

    // OpenAPI-only keywords that JSON Schema does not define.
    for keyword in ["example", "xml", "externalDocs"] {
        object.remove(keyword);
    }
    convert_exclusive_bounds(object);
    let nullable = object.remove("nullable") == Some(Value::Bool(true));
    if nullable && !object.contains_key("type") {
        convert_children(object, pointer)?;
        wrap_nullable(object);
        return Ok(());
    }
    if nullable {
        match object.get_mut("type") {
            Some(Value::String(typ)) => {
                let typ = std::mem::take(typ);
                object.insert("type".into(), Value::from(vec![typ, "null".into()]));
            }
            _ => {
                return Err(SpecError::new(
                    format!("{pointer}/type"),
                    "the type of a nullable schema must be a single string",
                ));
            }
        }
        if let Some(Value::Array(members)) = object.get_mut("enum")
            && !members.contains(&Value::Null)
        {
            members.push(Value::Null);
        }
    }

    convert_children(object, pointer)
}

/// Rewrites OpenAPI 3.0's `exclusiveMinimum: true` beside `minimum` as JSON
/// Schema's `exclusiveMinimum` holding the bound, and likewise the maximum.
fn convert_exclusive_bounds(object: &mut serde_json::Map<String, Value>) {
    for (flag, bound) in [
        ("exclusiveMinimum", "minimum"),
        ("exclusiveMaximum", "maximum"),
    ] {
        if let Some(Value::Bool(exclusive)) = object.get(flag) {
            let exclusive = *exclusive;
            object.remove(flag);
            if exclusive && let Some(value) = object.remove(bound) {
                object.insert(flag.to_string(), value);
            }
        }
    }
}

/// Rejects the constructs on which typify 0.8 panics instead of returning
/// an error.
fn check_typify_support(
    object: &serde_json::Map<String, Value>,
    pointer: &str,
) -> Result<(), SpecError> {
    if object.contains_key("not") {
        return Err(SpecError::new(
            format!("{pointer}/not"),
            "`not` is not supported, because typify 0.8 cannot convert it; remove it, or \
             list the allowed values instead",
        ));
    }
    if let (None, Some(Value::Array(values))) = (object.get("type"), object.get("enum")) {
        let kinds: std::collections::BTreeSet<&str> = values
            .iter()
            .filter(|value| !value.is_null())
            .map(|value| match value {
                Value::Bool(_) => "boolean",
                Value::Number(_) => "number",
                Value::String(_) => "string",
                Value::Array(_) => "array",
                _ => "object",
            })
            .collect();
        if kinds.len() > 1 {
            return Err(SpecError::new(
                format!("{pointer}/enum"),
                format!(
                    "an enum without `type` mixes {} values, which typify 0.8 cannot \
                     convert; give it a `type` and values of that type",
                    kinds.into_iter().collect::<Vec<_>>().join(", ")
                ),
            ));
        }
    }
    Ok(())
}

/// Runs a typify call, turning a panic into an error at `pointer`: typify
/// 0.8 panics on some schemas that the checks above do not catch.
fn guarded<T>(pointer: &str, call: impl FnOnce() -> T) -> Result<T, SpecError> {
    catch_quietly(call).map_err(|message| {
        SpecError::new(
            pointer,
            format!("typify cannot convert the schema: {message}"),
        )
    })
}

/// Rewrites a nullable schema without `type` as `oneOf: [null, schema]`,
/// with its annotations on the outer schema, as progenitor does.
fn wrap_nullable(object: &mut serde_json::Map<String, Value>) {
    const ANNOTATIONS: [&str; 6] = [
        "title",
        "description",
        "default",
        "deprecated",
        "readOnly",
        "writeOnly",
    ];
    let mut outer = serde_json::Map::new();
    let keys: Vec<String> = object.keys().cloned().collect();
    for key in keys {
        if ANNOTATIONS.contains(&key.as_str()) || key.starts_with("x-") {
            let value = object.remove(&key).expect("the key was just listed");
            outer.insert(key, value);
        }
    }
    let inner = std::mem::take(object);
    outer.insert(
        "oneOf".into(),
        Value::from(vec![
            serde_json::json!({"type": "null"}),
            Value::Object(inner),
        ]),
    );
    *object = outer;
}

fn convert_children(
    object: &mut serde_json::Map<String, Value>,
    pointer: &str,
) -> Result<(), SpecError> {
    for keyword in ["properties"] {
        if let Some(Value::Object(properties)) = object.get_mut(keyword) {
            for (name, property) in properties.iter_mut() {
                let child = format!("{pointer}/{keyword}/{}", escape_segment(name));
                convert(property, &child)?;
            }
        }
    }
    for keyword in ["items", "additionalProperties", "not"] {
        if let Some(child) = object.get_mut(keyword) {
            convert(child, &format!("{pointer}/{keyword}"))?;
        }
    }
    for keyword in ["allOf", "oneOf", "anyOf"] {
        if let Some(Value::Array(members)) = object.get_mut(keyword) {
            for (index, member) in members.iter_mut().enumerate() {
                convert(member, &format!("{pointer}/{keyword}/{index}"))?;
            }
        }
    }
    Ok(())
}
