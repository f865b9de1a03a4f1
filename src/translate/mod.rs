//! Generic translation between proto messages and vendor parameters, driven
//! by the catalog at every depth: the one validator, the wire encodings of
//! both vendors (and their inverses, for the emulator), reply decoding, and
//! replies synthesized from a message type.

pub mod json;
pub mod query;
mod synth;
pub mod validate;

use prost_reflect::{DynamicMessage, MessageDescriptor};
use serde_json::{Map, Value as Json};

use crate::catalog::{Catalog, Operation, Vendor};
use crate::error::FieldViolation;

pub use query::QueryParams;
pub use synth::{example_request, synthesize};
pub use validate::{validate, Violation};

/// Request parameters in the vendor's wire form.
#[derive(Debug, Clone, PartialEq)]
pub enum WireParams {
    /// Alibaba: query (and form-body) parameters, flattened as the SDKs do.
    Query(QueryParams),
    /// Tencent: the JSON body object.
    Json(Map<String, Json>),
}

impl Violation {
    /// The gateway's BadRequest entry.
    pub fn to_field_violation(&self) -> FieldViolation {
        FieldViolation::new(&self.path, &self.description)
    }
}

/// The value of a field the caller set: a non-empty list or map, or a
/// singular field that is present (`None` for an unset one). What the wire
/// encodings, the validator and the audit line agree is "set".
pub fn set_value<'a>(
    msg: &'a DynamicMessage,
    field: &prost_reflect::FieldDescriptor,
) -> Option<std::borrow::Cow<'a, prost_reflect::Value>> {
    use prost_reflect::Value;
    if !field.is_list() && !field.is_map() {
        return msg.has_field(field).then(|| msg.get_field(field));
    }
    let value = msg.get_field(field);
    let empty = match value.as_ref() {
        Value::List(items) => items.is_empty(),
        Value::Map(entries) => entries.is_empty(),
        _ => false,
    };
    (!empty).then_some(value)
}

/// Validates a request against the catalog and encodes it for the vendor.
/// Every violation is reported (not just the first), by proto field path.
pub fn encode_request(
    catalog: &Catalog,
    op: &Operation,
    msg: &DynamicMessage,
) -> Result<WireParams, Vec<FieldViolation>> {
    let violations = validate(catalog, msg);
    if !violations.is_empty() {
        return Err(violations
            .iter()
            .map(Violation::to_field_violation)
            .collect());
    }
    Ok(encode_valid(catalog, op, msg))
}

/// Encodes a request already validated.
pub fn encode_valid(catalog: &Catalog, op: &Operation, msg: &DynamicMessage) -> WireParams {
    match op.vendor() {
        Vendor::Tencent => WireParams::Json(json::message_to_json(catalog, msg)),
        _ => WireParams::Query(query::encode(catalog, msg)),
    }
}

/// Decodes a vendor JSON reply into a message of type `desc`, reading each
/// field under its vendor name at every depth. Missing members keep their
/// defaults and unknown ones are ignored; a member of the wrong type is an
/// error naming its path (never a panic).
pub fn decode_response(
    catalog: &Catalog,
    desc: &MessageDescriptor,
    json: &Json,
) -> Result<DynamicMessage, String> {
    json::json_to_message(catalog, desc, json, json::Mode::Reply, "").map_err(|e| e.to_string())
}

/// Converts any generated request message into a dynamic one of the catalog's pool.
pub fn to_dynamic<M: prost::Message>(op: &Operation, msg: &M) -> Result<DynamicMessage, String> {
    let bytes = msg.encode_to_vec();
    DynamicMessage::decode(op.input(), bytes.as_slice()).map_err(|e| e.to_string())
}

/// Converts a decoded dynamic message into a generated message type.
pub fn from_dynamic<M: prost::Message + Default>(msg: &DynamicMessage) -> Result<M, String> {
    M::decode(prost::Message::encode_to_vec(msg).as_slice()).map_err(|e| e.to_string())
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
        let wire = encode_request(&c, op, &to_dynamic(op, &req).unwrap()).unwrap();
        let WireParams::Query(QueryParams { query: q, form }) = wire else {
            panic!("query expected")
        };
        assert!(form.is_empty());
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
        let v = encode_request(&c, op, &to_dynamic(op, &req).unwrap()).unwrap_err();
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
        let v = encode_request(&c, op, &to_dynamic(op, &req).unwrap()).unwrap_err();
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
        let WireParams::Json(body) =
            encode_request(&c, op, &to_dynamic(op, &req).unwrap()).unwrap()
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
        let msg = decode_response(&c, &op.output(), &json).unwrap();
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
            from_dynamic(&decode_response(&c, &op.output(), &ok).unwrap()).unwrap();
        let s = resp.user_status.unwrap();
        assert!(s.use_agent_audit);
        assert_eq!(s.use_oss_size, 99);
        for bad in [
            serde_json::json!({"UserStatus": "nope"}),
            serde_json::json!({"UserStatus": {"LabStatus": 99999999999i64}}),
            serde_json::json!({"UserStatus": {"Authed": "maybe"}}),
            serde_json::json!([1, 2]),
        ] {
            assert!(decode_response(&c, &op.output(), &bad).is_err(), "{bad}");
        }
    }
}
