//! Reading the operations of an OpenAPI 3.0 document: their parameters,
//! request bodies, security requirements and documented responses.

use axum::http::{Method, StatusCode};
use jsonschema::Validator;
use openapi_schema::structure::METHODS;
use openapi_schema::{Components, Direction};
use serde_json::Value;

use crate::spec::LoadError;

/// The max number of `$ref` hops followed before a reference counts as a
/// cycle.
const MAX_REF_HOPS: usize = 32;

/// An operation of the loaded document.
pub(super) struct Operation {
    pub template: String,
    pub method: Method,
    pub operation_id: Option<String>,
    /// JSON pointer of the Operation Object, for log lines.
    pub pointer: String,
    pub parameters: Vec<Parameter>,
    pub body: Option<RequestBody>,
    /// The alternatives of the security requirement, each a set of schemes
    /// that must all be satisfied. Empty when the operation needs none.
    pub security: Vec<Vec<Credential>>,
    /// Whether a request without credentials is also allowed (`{}` among
    /// the alternatives).
    pub security_optional: bool,
    /// The documented responses, in the document's order.
    pub responses: Vec<DocumentedResponse>,
    /// The index in `responses` of the response that the mock sends
    /// without `Prefer`.
    pub chosen: usize,
}

/// Where a parameter is sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Location {
    Path,
    Query,
    Header,
    Cookie,
}

/// The types that set how the text of a parameter or form field is read
/// as JSON: `type` of its schema, and of its items for an array.
#[derive(Clone, Debug, Default)]
pub(super) struct Kinds {
    pub kind: Option<String>,
    pub item_kind: Option<String>,
}

/// The serialisation of an object parameter, as its `style` and
/// `explode` set it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum ObjectStyle {
    /// `name[property]=value` pairs in the query (`deepObject`).
    DeepObject,
    /// One `property=value` pair for each property (`form`, exploded).
    ExplodedForm,
    /// One value of comma-separated names and values, such as
    /// `name=role,admin,age,3` (`form` or `simple`, not exploded).
    Delimited,
    /// One value of comma-separated `property=value` pairs (`simple`,
    /// exploded), in a path segment or header.
    ExplodedSimple,
}

/// A parameter with its compiled schema.
pub(super) struct Parameter {
    pub name: String,
    pub location: Location,
    pub required: bool,
    /// Types of the schema, which set how the text is read.
    pub kinds: Kinds,
    /// Whether each item of an array query parameter is its own
    /// `name=value` pair (`explode`, true by default for query
    /// parameters), rather than one comma-separated value.
    pub explode: bool,
    /// The separator of the items of an array that is not exploded: `|`
    /// for `pipeDelimited`, a space for `spaceDelimited`, else a comma.
    pub delimiter: char,
    /// How an object parameter is sent.
    pub object_style: ObjectStyle,
    /// The types of an object parameter's properties, by name.
    pub properties: Vec<(String, Kinds)>,
    pub validator: Option<Validator>,
}

/// A request body: whether it is required, and its media types.
pub(super) struct RequestBody {
    pub required: bool,
    pub media_types: Vec<MediaType>,
}

/// A documented media type of a request body, such as `application/json`
/// or `application/*`, lowercase and without parameters.
pub(super) struct MediaType {
    pub name: String,
    /// The compiled schema of a JSON or form media type, if it has one.
    pub validator: Option<Validator>,
    /// The types of the properties of a form body, by name.
    pub form_properties: Vec<(String, Kinds)>,
}

/// The form media type, whose bodies are decoded into an object of the
/// schema's property types and then validated.
pub(super) const FORM: &str = "application/x-www-form-urlencoded";

/// A credential that a security scheme requires.
#[derive(Clone, Debug)]
pub(super) enum Credential {
    /// An apiKey scheme, checked against the mock's API keys.
    ApiKey { location: Location, name: String },
    /// `Authorization: <scheme> <token>`, such as `Bearer` for http
    /// bearer, oauth2 and openIdConnect schemes. Any token is accepted.
    Authorization { scheme: String },
}

/// The statuses that a key of a Responses Object covers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum ResponseKey {
    Status(StatusCode),
    /// A range such as `4XX`, by its first digit.
    Range(u16),
    Default,
}

impl ResponseKey {
    /// Reads a key that the structure check has accepted. Returns `None`
    /// for an `x-` extension.
    fn parse(key: &str) -> Option<Self> {
        if key == "default" {
            return Some(ResponseKey::Default);
        }
        if let Some(digit) = key.strip_suffix("XX") {
            return digit.parse().ok().map(ResponseKey::Range);
        }
        let code = key.parse::<u16>().ok()?;
        StatusCode::from_u16(code).ok().map(ResponseKey::Status)
    }

    /// Returns the status that the mock sends for the key when no request
    /// names one: the status itself, the first of a range (`400` for
    /// `4XX`), or 200 for `default`.
    pub fn status(self) -> StatusCode {
        match self {
            ResponseKey::Status(status) => status,
            ResponseKey::Range(digit) => {
                StatusCode::from_u16(digit * 100).unwrap_or(StatusCode::OK)
            }
            ResponseKey::Default => StatusCode::OK,
        }
    }

    /// Returns whether the key documents `status`.
    pub fn covers(self, status: StatusCode) -> bool {
        match self {
            ResponseKey::Status(own) => own == status,
            ResponseKey::Range(digit) => status.as_u16() / 100 == digit,
            ResponseKey::Default => true,
        }
    }
}

impl std::fmt::Display for ResponseKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ResponseKey::Status(status) => write!(f, "{}", status.as_u16()),
            ResponseKey::Range(digit) => write!(f, "{digit}XX"),
            ResponseKey::Default => f.write_str("default"),
        }
    }
}

/// A documented response: its key, and its JSON media type and schema, if
/// any.
pub(super) struct DocumentedResponse {
    pub key: ResponseKey,
    /// JSON pointer of the Response Object, for log lines.
    pub pointer: String,
    pub media_type: Option<String>,
    pub media: Option<Value>,
    /// The resolved Header Objects of the response, by name.
    pub headers: Vec<(String, Value)>,
}

/// Returns whether the media type `name` (lowercase, without parameters)
/// is JSON: `application/json` or a `+json` type.
pub(super) fn is_json(name: &str) -> bool {
    name == "application/json" || name.ends_with("+json")
}

/// A Parameter Object as declared: its name, location, resolved object and
/// JSON pointer.
type Declared<'a> = (String, Location, &'a Value, String);

/// Reads the operations of a whole OpenAPI document.
pub(super) struct Loader<'a> {
    pub document: &'a Value,
    /// The component schemas, converted to JSON Schema once.
    pub components: Components,
}

impl<'a> Loader<'a> {
    pub(super) fn new(document: &'a Value) -> Self {
        let components = document.pointer("/components/schemas");
        Loader {
            document,
            components: Components::new(components),
        }
    }

    /// Reads every operation, in the order of the document's paths.
    pub(super) fn operations(&self) -> Result<Vec<Operation>, LoadError> {
        let Some(paths) = self.document.get("paths").and_then(Value::as_object) else {
            return Err(LoadError::new(
                "/paths",
                "missing; the document has no paths",
            ));
        };
        let mut operations = Vec::new();
        for (template, item) in paths {
            let item_pointer = format!("/paths/{}", pointer_token(template));
            let item = self.resolve(item, &item_pointer)?;
            let shared = self.parameters(item.get("parameters"), &item_pointer)?;
            for name in METHODS {
                let Some(operation) = item.get(name) else {
                    continue;
                };
                let pointer = format!("{item_pointer}/{name}");
                let method = Method::from_bytes(name.to_ascii_uppercase().as_bytes())
                    .expect("an HTTP method name");
                operations.push(self.operation(template, method, operation, &shared, pointer)?);
            }
        }
        Ok(operations)
    }

    fn operation(
        &self,
        template: &str,
        method: Method,
        operation: &Value,
        shared: &[Declared<'a>],
        pointer: String,
    ) -> Result<Operation, LoadError> {
        // An operation's parameter overrides a path-level one of the same
        // name and location.
        let own = self.parameters(operation.get("parameters"), &pointer)?;
        let mut declared: Vec<_> = shared
            .iter()
            .filter(|(name, location, ..)| {
                !own.iter()
                    .any(|(other, place, ..)| other == name && place == location)
            })
            .cloned()
            .collect();
        declared.extend(own);
        for (name, location, _, parameter_pointer) in &declared {
            if *location == Location::Path && !template.contains(&format!("{{{name}}}")) {
                let message =
                    format!("path parameter `{name}` is not in the path template `{template}`");
                return Err(LoadError::new(parameter_pointer, message));
            }
        }
        let parameters = declared
            .into_iter()
            .map(|(_, _, parameter, pointer)| self.parameter(parameter, &pointer))
            .collect::<Result<_, _>>()?;

        let body = match operation.get("requestBody") {
            Some(body) => Some(self.request_body(body, &format!("{pointer}/requestBody"))?),
            None => None,
        };
        let requirement = operation
            .get("security")
            .map(|security| (security, format!("{pointer}/security")))
            .or_else(|| {
                let security = self.document.get("security")?;
                Some((security, "/security".to_string()))
            });
        let (security, security_optional) = match requirement {
            Some((security, pointer)) => self.security(security, &pointer)?,
            None => (Vec::new(), true),
        };
        let responses = self.responses(operation, &pointer)?;
        let chosen = chosen_response(&responses, &pointer)?;
        Ok(Operation {
            template: template.to_string(),
            method,
            operation_id: operation
                .get("operationId")
                .and_then(Value::as_str)
                .map(str::to_string),
            pointer,
            parameters,
            body,
            security,
            security_optional,
            responses,
            chosen,
        })
    }

    /// Resolves the Parameter Objects of a `parameters` list, with their
    /// names, locations and pointers.
    fn parameters(
        &self,
        list: Option<&'a Value>,
        pointer: &str,
    ) -> Result<Vec<Declared<'a>>, LoadError> {
        let Some(list) = list else {
            return Ok(Vec::new());
        };
        let pointer = format!("{pointer}/parameters");
        let items = list
            .as_array()
            .ok_or_else(|| LoadError::new(&pointer, "expected a list of parameters"))?;
        let mut parameters = Vec::new();
        for (index, parameter) in items.iter().enumerate() {
            let pointer = format!("{pointer}/{index}");
            let parameter = self.resolve(parameter, &pointer)?;
            let name = parameter
                .get("name")
                .and_then(Value::as_str)
                .ok_or_else(|| LoadError::new(&pointer, "the parameter has no `name`"))?;
            let location = match parameter.get("in").and_then(Value::as_str) {
                Some("path") => Location::Path,
                Some("query") => Location::Query,
                Some("header") => Location::Header,
                Some("cookie") => Location::Cookie,
                other => {
                    let message =
                        format!("`in` is {other:?}; expected path, query, header or cookie");
                    return Err(LoadError::new(&pointer, message));
                }
            };
            parameters.push((name.to_string(), location, parameter, pointer));
        }
        Ok(parameters)
    }

    fn parameter(&self, parameter: &Value, pointer: &str) -> Result<Parameter, LoadError> {
        let name = parameter["name"].as_str().unwrap_or_default().to_string();
        let location = match parameter["in"].as_str() {
            Some("path") => Location::Path,
            Some("header") => Location::Header,
            Some("cookie") => Location::Cookie,
            _ => Location::Query,
        };
        let required =
            location == Location::Path || parameter.get("required") == Some(&Value::Bool(true));
        // A parameter described by `content` rather than `schema` is
        // checked for presence only.
        let schema = parameter.get("schema");
        let schema_pointer = format!("{pointer}/schema");
        let (kinds, properties, validator) = match schema {
            Some(schema) => (
                self.kinds(schema, &schema_pointer)?,
                self.properties(schema, &schema_pointer)?,
                Some(self.validator(schema, &schema_pointer, Direction::Request)?),
            ),
            None => (Kinds::default(), Vec::new(), None),
        };
        // `form` is the default style of query and cookie parameters,
        // `simple` that of path and header ones.
        let style = parameter.get("style").and_then(Value::as_str);
        let style = style.unwrap_or(match location {
            Location::Query | Location::Cookie => "form",
            Location::Path | Location::Header => "simple",
        });
        let explode = parameter
            .get("explode")
            .and_then(Value::as_bool)
            .unwrap_or(style == "form");
        let delimiter = match style {
            "pipeDelimited" => '|',
            "spaceDelimited" => ' ',
            _ => ',',
        };
        let object_style = match (style, explode) {
            ("deepObject", _) => ObjectStyle::DeepObject,
            ("form", true) if location == Location::Query => ObjectStyle::ExplodedForm,
            ("simple", true) => ObjectStyle::ExplodedSimple,
            _ => ObjectStyle::Delimited,
        };
        Ok(Parameter {
            name,
            location,
            required,
            kinds,
            explode: location == Location::Query && explode,
            delimiter,
            object_style,
            properties,
            validator,
        })
    }

    /// Reads the types of `schema` and of its items.
    fn kinds(&self, schema: &'a Value, pointer: &str) -> Result<Kinds, LoadError> {
        let schema = self.resolve(schema, pointer)?;
        let items = match schema.get("items") {
            Some(items) => Some(self.resolve(items, &format!("{pointer}/items"))?),
            None => None,
        };
        Ok(Kinds {
            kind: type_name(schema),
            item_kind: items.and_then(type_name),
        })
    }

    /// Reads the types of the properties of an object `schema`, those of
    /// its `allOf` parts included.
    fn properties(
        &self,
        schema: &'a Value,
        pointer: &str,
    ) -> Result<Vec<(String, Kinds)>, LoadError> {
        let schema = self.resolve(schema, pointer)?;
        let mut properties = Vec::new();
        let own = schema.get("properties").and_then(Value::as_object);
        for (name, property) in own.into_iter().flatten() {
            let pointer = format!("{pointer}/properties/{}", pointer_token(name));
            properties.push((name.clone(), self.kinds(property, &pointer)?));
        }
        let parts = schema.get("allOf").and_then(Value::as_array);
        for (index, part) in parts.into_iter().flatten().enumerate() {
            properties.extend(self.properties(part, &format!("{pointer}/allOf/{index}"))?);
        }
        Ok(properties)
    }

    fn request_body(&self, body: &Value, pointer: &str) -> Result<RequestBody, LoadError> {
        let body = self.resolve(body, pointer)?;
        let required = body.get("required") == Some(&Value::Bool(true));
        let mut media_types = Vec::new();
        let content = body.get("content").and_then(Value::as_object);
        for (name, media) in content.into_iter().flatten() {
            let name = essence(name);
            let pointer = format!("{pointer}/content/{}/schema", pointer_token(&name));
            let schema = media.get("schema");
            let validator = match schema {
                Some(schema) if is_json(&name) || name == FORM => {
                    Some(self.validator(schema, &pointer, Direction::Request)?)
                }
                _ => None,
            };
            let form_properties = match schema {
                Some(schema) if name == FORM => self.properties(schema, &pointer)?,
                _ => Vec::new(),
            };
            media_types.push(MediaType {
                name,
                validator,
                form_properties,
            });
        }
        Ok(RequestBody {
            required,
            media_types,
        })
    }

    /// Reads a security requirement: its alternatives, and whether `{}`
    /// is one of them.
    fn security(
        &self,
        security: &Value,
        pointer: &str,
    ) -> Result<(Vec<Vec<Credential>>, bool), LoadError> {
        let alternatives = security
            .as_array()
            .ok_or_else(|| LoadError::new(pointer, "expected a list of requirements"))?;
        if alternatives.is_empty() {
            return Ok((Vec::new(), true));
        }
        let mut credentials = Vec::new();
        let mut optional = false;
        for (index, requirement) in alternatives.iter().enumerate() {
            let pointer = format!("{pointer}/{index}");
            let names = requirement
                .as_object()
                .ok_or_else(|| LoadError::new(&pointer, "expected a mapping of scheme names"))?;
            if names.is_empty() {
                optional = true;
                continue;
            }
            let schemes = names
                .keys()
                .map(|name| self.scheme(name, &pointer))
                .collect::<Result<_, _>>()?;
            credentials.push(schemes);
        }
        Ok((credentials, optional))
    }

    fn scheme(&self, name: &str, pointer: &str) -> Result<Credential, LoadError> {
        let scheme_pointer = format!("/components/securitySchemes/{}", pointer_token(name));
        let scheme = self.document.pointer(&scheme_pointer).ok_or_else(|| {
            LoadError::new(pointer, format!("security scheme `{name}` is not defined"))
        })?;
        let scheme = self.resolve(scheme, &scheme_pointer)?;
        let text = |key: &str| scheme.get(key).and_then(Value::as_str).unwrap_or_default();
        match text("type") {
            "apiKey" => {
                let location = match text("in") {
                    "header" => Location::Header,
                    "query" => Location::Query,
                    "cookie" => Location::Cookie,
                    other => {
                        let message =
                            format!("`in` is `{other}`; expected header, query or cookie");
                        return Err(LoadError::new(&scheme_pointer, message));
                    }
                };
                Ok(Credential::ApiKey {
                    location,
                    name: text("name").to_string(),
                })
            }
            "http" => Ok(Credential::Authorization {
                scheme: text("scheme").to_ascii_lowercase(),
            }),
            "oauth2" | "openIdConnect" => Ok(Credential::Authorization {
                scheme: "bearer".to_string(),
            }),
            other => Err(LoadError::new(
                &scheme_pointer,
                format!("security scheme type `{other}` is not supported"),
            )),
        }
    }

    /// Reads the documented responses of an operation, whose keys the
    /// structure check has accepted.
    fn responses(
        &self,
        operation: &'a Value,
        pointer: &str,
    ) -> Result<Vec<DocumentedResponse>, LoadError> {
        let responses = operation.get("responses").and_then(Value::as_object);
        let mut documented = Vec::new();
        for (key, response) in responses.into_iter().flatten() {
            let Some(parsed) = ResponseKey::parse(key) else {
                continue;
            };
            let pointer = format!("{pointer}/responses/{}", pointer_token(key));
            let response = self.resolve(response, &pointer)?;
            let content = response.get("content").and_then(Value::as_object);
            let mut media_types = content.into_iter().flatten();
            let chosen = media_types
                .clone()
                .find(|(name, _)| is_json(&essence(name)))
                .or_else(|| media_types.next());
            let mut headers = Vec::new();
            let documented_headers = response.get("headers").and_then(Value::as_object);
            for (name, header) in documented_headers.into_iter().flatten() {
                let pointer = format!("{pointer}/headers/{}", pointer_token(name));
                headers.push((name.clone(), self.resolve(header, &pointer)?.clone()));
            }
            documented.push(DocumentedResponse {
                key: parsed,
                pointer,
                media_type: chosen.map(|(name, _)| name.clone()),
                media: chosen.map(|(_, media)| media.clone()),
                headers,
            });
        }
        Ok(documented)
    }

    /// Compiles `schema` with the document's component schemas, for the
    /// messages of `direction`. The `format` of a string is checked: the
    /// formats that the `jsonschema` crate supports, such as `uuid`, `date`,
    /// `date-time`, `email`, `uri`, `ipv4` and `ipv6`, and OpenAPI's
    /// `byte`. Other formats, such as `binary` or `password`, are not.
    pub(super) fn validator(
        &self,
        schema: &Value,
        pointer: &str,
        direction: Direction,
    ) -> Result<Validator, LoadError> {
        let root = self.components.root_document(schema, direction);
        jsonschema::draft202012::options()
            .should_validate_formats(true)
            .with_format("byte", is_base64)
            .build(&root)
            .map_err(|error| LoadError::new(pointer, format!("invalid schema: {error}")))
    }

    /// Follows `value`'s `$ref`s to an object in the document.
    pub(super) fn resolve(&self, value: &'a Value, pointer: &str) -> Result<&'a Value, LoadError> {
        resolve(self.document, value).map_err(|message| LoadError::new(pointer, message))
    }
}

/// Picks the response the mock sends without `Prefer`: the lowest
/// documented 2xx status, else a `2XX` range as 200, else `default` as a
/// 200, else the lowest documented status or range from 300 on. An
/// informational (1xx) status is never sent, because it is no final
/// response.
fn chosen_response(responses: &[DocumentedResponse], pointer: &str) -> Result<usize, LoadError> {
    // An explicit status sorts before the range that starts with it.
    let rank = |response: &DocumentedResponse| match response.key {
        ResponseKey::Status(status) if status.is_informational() => None,
        ResponseKey::Range(1) => None,
        ResponseKey::Status(status) if status.is_success() => Some((0, status.as_u16())),
        ResponseKey::Range(2) => Some((1, 200)),
        ResponseKey::Default => Some((2, 0)),
        ResponseKey::Status(status) => Some((3, status.as_u16() * 10)),
        ResponseKey::Range(digit) => Some((3, digit * 1000 + 1)),
    };
    let chosen = responses
        .iter()
        .enumerate()
        .filter_map(|(index, response)| Some((index, rank(response)?)))
        .min_by_key(|(_, rank)| *rank);
    match chosen {
        Some((index, _)) => Ok(index),
        None if responses.is_empty() => Err(LoadError::new(
            &format!("{pointer}/responses"),
            "the operation documents no response",
        )),
        None => Err(LoadError::new(
            &format!("{pointer}/responses"),
            "the operation documents only informational (1xx) responses; document a final \
             status from 200 to 599 or `default`",
        )),
    }
}

/// Follows `value`'s `$ref`, and the `$ref` of its target, to an object in
/// `document`. Returns why it fails.
pub(super) fn resolve<'a>(document: &'a Value, value: &'a Value) -> Result<&'a Value, String> {
    let mut current = value;
    for _ in 0..MAX_REF_HOPS {
        let Some(reference) = current.get("$ref") else {
            return Ok(current);
        };
        let target = reference
            .as_str()
            .and_then(|reference| reference.strip_prefix('#'))
            .ok_or_else(|| format!("only references inside the document resolve: {reference}"))?;
        current = document
            .pointer(target)
            .ok_or_else(|| format!("reference #{target} does not resolve"))?;
    }
    Err(format!("more than {MAX_REF_HOPS} references in a chain"))
}

/// Returns whether `text` is base64 in the standard alphabet with padding
/// (RFC 4648, section 4), the `byte` format of OpenAPI 3.0.
fn is_base64(text: &str) -> bool {
    let data = text.trim_end_matches('=');
    let padding = text.len() - data.len();
    let alphabet = |byte: u8| byte.is_ascii_alphanumeric() || byte == b'+' || byte == b'/';
    text.len().is_multiple_of(4) && padding <= 2 && data.bytes().all(alphabet)
}

/// Returns the `type` of a schema, or the one that its keywords imply.
fn type_name(schema: &Value) -> Option<String> {
    match schema.get("type") {
        Some(Value::String(name)) => Some(name.clone()),
        _ if schema.get("items").is_some() => Some("array".to_string()),
        _ if schema.get("properties").is_some() => Some("object".to_string()),
        _ => None,
    }
}

/// Returns the media type `name` lowercase and without its parameters,
/// such as `application/json` for `application/json; charset=utf-8`.
pub(super) fn essence(name: &str) -> String {
    let essence = name.split(';').next().unwrap_or_default();
    essence.trim().to_ascii_lowercase()
}

/// Escapes `~` and `/` for a JSON pointer token.
pub(super) fn pointer_token(text: &str) -> String {
    text.replace('~', "~0").replace('/', "~1")
}
