//! Emits the `schemas` module of a server crate: the validation keywords of
//! each JSON request body, which the router checks on the decoded body.
//!
//! typify's types enforce a string's length, pattern and enum, and integer
//! enums, but not numeric bounds or array lengths. The router validates
//! every rejected body against its schema to name each invalid field, and a
//! body that decodes too when its schema has keywords the types miss.

use std::collections::{BTreeMap, BTreeSet};

use heck::ToShoutySnakeCase;
use openapiv3::{
    AdditionalProperties, IntegerFormat, OpenAPI, ReferenceOr, Schema, SchemaKind, Type,
    VariantOrUnknownOrEmpty,
};
use proc_macro2::{Ident, Literal, TokenStream};
use quote::{format_ident, quote};

use super::pattern;
use super::spec::{SpecError, escape_segment};

const SCHEMA_REF_PREFIX: &str = "#/components/schemas/";

/// The max nesting of inline schemas within one static. A deeper inline
/// schema gets its own static, because rustfmt takes time exponential in
/// the nesting of struct literals (rustfmt 1.9 took over two minutes of
/// CPU time on 18 nested arrays).
const MAX_INLINE_DEPTH: usize = 4;

/// The schema of one body: an expression of type `&'static Schema`, and
/// whether it has keywords that typify's types do not enforce.
pub struct BodySchema {
    pub reference: TokenStream,
    pub beyond_types: bool,
}

/// The statics of the `schemas` module, built as bodies are added.
pub struct Schemas<'a> {
    api: &'a OpenAPI,
    /// Static of each component schema that a body reaches.
    components: BTreeMap<String, Ident>,
    /// Components whose static is still to be written.
    pending: Vec<String>,
    names: BTreeSet<String>,
    statics: Vec<TokenStream>,
    /// Nesting of the inline schema being built within its static.
    depth: usize,
}

/// The validation keywords of one schema, as the runtime's `Schema` has them.
#[derive(Default)]
struct Keywords {
    types: Vec<&'static str>,
    nullable: bool,
    enumeration: Vec<TokenStream>,
    minimum: Option<(f64, bool)>,
    maximum: Option<(f64, bool)>,
    multiple_of: Option<f64>,
    min_length: Option<usize>,
    max_length: Option<usize>,
    pattern: Option<String>,
    items: Option<TokenStream>,
    min_items: Option<usize>,
    max_items: Option<usize>,
    unique_items: bool,
    properties: Vec<(String, TokenStream)>,
    required: Vec<String>,
    additional_properties: Option<TokenStream>,
    all_of: Vec<TokenStream>,
    any_of: Vec<TokenStream>,
    one_of: Vec<TokenStream>,
}

impl<'a> Schemas<'a> {
    pub fn new(api: &'a OpenAPI) -> Self {
        Schemas {
            api,
            components: BTreeMap::new(),
            pending: Vec::new(),
            names: BTreeSet::new(),
            statics: Vec::new(),
            depth: 0,
        }
    }

    /// Adds the schema of the JSON body of operation `operation` and returns
    /// how the handler names it.
    pub fn body(
        &mut self,
        schema: &ReferenceOr<Schema>,
        operation: &str,
        pointer: &str,
    ) -> Result<BodySchema, SpecError> {
        let beyond_types = beyond_types(self.api, schema, &mut BTreeSet::new());
        let reference = match schema {
            ReferenceOr::Reference { reference } => {
                let ident = self.component(reference, pointer)?;
                quote! { &schemas::#ident }
            }
            ReferenceOr::Item(schema) => {
                let ident = self.static_name(&format!("{operation}_body"));
                let value = self.schema_value(schema, pointer)?;
                self.statics
                    .push(quote! { pub static #ident: Schema = #value; });
                quote! { &schemas::#ident }
            }
        };
        Ok(BodySchema {
            reference,
            beyond_types,
        })
    }

    /// Writes the statics of the bodies and of every component they reach.
    pub fn emit(mut self) -> Result<TokenStream, SpecError> {
        while let Some(name) = self.pending.pop() {
            let pointer = format!("/components/schemas/{}", escape_segment(&name));
            let schema = self
                .api
                .components
                .as_ref()
                .and_then(|components| components.schemas.get(&name));
            let Some(ReferenceOr::Item(schema)) = schema else {
                return Err(SpecError::new(
                    pointer,
                    "the schema must be a definition, not a $ref",
                ));
            };
            let value = self.schema_value(schema, &pointer)?;
            let ident = &self.components[&name];
            let doc = format!(" The schema `{name}`.");
            self.statics.push(quote! {
                #[doc = #doc]
                pub static #ident: Schema = #value;
            });
        }
        let statics = &self.statics;
        let import = (!statics.is_empty()).then(|| quote! { use crate::validate::*; });
        Ok(quote! {
            //! Validation keywords of the JSON request bodies, from the spec.

            #import

            #(#statics)*
        })
    }

    /// Returns the static of a component schema, queuing it on first use.
    fn component(&mut self, reference: &str, pointer: &str) -> Result<Ident, SpecError> {
        let Some(name) = reference.strip_prefix(SCHEMA_REF_PREFIX) else {
            return Err(SpecError::new(
                pointer,
                format!("$ref `{reference}` is not a local {SCHEMA_REF_PREFIX} reference"),
            ));
        };
        if let Some(ident) = self.components.get(name) {
            return Ok(ident.clone());
        }
        let ident = self.static_name(name);
        self.components.insert(name.to_string(), ident.clone());
        self.pending.push(name.to_string());
        Ok(ident)
    }

    /// Returns an unused static name for `name`, in SHOUTY_SNAKE_CASE.
    fn static_name(&mut self, name: &str) -> Ident {
        let cleaned: String = name
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
            .collect();
        let mut base = cleaned.to_shouty_snake_case();
        if !base.starts_with(|c: char| c.is_ascii_alphabetic()) {
            base = format!("SCHEMA_{base}");
        }
        let mut candidate = base.clone();
        let mut index = 2;
        while !self.names.insert(candidate.clone()) {
            candidate = format!("{base}_{index}");
            index += 1;
        }
        format_ident!("{candidate}")
    }

    /// Returns an expression of type `&'static Schema`.
    fn schema_ref<T: AsSchema>(
        &mut self,
        schema: &ReferenceOr<T>,
        pointer: &str,
    ) -> Result<TokenStream, SpecError> {
        match schema {
            ReferenceOr::Reference { reference } => {
                let ident = self.component(reference, pointer)?;
                Ok(quote! { &#ident })
            }
            ReferenceOr::Item(schema) if self.depth < MAX_INLINE_DEPTH => {
                self.depth += 1;
                let value = self.schema_value(schema.as_schema(), pointer);
                self.depth -= 1;
                let value = value?;
                Ok(quote! { &#value })
            }
            ReferenceOr::Item(schema) => {
                let outer = std::mem::replace(&mut self.depth, 0);
                let value = self.schema_value(schema.as_schema(), pointer);
                self.depth = outer;
                let value = value?;
                let ident = self.static_name("nested_schema");
                let doc = format!(" The schema at `#{pointer}`.");
                self.statics.push(quote! {
                    #[doc = #doc]
                    pub static #ident: Schema = #value;
                });
                Ok(quote! { &#ident })
            }
        }
    }

    /// Returns an expression of type `Schema`.
    fn schema_value(&mut self, schema: &Schema, pointer: &str) -> Result<TokenStream, SpecError> {
        let keywords = self.keywords(schema, pointer)?;
        Ok(keywords.to_tokens())
    }

    fn keywords(&mut self, schema: &Schema, pointer: &str) -> Result<Keywords, SpecError> {
        let mut keywords = Keywords {
            nullable: schema.schema_data.nullable,
            ..Keywords::default()
        };
        match &schema.schema_kind {
            SchemaKind::Type(Type::String(string)) => {
                keywords.types.push("String");
                keywords.enumeration =
                    literals(&string.enumeration, |s| quote! { Literal::String(#s) });
                keywords.min_length = string.min_length;
                keywords.max_length = string.max_length;
                keywords.pattern = string.pattern.clone();
            }
            SchemaKind::Type(Type::Integer(integer)) => {
                keywords.types.push("Integer");
                keywords.enumeration = literals(&integer.enumeration, |n| {
                    let n = Literal::i64_unsuffixed(*n);
                    quote! { Literal::Integer(#n) }
                });
                let minimum = integer
                    .minimum
                    .map(|n| (n as f64, integer.exclusive_minimum));
                let maximum = integer
                    .maximum
                    .map(|n| (n as f64, integer.exclusive_maximum));
                let (format_min, format_max) = integer_format_range(&integer.format);
                keywords.minimum = tighter(minimum, format_min, |a, b| a > b);
                keywords.maximum = tighter(maximum, format_max, |a, b| a < b);
                keywords.multiple_of = integer.multiple_of.map(|n| n as f64);
            }
            SchemaKind::Type(Type::Number(number)) => {
                keywords.types.push("Number");
                keywords.enumeration = literals(&number.enumeration, |n| {
                    let n = Literal::f64_unsuffixed(*n);
                    quote! { Literal::Number(#n) }
                });
                keywords.minimum = number.minimum.map(|n| (n, number.exclusive_minimum));
                keywords.maximum = number.maximum.map(|n| (n, number.exclusive_maximum));
                keywords.multiple_of = number.multiple_of;
            }
            SchemaKind::Type(Type::Boolean(boolean)) => {
                keywords.types.push("Boolean");
                keywords.enumeration =
                    literals(&boolean.enumeration, |b| quote! { Literal::Boolean(#b) });
            }
            SchemaKind::Type(Type::Array(array)) => {
                keywords.types.push("Array");
                if let Some(items) = &array.items {
                    keywords.items = Some(self.schema_ref(items, &format!("{pointer}/items"))?);
                }
                keywords.min_items = array.min_items;
                keywords.max_items = array.max_items;
                keywords.unique_items = array.unique_items;
            }
            SchemaKind::Type(Type::Object(object)) => {
                keywords.types.push("Object");
                self.object_keywords(
                    &mut keywords,
                    &object.properties,
                    &object.required,
                    object.additional_properties.as_ref(),
                    pointer,
                )?;
            }
            SchemaKind::AllOf { all_of } => {
                keywords.all_of = self.members(all_of, &format!("{pointer}/allOf"))?;
            }
            SchemaKind::AnyOf { any_of } => {
                keywords.any_of = self.members(any_of, &format!("{pointer}/anyOf"))?;
            }
            SchemaKind::OneOf { one_of } => {
                keywords.one_of = self.members(one_of, &format!("{pointer}/oneOf"))?;
            }
            SchemaKind::Not { .. } => {
                return Err(SpecError::new(
                    format!("{pointer}/not"),
                    "`not` is not supported; list the allowed values instead",
                ));
            }
            SchemaKind::Any(any) => self.any_keywords(&mut keywords, any, pointer)?,
        }
        Ok(keywords)
    }

    /// Reads the keywords of a schema that openapiv3 could not give one
    /// kind, such as an object without `type`.
    fn any_keywords(
        &mut self,
        keywords: &mut Keywords,
        any: &openapiv3::AnySchema,
        pointer: &str,
    ) -> Result<(), SpecError> {
        if let Some(typ) = &any.typ {
            let variant = match typ.as_str() {
                "string" => "String",
                "integer" => "Integer",
                "number" => "Number",
                "boolean" => "Boolean",
                "array" => "Array",
                "object" => "Object",
                other => {
                    return Err(SpecError::new(
                        format!("{pointer}/type"),
                        format!("unknown type `{other}`"),
                    ));
                }
            };
            keywords.types.push(variant);
        }
        keywords.enumeration = any
            .enumeration
            .iter()
            .map(json_literal)
            .collect::<Option<Vec<_>>>()
            .unwrap_or_default();
        keywords.minimum = any
            .minimum
            .map(|n| (n, any.exclusive_minimum == Some(true)));
        keywords.maximum = any
            .maximum
            .map(|n| (n, any.exclusive_maximum == Some(true)));
        keywords.multiple_of = any.multiple_of;
        keywords.min_length = any.min_length;
        keywords.max_length = any.max_length;
        keywords.pattern = any.pattern.clone();

        if let Some(items) = &any.items {
            keywords.items = Some(self.schema_ref(items, &format!("{pointer}/items"))?);
        }
        keywords.min_items = any.min_items;
        keywords.max_items = any.max_items;
        keywords.unique_items = any.unique_items == Some(true);

        self.object_keywords(
            keywords,
            &any.properties,
            &any.required,
            any.additional_properties.as_ref(),
            pointer,
        )?;

        keywords.all_of = self.members(&any.all_of, &format!("{pointer}/allOf"))?;
        keywords.any_of = self.members(&any.any_of, &format!("{pointer}/anyOf"))?;
        keywords.one_of = self.members(&any.one_of, &format!("{pointer}/oneOf"))?;
        Ok(())
    }

    fn object_keywords(
        &mut self,
        keywords: &mut Keywords,
        properties: &indexmap::IndexMap<String, ReferenceOr<Box<Schema>>>,
        required: &[String],
        additional: Option<&AdditionalProperties>,
        pointer: &str,
    ) -> Result<(), SpecError> {
        for (name, property) in properties {
            let child = format!("{pointer}/properties/{}", escape_segment(name));
            keywords
                .properties
                .push((name.clone(), self.schema_ref(property, &child)?));
        }
        keywords.required = required.to_vec();
        keywords.additional_properties = match additional {
            None | Some(AdditionalProperties::Any(true)) => None,
            Some(AdditionalProperties::Any(false)) => Some(quote! { Additional::Forbidden }),
            Some(AdditionalProperties::Schema(schema)) => {
                let child = format!("{pointer}/additionalProperties");
                let schema = self.schema_ref(schema, &child)?;
                Some(quote! { Additional::Schema(#schema) })
            }
        };
        Ok(())
    }

    fn members(
        &mut self,
        members: &[ReferenceOr<Schema>],
        pointer: &str,
    ) -> Result<Vec<TokenStream>, SpecError> {
        members
            .iter()
            .enumerate()
            .map(|(index, member)| self.schema_ref(member, &format!("{pointer}/{index}")))
            .collect()
    }
}

impl Keywords {
    fn to_tokens(&self) -> TokenStream {
        let mut fields = Vec::new();
        if !self.types.is_empty() {
            let types = self.types.iter().map(|typ| format_ident!("{typ}"));
            fields.push(quote! { types: &[#(JsonType::#types),*], });
        }
        if self.nullable {
            fields.push(quote! { nullable: true, });
        }
        if !self.enumeration.is_empty() {
            let values = &self.enumeration;
            fields.push(quote! { enumeration: &[#(#values),*], });
        }
        for (field, bound) in [("minimum", self.minimum), ("maximum", self.maximum)] {
            if let Some((value, exclusive)) = bound {
                let field = format_ident!("{field}");
                let value = Literal::f64_unsuffixed(value);
                fields
                    .push(quote! { #field: Some(Bound { value: #value, exclusive: #exclusive }), });
            }
        }

        if let Some(divisor) = self.multiple_of {
            let divisor = Literal::f64_unsuffixed(divisor);
            fields.push(quote! { multiple_of: Some(#divisor), });
        }
        let counts = [
            ("min_length", self.min_length),
            ("max_length", self.max_length),
            ("min_items", self.min_items),
            ("max_items", self.max_items),
        ];
        for (field, count) in counts {
            if let Some(count) = count {
                let field = format_ident!("{field}");
                let count = Literal::u64_unsuffixed(count as u64);
                fields.push(quote! { #field: Some(#count), });
            }
        }
        if let Some(pattern) = &self.pattern {
            fields.push(pattern_field(pattern));
        }
        if let Some(items) = &self.items {
            fields.push(quote! { items: Some(#items), });
        }
        if self.unique_items {
            fields.push(quote! { unique_items: true, });
        }

        if !self.properties.is_empty() {
            let properties = self
                .properties
                .iter()
                .map(|(name, schema)| quote! { (#name, #schema) });
            fields.push(quote! { properties: &[#(#properties),*], });
        }
        if !self.required.is_empty() {
            let required = &self.required;
            fields.push(quote! { required: &[#(#required),*], });
        }
        if let Some(additional) = &self.additional_properties {
            fields.push(quote! { additional_properties: #additional, });
        }
        for (field, members) in [
            ("all_of", &self.all_of),
            ("any_of", &self.any_of),
            ("one_of", &self.one_of),
        ] {
            if !members.is_empty() {
                let field = format_ident!("{field}");
                fields.push(quote! { #field: &[#(#members),*], });
            }
        }
        quote! { Schema { #(#fields)* ..Schema::ANY } }
    }
}

/// Emits a `pattern`, tested in linear time where `pattern::is_match` can
/// and compiled on first use.
fn pattern_field(pattern: &str) -> TokenStream {
    let is_match = pattern::is_match(pattern, &quote! { text });
    quote! {
        pattern: Some(Pattern {
            source: #pattern,
            is_match: |text: &str| #is_match,
        }),
    }
}

/// Schemas under a `$ref` or inline, boxed or not.
trait AsSchema {
    fn as_schema(&self) -> &Schema;
}

impl AsSchema for Schema {
    fn as_schema(&self) -> &Schema {
        self
    }
}

impl AsSchema for Box<Schema> {
    fn as_schema(&self) -> &Schema {
        self
    }
}

/// Converts enum values; `None` is `null`, which `nullable` allows.
fn literals<T>(values: &[Option<T>], literal: impl Fn(&T) -> TokenStream) -> Vec<TokenStream> {
    values
        .iter()
        .map(|value| match value {
            Some(value) => literal(value),
            None => quote! { Literal::Null },
        })
        .collect()
}

/// Converts an enum value of a schema without a kind. Returns `None` for
/// an array or object, which the runtime does not compare.
fn json_literal(value: &serde_json::Value) -> Option<TokenStream> {
    Some(match value {
        serde_json::Value::Null => quote! { Literal::Null },
        serde_json::Value::Bool(b) => quote! { Literal::Boolean(#b) },
        serde_json::Value::Number(n) => match n.as_i64() {
            Some(n) => {
                let n = Literal::i64_unsuffixed(n);
                quote! { Literal::Integer(#n) }
            }
            None => {
                let n = Literal::f64_unsuffixed(n.as_f64()?);
                quote! { Literal::Number(#n) }
            }
        },
        serde_json::Value::String(s) => quote! { Literal::String(#s) },
        _ => return None,
    })
}

/// Returns the range of an integer `format` that typify maps to a Rust
/// integer type narrower than `i64`.
fn integer_format_range(
    format: &VariantOrUnknownOrEmpty<IntegerFormat>,
) -> (Option<f64>, Option<f64>) {
    let name = match format {
        VariantOrUnknownOrEmpty::Item(IntegerFormat::Int32) => "int32",
        VariantOrUnknownOrEmpty::Unknown(name) => name.as_str(),
        _ => return (None, None),
    };
    match name {
        "int8" => (Some(i8::MIN as f64), Some(i8::MAX as f64)),
        "int16" => (Some(i16::MIN as f64), Some(i16::MAX as f64)),
        "int32" => (Some(i32::MIN as f64), Some(i32::MAX as f64)),
        "uint8" => (Some(0.0), Some(u8::MAX as f64)),
        "uint16" => (Some(0.0), Some(u16::MAX as f64)),
        "uint32" => (Some(0.0), Some(u32::MAX as f64)),
        "uint64" => (Some(0.0), None),
        _ => (None, None),
    }
}

/// Returns the tighter of a spec bound and a format limit. `tighter_than`
/// returns whether its first argument is the tighter one.
fn tighter(
    spec: Option<(f64, bool)>,
    format: Option<f64>,
    tighter_than: impl Fn(f64, f64) -> bool,
) -> Option<(f64, bool)> {
    match (spec, format) {
        (Some((value, _)), Some(limit)) if tighter_than(limit, value) => Some((limit, false)),
        (Some(bound), _) => Some(bound),
        (None, limit) => limit.map(|limit| (limit, false)),
    }
}

/// Returns whether a schema, or one it reaches, has keywords that typify's
/// types do not enforce: numeric bounds, `multipleOf`, array lengths,
/// `uniqueItems`, a non-string enum other than an integer one, or a schema
/// that openapiv3 gives no kind.
fn beyond_types<T: AsSchema>(
    api: &OpenAPI,
    schema: &ReferenceOr<T>,
    visited: &mut BTreeSet<String>,
) -> bool {
    let schema = match schema {
        ReferenceOr::Reference { reference } => {
            let name = reference
                .strip_prefix(SCHEMA_REF_PREFIX)
                .unwrap_or_default();
            if !visited.insert(name.to_string()) {
                return false;
            }
            match api.components.as_ref().and_then(|c| c.schemas.get(name)) {
                Some(schema) => return beyond_types(api, schema, visited),
                None => return true,
            }
        }
        ReferenceOr::Item(schema) => schema.as_schema(),
    };
    let mut check_all = |members: &[ReferenceOr<Schema>]| {
        members
            .iter()
            .any(|member| beyond_types(api, member, visited))
    };
    match &schema.schema_kind {
        SchemaKind::Type(Type::String(_)) => false,
        SchemaKind::Type(Type::Integer(integer)) => {
            integer.minimum.is_some() || integer.maximum.is_some() || integer.multiple_of.is_some()
        }
        SchemaKind::Type(Type::Number(number)) => {
            number.minimum.is_some()
                || number.maximum.is_some()
                || number.multiple_of.is_some()
                || !number.enumeration.is_empty()
        }
        SchemaKind::Type(Type::Boolean(boolean)) => !boolean.enumeration.is_empty(),
        SchemaKind::Type(Type::Array(array)) => {
            array.min_items.is_some()
                || array.max_items.is_some()
                || array.unique_items
                || array
                    .items
                    .as_ref()
                    .is_some_and(|items| beyond_types(api, items, visited))
        }
        SchemaKind::Type(Type::Object(object)) => {
            let additional = match &object.additional_properties {
                Some(AdditionalProperties::Schema(schema)) => beyond_types(api, schema, visited),
                _ => false,
            };
            additional
                || object
                    .properties
                    .values()
                    .any(|property| beyond_types(api, property, visited))
        }
        SchemaKind::AllOf { all_of } => check_all(all_of),
        SchemaKind::AnyOf { any_of } => check_all(any_of),
        SchemaKind::OneOf { one_of } => check_all(one_of),
        SchemaKind::Not { .. } | SchemaKind::Any(_) => true,
    }
}

#[cfg(test)]
mod tests {
    use super::super::{Target, generate, spec};

    /// Returns a spec whose one operation has a body of `schema`, with the
    /// YAML lines `components` under `components/schemas`.
    fn spec_with_body(schema: &str, components: &str) -> String {
        format!(
            r##"
openapi: 3.0.3
info: {{title: t, version: "1"}}
paths:
  /items:
    post:
      operationId: add_item
      requestBody:
        required: true
        content:
          application/json:
            schema: {schema}
      responses:
        "204": {{description: ok}}
        "400": {{description: bad}}
        "401": {{description: no}}
components:
  schemas:
{components}
"##
        )
    }

    /// Generates `text` and returns `lib.rs` and `schemas.rs` of the server.
    fn server_files(text: &str) -> (String, String) {
        let api = spec::parse(text, "spec/openapi.yaml").expect("spec parses");
        let target = Target::workspace().remove(0);
        let files = generate(&api, &target).expect("spec generates");
        let find = |suffix: &str| {
            files
                .iter()
                .find(|file| file.path.ends_with(format!("server/src/{suffix}")))
                .map(|file| file.contents.clone())
                .unwrap_or_else(|| panic!("{suffix} is generated"))
        };
        (find("lib.rs"), find("schemas.rs"))
    }

    /// Removes white space, so that checks do not depend on rustfmt.
    fn squeeze(text: &str) -> String {
        text.split_whitespace().collect()
    }

    #[test]
    fn bounds_and_array_keywords_are_emitted() {
        let components = r##"
    Item:
      type: object
      required: [count]
      additionalProperties: false
      properties:
        count: {type: integer, minimum: 1, maximum: 9, exclusiveMaximum: true, multipleOf: 2}
        share: {type: number, minimum: 0, exclusiveMinimum: true}
        tags:
          type: array
          minItems: 1
          maxItems: 3
          uniqueItems: true
          items: {type: string, pattern: "^[a-z]+$", maxLength: 8}
        level: {type: integer, enum: [1, 2], nullable: true}
        child: {$ref: "#/components/schemas/Item"}"##;
        let text = spec_with_body(r##"{$ref: "#/components/schemas/Item"}"##, components);
        let (lib, schemas) = server_files(&text);
        let schemas = squeeze(&schemas);
        let expected = [
            "pubstaticITEM:Schema=Schema{types:&[JsonType::Object]",
            "minimum:Some(Bound{value:1.0,exclusive:false,})",
            "maximum:Some(Bound{value:9.0,exclusive:true,})",
            "multiple_of:Some(2.0)",
            "minimum:Some(Bound{value:0.0,exclusive:true,})",
            "min_items:Some(1),max_items:Some(3)",
            "unique_items:true",
            "source:\"^[a-z]+$\"",
            "max_length:Some(8)",
            "nullable:true,enumeration:&[Literal::Integer(1),Literal::Integer(2)]",
            "(\"child\",&ITEM),",
            "required:&[\"count\"],additional_properties:Additional::Forbidden",
        ];
        for fragment in expected {
            assert!(schemas.contains(fragment), "{fragment} in {schemas}");
        }
        let lib = squeeze(&lib);
        assert!(
            lib.contains("schema:&schemas::ITEM,validate_decoded:true"),
            "{lib}"
        );
    }

    #[test]
    fn string_keywords_keep_one_pass_decoding() {
        let components = r#"
    Note:
      type: object
      properties:
        text: {type: string, minLength: 1, maxLength: 9, nullable: true}
        kind: {type: string, enum: [a, b]}
        level: {type: integer, enum: [1, 2], format: uint8}"#;
        let text = spec_with_body(r##"{$ref: "#/components/schemas/Note"}"##, components);
        let (lib, schemas) = server_files(&text);
        let lib = squeeze(&lib);
        assert!(
            lib.contains("schema:&schemas::NOTE,validate_decoded:false"),
            "{lib}"
        );
        let schemas = squeeze(&schemas);
        assert!(
            schemas.contains("maximum:Some(Bound{value:255.0,exclusive:false,})"),
            "{schemas}"
        );
    }

    #[test]
    fn format_range_tightens_spec_bound() {
        let body = "{type: object, properties: {pid: {type: integer, format: uint32, minimum: 1}}}";
        let (lib, schemas) = server_files(&spec_with_body(body, "    Unused: {type: string}"));
        let schemas = squeeze(&schemas);
        assert!(
            schemas.contains("pubstaticADD_ITEM_BODY:Schema="),
            "{schemas}"
        );
        assert!(
            schemas.contains("minimum:Some(Bound{value:1.0,exclusive:false,})"),
            "{schemas}"
        );
        assert!(
            schemas.contains("maximum:Some(Bound{value:4294967295.0,exclusive:false,})"),
            "{schemas}"
        );
        assert!(
            !schemas.contains("UNUSED"),
            "only schemas that bodies reach: {schemas}"
        );
        let lib = squeeze(&lib);
        assert!(
            lib.contains("schema:&schemas::ADD_ITEM_BODY,validate_decoded:true"),
            "{lib}"
        );
    }

    #[test]
    fn tighter_picks_the_narrower_bound() {
        let larger = |a: f64, b: f64| a > b;
        assert_eq!(
            super::tighter(Some((1.0, true)), Some(0.0), larger),
            Some((1.0, true))
        );
        assert_eq!(
            super::tighter(Some((-5.0, true)), Some(0.0), larger),
            Some((0.0, false))
        );
        assert_eq!(super::tighter(None, Some(0.0), larger), Some((0.0, false)));
        assert_eq!(
            super::tighter(Some((3.0, false)), None, larger),
            Some((3.0, false))
        );
    }
}
