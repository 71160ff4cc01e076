//! Emits the request side of a server stub: the typed request struct and
//! the handler steps that decode and check each of its fields.

use heck::{ToSnakeCase, ToUpperCamelCase};
use proc_macro2::{Ident, Literal, TokenStream};
use quote::{format_ident, quote};

use super::model::{Operation, RUST_KEYWORDS};
use super::params::{Location, Param, ParamKind};
use super::spec::SpecError;
use super::types::Types;

/// Field names of a request struct that parameters cannot take.
const RESERVED_FIELDS: [&str; 2] = ["api_key", "body"];

/// A parameter with its request field and Rust type.
pub struct ParamField<'a> {
    pub param: &'a Param,
    pub ident: Ident,
    /// The field's type, without the `Option` of an optional parameter.
    pub typ: TokenStream,
}

impl ParamField<'_> {
    /// Returns whether the field is an `Option`: the parameter is optional
    /// and has no default.
    fn is_option(&self) -> bool {
        !self.param.required && !self.param.kind.has_default()
    }
}

/// Builds the field of each parameter, and adds each parameter schema to
/// the type space under progenitor's name (`{operationId}-{name}` in
/// UpperCamelCase), so that both type spaces stay equal.
pub fn param_fields<'a>(
    operation: &'a Operation,
    types: &mut Types,
) -> Result<Vec<ParamField<'a>>, SpecError> {
    let mut fields: Vec<ParamField> = Vec::new();
    for param in &operation.params {
        let type_name = format!("{}-{}", operation.name, param.name).to_upper_camel_case();
        let schema_type = types.type_of(&param.schema, &type_name, &param.pointer)?;
        let ident = field_ident(&param.name);
        let clash = fields.iter().find(|field| field.ident == ident);
        if RESERVED_FIELDS.contains(&ident.to_string().as_str()) || clash.is_some() {
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
            ParamKind::Enum { .. } => schema_type,
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
        ParamKind::String { default } | ParamKind::Enum { default, .. } => default.clone(),
        ParamKind::Integer { default, .. } => default.map(|value| value.to_string()),
        ParamKind::Number { default, .. } => default.map(|value| value.to_string()),
        ParamKind::Boolean { default } => default.map(|value| value.to_string()),
    }
}

/// Emits the handler steps that decode every parameter into a local
/// variable named as its field, answering the documented 400 for an
/// invalid one.
pub fn decode_steps(fields: &[ParamField]) -> Vec<TokenStream> {
    let mut steps = Vec::new();
    let has = |location| fields.iter().any(|field| field.param.location == location);
    if has(Location::Path) {
        steps.push(quote! {
            let params = match PathParams::from_parts(&mut parts).await {
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
    let read = match (param.location, &param.kind) {
        (Location::Path, _) => return quote! { params.get(#name) },
        (Location::Header, _) => quote! { runtime::header_param(&context.headers, #name) },
        (Location::Query, ParamKind::String { .. }) => quote! { query.string(#name) },
        (
            Location::Query,
            ParamKind::Integer {
                minimum, maximum, ..
            },
        ) => {
            let minimum = option_tokens(minimum.map(Literal::i64_suffixed));
            let maximum = option_tokens(maximum.map(Literal::i64_suffixed));
            quote! { query.integer(#name, #minimum, #maximum) }
        }
        (
            Location::Query,
            ParamKind::Number {
                minimum, maximum, ..
            },
        ) => {
            let minimum = option_tokens(minimum.map(Literal::f64_suffixed));
            let maximum = option_tokens(maximum.map(Literal::f64_suffixed));
            quote! { query.number(#name, #minimum, #maximum) }
        }
        (Location::Query, ParamKind::Boolean { .. }) => quote! { query.boolean(#name) },
        (Location::Query, ParamKind::Enum { values, .. }) => {
            let typ = &field.typ;
            quote! { query.enumeration::<#typ>(#name, &[#(#values),*]) }
        }
    };
    // Scalars take their default with `unwrap_or`, strings and enums,
    // which allocate, with `unwrap_or_else`.
    let default = match &param.kind {
        ParamKind::String { default } => default.as_ref().map(|value| {
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

fn option_tokens(value: Option<Literal>) -> TokenStream {
    match value {
        Some(value) => quote! { Some(#value) },
        None => quote! { None },
    }
}

/// Returns the Rust field of a parameter name: snake_case, with `r#` for a
/// keyword and `_` before a leading digit.
pub fn field_ident(name: &str) -> Ident {
    let snake = name.to_snake_case();
    let snake = if snake.is_empty() || snake.starts_with(|c: char| c.is_ascii_digit()) {
        format!("_{snake}")
    } else {
        snake
    };
    if RUST_KEYWORDS.contains(&snake.as_str()) && !["self", "super", "crate"].contains(&&*snake) {
        Ident::new_raw(&snake, proc_macro2::Span::call_site())
    } else if RUST_KEYWORDS.contains(&snake.as_str()) {
        format_ident!("{snake}_")
    } else {
        format_ident!("{snake}")
    }
}
