//! The vendor emulator over real HTTP on 127.0.0.1:0: requests signed here with
//! `cloudgate::signing`, answers checked for the vendors' codes, statuses and shapes.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use cloudgate::catalog::{Catalog, Vendor};
use cloudgate::emulator::{
    spawn, EmulatorConfig, EmulatorHandle, EmulatorKey, Fault, FaultKind, ReceivedCall, Stats,
    DEMO_ALIBABA_ID, DEMO_ALIBABA_SECRET, DEMO_TENCENT_ID, DEMO_TENCENT_SECRET,
};
use cloudgate::signing::{acs3, iso8601, new_nonce, rpc_v1, tc3};
use serde_json::{json, Value};

const STS_ALI_ID: &str = "STS.EmulatorTestKey";
const STS_ALI_SECRET: &str = "sts-alibaba-secret";
const STS_TC_ID: &str = "AKIDEmulatorTemporaryKey000000000002";
const STS_TC_SECRET: &str = "sts-tencent-secret";
const STS_TOKEN: &str = "the-sts-token";

// === harness ===

struct Harness {
    emu: EmulatorHandle,
    http: reqwest::Client,
    base: String,
    host: String,
}

async fn start() -> Harness {
    let config = EmulatorConfig::demo()
        .with_key(
            EmulatorKey::new(Vendor::Alibaba, STS_ALI_ID, STS_ALI_SECRET).with_token(STS_TOKEN),
        )
        .with_key(
            EmulatorKey::new(Vendor::Tencent, STS_TC_ID, STS_TC_SECRET).with_token(STS_TOKEN),
        );
    let catalog = Arc::new(Catalog::load().expect("catalog loads"));
    let emu = spawn("127.0.0.1:0".parse().unwrap(), config, catalog)
        .await
        .expect("emulator binds");
    let base = emu.base_url();
    let host = base.trim_start_matches("http://").to_string();
    Harness {
        emu,
        http: client(),
        base,
        host,
    }
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

#[derive(Debug)]
struct Reply {
    status: u16,
    content_type: String,
    body: Value,
}

impl Reply {
    fn ali_code(&self) -> &str {
        self.body["Code"].as_str().unwrap_or("<none>")
    }
    fn ali_message(&self) -> &str {
        self.body["Message"].as_str().unwrap_or("")
    }
    fn tc_code(&self) -> &str {
        self.body["Response"]["Error"]["Code"]
            .as_str()
            .unwrap_or("<none>")
    }
    fn tc_message(&self) -> &str {
        self.body["Response"]["Error"]["Message"]
            .as_str()
            .unwrap_or("")
    }
}

async fn reply(resp: reqwest::Response) -> Reply {
    let status = resp.status().as_u16();
    let content_type = resp
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let text = resp.text().await.unwrap();
    let body = serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON: {text}"));
    Reply {
        status,
        content_type,
        body,
    }
}

fn pairs(p: &[(&str, &str)]) -> Vec<(String, String)> {
    p.iter()
        .map(|(n, v)| (n.to_string(), v.to_string()))
        .collect()
}

/// One Alibaba call, signable with either scheme.
#[derive(Clone)]
struct AliCall {
    method: &'static str,
    id: String,
    secret: String,
    token: Option<String>,
    action: String,
    version: String,
    timestamp: String,
    nonce: String,
    params: Vec<(String, String)>,
}

impl AliCall {
    fn new(action: &str, version: &str, params: &[(&str, &str)]) -> Self {
        Self {
            method: "POST",
            id: DEMO_ALIBABA_ID.into(),
            secret: DEMO_ALIBABA_SECRET.into(),
            token: None,
            action: action.into(),
            version: version.into(),
            timestamp: iso8601(Utc::now()),
            nonce: new_nonce(),
            params: pairs(params),
        }
    }

    fn describe_user_status() -> Self {
        Self::new("DescribeUserStatus", "2019-01-03", &[("Lang", "en_us")])
    }

    fn set_reseller_user_status() -> Self {
        Self::new(
            "SetResellerUserStatus",
            "2017-12-14",
            &[
                ("OwnerId", "1234567890123456"),
                ("Status", "Freeze"),
                ("BusinessType", "FREEZE"),
            ],
        )
    }

    fn secret(mut self, secret: &str) -> Self {
        self.secret = secret.into();
        self
    }

    fn key(mut self, id: &str, secret: &str, token: Option<&str>) -> Self {
        self.id = id.into();
        self.secret = secret.into();
        self.token = token.map(str::to_string);
        self
    }

    fn signed_rpc(&self) -> rpc_v1::RpcV1Signed {
        rpc_v1::sign(&rpc_v1::RpcV1Input {
            method: self.method,
            access_key_id: &self.id,
            access_key_secret: &self.secret,
            security_token: self.token.as_deref(),
            action: &self.action,
            version: &self.version,
            format: "json",
            timestamp: &self.timestamp,
            nonce: &self.nonce,
            params: &self.params,
        })
    }

    async fn rpc(&self, h: &Harness) -> Reply {
        let url = format!("{}/?{}", h.base, self.signed_rpc().query);
        let req = match self.method {
            "GET" => h.http.get(url),
            _ => h.http.post(url),
        };
        reply(req.send().await.unwrap()).await
    }

    fn signed_acs3(&self, host: &str) -> acs3::Acs3Signed {
        acs3::sign(&acs3::Acs3Input {
            method: self.method,
            host,
            path: "/",
            access_key_id: &self.id,
            access_key_secret: &self.secret,
            security_token: self.token.as_deref(),
            action: &self.action,
            version: &self.version,
            date: &self.timestamp,
            nonce: &self.nonce,
            query: &self.params,
            body: b"",
            content_type: None,
            extra_headers: &[],
        })
    }

    fn acs3_request(&self, h: &Harness, signed: &acs3::Acs3Signed) -> reqwest::RequestBuilder {
        let url = format!("{}/?{}", h.base, signed.canonical_query_string);
        let mut req = match self.method {
            "GET" => h.http.get(url),
            _ => h.http.post(url),
        };
        for (name, value) in &signed.headers {
            if name != "host" {
                req = req.header(name, value);
            }
        }
        req
    }

    async fn acs3(&self, h: &Harness) -> Reply {
        let signed = self.signed_acs3(&h.host);
        reply(self.acs3_request(h, &signed).send().await.unwrap()).await
    }
}

/// One Tencent call.
#[derive(Clone)]
struct TcCall {
    id: String,
    secret: String,
    token: Option<String>,
    action: String,
    version: String,
    region: Option<String>,
    timestamp: i64,
    body: String,
}

impl TcCall {
    fn modify_user_type(body: Value) -> Self {
        Self {
            id: DEMO_TENCENT_ID.into(),
            secret: DEMO_TENCENT_SECRET.into(),
            token: None,
            action: "ModifyUserType".into(),
            version: "2021-01-25".into(),
            region: Some("ap-guangzhou".into()),
            timestamp: Utc::now().timestamp(),
            body: body.to_string(),
        }
    }

    fn good() -> Self {
        Self::modify_user_type(json!({"UserId": "100021240181", "UserType": "ADMIN"}))
    }

    async fn send(&self, h: &Harness) -> Reply {
        let signed = tc3::sign(&tc3::Tc3Input {
            host: &h.host,
            service: "dlc",
            secret_id: &self.id,
            secret_key: &self.secret,
            timestamp: self.timestamp,
            content_type: "application/json",
            body: self.body.as_bytes(),
        });
        let mut req = h
            .http
            .post(format!("{}/", h.base))
            .header("Authorization", signed.authorization)
            .header("Content-Type", "application/json")
            .header("X-TC-Action", &self.action)
            .header("X-TC-Version", &self.version)
            .header("X-TC-Timestamp", self.timestamp.to_string())
            .header("X-TC-Language", "en-US")
            .body(self.body.clone());
        if let Some(region) = &self.region {
            req = req.header("X-TC-Region", region);
        }
        if let Some(token) = &self.token {
            req = req.header("X-TC-Token", token);
        }
        reply(req.send().await.unwrap()).await
    }
}

fn sample(catalog_action: &str) -> Value {
    let c = Catalog::load().unwrap();
    let op = c
        .operations()
        .iter()
        .find(|o| o.action() == catalog_action)
        .unwrap();
    serde_json::from_str(&op.rule.sample_response).unwrap()
}

fn assert_uuid(id: &str, upper: bool) {
    assert_eq!(id.len(), 36, "{id}");
    assert!(uuid_like(id), "{id}");
    if upper {
        assert_eq!(id, id.to_uppercase());
    } else {
        assert_eq!(id, id.to_lowercase());
    }
}

fn uuid_like(id: &str) -> bool {
    id.split('-').map(str::len).collect::<Vec<_>>() == [8, 4, 4, 4, 12]
}

// === success ===

#[tokio::test]
async fn rpc_v1_call_gets_the_sample_body_with_a_fresh_request_id() {
    let h = start().await;
    let a = AliCall::describe_user_status().rpc(&h).await;
    let b = AliCall::describe_user_status().rpc(&h).await;
    assert_eq!(a.status, 200, "{:?}", a.body);
    assert_eq!(a.content_type, "application/json;charset=utf-8");
    let expected = sample("DescribeUserStatus");
    assert_eq!(a.body["UserStatus"], expected["UserStatus"]);
    let (ida, idb) = (
        a.body["RequestId"].as_str().unwrap(),
        b.body["RequestId"].as_str().unwrap(),
    );
    assert_uuid(ida, true);
    assert_ne!(ida, idb);
    assert_ne!(ida, expected["RequestId"].as_str().unwrap());

    // The official SDKs' RPC v1 path also sends x-acs-action / x-acs-version headers.
    let call = AliCall::describe_user_status();
    let url = format!("{}/?{}", h.base, call.signed_rpc().query);
    let r = reply(
        h.http
            .post(url)
            .header("x-acs-action", "DescribeUserStatus")
            .header("x-acs-version", "2019-01-03")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(h.emu.calls().last().unwrap().scheme, "RPC-V1");

    // GET works for RPC v1 too (the method is part of the string to sign).
    let mut get = AliCall::describe_user_status();
    get.method = "GET";
    assert_eq!(get.rpc(&h).await.status, 200);
}

#[tokio::test]
async fn acs3_call_gets_the_sample_body_with_a_fresh_request_id() {
    let h = start().await;
    let r = AliCall::set_reseller_user_status().acs3(&h).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.content_type, "application/json;charset=utf-8");
    assert_eq!(r.body["Code"], "200");
    assert_eq!(r.body["Success"], true);
    assert_uuid(r.body["RequestId"].as_str().unwrap(), true);
    assert_ne!(
        r.body["RequestId"],
        sample("SetResellerUserStatus")["RequestId"]
    );
}

#[tokio::test]
async fn tc3_call_gets_the_sample_body_with_a_fresh_request_id() {
    let h = start().await;
    let r = TcCall::good().send(&h).await;
    assert_eq!(r.status, 200);
    assert!(r.body["Response"].get("Error").is_none(), "{:?}", r.body);
    let id = r.body["Response"]["RequestId"].as_str().unwrap();
    assert_uuid(id, false);
    assert_ne!(id, "ks1141-dasd8ca1-acds81fa");
    let with_account = TcCall::modify_user_type(
        json!({"UserId": "1", "UserType": "COMMON", "AccountType": "TencentAccount"}),
    );
    assert!(with_account.send(&h).await.body["Response"]
        .get("Error")
        .is_none());
}

#[tokio::test]
async fn flat_lists_and_reserved_characters_verify_in_both_alibaba_schemes() {
    let h = start().await;
    let params = [
        ("RelationOperation", "ADD"),
        ("ChildNick", "a b*~/+=&测ü"),
        ("RequestId", "my-request-1"),
        ("RoleCodes.1", "trusteeship"),
        ("PermissionCodes.1", "SYNCHRONIZE_FINANCE_IDENTITY"),
        ("PermissionCodes.2", "FORBID_WITHDRAW_CASH"),
        ("PermissionCodes.10", "CHECK_FINANCE_INFO"),
        ("ParentUserId", "1738376485192612"),
    ];
    let call = AliCall::new("ModifyAccountRelation", "2017-12-14", &params);
    let r = call.rpc(&h).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["Data"]["HostId"], "HostId");
    let r = AliCall::new("ModifyAccountRelation", "2017-12-14", &params)
        .acs3(&h)
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let calls = h.emu.calls();
    assert_eq!(calls[0].params["ChildNick"], "a b*~/+=&测ü");
    assert_eq!(calls[0].params["PermissionCodes.10"], "CHECK_FINANCE_INFO");
    assert_eq!(calls[0].params["RequestId"], "my-request-1");
}

// === authentication ===

#[tokio::test]
async fn wrong_secret_is_signature_does_not_match_with_the_server_string_to_sign() {
    let h = start().await;
    let call = AliCall::describe_user_status().secret("not-the-secret");
    let r = call.rpc(&h).await;
    assert_eq!((r.status, r.ali_code()), (400, "SignatureDoesNotMatch"));
    let sts = call.signed_rpc().string_to_sign;
    let server_sts = r
        .ali_message()
        .rsplit_once("server string to sign is:")
        .unwrap()
        .1;
    assert_eq!(server_sts, sts, "same canonical form, only the key differs");
    assert!(r.body["HostId"].as_str().unwrap().starts_with("127.0.0.1:"));
    assert!(r.body["Recommend"]
        .as_str()
        .unwrap()
        .contains("SignatureDoesNotMatch"));
    assert_uuid(r.body["RequestId"].as_str().unwrap(), true);

    let acs = AliCall::describe_user_status().secret("not-the-secret");
    let r = acs.acs3(&h).await;
    assert_eq!((r.status, r.ali_code()), (400, "SignatureDoesNotMatch"));
    let expected = acs.signed_acs3(&h.host).string_to_sign;
    assert!(
        r.ali_message().ends_with(&format!(":{expected}")),
        "{}",
        r.ali_message()
    );

    let mut tc = TcCall::good();
    tc.secret = "not-the-secret".into();
    let r = tc.send(&h).await;
    assert_eq!(
        (r.status, r.tc_code()),
        (200, "AuthFailure.SignatureFailure")
    );
    assert!(r.body["Response"]["RequestId"].is_string());
    let outcomes: Vec<String> = h.emu.calls().into_iter().map(|c| c.outcome).collect();
    assert_eq!(
        outcomes,
        [
            "SignatureDoesNotMatch",
            "SignatureDoesNotMatch",
            "AuthFailure.SignatureFailure"
        ]
    );
}

#[tokio::test]
async fn unknown_keys() {
    let h = start().await;
    let r = AliCall::describe_user_status()
        .key("LTAInobody", "x", None)
        .rpc(&h)
        .await;
    assert_eq!(
        (r.status, r.ali_code()),
        (404, "InvalidAccessKeyId.NotFound")
    );
    let r = AliCall::describe_user_status()
        .key("LTAInobody", "x", None)
        .acs3(&h)
        .await;
    assert_eq!(
        (r.status, r.ali_code()),
        (404, "InvalidAccessKeyId.NotFound")
    );
    let mut tc = TcCall::good();
    tc.id = "AKIDnobody".into();
    assert_eq!(tc.send(&h).await.tc_code(), "AuthFailure.SecretIdNotFound");
    // Unknown keys are counted under one bucket, not one per id sent.
    let stats = h.emu.stats();
    assert_eq!(
        stats.actions["DescribeUserStatus"].per_key["(unknown)"].received,
        2
    );
}

#[tokio::test]
async fn a_tampered_acs3_request_is_refused() {
    let h = start().await;
    let call = AliCall::describe_user_status();
    let signed = call.signed_acs3(&h.host);
    // A changed parameter after signing.
    let url = format!("{}/?Lang=zh_cn", h.base);
    let mut req = h.http.post(url);
    for (n, v) in &signed.headers {
        if n != "host" {
            req = req.header(n, v);
        }
    }
    let r = reply(req.send().await.unwrap()).await;
    assert_eq!(r.ali_code(), "SignatureDoesNotMatch");

    // An x-acs-* header that is not signed.
    let call = AliCall::describe_user_status();
    let signed = call.signed_acs3(&h.host);
    let r = reply(
        call.acs3_request(&h, &signed)
            .header("x-acs-extra", "1")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (r.status, r.ali_code()),
        (400, "IncompleteSignature"),
        "{:?}",
        r.body
    );

    // A body whose hash is not x-acs-content-sha256.
    let call = AliCall::describe_user_status();
    let signed = call.signed_acs3(&h.host);
    let r = reply(
        call.acs3_request(&h, &signed)
            .body("surprise")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(r.ali_code(), "SignatureDoesNotMatch");
    assert!(
        r.ali_message().contains("x-acs-content-sha256"),
        "{}",
        r.ali_message()
    );

    // No Authorization at all.
    let r = reply(
        h.http
            .post(format!("{}/", h.base))
            .header("x-acs-action", "DescribeUserStatus")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(r.ali_code(), "IncompleteSignature");
}

#[tokio::test]
async fn stale_and_malformed_timestamps() {
    let h = start().await;
    let old = iso8601(Utc::now() - chrono::Duration::minutes(20));
    let mut call = AliCall::describe_user_status();
    call.timestamp = old.clone();
    let r = call.rpc(&h).await;
    assert_eq!((r.status, r.ali_code()), (400, "InvalidTimeStamp.Expired"));
    let r = call.acs3(&h).await;
    assert_eq!((r.status, r.ali_code()), (400, "InvalidTimeStamp.Expired"));

    let mut call = AliCall::describe_user_status();
    call.timestamp = iso8601(Utc::now() + chrono::Duration::minutes(14));
    assert_eq!(
        call.rpc(&h).await.status,
        200,
        "14 minutes ahead is still accepted"
    );

    let mut call = AliCall::describe_user_status();
    call.timestamp = "yesterday".into();
    let r = call.rpc(&h).await;
    assert_eq!((r.status, r.ali_code()), (400, "InvalidTimeStamp.Format"));

    let mut tc = TcCall::good();
    tc.timestamp -= 6 * 60;
    assert_eq!(tc.send(&h).await.tc_code(), "AuthFailure.SignatureExpire");
    let mut tc = TcCall::good();
    tc.timestamp -= 4 * 60;
    assert!(tc.send(&h).await.body["Response"].get("Error").is_none());
}

#[tokio::test]
async fn a_reused_nonce_is_refused_per_key() {
    let h = start().await;
    let call = AliCall::describe_user_status();
    assert_eq!(call.rpc(&h).await.status, 200);
    let again = call.rpc(&h).await;
    assert_eq!(
        (again.status, again.ali_code()),
        (400, "SignatureNonceUsed")
    );
    // Same nonce over ACS3 with the same key: also used.
    assert_eq!(call.acs3(&h).await.ali_code(), "SignatureNonceUsed");
    // The same nonce is fine for another key.
    let other = call
        .clone()
        .key(STS_ALI_ID, STS_ALI_SECRET, Some(STS_TOKEN));
    assert_eq!(other.rpc(&h).await.status, 200);
    // A request with a bad signature does not burn its nonce.
    let fresh = AliCall::describe_user_status();
    assert_eq!(
        fresh.clone().secret("wrong").rpc(&h).await.ali_code(),
        "SignatureDoesNotMatch"
    );
    assert_eq!(fresh.rpc(&h).await.status, 200);
}

#[tokio::test]
async fn sts_tokens_are_required_and_checked() {
    let h = start().await;
    let with = |token: Option<&str>| {
        AliCall::describe_user_status().key(STS_ALI_ID, STS_ALI_SECRET, token)
    };
    assert_eq!(with(Some(STS_TOKEN)).rpc(&h).await.status, 200);
    assert_eq!(with(Some(STS_TOKEN)).acs3(&h).await.status, 200);
    let r = with(None).rpc(&h).await;
    assert_eq!((r.status, r.ali_code()), (400, "MissingSecurityToken"));
    assert_eq!(with(None).acs3(&h).await.ali_code(), "MissingSecurityToken");
    let r = with(Some("other-token")).rpc(&h).await;
    assert_eq!(
        (r.status, r.ali_code()),
        (400, "InvalidSecurityToken.MismatchWithAccessKey")
    );
    assert_eq!(
        with(Some("other-token")).acs3(&h).await.ali_code(),
        "InvalidSecurityToken.MismatchWithAccessKey"
    );

    let tc = |token: Option<&str>| {
        let mut c = TcCall::good();
        c.id = STS_TC_ID.into();
        c.secret = STS_TC_SECRET.into();
        c.token = token.map(str::to_string);
        c
    };
    assert!(tc(Some(STS_TOKEN)).send(&h).await.body["Response"]
        .get("Error")
        .is_none());
    assert_eq!(
        tc(None).send(&h).await.tc_code(),
        "AuthFailure.TokenFailure"
    );
    assert_eq!(
        tc(Some("nope")).send(&h).await.tc_code(),
        "AuthFailure.TokenFailure"
    );

    let calls = h.emu.calls();
    assert!(calls[0].security_token);
    assert!(!calls[2].security_token);
    let text = serde_json::to_string(&calls).unwrap();
    assert!(!text.contains(STS_TOKEN), "tokens are never recorded");
}

// === action, version, parameters ===

#[tokio::test]
async fn unknown_action_and_wrong_version() {
    let h = start().await;
    let r = AliCall::new("DescribeNothing", "2019-01-03", &[])
        .rpc(&h)
        .await;
    assert_eq!((r.status, r.ali_code()), (404, "InvalidAction.NotFound"));
    let r = AliCall::new("DescribeNothing", "2019-01-03", &[])
        .acs3(&h)
        .await;
    assert_eq!((r.status, r.ali_code()), (404, "InvalidAction.NotFound"));
    let r = AliCall::new("DescribeUserStatus", "2020-01-01", &[])
        .rpc(&h)
        .await;
    assert_eq!((r.status, r.ali_code()), (400, "InvalidVersion"));

    let mut tc = TcCall::good();
    tc.action = "DescribeNothing".into();
    assert_eq!(tc.send(&h).await.tc_code(), "InvalidAction");
    let mut tc = TcCall::good();
    tc.version = "2017-03-12".into();
    assert_eq!(tc.send(&h).await.tc_code(), "NoSuchVersion");
    // Unknown actions share one stats bucket.
    assert_eq!(h.emu.stats().actions["(unknown)"].received, 3);
}

#[tokio::test]
async fn missing_required_parameters() {
    let h = start().await;
    let call = AliCall::new(
        "SetResellerUserStatus",
        "2017-12-14",
        &[("Status", "Freeze"), ("BusinessType", "FREEZE")],
    );
    let r = call.rpc(&h).await;
    assert_eq!((r.status, r.ali_code()), (400, "MissingOwnerId"));
    assert_eq!(r.ali_message(), "OwnerId is mandatory for this action.");
    let r = AliCall::new(
        "UpdateUserStatus",
        "2021-05-15",
        &[("DirectoryId", "d-abc")],
    )
    .acs3(&h)
    .await;
    assert_eq!((r.status, r.ali_code()), (400, "MissingUserId"));

    let r = TcCall::modify_user_type(json!({"UserType": "ADMIN"}))
        .send(&h)
        .await;
    assert_eq!(r.tc_code(), "MissingParameter");
    assert!(r.tc_message().contains("UserId"), "{}", r.tc_message());
    let mut no_region = TcCall::good();
    no_region.region = None;
    let r = no_region.send(&h).await;
    assert_eq!(r.tc_code(), "MissingParameter");
    assert!(r.tc_message().contains("Region"));
}

#[tokio::test]
async fn values_outside_the_catalog_rules() {
    let h = start().await;
    let r = AliCall::new(
        "SetResellerUserStatus",
        "2017-12-14",
        &[
            ("OwnerId", "1"),
            ("Status", "Melt"),
            ("BusinessType", "FREEZE"),
        ],
    )
    .rpc(&h)
    .await;
    assert_eq!((r.status, r.ali_code()), (400, "InvalidParameter"));
    assert!(r.ali_message().contains("Status"), "{}", r.ali_message());
    let r = AliCall::new(
        "SetResellerUserStatus",
        "2017-12-14",
        &[
            ("OwnerId", "12ab"),
            ("Status", "Freeze"),
            ("BusinessType", "FREEZE"),
        ],
    )
    .acs3(&h)
    .await;
    assert_eq!(r.ali_code(), "InvalidParameter");
    assert!(r.ali_message().contains("OwnerId"));
    let r = AliCall::new(
        "ModifyAccountRelation",
        "2017-12-14",
        &[
            ("RelationOperation", "ADD"),
            ("ChildNick", "n"),
            ("RequestId", "r"),
            ("ChildUserId", "0"),
        ],
    )
    .rpc(&h)
    .await;
    assert!(
        r.ali_message().contains("ChildUserId"),
        "{}",
        r.ali_message()
    );
    let r = AliCall::new("DescribeUserStatus", "2019-01-03", &[("Lang", "fr_fr")])
        .rpc(&h)
        .await;
    assert_eq!(r.ali_code(), "InvalidParameter");

    let r = TcCall::modify_user_type(json!({"UserId": "1", "UserType": "ROOT"}))
        .send(&h)
        .await;
    assert_eq!(r.tc_code(), "InvalidParameter.InvalidUserType");
    let r = TcCall::modify_user_type(json!({"UserId": "x1", "UserType": "ADMIN"}))
        .send(&h)
        .await;
    assert_eq!(r.tc_code(), "InvalidParameterValue");
    let r = TcCall::modify_user_type(json!({"UserId": "1", "UserType": "ADMIN", "Color": "red"}))
        .send(&h)
        .await;
    assert_eq!(r.tc_code(), "UnknownParameter");
    assert!(r.tc_message().contains("Color"));
}

// === QPS ===

#[tokio::test]
async fn documented_qps_is_enforced_per_key_with_a_sliding_window() {
    let h = start().await;
    let mut replies = Vec::new();
    for _ in 0..11 {
        replies.push(AliCall::describe_user_status().rpc(&h).await);
    }
    for r in &replies[..10] {
        assert_eq!(r.status, 200, "{:?}", r.body);
    }
    let r = &replies[10];
    assert_eq!((r.status, r.ali_code()), (400, "Throttling.User"));
    assert_eq!(
        r.ali_message(),
        "Request was denied due to user flow control."
    );
    // Another key has its own budget.
    let other = AliCall::describe_user_status().key(STS_ALI_ID, STS_ALI_SECRET, Some(STS_TOKEN));
    assert_eq!(other.rpc(&h).await.status, 200);

    let stats = h.emu.stats();
    let a = &stats.actions["DescribeUserStatus"];
    assert_eq!((a.received, a.ok, a.throttled, a.errors), (12, 11, 1, 0));
    assert_eq!(a.max_in_any_1s_window, 12);
    assert_eq!(a.per_key[DEMO_ALIBABA_ID].throttled, 1);
    assert_eq!(a.per_key[STS_ALI_ID].ok, 1);
    assert_eq!(h.emu.calls().last().unwrap().outcome, "ok");
    assert_eq!(h.emu.calls()[10].outcome, "Throttling.User");

    // One second later the window has slid.
    tokio::time::sleep(Duration::from_millis(1050)).await;
    assert_eq!(AliCall::describe_user_status().rpc(&h).await.status, 200);
}

#[tokio::test]
async fn tencent_qps_gives_request_limit_exceeded() {
    let h = start().await;
    let mut codes = Vec::new();
    for _ in 0..21 {
        let r = TcCall::good().send(&h).await;
        codes.push(
            r.body["Response"]["Error"]["Code"]
                .as_str()
                .unwrap_or("ok")
                .to_string(),
        );
    }
    assert!(codes[..20].iter().all(|c| c == "ok"), "{codes:?}");
    assert_eq!(codes[20], "RequestLimitExceeded");
    assert_eq!(h.emu.stats().actions["ModifyUserType"].throttled, 1);
}

// === faults ===

#[tokio::test]
async fn injected_error_codes_in_each_vendor_shape() {
    let h = start().await;
    let err = |code: &str| FaultKind::Error {
        code: code.into(),
        http_status: None,
        message: None,
    };
    h.emu
        .inject(Fault::once("SetResellerUserStatus", err("UndefinedError")));
    let r = AliCall::set_reseller_user_status().acs3(&h).await;
    assert_eq!(
        (r.status, r.ali_code()),
        (500, "UndefinedError"),
        "documented status"
    );
    assert!(r.body["HostId"].is_string() && r.body["Recommend"].is_string());
    assert_eq!(
        AliCall::set_reseller_user_status().acs3(&h).await.status,
        200,
        "times = 1"
    );

    h.emu
        .inject(Fault::once("SetResellerUserStatus", err("-116")));
    let r = AliCall::set_reseller_user_status().rpc(&h).await;
    assert_eq!((r.status, r.ali_code()), (200, "-116"));
    assert_eq!(r.body["Success"], false);

    h.emu.inject(Fault::once(
        "DescribeUserStatus",
        FaultKind::Error {
            code: "Throttling.Api".into(),
            http_status: Some(429),
            message: Some("slow down".into()),
        },
    ));
    let r = AliCall::describe_user_status().rpc(&h).await;
    assert_eq!(
        (r.status, r.ali_code(), r.ali_message()),
        (429, "Throttling.Api", "slow down")
    );

    h.emu
        .inject(Fault::once("ModifyUserType", err("UnauthorizedOperation.UserNotExist")).times(2));
    for _ in 0..2 {
        let r = TcCall::good().send(&h).await;
        assert_eq!(
            (r.status, r.tc_code()),
            (200, "UnauthorizedOperation.UserNotExist")
        );
        assert_eq!(r.tc_message(), "The sub-user does not exist.");
    }
    assert!(TcCall::good().send(&h).await.body["Response"]
        .get("Error")
        .is_none());

    // Faults apply after the signature check: a badly signed call never consumes one.
    h.emu
        .inject(Fault::once("DescribeUserStatus", err("InternalError")));
    let bad = AliCall::describe_user_status()
        .secret("wrong")
        .rpc(&h)
        .await;
    assert_eq!(bad.ali_code(), "SignatureDoesNotMatch");
    assert_eq!(
        AliCall::describe_user_status().rpc(&h).await.ali_code(),
        "InternalError"
    );
    let stats = h.emu.stats();
    assert_eq!(stats.actions["SetResellerUserStatus"].errors, 2);
}

#[tokio::test]
async fn injected_http_5xx_with_a_vendor_body() {
    let h = start().await;
    h.emu
        .inject(Fault::once("DescribeUserStatus", FaultKind::HttpStatus { status: 503 }).times(0));
    for _ in 0..3 {
        let r = AliCall::describe_user_status().acs3(&h).await;
        assert_eq!((r.status, r.ali_code()), (503, "ServiceUnavailable"));
    }
    h.emu.clear_faults();
    assert_eq!(AliCall::describe_user_status().acs3(&h).await.status, 200);
    h.emu.inject(Fault::once(
        "ModifyUserType",
        FaultKind::HttpStatus { status: 502 },
    ));
    let r = TcCall::good().send(&h).await;
    assert_eq!((r.status, r.tc_code()), (502, "InternalError"));
}

#[tokio::test]
async fn injected_delay_then_normal_handling() {
    let h = start().await;
    h.emu.inject(Fault::once(
        "DescribeUserStatus",
        FaultKind::Delay { ms: 400 },
    ));
    let t = Instant::now();
    let r = AliCall::describe_user_status().rpc(&h).await;
    let took = t.elapsed();
    assert_eq!(r.status, 200);
    assert!(took >= Duration::from_millis(380), "{took:?}");
    assert!(took < Duration::from_secs(5), "{took:?}");
    let t = Instant::now();
    AliCall::describe_user_status().rpc(&h).await;
    assert!(t.elapsed() < Duration::from_millis(380), "only once");
}

#[tokio::test]
async fn injected_drop_closes_the_connection_without_a_response() {
    let h = start().await;
    h.emu.inject(Fault::once("ModifyUserType", FaultKind::Drop));
    let call = TcCall::good();
    let signed = tc3::sign(&tc3::Tc3Input {
        host: &h.host,
        service: "dlc",
        secret_id: &call.id,
        secret_key: &call.secret,
        timestamp: call.timestamp,
        content_type: "application/json",
        body: call.body.as_bytes(),
    });
    let err = client()
        .post(format!("{}/", h.base))
        .header("Authorization", signed.authorization)
        .header("Content-Type", "application/json")
        .header("X-TC-Action", "ModifyUserType")
        .header("X-TC-Version", "2021-01-25")
        .header("X-TC-Timestamp", call.timestamp.to_string())
        .header("X-TC-Region", "ap-guangzhou")
        .body(call.body.clone())
        .send()
        .await
        .expect_err("no response");
    assert!(!err.is_timeout() && !err.is_status(), "{err:?}");
    let last: ReceivedCall = h.emu.calls().pop().unwrap();
    assert_eq!(
        (last.http_status, last.outcome.as_str()),
        (0, "connection_dropped")
    );
    // The server keeps serving.
    assert!(TcCall::good().send(&h).await.body["Response"]
        .get("Error")
        .is_none());
}

// === records and admin API ===

#[tokio::test]
async fn calls_log_records_what_was_received() {
    let h = start().await;
    let call = AliCall::describe_user_status();
    call.acs3(&h).await;
    TcCall::good().send(&h).await;
    AliCall::set_reseller_user_status().rpc(&h).await;
    let calls = h.emu.calls();
    assert_eq!(calls.len(), 3);
    let c = &calls[0];
    assert_eq!(c.seq, 1);
    assert_eq!((c.vendor.as_str(), c.scheme.as_str()), ("alibaba", "ACS3"));
    assert_eq!(c.action, "DescribeUserStatus");
    assert_eq!(c.version.as_deref(), Some("2019-01-03"));
    assert_eq!(c.access_key_id, DEMO_ALIBABA_ID);
    assert_eq!(c.nonce.as_deref(), Some(call.nonce.as_str()));
    assert_eq!(c.timestamp.as_deref(), Some(call.timestamp.as_str()));
    assert_eq!(c.params["Lang"], "en_us");
    assert_eq!((c.http_status, c.outcome.as_str()), (200, "ok"));
    assert!(chrono::DateTime::parse_from_rfc3339(&c.received_at).is_ok());
    assert!(c.received_at.ends_with('Z') && c.received_at.contains('.'));

    let t = &calls[1];
    assert_eq!((t.vendor.as_str(), t.scheme.as_str()), ("tencent", "TC3"));
    assert_eq!(t.region.as_deref(), Some("ap-guangzhou"));
    assert_eq!(t.params["UserType"], "ADMIN");
    assert_eq!(t.nonce, None);
    let r = &calls[2];
    assert_eq!(r.scheme, "RPC-V1");
    assert!(!r.params.contains_key("Signature") && !r.params.contains_key("AccessKeyId"));
    assert_eq!(r.params.len(), 3);

    let text = serde_json::to_string(&calls).unwrap();
    for secret in [DEMO_ALIBABA_SECRET, DEMO_TENCENT_SECRET, "Signature"] {
        assert!(!text.contains(secret), "{secret} leaked into the log");
    }
}

#[tokio::test]
async fn admin_api_over_http() {
    let h = start().await;
    let admin = |path: &str| format!("{}/_emulator/{path}", h.base);
    let health: Value = h
        .http
        .get(admin("health"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(health["status"], "ok");

    let fault = json!({"action": "DescribeUserStatus", "kind": {"type": "error", "code": "ServiceUnavailable"}, "times": 2});
    let resp = h
        .http
        .post(admin("faults"))
        .json(&fault)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
    let listed: Value = h
        .http
        .get(admin("faults"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(listed["faults"][0]["times"], 2);
    let r = AliCall::describe_user_status().rpc(&h).await;
    assert_eq!((r.status, r.ali_code()), (503, "ServiceUnavailable"));
    let resp = h.http.delete(admin("faults")).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(AliCall::describe_user_status().rpc(&h).await.status, 200);

    let bad = h
        .http
        .post(admin("faults"))
        .body("{")
        .header("content-type", "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
    let bad = h
        .http
        .post(admin("faults"))
        .json(&json!({"action": "X", "kind": {"type": "http_status", "status": 9}}))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);

    TcCall::good().send(&h).await;
    let calls: Vec<ReceivedCall> = h
        .http
        .get(admin("calls"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(calls.len(), 3);
    let only: Vec<ReceivedCall> = h
        .http
        .get(admin("calls?action=ModifyUserType"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(only.len(), 1);
    assert_eq!(only[0].scheme, "TC3");
    let stats: Stats = h
        .http
        .get(admin("stats"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(stats, h.emu.stats());
    assert_eq!(stats.actions["DescribeUserStatus"].errors, 1);
    assert_eq!(stats.total, 3);

    let call = AliCall::describe_user_status();
    assert_eq!(call.rpc(&h).await.status, 200);
    let resp = h.http.post(admin("reset")).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert!(h.emu.calls().is_empty());
    assert_eq!(h.emu.stats(), Stats::default());
    assert_eq!(call.rpc(&h).await.status, 200, "reset forgets nonces");

    let missing = h.http.get(admin("nothing")).send().await.unwrap();
    assert_eq!(missing.status(), 404);
}

#[tokio::test]
async fn requests_without_a_scheme_and_odd_methods() {
    let h = start().await;
    let r = reply(
        h.http
            .post(format!("{}/?Foo=1", h.base))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!((r.status, r.ali_code()), (400, "MissingAction"));
    let r = reply(
        h.http
            .put(format!("{}/?Action=DescribeUserStatus", h.base))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(r.ali_code(), "UnsupportedHTTPMethod");
    let r = reply(
        h.http
            .get(format!("{}/", h.base))
            .header("X-TC-Action", "ModifyUserType")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(r.tc_code(), "UnsupportedProtocol");
    // Garbage that must not panic the server.
    let r = reply(
        h.http
            .post(format!("{}/?Action=%FF&AccessKeyId", h.base))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(r.ali_code(), "InvalidParameter");
    let r = reply(
        h.http
            .post(format!("{}/", h.base))
            .header("X-TC-Action", "ModifyUserType")
            .header("Authorization", "TC3-HMAC-SHA256 nonsense")
            .body(vec![0xff, 0x00])
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(r.tc_code(), "AuthFailure.InvalidAuthorization");
}

#[tokio::test]
async fn shutdown_stops_the_listener() {
    let h = start().await;
    assert_eq!(AliCall::describe_user_status().rpc(&h).await.status, 200);
    let base = h.base.clone();
    let Harness { emu, .. } = h;
    tokio::time::timeout(Duration::from_secs(5), emu.shutdown())
        .await
        .expect("shutdown returns promptly");
    let err = client()
        .get(format!("{base}/_emulator/health"))
        .send()
        .await;
    assert!(err.is_err(), "nothing listens any more");
}
