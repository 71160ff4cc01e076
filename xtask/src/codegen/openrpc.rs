//! Emits the OpenRPC document of the JSON-RPC methods, which the generated
//! server returns from the standard `rpc.discover` method.

use openapiv3::OpenAPI;
use serde_json::{Map, Value, json};

use super::files::GeneratedFile;
use super::model::{JsonRpcEndpoint, Model, Operation};
use super::spec::{SpecError, escape_segment};
use super::types::json_schema_value;

/// OpenRPC version of the document.
const OPENRPC_VERSION: &str = "1.3.2";

/// Path of the document in the server crate, which embeds it.
const OPENRPC_PATH: &str = "src/openrpc.json";

/// Builds `openrpc.json` of the server crate in `server_dir`: one method per
/// `x-jsonrpc-method`, with params, result and errors from the operation,
/// and the spec's schemas.
pub fn emit(
    api: &OpenAPI,
    model: &Model,
    server_dir: &str,
) -> Result<Option<GeneratedFile>, SpecError> {
    let Some(endpoint) = &model.jsonrpc else {
        return Ok(None);
    };
    let mut methods = Vec::new();
    for operation in &model.operations {
        if operation.jsonrpc_method.is_some() {
            methods.push(method(endpoint, operation)?);
        }
    }
    let mut schemas = Map::new();
    for (name, schema) in api.components.iter().flat_map(|c| &c.schemas) {
        let pointer = format!("/components/schemas/{}", escape_segment(name));
        schemas.insert(name.clone(), json_schema_value(schema, &pointer)?);
    }

    let document = json!({
        "openrpc": OPENRPC_VERSION,
        "info": {
            "title": api.info.title,
            "version": api.info.version,
            "description": format!(
                "JSON-RPC methods served at POST {}, generated from the OpenAPI document.",
                endpoint.path
            ),
        },
        "methods": methods,
        "components": { "schemas": schemas },
    });
    let mut contents = serde_json::to_string_pretty(&document).expect("JSON values serialise");
    contents.push('\n');
    Ok(Some(GeneratedFile {
        path: format!("{server_dir}/{OPENRPC_PATH}").into(),
        contents,
    }))
}

fn method(endpoint: &JsonRpcEndpoint, operation: &Operation) -> Result<Value, SpecError> {
    let mut params = Vec::new();
    for param in operation.path_params() {
        let mut entry = json!({
            "name": param.name,
            "required": true,
            "schema": { "type": "string", "minLength": 1 },
        });
        if let Some(description) = &param.description {
            entry["description"] = description.trim().into();
        }
        params.push(entry);
    }
    if let Some(body) = &operation.body {
        params.extend(body_params(body)?);
    }

    let ok = operation
        .responses
        .iter()
        .find(|response| response.status < 300);
    let result_schema = match ok.and_then(|response| response.schema.as_ref()) {
        Some(schema) => json_schema_value(
            schema,
            &format!(
                "{}/content",
                ok.map(|r| r.pointer.as_str()).unwrap_or_default()
            ),
        )?,
        None => json!({ "type": "null" }),
    };
    let errors: Vec<Value> = operation
        .responses
        .iter()
        .filter(|response| response.status >= 400)
        .filter_map(|response| {
            let code = endpoint.error_codes.get(&response.status)?;
            Some(json!({ "code": code, "message": response.description.trim() }))
        })
        .collect();

    let mut method = json!({
        "name": operation.jsonrpc_method,
        "paramStructure": "either",
        "params": params,
        "result": {
            "name": "result",
            "description": ok.map(|response| response.description.trim()).unwrap_or_default(),
            "schema": result_schema,
        },
        "errors": errors,
    });
    if let Some(summary) = &operation.summary {
        method["summary"] = summary.trim().into();
    }
    if let Some(description) = &operation.description {
        method["description"] = description.trim().into();
    }
    Ok(method)
}

/// Returns one param per property of the body's object schema, in order.
fn body_params(body: &super::model::Body) -> Result<Vec<Value>, SpecError> {
    let Some(object) = &body.object else {
        return Ok(Vec::new());
    };
    let mut params = Vec::new();
    for (name, property) in &object.schema.properties {
        let pointer = format!("{}/properties/{}", object.pointer, escape_segment(name));
        let mut schema = json_schema_value(&property.clone().unbox(), &pointer)?;
        let description = schema
            .as_object_mut()
            .and_then(|schema| schema.remove("description"));
        let mut entry = json!({
            "name": name,
            "required": object.schema.required.contains(name),
            "schema": schema,
        });
        if let Some(description) = description {
            entry["description"] = description.as_str().unwrap_or_default().trim().into();
        }
        params.push(entry);
    }
    Ok(params)
}
