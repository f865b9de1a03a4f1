//! The request parameters of an audit line: every field the caller set,
//! under its proto name, with secrets replaced by `"<redacted>"` and long
//! strings cut short.

use prost_reflect::{DynamicMessage, ReflectMessage, Value};
use serde_json::{Map, Value as Json};

use crate::catalog::{Catalog, Operation, RequestField};

/// What a redacted value is written as.
pub const REDACTED: &str = "<redacted>";

/// Name fragments that mark a field as a secret even without `sensitive`.
const SECRET_WORDS: &[&str] = &[
    "secret",
    "password",
    "passwd",
    "token",
    "accesskey",
    "credential",
    "signature",
    "privatekey",
];

/// Whether a field's value must not be written.
pub fn is_sensitive(field: &RequestField) -> bool {
    let squash = |s: &str| s.replace(['_', '-'], "").to_ascii_lowercase();
    let names = [squash(field.proto_name()), squash(&field.rule.name)];
    field.rule.sensitive
        || names
            .iter()
            .any(|n| SECRET_WORDS.iter().any(|w| n.contains(w)))
}

/// A string as the audit line keeps it: cut like every caller-supplied value
/// the gateway quotes ([`crate::error::quote`]).
fn text(s: &str) -> Json {
    Json::String(crate::error::quote(s).into_owned())
}

fn json(catalog: &Catalog, value: &Value) -> Json {
    match value {
        Value::Bool(b) => Json::Bool(*b),
        Value::I32(n) => (*n).into(),
        Value::I64(n) => (*n).into(),
        Value::U32(n) => (*n).into(),
        Value::U64(n) => (*n).into(),
        Value::F32(n) => f64::from(*n).into(),
        Value::F64(n) => (*n).into(),
        Value::String(s) => text(s),
        Value::Bytes(b) => Json::String(format!("<{} bytes>", b.len())),
        Value::EnumNumber(n) => (*n).into(),
        Value::List(items) => Json::Array(items.iter().map(|i| json(catalog, i)).collect()),
        Value::Message(m) => match catalog.spec(&m.descriptor()) {
            Some(spec) => fields(catalog, &spec.fields, m),
            None => Json::String(format!("<{}>", m.descriptor().full_name())),
        },
        Value::Map(m) => {
            let mut entries: Vec<(String, Json)> = m
                .iter()
                .map(|(k, v)| {
                    (
                        crate::translate::validate::map_key_text(k),
                        json(catalog, v),
                    )
                })
                .collect();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            Json::Object(entries.into_iter().collect())
        }
    }
}

fn fields(catalog: &Catalog, specs: &[RequestField], msg: &DynamicMessage) -> Json {
    let mut out = Map::new();
    for f in specs {
        let Some(value) = crate::translate::set_value(msg, &f.field) else {
            continue;
        };
        let value = if is_sensitive(f) {
            Json::String(REDACTED.into())
        } else {
            json(catalog, &value)
        };
        out.insert(f.proto_name().to_string(), value);
    }
    Json::Object(out)
}

/// The parameters the caller set, at every depth, redacted.
pub fn audit_params(catalog: &Catalog, op: &Operation, request: &DynamicMessage) -> Json {
    fields(catalog, op.fields(), request)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn op(catalog: &Catalog, path: &str) -> Operation {
        catalog.operation(path).unwrap().as_ref().clone()
    }

    fn request(op: &Operation, set: &[(&str, Value)]) -> DynamicMessage {
        let mut m = DynamicMessage::new(op.input());
        for (name, v) in set {
            m.set_field_by_name(name, v.clone());
        }
        m
    }

    #[test]
    fn set_fields_are_written_under_proto_names_unset_ones_left_out() {
        let catalog = Catalog::load().unwrap();
        let op = op(
            &catalog,
            "/aliyun.bssopenapi.v20171214.BssOpenApi/ModifyAccountRelation",
        );
        let m = request(
            &op,
            &[
                ("relation_operation", Value::String("Modify".into())),
                ("parent_user_id", Value::I64(1234)),
                (
                    "role_codes",
                    Value::List(vec![Value::String("a".into()), Value::String("b".into())]),
                ),
            ],
        );
        let p = audit_params(&catalog, &op, &m);
        assert_eq!(
            p,
            serde_json::json!({
                "relation_operation": "Modify",
                "parent_user_id": 1234,
                "role_codes": ["a", "b"],
            })
        );
    }

    #[test]
    fn sensitive_fields_are_redacted_by_flag_or_by_name() {
        let catalog = Catalog::load().unwrap();
        let op = op(
            &catalog,
            "/aliyun.cloudsso.v20210515.CloudSSO/UpdateUserStatus",
        );
        let mut specs = op.fields().to_vec();
        let user = specs
            .iter()
            .position(|f| f.proto_name() == "user_id")
            .unwrap();
        specs[user].rule.sensitive = true;
        let dir = specs
            .iter()
            .position(|f| f.proto_name() == "directory_id")
            .unwrap();
        specs[dir].rule.name = "DirectorySecretToken".into();
        let m = request(
            &op,
            &[
                ("user_id", Value::String("u-00q8wbq42wiltcrk****".into())),
                ("directory_id", Value::String("d-00fc2p61****".into())),
                ("new_status", Value::String("Disabled".into())),
            ],
        );
        let p = fields(&catalog, &specs, &m).to_string();
        assert!(!p.contains("u-00q8"), "{p}");
        assert!(!p.contains("d-00fc"), "{p}");
        assert!(p.contains("\"new_status\":\"Disabled\""), "{p}");
        assert_eq!(p.matches(REDACTED).count(), 2, "{p}");
    }

    #[test]
    fn long_strings_are_cut_on_a_character_boundary() {
        let long = "é".repeat(crate::error::MAX_QUOTED_CHARS + 10);
        let Json::String(s) = text(&long) else {
            panic!()
        };
        assert!(s.starts_with(&"é".repeat(crate::error::MAX_QUOTED_CHARS)));
        assert!(
            s.ends_with(&format!("…({} chars)", crate::error::MAX_QUOTED_CHARS + 10)),
            "{s}"
        );
    }
}
