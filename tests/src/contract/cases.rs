//! Random request cases: REST terminate calls and JSON-RPC payloads, valid
//! and invalid, with every kind of API key header.

use proptest::prelude::*;
use serde_json::{Value, json};

/// The JSON-RPC method of the terminate operation.
pub const METHOD: &str = "system.services.active.mark_terminate";

/// How a case sends the API key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyChoice {
    Valid,
    Missing,
    Wrong,
    Repeated,
}

/// One request to send.
#[derive(Clone, Debug)]
pub enum Case {
    Rest(RestCase),
    JsonRpc(RpcCase),
}

/// A REST terminate call.
#[derive(Clone, Debug)]
pub struct RestCase {
    /// Service ID, percent-encoded into the path.
    pub service: String,
    pub key: KeyChoice,
    /// `Content-Type` header, or none.
    pub content_type: Option<&'static str>,
    pub body: RestBody,
}

/// The body of a REST terminate call.
#[derive(Clone, Debug)]
pub enum RestBody {
    /// A JSON object that the request schema accepts.
    Valid(Value),
    /// A JSON value that the request schema rejects.
    Invalid(Value),
    /// Bytes that are not JSON, or empty.
    Raw(Vec<u8>),
}

/// A JSON-RPC payload: one request object or a batch.
#[derive(Clone, Debug)]
pub struct RpcCase {
    pub key: KeyChoice,
    pub payload: RpcPayload,
}

#[derive(Clone, Debug)]
pub enum RpcPayload {
    Single(RpcItem),
    Batch(Vec<RpcItem>),
    /// Bytes that are not JSON.
    Raw(Vec<u8>),
}

/// One member of a JSON-RPC payload, and what the envelope rules make of it.
#[derive(Clone, Debug)]
pub struct RpcItem {
    pub value: Value,
    pub kind: ItemKind,
}

#[derive(Clone, Debug, PartialEq)]
pub enum ItemKind {
    /// A valid request; `id` is `None` for a notification.
    Call { id: Option<Value>, call: CallKind },
    /// A request object that breaks the envelope rules.
    Invalid,
}

/// What a valid request calls.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CallKind {
    /// The terminate method with params the operation accepts.
    Terminate,
    /// The terminate method with params it rejects.
    BadParams,
    /// A method the API does not have.
    UnknownMethod,
}

/// Returns the strategy of every case, REST and JSON-RPC alike.
pub fn case_strategy() -> impl Strategy<Value = Case> {
    prop_oneof![
        rest_case().prop_map(Case::Rest),
        rpc_case().prop_map(Case::JsonRpc),
    ]
}

fn key_choice() -> impl Strategy<Value = KeyChoice> {
    prop_oneof![
        6 => Just(KeyChoice::Valid),
        1 => Just(KeyChoice::Missing),
        1 => Just(KeyChoice::Wrong),
        1 => Just(KeyChoice::Repeated),
    ]
}

/// Generates a service ID that no real deployment has: a fixed prefix and random text,
/// sometimes with spaces, unicode or characters that need encoding.
fn probe_service() -> impl Strategy<Value = String> {
    "[a-z0-9]{1,12}|[a-zA-Z0-9 _.~%é-]{1,16}|[^/\u{0}]{1,8}"
        .prop_map(|suffix| format!("contract-probe-{suffix}"))
}

/// Generates a node ID that no real deployment has.
fn probe_node() -> impl Strategy<Value = String> {
    "[a-z0-9-]{1,10}".prop_map(|suffix| format!("contract-node-{suffix}"))
}

/// Any JSON value, nested at most two levels.
fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        (-1e9f64..1e9).prop_map(Value::from),
        ".{0,12}".prop_map(Value::from),
    ];
    leaf.prop_recursive(2, 8, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
            proptest::collection::btree_map("[a-z_]{1,8}", inner, 0..4)
                .prop_map(|map| Value::Object(map.into_iter().collect())),
        ]
    })
}

fn rest_body() -> impl Strategy<Value = RestBody> {
    let valid = prop_oneof![
        Just(json!({})),
        Just(json!({"nodes_id": null})),
        probe_node().prop_map(|node| json!({"nodes_id": node})),
    ];
    let wrong_node = any_json()
        .prop_filter("not a valid node ID", |value| {
            !matches!(value, Value::Null) && !matches!(value, Value::String(s) if !s.is_empty())
        })
        .prop_map(|value| json!({"nodes_id": value}));
    let unknown_field = ("[a-z_]{1,8}", any_json())
        .prop_filter("not the known field", |(name, _)| name != "nodes_id")
        .prop_map(|(name, value)| json!({ name: value }));
    let not_object = any_json().prop_filter("not an object", |value| !value.is_object());
    let raw = prop_oneof![
        Just(Vec::new()),
        Just(b"{".to_vec()),
        Just(b"{} {}".to_vec()),
        Just(br#"{"nodes_id": null, "nodes_id": null}"#.to_vec()),
        "[^{\\[\"0-9tfn -]{1,20}".prop_map(String::into_bytes),
    ];
    prop_oneof![
        4 => valid.prop_map(RestBody::Valid),
        2 => wrong_node.prop_map(RestBody::Invalid),
        1 => unknown_field.prop_map(RestBody::Invalid),
        1 => not_object.prop_map(RestBody::Invalid),
        2 => raw.prop_map(RestBody::Raw),
    ]
}

fn rest_case() -> impl Strategy<Value = RestCase> {
    let content_type = prop_oneof![
        6 => Just(Some("application/json")),
        1 => Just(Some("application/json; charset=utf-8")),
        1 => Just(Some("text/plain")),
        1 => Just(None),
    ];
    (probe_service(), key_choice(), content_type, rest_body()).prop_map(
        |(service, key, content_type, body)| RestCase {
            service,
            key,
            content_type,
            body,
        },
    )
}

fn rpc_id() -> impl Strategy<Value = Option<Value>> {
    prop_oneof![
        Just(None),
        Just(Some(Value::Null)),
        any::<i32>().prop_map(|id| Some(Value::from(id))),
        "[a-z0-9-]{0,8}".prop_map(|id| Some(Value::from(id))),
    ]
}

fn terminate_params() -> impl Strategy<Value = Value> {
    prop_oneof![
        (probe_service(), proptest::option::of(probe_node())).prop_map(|(service, node)| {
            json!({"system_services_id": service, "nodes_id": node})
        }),
        (probe_service(), proptest::option::of(probe_node())).prop_map(
            |(service, node)| match node {
                Some(node) => json!([service, node]),
                None => json!([service]),
            }
        ),
    ]
}

fn bad_params() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(json!({})),
        Just(json!([])),
        Just(json!({"system_services_id": ""})),
        Just(json!(["a", "b", "c"])),
        any_json()
            .prop_map(|value| json!({"system_services_id": "contract-probe-x", "nodes_id": value}))
            .prop_filter("not a valid node ID", |params| {
                let node = &params["nodes_id"];
                !node.is_null() && !matches!(node, Value::String(s) if !s.is_empty())
            }),
    ]
}

fn valid_item() -> impl Strategy<Value = RpcItem> {
    let call = prop_oneof![
        3 => terminate_params().prop_map(|params| (CallKind::Terminate, METHOD.to_string(), params)),
        1 => bad_params().prop_map(|params| (CallKind::BadParams, METHOD.to_string(), params)),
        1 => "[a-z.]{1,12}".prop_map(|method| (CallKind::UnknownMethod, format!("contract.{method}"), json!([]))),
    ];
    (call, rpc_id()).prop_map(|((kind, method, params), id)| {
        let mut value = json!({"jsonrpc": "2.0", "method": method, "params": params});
        if let Some(id) = &id {
            value["id"] = id.clone();
        }
        RpcItem {
            value,
            kind: ItemKind::Call { id, call: kind },
        }
    })
}

fn invalid_item() -> impl Strategy<Value = RpcItem> {
    // An array is left out: as a whole payload it would be a batch.
    let value = prop_oneof![
        any_json().prop_filter("not an object or an array", |value| {
            !value.is_object() && !value.is_array()
        }),
        Just(json!({"jsonrpc": "1.0", "method": METHOD, "id": 1})),
        Just(json!({"method": METHOD, "id": 1})),
        Just(json!({"jsonrpc": "2.0", "method": 7, "id": 1})),
        Just(json!({"jsonrpc": "2.0", "method": METHOD, "params": "x", "id": 1})),
        Just(json!({"jsonrpc": "2.0", "method": METHOD, "id": {"a": 1}})),
        Just(json!({"jsonrpc": "2.0", "method": METHOD, "param": [], "id": 2})),
    ];
    value.prop_map(|value| RpcItem {
        value,
        kind: ItemKind::Invalid,
    })
}

fn rpc_item() -> impl Strategy<Value = RpcItem> {
    prop_oneof![4 => valid_item(), 1 => invalid_item()]
}

fn rpc_case() -> impl Strategy<Value = RpcCase> {
    let payload = prop_oneof![
        4 => rpc_item().prop_map(RpcPayload::Single),
        3 => proptest::collection::vec(rpc_item(), 0..6).prop_map(RpcPayload::Batch),
        1 => "[^{\\[\"0-9tfn -]{1,12}".prop_map(|text| RpcPayload::Raw(text.into_bytes())),
    ];
    (key_choice(), payload).prop_map(|(key, payload)| RpcCase { key, payload })
}
