//! The OpenRPC document: it follows the OpenRPC meta-schema, describes the
//! terminate method, and `rpc.discover` returns it.

use contract_tests::MockServer;
use mock_server::DEFAULT_API_KEY;
use serde_json::{Value, json};

const META_SCHEMA: &str = include_str!("../data/openrpc-meta-schema.json");

fn document() -> Value {
    serde_json::from_str(system_services_server::OPENRPC_DOCUMENT).expect("the document is JSON")
}

#[test]
fn document_follows_meta_schema() {
    let meta_schema: Value = serde_json::from_str(META_SCHEMA).expect("the meta-schema is JSON");
    let validator = jsonschema::draft7::new(&meta_schema).expect("the meta-schema compiles");
    let document = document();
    let errors: Vec<String> = validator
        .iter_errors(&document)
        .map(|error| format!("{} at {}", error, error.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{errors:#?}");

    let broken = json!({"openrpc": "1.3.2", "info": {"title": "t"}, "methods": [{"params": []}]});
    assert!(
        !validator.is_valid(&broken),
        "the meta-schema rejects a method without a name"
    );
}

#[test]
fn document_describes_terminate() {
    let document = document();
    let method = &document["methods"][0];
    assert_eq!(method["name"], "system.services.active.mark_terminate");
    assert_eq!(method["paramStructure"], "either");
    assert_eq!(method["params"][0]["name"], "system_services_id");
    assert_eq!(method["params"][0]["required"], true);
    assert_eq!(method["params"][1]["name"], "nodes_id");
    assert_eq!(method["params"][1]["required"], false);
    assert_eq!(method["result"]["schema"]["type"], "integer");
    let codes: Vec<i64> = method["errors"]
        .as_array()
        .expect("an error list")
        .iter()
        .map(|error| error["code"].as_i64().expect("a numeric code"))
        .collect();
    assert!(codes.contains(&-32004), "{codes:?}");
    assert!(codes.contains(&-32602), "{codes:?}");
}

#[tokio::test]
async fn rpc_discover_returns_document() {
    let mock = MockServer::start().await;
    let request = json!({"jsonrpc": "2.0", "method": "rpc.discover", "id": 1});
    let response: Value = reqwest::Client::new()
        .post(format!("{}/jsonrpc", mock.base_url()))
        .header("X-Api-Key", DEFAULT_API_KEY)
        .json(&request)
        .send()
        .await
        .expect("the mock answers")
        .json()
        .await
        .expect("a JSON body");
    assert_eq!(response["result"], document());
    assert_eq!(response["id"], 1);
}

#[tokio::test]
async fn rpc_discover_rejects_params() {
    let mock = MockServer::start().await;
    let request = json!({"jsonrpc": "2.0", "method": "rpc.discover", "params": ["x"], "id": 2});
    let response: Value = reqwest::Client::new()
        .post(format!("{}/jsonrpc", mock.base_url()))
        .header("X-Api-Key", DEFAULT_API_KEY)
        .json(&request)
        .send()
        .await
        .expect("the mock answers")
        .json()
        .await
        .expect("a JSON body");
    assert_eq!(response["error"]["code"], -32602);
}
