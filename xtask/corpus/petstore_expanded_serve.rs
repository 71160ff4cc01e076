//! Serves the stubs generated from `petstore-expanded.yaml` on loopback and
//! checks their decoding over real HTTP: a repeated query parameter, an
//! integer path parameter, a `default` response and an empty 204.
//!
//! `corpus_crates_compile` copies this file into the generated server
//! crate's `tests/` and runs it there.

mod common;

use std::sync::Arc;

use axum::http::StatusCode;
use common::send;
use petstore_expanded_server::types::{Error, Pet};
use petstore_expanded_server::*;

/// An `Api` that builds every response from its request alone.
struct Pets;

impl Api for Pets {
    async fn find_pets(&self, _: &RequestContext, request: FindPetsRequest) -> FindPetsResponse {
        let limit = request.limit.unwrap_or(100) as usize;
        let pets = request
            .tags
            .iter()
            .take(limit)
            .enumerate()
            .map(|(id, tag)| Pet {
                id: id as i64,
                name: format!("pet {id}"),
                tag: Some(tag.clone()),
            });
        FindPetsResponse::Ok(pets.collect())
    }

    async fn add_pet(&self, _: &RequestContext, request: AddPetRequest) -> AddPetResponse {
        let message = format!("{} exists", request.body.name);
        AddPetResponse::Default(StatusCode::CONFLICT, Error { code: 409, message })
    }

    async fn find_pet_by_id(
        &self,
        _: &RequestContext,
        request: FindPetByIdRequest,
    ) -> FindPetByIdResponse {
        FindPetByIdResponse::Ok(Pet {
            id: request.id,
            name: "found".to_string(),
            tag: None,
        })
    }

    async fn delete_pet(&self, _: &RequestContext, _: DeletePetRequest) -> DeletePetResponse {
        DeletePetResponse::NoContent
    }
}

async fn start() -> String {
    common::start(router(Arc::new(Pets))).await
}

#[tokio::test]
async fn repeated_query_parameter_is_an_array() {
    let base = start().await;
    let http = reqwest::Client::new();
    let (status, body) = send(http.get(format!("{base}/pets?tags=a&tags=b&tags=c&limit=2"))).await;
    assert_eq!(status, 200);
    assert_eq!(body[1]["tag"], "b");
    assert_eq!(body.as_array().map(Vec::len), Some(2));
}

#[tokio::test]
async fn integer_path_parameter_is_checked() {
    let base = start().await;
    let http = reqwest::Client::new();
    let (status, body) = send(http.get(format!("{base}/pets/42"))).await;
    assert_eq!(status, 200);
    assert_eq!(body["id"], 42);
    let (status, body) = send(http.get(format!("{base}/pets/forty-two"))).await;
    assert_eq!(status, 400);
    assert!(body["error"]["data"]["id"].is_string(), "{body}");
}

#[tokio::test]
async fn default_response_keeps_its_status() {
    let base = start().await;
    let http = reqwest::Client::new();
    let request = http
        .post(format!("{base}/pets"))
        .header("content-type", "application/json")
        .body(r#"{"name": "Rex"}"#);
    let (status, body) = send(request).await;
    assert_eq!(status, 409);
    assert_eq!(body["message"], "Rex exists");
    let (status, body) = send(http.post(format!("{base}/pets")).body("{}")).await;
    assert_eq!(status, 400);
    assert_eq!(body["error"]["data"]["name"], "Field is required", "{body}");
}

#[tokio::test]
async fn no_content_has_empty_body() {
    let base = start().await;
    let http = reqwest::Client::new();
    let (status, body) = send(http.delete(format!("{base}/pets/1"))).await;
    assert_eq!(status, 204);
    assert!(body.is_null());
}
