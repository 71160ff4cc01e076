//! Emits the authentication of the server stubs: the `authenticate` method
//! of the `Api` trait, the request field with the credentials, and the
//! handler step that checks them.
//!
//! A spec whose one security scheme is an apiKey header gets the `ApiKey`
//! of that header. Any other spec gets `Credentials` with the credential
//! of each scheme that the operation lists.

use std::collections::BTreeMap;

use proc_macro2::{Ident, TokenStream};
use quote::{format_ident, quote};

use super::model::{Model, Operation};
use super::security::Scheme;

/// Emits the `authenticate` method of the `Api` trait, if an operation has
/// a security requirement.
pub fn authenticate_method(model: &Model) -> TokenStream {
    if model.credentials {
        return quote! {
            /// Checks the credentials of a request to an operation that has a
            /// security requirement: `credentials` contains the credential of
            /// each scheme the operation lists, and its alternatives. A
            /// rejection is sent as it is, typically with status 401.
            fn authenticate(
                &self,
                context: &RequestContext,
                credentials: &Credentials,
            ) -> Result<(), Rejection>;
        };
    }
    let keys: Vec<_> = model
        .operations
        .iter()
        .filter_map(|op| op.api_key.as_ref())
        .collect();
    if keys.is_empty() {
        return TokenStream::new();
    }
    let (mut doc, error_type) = if model.typed_key_error {
        let doc = vec![
            " Checks the API key of a request to an operation that has a security".to_string(),
            " requirement. An error is sent as the operation's 401 response.".to_string(),
        ];
        (doc, quote! { types::Error })
    } else {
        let doc = vec![
            " Checks the API key of a request to an operation that has a security".to_string(),
            " requirement. A rejection is sent as it is, in the error body".to_string(),
            " `{\"error\": {\"message\", \"data\"}}`: build it with".to_string(),
            " `Rejection::unauthorized` for a 401.".to_string(),
        ];
        (doc, quote! { Rejection })
    };
    if keys.iter().any(|key| key.optional) {
        doc.extend([
            String::new(),
            " The key is optional for some operations: `ApiKey::Missing` is then a".to_string(),
            " state that the implementation may accept. Operations with".to_string(),
            " `security: []` never call this method.".to_string(),
        ]);
    }
    quote! {
        #(#[doc = #doc])*
        fn authenticate(
            &self,
            context: &RequestContext,
            api_key: &ApiKey,
        ) -> Result<(), #error_type>;
    }
}

/// Emits the request field that carries the operation's credentials.
pub fn request_field(operation: &Operation) -> Option<TokenStream> {
    if let Some(key) = &operation.api_key {
        let doc = if key.optional {
            format!(" The `{}` header, which is optional.", key.header)
        } else {
            format!(" The `{}` header.", key.header)
        };
        return Some(quote! {
            #[doc = #doc]
            pub api_key: ApiKey,
        });
    }
    operation.security.as_ref()?;
    Some(quote! {
        /// The credential of each security scheme the operation lists.
        pub credentials: Credentials,
    })
}

/// Emits the handler step that reads the credentials and calls
/// `authenticate`, and the request field it fills, if the operation has a
/// security requirement.
pub fn handler_step(
    operation: &Operation,
    model: &Model,
    response_type: &Ident,
) -> Option<(TokenStream, TokenStream)> {
    if let Some(key) = &operation.api_key {
        let header_name = header_name(&key.header);
        let reject = if model.typed_key_error {
            quote! { #response_type::Unauthorized(error).into_response() }
        } else {
            quote! { error.into_response() }
        };
        let step = quote! {
            let api_key = ApiKey::from_headers(&context.headers, #header_name);
            if let Err(error) = api.authenticate(&context, &api_key) {
                return #reject;
            }
        };
        return Some((step, quote! { api_key, }));
    }
    let requirement = operation.security.as_ref()?;
    let alternatives = requirement.alternatives.iter().map(|names| {
        quote! { &[#(#names),*] }
    });
    let mut names: Vec<&String> = requirement.alternatives.iter().flatten().collect();
    names.sort_unstable();
    names.dedup();
    let sources = names.iter().map(|name| {
        let source = match &model.schemes[*name] {
            Scheme::Header(header) => quote! { CredentialSource::Header(#header) },
            Scheme::Query(key) => quote! { CredentialSource::Query(#key) },
            Scheme::Cookie(cookie) => quote! { CredentialSource::Cookie(#cookie) },
            Scheme::Bearer => quote! { CredentialSource::Bearer },
            Scheme::Basic => quote! { CredentialSource::Basic },
        };
        quote! { (#name, #source) }
    });
    let optional = requirement.optional;
    let step = quote! {
        let credentials = Credentials::read(
            &context.headers,
            &parts.uri,
            &[#(#alternatives),*],
            #optional,
            &[#(#sources),*],
        );
        if let Err(rejection) = api.authenticate(&context, &credentials) {
            return rejection.into_response();
        }
    };
    Some((step, quote! { credentials, }))
}

/// Declares a `HeaderName` constant for each API key header of `model`
/// that [`header_constant`] names. A constant saves the parsing of the
/// header name on each request.
pub fn header_constants(model: &Model) -> TokenStream {
    let operation_headers = model
        .operations
        .iter()
        .filter_map(|operation| operation.api_key.as_ref())
        .map(|key| &key.header);
    let endpoint_header = model
        .jsonrpc
        .as_ref()
        .and_then(|endpoint| endpoint.api_key_header.as_ref());
    let constants: BTreeMap<String, String> = operation_headers
        .chain(endpoint_header)
        .filter_map(|header| {
            let ident = header_constant(header)?;
            Some((ident.to_string(), header.to_ascii_lowercase()))
        })
        .collect();
    let declarations = constants.iter().map(|(ident, name)| {
        let ident = format_ident!("{ident}");
        let doc = format!(" The name of the `{name}` header.");
        quote! {
            #[doc = #doc]
            const #ident: axum::http::HeaderName = axum::http::HeaderName::from_static(#name);
        }
    });
    quote! { #(#declarations)* }
}

/// Returns the name argument of `ApiKey::from_headers` for `header`: its
/// constant if it has one, or the string.
pub fn header_name(header: &str) -> TokenStream {
    match header_constant(header) {
        Some(ident) => quote! { #ident },
        None => quote! { #header },
    }
}

/// Returns the constant of `header`, such as `X_API_KEY_HEADER`, when the
/// name is a letter followed by letters, digits and hyphens. Other valid
/// names are parsed on each request, because two of them could map to one
/// constant.
fn header_constant(header: &str) -> Option<Ident> {
    let mut bytes = header.bytes();
    let starts_with_letter = bytes
        .next()
        .is_some_and(|first| first.is_ascii_alphabetic());
    if !starts_with_letter || !bytes.all(|byte| byte.is_ascii_alphanumeric() || byte == b'-') {
        return None;
    }
    let shouty = header.to_ascii_uppercase().replace('-', "_");
    Some(format_ident!("{shouty}_HEADER"))
}
