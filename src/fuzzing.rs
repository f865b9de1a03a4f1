//! Fuzz entry points: each takes arbitrary bytes, drives one real code path
//! of the gateway with them and asserts its invariants (a broken invariant is
//! a panic, which the fuzzer reports as a crash).
//!
//! - [`vendor_response`]: a vendor HTTP reply through `vendors::interpret` and,
//!   on success, `translate::decode_response`.
//! - [`config`]: TOML text through `Config::from_toml`, then the `check-config`
//!   report, which must not show the secrets of the file.
//! - [`request_encoding`]: a request message through `translate::encode_request`,
//!   then `vendors::prepare` with a fixed credential; the signature is checked
//!   again from what goes on the wire.
//!
//! The cargo-fuzz targets in `fuzz/` call these, and `tests/fuzz_regressions.rs`
//! replays the committed seeds and every crash ever found through them.

use std::collections::BTreeSet;
use std::sync::{Arc, OnceLock};

use chrono::TimeZone;
use prost::Message;
use prost_reflect::{DynamicMessage, Kind, ReflectMessage, Value};
use serde_json::Value as Json;
use tonic::Code;

use crate::catalog::{Catalog, ErrorClass, Operation, Vendor, WireEncoding};
use crate::check_config;
use crate::config::{AlibabaSignature, Config, ConfigError, FileConfig};
use crate::credentials::{Credential, CredentialStore};
use crate::error::{GatewayError, Outcome};
use crate::signing::{acs3, rpc_v1, tc3};
use crate::translate::{self, WireParams};
use crate::vendors::{self, Freshness, Target};

/// The access key id every signed fuzz request uses.
pub const FUZZ_ACCESS_KEY_ID: &str = "LTAIfuzzKeyId0001";
/// The secret every signed fuzz request uses; it must never appear in a request.
pub const FUZZ_SECRET: &str = "FuzzSecretNeverOnTheWire";
/// The STS token of the fuzz credential (when the input asks for one).
pub const FUZZ_TOKEN: &str = "FuzzSecurityToken";

/// HTTP statuses [`vendor_response`] picks from (the second input byte).
const STATUSES: &[u16] = &[
    200, 200, 200, 201, 204, 299, 100, 302, 400, 401, 403, 404, 409, 429, 500, 502, 503, 504, 0,
    599, 600, 999,
];

struct Fixture {
    catalog: Catalog,
    ops: Vec<Arc<Operation>>,
    targets: Vec<Target>,
}

/// The operations the selector byte picks from, in the order the committed
/// seeds were made for (the five seed operations: every wire encoding and
/// both vendors' error shapes).
pub const FUZZED_PATHS: &[&str] = &[
    "/aliyun.bssopenapi.v20171214.BssOpenApi/SetResellerUserStatus",
    "/aliyun.bssopenapi.v20171214.BssOpenApi/ModifyAccountRelation",
    "/aliyun.cloudsso.v20210515.CloudSSO/UpdateUserStatus",
    "/aliyun.sddp.v20190103.Sddp/DescribeUserStatus",
    "/tencentcloud.dlc.v20210125.Dlc/ModifyUserType",
];

/// The catalog, the fuzzed operations and one target per operation, built
/// once per process.
fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let catalog = Catalog::load().expect("the embedded catalog loads");
        let ops: Vec<Arc<Operation>> = FUZZED_PATHS
            .iter()
            .map(|p| catalog.operation(p).expect("a seed operation").clone())
            .collect();
        let targets = ops
            .iter()
            .map(|op| {
                let region = op.service.rule.default_region.clone();
                let base = format!("https://{}/", op.service.host_for(&region));
                Target::new(
                    base.parse().expect("documented hosts are URLs"),
                    region,
                    vendors::Signer::for_vendor(op.vendor(), AlibabaSignature::Acs3),
                )
            })
            .collect();
        Fixture {
            catalog,
            ops,
            targets,
        }
    })
}

/// The operations the fuzz functions pick from.
pub fn operations() -> &'static [Arc<Operation>] {
    &fixture().ops
}

/// The catalog (all operations of both vendors) the fuzz functions use.
pub fn catalog() -> &'static Catalog {
    &fixture().catalog
}

/// The operation a selector byte (the first input byte of [`vendor_response`]
/// and [`request_encoding`]) chooses, and its documented target.
pub fn pick(selector: u8) -> (&'static Arc<Operation>, &'static Target) {
    let f = fixture();
    let ops = &f.ops;
    let i = usize::from(selector) % ops.len();
    (&ops[i], &f.targets[i])
}

/// Builds the input for [`vendor_response`]: operation index, status index,
/// header selector, then the body.
pub fn vendor_response_input(op_index: u8, status_index: u8, headers: u8, body: &[u8]) -> Vec<u8> {
    let mut data = vec![op_index, status_index, headers];
    data.extend_from_slice(body);
    data
}

/// A vendor reply: byte 0 picks the operation, byte 1 the HTTP status, byte 2
/// the `x-acs-retry-after` header; the rest is the body.
pub fn vendor_response(data: &[u8]) {
    let [op_sel, status_sel, header_sel, body @ ..] = data else {
        return;
    };
    let catalog = catalog();
    let (op, target) = pick(*op_sel);
    let status = STATUSES[usize::from(*status_sel) % STATUSES.len()];
    let mut headers = http::HeaderMap::new();
    let retry_after = ["", "250", "abc", "0", " 1000 ", "18446744073709551615"];
    let value = retry_after[usize::from(*header_sel) % retry_after.len()];
    if !value.is_empty() {
        headers.insert("x-acs-retry-after", http::HeaderValue::from_static(value));
    }

    let result = vendors::interpret(catalog, op, target, status, &headers, body);
    let parsed: Option<Json> = serde_json::from_slice(body).ok();
    match result {
        Ok(reply) => {
            assert!(reply.payload.is_object(), "a success payload is an object");
            assert_eq!(reply.http_status, status);
            match op.vendor() {
                Vendor::Tencent => {
                    assert_eq!(status, 200, "Tencent succeeds only with HTTP 200");
                    assert!(reply.payload.get("Error").is_none());
                }
                _ => {
                    assert!((200..300).contains(&status), "Alibaba success is 2xx");
                    assert_ne!(reply.payload.get("Success"), Some(&Json::Bool(false)));
                }
            }
            if let Some(Json::String(id)) = reply.payload.get("RequestId") {
                assert_eq!(&reply.request_id, id);
            }
            decode_success(catalog, op, &reply.payload);
        }
        Err(err) => {
            check_failure(catalog, op, target, status, &err);
            // A reply of the vendor's success shape is never refused.
            let success_shape = match (op.vendor(), &parsed) {
                (Vendor::Tencent, Some(j)) => {
                    status == 200
                        && j.get("Response")
                            .is_some_and(|r| r.is_object() && r.get("Error").is_none())
                }
                (_, Some(j @ Json::Object(_))) => {
                    (200..300).contains(&status) && j.get("Success") != Some(&Json::Bool(false))
                }
                _ => false,
            };
            assert!(!success_shape, "a success-shaped reply was refused: {err}");
            let st = tonic::Status::from(err);
            assert_ne!(st.code(), Code::Ok, "a failure maps to a non-OK status");
        }
    }
}

/// The payload decodes into the operation's output type or fails with a
/// message; a decoded message survives a protobuf round trip.
fn decode_success(catalog: &Catalog, op: &Operation, payload: &Json) {
    match translate::decode_response(catalog, &op.output(), payload) {
        Ok(msg) => {
            assert_eq!(msg.descriptor(), op.output());
            let bytes = msg.encode_to_vec();
            let again = DynamicMessage::decode(op.output(), bytes.as_slice())
                .expect("a decoded response re-decodes");
            // Compared as bytes: decoding may set a field to its default
            // explicitly, which the wire form (rightly) leaves out.
            assert!(
                again.encode_to_vec() == bytes,
                "protobuf round trip changed the response"
            );
            for (field, _) in msg.fields() {
                let key = catalog.vendor_name(&field);
                assert!(
                    payload.get(key).is_some(),
                    "field {} set without a {key} member",
                    field.full_name()
                );
            }
        }
        Err(e) => assert!(!e.is_empty(), "decode errors say what is wrong"),
    }
}

fn check_failure(
    catalog: &Catalog,
    op: &Operation,
    target: &Target,
    status: u16,
    err: &GatewayError,
) {
    match err {
        GatewayError::Vendor(f) => {
            assert!(!f.detail.code.is_empty(), "a vendor failure has a code");
            assert_eq!(
                (f.code, f.class),
                vendors::classify(catalog, op, &f.detail.code, status),
                "a vendor failure carries the catalog's classification"
            );
            assert_ne!(f.code, Code::Ok);
            assert_eq!(f.detail.http_status, i32::from(status));
            assert_eq!(f.detail.action, op.action());
            assert_eq!(f.mutating, op.rule.mutating);
            let vendor = match op.vendor() {
                Vendor::Tencent => "tencent",
                _ => "alibaba",
            };
            assert_eq!(f.detail.vendor, vendor);
            if op.rule.mutating {
                let expected = if f.class == ErrorClass::Unknown {
                    Outcome::Unknown
                } else {
                    Outcome::NotExecuted
                };
                assert_eq!(f.outcome(), Some(expected));
            }
        }
        GatewayError::BadVendorResponse {
            host,
            http_status,
            reason,
            outcome,
            ..
        } => {
            assert_eq!(host, &target.host);
            assert_eq!(*http_status, status);
            assert!(!reason.is_empty(), "a bad reply says what is wrong");
            assert_eq!(*outcome, op.rule.mutating.then_some(Outcome::Unknown));
        }
        other => panic!("interpret returned an unexpected error kind: {other:?}"),
    }
}

/// The top-level config keys; every `ConfigError::Invalid` key starts with one.
const CONFIG_SECTIONS: &[&str] = &[
    "listen",
    "endpoints",
    "regions",
    "signing",
    "http",
    "server",
    "profiles",
    "ratelimit",
    "retry",
    "admin",
    "log",
    "auth",
];

/// A config file: the bytes as TOML (non-UTF-8 inputs are skipped).
pub fn config(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let catalog = catalog();
    let defused = toml::from_str::<FileConfig>(text)
        .ok()
        .and_then(|mut file| defuse_tls(&mut file).then_some(file));
    let result = match defused {
        Some(file) => Config::validate(file, catalog),
        None => Config::from_toml(text, "fuzz.toml", catalog),
    };
    match result {
        Ok(config) => check_report_hides_secrets(text, &config, catalog),
        Err(ConfigError::Parse { path, message }) => {
            assert_eq!(path, "fuzz.toml");
            assert!(!message.is_empty(), "a parse error says what is wrong");
        }
        Err(ConfigError::Invalid { key, reason }) => {
            let section = key.split(['.', '[']).next().unwrap_or_default();
            assert!(
                CONFIG_SECTIONS.contains(&section),
                "config error key {key:?} does not name a config key ({reason})"
            );
            assert!(!reason.is_empty(), "config key {key}: empty reason");
        }
        Err(e @ ConfigError::Read { .. }) => panic!("from_toml never reads a file: {e}"),
    }
}

/// `[auth.tls]` makes validation read the files it names. A path naming
/// something other than a small regular file (a device, a FIFO, a huge file)
/// could block or exhaust memory: such a `tls` table is dropped (returns true).
fn defuse_tls(file: &mut FileConfig) -> bool {
    let Some(auth) = file.auth.as_mut() else {
        return false;
    };
    let Some(tls) = &auth.tls else {
        return false;
    };
    let risky = |p: &str| std::fs::metadata(p).is_ok_and(|m| !m.is_file() || m.len() >= 1 << 20);
    if risky(&tls.cert) || risky(&tls.key) || tls.client_ca.as_deref().is_some_and(risky) {
        auth.tls = None;
        return true;
    }
    false
}

/// Every secret of the file and the same file with the secrets replaced by
/// placeholders: a secret shown in the report of the first but not the
/// second is a leak (anything else is a coincidence of the input).
fn check_report_hides_secrets(text: &str, config: &Config, catalog: &Catalog) {
    let Ok(mut file) = toml::from_str::<FileConfig>(text) else {
        panic!("a file from_toml accepts parses as FileConfig");
    };
    let mut secrets = Vec::new();
    let mut n = 0;
    let mut placeholder = || {
        n += 1;
        format!("fuzzplaceholder{n}")
    };
    let mut hide = |slot: &mut Option<String>, secrets: &mut Vec<String>, min_len: usize| {
        if let Some(v) = slot {
            if v.chars().count() > min_len {
                secrets.push(v.clone());
            }
            *slot = Some(placeholder());
        }
    };
    for profile in file.profiles.values_mut() {
        for keys in [&mut profile.alibaba, &mut profile.tencent]
            .into_iter()
            .flatten()
        {
            // Key ids are shown masked to their first 4 characters.
            hide(&mut keys.access_key_id, &mut secrets, 4);
            hide(&mut keys.access_key_secret, &mut secrets, 0);
            hide(&mut keys.security_token, &mut secrets, 0);
            hide(&mut keys.external_id, &mut secrets, 0);
        }
    }
    for url in [&mut file.http.proxy, &mut file.ratelimit.redis] {
        let Some(mut u) = url.as_deref().and_then(|u| url::Url::parse(u).ok()) else {
            continue;
        };
        if let Some(p) = u.password().filter(|p| !p.is_empty()) {
            secrets.push(p.to_string());
            let _ = u.set_password(Some("fuzzplaceholderpw"));
            *url = Some(u.to_string());
        }
    }
    let env = |_: &str| None;
    let store = CredentialStore::from_config(config, &env, None);
    let report = check_config::report(config, catalog, &store);
    if secrets.is_empty() {
        return;
    }
    defuse_tls(&mut file);
    // Placeholders can fail validation (e.g. a redis URL the client rejects):
    // then there is no baseline to compare with.
    let Ok(hidden) = Config::validate(file, catalog) else {
        return;
    };
    let hidden_store = CredentialStore::from_config(&hidden, &env, None);
    let baseline = check_config::report(&hidden, catalog, &hidden_store);
    for s in &secrets {
        assert!(
            !report.contains(s.as_str()) || baseline.contains(s.as_str()),
            "check-config shows a secret ({} chars):\n{report}",
            s.len()
        );
    }
}

/// Reads the input for the structured request mode.
struct Bytes<'a>(&'a [u8]);

impl Bytes<'_> {
    fn byte(&mut self) -> Option<u8> {
        let (b, rest) = self.0.split_first()?;
        self.0 = rest;
        Some(*b)
    }

    fn take(&mut self, n: usize) -> &[u8] {
        let n = n.min(self.0.len());
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        head
    }

    fn int(&mut self, width: usize) -> i64 {
        let mut buf = [0u8; 8];
        let head = self.take(width);
        buf[..head.len()].copy_from_slice(head);
        i64::from_le_bytes(buf)
    }
}

/// The request message, field by field from the bytes: per field a control
/// byte (bit 0 set, bit 1 pick an allowed value, bits 2-3 list length), then
/// each value (strings length-prefixed).
fn structured_request(op: &Operation, data: &[u8]) -> DynamicMessage {
    let mut msg = DynamicMessage::new(op.input());
    let mut input = Bytes(data);
    for f in op.fields() {
        let Some(control) = input.byte() else { break };
        if control & 1 == 0 {
            continue;
        }
        let count = if f.field.is_list() {
            usize::from((control >> 2) & 3)
        } else {
            1
        };
        let mut values = Vec::with_capacity(count);
        for _ in 0..count {
            let value = match f.field.kind() {
                Kind::String if control & 2 != 0 && !f.rule.allowed_values.is_empty() => {
                    let i = usize::from(input.byte().unwrap_or(0)) % f.rule.allowed_values.len();
                    Value::String(f.rule.allowed_values[i].clone())
                }
                Kind::String => {
                    let n = usize::from(input.byte().unwrap_or(0));
                    Value::String(String::from_utf8_lossy(input.take(n)).into_owned())
                }
                Kind::Int64 => Value::I64(input.int(8)),
                Kind::Int32 => Value::I32(input.int(4) as i32),
                Kind::Bool => Value::Bool(control & 2 != 0),
                other => panic!("the catalog admits no {other:?} request field"),
            };
            values.push(value);
        }
        let value = if f.field.is_list() {
            Value::List(values)
        } else {
            values.pop().expect("one value")
        };
        msg.try_set_field(&f.field, value)
            .expect("values of the field's own kind are accepted");
    }
    msg
}

/// Builds the input for [`request_encoding`] from an encoded request message.
pub fn request_encoding_input(op_index: u8, flags: u8, message: &[u8]) -> Vec<u8> {
    let mut data = vec![op_index, flags & !1];
    data.extend_from_slice(message);
    data
}

/// A request: byte 0 picks the operation, byte 1 holds flags (bit 0: the rest
/// is field-by-field input rather than protobuf; bit 1: Alibaba RPC v1 rather
/// than ACS3; bit 2: an STS token). The request is validated, encoded and
/// signed, and the signed request is checked as a vendor would check it.
pub fn request_encoding(data: &[u8]) {
    let [op_sel, flags, rest @ ..] = data else {
        return;
    };
    let (op, target) = pick(*op_sel);
    let msg = if flags & 1 == 0 {
        match DynamicMessage::decode(op.input(), rest) {
            Ok(m) => m,
            Err(_) => return,
        }
    } else {
        structured_request(op, rest)
    };
    let params = match translate::encode_request(catalog(), op, &msg) {
        Ok(p) => p,
        Err(violations) => {
            assert!(!violations.is_empty(), "a refusal names a violation");
            for v in &violations {
                let name = v.field.split('[').next().unwrap_or_default();
                assert!(
                    op.fields().iter().any(|f| f.proto_name() == name),
                    "violation of an undeclared field {:?}",
                    v.field
                );
                assert!(!v.description.is_empty());
            }
            return;
        }
    };
    check_params(op, &msg, &params);

    let scheme = if flags & 2 == 0 {
        AlibabaSignature::Acs3
    } else {
        AlibabaSignature::RpcV1
    };
    let token = (flags & 4 != 0).then(|| FUZZ_TOKEN.to_string());
    let credential = Credential::new(
        FUZZ_ACCESS_KEY_ID.into(),
        FUZZ_SECRET.into(),
        token.clone(),
        "fuzz",
    )
    .expect("the fuzz credential is valid");
    let fresh = Freshness {
        now: chrono::Utc
            .with_ymd_and_hms(2025, 1, 15, 8, 30, 45)
            .single()
            .expect("a valid date"),
        nonce: "0123456789abcdef0123456789abcdef".into(),
    };
    // The target of this input's scheme.
    let target = &Target {
        signer: vendors::Signer::for_vendor(op.vendor(), scheme),
        ..target.clone()
    };
    let req = vendors::prepare(op, &params, &credential, target, &fresh)
        .expect("encoded params match the operation's vendor");

    if !contains(data, FUZZ_SECRET.as_bytes()) {
        let leaked = req.url.contains(FUZZ_SECRET)
            || req.headers.iter().any(|(_, v)| v.contains(FUZZ_SECRET))
            || contains(&req.body, FUZZ_SECRET.as_bytes());
        assert!(!leaked, "the secret key is in the signed request");
    }
    let header = |name: &str| {
        req.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    let url = url::Url::parse(&req.url).expect("the signed URL parses");
    let wire_query: Vec<(String, String)> = url.query_pairs().into_owned().collect();
    match (&params, op.vendor(), scheme) {
        (WireParams::Query(params), Vendor::Alibaba, AlibabaSignature::Acs3) => {
            let query = &params.query;
            assert_eq!(
                sorted(&wire_query),
                sorted(query),
                "the URL carries the params"
            );
            let auth = acs3::parse_authorization(header("authorization").expect("authorization"))
                .expect("a well-formed ACS3 authorization");
            assert_eq!(auth.access_key_id, FUZZ_ACCESS_KEY_ID);
            assert_eq!(header("x-acs-action"), Some(op.action()));
            assert_eq!(header("x-acs-version"), Some(op.version()));
            assert_eq!(header("x-acs-security-token"), token.as_deref());
            let signed: Vec<(String, String)> = auth
                .signed_headers
                .iter()
                .map(|name| {
                    let value = match name.as_str() {
                        "host" => Some(target.host.as_str()),
                        other => header(other),
                    };
                    (
                        name.clone(),
                        value.expect("signed headers are sent").to_string(),
                    )
                })
                .collect();
            let hashed = header("x-acs-content-sha256").expect("the payload hash header");
            assert_eq!(hashed, acs3::EMPTY_SHA256);
            let (canonical, _) = acs3::canonical_request("POST", "/", &wire_query, &signed, hashed);
            let expected = acs3::signature(FUZZ_SECRET, &acs3::string_to_sign(&canonical));
            assert_eq!(auth.signature, expected, "the ACS3 signature verifies");
        }
        (WireParams::Query(params), Vendor::Alibaba, AlibabaSignature::RpcV1) => {
            let query = &params.query;
            let get = |k: &str| {
                wire_query
                    .iter()
                    .find(|(n, _)| n == k)
                    .map(|(_, v)| v.as_str())
            };
            assert_eq!(get("AccessKeyId"), Some(FUZZ_ACCESS_KEY_ID));
            assert_eq!(get("Action"), Some(op.action()));
            assert_eq!(get("Version"), Some(op.version()));
            assert_eq!(get("SecurityToken"), token.as_deref());
            for p in query {
                if !rpc_v1::RESERVED_PARAMETERS.contains(&p.0.as_str()) {
                    assert!(wire_query.contains(p), "{} is not on the wire", p.0);
                }
            }
            let signature = get("Signature").expect("a Signature parameter");
            let others: Vec<(String, String)> = wire_query
                .iter()
                .filter(|(n, _)| n != "Signature")
                .cloned()
                .collect();
            let (_, expected) = rpc_v1::compute_signature("POST", &others, FUZZ_SECRET);
            assert_eq!(signature, expected, "the RPC v1 signature verifies");
        }
        (WireParams::Json(body), Vendor::Tencent, _) => {
            assert!(wire_query.is_empty(), "Tencent sends no query");
            let sent: Json = serde_json::from_slice(&req.body).expect("the body is JSON");
            assert_eq!(
                sent,
                Json::Object(body.clone()),
                "the body carries the params"
            );
            let auth = tc3::parse_authorization(header("authorization").expect("authorization"))
                .expect("a well-formed TC3 authorization");
            assert_eq!(auth.secret_id, FUZZ_ACCESS_KEY_ID);
            assert_eq!(auth.service, op.service.rule.signing_service);
            assert_eq!(auth.signed_headers, ["content-type", "host"]);
            assert_eq!(header("x-tc-action"), Some(op.action()));
            assert_eq!(header("x-tc-token"), token.as_deref());
            let timestamp: i64 = header("x-tc-timestamp")
                .and_then(|t| t.parse().ok())
                .expect("a numeric x-tc-timestamp");
            let again = tc3::sign(&tc3::Tc3Input {
                host: &target.host,
                service: &auth.service,
                secret_id: FUZZ_ACCESS_KEY_ID,
                secret_key: FUZZ_SECRET,
                timestamp,
                content_type: header("content-type").expect("content-type"),
                body: &req.body,
            });
            assert_eq!(
                auth.signature, again.signature,
                "the TC3 signature verifies"
            );
        }
        (p, vendor, _) => panic!("{vendor:?} operation encoded as {p:?}"),
    }
}

/// The encoded parameters hold only declared fields, every required field
/// and every set field.
fn check_params(op: &Operation, msg: &DynamicMessage, params: &WireParams) {
    let mut sent: BTreeSet<&str> = BTreeSet::new();
    match params {
        WireParams::Query(params) => {
            for (name, _) in params.query.iter().chain(&params.form) {
                let field = op.fields().iter().find(|f| match f.rule.encoding() {
                    WireEncoding::QueryFlatList => name
                        .strip_prefix(f.rule.name.as_str())
                        .and_then(|r| r.strip_prefix('.'))
                        .and_then(|n| n.parse::<usize>().ok())
                        .is_some_and(|n| n >= 1),
                    _ => name == &f.rule.name,
                });
                let field = field.unwrap_or_else(|| panic!("undeclared query parameter {name:?}"));
                sent.insert(field.proto_name());
            }
        }
        WireParams::Json(body) => {
            for name in body.keys() {
                let field = op
                    .fields()
                    .iter()
                    .find(|f| &f.rule.name == name)
                    .unwrap_or_else(|| panic!("undeclared body member {name:?}"));
                sent.insert(field.proto_name());
            }
        }
    }
    for f in op.fields() {
        let set = if f.field.is_list() {
            msg.get_field(&f.field)
                .as_list()
                .is_some_and(|l| !l.is_empty())
        } else {
            msg.has_field(&f.field)
        };
        if f.rule.required {
            assert!(set, "{} is required but was accepted unset", f.proto_name());
        }
        assert_eq!(
            sent.contains(f.proto_name()),
            set,
            "{} set/sent mismatch",
            f.proto_name()
        );
    }
}

fn sorted(pairs: &[(String, String)]) -> Vec<(String, String)> {
    let mut v = pairs.to_vec();
    v.sort();
    v
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}
