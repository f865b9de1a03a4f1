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

// === example requests ===

/// A request for `desc` built from the fields' own documented examples: every
/// field with a usable example is set, required fields always (from the
/// example, else the first allowed value, else the smallest value the rules
/// allow). An example that breaks the field's own rules is left out of
/// optional fields. Used to exercise every operation end to end.
pub fn example_request(
    catalog: &Catalog,
    desc: &MessageDescriptor,
) -> prost_reflect::DynamicMessage {
    example_message(catalog, desc, 0)
}

fn example_message(
    catalog: &Catalog,
    desc: &MessageDescriptor,
    depth: usize,
) -> prost_reflect::DynamicMessage {
    use prost_reflect::Value;
    let mut msg = prost_reflect::DynamicMessage::new(desc.clone());
    let Some(spec) = catalog.spec(desc) else {
        return msg;
    };
    for f in &spec.fields {
        let kind = f.field.kind();
        if f.field.is_map() {
            continue;
        }
        let one = match &kind {
            Kind::Message(m) if is_free_json(m) => None,
            Kind::Message(m) => (f.rule.required && depth < MAX_DEPTH)
                .then(|| Value::Message(required_message(catalog, m, depth + 1))),
            _ => example_scalar(f, &kind, false),
        };
        let Some(value) = one else { continue };
        let value = if f.field.is_list() {
            Value::List(vec![value])
        } else {
            value
        };
        msg.set_field(&f.field, value);
    }
    msg
}

/// A message for a required field: its examples, and when none is usable its
/// first scalar field, so that it puts something on the wire.
fn required_message(
    catalog: &Catalog,
    desc: &MessageDescriptor,
    depth: usize,
) -> prost_reflect::DynamicMessage {
    let mut msg = example_message(catalog, desc, depth);
    if msg.fields().next().is_some() || depth >= MAX_DEPTH {
        return msg;
    }
    let Some(spec) = catalog.spec(desc) else {
        return msg;
    };
    for f in spec.fields.iter().filter(|f| !f.field.is_map()) {
        let v = match f.field.kind() {
            Kind::Message(m) if is_free_json(&m) => continue,
            Kind::Message(m) => {
                let inner = required_message(catalog, &m, depth + 1);
                if inner.fields().next().is_none() {
                    continue;
                }
                prost_reflect::Value::Message(inner)
            }
            kind => match example_scalar(f, &kind, true) {
                Some(v) => v,
                None => continue,
            },
        };
        let v = if f.field.is_list() {
            prost_reflect::Value::List(vec![v])
        } else {
            v
        };
        msg.set_field(&f.field, v);
        break;
    }
    msg
}

/// The first usable item of an example (Tencent writes list examples as JSON).
fn example_text(f: &RequestField) -> Option<String> {
    let e = f.rule.example.trim();
    if e.is_empty() {
        return None;
    }
    if f.field.is_list() {
        if let Ok(Json::Array(items)) = serde_json::from_str::<Json>(e) {
            return items.first().map(|v| match v {
                Json::String(s) => s.clone(),
                other => other.to_string(),
            });
        }
    }
    Some(e.to_string())
}

fn fits(f: &RequestField, text: &str) -> bool {
    let chars = text.chars().count();
    !text.is_empty()
        && !text
            .chars()
            .any(|c| c.is_control() && !matches!(c, '\t' | '\n' | '\r'))
        && (f.rule.allowed_values.is_empty() || f.rule.allowed_values.iter().any(|a| a == text))
        && f.pattern.as_ref().is_none_or(|p| p.is_match(text))
        && (f.rule.max_length == 0 || chars <= f.rule.max_length as usize)
        && chars >= f.rule.min_length as usize
}

fn example_scalar(f: &RequestField, kind: &Kind, force: bool) -> Option<prost_reflect::Value> {
    use prost_reflect::Value;
    let required = f.rule.required || force;
    // Vendor examples mask ids (`u-00q8wbq4****`): unmasked, they often fit.
    let example = example_text(f).map(|e| if fits(f, &e) { e } else { e.replace('*', "x") });
    let in_range = |n: i64| {
        (f.rule.min_value == 0 && f.rule.max_value == 0)
            || (n >= f.rule.min_value && (f.rule.max_value == 0 || n <= f.rule.max_value))
    };
    let int = || -> Option<i64> {
        example
            .as_deref()
            .and_then(|e| e.parse::<i64>().ok())
            .filter(|n| {
                in_range(*n)
                    && (f.rule.allowed_values.is_empty()
                        || f.rule.allowed_values.contains(&n.to_string()))
            })
            .or_else(|| {
                required.then(|| {
                    f.rule
                        .allowed_values
                        .first()
                        .and_then(|v| v.parse().ok())
                        .unwrap_or(f.rule.min_value.max(1))
                })
            })
    };
    Some(match kind {
        Kind::String => {
            let text = match example.filter(|e| fits(f, e)) {
                Some(e) => e,
                None if required => f
                    .rule
                    .allowed_values
                    .first()
                    .cloned()
                    .unwrap_or_else(|| "x".repeat((f.rule.min_length as usize).max(1))),
                None => return None,
            };
            Value::String(text)
        }
        Kind::Bool => match example.as_deref() {
            Some("true") => Value::Bool(true),
            Some("false") => Value::Bool(false),
            _ if required => Value::Bool(true),
            _ => return None,
        },
        Kind::Double | Kind::Float => {
            let n = example
                .as_deref()
                .and_then(|e| e.parse::<f64>().ok())
                .or_else(|| required.then_some(1.0))?;
            if *kind == Kind::Float {
                Value::F32(n as f32)
            } else {
                Value::F64(n)
            }
        }
        Kind::Int64 | Kind::Sint64 | Kind::Sfixed64 => Value::I64(int()?),
        Kind::Int32 | Kind::Sint32 | Kind::Sfixed32 => Value::I32(i32::try_from(int()?).ok()?),
        Kind::Uint64 | Kind::Fixed64 => Value::U64(u64::try_from(int()?).ok()?),
        Kind::Uint32 | Kind::Fixed32 => Value::U32(u32::try_from(int()?).ok()?),
        Kind::Bytes => {
            if !required {
                return None;
            }
            Value::Bytes(bytes::Bytes::from_static(b"example"))
        }
        Kind::Enum(e) => {
            let v = e
                .values()
                .find(|v| v.number() != 0)
                .or_else(|| e.values().next())?;
            if !required {
                return None;
            }
            Value::EnumNumber(v.number())
        }
        Kind::Message(_) => return None,
    })
}
