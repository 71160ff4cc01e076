//! Emits the JSON-RPC 2.0 dispatcher of the server crate: each operation's
//! `x-jsonrpc-method` calls the same `Api` method as its REST route.

use proc_macro2::{Literal, TokenStream};
use quote::{format_ident, quote};

use super::auth;
use super::model::{JsonRpcEndpoint, Operation};
use super::request;
use super::server::{OperationItems, status_variant};
use super::spec::SpecError;

/// An operation and how its REST route decodes the body.
pub struct Decoding<'a> {
    pub operation: &'a Operation,
    pub body_type: Option<TokenStream>,
    pub body_shape: Option<TokenStream>,
}

/// Builds the endpoint's handler, its dispatcher over `operations`, and the
/// list of method names.
pub fn endpoint_items(
    endpoint: &JsonRpcEndpoint,
    operations: &[Decoding],
    typed_key_error: bool,
) -> Result<OperationItems, SpecError> {
    let code = |status: u16| {
        endpoint
            .error_codes
            .get(&status)
            .copied()
            .map(Literal::i64_unsuffixed)
    };
    let invalid_params = code(400).unwrap_or(Literal::i64_unsuffixed(-32602));

    let mut names = Vec::new();
    let mut arms = Vec::new();
    for decoding in operations {
        let operation = decoding.operation;
        let Some(method) = &operation.jsonrpc_method else {
            continue;
        };
        names.push(method.clone());
        let call = call_operation(
            operation,
            decoding
                .body_type
                .as_ref()
                .zip(decoding.body_shape.as_ref()),
            endpoint.api_key_header.as_deref(),
            typed_key_error,
            &invalid_params,
            &code,
        )?;
        arms.push(quote! { #method => { #call } });
    }

    let http_codes = [413u16, 415].into_iter().filter_map(|status| {
        let literal = Literal::u16_unsuffixed(status);
        code(status).map(|code| quote! { #literal => #code, })
    });
    let authenticate = match &endpoint.api_key_header {
        Some(header) => {
            let unauthorized = code(401).unwrap_or(Literal::i64_unsuffixed(-32001));
            let header_name = auth::header_name(header);
            let call_error = key_call_error(typed_key_error, &unauthorized);
            quote! {
                let api_key = ApiKey::from_headers(&context.headers, #header_name);
                if let Err(error) = api.authenticate(context, &api_key) {
                    let error = #call_error;
                    return jsonrpc::reject(axum::http::StatusCode::UNAUTHORIZED, error);
                }
            }
        }
        None => TokenStream::new(),
    };
    // The key that the endpoint read is passed to each call, so that a
    // method with the same header does not read it again.
    let (endpoint_key_arg, endpoint_key_param) = match &endpoint.api_key_header {
        Some(_) => (quote! { &api_key, }, quote! { endpoint_api_key: &ApiKey, }),
        None => (TokenStream::new(), TokenStream::new()),
    };
    let definitions = quote! {
        /// JSON-RPC methods of the API, each calling one method of [`Api`].
        /// The server also returns [`OPENRPC_DOCUMENT`] from `rpc.discover`.
        pub const JSONRPC_METHODS: &[&str] = &[#(#names),*];

        /// The OpenRPC document of the JSON-RPC methods.
        pub const OPENRPC_DOCUMENT: &str = include_str!("openrpc.json");

        async fn handle_jsonrpc<A: Api>(
            api: Arc<A>,
            request: Request,
            matched: Option<Matched>,
        ) -> Response {
            let (mut parts, body) = request.into_parts();
            let (context, _) = RequestContext::read(&mut parts, matched);
            let api = &*api;
            let context = &context;
            #authenticate
            let bytes =
                match jsonrpc::read_payload(&context.headers, body, jsonrpc_http_error_code).await {
                    Ok(bytes) => bytes,
                    Err(response) => return response,
                };
            jsonrpc::serve(&bytes, |method, params| {
                call_jsonrpc(api, context, #endpoint_key_arg method, params)
            })
            .await
        }

        /// Maps the HTTP status of a rejected JSON-RPC request to its code.
        fn jsonrpc_http_error_code(status: axum::http::StatusCode) -> i64 {
            match status.as_u16() {
                #(#http_codes)*
                _ => jsonrpc::INVALID_REQUEST,
            }
        }

        async fn call_jsonrpc<A: Api>(
            api: &A,
            context: &RequestContext,
            #endpoint_key_param
            method: std::borrow::Cow<'_, str>,
            params: Option<jsonrpc::RawParams<'_>>,
        ) -> Result<Box<serde_json::value::RawValue>, jsonrpc::CallError> {
            match &*method {
                "rpc.discover" => jsonrpc::discover(OPENRPC_DOCUMENT, params, #invalid_params),
                #(#arms)*
                _ => Err(jsonrpc::CallError::method_not_found(&method)),
            }
        }
    };
    Ok(OperationItems {
        definitions,
        trait_method: TokenStream::new(),
        path: endpoint.path.clone(),
        method: "POST".to_string(),
        handler: format_ident!("handle_jsonrpc"),
        body_type: None,
        body_shape: None,
    })
}

/// Emits the conversion of the `error` that `authenticate` returned into a
/// `CallError` with `code`: a `types::Error` body or a `Rejection`.
fn key_call_error(typed_key_error: bool, code: &Literal) -> TokenStream {
    if typed_key_error {
        quote! { jsonrpc::CallError::from_rest(#code, &error) }
    } else {
        quote! { jsonrpc::CallError::from_rejection(#code, error) }
    }
}

/// Emits the body of one dispatcher arm: authenticate, decode params into the
/// operation's typed request, call the operation, map its response.
///
/// The endpoint has already authenticated the HTTP request with
/// `endpoint_key_header`; an operation with the same header is not
/// authenticated again.
fn call_operation(
    operation: &Operation,
    typed_body: Option<(&TokenStream, &TokenStream)>,
    endpoint_key_header: Option<&str>,
    typed_key_error: bool,
    invalid_params: &Literal,
    code: &impl Fn(u16) -> Option<Literal>,
) -> Result<TokenStream, SpecError> {
    let camel = heck::ToUpperCamelCase::to_upper_camel_case(operation.name.as_str());
    let request_type = format_ident!("{camel}Request");
    let response_type = format_ident!("{camel}Response");
    let method_name = format_ident!("{}", operation.name);

    let mut steps = Vec::new();
    let mut fields = Vec::new();
    if let Some(header) = operation.api_key.as_ref().map(|key| &key.header) {
        if endpoint_key_header == Some(header.as_str()) {
            steps.push(quote! { let api_key = endpoint_api_key.clone(); });
        } else {
            let header_name = auth::header_name(header);
            let unauthorized = code(401).unwrap_or(Literal::i64_unsuffixed(-32001));
            let call_error = key_call_error(typed_key_error, &unauthorized);
            steps.push(quote! {
                let api_key = ApiKey::from_headers(&context.headers, #header_name);
                if let Err(error) = api.authenticate(context, &api_key) {
                    return Err(#call_error);
                }
            });
        }
        fields.push(quote! { api_key, });
    }

    let mut param_names: Vec<&str> = operation
        .path_params()
        .map(|param| param.name.as_str())
        .collect();
    if let Some(body) = &operation.body {
        param_names.extend(body.fields());
    }
    steps.push(quote! {
        #[allow(unused_mut)]
        let mut params = jsonrpc::Params::new(params, &[#(#param_names),*], #invalid_params)?;
    });
    for param in operation.path_params() {
        let ident = request::field_ident(&param.name);
        let name = &param.name;
        steps.push(quote! {
            let #ident = params.take_string(#name, #invalid_params)?;
        });
        // The REST route's check of the parameter's length and pattern.
        if let Some(check) = request::string_check(param) {
            steps.push(quote! {
                let #ident = (#check)(#ident).map_err(|rejection| {
                    jsonrpc::CallError::from_rejection(#invalid_params, rejection)
                })?;
            });
        }
        fields.push(quote! { #ident, });
    }
    match (&operation.body, typed_body) {
        (Some(body), Some((typ, shape))) => {
            let decode = quote! {
                params.into_body::<#typ>(&#shape, #invalid_params)?
            };
            let value = if body.required {
                decode
            } else {
                quote! { Some(#decode) }
            };
            steps.push(quote! { let body = #value; });
            fields.push(quote! { body, });
        }
        _ => steps.push(quote! { params.finish(#invalid_params)?; }),
    }

    let mut arms = Vec::new();
    for response in &operation.responses {
        let variant = status_variant(response)?;
        let arm = match (response.status, response.schema.is_some()) {
            (200..=299, true) => quote! {
                #response_type::#variant(body) => jsonrpc::result(&body),
            },
            (200..=299, false) => quote! {
                #response_type::#variant => jsonrpc::result(&()),
            },
            (status, has_body) => {
                let error_code = code(status).ok_or_else(|| {
                    SpecError::new(&response.pointer, "the status has no JSON-RPC error code")
                })?;
                if has_body {
                    quote! {
                        #response_type::#variant(body) => {
                            Err(jsonrpc::CallError::from_rest(#error_code, &body))
                        }
                    }
                } else {
                    let message = response.description.trim().to_string();
                    quote! {
                        #response_type::#variant => {
                            Err(jsonrpc::CallError::new(#error_code, #message, None))
                        }
                    }
                }
            }
        };
        arms.push(arm);
    }

    Ok(quote! {
        #(#steps)*
        let request = #request_type { #(#fields)* };
        match api.#method_name(context, request).await {
            #(#arms)*
        }
    })
}
