//! Checks of a request against its operation in the loaded document: the
//! security requirement, the parameters and the body.

use std::collections::BTreeMap;
use std::net::IpAddr;

use axum::http::header::{AUTHORIZATION, CONTENT_TYPE};
use axum::http::{HeaderMap, StatusCode, Uri};
use jsonschema::Validator;
use serde_json::Value;
use system_services_server::{ApiKey, Rejection};

use super::load::{Credential, Location, Operation, Parameter, essence, is_json};
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
        (_, ApiKey::Missing) => Err("Credential is missing".to_string()),
        (_, ApiKey::Repeated) => Err("Credential is sent more than once".to_string()),
        (_, ApiKey::Invalid) => Err("Credential is empty or not visible ASCII".to_string()),
        (Credential::ApiKey { .. }, ApiKey::Key(_)) => api
            .check_api_key(&value, peer, headers)
            .map_err(|reason| reason.to_string()),
        (Credential::Authorization { .. }, ApiKey::Key(_)) => Ok(()),
    }
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
        if let Err(message) = check_parameter(parameter, texts) {
            invalid.insert(parameter.name.clone(), message);
        }
    }
}

fn check_parameter(parameter: &Parameter, texts: Vec<String>) -> Result<(), String> {
    if texts.is_empty() {
        return if parameter.required {
            Err("Required parameter is missing".to_string())
        } else {
            Ok(())
        };
    }
    // NOTE: object parameters (`deepObject` and the other object styles)
    // are checked for presence only.
    if parameter.kind.as_deref() == Some("object") {
        return Ok(());
    }
    let value = if parameter.kind.as_deref() == Some("array") {
        let items: Vec<&str> = if parameter.explode {
            texts.iter().map(String::as_str).collect()
        } else {
            texts.iter().flat_map(|text| text.split(',')).collect()
        };
        let kind = parameter.item_kind.as_deref();
        Value::Array(items.into_iter().map(|item| coerce(item, kind)).collect())
    } else if let [text] = texts.as_slice() {
        coerce(text, parameter.kind.as_deref())
    } else {
        return Err(format!("Expected one value, found {}", texts.len()));
    };
    match &parameter.validator {
        Some(validator) => first_error(validator, &value),
        None => Ok(()),
    }
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

    // NOTE: only JSON bodies are checked against their schema; a body of
    // another documented media type, such as a form, is accepted as sent.
    if !is_json(&content_type) {
        return Ok(());
    }
    let value: Value = match serde_json::from_slice(body) {
        Ok(value) => value,
        Err(error) => {
            invalid.insert("body".to_string(), format!("Invalid JSON: {error}"));
            return Ok(());
        }
    };
    if let Some(validator) = &media.validator {
        for error in validator.iter_errors(&value) {
            let field = format!("body{}", error.instance_path());
            invalid.entry(field).or_insert_with(|| error.to_string());
        }
    }
    Ok(())
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
