//! Emits the request side of a server stub: the typed request struct and
//! the handler steps that decode and check each of its fields.

use std::collections::BTreeMap;

use heck::ToUpperCamelCase;
use openapiv3::ReferenceOr;
use proc_macro2::{Ident, Literal, TokenStream};
use quote::{format_ident, quote};

use super::model::{Operation, RUST_KEYWORDS};
use super::names;
use super::params::{Location, NumberBound, Param, ParamKind, StringRules};
use super::pattern;
use super::spec::SpecError;
use super::types::Types;

/// Field names of a request struct that parameters cannot take.
const RESERVED_FIELDS: [&str; 3] = ["api_key", "body", "credentials"];

/// A parameter with its request field and Rust type.
pub struct ParamField<'a> {
    pub param: &'a Param,
    pub ident: Ident,
    /// The field's type, without the `Option` of an optional parameter.
    pub typ: TokenStream,
}

impl ParamField<'_> {
    /// Returns whether the field is an `Option`: the parameter is optional
    /// and has no default. An absent array is empty instead.
    fn is_option(&self) -> bool {
        !self.param.required && !self.param.kind.has_default() && !self.param.array
    }
}

/// Builds the field of each parameter, and adds each parameter schema to
/// the type space under progenitor's name (`{operationId}-{name}` in
/// UpperCamelCase), so that both type spaces stay equal.
///
/// Cookie parameters are left out of the type space, because the client
/// does not send them (progenitor does not support them). So an inline
/// string enum of a cookie is a `String`, checked against the values, and
/// one that refers to a component schema is that schema's type.
pub fn param_fields<'a>(
    operation: &'a Operation,
    types: &mut Types,
) -> Result<Vec<ParamField<'a>>, SpecError> {
    let mut fields: Vec<ParamField> = Vec::new();
    for param in &operation.params {
        let type_name = format!("{}-{}", operation.name, param.name).to_upper_camel_case();
        let inline = matches!(param.schema, ReferenceOr::Item(_));
        let schema_type = if param.location == Location::Cookie && inline {
            quote! { String }
        } else {
            types.type_of(&param.schema, &type_name, &param.pointer)?
        };
        // A name that another field takes gets the location as a suffix,
        // such as `api_key_header`.
        let taken = |ident: &Ident| {
            RESERVED_FIELDS.contains(&ident.to_string().as_str())
                || fields.iter().any(|field| field.ident == *ident)
        };
        let mut ident = field_ident(&param.name);
        if taken(&ident) {
            ident = field_ident(&format!("{}_{}", param.name, param.location.as_str()));
        }
        if taken(&ident) {
            return Err(SpecError::new(
                &param.pointer,
                format!(
                    "parameter `{}` becomes the request field `{ident}`, which another input \
                     already names; rename the parameter",
                    param.name
                ),
            ));
        }
        let typ = match &param.kind {
            ParamKind::String { .. } => quote! { String },
            ParamKind::Integer { .. } => quote! { i64 },
            ParamKind::Number { .. } => quote! { f64 },
            ParamKind::Boolean { .. } => quote! { bool },
            // typify's type of the schema: the enum, or a `Vec` of it, or
            // a `String` for an inline cookie enum.
            ParamKind::Enum { .. } => schema_type.clone(),
        };
        let typ = match (&param.kind, param.array) {
            (ParamKind::Enum { .. }, _) | (_, false) => typ,
            (_, true) => quote! { Vec<#typ> },
        };
        fields.push(ParamField { param, ident, typ });
    }
    Ok(fields)
}

/// Emits the declaration of a parameter's request field.
pub fn field_declaration(field: &ParamField) -> TokenStream {
    let param = field.param;
    let location = match param.location {
        Location::Path => "Path",
        Location::Query => "Query",
        Location::Header => "Header",
        Location::Cookie => "Cookie",
    };
    let mut doc = param
        .description
        .clone()
        .unwrap_or_else(|| format!("{location} parameter `{}`.", param.name))
        .trim_end()
        .to_string();
    if let Some(default) = default_text(&param.kind) {
        doc.push_str(&format!("\n\nDefault when absent: `{default}`."));
    }
    let lines = doc.lines().map(|line| format!(" {line}"));
    let ident = &field.ident;
    let typ = &field.typ;
    let typ = if field.is_option() {
        quote! { Option<#typ> }
    } else {
        quote! { #typ }
    };
    quote! {
        #(#[doc = #lines])*
        pub #ident: #typ,
    }
}

fn default_text(kind: &ParamKind) -> Option<String> {
    match kind {
        ParamKind::String { default, .. } | ParamKind::Enum { default, .. } => default.clone(),
        ParamKind::Integer { default, .. } => default.map(|value| value.to_string()),
        ParamKind::Number { default, .. } => default.map(|value| value.to_string()),
        ParamKind::Boolean { default } => default.map(|value| value.to_string()),
    }
}

/// Emits the handler steps that decode every parameter into a local
/// variable named as its field, returning the documented 400 for an
/// invalid one.
pub fn decode_steps(fields: &[ParamField]) -> Vec<TokenStream> {
    let mut steps = Vec::new();
    let has = |location| fields.iter().any(|field| field.param.location == location);
    if has(Location::Path) {
        steps.push(quote! {
            let params = match params {
                Some(params) => params,
                None => PathParams::from_parts(&mut parts).await,
            };
            let mut params = match params {
                Ok(params) => params,
                Err(rejection) => return rejection.into_response(),
            };
        });
    }
    if has(Location::Query) {
        steps.push(quote! {
            let query = match QueryParams::from_uri(&parts.uri) {
                Ok(query) => query,
                Err(rejection) => return rejection.into_response(),
            };
        });
    }
    for field in fields {
        let ident = &field.ident;
        let value = decode_expression(field);
        steps.push(quote! {
            let #ident = match #value {
                Ok(value) => value,
                Err(rejection) => return rejection.into_response(),
            };
        });
    }
    steps
}

/// Emits an expression of type `Result<field type, Rejection>`.
fn decode_expression(field: &ParamField) -> TokenStream {
    let param = field.param;
    let name = param.name.as_str();
    let parse = parser(param);
    let read = match (param.location, param.array) {
        (Location::Path, _) => {
            return match &param.kind {
                ParamKind::String { .. } => match string_check(param) {
                    Some(check) => quote! { params.take(#name).and_then(#check) },
                    None => quote! { params.take(#name) },
                },
                _ => {
                    let parsed = parse_expression(param, quote! { &text });
                    quote! { params.take(#name).and_then(|text| #parsed) }
                }
            };
        }
        (Location::Query, true) if param.required => {
            return quote! {
                query.all(#name, #parse).and_then(|values| runtime::require_items(#name, values))
            };
        }
        (Location::Query, true) => return quote! { query.all(#name, #parse) },
        (Location::Query, false) => quote! { query.one(#name, #parse) },
        (Location::Header, _) => {
            quote! { runtime::header_param(&context.headers, #name) }
        }
        (Location::Cookie, _) => {
            quote! { runtime::cookie_param(&context.headers, #name) }
        }
    };
    // Headers and cookies are read as text, then parsed like a query value.
    let read = match (param.location, &param.kind) {
        (Location::Query, _) => read,
        (_, ParamKind::String { .. }) => match string_check(param) {
            Some(check) => quote! { #read.and_then(|value| value.map(#check).transpose()) },
            None => read,
        },
        _ => quote! { #read.and_then(|value| value.as_deref().map(#parse).transpose()) },
    };

    // Scalars take their default with `unwrap_or`, strings and enums,
    // which allocate, with `unwrap_or_else`.
    let default = match &param.kind {
        ParamKind::String { default, .. } => default.as_ref().map(|value| {
            quote! { unwrap_or_else(|| #value.to_string()) }
        }),
        ParamKind::Integer { default, .. } => default.map(|value| {
            let value = Literal::i64_suffixed(value);
            quote! { unwrap_or(#value) }
        }),
        ParamKind::Number { default, .. } => default.map(|value| {
            let value = Literal::f64_suffixed(value);
            quote! { unwrap_or(#value) }
        }),
        ParamKind::Boolean { default } => default.map(|value| quote! { unwrap_or(#value) }),
        ParamKind::Enum { values, default } => default.as_ref().map(|value| {
            let typ = &field.typ;
            quote! { unwrap_or_else(|| runtime::enum_default::<#typ>(#value, &[#(#values),*])) }
        }),
    };
    if param.required {
        quote! { #read.and_then(|value| runtime::require(#name, value)) }
    } else if let Some(default) = default {
        quote! { #read.map(|value| value.#default) }
    } else {
        read
    }
}

/// Emits the parser of one value of a parameter: a function from `&str`
/// to `Result<T, Rejection>` that names the parameter in its 400.
fn parser(param: &Param) -> TokenStream {
    if let ParamKind::String { .. } = &param.kind {
        return match string_check(param) {
            Some(check) => quote! { |text: &str| runtime::parse_string(text).and_then(#check) },
            None => quote! { runtime::parse_string },
        };
    }
    let parsed = parse_expression(param, quote! { text });
    quote! { |text: &str| #parsed }
}

/// Emits the expression that parses `text`, a `&str`, as a value of the
/// parameter.
fn parse_expression(param: &Param, text: TokenStream) -> TokenStream {
    let name = param.name.as_str();
    match &param.kind {
        ParamKind::String { .. } => quote! { runtime::parse_string(#text) },
        ParamKind::Integer {
            minimum, maximum, ..
        } => {
            let minimum = option_tokens(minimum.map(Literal::i64_suffixed));
            let maximum = option_tokens(maximum.map(Literal::i64_suffixed));
            quote! { runtime::parse_integer(#name, #text, #minimum, #maximum) }
        }
        ParamKind::Number {
            minimum, maximum, ..
        } => {
            let bound = |bound: NumberBound| {
                let value = Literal::f64_suffixed(bound.value);
                let exclusive = bound.exclusive;
                quote! { validate::Bound { value: #value, exclusive: #exclusive } }
            };
            let minimum = option_tokens(minimum.map(bound));
            let maximum = option_tokens(maximum.map(bound));
            quote! { runtime::parse_number(#name, #text, #minimum, #maximum) }
        }
        ParamKind::Boolean { .. } => quote! { runtime::parse_boolean(#name, #text) },
        ParamKind::Enum { values, .. } => {
            quote! { runtime::parse_enum(#name, #text, &[#(#values),*]) }
        }
    }
}

/// Emits the check of a string parameter's rules: a closure from `String`
/// to `Result<String, Rejection>` that names the parameter in its 400, or
/// none when its schema sets no rule. A parameter whose schema is a
/// component calls that component's function of [`string_check_functions`].
pub fn string_check(param: &Param) -> Option<TokenStream> {
    let ParamKind::String { rules, .. } = &param.kind else {
        return None;
    };
    if rules.is_empty() {
        return None;
    }
    let name = param.name.as_str();
    if let Some(function) = component_check(param) {
        return Some(quote! { |value: String| #function(#name, value) });
    }
    let body = rules_body(&quote! { #name }, rules);
    Some(quote! {
        |value: String| -> Result<String, Rejection> {
            #body
        }
    })
}

/// Returns the check function of a parameter whose schema is a reference
/// to a component, such as `check_session_name` for
/// `#/components/schemas/SessionName`.
fn component_check(param: &Param) -> Option<Ident> {
    let ReferenceOr::Reference { reference } = &param.schema else {
        return None;
    };
    let schema = reference.strip_prefix("#/components/schemas/")?;
    let ident = field_ident(schema).to_string();
    Some(format_ident!("check_{}", ident.trim_start_matches("r#")))
}

/// Emits one check function for each component schema of a string
/// parameter in `params` with rules, so that the operations sharing the
/// schema share the check.
pub fn string_check_functions<'a>(params: impl Iterator<Item = &'a Param>) -> Vec<TokenStream> {
    let mut functions: BTreeMap<String, TokenStream> = BTreeMap::new();
    for param in params {
        let ParamKind::String { rules, .. } = &param.kind else {
            continue;
        };
        let Some(function) = component_check(param).filter(|_| !rules.is_empty()) else {
            continue;
        };
        let ReferenceOr::Reference { reference } = &param.schema else {
            continue;
        };
        let doc =
            format!(" Checks a value of parameter `name` against the rules of `{reference}`.");
        let body = rules_body(&quote! { name }, rules);
        functions.entry(function.to_string()).or_insert_with(|| {
            quote! {
                #[doc = #doc]
                fn #function(name: &str, value: String) -> Result<String, Rejection> {
                    #body
                }
            }
        });
    }
    functions.into_values().collect()
}

/// Emits the statements that check `value` against `rules` and return it,
/// or a 400 naming the parameter that `name` evaluates to. A pattern is
/// tested in linear time where `pattern::is_match` can.
fn rules_body(name: &TokenStream, rules: &StringRules) -> TokenStream {
    let length = match (rules.min_length, rules.max_length) {
        (None, None) => quote! {},
        (minimum, maximum) => {
            let message = match (minimum, maximum) {
                (Some(minimum), Some(maximum)) => {
                    format!("Expected {minimum} to {maximum} characters")
                }
                (Some(minimum), None) => format!("Expected at least {minimum} characters"),
                _ => format!(
                    "Expected at most {} characters",
                    maximum.unwrap_or_default()
                ),
            };
            let invalid = match (minimum, maximum) {
                (Some(minimum), Some(maximum)) => {
                    let (minimum, maximum) = (
                        Literal::usize_suffixed(minimum),
                        Literal::usize_suffixed(maximum),
                    );
                    quote! { !(#minimum..=#maximum).contains(&length) }
                }
                (Some(minimum), None) => {
                    let minimum = Literal::usize_suffixed(minimum);
                    quote! { length < #minimum }
                }
                _ => {
                    let maximum = Literal::usize_suffixed(maximum.unwrap_or_default());
                    quote! { length > #maximum }
                }
            };
            quote! {
                let length = value.chars().count();
                if #invalid {
                    return Err(Rejection::invalid(#name, #message));
                }
            }
        }
    };
    let pattern = rules.pattern.as_ref().map(|pattern| {
        let message = format!("Expected a value that matches the pattern {pattern}");
        let is_match = pattern::is_match(pattern, &quote! { &value });
        quote! {
            let matches = #is_match;
            if !matches {
                return Err(Rejection::invalid(#name, #message));
            }
        }
    });
    quote! {
        #length
        #pattern
        Ok(value)
    }
}

fn option_tokens(value: Option<impl quote::ToTokens>) -> TokenStream {
    match value {
        Some(value) => quote! { Some(#value) },
        None => quote! { None },
    }
}

/// Returns the Rust field of a parameter name: snake_case in ASCII, with
/// `r#` for a keyword, `_` before a leading digit and `param` for a name
/// with no ASCII letter or digit.
pub fn field_ident(name: &str) -> Ident {
    let snake = names::snake_identifier(name, "param", "_");
    if RUST_KEYWORDS.contains(&snake.as_str()) && !["self", "super", "crate"].contains(&&*snake) {
        Ident::new_raw(&snake, proc_macro2::Span::call_site())
    } else if RUST_KEYWORDS.contains(&snake.as_str()) {
        format_ident!("{snake}_")
    } else {
        format_ident!("{snake}")
    }
}
