//! Field specs of every message an operation uses, at any depth: vendor name,
//! wire encoding and validation rules, compiled once from the
//! `(cloudgate.v1.field)` options.

use std::collections::HashMap;
use std::sync::Arc;

use prost_reflect::{ExtensionDescriptor, FieldDescriptor, Kind, MessageDescriptor};
use regex::Regex;

use super::{opt_err, option_message, CatalogError};
use crate::pb::cloudgate::v1 as opts;
use opts::{Vendor, WireEncoding};

/// One field of a message with its vendor rule, compiled.
#[derive(Debug, Clone)]
pub struct RequestField {
    /// The proto field.
    pub field: FieldDescriptor,
    /// Its options: the vendor name (the proto name when a reply field has no
    /// option), the encoding resolved to the vendor's default when unset.
    pub rule: opts::FieldRule,
    /// `rule.pattern`, anchored and compiled.
    pub pattern: Option<Regex>,
    /// What the field holds.
    pub shape: Shape,
}

impl RequestField {
    /// The proto field name (what callers and BadRequest violations use).
    pub fn proto_name(&self) -> &str {
        self.field.name()
    }

    /// The vendor's name for the field.
    pub fn vendor_name(&self) -> &str {
        &self.rule.name
    }
}

/// What a field holds, as far as the vendor wire cares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Shape {
    /// A scalar (string, number, bool, bytes, enum), or a list of them.
    Scalar,
    /// A message (`full name` of its type), or a list of them.
    Message(String),
    /// `google.protobuf.Value`, `Struct` or `ListValue`: free-form JSON.
    FreeJson,
    /// A map; the value shape.
    Map(Box<Shape>),
}

/// The fields of one message, in declaration order.
#[derive(Debug)]
pub struct MessageSpec {
    /// The message.
    pub descriptor: MessageDescriptor,
    /// Its fields.
    pub fields: Vec<RequestField>,
}

/// Whether a message type is one of the well-known free-form JSON types.
pub fn is_free_json(md: &MessageDescriptor) -> bool {
    matches!(
        md.full_name(),
        "google.protobuf.Value" | "google.protobuf.Struct" | "google.protobuf.ListValue"
    )
}

fn shape_of(kind: &Kind) -> Shape {
    match kind {
        Kind::Message(m) if is_free_json(m) => Shape::FreeJson,
        Kind::Message(m) => Shape::Message(m.full_name().to_string()),
        _ => Shape::Scalar,
    }
}

fn field_shape(field: &FieldDescriptor) -> Shape {
    if field.is_map() {
        if let Kind::Message(entry) = field.kind() {
            let value = entry.map_entry_value_field();
            return Shape::Map(Box::new(shape_of(&value.kind())));
        }
    }
    shape_of(&field.kind())
}

/// Compiles the specs of messages reachable from operations.
pub(super) struct SpecBuilder<'a> {
    pub field_ext: &'a ExtensionDescriptor,
    pub specs: HashMap<String, Arc<MessageSpec>>,
    /// Messages already checked as request messages (strict).
    strict_done: std::collections::HashSet<String>,
}

impl<'a> SpecBuilder<'a> {
    pub fn new(field_ext: &'a ExtensionDescriptor) -> Self {
        Self {
            field_ext,
            specs: HashMap::new(),
            strict_done: Default::default(),
        }
    }

    /// The spec of `md` and every message under it. `request`: every field
    /// needs a vendor name and its options must fit the vendor; replies fall
    /// back to the proto name.
    pub fn add(
        &mut self,
        md: &MessageDescriptor,
        vendor: Vendor,
        request: bool,
        top_level: bool,
    ) -> Result<Arc<MessageSpec>, CatalogError> {
        let key = md.full_name().to_string();
        let needs_strict = request && !self.strict_done.contains(&key);
        if let Some(spec) = self.specs.get(&key) {
            if !needs_strict {
                return Ok(spec.clone());
            }
        }
        if request {
            self.strict_done.insert(key.clone());
        }
        let mut fields = Vec::new();
        for field in md.fields() {
            let at = super::load::locate(field.full_name(), &field.parent_file(), field.path());
            let rule = option_message::<opts::FieldRule>(&field.options(), self.field_ext, &at)?;
            let mut rule = match rule {
                Some(r) if !r.name.is_empty() => r,
                Some(_) if request => return Err(opt_err(at, "field option has no vendor name")),
                None if request => {
                    return Err(opt_err(
                        at,
                        "request field has no (cloudgate.v1.field) option",
                    ))
                }
                Some(r) => opts::FieldRule {
                    name: field.name().to_string(),
                    ..r
                },
                None => opts::FieldRule {
                    name: field.name().to_string(),
                    ..Default::default()
                },
            };
            let shape = field_shape(&field);
            if request {
                check_rule(&at, &field, &shape, &mut rule, vendor, top_level)?;
            }
            let pattern = if rule.pattern.is_empty() {
                None
            } else {
                Some(
                    Regex::new(&format!("^(?:{})$", rule.pattern))
                        .map_err(|e| opt_err(&at, format!("pattern: {e}")))?,
                )
            };
            fields.push(RequestField {
                field,
                rule,
                pattern,
                shape,
            });
        }
        let spec = Arc::new(MessageSpec {
            descriptor: md.clone(),
            fields,
        });
        self.specs.insert(key, spec.clone());
        // Nested messages (recursion ends at messages already compiled).
        for f in &spec.fields {
            let nested = match &f.shape {
                Shape::Message(_) => f.field.kind().as_message().cloned(),
                Shape::Map(v) if matches!(**v, Shape::Message(_)) => f
                    .field
                    .kind()
                    .as_message()
                    .map(|e| e.map_entry_value_field().kind())
                    .and_then(|k| k.as_message().cloned()),
                _ => None,
            };
            if let Some(nested) = nested {
                let done = self.specs.contains_key(nested.full_name())
                    && (!request || self.strict_done.contains(nested.full_name()));
                if !done {
                    self.add(&nested, vendor, request, false)?;
                }
            }
        }
        Ok(spec)
    }
}

/// Checks a request field's options against its type and vendor, and
/// resolves its encoding.
fn check_rule(
    at: &str,
    field: &FieldDescriptor,
    shape: &Shape,
    rule: &mut opts::FieldRule,
    vendor: Vendor,
    top_level: bool,
) -> Result<(), CatalogError> {
    let err = |reason: String| Err(opt_err(at, reason));
    let message = matches!(field.kind(), Kind::Message(_)) || field.is_map();
    if message && (!rule.allowed_values.is_empty() || !rule.pattern.is_empty()) {
        return err("allowed_values and pattern apply to scalar fields, not messages".into());
    }
    if rule.min_value != 0 && rule.max_value != 0 && rule.min_value > rule.max_value {
        return err(format!(
            "min_value {} is above max_value {}",
            rule.min_value, rule.max_value
        ));
    }
    if rule.min_length != 0 && rule.max_length != 0 && rule.min_length > rule.max_length {
        return err(format!(
            "min_length {} is above max_length {}",
            rule.min_length, rule.max_length
        ));
    }
    let list = field.is_list();
    let encoding = rule.encoding();
    match vendor {
        Vendor::Tencent => {
            if !matches!(encoding, WireEncoding::Unspecified | WireEncoding::JsonBody) {
                return err(format!(
                    "{} is an Alibaba encoding; Tencent fields travel in the JSON body",
                    encoding.as_str_name()
                ));
            }
            if rule.form {
                return err("form applies to Alibaba parameters, not Tencent".into());
            }
            rule.set_encoding(WireEncoding::JsonBody);
        }
        _ => {
            let resolved = match encoding {
                WireEncoding::JsonBody => {
                    return err(
                        "WIRE_ENCODING_JSON_BODY is Tencent's; Alibaba parameters travel in the query or form"
                            .into(),
                    )
                }
                WireEncoding::Unspecified if list => WireEncoding::QueryFlatList,
                WireEncoding::Unspecified => WireEncoding::Query,
                WireEncoding::Query if list => {
                    return err(
                        "WIRE_ENCODING_QUERY on a repeated field: use QUERY_FLAT_LIST, QUERY_SIMPLE or QUERY_JSON"
                            .into(),
                    )
                }
                WireEncoding::QueryFlatList if !list => {
                    return err("WIRE_ENCODING_QUERY_FLAT_LIST needs a repeated field".into())
                }
                WireEncoding::QuerySimple if !(list && *shape == Shape::Scalar) => {
                    return err(
                        "WIRE_ENCODING_QUERY_SIMPLE needs a repeated scalar field (comma-joined)"
                            .into(),
                    )
                }
                other => other,
            };
            rule.set_encoding(resolved);
            if rule.form && !top_level {
                return err(
                    "form applies to top-level request fields (nested members travel with their parent)"
                        .into(),
                );
            }
        }
    }
    if rule.idempotency_token && (list || field.kind() != Kind::String) {
        return err("idempotency_token needs a string field".into());
    }
    Ok(())
}
