//! Alibaba RPC parameters, both ways, as the official SDKs flatten them:
//! lists `Name.N` (1-based), nested messages `Name.Sub`, lists of messages
//! `Name.N.Sub`, maps `Name.Key`, recursively; `json`-style fields as one
//! parameter of compact JSON; `simple`-style lists comma-joined. Top-level
//! fields marked `form` travel in the form body instead of the query.

use std::collections::BTreeMap;

use prost_reflect::{DynamicMessage, Kind, MessageDescriptor, ReflectMessage, Value};
use serde_json::Value as Json;

use super::json::{self, JsonError, Mode};
use super::validate::{map_key_text, scalar_text};
use crate::catalog::{Catalog, RequestField, WireEncoding};

/// Alibaba parameters in wire form.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct QueryParams {
    /// URL query parameters, in field order.
    pub query: Vec<(String, String)>,
    /// Form-body parameters (`application/x-www-form-urlencoded`).
    pub form: Vec<(String, String)>,
}

// === message -> parameters ===

/// Flattens a validated request.
pub fn encode(catalog: &Catalog, msg: &DynamicMessage) -> QueryParams {
    let mut out = QueryParams::default();
    let Some(spec) = catalog.spec(&msg.descriptor()) else {
        return out;
    };
    for f in &spec.fields {
        let target = if f.rule.form {
            &mut out.form
        } else {
            &mut out.query
        };
        field(catalog, msg, f, "", target);
    }
    out
}

fn field(
    catalog: &Catalog,
    msg: &DynamicMessage,
    f: &RequestField,
    prefix: &str,
    out: &mut Vec<(String, String)>,
) {
    let name = format!("{prefix}{}", f.rule.name);
    match f.rule.encoding() {
        WireEncoding::QueryJson => {
            if let Some(v) = json::field_to_json(catalog, msg, f) {
                out.push((name, v.to_string()));
            }
        }
        WireEncoding::QuerySimple => {
            if let Some(value) = super::set_value(msg, &f.field) {
                let items = value.as_list().unwrap_or_default();
                let joined: Vec<String> = items.iter().filter_map(scalar_text).collect();
                out.push((name, joined.join(",")));
            }
        }
        _ => match super::set_value(msg, &f.field).as_deref() {
            Some(Value::List(items)) => {
                for (i, item) in items.iter().enumerate() {
                    flatten(catalog, &format!("{name}.{}", i + 1), item, out);
                }
            }
            Some(value) => flatten(catalog, &name, value, out),
            None => {}
        },
    }
}

fn flatten(catalog: &Catalog, name: &str, v: &Value, out: &mut Vec<(String, String)>) {
    match v {
        Value::Message(m) if crate::catalog::is_free_json(&m.descriptor()) => {
            flatten_json(name, &json::free_json(m), out)
        }
        Value::Message(m) => {
            if let Some(spec) = catalog.spec(&m.descriptor()) {
                let prefix = format!("{name}.");
                for f in &spec.fields {
                    field(catalog, m, f, &prefix, out);
                }
            }
        }
        Value::Map(entries) => {
            let mut keys: Vec<_> = entries.keys().collect();
            keys.sort();
            for k in keys {
                flatten(
                    catalog,
                    &format!("{name}.{}", map_key_text(k)),
                    &entries[k],
                    out,
                );
            }
        }
        Value::List(items) => {
            for (i, item) in items.iter().enumerate() {
                flatten(catalog, &format!("{name}.{}", i + 1), item, out);
            }
        }
        scalar => {
            if let Some(text) = scalar_text(scalar) {
                out.push((name.to_string(), text));
            }
        }
    }
}

fn flatten_json(name: &str, v: &Json, out: &mut Vec<(String, String)>) {
    match v {
        Json::Null => {}
        Json::Object(o) => {
            for (k, item) in o {
                flatten_json(&format!("{name}.{k}"), item, out);
            }
        }
        Json::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                flatten_json(&format!("{name}.{}", i + 1), item, out);
            }
        }
        Json::String(s) => out.push((name.to_string(), s.clone())),
        other => out.push((name.to_string(), other.to_string())),
    }
}

// === parameters -> message (what the emulator received) ===

/// Why received parameters do not form a request.
pub type DecodeError = JsonError;

/// Parameters grouped as a tree by their dotted names.
#[derive(Debug, Default)]
struct Node {
    value: Option<String>,
    children: BTreeMap<String, Node>,
}

impl Node {
    fn insert(&mut self, path: &str, value: &str) {
        let mut node = self;
        for part in path.split('.') {
            node = node.children.entry(part.to_string()).or_default();
        }
        node.value = Some(value.to_string());
    }

    /// The node at a dotted path under this one.
    fn path(&self, dotted: &str) -> Option<&Node> {
        dotted
            .split('.')
            .try_fold(self, |node, part| node.children.get(part))
    }

    /// Children whose names are list indexes (1-based), in index order.
    fn indexed(&self) -> Vec<(u64, &Node)> {
        let mut items: Vec<(u64, &Node)> = self
            .children
            .iter()
            .filter_map(|(k, n)| {
                (!k.is_empty() && k.bytes().all(|b| b.is_ascii_digit()))
                    .then(|| k.parse().ok())
                    .flatten()
                    .filter(|i| *i >= 1)
                    .map(|i| (i, n))
            })
            .collect();
        items.sort_by_key(|(i, _)| *i);
        items
    }

    fn to_json(&self) -> Json {
        if self.children.is_empty() {
            return self.value.clone().map_or(Json::Null, Json::String);
        }
        let indexed = self.indexed();
        if indexed.len() == self.children.len() {
            return Json::Array(indexed.iter().map(|(_, n)| n.to_json()).collect());
        }
        Json::Object(
            self.children
                .iter()
                .map(|(k, n)| (k.clone(), n.to_json()))
                .collect(),
        )
    }
}

/// Rebuilds the request message from query and form parameters (unknown
/// parameters are ignored, as Alibaba ignores them; an empty value counts as
/// not sent, as the SDKs omit unset parameters).
pub fn decode(
    catalog: &Catalog,
    desc: &MessageDescriptor,
    params: &[(String, String)],
) -> Result<DynamicMessage, DecodeError> {
    let mut root = Node::default();
    for (k, v) in params {
        if !v.is_empty() {
            root.insert(k, v);
        }
    }
    message(catalog, desc, &root, "")
}

fn message(
    catalog: &Catalog,
    desc: &MessageDescriptor,
    node: &Node,
    prefix: &str,
) -> Result<DynamicMessage, DecodeError> {
    let mut msg = DynamicMessage::new(desc.clone());
    let Some(spec) = catalog.spec(desc) else {
        return Ok(msg);
    };
    for f in &spec.fields {
        // A vendor name may itself be dotted (`PrivatePoolOptions.Id`, a
        // flat-style member the metadata lists as its own parameter).
        let Some(child) = node.path(&f.rule.name) else {
            continue;
        };
        let at = format!("{prefix}{}", f.rule.name);
        let value = match f.rule.encoding() {
            WireEncoding::QueryJson => {
                let Some(text) = &child.value else { continue };
                let json: Json = serde_json::from_str(text).map_err(|e| JsonError::Invalid {
                    path: at.clone(),
                    reason: format!("is not valid JSON: {e}"),
                })?;
                let mut holder = serde_json::Map::new();
                holder.insert(f.rule.name.clone(), json);
                let one = json::json_to_message(
                    catalog,
                    desc,
                    &Json::Object(holder),
                    Mode::Request,
                    prefix.trim_end_matches('.'),
                )?;
                one.get_field(&f.field).into_owned()
            }
            WireEncoding::QuerySimple => {
                let Some(text) = &child.value else { continue };
                Value::List(
                    text.split(',')
                        .enumerate()
                        .map(|(i, item)| scalar(&f.field.kind(), item, &format!("{at}.{}", i + 1)))
                        .collect::<Result<_, _>>()?,
                )
            }
            _ => match decode_field(catalog, f, child, &at)? {
                Some(v) => v,
                None => continue,
            },
        };
        msg.try_set_field(&f.field, value)
            .map_err(|e| JsonError::Invalid {
                path: at,
                reason: e.to_string(),
            })?;
    }
    Ok(msg)
}

fn decode_field(
    catalog: &Catalog,
    f: &RequestField,
    node: &Node,
    at: &str,
) -> Result<Option<Value>, DecodeError> {
    if f.field.is_map() {
        let Kind::Message(entry) = f.field.kind() else {
            return Ok(None);
        };
        let value_kind = entry.map_entry_value_field().kind();
        let mut map = std::collections::HashMap::new();
        for (k, child) in &node.children {
            let key = prost_reflect::MapKey::String(k.clone());
            let v = one(catalog, &value_kind, child, &format!("{at}.{k}"))?;
            if let Some(v) = v {
                map.insert(key, v);
            }
        }
        return Ok(Some(Value::Map(map)));
    }
    if f.field.is_list() {
        let mut items = Vec::new();
        for (i, child) in node.indexed() {
            if let Some(v) = one(catalog, &f.field.kind(), child, &format!("{at}.{i}"))? {
                items.push(v);
            }
        }
        return Ok(Some(Value::List(items)));
    }
    one(catalog, &f.field.kind(), node, at)
}

fn one(
    catalog: &Catalog,
    kind: &Kind,
    node: &Node,
    at: &str,
) -> Result<Option<Value>, DecodeError> {
    match kind {
        Kind::Message(m) if crate::catalog::is_free_json(m) => {
            let json = node.to_json();
            json::scalar_or_message(catalog, kind, &json, Mode::Reply, at).map(Some)
        }
        Kind::Message(m) => {
            message(catalog, m, node, &format!("{at}.")).map(|m| Some(Value::Message(m)))
        }
        _ => match &node.value {
            Some(text) => scalar(kind, text, at).map(Some),
            None => Ok(None),
        },
    }
}

/// A scalar from its wire text.
fn scalar(kind: &Kind, text: &str, at: &str) -> Result<Value, DecodeError> {
    let invalid = |reason: &str| JsonError::Invalid {
        path: at.to_string(),
        reason: reason.to_string(),
    };
    Ok(match kind {
        Kind::String => Value::String(text.to_string()),
        // The official Python SDK writes str(True): "True".
        Kind::Bool if text.eq_ignore_ascii_case("true") => Value::Bool(true),
        Kind::Bool if text.eq_ignore_ascii_case("false") => Value::Bool(false),
        Kind::Bool => return Err(invalid("it must be true or false")),
        Kind::Int64 | Kind::Sint64 | Kind::Sfixed64 => {
            Value::I64(text.parse().map_err(|_| invalid("it must be an integer"))?)
        }
        Kind::Int32 | Kind::Sint32 | Kind::Sfixed32 => Value::I32(
            text.parse()
                .map_err(|_| invalid("it must be an integer in the 32-bit range"))?,
        ),
        Kind::Uint64 | Kind::Fixed64 => Value::U64(
            text.parse()
                .map_err(|_| invalid("it must be a non-negative integer"))?,
        ),
        Kind::Uint32 | Kind::Fixed32 => Value::U32(
            text.parse()
                .map_err(|_| invalid("it must be a non-negative 32-bit integer"))?,
        ),
        Kind::Double => Value::F64(text.parse().map_err(|_| invalid("it must be a number"))?),
        Kind::Float => Value::F32(text.parse().map_err(|_| invalid("it must be a number"))?),
        Kind::Bytes => {
            use base64::Engine;
            Value::Bytes(
                base64::engine::general_purpose::STANDARD
                    .decode(text)
                    .map_err(|_| invalid("it must be base64"))?
                    .into(),
            )
        }
        Kind::Enum(e) => Value::EnumNumber(
            e.get_value_by_name(text)
                .map(|v| v.number())
                .or_else(|| text.parse().ok())
                .ok_or_else(|| invalid("it is not a known value"))?,
        ),
        Kind::Message(_) => return Err(invalid("a message cannot be a single value")),
    })
}
