//! Catalog-driven parameter validation: required fields, allowed values, patterns, integer
//! ranges, lengths, JSON types and unknown members. No per-operation code.

use prost_reflect::Kind;
use serde_json::{Map, Value};

use crate::catalog::{Operation, RequestField, WireEncoding};

use super::rejection::Rejection;
use super::request::Params;

/// Checks the region (when the service requires one) and every request field of `op`.
pub(crate) fn check(
    op: &Operation,
    params: &Params,
    region: Option<&str>,
) -> Result<(), Rejection> {
    match params {
        Params::Json(map) => {
            // Tencent rejects members the action does not have before anything else.
            if let Some(unknown) = map
                .keys()
                .find(|k| !op.fields.iter().any(|f| &f.rule.name == *k))
            {
                return Err(Rejection::UnknownParameter(unknown.clone()));
            }
            check_region(op, region)?;
            op.fields.iter().try_for_each(|f| check_json_field(f, map))
        }
        Params::Query(pairs) => {
            check_region(op, region)?;
            op.fields
                .iter()
                .try_for_each(|f| check_query_field(f, pairs))
        }
    }
}

fn check_region(op: &Operation, region: Option<&str>) -> Result<(), Rejection> {
    if op.service.rule.region_required && region.is_none_or(|r| r.trim().is_empty()) {
        return Err(Rejection::MissingParameter("Region".into()));
    }
    Ok(())
}

fn check_query_field(f: &RequestField, pairs: &[(String, String)]) -> Result<(), Rejection> {
    let name = &f.rule.name;
    if f.rule.encoding() == WireEncoding::QueryFlatList || f.field.is_list() {
        let mut items: Vec<(u64, &str)> = pairs
            .iter()
            .filter_map(|(n, v)| list_index(n, name).map(|i| (i, v.as_str())))
            .collect();
        items.sort_by_key(|(i, _)| *i);
        if items.is_empty() && f.rule.required {
            return Err(Rejection::MissingParameter(name.clone()));
        }
        for (i, value) in items {
            check_text(f, &format!("{name}.{i}"), value)?;
        }
        return Ok(());
    }
    match pairs
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
    {
        None | Some("") if f.rule.required => Err(Rejection::MissingParameter(name.clone())),
        // An empty optional parameter is treated as absent, as the SDKs omit unset ones.
        None | Some("") => Ok(()),
        Some(value) => check_text(f, name, value),
    }
}

/// `n` for `Name.n` (n ≥ 1, decimal).
fn list_index(wire: &str, name: &str) -> Option<u64> {
    let digits = wire.strip_prefix(name)?.strip_prefix('.')?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok().filter(|i| *i >= 1)
}

fn check_json_field(f: &RequestField, map: &Map<String, Value>) -> Result<(), Rejection> {
    let name = &f.rule.name;
    let value = map.get(name).filter(|v| !v.is_null());
    let empty = match value {
        None => true,
        Some(Value::String(s)) => s.is_empty(),
        Some(Value::Array(a)) => a.is_empty(),
        Some(_) => false,
    };
    if empty {
        return if f.rule.required {
            Err(Rejection::MissingParameter(name.clone()))
        } else {
            Ok(())
        };
    }
    let Some(value) = value else { return Ok(()) };
    if f.field.is_list() {
        let Value::Array(items) = value else {
            return Err(Rejection::WrongType {
                name: name.clone(),
                expected: list_type_name(f),
            });
        };
        for (i, item) in items.iter().enumerate() {
            let text = json_scalar(f, &format!("{name}.{i}"), item)?;
            check_text(f, &format!("{name}.{i}"), &text)?;
        }
        return Ok(());
    }
    let text = json_scalar(f, name, value)?;
    check_text(f, name, &text)
}

/// The JSON value as text when its type fits the field's kind.
fn json_scalar(f: &RequestField, name: &str, value: &Value) -> Result<String, Rejection> {
    let text = match (f.field.kind(), value) {
        (Kind::String, Value::String(s)) => Some(s.clone()),
        (Kind::Int32 | Kind::Int64, Value::Number(n)) if n.is_i64() => Some(n.to_string()),
        (Kind::Bool, Value::Bool(b)) => Some(b.to_string()),
        _ => None,
    };
    text.ok_or_else(|| Rejection::WrongType {
        name: name.to_string(),
        expected: type_name(f),
    })
}

fn type_name(f: &RequestField) -> &'static str {
    match f.field.kind() {
        Kind::Int32 | Kind::Int64 => "Integer",
        Kind::Bool => "Boolean",
        _ => "String",
    }
}

fn list_type_name(f: &RequestField) -> &'static str {
    match f.field.kind() {
        Kind::Int32 | Kind::Int64 => "Array of Integer",
        Kind::Bool => "Array of Boolean",
        _ => "Array of String",
    }
}

/// The catalog rules for one value in its wire text form.
fn check_text(f: &RequestField, name: &str, value: &str) -> Result<(), Rejection> {
    let invalid = |reason: String| Rejection::InvalidParameter {
        name: name.to_string(),
        field: f.rule.name.clone(),
        value: value.to_string(),
        reason,
    };
    match f.field.kind() {
        Kind::Int32 | Kind::Int64 => {
            let n: i64 = value
                .parse()
                .map_err(|_| invalid("it must be an integer".into()))?;
            if f.field.kind() == Kind::Int32 && i32::try_from(n).is_err() {
                return Err(invalid("it is out of the 32-bit integer range".into()));
            }
            let (min, max) = (f.rule.min_value, f.rule.max_value);
            if (min != 0 || max != 0) && n < min {
                return Err(invalid(format!("it must be at least {min}")));
            }
            if max != 0 && n > max {
                return Err(invalid(format!("it must be at most {max}")));
            }
        }
        Kind::Bool if value != "true" && value != "false" => {
            return Err(invalid("it must be true or false".into()));
        }
        _ => {}
    }
    let max_len = f.rule.max_length as usize;
    if max_len > 0 && value.chars().count() > max_len {
        return Err(invalid(format!("it is longer than {max_len} characters")));
    }
    if !f.rule.allowed_values.is_empty() && !f.rule.allowed_values.iter().any(|a| a == value) {
        return Err(invalid(format!(
            "it must be one of {}",
            f.rule.allowed_values.join(", ")
        )));
    }
    if let Some(pattern) = &f.pattern {
        if !pattern.is_match(value) {
            let what = if f.rule.pattern_description.is_empty() {
                format!("match {}", f.rule.pattern)
            } else {
                format!("be {}", f.rule.pattern_description)
            };
            return Err(invalid(format!("it must {what}")));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::{Catalog, Vendor};
    use serde_json::json;

    fn q(pairs: &[(&str, &str)]) -> Params {
        Params::Query(
            pairs
                .iter()
                .map(|(n, v)| (n.to_string(), v.to_string()))
                .collect(),
        )
    }

    fn j(v: Value) -> Params {
        match v {
            Value::Object(m) => Params::Json(m),
            _ => unreachable!(),
        }
    }

    fn code(r: Result<(), Rejection>) -> String {
        match r {
            Ok(()) => "ok".into(),
            Err(Rejection::MissingParameter(n)) => format!("missing {n}"),
            Err(Rejection::InvalidParameter { name, .. }) => format!("invalid {name}"),
            Err(Rejection::UnknownParameter(n)) => format!("unknown {n}"),
            Err(Rejection::WrongType { name, .. }) => format!("type {name}"),
            Err(other) => format!("{other:?}"),
        }
    }

    #[test]
    fn alibaba_required_allowed_and_pattern() {
        let c = Catalog::load().unwrap();
        let op = c
            .by_action(Vendor::Alibaba, "SetResellerUserStatus")
            .unwrap();
        let good = [
            ("OwnerId", "123"),
            ("Status", "Freeze"),
            ("BusinessType", "FREEZE"),
        ];
        assert_eq!(code(check(op, &q(&good), None)), "ok");
        assert_eq!(code(check(op, &q(&good[1..]), None)), "missing OwnerId");
        assert_eq!(
            code(check(op, &q(&[("OwnerId", ""), good[1], good[2]]), None)),
            "missing OwnerId"
        );
        assert_eq!(
            code(check(op, &q(&[("OwnerId", "12a"), good[1], good[2]]), None)),
            "invalid OwnerId"
        );
        assert_eq!(
            code(check(
                op,
                &q(&[good[0], ("Status", "Frozen"), good[2]]),
                None
            )),
            "invalid Status"
        );
        let mut with_stop = good.to_vec();
        with_stop.push(("StopMode", "2"));
        assert_eq!(code(check(op, &q(&with_stop), None)), "invalid StopMode");
        with_stop.pop();
        with_stop.push(("Unrelated", "x"));
        assert_eq!(
            code(check(op, &q(&with_stop), None)),
            "ok",
            "Alibaba ignores extras"
        );
    }

    #[test]
    fn alibaba_flat_lists_integers_and_lengths() {
        let c = Catalog::load().unwrap();
        let op = c
            .by_action(Vendor::Alibaba, "ModifyAccountRelation")
            .unwrap();
        let base = [
            ("RelationOperation", "ADD"),
            ("ChildNick", "n"),
            ("RequestId", "r"),
        ];
        let with = |extra: &[(&str, &str)]| {
            let mut v = base.to_vec();
            v.extend_from_slice(extra);
            code(check(op, &q(&v), None))
        };
        assert_eq!(with(&[]), "ok");
        assert_eq!(
            with(&[
                ("PermissionCodes.1", "FORBID_WITHDRAW_CASH"),
                ("PermissionCodes.10", "CHECK_FINANCE_INFO")
            ]),
            "ok"
        );
        assert_eq!(
            with(&[("PermissionCodes.2", "NOPE")]),
            "invalid PermissionCodes.2"
        );
        assert_eq!(with(&[("RoleCodes.1", "bad code")]), "invalid RoleCodes.1");
        assert_eq!(with(&[("ParentUserId", "0")]), "invalid ParentUserId");
        assert_eq!(with(&[("ParentUserId", "x")]), "invalid ParentUserId");
        assert_eq!(
            with(&[("ParentUserId", "99999999999999999999999")]),
            "invalid ParentUserId"
        );
        assert_eq!(with(&[("ChildUserId", "1512996702208737")]), "ok");
        let long = "x".repeat(129);
        assert_eq!(
            code(check(
                op,
                &q(&[
                    ("RelationOperation", "ADD"),
                    ("ChildNick", "n"),
                    ("RequestId", &long)
                ]),
                None
            )),
            "invalid RequestId"
        );
        assert_eq!(list_index("RoleCodes.3", "RoleCodes"), Some(3));
        assert_eq!(list_index("RoleCodes.0", "RoleCodes"), None);
        assert_eq!(list_index("RoleCodes.x", "RoleCodes"), None);
        assert_eq!(list_index("RoleCodesX.1", "RoleCodes"), None);
        assert_eq!(list_index("RoleCodes.", "RoleCodes"), None);
    }

    #[test]
    fn tencent_json_members_types_unknowns_and_region() {
        let c = Catalog::load().unwrap();
        let op = c.by_action(Vendor::Tencent, "ModifyUserType").unwrap();
        let r = Some("ap-guangzhou");
        assert_eq!(
            code(check(
                op,
                &j(json!({"UserId": "100", "UserType": "ADMIN"})),
                r
            )),
            "ok"
        );
        assert_eq!(
            code(check(
                op,
                &j(json!({"UserId": "100", "UserType": "ADMIN"})),
                None
            )),
            "missing Region"
        );
        assert_eq!(
            code(check(op, &j(json!({"UserType": "ADMIN"})), r)),
            "missing UserId"
        );
        assert_eq!(
            code(check(
                op,
                &j(json!({"UserId": "100", "UserType": "ROOT"})),
                r
            )),
            "invalid UserType"
        );
        assert_eq!(
            code(check(
                op,
                &j(json!({"UserId": 100, "UserType": "ADMIN"})),
                r
            )),
            "type UserId"
        );
        assert_eq!(
            code(check(
                op,
                &j(json!({"UserId": "100", "UserType": "ADMIN", "Extra": 1})),
                r
            )),
            "unknown Extra"
        );
        assert_eq!(
            code(check(
                op,
                &j(json!({"UserId": "100", "UserType": "ADMIN", "AccountType": null})),
                r
            )),
            "ok"
        );
    }
}
