//! YAML merge keys (`<<: *anchor`), which serde_yaml reads as a plain key
//! named `<<`. The mock and the generator both merge them with
//! [`apply_merge_keys`] before they read the document.

use serde_yaml::{Mapping, Value};

use crate::structure::StructureError;

/// The merge key of YAML 1.1.
const MERGE_KEY: &str = "<<";

/// Merges each `<<` entry of `value` into its mapping, as YAML 1.1 defines
/// merge keys. The entry is a mapping, or a list of mappings of which the
/// first that has a key wins. A key of the mapping itself wins over a
/// merged one. A merged mapping's own `<<` entries are merged first, so
/// chains of merges resolve.
///
/// ```
/// let mut value: serde_yaml::Value =
///     serde_yaml::from_str("base: &base {a: 1, b: 2}\nitem: {<<: *base, b: 3}\n").unwrap();
/// openapi_schema::yaml::apply_merge_keys(&mut value).unwrap();
/// let expected: serde_yaml::Value = serde_yaml::from_str("{a: 1, b: 3}").unwrap();
/// assert_eq!(value["item"], expected);
/// ```
///
/// # Errors
///
/// Returns the JSON pointer of a `<<` entry that is not a mapping or a
/// list of mappings.
pub fn apply_merge_keys(value: &mut Value) -> Result<(), StructureError> {
    merge(value, &mut Vec::new())
}

/// Merges the `<<` entries of `value`, whose JSON pointer tokens are
/// `path`, innermost first.
fn merge(value: &mut Value, path: &mut Vec<String>) -> Result<(), StructureError> {
    match value {
        Value::Mapping(mapping) => {
            for (key, nested) in mapping.iter_mut() {
                path.push(key_token(key));
                merge(nested, path)?;
                path.pop();
            }
            let Some(merged) = mapping.remove(MERGE_KEY) else {
                return Ok(());
            };
            path.push(MERGE_KEY.to_string());
            let sources = match merged {
                Value::Mapping(source) => vec![source],
                Value::Sequence(items) => {
                    let mut sources = Vec::new();
                    for (index, item) in items.into_iter().enumerate() {
                        let Value::Mapping(source) = item else {
                            path.push(index.to_string());
                            return Err(not_mergeable(path));
                        };
                        sources.push(source);
                    }
                    sources
                }
                _ => return Err(not_mergeable(path)),
            };
            path.pop();
            for source in sources {
                insert_missing(mapping, source);
            }
            Ok(())
        }
        Value::Sequence(items) => {
            for (index, item) in items.iter_mut().enumerate() {
                path.push(index.to_string());
                merge(item, path)?;
                path.pop();
            }
            Ok(())
        }
        Value::Tagged(tagged) => merge(&mut tagged.value, path),
        _ => Ok(()),
    }
}

/// Adds the entries of `source` whose keys `mapping` lacks.
fn insert_missing(mapping: &mut Mapping, source: Mapping) {
    for (key, value) in source {
        if !mapping.contains_key(&key) {
            mapping.insert(key, value);
        }
    }
}

fn not_mergeable(path: &[String]) -> StructureError {
    StructureError {
        pointer: path.iter().map(|token| format!("/{token}")).collect(),
        message: "a merge key `<<` takes a mapping or a list of mappings, such as `<<: *base`"
            .to_string(),
    }
}

/// Returns the JSON pointer token of a mapping key.
fn key_token(key: &Value) -> String {
    let text = match key {
        Value::String(text) => text.clone(),
        Value::Number(number) => number.to_string(),
        Value::Bool(flag) => flag.to_string(),
        other => serde_yaml::to_string(other)
            .unwrap_or_default()
            .trim()
            .to_string(),
    };
    text.replace('~', "~0").replace('/', "~1")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn merged(text: &str) -> Result<Value, StructureError> {
        let mut value: Value = serde_yaml::from_str(text).expect("valid YAML");
        apply_merge_keys(&mut value).map(|()| value)
    }

    fn yaml(text: &str) -> Value {
        serde_yaml::from_str(text).expect("valid YAML")
    }

    #[test]
    fn own_keys_win() {
        let value = merged("a: &a {x: 1, y: 2}\nb: {<<: *a, y: 3}\n").unwrap();
        assert_eq!(value["b"], yaml("{x: 1, y: 3}"));
    }

    #[test]
    fn first_of_list_wins() {
        let value = merged("a: &a {x: 1}\nb: &b {x: 2, z: 2}\nc: {<<: [*a, *b]}\n").unwrap();
        assert_eq!(value["c"], yaml("{x: 1, z: 2}"));
    }

    #[test]
    fn chained_merges_resolve() {
        let text = "a: &a {x: 1}\nb: &b {<<: *a, y: 2}\nc: {<<: *b, z: 3}\n";
        let value = merged(text).unwrap();
        assert_eq!(value["c"], yaml("{x: 1, y: 2, z: 3}"));
    }

    #[test]
    fn scalar_merge_is_located() {
        let error = merged("paths:\n  /a:\n    <<: 3\n").unwrap_err();
        assert_eq!(error.pointer, "/paths/~1a/<<");
        let error = merged("a: {<<: [{x: 1}, 2]}\n").unwrap_err();
        assert_eq!(error.pointer, "/a/<</1");
    }
}
