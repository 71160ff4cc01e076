//! The model of an operation's parameters: path, query, header and cookie
//! parameters of the scalar types the server stubs can decode, and arrays
//! of them in the query.

use openapiv3::{
    OpenAPI, Parameter, ParameterData, ParameterSchemaOrContent, PathStyle, QueryStyle,
    ReferenceOr, Schema, SchemaKind, Type,
};

use super::model::resolve;
use super::spec::{SpecError, escape_segment};

/// The location of a parameter in a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Location {
    Path,
    Query,
    Header,
    Cookie,
}

impl Location {
    pub fn as_str(self) -> &'static str {
        match self {
            Location::Path => "path",
            Location::Query => "query",
            Location::Header => "header",
            Location::Cookie => "cookie",
        }
    }
}

/// The value type of a parameter, with its bounds and default.
#[derive(Clone, Debug, PartialEq)]
pub enum ParamKind {
    String {
        default: Option<String>,
        rules: StringRules,
    },
    Integer {
        minimum: Option<i64>,
        maximum: Option<i64>,
        default: Option<i64>,
    },
    /// A number, whose bounds carry their `exclusiveMinimum` and
    /// `exclusiveMaximum` flags.
    Number {
        minimum: Option<NumberBound>,
        maximum: Option<NumberBound>,
        default: Option<f64>,
    },
    Boolean {
        default: Option<bool>,
    },
    /// A string with an `enum` list, whose Rust type is typify's enum.
    Enum {
        values: Vec<String>,
        default: Option<String>,
    },
}

/// A `minimum` or `maximum` of a number parameter, and whether the value
/// itself is excluded.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct NumberBound {
    pub value: f64,
    pub exclusive: bool,
}

/// The `minLength`, `maxLength` and `pattern` of a string parameter,
/// which the server checks after decoding the value.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct StringRules {
    pub min_length: Option<usize>,
    pub max_length: Option<usize>,
    pub pattern: Option<String>,
}

impl StringRules {
    /// Returns whether the schema constrains the string at all.
    pub fn is_empty(&self) -> bool {
        self == &StringRules::default()
    }
}

impl ParamKind {
    /// Returns whether the schema gives a default, so a missing value is
    /// never `None`.
    pub fn has_default(&self) -> bool {
        match self {
            ParamKind::String { default, .. } | ParamKind::Enum { default, .. } => {
                default.is_some()
            }
            ParamKind::Integer { default, .. } => default.is_some(),
            ParamKind::Number { default, .. } => default.is_some(),
            ParamKind::Boolean { default } => default.is_some(),
        }
    }
}

/// One parameter of an operation.
#[derive(Clone, Debug)]
pub struct Param {
    /// Name as sent: the path template name, query key or header name.
    pub name: String,
    pub location: Location,
    pub description: Option<String>,
    pub required: bool,
    /// The value type, or the item type of an array.
    pub kind: ParamKind,
    /// Whether the value is an array, sent as a repeated query parameter
    /// (`form` style, `explode: true`).
    pub array: bool,
    /// The parameter's schema, as written, for the shared type space.
    pub schema: ReferenceOr<Schema>,
    /// JSON pointer of the parameter's schema.
    pub pointer: String,
}

/// Builds the parameters of an operation, resolving `$ref` parameters and
/// schemas, and rejecting the kinds the server stubs cannot decode.
pub fn build(
    api: &OpenAPI,
    parameters: &[ReferenceOr<Parameter>],
    pointer: &str,
) -> Result<Vec<Param>, SpecError> {
    let mut params: Vec<Param> = Vec::new();
    for (index, parameter) in parameters.iter().enumerate() {
        let parameter_pointer = format!("{pointer}/parameters/{index}");
        let parameter = resolve(api, parameter, &parameter_pointer, |components, name| {
            components.parameters.get(name)
        })?;
        let Some(param) = param(api, parameter, &parameter_pointer)? else {
            continue;
        };
        let duplicate = params.iter().any(|other| {
            other.location == param.location
                && match param.location {
                    Location::Header => other.name.eq_ignore_ascii_case(&param.name),
                    _ => other.name == param.name,
                }
        });
        if duplicate {
            return Err(SpecError::new(
                parameter_pointer,
                format!(
                    "the operation declares the {} parameter `{}` twice",
                    param.location.as_str(),
                    param.name
                ),
            ));
        }
        params.push(param);
    }
    Ok(params)
}

/// Builds one parameter. A header parameter named `Accept`, `Content-Type`
/// or `Authorization` is `None`, because OpenAPI 3.0 ignores it.
fn param(api: &OpenAPI, parameter: &Parameter, pointer: &str) -> Result<Option<Param>, SpecError> {
    let (data, location) = match parameter {
        Parameter::Path {
            parameter_data,
            style,
        } => {
            if !matches!(style, PathStyle::Simple) {
                return Err(SpecError::new(
                    format!("{pointer}/style"),
                    "only the `simple` style of path parameters is supported",
                ));
            }
            (parameter_data, Location::Path)
        }
        Parameter::Query {
            parameter_data,
            style,
            ..
        } => {
            if !matches!(style, QueryStyle::Form) {
                return Err(SpecError::new(
                    format!("{pointer}/style"),
                    "only the `form` style of query parameters is supported",
                ));
            }
            (parameter_data, Location::Query)
        }
        Parameter::Header { parameter_data, .. } => (parameter_data, Location::Header),
        Parameter::Cookie { parameter_data, .. } => (parameter_data, Location::Cookie),
    };
    if location == Location::Header && is_reserved_header(&data.name) {
        return Ok(None);
    }
    let (schema, schema_pointer) = parameter_schema(data, pointer)?;
    let (kind, array) = match array_items(api, schema, &schema_pointer)? {
        Some((items, items_pointer)) => (param_kind(api, &items, &items_pointer)?, true),
        None => (param_kind(api, schema, &schema_pointer)?, false),
    };

    if array && location != Location::Query {
        return Err(SpecError::new(
            &schema_pointer,
            format!(
                "an array {} parameter is not supported; only query parameters can be arrays",
                location.as_str()
            ),
        ));
    }
    if array && data.explode == Some(false) {
        return Err(SpecError::new(
            format!("{pointer}/explode"),
            "an array query parameter must use `explode: true`, the default, as progenitor's \
             client sends one `name=value` pair per item",
        ));
    }
    if array && kind.has_default() {
        return Err(SpecError::new(
            &schema_pointer,
            "a default on an array parameter is not supported; remove it",
        ));
    }
    if location == Location::Path && !data.required {
        return Err(SpecError::new(
            format!("{pointer}/required"),
            "a path parameter must be required",
        ));
    }

    Ok(Some(Param {
        name: data.name.clone(),
        location,
        description: data.description.clone(),
        required: data.required,
        kind,
        array,
        schema: schema.clone(),
        pointer: schema_pointer,
    }))
}

/// Returns the items schema of an array schema, and its pointer.
fn array_items(
    api: &OpenAPI,
    schema: &ReferenceOr<Schema>,
    pointer: &str,
) -> Result<Option<(ReferenceOr<Schema>, String)>, SpecError> {
    let (schema, pointer) = resolve_schema(api, schema, pointer)?;
    let SchemaKind::Type(Type::Array(array)) = &schema.schema_kind else {
        return Ok(None);
    };
    match &array.items {
        Some(items) => Ok(Some((items.clone().unbox(), format!("{pointer}/items")))),
        None => Err(SpecError::new(pointer, "an array parameter needs `items`")),
    }
}

/// Resolves a reference to `#/components/schemas`, returning the schema
/// and its pointer.
fn resolve_schema<'a>(
    api: &'a OpenAPI,
    schema: &'a ReferenceOr<Schema>,
    pointer: &str,
) -> Result<(&'a Schema, String), SpecError> {
    match schema {
        ReferenceOr::Item(schema) => Ok((schema, pointer.to_string())),
        ReferenceOr::Reference { reference } => {
            let name = reference
                .strip_prefix("#/components/schemas/")
                .unwrap_or_default();
            let target = resolve(api, schema, pointer, |components, name| {
                components.schemas.get(name)
            })?;
            Ok((
                target,
                format!("/components/schemas/{}", escape_segment(name)),
            ))
        }
    }
}

/// Returns `pattern` when regress, the ECMA 262 engine of the generated
/// checks, compiles it.
fn checked_pattern(pattern: &str, pointer: &str) -> Result<String, SpecError> {
    match regress::Regex::new(pattern) {
        Ok(_) => Ok(pattern.to_string()),
        Err(error) => Err(SpecError::new(
            format!("{pointer}/pattern"),
            format!("the pattern is not a valid ECMA 262 regular expression: {error}"),
        )),
    }
}

/// Headers that OpenAPI 3.0 ignores as header parameters.
fn is_reserved_header(name: &str) -> bool {
    ["accept", "content-type", "authorization"].contains(&name.to_ascii_lowercase().as_str())
}

fn parameter_schema<'a>(
    data: &'a ParameterData,
    pointer: &str,
) -> Result<(&'a ReferenceOr<Schema>, String), SpecError> {
    match &data.format {
        ParameterSchemaOrContent::Schema(schema) => Ok((schema, format!("{pointer}/schema"))),
        ParameterSchemaOrContent::Content(_) => Err(SpecError::new(
            format!("{pointer}/content"),
            "a parameter with `content` is not supported; give it a `schema`",
        )),
    }
}

/// Reads the value type of a parameter schema, resolving a reference to
/// `#/components/schemas`.
fn param_kind(
    api: &OpenAPI,
    schema: &ReferenceOr<Schema>,
    pointer: &str,
) -> Result<ParamKind, SpecError> {
    let (schema, pointer) = resolve_schema(api, schema, pointer)?;
    let unsupported = || {
        SpecError::new(
            &pointer,
            "a parameter schema must be a string, string enum, integer, number or boolean, \
             or an array of one in the query",
        )
    };
    if schema.schema_data.nullable {
        return Err(SpecError::new(
            &pointer,
            "a nullable parameter is not supported; make it optional instead",
        ));
    }
    let default = schema.schema_data.default.as_ref();
    let invalid_default = || {
        SpecError::new(
            format!("{pointer}/default"),
            "the default does not have the schema's type",
        )
    };
    let kind = match &schema.schema_kind {
        SchemaKind::Type(Type::String(string)) if string.enumeration.is_empty() => {
            ParamKind::String {
                default: default
                    .map(|value| {
                        value
                            .as_str()
                            .map(str::to_string)
                            .ok_or_else(invalid_default)
                    })
                    .transpose()?,
                rules: StringRules {
                    min_length: string.min_length,
                    max_length: string.max_length,
                    pattern: string
                        .pattern
                        .as_ref()
                        .map(|pattern| checked_pattern(pattern, &pointer))
                        .transpose()?,
                },
            }
        }
        SchemaKind::Type(Type::String(string)) => {
            let values: Vec<String> = string
                .enumeration
                .iter()
                .map(|value| value.clone().ok_or_else(unsupported))
                .collect::<Result<_, _>>()?;
            let default = default
                .map(|value| {
                    value
                        .as_str()
                        .filter(|value| values.iter().any(|allowed| allowed == value))
                        .map(str::to_string)
                        .ok_or_else(invalid_default)
                })
                .transpose()?;
            ParamKind::Enum { values, default }
        }
        SchemaKind::Type(Type::Integer(integer)) => {
            numeric_keywords(
                !integer.enumeration.is_empty(),
                integer.multiple_of.is_some(),
                &pointer,
            )?;
            let minimum = integer
                .minimum
                .map(|minimum| minimum + i64::from(integer.exclusive_minimum));
            let maximum = integer
                .maximum
                .map(|maximum| maximum - i64::from(integer.exclusive_maximum));
            ParamKind::Integer {
                minimum,
                maximum,
                default: default
                    .map(|value| value.as_i64().ok_or_else(invalid_default))
                    .transpose()?,
            }
        }
        SchemaKind::Type(Type::Number(number)) => {
            numeric_keywords(
                !number.enumeration.is_empty(),
                number.multiple_of.is_some(),
                &pointer,
            )?;
            let bound =
                |value: Option<f64>, exclusive| value.map(|value| NumberBound { value, exclusive });
            ParamKind::Number {
                minimum: bound(number.minimum, number.exclusive_minimum),
                maximum: bound(number.maximum, number.exclusive_maximum),
                default: default
                    .map(|value| value.as_f64().ok_or_else(invalid_default))
                    .transpose()?,
            }
        }
        SchemaKind::Type(Type::Boolean(_)) => ParamKind::Boolean {
            default: default
                .map(|value| value.as_bool().ok_or_else(invalid_default))
                .transpose()?,
        },
        _ => return Err(unsupported()),
    };
    Ok(kind)
}

/// Rejects the keywords of an integer or number parameter that the server
/// stubs do not check, naming the keyword.
fn numeric_keywords(has_enum: bool, has_multiple_of: bool, pointer: &str) -> Result<(), SpecError> {
    if has_enum {
        return Err(SpecError::new(
            format!("{pointer}/enum"),
            "an `enum` of an integer or number parameter is not supported; \
             use a string enum or remove it",
        ));
    }
    if has_multiple_of {
        return Err(SpecError::new(
            format!("{pointer}/multipleOf"),
            "`multipleOf` on a parameter is not supported; remove it",
        ));
    }
    Ok(())
}
