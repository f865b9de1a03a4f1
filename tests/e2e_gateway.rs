//! End to end over loopback: tonic client -> cloudgate -> vendor emulator,
//! for every operation: success with every field, validation, each error
//! class, deadlines, region and profile metadata.

mod support;

use std::time::{Duration, Instant};

use cloudgate::emulator::{Fault, FaultKind};
use cloudgate::pb::aliyun::bssopenapi::v20171214 as bss;
use cloudgate::pb::aliyun::cloudsso::v20210515 as cloudsso;
use cloudgate::pb::aliyun::sddp::v20190103 as sddp;
use cloudgate::pb::cloudgate::v1::VendorError;
use cloudgate::pb::tencentcloud::dlc::v20210125 as dlc;
use prost::Message;
use support::{fault, srus, user_type, with_meta, Harness, Options};
use tonic::Code;
use tonic_types::StatusExt;

/// Error mapping is checked one attempt at a time here; retries have their own tests.
async fn start() -> Harness {
    Harness::with(Options {
        extra_toml: "[retry]\nmax_attempts = 1\n".into(),
        ..Default::default()
    })
    .await
}

fn mut_user_type() -> dlc::ModifyUserTypeRequest {
    user_type("ADMIN")
}

fn error_fault(action: &str, code: &str, http_status: Option<u16>) -> Fault {
    fault(
        action,
        FaultKind::Error {
            code: code.into(),
            http_status,
            message: Some(format!("injected {code}")),
        },
    )
}

fn vendor_error(st: &tonic::Status) -> VendorError {
    let raw = tonic_types::pb::Status::decode(st.details()).unwrap();
    let any = raw
        .details
        .iter()
        .find(|a| a.type_url == "type.googleapis.com/cloudgate.v1.VendorError")
        .expect("VendorError detail");
    VendorError::decode(any.value.as_slice()).unwrap()
}

#[tokio::test]
async fn set_reseller_user_status_success_with_every_field() {
    let h = start().await;
    let resp = h
        .bss()
        .set_reseller_user_status(srus())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(resp.code, "200");
    assert_eq!(resp.message, "Successful!");
    assert!(resp.data && resp.success);
    // A fresh request id per call, not the documented sample's.
    assert_ne!(resp.request_id, "F5B803CF-94D8-43AF-ADB3-D819AAD30E27");
    assert_eq!(resp.request_id.len(), 36);
    let calls = h.emulator.calls();
    assert_eq!(calls.len(), 1);
    let c = &calls[0];
    assert_eq!(c.action, "SetResellerUserStatus");
    assert_eq!(c.scheme, "ACS3");
    assert_eq!(
        c.params.get("OwnerId").map(String::as_str),
        Some("1234567890123456")
    );
    assert_eq!(c.params.get("StopMode").map(String::as_str), Some("0"));
    assert_eq!(c.outcome, "ok");
    h.stop().await;
}

#[tokio::test]
async fn modify_account_relation_sends_lists_like_the_sdk() {
    let h = start().await;
    let req = bss::ModifyAccountRelationRequest {
        relation_type: Some("enterprise_group".into()),
        relation_operation: "ADD".into(),
        parent_user_id: Some(1738376485192612),
        child_nick: "Finance member * ~/+=& 测试 ü".into(),
        child_user_id: Some(1512996702208737),
        request_id: "caller-req-1".into(),
        role_codes: vec!["trusteeship".into()],
        permission_codes: (0..3)
            .map(|i| {
                [
                    "CHECK_FINANCE_INFO",
                    "FORBID_WITHDRAW_CASH",
                    "MANAGE_TARGET_INVOICE",
                ][i]
                    .to_string()
            })
            .collect(),
        relation_id: Some(51463),
    };
    let resp = h
        .bss()
        .modify_account_relation(req)
        .await
        .unwrap()
        .into_inner();
    assert_eq!(resp.code, "200");
    assert!(resp.success);
    assert_eq!(resp.message, "Message returned\n");
    assert_eq!(resp.data.unwrap().host_id, "HostId");
    assert_ne!(resp.request_id, "request_id");
    let c = &h.emulator.calls()[0];
    assert_eq!(c.params["ChildNick"], "Finance member * ~/+=& 测试 ü");
    assert_eq!(c.params["RoleCodes.1"], "trusteeship");
    assert_eq!(c.params["PermissionCodes.3"], "MANAGE_TARGET_INVOICE");
    assert_eq!(c.params["ParentUserId"], "1738376485192612");
    assert_eq!(c.params["RelationId"], "51463");
    assert_eq!(c.params["RequestId"], "caller-req-1");
    h.stop().await;
}

#[tokio::test]
async fn update_user_status_and_describe_user_status_success() {
    let h = start().await;
    let resp = h
        .cloudsso()
        .update_user_status(cloudsso::UpdateUserStatusRequest {
            directory_id: "d-00fc2p61abcd".into(),
            user_id: "u-00q8wbq42wiltcrkabcd".into(),
            new_status: Some("Disabled".into()),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(resp.request_id.len(), 36);

    let resp = h
        .sddp()
        .describe_user_status(sddp::DescribeUserStatusRequest {
            lang: Some("en_us".into()),
            feature_type: Some(2),
        })
        .await
        .unwrap()
        .into_inner();
    let s = resp.user_status.unwrap();
    assert_eq!(
        (s.use_oss_size, s.use_instance_num, s.instance_num),
        (234, 125, 32)
    );
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
    assert_eq!(s.instance_id, "sddp-cn-****");
    let calls = h.emulator.calls();
    assert_eq!(calls[1].params["Lang"], "en_us");
    assert_eq!(calls[1].params["FeatureType"], "2");
    h.stop().await;
}

#[tokio::test]
async fn modify_user_type_success_with_region_metadata() {
    let h = start().await;
    let mut req = mut_user_type();
    req.account_type = Some("EntraAccount".into());
    let resp = h
        .dlc()
        .modify_user_type(with_meta(req, &[("x-cloud-region", "ap-singapore")]))
        .await
        .unwrap()
        .into_inner();
    assert!(!resp.request_id.is_empty());
    assert_ne!(resp.request_id, "ks1141-dasd8ca1-acds81fa");
    let c = &h.emulator.calls()[0];
    assert_eq!(c.scheme, "TC3");
    assert_eq!(c.region.as_deref(), Some("ap-singapore"));
    assert_eq!(c.params["AccountType"], "EntraAccount");
    // Without metadata the configured default region (ap-guangzhou) is used.
    h.dlc().modify_user_type(mut_user_type()).await.unwrap();
    assert_eq!(
        h.emulator.calls()[1].region.as_deref(),
        Some("ap-guangzhou")
    );
    h.stop().await;
}

#[tokio::test]
async fn validation_failure_names_fields_and_never_reaches_the_vendor() {
    let h = start().await;
    let st = h
        .bss()
        .set_reseller_user_status(bss::SetResellerUserStatusRequest {
            owner_id: "12ab".into(),
            status: "Frozen".into(),
            business_type: String::new(),
            stop_mode: None,
        })
        .await
        .unwrap_err();
    assert_eq!(st.code(), Code::InvalidArgument);
    let bad = st.get_error_details().bad_request().unwrap().clone();
    let fields: Vec<_> = bad
        .field_violations
        .iter()
        .map(|v| v.field.as_str())
        .collect();
    assert_eq!(fields, ["owner_id", "status", "business_type"]);
    let st = h
        .dlc()
        .modify_user_type(dlc::ModifyUserTypeRequest {
            user_id: "100021240181".into(),
            user_type: "ROOT".into(),
            account_type: None,
        })
        .await
        .unwrap_err();
    assert_eq!(st.code(), Code::InvalidArgument);
    assert!(st.message().contains("user_type"), "{}", st.message());
    let st = h
        .sddp()
        .describe_user_status(with_meta(
            sddp::DescribeUserStatusRequest::default(),
            &[("x-cloud-region", "Moon Base")],
        ))
        .await
        .unwrap_err();
    assert_eq!(st.code(), Code::InvalidArgument);
    assert!(st.message().contains("x-cloud-region"));
    assert!(
        h.emulator.calls().is_empty(),
        "the emulator saw a call that failed validation"
    );
    h.stop().await;
}

#[tokio::test]
async fn vendor_throttling_is_resource_exhausted_with_retry_info() {
    let h = start().await;
    h.emulator.inject(error_fault(
        "UpdateUserStatus",
        "Throttling.User",
        Some(400),
    ));
    let st = h
        .cloudsso()
        .update_user_status(cloudsso::UpdateUserStatusRequest {
            directory_id: "d-1".into(),
            user_id: "u-1".into(),
            new_status: None,
        })
        .await
        .unwrap_err();
    assert_eq!(st.code(), Code::ResourceExhausted);
    let d = st.get_error_details();
    let info = d.error_info().unwrap();
    assert_eq!(info.reason, "Throttling.User");
    assert_eq!(
        info.domain,
        h.emulator.base_url().trim_start_matches("http://")
    );
    assert_eq!(info.metadata["http_status"], "400");
    assert!(!info.metadata["request_id"].is_empty());
    assert!(d.retry_info().is_some());
    assert_eq!(vendor_error(&st).message, "injected Throttling.User");
    h.stop().await;
}

#[tokio::test]
async fn documented_error_classes_map_to_grpc_codes() {
    let h = start().await;
    // (action, code, http status, expected gRPC code)
    let cases = [
        (
            "SetResellerUserStatus",
            "NotAuthorized",
            Some(400),
            Code::PermissionDenied,
        ),
        (
            "SetResellerUserStatus",
            "ParameterError",
            Some(400),
            Code::InvalidArgument,
        ),
        (
            "SetResellerUserStatus",
            "CreditInnerError",
            Some(400),
            Code::Unavailable,
        ),
        (
            "SetResellerUserStatus",
            "Forbidden.RAM",
            Some(403),
            Code::PermissionDenied,
        ),
        (
            "ModifyUserType",
            "UnauthorizedOperation.UserNotExist",
            None,
            Code::NotFound,
        ),
        (
            "ModifyUserType",
            "UnauthorizedOperation.ModifyUserType",
            None,
            Code::PermissionDenied,
        ),
        (
            "ModifyUserType",
            "InvalidParameter.InvalidUserName",
            None,
            Code::InvalidArgument,
        ),
        (
            "ModifyUserType",
            "UnsupportedOperation.ModifyOwnerUnsupported",
            None,
            Code::FailedPrecondition,
        ),
        (
            "ModifyUserType",
            "RequestLimitExceeded.UinLimitExceeded",
            None,
            Code::ResourceExhausted,
        ),
    ];
    for (action, code, http, expected) in cases {
        h.emulator.inject(error_fault(action, code, http));
        let st = if action == "ModifyUserType" {
            h.dlc().modify_user_type(mut_user_type()).await.unwrap_err()
        } else {
            h.bss().set_reseller_user_status(srus()).await.unwrap_err()
        };
        assert_eq!(st.code(), expected, "{code}: {st:?}");
        assert_eq!(st.get_error_details().error_info().unwrap().reason, code);
        assert_eq!(vendor_error(&st).code, code);
    }
    h.stop().await;
}

#[tokio::test]
async fn bss_failure_inside_http_200_is_an_error() {
    let h = start().await;
    h.emulator
        .inject(error_fault("SetResellerUserStatus", "-116", Some(200)));
    let st = h.bss().set_reseller_user_status(srus()).await.unwrap_err();
    assert_eq!(st.code(), Code::FailedPrecondition);
    let info = st.get_error_details().error_info().unwrap().clone();
    assert_eq!(info.reason, "-116");
    assert_eq!(info.metadata["http_status"], "200");
    h.stop().await;
}

#[tokio::test]
async fn unknown_outcome_of_a_mutating_call_is_reported() {
    let h = start().await;
    // Internal error on a mutation: may have happened.
    h.emulator.inject(error_fault(
        "SetResellerUserStatus",
        "InternalError",
        Some(400),
    ));
    let st = h.bss().set_reseller_user_status(srus()).await.unwrap_err();
    assert_eq!(st.code(), Code::Unavailable);
    assert_eq!(
        st.get_error_details().error_info().unwrap().metadata["outcome"],
        "unknown"
    );
    // HTTP 503 with a vendor body.
    h.emulator.inject(fault(
        "SetResellerUserStatus",
        FaultKind::HttpStatus { status: 503 },
    ));
    let st = h.bss().set_reseller_user_status(srus()).await.unwrap_err();
    assert_eq!(st.code(), Code::Unavailable);
    // Connection dropped after the request was sent.
    h.emulator.inject(fault("ModifyUserType", FaultKind::Drop));
    let st = h.dlc().modify_user_type(mut_user_type()).await.unwrap_err();
    assert_eq!(st.code(), Code::Unavailable, "{st:?}");
    let info = st.get_error_details().error_info().unwrap().clone();
    assert_eq!(info.metadata["outcome"], "unknown");
    assert!(!st.message().contains("Signature"), "{}", st.message());
    h.stop().await;
}

#[tokio::test]
async fn deadline_bounds_the_vendor_call() {
    let h = start().await;
    h.emulator
        .inject(fault("DescribeUserStatus", FaultKind::Delay { ms: 3000 }));
    let mut req = tonic::Request::new(sddp::DescribeUserStatusRequest::default());
    req.set_timeout(Duration::from_millis(300));
    let started = Instant::now();
    let st = h.sddp().describe_user_status(req).await.unwrap_err();
    let took = started.elapsed();
    assert_eq!(st.code(), Code::DeadlineExceeded, "{st:?}");
    assert!(took < Duration::from_millis(1500), "took {took:?}");
    h.stop().await;
}

#[tokio::test]
async fn profiles_select_credentials_and_unknown_ones_are_rejected() {
    let h = start().await;
    // The `other` profile holds an STS credential: the emulator requires its token.
    h.sddp()
        .describe_user_status(with_meta(
            sddp::DescribeUserStatusRequest::default(),
            &[("x-cloud-profile", "other")],
        ))
        .await
        .unwrap();
    let c = &h.emulator.calls()[0];
    assert_eq!(c.access_key_id, support::OTHER_ALI_ID);
    assert!(c.security_token);
    // `other` has no Tencent credential.
    let st = h
        .dlc()
        .modify_user_type(with_meta(mut_user_type(), &[("x-cloud-profile", "other")]))
        .await
        .unwrap_err();
    assert_eq!(st.code(), Code::Unavailable);
    assert!(st.message().contains("other"), "{}", st.message());
    let st = h
        .sddp()
        .describe_user_status(with_meta(
            sddp::DescribeUserStatusRequest::default(),
            &[("x-cloud-profile", "nobody")],
        ))
        .await
        .unwrap_err();
    assert_eq!(st.code(), Code::InvalidArgument);
    assert!(st.message().contains("nobody"));
    assert_eq!(h.emulator.calls().len(), 1);
    h.stop().await;
}

#[tokio::test]
async fn a_wrong_secret_is_caught_by_the_vendor_signature_check() {
    let h = start().await;
    let st = h
        .sddp()
        .describe_user_status(with_meta(
            sddp::DescribeUserStatusRequest::default(),
            &[("x-cloud-profile", "wrong")],
        ))
        .await
        .unwrap_err();
    assert_eq!(st.code(), Code::Unauthenticated);
    assert_eq!(
        st.get_error_details().error_info().unwrap().reason,
        "SignatureDoesNotMatch"
    );
    let st = h
        .dlc()
        .modify_user_type(with_meta(mut_user_type(), &[("x-cloud-profile", "wrong")]))
        .await
        .unwrap_err();
    assert_eq!(
        st.get_error_details().error_info().unwrap().reason,
        "AuthFailure.SignatureFailure"
    );
    h.stop().await;
}

#[tokio::test]
async fn rpc_v1_signing_is_selectable_in_config() {
    let h = Harness::with(Options {
        extra_toml: "[signing]\nalibaba = \"rpc-v1\"\n[retry]\nmax_attempts = 1\n".into(),
        ..Default::default()
    })
    .await;
    h.bss().set_reseller_user_status(srus()).await.unwrap();
    h.sddp()
        .describe_user_status(with_meta(
            sddp::DescribeUserStatusRequest::default(),
            &[("x-cloud-profile", "other")],
        ))
        .await
        .unwrap();
    let calls = h.emulator.calls();
    assert!(
        calls
            .iter()
            .all(|c| c.scheme == "RPC-V1" && c.outcome == "ok"),
        "{calls:?}"
    );
    h.stop().await;
}

#[tokio::test]
async fn every_attempt_gets_a_fresh_nonce() {
    let h = start().await;
    for _ in 0..3 {
        h.sddp()
            .describe_user_status(sddp::DescribeUserStatusRequest::default())
            .await
            .unwrap();
    }
    let nonces: std::collections::HashSet<_> = h
        .emulator
        .calls()
        .iter()
        .map(|c| c.nonce.clone().unwrap())
        .collect();
    assert_eq!(nonces.len(), 3);
    h.stop().await;
}

#[tokio::test]
async fn vendor_calls_go_through_the_configured_proxy() {
    // The vendor host does not resolve; only the proxy (here the emulator,
    // which accepts absolute-form requests) can carry the call.
    let emulator = support::spawn_emulator().await;
    let h = Harness::with(Options {
        extra_toml: format!(
            "[http]\nproxy = \"{}\"\n[retry]\nmax_attempts = 1\n",
            emulator.base_url()
        ),
        endpoints_base: Some("http://vendor.invalid:8080".into()),
    })
    .await;
    h.sddp()
        .describe_user_status(sddp::DescribeUserStatusRequest::default())
        .await
        .unwrap();
    assert_eq!(
        emulator.calls().len(),
        1,
        "the call did not go through the proxy"
    );
    assert!(h.emulator.calls().is_empty());
    h.stop().await;
    emulator.shutdown().await;
}
