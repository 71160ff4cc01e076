//! The mock serving another OpenAPI 3.0 document (`--spec`). For each spec
//! of the corpus and the mock's own, valid requests built from the spec get
//! responses that pass the checker. Invalid ones get the documented error
//! body naming the invalid field.

use contract_tests::MockServer;
use contract_tests::checker::{Checker, RecordedRequest, RecordedResponse, Rule, record};
use mock_server::state::ClusterState;
use mock_server::{AnySpec, DEFAULT_API_KEY, MockApi};
use reqwest::Method;
use serde_json::{Map, Value, json};

const SEED: u64 = 42;

/// Each spec under test, by name.
const SPECS: [(&str, &str); 8] = [
    (
        "petstore-expanded",
        include_str!("../../xtask/corpus/petstore-expanded.yaml"),
    ),
    (
        "petstore3",
        include_str!("../../xtask/corpus/petstore3.yaml"),
    ),
    (
        "realworld",
        include_str!("../../xtask/corpus/realworld.yaml"),
    ),
    ("uber", include_str!("../../xtask/corpus/uber.yaml")),
    ("uspto", include_str!("../../xtask/corpus/uspto.yaml")),
    ("lxkns", include_str!("../../xtask/corpus/lxkns.yaml")),
    ("openapi", api_spec::OPENAPI_YAML),
    ("patterns", PATTERNS_YAML),
];

/// A spec whose response values must match patterns, documented without
/// examples, so the mock generates them.
const PATTERNS_YAML: &str = r#"
openapi: 3.0.3
info: {title: Flights, version: '1'}
paths:
  /flights:
    get:
      parameters:
        - {name: limit, in: query, required: true, schema: {type: integer, minimum: 1, maximum: 50}}
      responses:
        '200':
          description: The flights.
          content:
            application/json:
              schema:
                type: array
                minItems: 1
                items:
                  type: object
                  required: [code, gate, version, host]
                  properties:
                    code: {type: string, pattern: '^[A-Z]{2}\d{3,4}$'}
                    gate: {type: string, pattern: '^(A|B|C)-[1-9][0-9]?$'}
                    version: {type: string, pattern: '^v\d+(\.\d+){2}$', minLength: 8}
                    host: {type: string, pattern: '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$', maxLength: 63}
"#;

const METHODS: [&str; 7] = ["get", "put", "post", "delete", "options", "head", "patch"];

/// Starts the mock on loopback, serving `yaml` with `seed`.
async fn start(yaml: &str, seed: u64) -> MockServer {
    let spec = AnySpec::load(yaml, seed).expect("the spec loads");
    let api = MockApi::new(
        ClusterState::default_state(),
        vec![DEFAULT_API_KEY.to_string()],
    );
    MockServer::start_with_api(api.with_spec(spec)).await
}

/// An operation of a spec, with its parameters and path-level ones.
struct Operation<'a> {
    document: &'a Value,
    template: &'a str,
    method: Method,
    operation: &'a Value,
    parameters: Vec<&'a Value>,
}

fn operations(document: &Value) -> Vec<Operation<'_>> {
    let mut operations = Vec::new();
    let paths = document["paths"].as_object().expect("paths");
    for (template, item) in paths {
        let item = resolve(document, item);
        for name in METHODS {
            let Some(operation) = item.get(name) else {
                continue;
            };
            let own = operation["parameters"].as_array().into_iter().flatten();
            let shared = item["parameters"].as_array().into_iter().flatten();
            let mut parameters: Vec<&Value> = own.map(|p| resolve(document, p)).collect();
            for parameter in shared.map(|p| resolve(document, p)) {
                if !parameters.iter().any(|p| p["name"] == parameter["name"]) {
                    parameters.push(parameter);
                }
            }
            operations.push(Operation {
                document,
                template,
                method: Method::from_bytes(name.to_uppercase().as_bytes()).unwrap(),
                operation,
                parameters,
            });
        }
    }
    operations
}

fn resolve<'a>(document: &'a Value, value: &'a Value) -> &'a Value {
    let mut current = value;
    while let Some(reference) = current.get("$ref").and_then(Value::as_str) {
        let pointer = reference.strip_prefix('#').expect("a local reference");
        current = document.pointer(pointer).expect("the reference resolves");
    }
    current
}

/// Builds a value of `schema`: its example, else the first enum value,
/// else the smallest value of its type with the required properties.
fn sample(document: &Value, schema: &Value) -> Value {
    let schema = resolve(document, schema);
    if let Some(example) = schema.get("example") {
        return example.clone();
    }
    if let Some(first) = schema["enum"].as_array().and_then(|values| values.first()) {
        return first.clone();
    }
    if let Some(parts) = schema["allOf"].as_array() {
        let mut merged = Map::new();
        for part in parts {
            if let Value::Object(map) = sample(document, part) {
                merged.extend(map);
            }
        }
        return Value::Object(merged);
    }
    for keyword in ["oneOf", "anyOf"] {
        if let Some(first) = schema[keyword].as_array().and_then(|values| values.first()) {
            return sample(document, first);
        }
    }
    let minimum = schema["minimum"].as_f64().unwrap_or(1.0).max(1.0);
    match schema["type"].as_str() {
        Some("integer") => json!(minimum as i64),
        Some("number") => json!(minimum),
        Some("boolean") => json!(true),
        Some("array") => json!([sample(document, &schema["items"])]),
        Some("object") | None if schema.get("properties").is_some() => {
            let required = schema["required"].as_array().into_iter().flatten();
            let object: Map<String, Value> = required
                .filter_map(Value::as_str)
                .map(|name| {
                    let property = &schema["properties"][name];
                    (name.to_string(), sample(document, property))
                })
                .collect();
            Value::Object(object)
        }
        Some("object") => json!({}),
        _ => match schema["format"].as_str() {
            Some("date-time") => json!("2026-01-02T03:04:05Z"),
            Some("date") => json!("2026-01-02"),
            Some("email") => json!("someone@example.com"),
            Some("uuid") => json!("0b1c2d3e-4f50-4a61-8b72-93a4b5c6d7e8"),
            _ => {
                let length = schema["minLength"].as_u64().unwrap_or(1) as usize;
                json!("a".repeat(length.max(1)))
            }
        },
    }
}

/// Returns the text of a parameter value, with arrays joined by commas.
fn text(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        Value::Array(items) => items.iter().map(text).collect::<Vec<_>>().join(","),
        other => other.to_string(),
    }
}

/// What to leave out of, or break in, a request built by [`build`].
#[derive(Clone, Copy, PartialEq)]
enum Change<'a> {
    None,
    OmitParameter(&'a str),
    BreakParameter(&'a str),
    OmitCredentials,
}

impl Operation<'_> {
    /// Builds a request with every required parameter, the credentials of
    /// the first security alternative and a JSON body, changed by `change`.
    fn build(&self, base_url: &str, change: Change) -> RecordedRequest {
        let mut path = self.template.to_string();
        let mut query = Vec::new();
        let mut headers = Vec::new();
        let mut cookies = Vec::new();
        for parameter in &self.parameters {
            let name = parameter["name"].as_str().unwrap();
            let location = parameter["in"].as_str().unwrap();
            let required = location == "path" || parameter["required"] == json!(true);
            if !required || change == Change::OmitParameter(name) {
                continue;
            }
            let value = match parameter.get("example") {
                Some(example) => example.clone(),
                None => sample(self.document, &parameter["schema"]),
            };
            let value = if change == Change::BreakParameter(name) {
                "not-valid".to_string()
            } else {
                text(&value)
            };
            match location {
                "path" => path = path.replace(&format!("{{{name}}}"), &value),
                "query" => query.push(format!("{name}={value}")),
                "header" => headers.push((name.to_string(), value)),
                _ => cookies.push(format!("{name}={value}")),
            }
        }
        if !query.is_empty() {
            path = format!("{path}?{}", query.join("&"));
        }
        if change != Change::OmitCredentials {
            self.add_credentials(&mut headers, &mut cookies, &mut path);
        }
        if !cookies.is_empty() {
            headers.push(("Cookie".to_string(), cookies.join("; ")));
        }
        let mut request = RecordedRequest::new(self.method.clone(), base_url, &path);
        for (name, value) in headers {
            request = request.header(&name, &value);
        }
        match self.json_body_schema() {
            Some(schema) => request.json(&sample(self.document, schema)),
            None => request,
        }
    }

    fn security(&self) -> Option<&Value> {
        let security = self
            .operation
            .get("security")
            .or_else(|| self.document.get("security"))?;
        security.as_array()?.first()
    }

    fn add_credentials(
        &self,
        headers: &mut Vec<(String, String)>,
        cookies: &mut Vec<String>,
        path: &mut String,
    ) {
        let Some(requirement) = self.security().and_then(Value::as_object) else {
            return;
        };
        for name in requirement.keys() {
            let scheme = &self.document["components"]["securitySchemes"][name];
            let key_name = scheme["name"].as_str().unwrap_or_default();
            match (scheme["type"].as_str(), scheme["in"].as_str()) {
                (Some("apiKey"), Some("header")) => {
                    headers.push((key_name.to_string(), DEFAULT_API_KEY.to_string()));
                }
                (Some("apiKey"), Some("query")) => {
                    let separator = if path.contains('?') { '&' } else { '?' };
                    path.push_str(&format!("{separator}{key_name}={DEFAULT_API_KEY}"));
                }
                (Some("apiKey"), _) => cookies.push(format!("{key_name}={DEFAULT_API_KEY}")),
                (Some("http"), _) if scheme["scheme"] == json!("basic") => {
                    headers.push((
                        "Authorization".to_string(),
                        "Basic dXNlcjpwYXNz".to_string(),
                    ));
                }
                _ => headers.push(("Authorization".to_string(), "Bearer token".to_string())),
            }
        }
    }

    fn json_body_schema(&self) -> Option<&Value> {
        let body = resolve(self.document, self.operation.get("requestBody")?);
        let content = body["content"].as_object()?;
        let (_, media) = content.iter().find(|(name, _)| name.contains("json"))?;
        media.get("schema")
    }

    /// Returns whether the operation documents a 2xx or `default`
    /// response.
    fn documents_success(&self) -> bool {
        let responses = self.operation["responses"]
            .as_object()
            .into_iter()
            .flatten();
        responses
            .map(|(key, _)| key.as_str())
            .any(|key| key.starts_with('2') || key == "default")
    }

    fn body_required(&self) -> bool {
        let body = self.operation.get("requestBody");
        body.is_some_and(|body| resolve(self.document, body)["required"] == json!(true))
    }
}

async fn send(request: &RecordedRequest) -> RecordedResponse {
    record(&reqwest::Client::new(), request)
        .await
        .expect("the mock responds")
}

/// Asserts that `response` is the documented error body with `status`,
/// naming `field` in `data`. The checker must pass it unless the spec
/// leaves the status undocumented or documents other content for it,
/// because the mock sends its own error body in place of the spec's.
fn assert_error(
    checker: &Checker,
    request: &RecordedRequest,
    response: &RecordedResponse,
    status: u16,
    field: &str,
) {
    let curl = contract_tests::checker::curl_line(request);
    assert_eq!(response.status, status, "{curl}\n{response:?}");
    let body: Value = serde_json::from_slice(&response.body).expect("a JSON error body");
    assert!(body["error"]["message"].is_string(), "{curl}\n{body}");
    assert!(
        body["error"]["data"].get(field).is_some(),
        "{curl}: `{field}` is not named in {body}"
    );
    if let Err(violation) = checker.check(request, response) {
        assert!(
            matches!(
                violation.rule,
                Rule::StatusNotDocumented
                    | Rule::BodyNotEmpty
                    | Rule::ContentTypeMismatch
                    | Rule::BodySchema
            ),
            "{violation}"
        );
    }
}

#[tokio::test]
async fn valid_requests_pass_checker() {
    for (name, yaml) in SPECS {
        let checker = Checker::from_yaml(yaml).expect("the checker loads the spec");
        let mock = start(yaml, SEED).await;
        let mut checked = 0;
        for operation in operations(checker.document()) {
            let request = operation.build(&mock.base_url(), Change::None);
            let response = send(&request).await;
            let curl = contract_tests::checker::curl_line(&request);
            let result = checker.check(&request, &response);
            if !operation.documents_success() {
                // An error documented without content still gets the
                // documented error body.
                let violation = result.expect_err("an error body where none is documented");
                assert_eq!(violation.rule, Rule::BodyNotEmpty, "{violation}");
                assert_error(&checker, &request, &response, response.status, "status");
                continue;
            }
            assert!(result.is_ok(), "{name}: {}", result.unwrap_err());
            // The mock's own operations keep their stateful implementation,
            // whose responses depend on the state.
            if name != "openapi" {
                assert!(
                    (200..300).contains(&response.status),
                    "{name}: {curl}\n{response:?}"
                );
            }
            checked += 1;
        }
        assert!(checked > 0, "{name} has operations");
    }
}

#[tokio::test]
async fn invalid_requests_get_error_body() {
    // The lxkns operations take no parameter, body or credential.
    let rejecting = SPECS
        .into_iter()
        .filter(|(name, _)| !["openapi", "lxkns"].contains(name));
    for (name, yaml) in rejecting {
        let checker = Checker::from_yaml(yaml).expect("the checker loads the spec");
        let mock = start(yaml, SEED).await;
        let mut rejected = 0;
        for operation in operations(checker.document()) {
            let base_url = mock.base_url();
            for parameter in &operation.parameters {
                let parameter_name = parameter["name"].as_str().unwrap();
                let schema = resolve(operation.document, &parameter["schema"]);
                let location = parameter["in"].as_str().unwrap();
                if location != "path" && parameter["required"] == json!(true) {
                    let request = operation.build(&base_url, Change::OmitParameter(parameter_name));
                    let response = send(&request).await;
                    assert_error(&checker, &request, &response, 400, parameter_name);
                    rejected += 1;
                }
                let typed = matches!(schema["type"].as_str(), Some("integer" | "number"));
                let required = parameter["required"] == json!(true) || location == "path";
                if typed && required {
                    let request =
                        operation.build(&base_url, Change::BreakParameter(parameter_name));
                    let response = send(&request).await;
                    assert_error(&checker, &request, &response, 400, parameter_name);
                    rejected += 1;
                }
            }
            if operation.json_body_schema().is_some() && operation.body_required() {
                let mut request = operation.build(&base_url, Change::None);
                request.body = b"\"not-an-object\"".to_vec();
                let response = send(&request).await;
                assert_error(&checker, &request, &response, 400, "body");
                rejected += 1;
            }
            if operation.operation.get("requestBody").is_some() {
                let mut request = operation.build(&base_url, Change::None);
                request.headers.remove("content-type");
                request.body = b"a,b".to_vec();
                let request = request.header("Content-Type", "text/csv");
                let response = send(&request).await;
                assert_error(&checker, &request, &response, 415, "content-type");
                rejected += 1;
            }
            let secured = operation.security().and_then(Value::as_object);
            if secured.is_some_and(|requirement| !requirement.is_empty()) {
                let request = operation.build(&base_url, Change::OmitCredentials);
                let response = send(&request).await;
                assert_eq!(
                    response.status,
                    401,
                    "{name}: {}",
                    contract_tests::checker::curl_line(&request)
                );
                rejected += 1;
            }
        }
        assert!(rejected > 0, "{name} has requests to reject");
    }
}

/// Returns the body of each GET operation without path parameters.
async fn get_bodies(yaml: &str, seed: u64) -> Vec<Vec<u8>> {
    let checker = Checker::from_yaml(yaml).expect("the checker loads the spec");
    let mock = start(yaml, seed).await;
    let mut bodies = Vec::new();
    for operation in operations(checker.document()) {
        if operation.method == Method::GET {
            let request = operation.build(&mock.base_url(), Change::None);
            bodies.push(send(&request).await.body);
        }
    }
    bodies
}

#[tokio::test]
async fn same_seed_gives_same_bodies() {
    let (_, yaml) = SPECS[1];
    let first = get_bodies(yaml, SEED).await;
    let again = get_bodies(yaml, SEED).await;
    let other = get_bodies(yaml, SEED + 1).await;
    assert!(!first.is_empty());
    assert_eq!(first, again);
    assert_ne!(first, other);
}

#[tokio::test]
async fn terminate_keeps_stateful_implementation() {
    let (_, yaml) = SPECS[6];
    let mock = start(yaml, SEED).await;
    let path = "/system/services/active/cron/terminate";
    let mut affected = Vec::new();
    for _ in 0..2 {
        let request = RecordedRequest::new(Method::POST, &mock.base_url(), path)
            .header("X-Api-Key", DEFAULT_API_KEY)
            .json(&json!({"nodes_id": null}));
        let response = send(&request).await;
        assert_eq!(response.status, 200);
        affected.push(String::from_utf8(response.body).unwrap());
    }
    // The second call finds both processes already flagged.
    assert_eq!(affected, ["2", "0"]);
}

#[tokio::test]
async fn head_gets_get_response_without_body() {
    let mock = start(EXAMPLES_YAML, SEED).await;
    let response = reqwest::Client::new()
        .head(format!("{}/items", mock.base_url()))
        .send()
        .await
        .expect("the mock responds");
    assert_eq!(response.status(), 200);
    assert_eq!(response.bytes().await.unwrap().len(), 0);
    let request = RecordedRequest::new(Method::PUT, &mock.base_url(), "/items");
    let response = send(&request).await;
    assert_eq!(response.status, 405);
    let allow = response.headers.get("allow").expect("an Allow header");
    assert_eq!(allow, "GET");
}

/// A spec with named examples, for the `Prefer` selection.
const EXAMPLES_YAML: &str = "
openapi: 3.0.3
info: {title: Items, version: '1'}
paths:
  /items:
    get:
      responses:
        '200':
          description: The items.
          content:
            application/json:
              schema: {type: array, items: {type: integer}}
              examples:
                first: {value: [1]}
                second: {value: [2, 3]}
        '404':
          description: No items.
          content:
            application/json:
              example: {missing: true}
";

#[tokio::test]
async fn prefer_selects_documented_example() {
    let mock = start(EXAMPLES_YAML, SEED).await;
    let cases = [
        (None, 200, json!([1])),
        (Some("example=second"), 200, json!([2, 3])),
        (Some("code=404"), 404, json!({"missing": true})),
    ];
    for (prefer, status, expected) in cases {
        let mut request = RecordedRequest::new(Method::GET, &mock.base_url(), "/items");
        if let Some(prefer) = prefer {
            request = request.header("Prefer", prefer);
        }
        let response = send(&request).await;
        assert_eq!(response.status, status, "{prefer:?}");
        let body: Value = serde_json::from_slice(&response.body).unwrap();
        assert_eq!(body, expected, "{prefer:?}");
    }
    let request = RecordedRequest::new(Method::GET, &mock.base_url(), "/items")
        .header("Prefer", "example=third");
    let response = send(&request).await;
    let body: Value = serde_json::from_slice(&response.body).unwrap();
    assert_eq!(response.status, 400);
    assert!(body["error"]["data"]["prefer"].is_string(), "{body}");
}

#[test]
fn openapi_three_one_is_rejected() {
    let yaml = "openapi: 3.1.0\ninfo: {title: t, version: '1'}\npaths: {}\n";
    let error = AnySpec::load(yaml, SEED).err().expect("3.1 is rejected");
    assert_eq!(
        error.to_string(),
        "#/openapi: OpenAPI 3.1.0 is not supported; the mock serves OpenAPI 3.0 documents"
    );
}

/// Returns the petstore3 spec, whose operations take the API key in an
/// `api_key` header.
fn petstore3() -> &'static str {
    SPECS[1].1
}

#[tokio::test]
async fn preflight_allows_loaded_path() {
    let mock = start(petstore3(), SEED).await;
    let client = reqwest::Client::new();
    let response = client
        .request(Method::OPTIONS, format!("{}/pet/7", mock.base_url()))
        .header("Origin", "http://localhost:5173")
        .header("Access-Control-Request-Method", "DELETE")
        .header("Access-Control-Request-Headers", "api_key")
        .send()
        .await
        .expect("the mock responds");
    assert_eq!(response.status(), 204);
    let header = |name: &str| {
        let value = response.headers().get(name);
        value.map(|value| value.to_str().unwrap().to_string())
    };
    assert_eq!(header("access-control-allow-origin").as_deref(), Some("*"));
    assert_eq!(
        header("access-control-allow-methods").as_deref(),
        Some("GET, POST, DELETE")
    );
    let allowed = header("access-control-allow-headers").unwrap_or_default();
    assert!(
        allowed.split(", ").any(|name| name == "api_key"),
        "{allowed}"
    );

    let response = client
        .get(format!("{}/pet/7", mock.base_url()))
        .header("Origin", "http://localhost:5173")
        .header("api_key", DEFAULT_API_KEY)
        .send()
        .await
        .expect("the mock responds");
    assert_eq!(response.status(), 200);
    let allow_origin = response.headers().get("access-control-allow-origin");
    assert_eq!(allow_origin.unwrap(), "*");
}

/// Returns the journal of the shared state of the mock at `base_url`.
async fn journal(base_url: &str) -> Value {
    reqwest::get(format!("{base_url}/__mock/journal"))
        .await
        .expect("the mock responds")
        .json()
        .await
        .expect("a JSON journal")
}

#[tokio::test]
async fn fault_applies_to_loaded_route() {
    let mock = start(petstore3(), SEED).await;
    let client = reqwest::Client::new();
    let fault = json!({"match": {"method": "GET", "path": "/pet/"}, "status": 500, "count": 1});
    let created = client
        .post(format!("{}/__mock/faults", mock.base_url()))
        .header("X-Api-Key", DEFAULT_API_KEY)
        .json(&fault)
        .send()
        .await
        .expect("the mock responds");
    assert_eq!(created.status(), 201);
    let fault_id = created.json::<Value>().await.unwrap()["id"].clone();

    // The fault simulates the server, so a request without the loaded
    // operation's credential gets its 401 and leaves the fault in place.
    let unauthenticated = RecordedRequest::new(Method::GET, &mock.base_url(), "/pet/7");
    assert_eq!(send(&unauthenticated).await.status, 401);
    let request = unauthenticated.header("api_key", DEFAULT_API_KEY);
    let faulted = send(&request).await;
    assert_eq!(faulted.status, 500, "{faulted:?}");
    let body: Value = serde_json::from_slice(&faulted.body).expect("a JSON error body");
    assert!(body["error"]["message"].is_string(), "{body}");
    // The fault had a count of 1.
    assert_eq!(send(&request).await.status, 200);

    let journal = journal(&mock.base_url()).await;
    let entries = journal["entries"].as_array().expect("journal entries");
    let statuses: Vec<(&str, u64)> = entries
        .iter()
        .map(|entry| {
            (
                entry["path"].as_str().unwrap(),
                entry["status"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        statuses,
        [("/pet/7", 401), ("/pet/7", 500), ("/pet/7", 200)]
    );
    assert_eq!(entries[1]["fault"], fault_id, "{journal}");
}

/// A spec whose operations document no 2xx response.
const NO_SUCCESS_YAML: &str = "
openapi: 3.0.3
info: {title: Jobs, version: '1'}
paths:
  /jobs:
    get:
      responses:
        '404':
          description: No jobs.
        default:
          description: The jobs.
          content:
            application/json:
              example: {jobs: [1, 2]}
  /jobs/{id}:
    parameters:
      - {name: id, in: path, required: true, schema: {type: integer}}
    get:
      responses:
        default:
          description: The job.
          content:
            application/json:
              schema:
                type: object
                required: [id, state]
                properties:
                  id: {type: integer, minimum: 1}
                  state: {type: string, enum: [queued, done]}
    delete:
      responses:
        '409':
          description: The job is running.
        '404':
          description: No such job.
";

#[tokio::test]
async fn default_response_sent_as_ok() {
    let mock = start(NO_SUCCESS_YAML, SEED).await;
    let listed = send(&RecordedRequest::new(
        Method::GET,
        &mock.base_url(),
        "/jobs",
    ))
    .await;
    assert_eq!(listed.status, 200, "{listed:?}");
    let body: Value = serde_json::from_slice(&listed.body).expect("a JSON body");
    assert_eq!(body, json!({"jobs": [1, 2]}));

    let job = send(&RecordedRequest::new(
        Method::GET,
        &mock.base_url(),
        "/jobs/3",
    ))
    .await;
    assert_eq!(job.status, 200, "{job:?}");
    let body: Value = serde_json::from_slice(&job.body).expect("a JSON body");
    assert!(body["id"].as_i64().is_some_and(|id| id >= 1), "{body}");
    assert!(
        matches!(body["state"].as_str(), Some("queued" | "done")),
        "{body}"
    );
}

#[tokio::test]
async fn only_errors_send_lowest_status() {
    let mock = start(NO_SUCCESS_YAML, SEED).await;
    let request = RecordedRequest::new(Method::DELETE, &mock.base_url(), "/jobs/3");
    let response = send(&request).await;
    assert_eq!(response.status, 404, "{response:?}");
    let body: Value = serde_json::from_slice(&response.body).expect("a JSON error body");
    assert!(body["error"]["message"].is_string(), "{body}");
    assert!(body["error"]["data"].is_object(), "{body}");
}

/// A spec with a form body and object query parameters.
const OBJECTS_YAML: &str = "
openapi: 3.0.3
info: {title: Accounts, version: '1'}
paths:
  /accounts:
    post:
      requestBody:
        required: true
        content:
          application/x-www-form-urlencoded:
            schema:
              type: object
              required: [user, age]
              properties:
                user: {type: string, minLength: 3}
                age: {type: integer, minimum: 18}
                role: {type: string, enum: [admin, viewer]}
                tags: {type: array, items: {type: integer}}
      responses:
        '201': {description: Created.}
    get:
      parameters:
        - name: filter
          in: query
          required: true
          style: deepObject
          schema:
            type: object
            required: [status]
            properties:
              status: {type: string, enum: [open, closed]}
              limit: {type: integer, maximum: 50}
        - name: page
          in: query
          schema:
            type: object
            properties:
              number: {type: integer, minimum: 1}
              size: {type: integer, maximum: 100}
      responses:
        '200':
          description: The accounts.
          content:
            application/json:
              example: []
";

/// Sends `request` and returns its status with the names in the `data`
/// of its error body, if it has one.
async fn invalid_fields(request: &RecordedRequest) -> (u16, Vec<String>) {
    let response = send(request).await;
    let body: Value = serde_json::from_slice(&response.body).unwrap_or(Value::Null);
    let fields = body["error"]["data"]
        .as_object()
        .map(|data| data.keys().cloned().collect())
        .unwrap_or_default();
    (response.status, fields)
}

#[tokio::test]
async fn form_body_checked_against_schema() {
    let mock = start(OBJECTS_YAML, SEED).await;
    let form = |body: &str| {
        let mut request = RecordedRequest::new(Method::POST, &mock.base_url(), "/accounts")
            .header("Content-Type", "application/x-www-form-urlencoded");
        request.body = body.as_bytes().to_vec();
        request
    };
    let cases: [(&str, u16, &[&str]); 5] = [
        ("user=alice&age=30&role=admin&tags=1&tags=2", 201, &[]),
        ("user=al%20ice&age=18", 201, &[]),
        (
            "user=al&age=12&role=root&tags=x",
            400,
            &["body/age", "body/role", "body/tags/0", "body/user"],
        ),
        ("user=alice", 400, &["body/age"]),
        ("user=alice&age=30&age=31", 400, &["body/age"]),
    ];
    for (body, status, fields) in cases {
        let (got, names) = invalid_fields(&form(body)).await;
        assert_eq!(got, status, "{body}: {names:?}");
        assert_eq!(names, fields, "{body}");
    }
}

#[tokio::test]
async fn object_query_checked_against_schema() {
    let mock = start(OBJECTS_YAML, SEED).await;
    let cases: [(&str, u16, &[&str]); 7] = [
        (
            "filter[status]=open&filter[limit]=10&number=2&size=5",
            200,
            &[],
        ),
        ("filter%5Bstatus%5D=closed", 200, &[]),
        (
            "filter[status]=lost&filter[limit]=99",
            400,
            &["filter[limit]", "filter[status]"],
        ),
        ("filter[limit]=3", 400, &["filter[status]"]),
        ("page=1", 400, &["filter"]),
        ("filter=open&filter[status]=open", 400, &["filter"]),
        (
            "filter[status]=open&number=0&size=x",
            400,
            &["number", "size"],
        ),
    ];
    for (query, status, fields) in cases {
        let path = format!("/accounts?{query}");
        let request = RecordedRequest::new(Method::GET, &mock.base_url(), &path);
        let (got, names) = invalid_fields(&request).await;
        assert_eq!(got, status, "{query}: {names:?}");
        assert_eq!(names, fields, "{query}");
    }
}

/// A spec whose operations take an API key in a header or the query.
const KEYS_YAML: &str = "
openapi: 3.0.3
info: {title: Reports, version: '1'}
components:
  securitySchemes:
    header_key: {type: apiKey, in: header, name: X-Report-Key}
    query_key: {type: apiKey, in: query, name: access token}
paths:
  /reports:
    get:
      security: [{header_key: []}, {query_key: []}]
      parameters:
        - {name: page, in: query, schema: {type: integer}}
      responses:
        '200':
          description: The reports.
          content:
            application/json:
              example: [1, 2]
";

#[tokio::test]
async fn journal_redacts_loaded_credentials() {
    let mock = start(KEYS_YAML, SEED).await;
    let base_url = mock.base_url();
    let by_header = RecordedRequest::new(Method::GET, &base_url, "/reports?page=2")
        .header("X-Report-Key", DEFAULT_API_KEY);
    assert_eq!(send(&by_header).await.status, 200);
    let query = format!("/reports?page=3&access+token={DEFAULT_API_KEY}");
    let by_query = RecordedRequest::new(Method::GET, &base_url, &query);
    assert_eq!(send(&by_query).await.status, 200);

    let journal = journal(&base_url).await;
    assert!(!journal.to_string().contains(DEFAULT_API_KEY), "{journal}");
    let entries = journal["entries"].as_array().expect("journal entries");
    assert_eq!(entries.len(), 2, "{journal}");
    assert_eq!(entries[0]["headers"]["x-report-key"], "[redacted]");
    assert_eq!(entries[0]["query"], "page=2");
    assert_eq!(entries[1]["query"], "page=3&access+token=[redacted]");
}

const READ_WRITE_YAML: &str = "
openapi: 3.0.3
info: {title: Users, version: '1'}
paths:
  /users:
    post:
      requestBody:
        required: true
        content:
          application/json:
            schema: {$ref: '#/components/schemas/User'}
      responses:
        '201':
          description: Created.
          content:
            application/json:
              schema: {$ref: '#/components/schemas/User'}
components:
  schemas:
    User:
      type: object
      required: [id, name, password]
      properties:
        id: {type: string, readOnly: true}
        name: {type: string}
        password: {type: string, writeOnly: true}
";

#[tokio::test]
async fn read_only_required_in_response_only() {
    let mock = start(READ_WRITE_YAML, SEED).await;
    let create = |body: Value| {
        let mut request = RecordedRequest::new(Method::POST, &mock.base_url(), "/users")
            .header("Content-Type", "application/json");
        request.body = body.to_string().into_bytes();
        request
    };

    let created = send(&create(json!({"name": "ann", "password": "p"}))).await;
    assert_eq!(created.status, 201, "{created:?}");
    let body: Value = serde_json::from_slice(&created.body).expect("a JSON body");
    assert!(body["id"].is_string(), "{body}");
    assert!(body.get("password").is_none(), "{body}");

    let (status, fields) = invalid_fields(&create(json!({"name": "ann"}))).await;
    assert_eq!(status, 400);
    assert_eq!(fields, ["body/password"]);
}

/// A spec whose responses, generated in full, would take gigabytes.
const HUGE_VALUES_YAML: &str = "
openapi: 3.0.3
info: {title: Huge, version: '1'}
paths:
  /text:
    get:
      responses:
        '200':
          description: A long string.
          content:
            application/json:
              schema: {type: string, minLength: 100000000}
  /grid:
    get:
      responses:
        '200':
          description: Nested arrays.
          content:
            application/json:
              schema:
                type: array
                minItems: 100000
                items:
                  type: array
                  minItems: 100000
                  items: {type: integer}
";

#[tokio::test]
async fn huge_minimums_still_start() {
    let mock = start(HUGE_VALUES_YAML, SEED).await;
    for path in ["/text", "/grid"] {
        let response = send(&RecordedRequest::new(Method::GET, &mock.base_url(), path)).await;
        assert_eq!(response.status, 200, "{path}");
        assert!(
            response.body.len() > 1000,
            "{path}: {}",
            response.body.len()
        );
        assert!(
            response.body.len() < 1_000_000,
            "{path}: {}",
            response.body.len()
        );
    }
}

#[tokio::test]
async fn session_header_checked_on_loaded_operation() {
    let mock = start(NO_SUCCESS_YAML, SEED).await;
    let jobs = |session: &str| {
        RecordedRequest::new(Method::GET, &mock.base_url(), "/jobs")
            .header("X-Mock-Session", session)
    };
    let too_long = "a".repeat(100);
    for invalid in ["bad name!", too_long.as_str()] {
        let (status, fields) = invalid_fields(&jobs(invalid)).await;
        assert_eq!(status, 400, "{invalid}");
        assert_eq!(fields, ["X-Mock-Session"], "{invalid}");
    }

    let response = send(&jobs("checkout-test")).await;
    assert_eq!(response.status, 200, "{response:?}");
    let sessions: Value = reqwest::get(format!("{}/__mock/sessions", mock.base_url()))
        .await
        .expect("the mock responds")
        .json()
        .await
        .expect("a JSON session list");
    let names: Vec<&str> = sessions["sessions"]
        .as_array()
        .expect("sessions")
        .iter()
        .filter_map(|session| session["name"].as_str())
        .collect();
    assert_eq!(names, ["checkout-test"]);
}

/// A spec with array parameters in each delimited style.
const ARRAYS_YAML: &str = "
openapi: 3.0.3
info: {title: Arrays, version: '1'}
paths:
  /numbers:
    get:
      parameters:
        - {name: X-List, in: header, schema: {type: array, items: {type: integer}}}
        - name: pipes
          in: query
          style: pipeDelimited
          schema: {type: array, items: {type: integer}}
        - name: spaces
          in: query
          style: spaceDelimited
          schema: {type: array, items: {type: integer}}
      responses:
        '204':
          description: Accepted.
";

#[tokio::test]
async fn delimited_arrays_split_by_style() {
    let mock = start(ARRAYS_YAML, SEED).await;
    let numbers = |query: &str, list: &str| {
        let path = format!("/numbers?{query}");
        RecordedRequest::new(Method::GET, &mock.base_url(), &path).header("X-List", list)
    };
    let cases: [(&str, &str, u16, &[&str]); 6] = [
        ("pipes=1|2&spaces=3%204", "1, 2", 204, &[]),
        ("pipes=1,2", "1,2", 400, &["pipes"]),
        ("spaces=3,4", "1", 400, &["spaces"]),
        ("pipes=1", "1, x", 400, &["X-List"]),
        ("pipes=1|x", "1 ,2", 400, &["pipes"]),
        ("pipes=1&pipes=2", "1", 400, &["pipes"]),
    ];
    for (query, list, status, fields) in cases {
        let (got, names) = invalid_fields(&numbers(query, list)).await;
        assert_eq!(got, status, "{query} {list}: {names:?}");
        assert_eq!(names, fields, "{query} {list}");
    }
}

#[test]
fn invalid_documents_are_rejected() {
    let head = "openapi: 3.0.3\ninfo: {title: t, version: '1'}\npaths:\n  /a:\n    get:\n";
    let cases = [
        (
            "      parameters: [{name: id, in: path, required: true, schema: {type: string}}]\n      \
             responses: {'200': {description: ok}}\n",
            "#/paths/~1a/get/parameters/0: path parameter `id` is not in the path template `/a`",
        ),
        (
            "      responses: {'600': {description: x}}\n",
            "#/paths/~1a/get/responses/600: `600` is not a response status; expected a status \
             from 100 to 599, a range such as `4XX`, or `default`",
        ),
        (
            "      responses: {'99': {description: x}, '200': {description: ok}}\n",
            "#/paths/~1a/get/responses/99: `99` is not a response status; expected a status \
             from 100 to 599, a range such as `4XX`, or `default`",
        ),
        (
            "      responses: {}\n",
            "#/paths/~1a/get/responses: the operation documents no response; add one, such as \
             `200` or `default`",
        ),
        (
            "      responses: {'200': {description: ok}}\n  pets:\n    get:\n      \
             responses: {'200': {description: ok}}\n",
            "#/paths/pets: path `pets` does not start with `/`; write `/pets`",
        ),
        (
            "      responses: {'200': {description: ok}}\n    POST:\n      \
             responses: {'200': {description: ok}}\n",
            "#/paths/~1a/POST: method `POST` must be lowercase; write `post`",
        ),
        (
            "      responses: {'101': {description: switching}, '1XX': {description: x}}\n",
            "#/paths/~1a/get/responses: the operation documents only informational (1xx) \
             responses; document a final status from 200 to 599 or `default`",
        ),
    ];
    for (operation, expected) in cases {
        let yaml = format!("{head}{operation}");
        let error = AnySpec::load(&yaml, SEED)
            .err()
            .expect("the spec is rejected");
        assert_eq!(error.to_string(), expected);
    }
}

#[tokio::test]
async fn media_range_sent_as_bytes() {
    let yaml = "
openapi: 3.0.3
info: {title: t, version: '1'}
paths:
  /a:
    get:
      responses:
        '200':
          description: Any media type.
          content:
            '*/*':
              schema: {type: string}
";
    let mock = start(yaml, SEED).await;
    let response = send(&RecordedRequest::new(Method::GET, &mock.base_url(), "/a")).await;
    assert_eq!(response.status, 200);
    let content_type = response
        .headers
        .get("content-type")
        .expect("a Content-Type");
    assert_eq!(content_type, "application/octet-stream");
}

#[test]
fn version_without_patch_is_named() {
    let yaml = "openapi: '3.0'\ninfo: {title: t, version: '1'}\npaths: {}\n";
    let error = AnySpec::load(yaml, SEED).err().expect("3.0 is rejected");
    assert_eq!(
        error.to_string(),
        "#/openapi: version \"3.0\" has no patch number; write a full version such as \"3.0.3\""
    );
}

#[test]
fn byte_order_mark_is_skipped() {
    let yaml = "\u{feff}openapi: 3.0.3\ninfo: {title: t, version: '1'}\npaths: {}\n";
    let spec = AnySpec::load(yaml, SEED).expect("the spec loads");
    assert_eq!(spec.operation_count(), 0);
}

/// A spec whose response and request body share one schema with the
/// keywords that generated values used to break: decimal steps, narrow
/// exclusive ranges, integer formats, enums with lengths, maps with
/// `minProperties` and string formats.
const GENERATED_YAML: &str = "
openapi: 3.0.3
info: {title: Generated, version: '1'}
paths:
  /values:
    get:
      responses:
        '200':
          description: Generated values.
          content:
            application/json:
              schema: {$ref: '#/components/schemas/Values'}
    post:
      requestBody:
        required: true
        content:
          application/json:
            schema: {$ref: '#/components/schemas/Values'}
      responses:
        '204':
          description: Accepted.
components:
  schemas:
    Values:
      type: object
      required: [fee, price, rate, ts, small, code, labels, id, day, at, mail, link, ip4, ip6, data]
      properties:
        fee: {type: number, minimum: 0, multipleOf: 0.01}
        price: {type: number, minimum: 1, maximum: 2, multipleOf: 0.1}
        rate: {type: number, minimum: 0, exclusiveMinimum: true, maximum: 0.001}
        ts: {type: integer, format: int32, minimum: 2147483600}
        small: {type: integer, format: uint8, minimum: 250}
        code: {type: string, enum: [a, bb, ccc, dddd], minLength: 2, maxLength: 3}
        labels:
          type: object
          minProperties: 3
          additionalProperties: {type: string}
        id: {type: string, format: uuid}
        day: {type: string, format: date}
        at: {type: string, format: date-time}
        mail: {type: string, format: email}
        link: {type: string, format: uri}
        ip4: {type: string, format: ipv4}
        ip6: {type: string, format: ipv6}
        data: {type: string, format: byte}
";

#[tokio::test]
async fn generated_values_validate_both_ways() {
    let checker = Checker::from_yaml(GENERATED_YAML).expect("the checker loads the spec");
    for seed in 0..40 {
        let mock = start(GENERATED_YAML, seed).await;
        let get = RecordedRequest::new(Method::GET, &mock.base_url(), "/values");
        let response = send(&get).await;
        let result = checker.check(&get, &response);
        assert!(result.is_ok(), "seed {seed}: {}", result.unwrap_err());

        // The mock's request validator, which checks formats, accepts the
        // value it generated.
        let value: Value = serde_json::from_slice(&response.body).expect("a JSON body");
        let post = RecordedRequest::new(Method::POST, &mock.base_url(), "/values").json(&value);
        let (status, fields) = invalid_fields(&post).await;
        assert_eq!(status, 204, "seed {seed}: {value} {fields:?}");
        let labels = value["labels"].as_object().expect("a map");
        assert!(labels.len() >= 3, "seed {seed}: {value}");
    }
}

/// A spec with formatted parameters and bodies, a nullable reference, a
/// plain text example, Basic and Bearer schemes, a form body and a path
/// with a non-ASCII literal segment.
const FORMATS_YAML: &str = "
openapi: 3.0.3
info: {title: Formats, version: '1'}
paths:
  /clients/{id}:
    get:
      parameters:
        - {name: id, in: path, required: true, schema: {type: string, format: uuid}}
        - {name: since, in: query, schema: {type: string, format: date-time}}
        - {name: day, in: query, schema: {type: string, format: date}}
        - {name: count, in: query, schema: {type: integer, format: int32}}
        - {name: X-Tenant, in: header, schema: {type: string, format: uuid}}
      responses:
        '204':
          description: Found.
  /devices:
    post:
      requestBody:
        required: true
        content:
          application/json:
            schema:
              type: object
              required: [serial]
              properties:
                serial: {type: string}
                checksum: {type: string, format: byte}
                quantity: {type: integer, format: int32}
                link: {type: string, format: uri}
                ip: {type: string, format: ipv4}
                location:
                  nullable: true
                  allOf: [{$ref: '#/components/schemas/Location'}]
      responses:
        '204':
          description: Created.
  /signup:
    post:
      requestBody:
        required: true
        content:
          application/x-www-form-urlencoded:
            schema:
              type: object
              required: [email]
              properties:
                email: {type: string, format: email}
      responses:
        '204':
          description: Signed up.
  /health:
    get:
      responses:
        '200':
          description: Healthy.
          content:
            text/plain:
              schema: {type: string}
              example: OK
  /basic:
    get:
      security: [{basic: []}]
      responses:
        '204':
          description: Allowed.
  /bearer:
    get:
      security: [{bearer: []}]
      responses:
        '204':
          description: Allowed.
  /lab/über/{name}:
    get:
      parameters:
        - {name: name, in: path, required: true, schema: {type: string}}
      responses:
        '204':
          description: Found.
components:
  securitySchemes:
    basic: {type: http, scheme: basic}
    bearer: {type: http, scheme: bearer}
  schemas:
    Location:
      type: object
      required: [aisle]
      properties:
        aisle: {type: integer}
";

const TENANT: &str = "6f1c2a34-5b6d-4e7f-8a9b-0c1d2e3f4a5b";

#[tokio::test]
async fn parameter_formats_checked() {
    let mock = start(FORMATS_YAML, SEED).await;
    let client = |id: &str, query: &str, tenant: &str| {
        let path = format!("/clients/{id}?{query}");
        RecordedRequest::new(Method::GET, &mock.base_url(), &path).header("X-Tenant", tenant)
    };
    let valid = "since=2026-01-02T03:04:05Z&day=2026-01-02&count=2147483647";
    let cases: [(&str, &str, &str, u16, &[&str]); 4] = [
        (TENANT, valid, TENANT, 204, &[]),
        ("not-a-uuid", valid, TENANT, 400, &["id"]),
        (
            TENANT,
            "since=2026-01-02&day=tomorrow",
            "x",
            400,
            &["X-Tenant", "day", "since"],
        ),
        (TENANT, "count=2147483648", TENANT, 400, &["count"]),
    ];
    for (id, query, tenant, status, fields) in cases {
        let (got, names) = invalid_fields(&client(id, query, tenant)).await;
        assert_eq!(got, status, "{id} {query} {tenant}: {names:?}");
        assert_eq!(names, fields, "{id} {query} {tenant}");
    }
}

/// Sends `body` as JSON text to `path`.
fn post_json(base_url: &str, path: &str, body: &str) -> RecordedRequest {
    let mut request = RecordedRequest::new(Method::POST, base_url, path)
        .header("Content-Type", "application/json");
    request.body = body.as_bytes().to_vec();
    request
}

#[tokio::test]
async fn body_formats_checked() {
    let mock = start(FORMATS_YAML, SEED).await;
    let valid = r#"{"serial": "a", "checksum": "bW9jaw==", "quantity": -2147483648,
        "link": "https://example.com/a", "ip": "192.0.2.1", "location": {"aisle": 1}}"#;
    let invalid = r#"{"serial": "a", "checksum": "!!!notbase64", "quantity": 99999999999,
        "link": "not a uri", "ip": "192.0.2.256"}"#;
    let cases: [(&str, u16, &[&str]); 2] = [
        (valid, 204, &[]),
        (
            invalid,
            400,
            &["body/checksum", "body/ip", "body/link", "body/quantity"],
        ),
    ];
    for (body, status, fields) in cases {
        let (got, names) = invalid_fields(&post_json(&mock.base_url(), "/devices", body)).await;
        assert_eq!(got, status, "{body}: {names:?}");
        assert_eq!(names, fields, "{body}");
    }
}

#[tokio::test]
async fn nullable_reference_accepts_null() {
    let mock = start(FORMATS_YAML, SEED).await;
    let cases: [(&str, u16, &[&str]); 3] = [
        (r#"{"serial": "a", "location": null}"#, 204, &[]),
        (r#"{"serial": "a", "location": {"aisle": 3}}"#, 204, &[]),
        (
            r#"{"serial": "a", "location": {}}"#,
            400,
            &["body/location/aisle"],
        ),
    ];
    for (body, status, fields) in cases {
        let (got, names) = invalid_fields(&post_json(&mock.base_url(), "/devices", body)).await;
        assert_eq!(got, status, "{body}: {names:?}");
        assert_eq!(names, fields, "{body}");
    }
}

#[tokio::test]
async fn duplicate_keys_and_invalid_utf8_rejected() {
    let mock = start(FORMATS_YAML, SEED).await;
    let duplicate = post_json(
        &mock.base_url(),
        "/devices",
        r#"{"serial": "a", "serial": "b"}"#,
    );
    let response = send(&duplicate).await;
    assert_eq!(response.status, 400, "{response:?}");
    let body: Value = serde_json::from_slice(&response.body).expect("a JSON error body");
    let message = body["error"]["data"]["body"].as_str().unwrap_or_default();
    assert!(message.contains("duplicate key `serial`"), "{body}");

    let form = |body: &str| {
        let mut request = RecordedRequest::new(Method::POST, &mock.base_url(), "/signup")
            .header("Content-Type", "application/x-www-form-urlencoded");
        request.body = body.as_bytes().to_vec();
        request
    };
    let cases: [(&str, u16, &[&str]); 3] = [
        ("email=ann%40example.com", 204, &[]),
        ("email=notanemail", 400, &["body/email"]),
        ("email=%FF", 400, &["body/email"]),
    ];
    for (body, status, fields) in cases {
        let (got, names) = invalid_fields(&form(body)).await;
        assert_eq!(got, status, "{body}: {names:?}");
        assert_eq!(names, fields, "{body}");
    }
}

#[tokio::test]
async fn plain_text_example_sent() {
    let mock = start(FORMATS_YAML, SEED).await;
    let response = send(&RecordedRequest::new(
        Method::GET,
        &mock.base_url(),
        "/health",
    ))
    .await;
    assert_eq!(response.status, 200);
    assert_eq!(response.body, b"OK");
    let content_type = response.headers.get("content-type");
    assert_eq!(content_type.expect("a Content-Type"), "text/plain");
}

#[tokio::test]
async fn wrong_scheme_named_in_401() {
    let mock = start(FORMATS_YAML, SEED).await;
    let cases = [
        (
            "/basic",
            "Bearer token",
            "Expected a Basic credential, found a Bearer one",
        ),
        (
            "/bearer",
            "Basic dXNlcjpwYXNz",
            "Expected a Bearer credential, found a Basic one",
        ),
        ("/bearer", "", "Credential is missing"),
    ];
    for (path, authorization, expected) in cases {
        let mut request = RecordedRequest::new(Method::GET, &mock.base_url(), path);
        if !authorization.is_empty() {
            request = request.header("Authorization", authorization);
        }
        let response = send(&request).await;
        assert_eq!(response.status, 401, "{path} {authorization}");
        let body: Value = serde_json::from_slice(&response.body).expect("a JSON error body");
        assert_eq!(body["error"]["data"]["authorization"], expected, "{body}");
    }
}

#[tokio::test]
async fn non_ascii_literal_segment_routed() {
    let mock = start(FORMATS_YAML, SEED).await;
    let request = RecordedRequest::new(Method::GET, &mock.base_url(), "/lab/%C3%BCber/abc");
    let response = send(&request).await;
    assert_eq!(response.status, 204, "{response:?}");
    let other = RecordedRequest::new(Method::GET, &mock.base_url(), "/lab/%C3%BCbel/abc");
    assert_eq!(send(&other).await.status, 404);
}

/// A spec with a status documented by its schema alone, a `default`
/// response, and an operation with a `5XX` range and no `default`.
const ORDERS_YAML: &str = "
openapi: 3.0.3
info: {title: Orders, version: '1'}
paths:
  /orders/{id}:
    get:
      parameters:
        - {name: id, in: path, required: true, schema: {type: integer}}
      responses:
        '200':
          description: The order.
          content:
            application/json:
              example: {id: 1}
        '404':
          description: No such order.
          content:
            application/json:
              schema:
                type: object
                required: [reason, code]
                properties:
                  reason: {type: string, enum: [missing, archived]}
                  code: {type: integer, minimum: 40, maximum: 49}
        default:
          description: Any other status.
          content:
            application/json:
              schema:
                type: object
                required: [problem]
                properties:
                  problem: {type: string, minLength: 3}
  /orders:
    get:
      responses:
        '200':
          description: The orders.
          content:
            application/json:
              example: []
        '404':
          description: No orders.
          content:
            application/json:
              example: {gone: true}
        5XX:
          description: A server error.
          content:
            application/json:
              example: {retry: true}
";

/// Sends a GET of `path` to the mock at `base_url` with `Prefer: prefer`.
async fn get_preferring(base_url: &str, path: &str, prefer: &str) -> RecordedResponse {
    let request = RecordedRequest::new(Method::GET, base_url, path).header("Prefer", prefer);
    send(&request).await
}

#[tokio::test]
async fn prefer_code_generates_from_schema() {
    let mock = start(ORDERS_YAML, SEED).await;
    let response = get_preferring(&mock.base_url(), "/orders/7", "code=404").await;
    assert_eq!(response.status, 404, "{response:?}");
    let applied = response.headers.get("preference-applied");
    assert_eq!(applied.expect("Preference-Applied"), "code=404");
    let body: Value = serde_json::from_slice(&response.body).expect("a JSON body");
    assert!(
        matches!(body["reason"].as_str(), Some("missing" | "archived")),
        "{body}"
    );
    let code = body["code"].as_i64().expect("an integer code");
    assert!((40..=49).contains(&code), "{body}");

    let again = get_preferring(&mock.base_url(), "/orders/7", "code=404").await;
    assert_eq!(
        again.body, response.body,
        "the same seed gives the same body"
    );
    let other = start(ORDERS_YAML, SEED).await;
    let restarted = get_preferring(&other.base_url(), "/orders/7", "code=404").await;
    assert_eq!(
        restarted.body, response.body,
        "a restart gives the same body"
    );
}

#[tokio::test]
async fn prefer_code_falls_back_to_default() {
    let mock = start(ORDERS_YAML, SEED).await;
    let response = get_preferring(&mock.base_url(), "/orders/7", "code=418").await;
    assert_eq!(response.status, 418, "{response:?}");
    let body: Value = serde_json::from_slice(&response.body).expect("a JSON body");
    let problem = body["problem"].as_str().expect("the default's schema");
    assert!(problem.len() >= 3, "{body}");

    // A range covers its statuses.
    let response = get_preferring(&mock.base_url(), "/orders", "code=503").await;
    assert_eq!(response.status, 503, "{response:?}");
    let body: Value = serde_json::from_slice(&response.body).expect("a JSON body");
    assert_eq!(body, json!({"retry": true}));

    // Without a `default`, an undocumented status is a 400 naming the
    // documented ones.
    let response = get_preferring(&mock.base_url(), "/orders", "code=418").await;
    assert_eq!(response.status, 400, "{response:?}");
    let body: Value = serde_json::from_slice(&response.body).expect("a JSON body");
    assert_eq!(
        body["error"]["data"]["prefer"],
        "Status 418 is not documented for this operation; documented: 200, 404, 5XX"
    );
}

/// An operation documenting a `2XX` range, a 404, a `4XX` range and
/// `default`, each with a header or a named example.
const PREFER_YAML: &str = include_str!("../data/prefer.yaml");

#[tokio::test]
async fn prefer_code_limited_to_final_statuses() {
    let mock = start(PREFER_YAML, SEED).await;
    let not_sent = "is not a status the mock sends; use a status from 200 to 599";
    let cases = [
        ("100", not_sent),
        ("101", not_sent),
        ("199", not_sent),
        ("600", not_sent),
        ("999", not_sent),
        ("099", "is not an HTTP status code"),
        ("+404", "is not an HTTP status code"),
        ("0404", "is not an HTTP status code"),
    ];
    let terminate = "/system/services/active/cron/terminate";
    for (code, detail) in cases {
        let expected = format!("Prefer code `{code}` {detail}");
        let prefer = format!("code={code}");
        let loaded = RecordedRequest::new(Method::GET, &mock.base_url(), "/r")
            .header("Prefer", &prefer)
            .header("Connection", "Upgrade")
            .header("Upgrade", "websocket");
        let own = RecordedRequest::new(Method::POST, &mock.base_url(), terminate)
            .header("Prefer", &prefer)
            .header("X-Api-Key", DEFAULT_API_KEY);
        for request in [loaded, own] {
            let response = send(&request).await;
            assert_eq!(response.status, 400, "{prefer}: {response:?}");
            let body: Value = serde_json::from_slice(&response.body).expect("a JSON body");
            assert_eq!(body["error"]["data"]["prefer"], expected, "{body}");
        }
    }

    // The limits themselves are sent.
    for (code, status) in [("200", 200), ("599", 599)] {
        let response = get_preferring(&mock.base_url(), "/r", &format!("code={code}")).await;
        assert_eq!(response.status, status, "{response:?}");
    }
}

#[tokio::test]
async fn prefer_example_of_covering_response() {
    let mock = start(PREFER_YAML, SEED).await;
    let base = mock.base_url();
    let response = get_preferring(&base, "/r", "code=500, example=boom").await;
    assert_eq!(response.status, 500, "{response:?}");
    let body: Value = serde_json::from_slice(&response.body).expect("a JSON body");
    assert_eq!(body, json!({"dflt": 1}));
    let applied = response.headers.get("preference-applied");
    assert_eq!(
        applied.expect("Preference-Applied"),
        "code=500, example=boom"
    );
    let header = response.headers.get("x-default");
    assert_eq!(header.expect("the header of `default`"), "dflt");

    let response = get_preferring(&base, "/r", "code=201, example=yes").await;
    assert_eq!(response.status, 201, "{response:?}");
    let body: Value = serde_json::from_slice(&response.body).expect("a JSON body");
    assert_eq!(body, json!({"ok": true}));

    // An explicit status keeps its own examples.
    let response = get_preferring(&base, "/r", "code=404, example=gone").await;
    assert_eq!(response.status, 404, "{response:?}");
    let body: Value = serde_json::from_slice(&response.body).expect("a JSON body");
    assert_eq!(body, json!({"gone": true}));

    let cases = [
        (
            "code=500, example=nope",
            "Status 500 has no example `nope`; the examples of `default`: boom",
        ),
        (
            "code=418, example=boom",
            "Status 418 is documented by `4XX` without a named example",
        ),
    ];
    for (prefer, expected) in cases {
        let response = get_preferring(&base, "/r", prefer).await;
        assert_eq!(response.status, 400, "{prefer}: {response:?}");
        let body: Value = serde_json::from_slice(&response.body).expect("a JSON body");
        assert_eq!(body["error"]["data"]["prefer"], expected, "{prefer}");
    }
}

/// Adds the fault `fault` to the shared state of the mock at `base_url`.
async fn add_fault(base_url: &str, fault: Value) {
    let created = reqwest::Client::new()
        .post(format!("{base_url}/__mock/faults"))
        .header("X-Api-Key", DEFAULT_API_KEY)
        .json(&fault)
        .send()
        .await
        .expect("the mock responds");
    assert_eq!(created.status(), 201, "{fault}");
}

#[tokio::test]
async fn status_fault_sends_loaded_response() {
    let mock = start(ORDERS_YAML, SEED).await;
    let base_url = mock.base_url();
    let list = RecordedRequest::new(Method::GET, &base_url, "/orders");

    add_fault(&base_url, json!({"status": 404, "count": 1})).await;
    let response = send(&list).await;
    assert_eq!(response.status, 404, "{response:?}");
    let body: Value = serde_json::from_slice(&response.body).expect("a JSON body");
    assert_eq!(body, json!({"gone": true}));

    // /orders documents no 400, so the fault sends the mock's error body.
    add_fault(&base_url, json!({"status": 400, "count": 1})).await;
    let response = send(&list).await;
    assert_eq!(response.status, 400, "{response:?}");
    let body: Value = serde_json::from_slice(&response.body).expect("a JSON body");
    assert_eq!(body["error"]["message"], "Bad Request");
    assert_eq!(
        body["error"]["data"],
        json!({"fault": "The response was replaced by a fault"})
    );

    // /orders/{id} documents `default`, which covers a 500.
    add_fault(&base_url, json!({"status": 500, "count": 1})).await;
    let get_order = RecordedRequest::new(Method::GET, &base_url, "/orders/7");
    let response = send(&get_order).await;
    assert_eq!(response.status, 500, "{response:?}");
    let body: Value = serde_json::from_slice(&response.body).expect("a JSON body");
    assert!(body["problem"].is_string(), "{body}");
}

/// A spec whose response schema takes its keywords from a YAML merge key.
const MERGE_YAML: &str = "
openapi: 3.0.3
info: {title: Pets, version: '1'}
paths:
  /pet:
    get:
      responses:
        '200':
          description: A pet.
          content:
            application/json:
              schema: {$ref: '#/components/schemas/Pet'}
components:
  schemas:
    Base: &base
      type: object
      required: [id]
      properties:
        id: {type: integer, minimum: 5}
    Pet:
      <<: *base
      description: A pet.
";

#[tokio::test]
async fn merge_keys_are_honoured() {
    let mock = start(MERGE_YAML, SEED).await;
    let response = send(&RecordedRequest::new(Method::GET, &mock.base_url(), "/pet")).await;
    assert_eq!(response.status, 200, "{response:?}");
    let body: Value = serde_json::from_slice(&response.body).expect("a JSON body");
    let id = body["id"].as_i64().expect("the merged `id` property");
    assert!(id >= 5, "{body}");

    let invalid = MERGE_YAML.replace("<<: *base", "<<: 3");
    let error = AnySpec::load(&invalid, SEED)
        .err()
        .expect("a scalar merge is rejected");
    assert_eq!(
        error.to_string(),
        "#/components/schemas/Pet/<<: a merge key `<<` takes a mapping or a list of mappings, \
         such as `<<: *base`"
    );
}

#[test]
fn duplicate_path_is_rejected() {
    let yaml = "openapi: 3.0.3\ninfo: {title: t, version: '1'}\npaths:\n  /a:\n    get:\n      \
                responses: {'200': {description: ok}}\n  /a:\n    post:\n      \
                responses: {'200': {description: ok}}\n";
    let error = AnySpec::load(yaml, SEED)
        .err()
        .expect("the spec is rejected");
    assert_eq!(
        error.to_string(),
        "#: invalid YAML or JSON: paths: duplicate entry with key \"/a\" at line 4 column 3"
    );
}

/// A spec of notes with typed blocks: `Block` is a base schema with a
/// discriminator on `kind`, which `TextBlock`, `ImageBlock` and
/// `TodoBlock` extend through `allOf`.
const NOTES_YAML: &str = include_str!("../data/notes.yaml");

/// Returns the property that the block `kind` requires.
fn block_field(kind: &str) -> &'static str {
    match kind {
        "text" => "text",
        "image" => "url",
        "todo" => "items",
        other => panic!("unknown block kind {other:?}"),
    }
}

/// Sends a GET request to `path`, asserts that the checker passes the
/// response, and returns its JSON body.
async fn checked_get(checker: &Checker, mock: &MockServer, path: &str) -> Value {
    let request = RecordedRequest::new(Method::GET, &mock.base_url(), path);
    let response = send(&request).await;
    let result = checker.check(&request, &response);
    assert!(result.is_ok(), "{path}: {}", result.unwrap_err());
    serde_json::from_slice(&response.body).expect("a JSON body")
}

#[tokio::test]
async fn generated_blocks_follow_discriminator() {
    let checker = Checker::from_yaml(NOTES_YAML).expect("the checker loads the spec");
    let mut kinds = Vec::new();
    for seed in 0..8 {
        let mock = start(NOTES_YAML, seed).await;
        for path in ["/notes/n-1/blocks", "/notes/n-1"] {
            let body = checked_get(&checker, &mock, path).await;
            let blocks = match path {
                "/notes/n-1" => body["blocks"].clone(),
                _ => body,
            };
            for block in blocks.as_array().expect("an array of blocks") {
                let kind = block["kind"].as_str().expect("a string kind");
                let field = block_field(kind);
                assert!(block.get(field).is_some(), "seed {seed}: {block}");
                kinds.push(kind.to_string());
            }
        }
    }
    kinds.sort();
    kinds.dedup();
    assert_eq!(kinds, ["image", "text", "todo"]);
}

#[tokio::test]
async fn block_requests_checked_by_kind() {
    let mock = start(NOTES_YAML, SEED).await;
    let cases: [(&str, u16, &[&str]); 6] = [
        (r#"{"kind": "text", "text": "hi"}"#, 201, &[]),
        (
            r#"{"kind": "todo", "items": [{"done": false, "label": "a"}]}"#,
            201,
            &[],
        ),
        (r#"{"kind": "todo"}"#, 400, &["body/items"]),
        (
            r#"{"kind": "todo", "items": [{}]}"#,
            400,
            &["body/items/0/done", "body/items/0/label"],
        ),
        (r#"{"kind": "video"}"#, 400, &["body/kind"]),
        (r#"{"text": "hi"}"#, 400, &["body/kind"]),
    ];
    for (body, status, fields) in cases {
        let request = post_json(&mock.base_url(), "/notes/n-1/blocks", body);
        let (got, names) = invalid_fields(&request).await;
        assert_eq!(got, status, "{body}: {names:?}");
        assert_eq!(names, fields, "{body}");
    }
    let request = post_json(
        &mock.base_url(),
        "/notes/n-1/blocks",
        r#"{"kind": "video"}"#,
    );
    let body: Value = serde_json::from_slice(&send(&request).await.body).expect("a JSON body");
    let message = body["error"]["data"]["body/kind"]
        .as_str()
        .unwrap_or_default();
    assert!(message.contains("\"text\""), "{body}");
}

/// A spec of shapes, `oneOf` alternatives with a discriminator: `Shape`
/// takes the schema names as values, `Figure` a mapping.
const SHAPES_YAML: &str = "
openapi: 3.0.3
info: {title: Shapes, version: '1'}
paths:
  /shapes:
    get:
      responses:
        '200':
          description: The shapes.
          content:
            application/json:
              schema:
                type: array
                minItems: 2
                items: {$ref: '#/components/schemas/Shape'}
    post:
      requestBody:
        required: true
        content:
          application/json:
            schema: {$ref: '#/components/schemas/Shape'}
      responses:
        '204':
          description: Added.
  /figures:
    get:
      responses:
        '200':
          description: A figure.
          content:
            application/json:
              schema: {$ref: '#/components/schemas/Figure'}
components:
  schemas:
    Shape:
      oneOf:
        - $ref: '#/components/schemas/Circle'
        - $ref: '#/components/schemas/Square'
      discriminator: {propertyName: type}
    Figure:
      oneOf:
        - $ref: '#/components/schemas/Circle'
        - $ref: '#/components/schemas/Square'
      discriminator:
        propertyName: type
        mapping: {round: '#/components/schemas/Circle', flat: Square}
    Circle:
      type: object
      required: [type, radius]
      properties:
        type: {type: string}
        radius: {type: number, minimum: 1}
    Square:
      type: object
      required: [type]
      properties:
        type: {type: string}
        side: {type: number}
";

#[tokio::test]
async fn one_of_discriminator_selects_alternative() {
    let checker = Checker::from_yaml(SHAPES_YAML).expect("the checker loads the spec");
    let mut values = Vec::new();
    for seed in 0..8 {
        let mock = start(SHAPES_YAML, seed).await;
        for path in ["/shapes", "/figures"] {
            let body = checked_get(&checker, &mock, path).await;
            let shapes = match body {
                Value::Array(shapes) => shapes,
                figure => vec![figure],
            };
            for shape in shapes {
                let value = shape["type"].as_str().expect("a string type").to_string();
                if ["Circle", "round"].contains(&value.as_str()) {
                    assert!(shape.get("radius").is_some(), "seed {seed}: {shape}");
                }
                values.push(value);
            }
        }
    }
    values.sort();
    values.dedup();
    assert_eq!(values, ["Circle", "Square", "flat", "round"]);

    let mock = start(SHAPES_YAML, SEED).await;
    let cases: [(&str, u16, &[&str]); 5] = [
        (r#"{"type": "Circle", "radius": 2}"#, 204, &[]),
        (r#"{"type": "Square"}"#, 204, &[]),
        (r#"{"type": "Circle"}"#, 400, &["body/radius"]),
        (r#"{"type": "Circle", "radius": 0}"#, 400, &["body/radius"]),
        (r#"{"type": "Triangle"}"#, 400, &["body/type"]),
    ];
    for (body, status, fields) in cases {
        let request = post_json(&mock.base_url(), "/shapes", body);
        let (got, names) = invalid_fields(&request).await;
        assert_eq!(got, status, "{body}: {names:?}");
        assert_eq!(names, fields, "{body}");
    }
}

/// A spec whose responses document headers: a count and a rate on a list,
/// a `Location` on a 201 without content, and headers that the mock sets
/// itself.
const HEADERS_YAML: &str = "
openapi: 3.0.3
info: {title: Clients, version: '1'}
paths:
  /clients:
    get:
      responses:
        '200':
          description: The clients.
          headers:
            X-Total-Count:
              required: true
              schema: {type: integer, minimum: 0, maximum: 500}
            X-Rate-Limit: {$ref: '#/components/headers/RateLimit'}
            X-Tags:
              schema: {type: array, items: {type: string}}
              example: [a, b]
            Content-Length: {schema: {type: integer}, example: 99999}
            Content-Type: {schema: {type: string}, example: text/plain}
          content:
            application/json:
              schema: {type: array, items: {type: string}}
        '404':
          description: No clients.
          headers:
            X-Reason: {schema: {type: string}, example: archived}
    post:
      responses:
        '201':
          description: Created.
          headers:
            Location:
              required: true
              schema: {type: string, format: uri}
components:
  headers:
    RateLimit:
      schema: {type: integer}
      examples:
        hourly: {value: 100}
";

#[tokio::test]
async fn documented_headers_sent() {
    let mock = start(HEADERS_YAML, SEED).await;
    let client = reqwest::Client::new();
    let url = format!("{}/clients", mock.base_url());
    let response = client
        .get(&url)
        .header("Origin", "http://localhost:5173")
        .send()
        .await
        .expect("the mock responds");
    assert_eq!(response.status(), 200);
    let header = |name: &str| {
        let value = response.headers().get(name);
        value.map(|value| value.to_str().unwrap().to_string())
    };
    let count = header("x-total-count").expect("X-Total-Count is sent");
    let count: u32 = count.parse().expect("an integer count");
    assert!(count <= 500, "{count}");
    assert_eq!(header("x-rate-limit").as_deref(), Some("100"));
    assert_eq!(header("x-tags").as_deref(), Some("a,b"));
    assert_eq!(header("content-type").as_deref(), Some("application/json"));
    let length = header("content-length").expect("a Content-Length");
    assert_ne!(length, "99999");
    let exposed = header("access-control-expose-headers").unwrap_or_default();
    let exposed: Vec<&str> = exposed.split(", ").collect();
    for name in ["X-Request-Id", "X-Total-Count", "X-Rate-Limit", "X-Tags"] {
        assert!(exposed.contains(&name), "{name} not in {exposed:?}");
    }
    assert!(!exposed.contains(&"Content-Length"), "{exposed:?}");
    let body: Value = response.json().await.expect("a JSON body");
    assert!(body.is_array(), "{body}");

    let created = client.post(&url).send().await.expect("the mock responds");
    assert_eq!(created.status(), 201);
    let location = created.headers().get("location").expect("Location is sent");
    let location = location.to_str().unwrap();
    assert!(location.starts_with("https://"), "{location}");
    let exposed = created.headers().get("access-control-expose-headers");
    assert!(exposed.is_none(), "no Origin, so no CORS headers");

    // A response picked with Prefer carries the headers of its own status.
    let missing = client
        .get(&url)
        .header("Prefer", "code=404")
        .send()
        .await
        .expect("the mock responds");
    assert_eq!(missing.status(), 404);
    let reason = missing
        .headers()
        .get("x-reason")
        .map(|value| value.to_str().unwrap());
    assert_eq!(reason, Some("archived"));
    assert!(missing.headers().get("x-total-count").is_none());
}

/// A spec of pets in the style of Java and .NET exports: `Pet` lists `Cat`
/// and `Dog` in `oneOf` with a discriminator, and both extend `Pet`
/// through `allOf`.
const PETS_CYCLE_YAML: &str = include_str!("../data/pets-cycle.yaml");

#[tokio::test]
async fn subtypes_extending_their_one_of_generated() {
    let discriminator = "      discriminator:\n        propertyName: petType\n";
    let without = PETS_CYCLE_YAML.replace(discriminator, "");
    assert_ne!(without, PETS_CYCLE_YAML, "the discriminator is removed");
    for yaml in [PETS_CYCLE_YAML, without.as_str()] {
        let checker = Checker::from_yaml(yaml).expect("the checker loads the spec");
        let mut kinds = Vec::new();
        for seed in 0..8 {
            let mock = start(yaml, seed).await;
            let pets = checked_get(&checker, &mock, "/pets").await;
            for pet in pets.as_array().expect("an array of pets") {
                assert!(pet["petType"].is_string(), "seed {seed}: {pet}");
                let kind = match (pet.get("meows"), pet.get("barks")) {
                    (Some(Value::Bool(_)), None) => "cat",
                    (None, Some(Value::Bool(_))) => "dog",
                    _ => panic!("seed {seed}: neither a cat nor a dog: {pet}"),
                };
                kinds.push(kind);
            }

            let request = post_json(
                &mock.base_url(),
                "/pets",
                r#"{"petType": "Cat", "meows": true}"#,
            );
            let response = send(&request).await;
            assert_eq!(response.status, 201, "{response:?}");
            let result = checker.check(&request, &response);
            assert!(result.is_ok(), "seed {seed}: {}", result.unwrap_err());
            let created: Value = serde_json::from_slice(&response.body).expect("a JSON body");
            assert!(created["petType"].is_string(), "seed {seed}: {created}");
        }
        kinds.sort();
        kinds.dedup();
        // Without a discriminator, the first valid alternative is sent.
        let expected: &[&str] = match yaml == PETS_CYCLE_YAML {
            true => &["cat", "dog"],
            false => &["cat"],
        };
        assert_eq!(kinds, expected);
    }
}

/// A spec of discriminator edge cases: `Car` extends `Vehicle` and repeats
/// its discriminator, `SportsCar` extends `Car`, `CodeBlock` extends
/// `TextBlock`, which extends `Block`, and the mapping of `Swap` has the
/// key `Left` for the schema `Right`.
const DISCRIMINATORS_YAML: &str = include_str!("../data/discriminators.yaml");

#[tokio::test]
async fn discriminator_edge_cases_checked() {
    let checker = Checker::from_yaml(DISCRIMINATORS_YAML).expect("the checker loads the spec");
    let mock = start(DISCRIMINATORS_YAML, SEED).await;
    let cases: [(&str, &str, u16, &[&str]); 10] = [
        ("/deep", r#"{"type": "Car", "doors": 2}"#, 200, &[]),
        (
            "/deep",
            r#"{"type": "SportsCar", "doors": 2, "topSpeed": 250}"#,
            200,
            &[],
        ),
        (
            "/deep",
            r#"{"type": "SportsCar", "doors": 2}"#,
            400,
            &["body/topSpeed"],
        ),
        ("/deep", r#"{"type": "Vehicle"}"#, 400, &["body/type"]),
        (
            "/block",
            r#"{"kind": "CodeBlock", "text": "fn main() {}", "lang": "rust"}"#,
            200,
            &[],
        ),
        (
            "/block",
            r#"{"kind": "CodeBlock", "text": "x"}"#,
            400,
            &["body/lang"],
        ),
        ("/block", r#"{"kind": "text", "text": "x"}"#, 200, &[]),
        ("/swap", r#"{"side": "Left", "r": 1}"#, 200, &[]),
        ("/swap", r#"{"side": "Left", "l": 1}"#, 400, &["body/r"]),
        ("/swap", r#"{"side": "Right", "r": 1}"#, 400, &["body/side"]),
    ];
    for (path, body, status, fields) in cases {
        let request = post_json(&mock.base_url(), path, body);
        let (got, names) = invalid_fields(&request).await;
        assert_eq!(got, status, "{path} {body}: {names:?}");
        assert_eq!(names, fields, "{path} {body}");
    }

    let mut kinds = Vec::new();
    for seed in 0..8 {
        let mock = start(DISCRIMINATORS_YAML, seed).await;
        let body = r#"{"type": "Car", "doors": 2}"#;
        let request = post_json(&mock.base_url(), "/deep", body);
        let response = send(&request).await;
        let result = checker.check(&request, &response);
        assert!(result.is_ok(), "seed {seed}: {}", result.unwrap_err());
        let vehicle: Value = serde_json::from_slice(&response.body).expect("a JSON body");
        let kind = vehicle["type"].as_str().expect("a string type").to_string();
        kinds.push(kind);
    }
    kinds.sort();
    kinds.dedup();
    assert_eq!(kinds, ["Car", "SportsCar"]);

    // The mapping key `Left` selects `Right`, which the response follows.
    let request = post_json(&mock.base_url(), "/swap", r#"{"side": "Left", "r": 1}"#);
    let response = send(&request).await;
    let result = checker.check(&request, &response);
    assert!(result.is_ok(), "/swap: {}", result.unwrap_err());
}

/// A spec whose objects require properties that they do not list: `Out`
/// replaces the `properties` of the `Base` it merges, and `Restated`
/// requires `id` again in an `allOf` part without describing it.
const UNLISTED_YAML: &str = "
openapi: 3.0.3
info: {title: Unlisted, version: '1'}
paths:
  /out:
    get:
      responses:
        '200':
          description: ok
          content:
            application/json:
              schema: {$ref: '#/components/schemas/Out'}
  /restated:
    get:
      responses:
        '200':
          description: ok
          content:
            application/json:
              schema: {$ref: '#/components/schemas/Restated'}
components:
  schemas:
    Base: &base
      type: object
      required: [id]
      properties:
        id: {type: integer}
    Out:
      <<: *base
      properties:
        name: {type: string}
    Restated:
      allOf:
        - $ref: '#/components/schemas/Base'
        - required: [id, note]
";

#[tokio::test]
async fn unlisted_required_property_generated() {
    let checker = Checker::from_yaml(UNLISTED_YAML).expect("the checker loads the spec");
    for seed in 0..4 {
        let mock = start(UNLISTED_YAML, seed).await;
        let out = checked_get(&checker, &mock, "/out").await;
        assert!(out.get("id").is_some(), "seed {seed}: {out}");
        assert!(out["name"].is_string(), "seed {seed}: {out}");
        let restated = checked_get(&checker, &mock, "/restated").await;
        assert!(restated["id"].is_i64(), "seed {seed}: {restated}");
        assert!(restated.get("note").is_some(), "seed {seed}: {restated}");
    }
}

/// A spec with an operation that requires an API key, a query parameter
/// and a JSON body.
const CHECKED_YAML: &str = "
openapi: 3.0.3
info: {title: Counters, version: '1'}
paths:
  /counters:
    post:
      security: [{key: []}]
      parameters:
        - {name: step, in: query, required: true, schema: {type: integer}}
      requestBody:
        required: true
        content:
          application/json:
            schema:
              type: object
              required: [n]
              properties:
                n: {type: integer, minimum: 1}
      responses:
        '201':
          description: Created.
          content:
            application/json:
              example: {n: 1}
        '409':
          description: Taken.
          content:
            application/json:
              example: {taken: true}
components:
  securitySchemes:
    key: {type: apiKey, in: header, name: X-Key}
";

#[tokio::test]
async fn prefer_skips_body_and_parameters() {
    let mock = start(CHECKED_YAML, SEED).await;
    let request = |prefer: &str| {
        post_json(&mock.base_url(), "/counters", r#"{"n": 0}"#).header("Prefer", prefer)
    };

    let keyed = request("code=409").header("X-Key", DEFAULT_API_KEY);
    let response = send(&keyed).await;
    assert_eq!(response.status, 409, "{response:?}");
    let body: Value = serde_json::from_slice(&response.body).expect("a JSON body");
    assert_eq!(body, json!({"taken": true}));

    // The security requirement is still checked first.
    let (status, fields) = invalid_fields(&request("code=409")).await;
    assert_eq!(status, 401);
    assert_eq!(fields, ["X-Key"]);

    // Without a selection, the same request is checked.
    let unselected = request("return=minimal").header("X-Key", DEFAULT_API_KEY);
    let (status, fields) = invalid_fields(&unselected).await;
    assert_eq!(status, 400);
    assert_eq!(fields, ["body/n", "step"]);
}

#[tokio::test]
async fn unsendable_headers_left_out() {
    let huge = "h".repeat(9 * 1024);
    let document = json!({
        "openapi": "3.0.3",
        "info": {"title": "Headers", "version": "1"},
        "paths": {"/h": {"get": {"responses": {"200": {
            "description": "ok",
            "headers": {
                "X-Crlf": {"schema": {"type": "string"}, "example": "a\r\nSet-Cookie: injected=1"},
                "X-Huge": {"schema": {"type": "string"}, "example": huge},
                "X-Dup": {"schema": {"type": "string"}, "example": "first"},
                "x-dup": {"schema": {"type": "string"}, "example": "second"},
                "X-Kept": {"schema": {"type": "string"}, "example": "kept"},
            },
        }}}}},
    });
    let mock = start(&document.to_string(), SEED).await;
    let response = reqwest::Client::new()
        .get(format!("{}/h", mock.base_url()))
        .header("Origin", "http://localhost:5173")
        .send()
        .await
        .expect("the mock responds");
    assert_eq!(response.status(), 200);
    let headers = response.headers();
    for name in ["x-crlf", "x-huge", "set-cookie"] {
        assert!(headers.get(name).is_none(), "{name} is sent");
    }
    let x_dup_values: Vec<_> = headers.get_all("x-dup").iter().collect();
    assert_eq!(x_dup_values, ["second"]);
    assert_eq!(headers.get("x-kept").expect("X-Kept is sent"), "kept");

    let exposed = headers
        .get("access-control-expose-headers")
        .expect("exposed headers");
    let exposed: Vec<&str> = exposed.to_str().unwrap().split(", ").collect();
    let x_dup_names = exposed
        .iter()
        .filter(|name| name.eq_ignore_ascii_case("x-dup"));
    assert_eq!(x_dup_names.count(), 1, "{exposed:?}");
    assert!(exposed.contains(&"X-Kept"), "{exposed:?}");
    for name in ["X-Crlf", "X-Huge"] {
        assert!(!exposed.contains(&name), "{name} in {exposed:?}");
    }
}

/// A body whose property names hold the JSON pointer's special
/// characters, next to a nested field that a naive pointer would confuse
/// with one of them.
const POINTER_NAMES_YAML: &str = "
openapi: 3.0.3
info: {title: Pointers, version: '1'}
paths:
  /p:
    post:
      requestBody:
        required: true
        content:
          application/json:
            schema:
              type: object
              properties:
                a/b: {type: integer}
                c~d: {type: integer}
                a:
                  type: object
                  properties:
                    b: {type: string}
      responses:
        '204':
          description: Accepted.
";

#[tokio::test]
async fn body_field_names_escape_pointer_tokens() {
    let mock = start(POINTER_NAMES_YAML, SEED).await;
    let request = post_json(
        &mock.base_url(),
        "/p",
        r#"{"a/b": "x", "c~d": "y", "a": {"b": 1}}"#,
    );
    let (status, mut names) = invalid_fields(&request).await;
    names.sort();
    assert_eq!(status, 400);
    assert_eq!(names, ["body/a/b", "body/a~1b", "body/c~0d"]);
}
