//! The one validator of request messages, used by the gateway before any
//! vendor call and by the emulator on what it received: required fields,
//! allowed values, patterns, integer ranges and lengths, at every depth,
//! each violation named by its field path (`data_disk[1].size`).

use prost_reflect::{DynamicMessage, Kind, MapKey, ReflectMessage, Value};

use crate::catalog::{Catalog, RequestField};

/// One broken rule.
#[derive(Debug, Clone, PartialEq)]
pub struct Violation {
    /// Proto path: `data_disk[1].size`, `tags["env"]`.
    pub path: String,
    /// Vendor path as the wire names it: `DataDisk.2.Size` (1-based).
    pub vendor_path: String,
    /// The vendor name of the field, without indexes.
    pub vendor_field: String,
    /// The value as text (empty when missing).
    pub value: String,
    /// A required field is missing (else: a present value is invalid).
    pub missing: bool,
    /// Why, in words that follow the path ("is required", "must be at most 10").
    pub description: String,
}

/// Control characters other than tab, line feed and carriage return are
/// refused in strings (multi-line descriptions and policy documents are fine).
fn bad_control(s: &str) -> bool {
    s.chars()
        .any(|c| c.is_control() && !matches!(c, '\t' | '\n' | '\r'))
}

/// A float as the SDKs write it: `2.0` for a whole number (Java's
/// `String.valueOf`, Python's `str`), else the shortest exact form.
pub fn float_text(n: f64) -> String {
    if n.is_finite() && n.fract() == 0.0 && n.abs() < 1e16 {
        format!("{n:.1}")
    } else {
        n.to_string()
    }
}

/// The text of a scalar value, as the wire carries it.
pub fn scalar_text(v: &Value) -> Option<String> {
    use base64::Engine;
    Some(match v {
        Value::String(s) => s.clone(),
        Value::I64(n) => n.to_string(),
        Value::I32(n) => n.to_string(),
        Value::U64(n) => n.to_string(),
        Value::U32(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        Value::F64(n) => float_text(*n),
        Value::F32(n) => float_text(f64::from(*n)),
        Value::Bytes(b) => base64::engine::general_purpose::STANDARD.encode(b),
        Value::EnumNumber(n) => n.to_string(),
        _ => return None,
    })
}

struct Walk<'a> {
    catalog: &'a Catalog,
    out: Vec<Violation>,
}

/// Where a value sits: its parent's paths, its field, and its list index or
/// map key. The path strings are built only for a violation or a nested
/// message, never for a valid scalar.
struct At<'a> {
    parent: &'a str,
    vendor_parent: &'a str,
    field: &'a RequestField,
    item: Item,
}

enum Item {
    Whole,
    Index(usize),
    Key(String),
}

impl At<'_> {
    fn path(&self) -> String {
        let name = self.field.proto_name();
        match &self.item {
            Item::Whole => format!("{}{name}", self.parent),
            Item::Index(i) => format!("{}{name}[{i}]", self.parent),
            Item::Key(k) => format!("{}{name}[{k:?}]", self.parent),
        }
    }

    fn vendor_path(&self) -> String {
        let name = &self.field.rule.name;
        match &self.item {
            Item::Whole => format!("{}{name}", self.vendor_parent),
            Item::Index(i) => format!("{}{name}.{}", self.vendor_parent, i + 1),
            Item::Key(k) => format!("{}{name}.{k}", self.vendor_parent),
        }
    }
}

/// A message that sets nothing puts nothing on the wire: for a required
/// field that is as good as missing.
fn carries(v: &Value) -> bool {
    match v {
        Value::Message(m) => m.fields().next().is_some(),
        _ => true,
    }
}

impl Walk<'_> {
    fn push(&mut self, at: &At<'_>, value: String, missing: bool, description: String) {
        self.out.push(Violation {
            path: at.path(),
            vendor_path: at.vendor_path(),
            vendor_field: at.field.rule.name.clone(),
            value,
            missing,
            description,
        });
    }

    fn message(&mut self, msg: &DynamicMessage, path: &str, vendor_path: &str) {
        let Some(spec) = self.catalog.spec(&msg.descriptor()) else {
            return;
        };
        let spec = spec.clone();
        for f in &spec.fields {
            let at = |item| At {
                parent: path,
                vendor_parent: vendor_path,
                field: f,
                item,
            };
            let value = super::set_value(msg, &f.field);
            let present = match value.as_deref() {
                None => false,
                Some(Value::List(l)) => l.iter().any(carries),
                Some(v) => carries(v),
            };
            if !present {
                if f.rule.required {
                    self.push(&at(Item::Whole), String::new(), true, "is required".into());
                }
                continue;
            }
            match value.as_deref() {
                Some(Value::List(items)) => {
                    for (i, item) in items.iter().enumerate() {
                        self.value(&at(Item::Index(i)), item);
                    }
                }
                Some(Value::Map(entries)) => {
                    let mut keys: Vec<&MapKey> = entries.keys().collect();
                    keys.sort();
                    for k in keys {
                        self.value(&at(Item::Key(map_key_text(k))), &entries[k]);
                    }
                }
                Some(other) => self.value(&at(Item::Whole), other),
                None => {}
            }
        }
    }

    fn value(&mut self, at: &At<'_>, v: &Value) {
        let rule = &at.field.rule;
        if let Value::Message(m) = v {
            if !crate::catalog::is_free_json(&m.descriptor()) {
                self.message(
                    m,
                    &format!("{}.", at.path()),
                    &format!("{}.", at.vendor_path()),
                );
            }
            return;
        }
        let text = scalar_text(v).unwrap_or_default();
        if let Value::String(s) = v {
            if s.is_empty() {
                self.push(at, text, false, "must not be empty".into());
                return;
            }
            if bad_control(s) {
                self.push(
                    at,
                    text,
                    false,
                    "must not contain control characters".into(),
                );
                return;
            }
            let chars = s.chars().count();
            if rule.max_length > 0 && chars > rule.max_length as usize {
                self.push(
                    at,
                    text,
                    false,
                    format!("is longer than {} characters", rule.max_length),
                );
                return;
            }
            if rule.min_length > 0 && chars < rule.min_length as usize {
                self.push(
                    at,
                    text,
                    false,
                    format!("is shorter than {} characters", rule.min_length),
                );
                return;
            }
        }
        if !rule.allowed_values.is_empty() && !rule.allowed_values.contains(&text) {
            let d = format!(
                "{:?} is not one of {}",
                crate::error::quote(&text),
                rule.allowed_values.join(", ")
            );
            self.push(at, text, false, d);
            return;
        }
        if let Some(re) = &at.field.pattern {
            if !re.is_match(&text) {
                let what = if rule.pattern_description.is_empty() {
                    format!("the pattern {}", rule.pattern)
                } else {
                    rule.pattern_description.clone()
                };
                let d = format!("{:?} is not {what}", crate::error::quote(&text));
                self.push(at, text, false, d);
                return;
            }
        }
        if rule.min_value != 0 || rule.max_value != 0 {
            let n: Option<i128> = match v {
                Value::I64(n) => Some((*n).into()),
                Value::I32(n) => Some((*n).into()),
                Value::U64(n) => Some((*n).into()),
                Value::U32(n) => Some((*n).into()),
                _ => None,
            };
            if let Some(n) = n {
                if n < i128::from(rule.min_value) {
                    let d = format!("must be at least {}", rule.min_value);
                    self.push(at, text, false, d);
                } else if rule.max_value != 0 && n > i128::from(rule.max_value) {
                    let d = format!("must be at most {}", rule.max_value);
                    self.push(at, text, false, d);
                }
            }
        }
    }
}

/// The text of a map key.
pub fn map_key_text(k: &MapKey) -> String {
    match k {
        MapKey::String(s) => s.clone(),
        MapKey::Bool(b) => b.to_string(),
        MapKey::I32(n) => n.to_string(),
        MapKey::I64(n) => n.to_string(),
        MapKey::U32(n) => n.to_string(),
        MapKey::U64(n) => n.to_string(),
    }
}

/// Every rule `msg` breaks, at any depth (empty: valid).
pub fn validate(catalog: &Catalog, msg: &DynamicMessage) -> Vec<Violation> {
    let mut walk = Walk {
        catalog,
        out: Vec::new(),
    };
    walk.message(msg, "", "");
    walk.out
}

/// Whether a field kind is a number the vendors send as an integer.
pub fn is_integer(kind: &Kind) -> bool {
    matches!(
        kind,
        Kind::Int32
            | Kind::Int64
            | Kind::Uint32
            | Kind::Uint64
            | Kind::Sint32
            | Kind::Sint64
            | Kind::Fixed32
            | Kind::Fixed64
            | Kind::Sfixed32
            | Kind::Sfixed64
    )
}
