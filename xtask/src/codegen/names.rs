//! Gives every operation a unique snake_case `operationId` before the
//! emitters run, so that the server and progenitor's client name each
//! operation the same way.

use std::collections::BTreeSet;

use heck::{ToSnakeCase, ToUpperCamelCase};
use openapiv3::{OpenAPI, Operation, PathItem, ReferenceOr};

use super::model::RUST_KEYWORDS;

/// Operation names that the generated code cannot use, because an item
/// of the same name is already there.
const RESERVED: &[&str] = &[
    // A method of the server's `Api` trait.
    "authenticate",
    // Methods of progenitor's (0.15) `Client`: its constructors, and the
    // methods of its `ClientInfo` and `ClientHooks` traits, which an
    // operation's method of the same name would shadow.
    "new",
    "new_with_client",
    "api_version",
    "baseurl",
    "client",
    "inner",
    "pre",
    "post",
    "exec",
    // Names whose CamelCase form, the name of the client's builder struct,
    // shadows a type that the `builder` module uses or imports.
    "result",
    "string",
    "option",
    "error",
    "byte_stream",
    "client_hooks",
    "client_info",
    "operation_info",
    "request_builder_ext",
    "response_value",
    "from",
    // The server's response enum `IntoResponse` would clash with axum's
    // trait of that name.
    "into",
];

/// Returns `api` with each `operationId` turned into a snake_case Rust
/// identifier, and one derived from the method and path where it is
/// missing, such as `get_pets_pet_id` for `GET /pets/{petId}`.
///
/// Names that collide get a suffix `_2`, `_3` and so on, in document
/// order, and so do the names in [`RESERVED`]. Two names collide when
/// their snake_case forms or their UpperCamelCase forms, from which the
/// emitters derive type names, are equal: `result_2` and `result2` both
/// give `Result2`. Operations with an `operationId` keep their name before
/// derived ones take theirs, so adding an operation without one renames
/// nothing else.
pub fn normalize_operation_ids(api: &OpenAPI) -> OpenAPI {
    let mut api = api.clone();
    let mut taken = TakenNames::default();
    for name in RESERVED {
        taken.insert(name);
    }
    for pass in [Pass::Explicit, Pass::Derived] {
        for (path, item) in api.paths.paths.iter_mut() {
            let ReferenceOr::Item(item) = item else {
                continue;
            };
            for (method, operation) in operations_mut(item) {
                let name = match (&operation.operation_id, pass) {
                    (Some(id), Pass::Explicit) => identifier(id),
                    (None, Pass::Derived) => identifier(&format!("{method} {path}")),
                    _ => continue,
                };
                let name = unique(name, &mut taken);
                operation.operation_id = Some(name);
            }
        }
    }
    api
}

/// Returns the operations of a path item with their methods, in the order
/// of `PathItem::iter`.
pub fn operations_mut(item: &mut PathItem) -> impl Iterator<Item = (&'static str, &mut Operation)> {
    [
        ("get", &mut item.get),
        ("put", &mut item.put),
        ("post", &mut item.post),
        ("delete", &mut item.delete),
        ("options", &mut item.options),
        ("head", &mut item.head),
        ("patch", &mut item.patch),
        ("trace", &mut item.trace),
    ]
    .into_iter()
    .filter_map(|(method, operation)| operation.as_mut().map(|operation| (method, operation)))
}

#[derive(Clone, Copy)]
enum Pass {
    Explicit,
    Derived,
}

/// Converts text to a snake_case identifier: `findPetsByStatus` becomes
/// `find_pets_by_status`, a keyword gets a `_` suffix and a leading digit
/// an `op_` prefix, so that the type names derived from it, such as
/// `Op123startRequest` for `123start`, are identifiers too.
fn identifier(text: &str) -> String {
    let snake = snake_identifier(text, "operation", "op_");
    if RUST_KEYWORDS.contains(&snake.as_str()) {
        format!("{snake}_")
    } else {
        snake
    }
}

/// Converts text to snake_case and keeps only ASCII letters, digits and
/// `_`, which every Rust identifier may contain. Text left empty becomes
/// `empty`, and text that starts with a digit gets `digit_prefix`.
/// Keywords are left to the caller.
pub fn snake_identifier(text: &str, empty: &str, digit_prefix: &str) -> String {
    let snake: String = text
        .to_snake_case()
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect();
    if snake.trim_matches('_').is_empty() {
        empty.to_string()
    } else if snake.starts_with(|c: char| c.is_ascii_digit()) {
        format!("{digit_prefix}{snake}")
    } else {
        snake
    }
}

/// The operation names given out so far, by their snake_case and their
/// UpperCamelCase forms.
#[derive(Default)]
struct TakenNames {
    snake: BTreeSet<String>,
    camel: BTreeSet<String>,
}

impl TakenNames {
    fn contains(&self, name: &str) -> bool {
        self.snake.contains(name) || self.camel.contains(&name.to_upper_camel_case())
    }

    fn insert(&mut self, name: &str) {
        self.snake.insert(name.to_string());
        self.camel.insert(name.to_upper_camel_case());
    }
}

fn unique(name: String, taken: &mut TakenNames) -> String {
    let mut candidate = name.clone();
    let mut suffix = 2;
    while taken.contains(&candidate) {
        candidate = format!("{name}_{suffix}");
        suffix += 1;
    }
    taken.insert(&candidate);
    candidate
}
