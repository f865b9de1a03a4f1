//! Parameter validation of what the emulator received, with the gateway's
//! own validator: the wire parameters are decoded back into the request
//! message (Alibaba: flattened query/form names; Tencent: the JSON body,
//! where unknown members and wrong JSON types are errors) and checked by
//! [`crate::translate::validate`]. No per-operation code.

use crate::catalog::{Catalog, Operation};
use crate::translate::json::{self, JsonError, Mode};
use crate::translate::{query, validate};

use super::rejection::Rejection;
use super::request::Params;

/// Checks the region (when the service requires one) and every request field of `op`.
pub(crate) fn check(
    catalog: &Catalog,
    op: &Operation,
    params: &Params,
    region: Option<&str>,
) -> Result<(), Rejection> {
    let msg = match params {
        Params::Json(map) => {
            // Tencent rejects members the action does not have before anything else.
            let body = serde_json::Value::Object(map.clone());
            let decoded = json::json_to_message(catalog, &op.input(), &body, Mode::Request, "");
            if let Err(JsonError::Unknown(name)) = &decoded {
                return Err(Rejection::UnknownParameter(name.clone()));
            }
            check_region(op, region)?;
            decoded.map_err(rejection)?
        }
        Params::Query(pairs) => {
            check_region(op, region)?;
            query::decode(catalog, &op.input(), pairs).map_err(rejection)?
        }
    };
    match validate(catalog, &msg).into_iter().next() {
        None => Ok(()),
        Some(v) if v.missing => Err(Rejection::MissingParameter(v.vendor_path)),
        Some(v) => Err(Rejection::InvalidParameter {
            name: v.vendor_path,
            field: v.vendor_field,
            value: v.value,
            reason: v.description,
        }),
    }
}

fn rejection(e: JsonError) -> Rejection {
    match e {
        JsonError::Unknown(name) => Rejection::UnknownParameter(name),
        JsonError::WrongType { path, expected } => Rejection::WrongType {
            name: path,
            expected,
        },
        JsonError::Invalid { path, reason } => {
            let field = path
                .rsplit('.')
                .find(|p| !p.bytes().all(|b| b.is_ascii_digit()))
                .unwrap_or(&path)
                .to_string();
            Rejection::InvalidParameter {
                name: path,
                field,
                value: String::new(),
                reason,
            }
        }
    }
}

fn check_region(op: &Operation, region: Option<&str>) -> Result<(), Rejection> {
    if op.service.rule.region_required && region.is_none_or(|r| r.trim().is_empty()) {
        return Err(Rejection::MissingParameter("Region".into()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::{Catalog, Vendor};
    use serde_json::{json, Value};

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
        assert_eq!(code(check(&c, op, &q(&good), None)), "ok");
        assert_eq!(code(check(&c, op, &q(&good[1..]), None)), "missing OwnerId");
        assert_eq!(
            code(check(
                &c,
                op,
                &q(&[("OwnerId", ""), good[1], good[2]]),
                None
            )),
            "missing OwnerId"
        );
        assert_eq!(
            code(check(
                &c,
                op,
                &q(&[("OwnerId", "12a"), good[1], good[2]]),
                None
            )),
            "invalid OwnerId"
        );
        assert_eq!(
            code(check(
                &c,
                op,
                &q(&[good[0], ("Status", "Frozen"), good[2]]),
                None
            )),
            "invalid Status"
        );
        let mut with_stop = good.to_vec();
        with_stop.push(("StopMode", "2"));
        assert_eq!(
            code(check(&c, op, &q(&with_stop), None)),
            "invalid StopMode"
        );
        with_stop.pop();
        with_stop.push(("Unrelated", "x"));
        assert_eq!(
            code(check(&c, op, &q(&with_stop), None)),
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
            code(check(&c, op, &q(&v), None))
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
            with(&[
                ("PermissionCodes.1", "CHECK_FINANCE_INFO"),
                ("PermissionCodes.2", "NOPE")
            ]),
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
                &c,
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
    }

    #[test]
    fn tencent_json_members_types_unknowns_and_region() {
        let c = Catalog::load().unwrap();
        let op = c.by_action(Vendor::Tencent, "ModifyUserType").unwrap();
        let r = Some("ap-guangzhou");
        assert_eq!(
            code(check(
                &c,
                op,
                &j(json!({"UserId": "100", "UserType": "ADMIN"})),
                r
            )),
            "ok"
        );
        assert_eq!(
            code(check(
                &c,
                op,
                &j(json!({"UserId": "100", "UserType": "ADMIN"})),
                None
            )),
            "missing Region"
        );
        assert_eq!(
            code(check(&c, op, &j(json!({"UserType": "ADMIN"})), r)),
            "missing UserId"
        );
        assert_eq!(
            code(check(
                &c,
                op,
                &j(json!({"UserId": "100", "UserType": "ROOT"})),
                r
            )),
            "invalid UserType"
        );
        assert_eq!(
            code(check(
                &c,
                op,
                &j(json!({"UserId": 100, "UserType": "ADMIN"})),
                r
            )),
            "type UserId"
        );
        assert_eq!(
            code(check(
                &c,
                op,
                &j(json!({"UserId": "100", "UserType": "ADMIN", "Extra": 1})),
                r
            )),
            "unknown Extra"
        );
        assert_eq!(
            code(check(
                &c,
                op,
                &j(json!({"UserId": "100", "UserType": "ADMIN", "AccountType": null})),
                r
            )),
            "ok"
        );
    }
}
