//! Generic translation between proto messages and vendor parameters, driven
//! by the catalog: local validation and wire encoding of requests, and
//! decoding of vendor JSON replies into response messages.

use prost_reflect::{
    DynamicMessage, FieldDescriptor, Kind, MessageDescriptor, ReflectMessage, Value,
};
use serde_json::{Map, Value as Json};

use crate::catalog::{Catalog, Operation, RequestField, WireEncoding};
use crate::error::FieldViolation;

/// Request parameters in the vendor's wire form.
#[derive(Debug, Clone, PartialEq)]
pub enum WireParams {
    /// Alibaba: query parameters (wire names, string values, lists flattened).
    Query(Vec<(String, String)>),
    /// Tencent: the JSON body object.
    Json(Map<String, Json>),
}

fn scalar_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::I64(n) => Some(n.to_string()),
        Value::I32(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn scalar_json(v: &Value) -> Option<Json> {
    match v {
        Value::String(s) => Some(Json::String(s.clone())),
        Value::I64(n) => Some(Json::from(*n)),
        Value::I32(n) => Some(Json::from(*n)),
        Value::Bool(b) => Some(Json::Bool(*b)),
        _ => None,
    }
}

fn check_value(f: &RequestField, field_path: &str, v: &Value, out: &mut Vec<FieldViolation>) {
    let rule = &f.rule;
    let text = scalar_text(v).unwrap_or_default();
    if let Value::String(s) = v {
        if s.is_empty() {
            out.push(FieldViolation::new(field_path, "must not be empty"));
            return;
        }
        if s.chars().any(char::is_control) {
            out.push(FieldViolation::new(
                field_path,
                "must not contain control characters",
            ));
            return;
        }
        if rule.max_length > 0 && s.chars().count() > rule.max_length as usize {
            out.push(FieldViolation::new(
                field_path,
                format!("is longer than {} characters", rule.max_length),
            ));
            return;
        }
    }
    if !rule.allowed_values.is_empty() && !rule.allowed_values.contains(&text) {
        out.push(FieldViolation::new(
            field_path,
            format!("{text:?} is not one of {}", rule.allowed_values.join(", ")),
        ));
        return;
    }
    if let Some(re) = &f.pattern {
        if !re.is_match(&text) {
            let what = if rule.pattern_description.is_empty() {
                format!("the pattern {}", rule.pattern)
            } else {
                rule.pattern_description.clone()
            };
            out.push(FieldViolation::new(
                field_path,
                format!("{text:?} is not {what}"),
            ));
            return;
        }
    }
    if rule.min_value != 0 || rule.max_value != 0 {
        let n = match v {
            Value::I64(n) => Some(*n),
            Value::I32(n) => Some(i64::from(*n)),
            _ => None,
        };
        if let Some(n) = n {
            if n < rule.min_value {
                out.push(FieldViolation::new(
                    field_path,
                    format!("must be at least {}", rule.min_value),
                ));
            } else if rule.max_value != 0 && n > rule.max_value {
                out.push(FieldViolation::new(
                    field_path,
                    format!("must be at most {}", rule.max_value),
                ));
            }
        }
    }
}

/// Validates a request against the catalog and encodes it for the vendor.
/// Every violation is reported (not just the first), by proto field name.
pub fn encode_request(
    op: &Operation,
    msg: &DynamicMessage,
) -> Result<WireParams, Vec<FieldViolation>> {
    let mut violations = Vec::new();
    let mut query = Vec::new();
    let mut body = Map::new();
    for f in &op.fields {
        let name = f.proto_name();
        let present = if f.field.is_list() {
            msg.get_field(&f.field)
                .as_list()
                .is_some_and(|l| !l.is_empty())
        } else if f.field.supports_presence() {
            msg.has_field(&f.field)
        } else {
            // Implicit presence: the proto default (empty string, 0) means "not set".
            msg.has_field(&f.field)
        };
        if !present {
            if f.rule.required {
                violations.push(FieldViolation::new(name, "is required"));
            }
            continue;
        }
        let value = msg.get_field(&f.field);
        if let Some(items) = value.as_list() {
            for (i, item) in items.iter().enumerate() {
                check_value(f, &format!("{name}[{i}]"), item, &mut violations);
            }
        } else {
            check_value(f, name, &value, &mut violations);
        }
        if !violations.is_empty() {
            continue;
        }
        let wire = &f.rule.name;
        match f.rule.encoding() {
            WireEncoding::QueryFlatList => {
                for (i, item) in value.as_list().unwrap_or_default().iter().enumerate() {
                    query.push((
                        format!("{wire}.{}", i + 1),
                        scalar_text(item).unwrap_or_default(),
                    ));
                }
            }
            WireEncoding::Query
            | WireEncoding::Unspecified
            | WireEncoding::QueryJson
            | WireEncoding::QuerySimple => {
                query.push((wire.clone(), scalar_text(&value).unwrap_or_default()));
            }
            WireEncoding::JsonBody => {
                let json = match value.as_list() {
                    Some(items) => Json::Array(items.iter().filter_map(scalar_json).collect()),
                    None => scalar_json(&value).unwrap_or(Json::Null),
                };
                body.insert(wire.clone(), json);
            }
        }
    }
    if !violations.is_empty() {
        return Err(violations);
    }
    if op
        .fields
        .iter()
        .any(|f| f.rule.encoding() == WireEncoding::JsonBody)
    {
        Ok(WireParams::Json(body))
    } else {
        Ok(WireParams::Query(query))
    }
}

/// Converts any generated request message into a dynamic one of the catalog's pool.
pub fn to_dynamic<M: prost::Message>(op: &Operation, msg: &M) -> Result<DynamicMessage, String> {
    let bytes = msg.encode_to_vec();
    DynamicMessage::decode(op.input.clone(), bytes.as_slice()).map_err(|e| e.to_string())
}

/// Decodes a vendor JSON object into a message of type `desc`, reading each
/// field under its vendor name. Missing members keep their defaults; members
/// of the wrong type are an error (never a panic).
pub fn decode_response(
    catalog: &Catalog,
    desc: &MessageDescriptor,
    json: &Json,
) -> Result<DynamicMessage, String> {
    let obj = json
        .as_object()
        .ok_or_else(|| format!("{} is not a JSON object", desc.name()))?;
    let mut msg = DynamicMessage::new(desc.clone());
    for field in desc.fields() {
        let key = catalog.vendor_name(&field);
        let Some(v) = obj.get(key) else { continue };
        if v.is_null() {
            continue;
        }
        let value = if field.is_list() {
            let items = v
                .as_array()
                .ok_or_else(|| format!("{key}: expected a list"))?;
            Value::List(
                items
                    .iter()
                    .map(|i| json_to_value(catalog, &field, key, i))
                    .collect::<Result<_, _>>()?,
            )
        } else {
            json_to_value(catalog, &field, key, v)?
        };
        msg.try_set_field(&field, value)
            .map_err(|e| format!("{key}: {e}"))?;
    }
    Ok(msg)
}

fn json_to_value(
    catalog: &Catalog,
    field: &FieldDescriptor,
    key: &str,
    v: &Json,
) -> Result<Value, String> {
    let int = || -> Result<i64, String> {
        match v {
            Json::Number(n) => n
                .as_i64()
                .or_else(|| {
                    n.as_f64()
                        .filter(|f| f.fract() == 0.0 && f.abs() < 9.0e18)
                        .map(|f| f as i64)
                })
                .ok_or_else(|| format!("{key}: {n} is not an integer")),
            Json::String(s) => s
                .trim()
                .parse()
                .map_err(|_| format!("{key}: {s:?} is not an integer")),
            other => Err(format!("{key}: expected an integer, got {other}")),
        }
    };
    Ok(match field.kind() {
        Kind::String => match v {
            Json::String(s) => Value::String(s.clone()),
            Json::Number(n) => Value::String(n.to_string()),
            Json::Bool(b) => Value::String(b.to_string()),
            other => return Err(format!("{key}: expected a string, got {other}")),
        },
        Kind::Bool => match v {
            Json::Bool(b) => Value::Bool(*b),
            // The vendor documents some booleans as 1/0 (e.g. Sddp UseAgentAudit).
            Json::Number(n) if n.as_i64() == Some(0) || n.as_i64() == Some(1) => {
                Value::Bool(n.as_i64() == Some(1))
            }
            Json::String(s) if matches!(s.as_str(), "true" | "1") => Value::Bool(true),
            Json::String(s) if matches!(s.as_str(), "false" | "0") => Value::Bool(false),
            other => return Err(format!("{key}: expected a boolean, got {other}")),
        },
        Kind::Int64 => Value::I64(int()?),
        Kind::Int32 => {
            Value::I32(i32::try_from(int()?).map_err(|_| format!("{key}: out of 32-bit range"))?)
        }
        Kind::Message(m) => {
            Value::Message(decode_response(catalog, &m, v).map_err(|e| format!("{key}.{e}"))?)
        }
        other => return Err(format!("{key}: unsupported field kind {other:?}")),
    })
}

/// Converts a decoded dynamic response into the generated message type.
pub fn from_dynamic<M: prost::Message + Default>(msg: &DynamicMessage) -> Result<M, String> {
    M::decode(prost::Message::encode_to_vec(msg).as_slice()).map_err(|e| e.to_string())
}

/// The full name of a dynamic message's type (for logs).
pub fn type_name(msg: &DynamicMessage) -> String {
    msg.descriptor().full_name().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::Vendor;
    use crate::pb::aliyun::bssopenapi::v20171214 as bss;
    use crate::pb::aliyun::sddp::v20190103 as sddp;
    use crate::pb::tencentcloud::dlc::v20210125 as dlc;

    fn catalog() -> Catalog {
        Catalog::load().unwrap()
    }

    #[test]
    fn flattens_lists_like_the_sdk_and_skips_unset_optionals() {
        let c = catalog();
        let op = c
            .by_action(Vendor::Alibaba, "ModifyAccountRelation")
            .unwrap();
        let req = bss::ModifyAccountRelationRequest {
            relation_operation: "ADD".into(),
            child_nick: "member one".into(),
            request_id: "req-1".into(),
            child_user_id: Some(1512996702208737),
            role_codes: vec!["trusteeship".into()],
            permission_codes: vec!["CHECK_FINANCE_INFO".into(), "FORBID_WITHDRAW_CASH".into()],
            ..Default::default()
        };
        let wire = encode_request(op, &to_dynamic(op, &req).unwrap()).unwrap();
        let WireParams::Query(q) = wire else {
            panic!("query expected")
        };
        let names: Vec<_> = q.iter().map(|(k, v)| format!("{k}={v}")).collect();
        assert_eq!(
            names,
            [
                "RelationOperation=ADD",
                "ChildNick=member one",
                "ChildUserId=1512996702208737",
                "RequestId=req-1",
                "RoleCodes.1=trusteeship",
                "PermissionCodes.1=CHECK_FINANCE_INFO",
                "PermissionCodes.2=FORBID_WITHDRAW_CASH",
            ]
        );
    }

    #[test]
    fn reports_every_violation_by_proto_name() {
        let c = catalog();
        let op = c
            .by_action(Vendor::Alibaba, "SetResellerUserStatus")
            .unwrap();
        let req = bss::SetResellerUserStatusRequest {
            owner_id: "12x".into(),
            status: "Frozen".into(),
            business_type: String::new(),
            stop_mode: Some("2".into()),
        };
        let v = encode_request(op, &to_dynamic(op, &req).unwrap()).unwrap_err();
        let fields: Vec<_> = v.iter().map(|v| v.field.as_str()).collect();
        assert_eq!(fields, ["owner_id", "status", "business_type", "stop_mode"]);
        assert!(v[0].description.contains("digits"));
        assert!(v[1]
            .description
            .contains("Freeze, Thaw, Trusteeship, TrusteeshipCancel"));
        assert_eq!(v[2].description, "is required");
    }

    #[test]
    fn list_elements_and_integer_ranges_are_checked() {
        let c = catalog();
        let op = c
            .by_action(Vendor::Alibaba, "ModifyAccountRelation")
            .unwrap();
        let req = bss::ModifyAccountRelationRequest {
            relation_operation: "ADD".into(),
            child_nick: "n".into(),
            request_id: "r".into(),
            parent_user_id: Some(0),
            permission_codes: vec!["CHECK_FINANCE_INFO".into(), "STEAL".into()],
            ..Default::default()
        };
        let v = encode_request(op, &to_dynamic(op, &req).unwrap()).unwrap_err();
        let fields: Vec<_> = v.iter().map(|v| v.field.as_str()).collect();
        assert_eq!(fields, ["parent_user_id", "permission_codes[1]"]);
    }

    #[test]
    fn tencent_params_become_a_json_body() {
        let c = catalog();
        let op = c.by_action(Vendor::Tencent, "ModifyUserType").unwrap();
        let req = dlc::ModifyUserTypeRequest {
            user_id: "100021240181".into(),
            user_type: "ADMIN".into(),
            account_type: Some("TencentAccount".into()),
        };
        let WireParams::Json(body) = encode_request(op, &to_dynamic(op, &req).unwrap()).unwrap()
        else {
            panic!("json expected")
        };
        assert_eq!(
            Json::Object(body).to_string(),
            r#"{"AccountType":"TencentAccount","UserId":"100021240181","UserType":"ADMIN"}"#
        );
    }

    #[test]
    fn decodes_the_documented_sample_with_every_field() {
        let c = catalog();
        let op = c.by_action(Vendor::Alibaba, "DescribeUserStatus").unwrap();
        let json: Json = serde_json::from_str(&op.rule.sample_response).unwrap();
        let msg = decode_response(&c, &op.output, &json).unwrap();
        let resp: sddp::DescribeUserStatusResponse = from_dynamic(&msg).unwrap();
        assert_eq!(resp.request_id, "769FB3C1-F4C9-42DF-9B72-7077A8989C13");
        let s = resp.user_status.unwrap();
        assert_eq!(s.use_oss_size, 234);
        assert_eq!(s.use_instance_num, 125);
        assert_eq!(s.instance_num, 32);
        assert_eq!(s.charge_type, "PREPAY");
        assert!(
            s.authed
                && s.trail
                && s.purchased
                && s.audit_closable
                && s.audit_releasable
                && s.use_agent_audit
        );
        assert!(!s.asset_role_authed);
        assert_eq!((s.lab_status, s.data_manager_role), (1, 1));
        assert_eq!(
            (s.remain_days, s.release_days, s.protection_days),
            (131, 15, 22)
        );
        assert_eq!(
            (s.release_time, s.instance_total_count, s.oss_total_size),
            (15000, 10, 2048)
        );
        assert_eq!(
            (s.instance_id.as_str(), s.access_key_id.as_str()),
            ("sddp-cn-****", "yourAccessKeyID")
        );
    }

    #[test]
    fn lenient_where_the_vendor_is_inconsistent_strict_on_nonsense() {
        let c = catalog();
        let op = c.by_action(Vendor::Alibaba, "DescribeUserStatus").unwrap();
        let ok: Json = serde_json::json!({"RequestId": "r", "UserStatus": {"UseAgentAudit": 1, "UseOssSize": "99"}});
        let resp: sddp::DescribeUserStatusResponse =
            from_dynamic(&decode_response(&c, &op.output, &ok).unwrap()).unwrap();
        let s = resp.user_status.unwrap();
        assert!(s.use_agent_audit);
        assert_eq!(s.use_oss_size, 99);
        for bad in [
            serde_json::json!({"UserStatus": "nope"}),
            serde_json::json!({"UserStatus": {"LabStatus": 99999999999i64}}),
            serde_json::json!({"UserStatus": {"Authed": "maybe"}}),
            serde_json::json!([1, 2]),
        ] {
            assert!(decode_response(&c, &op.output, &bad).is_err(), "{bad}");
        }
    }
}
