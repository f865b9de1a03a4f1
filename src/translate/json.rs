//! Messages as vendor JSON, both ways, with the vendor's member names at
//! every depth: Tencent request bodies, Alibaba `json`-style parameters,
//! vendor replies, and (strictly) the requests the emulator receives.

use base64::Engine;
use prost_reflect::{
    DynamicMessage, FieldDescriptor, Kind, MapKey, MessageDescriptor, ReflectMessage, Value,
};
use serde_json::{Map, Number, Value as Json};

use super::validate::map_key_text;
use crate::catalog::{is_free_json, Catalog, RequestField};

// === message -> JSON ===

/// `msg` as a JSON object under vendor names: 64-bit integers as JSON
/// numbers (as the SDKs send them), explicitly set zeros included, unset
/// fields left out.
pub fn message_to_json(catalog: &Catalog, msg: &DynamicMessage) -> Map<String, Json> {
    let mut out = Map::new();
    let Some(spec) = catalog.spec(&msg.descriptor()) else {
        return out;
    };
    for f in &spec.fields {
        if let Some(json) = field_to_json(catalog, msg, f) {
            out.insert(f.rule.name.clone(), json);
        }
    }
    out
}

/// One field of `msg` as JSON (`None`: not set).
pub fn field_to_json(catalog: &Catalog, msg: &DynamicMessage, f: &RequestField) -> Option<Json> {
    super::set_value(msg, &f.field).map(|v| value_to_json(catalog, &v))
}

/// Any value as vendor JSON.
pub fn value_to_json(catalog: &Catalog, v: &Value) -> Json {
    match v {
        Value::Bool(b) => Json::Bool(*b),
        Value::I32(n) => (*n).into(),
        Value::I64(n) => (*n).into(),
        Value::U32(n) => (*n).into(),
        Value::U64(n) => (*n).into(),
        Value::F32(n) => Number::from_f64(f64::from(*n)).map_or(Json::Null, Json::Number),
        Value::F64(n) => Number::from_f64(*n).map_or(Json::Null, Json::Number),
        Value::String(s) => Json::String(s.clone()),
        Value::Bytes(b) => Json::String(base64::engine::general_purpose::STANDARD.encode(b)),
        Value::EnumNumber(n) => (*n).into(),
        Value::List(items) => {
            Json::Array(items.iter().map(|i| value_to_json(catalog, i)).collect())
        }
        Value::Map(m) => {
            let mut entries: Vec<(String, Json)> = m
                .iter()
                .map(|(k, v)| (map_key_text(k), value_to_json(catalog, v)))
                .collect();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            Json::Object(entries.into_iter().collect())
        }
        Value::Message(m) if is_free_json(&m.descriptor()) => free_json(m),
        Value::Message(m) => Json::Object(message_to_json(catalog, m)),
    }
}

/// A `google.protobuf.Value`/`Struct`/`ListValue` as plain JSON. Their
/// numbers are doubles; a whole one goes out as an integer (`3`, not `3.0`),
/// as the caller most likely wrote it and as the SDKs send it.
pub fn free_json(m: &DynamicMessage) -> Json {
    fn whole(v: Json) -> Json {
        match v {
            Json::Number(n) => match n.as_f64() {
                Some(f) if f.fract() == 0.0 && f.abs() < 9.0e15 => Json::from(f as i64),
                _ => Json::Number(n),
            },
            Json::Array(items) => Json::Array(items.into_iter().map(whole).collect()),
            Json::Object(o) => Json::Object(o.into_iter().map(|(k, v)| (k, whole(v))).collect()),
            other => other,
        }
    }
    whole(serde_json::to_value(m).unwrap_or(Json::Null))
}

// === JSON -> message ===

/// How forgiving decoding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// A vendor reply: unknown members ignored; a number sent as a string,
    /// or "true"/"1" for a boolean, accepted as the SDKs accept them.
    Reply,
    /// A request the emulator received: unknown members and wrong JSON
    /// types are errors, as the vendor reports them.
    Request,
}

/// Why a JSON value does not fit.
#[derive(Debug, Clone, PartialEq)]
pub enum JsonError {
    /// A member the message does not have (requests only).
    Unknown(String),
    /// A member of the wrong JSON type.
    WrongType {
        /// Vendor path (`Filters.0.Name`).
        path: String,
        /// The vendor's word for the expected type.
        expected: &'static str,
    },
    /// Anything else (out of range, bad base64, not an object).
    Invalid {
        /// Vendor path.
        path: String,
        /// Why.
        reason: String,
    },
}

impl std::fmt::Display for JsonError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            JsonError::Unknown(p) => write!(f, "{p}: unknown member"),
            JsonError::WrongType { path, expected } => write!(f, "{path}: expected {expected}"),
            JsonError::Invalid { path, reason } => write!(f, "{path}: {reason}"),
        }
    }
}

/// The vendor's word for a field kind's JSON type.
pub fn type_word(kind: &Kind, list: bool) -> &'static str {
    let scalar = match kind {
        k if super::validate::is_integer(k) => "Integer",
        Kind::Double | Kind::Float => "Float",
        Kind::Bool => "Boolean",
        Kind::Message(_) => "Object",
        _ => "String",
    };
    if !list {
        return scalar;
    }
    match scalar {
        "Integer" => "Array of Integer",
        "Float" => "Array of Float",
        "Boolean" => "Array of Boolean",
        "Object" => "Array of Object",
        _ => "Array of String",
    }
}

fn join(path: &str, name: &str) -> String {
    if path.is_empty() {
        name.to_string()
    } else {
        format!("{path}.{name}")
    }
}

/// Decodes a vendor JSON object into a message of type `desc`, reading each
/// field under its vendor name.
pub fn json_to_message(
    catalog: &Catalog,
    desc: &MessageDescriptor,
    json: &Json,
    mode: Mode,
    path: &str,
) -> Result<DynamicMessage, JsonError> {
    let obj = json.as_object().ok_or_else(|| JsonError::WrongType {
        path: if path.is_empty() {
            desc.name().to_string()
        } else {
            path.to_string()
        },
        expected: "Object",
    })?;
    let mut msg = DynamicMessage::new(desc.clone());
    let Some(spec) = catalog.spec(desc) else {
        return Ok(msg);
    };
    if mode == Mode::Request {
        if let Some(unknown) = obj
            .keys()
            .find(|k| !spec.fields.iter().any(|f| &f.rule.name == *k))
        {
            return Err(JsonError::Unknown(join(path, unknown)));
        }
    }
    for f in &spec.fields {
        let Some(v) = obj.get(&f.rule.name) else {
            continue;
        };
        if v.is_null() {
            continue;
        }
        let at = join(path, &f.rule.name);
        let value = field_value(catalog, &f.field, v, mode, &at)?;
        msg.try_set_field(&f.field, value)
            .map_err(|e| JsonError::Invalid {
                path: at.clone(),
                reason: e.to_string(),
            })?;
    }
    Ok(msg)
}

fn field_value(
    catalog: &Catalog,
    field: &FieldDescriptor,
    v: &Json,
    mode: Mode,
    at: &str,
) -> Result<Value, JsonError> {
    if field.is_map() {
        let Kind::Message(entry) = field.kind() else {
            unreachable!("map fields are entry messages")
        };
        let obj = v.as_object().ok_or(JsonError::WrongType {
            path: at.to_string(),
            expected: "Object",
        })?;
        let key_field = entry.map_entry_key_field();
        let value_field = entry.map_entry_value_field();
        let mut map = std::collections::HashMap::new();
        for (k, item) in obj {
            let key = map_key(&key_field.kind(), k).ok_or_else(|| JsonError::Invalid {
                path: join(at, k),
                reason: "is not a valid map key".into(),
            })?;
            if item.is_null() {
                continue;
            }
            let value = scalar_or_message(catalog, &value_field.kind(), item, mode, &join(at, k))?;
            map.insert(key, value);
        }
        return Ok(Value::Map(map));
    }
    if field.is_list() {
        let items = v.as_array().ok_or(JsonError::WrongType {
            path: at.to_string(),
            expected: type_word(&field.kind(), true),
        })?;
        return Ok(Value::List(
            items
                .iter()
                .enumerate()
                .map(|(i, item)| {
                    scalar_or_message(
                        catalog,
                        &field.kind(),
                        item,
                        mode,
                        &join(at, &i.to_string()),
                    )
                })
                .collect::<Result<_, _>>()?,
        ));
    }
    scalar_or_message(catalog, &field.kind(), v, mode, at)
}

fn map_key(kind: &Kind, k: &str) -> Option<MapKey> {
    Some(match kind {
        Kind::String => MapKey::String(k.to_string()),
        Kind::Bool => MapKey::Bool(k.parse().ok()?),
        Kind::Int32 | Kind::Sint32 | Kind::Sfixed32 => MapKey::I32(k.parse().ok()?),
        Kind::Int64 | Kind::Sint64 | Kind::Sfixed64 => MapKey::I64(k.parse().ok()?),
        Kind::Uint32 | Kind::Fixed32 => MapKey::U32(k.parse().ok()?),
        Kind::Uint64 | Kind::Fixed64 => MapKey::U64(k.parse().ok()?),
        _ => return None,
    })
}

/// One scalar or message value of kind `kind`.
pub fn scalar_or_message(
    catalog: &Catalog,
    kind: &Kind,
    v: &Json,
    mode: Mode,
    at: &str,
) -> Result<Value, JsonError> {
    let wrong = || JsonError::WrongType {
        path: at.to_string(),
        expected: type_word(kind, false),
    };
    let lenient = mode == Mode::Reply;
    let invalid = |reason: String| JsonError::Invalid {
        path: at.to_string(),
        reason,
    };
    // An integer from a JSON number, or (replies) a numeric string.
    let int = || -> Result<i128, JsonError> {
        match v {
            Json::Number(n) => n
                .as_i64()
                .map(i128::from)
                .or_else(|| n.as_u64().map(i128::from))
                .or_else(|| {
                    n.as_f64()
                        .filter(|f| lenient && f.fract() == 0.0 && f.abs() < 9.0e18)
                        .map(|f| f as i128)
                })
                .ok_or_else(|| invalid(format!("{n} is not an integer"))),
            Json::String(s) if lenient => s
                .trim()
                .parse()
                .map_err(|_| invalid(format!("{:?} is not an integer", crate::error::quote(s)))),
            _ => Err(wrong()),
        }
    };
    let range = |n: i128, what: &str| invalid(format!("{n} is out of the {what} range"));
    Ok(match kind {
        Kind::String => match v {
            Json::String(s) => Value::String(s.clone()),
            Json::Number(n) if lenient => Value::String(n.to_string()),
            Json::Bool(b) if lenient => Value::String(b.to_string()),
            _ => return Err(wrong()),
        },
        Kind::Bool => match v {
            Json::Bool(b) => Value::Bool(*b),
            // Vendors document some booleans as 1/0 (e.g. Sddp UseAgentAudit).
            Json::Number(n) if lenient && (n.as_i64() == Some(0) || n.as_i64() == Some(1)) => {
                Value::Bool(n.as_i64() == Some(1))
            }
            Json::String(s) if lenient && matches!(s.as_str(), "true" | "1") => Value::Bool(true),
            Json::String(s) if lenient && matches!(s.as_str(), "false" | "0") => Value::Bool(false),
            _ => return Err(wrong()),
        },
        Kind::Int64 | Kind::Sint64 | Kind::Sfixed64 => {
            let n = int()?;
            Value::I64(i64::try_from(n).map_err(|_| range(n, "64-bit integer"))?)
        }
        Kind::Int32 | Kind::Sint32 | Kind::Sfixed32 => {
            let n = int()?;
            Value::I32(i32::try_from(n).map_err(|_| range(n, "32-bit integer"))?)
        }
        Kind::Uint64 | Kind::Fixed64 => {
            let n = int()?;
            Value::U64(u64::try_from(n).map_err(|_| range(n, "unsigned 64-bit integer"))?)
        }
        Kind::Uint32 | Kind::Fixed32 => {
            let n = int()?;
            Value::U32(u32::try_from(n).map_err(|_| range(n, "unsigned 32-bit integer"))?)
        }
        Kind::Double | Kind::Float => {
            let f = match v {
                Json::Number(n) => n.as_f64().ok_or_else(wrong)?,
                Json::String(s) if lenient => s.trim().parse().map_err(|_| {
                    invalid(format!("{:?} is not a number", crate::error::quote(s)))
                })?,
                _ => return Err(wrong()),
            };
            if *kind == Kind::Float {
                Value::F32(f as f32)
            } else {
                Value::F64(f)
            }
        }
        Kind::Bytes => match v {
            Json::String(s) => Value::Bytes(
                base64::engine::general_purpose::STANDARD
                    .decode(s)
                    .map_err(|_| invalid("is not base64".into()))?
                    .into(),
            ),
            _ => return Err(wrong()),
        },
        Kind::Enum(e) => match v {
            Json::String(s) => Value::EnumNumber(
                e.get_value_by_name(s)
                    .ok_or_else(|| {
                        invalid(format!("{:?} is not a known value", crate::error::quote(s)))
                    })?
                    .number(),
            ),
            Json::Number(n) => Value::EnumNumber(
                n.as_i64()
                    .and_then(|n| i32::try_from(n).ok())
                    .ok_or_else(wrong)?,
            ),
            _ => return Err(wrong()),
        },
        Kind::Message(m) if is_free_json(m) => Value::Message(
            DynamicMessage::deserialize(m.clone(), v).map_err(|e| invalid(e.to_string()))?,
        ),
        Kind::Message(m) => Value::Message(json_to_message(catalog, m, v, mode, at)?),
    })
}
