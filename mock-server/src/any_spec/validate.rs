//! Checks of a request against its operation in the loaded document: the
//! security requirement, the parameters and the body.

use std::collections::BTreeMap;
use std::net::IpAddr;

use axum::http::header::{AUTHORIZATION, CONTENT_TYPE};
use axum::http::{HeaderMap, StatusCode, Uri};
use jsonschema::Validator;
use serde_json::Value;
use system_services_server::{ApiKey, Rejection};

use super::decode;
use super::load::{
    Credential, FORM, Kinds, Location, ObjectStyle, Operation, Parameter, essence, is_json,
};
use crate::MockApi;

/// Invalid fields of a request mapped to what is wrong with each, as the
/// `data` of the 400.
pub(super) type Invalid = BTreeMap<String, String>;

/// Checks that the request satisfies one alternative of the operation's
/// security requirement. An apiKey credential must be one of the mock's
/// API keys; an `Authorization` credential must be present.
pub(super) fn check_security(
    operation: &Operation,
    api: &MockApi,
    peer: Option<IpAddr>,
    headers: &HeaderMap,
    uri: &Uri,
) -> Result<(), Rejection> {
    if operation.security.is_empty() {
        return Ok(());
    }
    let mut reasons = BTreeMap::new();
    for alternative in &operation.security {
        let failures: Vec<(String, String)> = alternative
            .iter()
            .filter_map(|credential| {
                let reason = check_credential(credential, api, peer, headers, uri).err()?;
                Some((credential_name(credential), reason))
            })
            .collect();
        if failures.is_empty() {
            return Ok(());
        }
        reasons.extend(failures);
    }
    let nothing_sent = operation
        .security
        .iter()
        .flatten()
        .all(|credential| matches!(read_credential(credential, headers, uri), ApiKey::Missing));
    if operation.security_optional && nothing_sent {
        return Ok(());
    }
    Err(Rejection {
        status: StatusCode::UNAUTHORIZED,
        message: "Authentication failed".to_string(),
        data: reasons,
        allow: Vec::new(),
    })
}

fn check_credential(
    credential: &Credential,
    api: &MockApi,
    peer: Option<IpAddr>,
    headers: &HeaderMap,
    uri: &Uri,
) -> Result<(), String> {
    let value = read_credential(credential, headers, uri);
    match (credential, &value) {
        (Credential::Authorization { scheme }, ApiKey::Missing) => {
            Err(match sent_scheme(headers) {
                Some(sent) if !sent.eq_ignore_ascii_case(scheme) => format!(
                    "Expected a {} credential, found a {sent} one",
                    scheme_name(scheme)
                ),
                _ => "Credential is missing".to_string(),
            })
        }
        (_, ApiKey::Missing) => Err("Credential is missing".to_string()),
        (_, ApiKey::Repeated) => Err("Credential is sent more than once".to_string()),
        (_, ApiKey::Invalid) => Err("Credential is empty or not visible ASCII".to_string()),
        (Credential::ApiKey { .. }, ApiKey::Key(_)) => api
            .check_api_key(&value, peer, headers)
            .map_err(|reason| reason.to_string()),
        (Credential::Authorization { .. }, ApiKey::Key(_)) => Ok(()),
    }
}

/// Returns the scheme of the first `Authorization` header, such as
/// `Bearer`, when one is sent.
fn sent_scheme(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(AUTHORIZATION)?.to_str().ok()?.trim();
    let scheme = value
        .split(' ')
        .next()
        .filter(|scheme| !scheme.is_empty())?;
    Some(scheme_name(scheme))
}

/// Capitalizes the name of an authentication scheme, such as `Basic` for
/// `basic`.
fn scheme_name(scheme: &str) -> String {
    let mut characters = scheme.chars();
    let first = characters.next().map(|first| first.to_ascii_uppercase());
    first
        .into_iter()
        .chain(characters.map(|character| character.to_ascii_lowercase()))
        .collect()
}

/// Names a credential in the 401's `data`: the header, query parameter or
/// cookie of an API key, or `authorization`.
fn credential_name(credential: &Credential) -> String {
    match credential {
        Credential::ApiKey { name, .. } => name.clone(),
        Credential::Authorization { .. } => "authorization".to_string(),
    }
}

fn read_credential(credential: &Credential, headers: &HeaderMap, uri: &Uri) -> ApiKey {
    let values = match credential {
        Credential::ApiKey {
            location: Location::Header | Location::Path,
            name,
        } => return ApiKey::from_headers(headers, name),
        Credential::ApiKey {
            location: Location::Query,
            name,
        } => query_values(uri, name),
        Credential::ApiKey {
            location: Location::Cookie,
            name,
        } => cookie_values(headers, name),
        Credential::Authorization { scheme } => headers
            .get_all(AUTHORIZATION)
            .iter()
            .filter_map(|value| value.to_str().ok())
            .filter_map(|value| value.split_once(' '))
            .filter(|(name, _)| name.eq_ignore_ascii_case(scheme))
            .map(|(_, token)| token.to_string())
            .collect(),
    };
    match values.as_slice() {
        [] => ApiKey::Missing,
        [value] if !value.trim().is_empty() => ApiKey::Key(value.trim().to_string()),
        [_] => ApiKey::Invalid,
        _ => ApiKey::Repeated,
    }
}

/// Checks each parameter of the operation, adding the invalid ones to
/// `invalid`. `path` contains the decoded values of the path template.
pub(super) fn check_parameters(
    operation: &Operation,
    path: &[(String, String)],
    headers: &HeaderMap,
    uri: &Uri,
    invalid: &mut Invalid,
) {
    // The query is decoded once for all the parameters.
    let query = query_pairs(uri);
    for parameter in &operation.parameters {
        let texts: Vec<String> = match parameter.location {
            Location::Query if parameter.object_style == ObjectStyle::DeepObject => Vec::new(),
            Location::Path => path
                .iter()
                .filter(|(name, _)| *name == parameter.name)
                .map(|(_, value)| value.clone())
                .collect(),
            Location::Query => query
                .iter()
                .filter(|(name, _)| *name == parameter.name)
                .map(|(_, value)| value.clone())
                .collect(),
            Location::Header => headers
                .get_all(parameter.name.as_str())
                .iter()
                .map(|value| String::from_utf8_lossy(value.as_bytes()).trim().to_string())
                .collect(),
            Location::Cookie => cookie_values(headers, &parameter.name),
        };
        if parameter.kinds.kind.as_deref() == Some("object") {
            check_object(parameter, &query, texts, invalid);
        } else if let Err(message) = check_parameter(parameter, texts) {
            invalid.insert(parameter.name.clone(), message);
        }
    }
}

fn check_parameter(parameter: &Parameter, texts: Vec<String>) -> Result<(), String> {
    if texts.is_empty() {
        return if parameter.required {
            Err(MISSING_PARAMETER.to_string())
        } else {
            Ok(())
        };
    }
    let value = if parameter.kinds.kind.as_deref() == Some("array") {
        let items: Vec<&str> = if parameter.explode {
            texts.iter().map(String::as_str).collect()
        } else if parameter.location == Location::Query && texts.len() > 1 {
            let message = format!(
                "Expected one value of items separated by `{}`, found {}",
                parameter.delimiter,
                texts.len()
            );
            return Err(message);
        } else if parameter.location == Location::Header {
            // An HTTP list header may have spaces after its commas
            // (RFC 9110, section 5.6.1).
            let items = texts
                .iter()
                .flat_map(|text| text.split(parameter.delimiter));
            items.map(str::trim).collect()
        } else {
            let items = texts
                .iter()
                .flat_map(|text| text.split(parameter.delimiter));
            items.collect()
        };
        let kind = parameter.kinds.item_kind.as_deref();
        Value::Array(items.into_iter().map(|item| coerce(item, kind)).collect())
    } else if let [text] = texts.as_slice() {
        coerce(text, parameter.kinds.kind.as_deref())
    } else {
        return Err(format!("Expected one value, found {}", texts.len()));
    };
    match &parameter.validator {
        Some(validator) => first_error(validator, &value),
        None => Ok(()),
    }
}

const MISSING_PARAMETER: &str = "Required parameter is missing";

/// Checks an object parameter: reads its properties as its style sends
/// them, from the decoded `query` or from the parameter's `texts`, then
/// validates the object. Each invalid property goes into `invalid` under
/// the name it is sent with, such as `filter[status]` for a `deepObject`
/// and `status` for an exploded `form` object, or under the parameter's
/// name and the property's JSON pointer, such as `filter/status`.
fn check_object(
    parameter: &Parameter,
    query: &[(String, String)],
    texts: Vec<String>,
    invalid: &mut Invalid,
) {
    let name = parameter.name.as_str();
    if parameter.object_style == ObjectStyle::DeepObject && query.iter().any(|(key, _)| key == name)
    {
        let message = format!("Expected {name}[property]=value pairs, found {name}=value");
        invalid.insert(name.to_string(), message);
        return;
    }
    let pairs = match (parameter.object_style, texts.as_slice()) {
        (ObjectStyle::DeepObject, _) => query
            .iter()
            .filter_map(|(key, value)| {
                let property = key
                    .strip_prefix(name)?
                    .strip_prefix('[')?
                    .strip_suffix(']')?;
                Some((property.to_string(), value.clone()))
            })
            .collect(),
        // NOTE: the properties of an exploded form object look like other
        // query parameters, so only its documented properties are read.
        (ObjectStyle::ExplodedForm, _) => query
            .iter()
            .filter(|(key, _)| parameter.properties.iter().any(|(known, _)| known == key))
            .cloned()
            .collect(),
        (_, []) => Vec::new(),
        (ObjectStyle::Delimited, [text]) => {
            let items: Vec<&str> = text.split(',').collect();
            if !items.len().is_multiple_of(2) {
                let message = "Expected comma-separated property names and values";
                invalid.insert(name.to_string(), message.to_string());
                return;
            }
            let pairs = items
                .chunks(2)
                .map(|pair| (pair[0].to_string(), pair[1].to_string()));
            pairs.collect()
        }
        (ObjectStyle::ExplodedSimple, [text]) => {
            let pairs = text.split(',').map(|pair| match pair.split_once('=') {
                Some((property, value)) => (property.to_string(), value.to_string()),
                None => (pair.to_string(), String::new()),
            });
            pairs.collect()
        }
        (_, texts) => {
            let message = format!("Expected one value, found {}", texts.len());
            invalid.insert(name.to_string(), message);
            return;
        }
    };
    if pairs.is_empty() {
        if parameter.required {
            invalid.insert(name.to_string(), MISSING_PARAMETER.to_string());
        }
        return;
    }

    let field = |path: &[String]| match (parameter.object_style, path) {
        (_, []) => name.to_string(),
        (ObjectStyle::DeepObject, [property, rest @ ..]) => {
            let mut field = format!("{name}[{property}]");
            for segment in rest {
                field.push('/');
                field.push_str(segment);
            }
            field
        }
        (ObjectStyle::ExplodedForm, path) => path.join("/"),
        (_, path) => format!("{name}/{}", path.join("/")),
    };
    let object = object_of(
        &pairs,
        &parameter.properties,
        |property| field(&[property.to_string()]),
        invalid,
    );
    add_errors(parameter.validator.as_ref(), &object, field, invalid);
}

/// Validates `value` against `validator`, if any, and adds each error to
/// `invalid` under the name that `field` gives the error's JSON pointer
/// tokens.
fn add_errors(
    validator: Option<&Validator>,
    value: &Value,
    field: impl Fn(&[String]) -> String,
    invalid: &mut Invalid,
) {
    let Some(validator) = validator else {
        return;
    };
    for error in validator.iter_errors(value) {
        invalid
            .entry(field(&error_path(&error)))
            .or_insert_with(|| error.to_string());
    }
}

/// Builds the JSON object of the `name=value` `pairs` of an object
/// parameter or a form body, reading each value as the type of its
/// property in `properties`. A property sent more than once that is not
/// an array goes into `invalid` under the name `field` gives it.
fn object_of(
    pairs: &[(String, String)],
    properties: &[(String, Kinds)],
    field: impl Fn(&str) -> String,
    invalid: &mut Invalid,
) -> Value {
    let mut grouped: Vec<(&str, Vec<&str>)> = Vec::new();
    for (name, value) in pairs {
        match grouped.iter_mut().find(|(known, _)| known == name) {
            Some((_, values)) => values.push(value),
            None => grouped.push((name, vec![value])),
        }
    }
    let mut object = serde_json::Map::new();
    let untyped = Kinds::default();
    for (name, values) in grouped {
        let kinds = properties
            .iter()
            .find(|(known, _)| known == name)
            .map_or(&untyped, |(_, kinds)| kinds);
        let value = match (kinds.kind.as_deref(), values.as_slice()) {
            (Some("array"), _) => {
                let kind = kinds.item_kind.as_deref();
                Value::Array(values.iter().map(|item| coerce(item, kind)).collect())
            }
            (kind, [value]) => coerce(value, kind),
            (_, values) => {
                let message = format!("Expected one value, found {}", values.len());
                invalid.insert(field(name), message);
                continue;
            }
        };
        object.insert(name.to_string(), value);
    }
    Value::Object(object)
}

/// Returns the JSON pointer tokens of the invalid value of `error`, with
/// the name of a missing required property at the end.
fn error_path(error: &jsonschema::ValidationError<'_>) -> Vec<String> {
    let pointer = error.instance_path().as_str().to_string();
    let mut path: Vec<String> = pointer
        .split('/')
        .skip(1)
        .map(|token| token.replace("~1", "/").replace("~0", "~"))
        .collect();
    if let jsonschema::error::ValidationErrorKind::Required { property } = error.kind() {
        path.push(
            property
                .as_str()
                .map_or_else(|| property.to_string(), str::to_string),
        );
    }
    path
}

/// Reads the text of a parameter as the JSON value its schema type names,
/// or as a string when it does not parse, so that the schema reports it.
fn coerce(text: &str, kind: Option<&str>) -> Value {
    let parsed = match kind {
        Some("integer") => text.parse::<i64>().ok().map(Value::from),
        Some("number") => text
            .parse::<f64>()
            .ok()
            .filter(|number| number.is_finite())
            .map(Value::from),
        Some("boolean") => text.parse::<bool>().ok().map(Value::from),
        _ => None,
    };
    parsed.unwrap_or_else(|| Value::String(text.to_string()))
}

fn first_error(validator: &Validator, value: &Value) -> Result<(), String> {
    match validator.iter_errors(value).next() {
        Some(error) => Err(error.to_string()),
        None => Ok(()),
    }
}

/// Checks the body of a request: its media type against the documented
/// ones (a 415 otherwise), then the syntax and schema of a JSON body. Each
/// invalid field goes into `invalid` under `body` and the field's JSON
/// pointer, such as `body/name`.
pub(super) fn check_body(
    operation: &Operation,
    headers: &HeaderMap,
    body: &[u8],
    invalid: &mut Invalid,
) -> Result<(), Rejection> {
    let Some(documented) = &operation.body else {
        return Ok(());
    };
    if body.iter().all(u8::is_ascii_whitespace) {
        if documented.required {
            invalid.insert("body".to_string(), "Request body is required".to_string());
        }
        return Ok(());
    }
    let names: Vec<&str> = documented
        .media_types
        .iter()
        .map(|media| media.name.as_str())
        .collect();
    let unsupported = |message: String| Rejection {
        status: StatusCode::UNSUPPORTED_MEDIA_TYPE,
        data: BTreeMap::from([("content-type".to_string(), message.clone())]),
        message,
        allow: Vec::new(),
    };
    let mut content_types = headers.get_all(CONTENT_TYPE).iter();
    let content_type = match (content_types.next(), content_types.next()) {
        (Some(content_type), None) => essence(&String::from_utf8_lossy(content_type.as_bytes())),
        (None, _) => {
            let message = format!("Content-Type is missing; send one of: {}", names.join(", "));
            return Err(unsupported(message));
        }
        (Some(_), Some(_)) => {
            let message = "More than one Content-Type header; send one".to_string();
            return Err(unsupported(message));
        }
    };
    let Some(media) = documented
        .media_types
        .iter()
        .find(|media| media_matches(&media.name, &content_type))
    else {
        let message = format!(
            "Content-Type `{content_type}` is not supported; send one of: {}",
            names.join(", ")
        );
        return Err(unsupported(message));
    };

    if content_type == FORM {
        check_form(media, body, invalid);
        return Ok(());
    }
    // NOTE: only JSON and form bodies are checked against their schema. A
    // body of another documented media type is accepted as sent.
    if !is_json(&content_type) {
        return Ok(());
    }
    let value = match decode::parse_json(body) {
        Ok(value) => value,
        Err(error) => {
            invalid.insert("body".to_string(), format!("Invalid JSON: {error}"));
            return Ok(());
        }
    };
    add_errors(media.validator.as_ref(), &value, body_field, invalid);
    Ok(())
}

/// Names the field of a request body at the JSON pointer tokens `path`,
/// such as `body/name`. Each token is escaped as RFC 6901 writes it
/// (`~0` for `~`, `~1` for `/`), so the property `a/b` and the nested
/// field `a.b` get different names.
fn body_field(path: &[String]) -> String {
    let mut field = "body".to_string();
    for segment in path {
        field.push('/');
        field.push_str(&segment.replace('~', "~0").replace('/', "~1"));
    }
    field
}

/// Checks an `application/x-www-form-urlencoded` body against the schema
/// of `media`, naming each invalid field `body/` and its property.
fn check_form(media: &super::load::MediaType, body: &[u8], invalid: &mut Invalid) {
    let pairs = match decode::form_pairs(body) {
        Ok(pairs) => pairs,
        Err(name) => {
            let message = "Invalid UTF-8 once percent-decoded".to_string();
            invalid.insert(body_field(&[name]), message);
            return;
        }
    };
    let object = object_of(
        &pairs,
        &media.form_properties,
        |property| body_field(&[property.to_string()]),
        invalid,
    );
    add_errors(media.validator.as_ref(), &object, body_field, invalid);
}

/// Returns whether the documented media type `range`, such as
/// `application/*`, covers the media type `name`.
fn media_matches(range: &str, name: &str) -> bool {
    match range.split_once('/') {
        _ if range == name || range == "*/*" => true,
        Some((kind, "*")) => name.split_once('/').is_some_and(|(other, _)| other == kind),
        _ => false,
    }
}

/// Returns the decoded name and value pairs of the query of `uri`.
fn query_pairs(uri: &Uri) -> Vec<(String, String)> {
    let query = uri.query().unwrap_or_default();
    serde_urlencoded::from_str(query).unwrap_or_default()
}

/// Returns every value of the query parameter `name`, decoded.
fn query_values(uri: &Uri, name: &str) -> Vec<String> {
    query_pairs(uri)
        .into_iter()
        .filter(|(key, _)| key == name)
        .map(|(_, value)| value)
        .collect()
}

/// Returns every value of the cookie `name`, without the quotes of a
/// quoted value.
fn cookie_values(headers: &HeaderMap, name: &str) -> Vec<String> {
    headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|header| header.to_str().ok())
        .flat_map(|header| header.split(';'))
        .filter_map(|pair| pair.split_once('='))
        .filter(|(key, _)| key.trim() == name)
        .map(|(_, value)| value.trim().trim_matches('"').to_string())
        .collect()
}
