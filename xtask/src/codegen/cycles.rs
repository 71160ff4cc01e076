//! Finds component schemas that contain themselves through composition
//! alone, which typify cannot convert, before typify runs.

use std::collections::BTreeSet;

use openapiv3::{Components, OpenAPI, ReferenceOr, Schema, SchemaKind};

use super::spec::{SpecError, escape_segment};

/// Checks that no component schema refers to itself through `$ref`,
/// `allOf`, `oneOf` or `anyOf` alone, with no property or array in
/// between. For such a type typify 0.8 generates conflicting `From`
/// implementations, or, for a `oneOf` next to `properties`, recurses until
/// the stack overflows, which no `catch_unwind` can stop.
///
/// The error is located at the first schema of the cycle in document
/// order and names every schema in it.
pub fn check_self_wrapping(api: &OpenAPI) -> Result<(), SpecError> {
    let Some(components) = &api.components else {
        return Ok(());
    };
    for start in components.schemas.keys() {
        let mut path = vec![start.as_str()];
        let mut visited = BTreeSet::new();
        if find_cycle(components, start, &mut path, &mut visited) {
            return Err(cycle_error(&path));
        }
    }
    Ok(())
}

/// Walks the schemas that `path`'s last one wraps, depth first and in
/// document order. Returns true, with `path` ending in `start` again,
/// when one of them leads back to `start`.
fn find_cycle<'a>(
    components: &'a Components,
    start: &str,
    path: &mut Vec<&'a str>,
    visited: &mut BTreeSet<&'a str>,
) -> bool {
    let current = path[path.len() - 1];
    let Some(schema) = components.schemas.get(current) else {
        return false;
    };
    let mut members = Vec::new();
    wrapped_components(schema, &mut members);
    for name in members {
        path.push(name);
        if name == start {
            return true;
        }
        if visited.insert(name) && find_cycle(components, start, path, visited) {
            return true;
        }
        path.pop();
    }
    false
}

/// Adds to `names` the component schemas that `schema` is or composes:
/// its `$ref`, and the members of its `allOf`, `oneOf` and `anyOf`,
/// inline members included. A schema that has these keywords next to
/// `type` or `properties` counts too, although openapiv3 reads it as
/// `SchemaKind::Any`.
fn wrapped_components<'a>(schema: &'a ReferenceOr<Schema>, names: &mut Vec<&'a str>) {
    let schema = match schema {
        ReferenceOr::Reference { reference } => {
            if let Some(name) = reference.strip_prefix("#/components/schemas/") {
                names.push(name);
            }
            return;
        }
        ReferenceOr::Item(schema) => schema,
    };
    let member_lists: Vec<&Vec<ReferenceOr<Schema>>> = match &schema.schema_kind {
        SchemaKind::AllOf { all_of: members }
        | SchemaKind::OneOf { one_of: members }
        | SchemaKind::AnyOf { any_of: members } => vec![members],
        SchemaKind::Any(any) => vec![&any.all_of, &any.one_of, &any.any_of],
        _ => Vec::new(),
    };
    for member in member_lists.into_iter().flatten() {
        wrapped_components(member, names);
    }
}

fn cycle_error(path: &[&str]) -> SpecError {
    let chain: Vec<String> = path.iter().map(|name| format!("`{name}`")).collect();
    SpecError::new(
        format!("/components/schemas/{}", escape_segment(path[0])),
        format!(
            "the schema refers to itself through `$ref`, `allOf`, `oneOf` or `anyOf` alone \
             ({}), which typify cannot generate; reference it from a property or array \
             items instead. For a base schema that lists its subtypes in `oneOf` while they \
             extend it through `allOf`, move the base's properties to a schema of their own \
             and let the subtypes' `allOf` refer to that one",
            chain.join(" -> ")
        ),
    )
}
