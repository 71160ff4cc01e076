//! The model of security requirements: which schemes an operation accepts,
//! and where a request carries each scheme's credential.

use std::collections::BTreeMap;

use openapiv3::{APIKeyLocation, OpenAPI, Operation, ReferenceOr, SecurityScheme};

use super::spec::{SpecError, escape_segment};

/// The location of a security scheme's credential in a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scheme {
    /// An apiKey scheme `in: header`.
    Header(String),
    /// An apiKey scheme `in: query`.
    Query(String),
    /// An apiKey scheme `in: cookie`.
    Cookie(String),
    /// `Authorization: Bearer <token>`: an http `bearer` scheme, oauth2 or
    /// openIdConnect.
    Bearer,
    /// `Authorization: Basic <credentials>`: an http `basic` scheme.
    Basic,
}

/// The security requirement of an operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Requirement {
    /// Alternatives, each a set of schemes that must all be satisfied.
    pub alternatives: Vec<Vec<String>>,
    /// Whether a request without credentials is also allowed, because an
    /// alternative is empty (`{}`).
    pub optional: bool,
}

/// Returns the operation's requirement: its own `security`, else the root
/// one. `None` means no credential is checked (`security: []`, or none
/// declared). Each scheme it names is added to `schemes`.
pub fn requirement(
    api: &OpenAPI,
    operation: &Operation,
    pointer: &str,
    schemes: &mut BTreeMap<String, Scheme>,
) -> Result<Option<Requirement>, SpecError> {
    let (requirements, requirements_pointer) = match &operation.security {
        Some(requirements) => (requirements, format!("{pointer}/security")),
        None => match &api.security {
            Some(requirements) => (requirements, "/security".to_string()),
            None => return Ok(None),
        },
    };
    let mut alternatives = Vec::new();
    let mut optional = false;
    for (index, requirement) in requirements.iter().enumerate() {
        if requirement.is_empty() {
            optional = true;
            continue;
        }
        let mut names = Vec::new();
        for name in requirement.keys() {
            let scheme = scheme(api, name, &format!("{requirements_pointer}/{index}"))?;
            schemes.insert(name.clone(), scheme);
            names.push(name.clone());
        }
        alternatives.push(names);
    }
    if alternatives.is_empty() {
        return Ok(None);
    }
    Ok(Some(Requirement {
        alternatives,
        optional,
    }))
}

fn scheme(api: &OpenAPI, name: &str, requirement_pointer: &str) -> Result<Scheme, SpecError> {
    let scheme_pointer = format!("/components/securitySchemes/{}", escape_segment(name));
    let scheme = api
        .components
        .as_ref()
        .and_then(|components| components.security_schemes.get(name))
        .ok_or_else(|| {
            SpecError::new(
                requirement_pointer,
                format!("security scheme `{name}` is not defined"),
            )
        })?;
    let ReferenceOr::Item(scheme) = scheme else {
        return Err(SpecError::new(
            scheme_pointer,
            "a $ref security scheme is not supported; define it in place",
        ));
    };
    match scheme {
        SecurityScheme::APIKey { location, name, .. } => Ok(match location {
            APIKeyLocation::Header => Scheme::Header(name.clone()),
            APIKeyLocation::Query => Scheme::Query(name.clone()),
            APIKeyLocation::Cookie => Scheme::Cookie(name.clone()),
        }),
        SecurityScheme::HTTP { scheme, .. } if scheme.eq_ignore_ascii_case("bearer") => {
            Ok(Scheme::Bearer)
        }
        SecurityScheme::HTTP { scheme, .. } if scheme.eq_ignore_ascii_case("basic") => {
            Ok(Scheme::Basic)
        }
        SecurityScheme::HTTP { scheme, .. } => Err(SpecError::new(
            format!("{scheme_pointer}/scheme"),
            format!("http scheme `{scheme}` is not supported; use bearer or basic"),
        )),
        SecurityScheme::OAuth2 { .. } | SecurityScheme::OpenIDConnect { .. } => Ok(Scheme::Bearer),
    }
}

/// Returns the header of the single apiKey header scheme that every
/// requirement of the spec uses alone, if so. The stubs then pass that
/// header's `ApiKey` to `authenticate`, and otherwise a `Credentials` value
/// with every scheme's credential.
pub fn single_header(
    schemes: &BTreeMap<String, Scheme>,
    requirements: &[&Requirement],
) -> Option<String> {
    let mut headers = schemes.values().map(|scheme| match scheme {
        Scheme::Header(header) => Some(header.clone()),
        _ => None,
    });
    let header = headers.next()??;
    let one_scheme = schemes.len() == 1;
    let alone = requirements.iter().all(|requirement| {
        requirement
            .alternatives
            .iter()
            .all(|names| names.len() == 1)
    });
    (one_scheme && alone).then_some(header)
}
