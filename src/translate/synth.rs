//! A reply synthesized from an output message type, for operations without
//! a documented sample: every field present with a type-correct value, lists
//! of one element, under the vendor's names.

use prost_reflect::{Kind, MessageDescriptor};
use serde_json::{Map, Value as Json};

use crate::catalog::{is_free_json, Catalog, RequestField};

/// Deepest nesting synthesized (recursive types stop here).
const MAX_DEPTH: usize = 6;

/// A vendor JSON object for `desc` (the request id is the caller's to add).
pub fn synthesize(catalog: &Catalog, desc: &MessageDescriptor) -> Map<String, Json> {
    object(catalog, desc, 0)
}

fn object(catalog: &Catalog, desc: &MessageDescriptor, depth: usize) -> Map<String, Json> {
    let mut out = Map::new();
    let Some(spec) = catalog.spec(desc) else {
        return out;
    };
    if depth >= MAX_DEPTH {
        return out;
    }
    for f in &spec.fields {
        let Some(v) = field(catalog, f, depth) else {
            continue;
        };
        out.insert(f.rule.name.clone(), v);
    }
    out
}

fn field(catalog: &Catalog, f: &RequestField, depth: usize) -> Option<Json> {
    if f.field.is_map() {
        let Kind::Message(entry) = f.field.kind() else {
            return None;
        };
        let v = value(catalog, &entry.map_entry_value_field().kind(), f, depth)?;
        let mut m = Map::new();
        m.insert("key".into(), v);
        return Some(Json::Object(m));
    }
    let v = value(catalog, &f.field.kind(), f, depth)?;
    if f.field.is_list() {
        return Some(Json::Array(vec![v]));
    }
    Some(v)
}

fn value(catalog: &Catalog, kind: &Kind, f: &RequestField, depth: usize) -> Option<Json> {
    let example = &f.rule.example;
    Some(match kind {
        Kind::String => {
            if let Some(first) = f.rule.allowed_values.first() {
                Json::String(first.clone())
            } else if !example.is_empty() {
                Json::String(example.clone())
            } else {
                Json::String(format!("{}-1", f.rule.name))
            }
        }
        Kind::Bool => Json::Bool(true),
        Kind::Double | Kind::Float => Json::from(1.5),
        Kind::Bytes => Json::String("AAEC".into()),
        Kind::Enum(e) => Json::String(
            e.values()
                .find(|v| v.number() != 0)
                .or_else(|| e.values().next())
                .map(|v| v.name().to_string())
                .unwrap_or_default(),
        ),
        Kind::Message(m) if is_free_json(m) => serde_json::json!({"key": "value"}),
        Kind::Message(m) => {
            if depth + 1 >= MAX_DEPTH {
                return None;
            }
            Json::Object(object(catalog, m, depth + 1))
        }
        _ => {
            // Integers: the first allowed value, or the example, or 1.
            let n = f
                .rule
                .allowed_values
                .first()
                .and_then(|v| v.parse::<i64>().ok())
                .or_else(|| example.parse::<i64>().ok())
                .unwrap_or(1);
            let n = n.max(f.rule.min_value);
            Json::from(n)
        }
    })
}
