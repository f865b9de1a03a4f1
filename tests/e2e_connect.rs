//! Connect (JSON and proto, POST and GET) and gRPC-Web on the gRPC port,
//! against the vendor emulator: success, validation, vendor errors, the rate
//! limit, deadlines and caller auth on each protocol, with reqwest as the
//! HTTP client (HTTP/1.1 and h2c) and gRPC-Web frames made by hand.

mod support;

use std::time::{Duration, Instant};

use base64::Engine;
use cloudgate::catalog::Catalog;
use cloudgate::emulator::FaultKind;
use prost::Message;
use prost_reflect::DynamicMessage;
use sha2::{Digest, Sha256};
use support::{fault, Harness, Options};

const DESCRIBE: &str = "/aliyun.sddp.v20190103.Sddp/DescribeUserStatus";
const UPDATE: &str = "/aliyun.cloudsso.v20210515.CloudSSO/UpdateUserStatus";
const SRUS: &str = "/aliyun.bssopenapi.v20171214.BssOpenApi/SetResellerUserStatus";
const UPDATE_JSON: &str = r#"{"directoryId": "d-00fc2p61abcd", "userId": "u-00q8wbq42wiltcrkabcd", "newStatus": "Disabled"}"#;
const TOKEN: &str = "connect-caller-token-0123456789abcdef";

/// How a test call travels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Proto {
    /// Connect, `application/json`, HTTP/1.1.
    Json,
    /// Connect, `application/proto`, h2c.
    Binary,
    /// Connect GET, `?encoding=json`, HTTP/1.1.
    Get,
    /// gRPC-Web, `application/grpc-web+proto`, HTTP/1.1 (as browsers may).
    Web,
}
use Proto::*;

const ALL: [Proto; 4] = [Json, Binary, Get, Web];
const POSTS: [Proto; 3] = [Json, Binary, Web];

/// A reply in any protocol: the Connect code name ("ok" on success), the
/// message, the status details and the reply message as proto3 JSON.
#[derive(Debug)]
struct Reply {
    http: u16,
    headers: reqwest::header::HeaderMap,
    code: String,
    message: String,
    details: Vec<(String, Vec<u8>)>,
    json: serde_json::Value,
}

impl Reply {
    fn detail<M: Message + Default>(&self, type_name: &str) -> Option<M> {
        self.details
            .iter()
            .find(|(t, _)| t == type_name)
            .map(|(_, v)| M::decode(v.as_slice()).unwrap())
    }

    fn bad_fields(&self) -> Vec<String> {
        self.detail::<tonic_types::pb::BadRequest>("google.rpc.BadRequest")
            .map(|b| b.field_violations.into_iter().map(|v| v.field).collect())
            .unwrap_or_default()
    }

    fn reason(&self) -> String {
        self.detail::<tonic_types::pb::ErrorInfo>("google.rpc.ErrorInfo")
            .map(|i| i.reason)
            .unwrap_or_default()
    }
}

struct Client {
    base: String,
    http1: reqwest::Client,
    h2c: reqwest::Client,
    catalog: Catalog,
}

fn b64(text: &str) -> Vec<u8> {
    base64::engine::general_purpose::STANDARD_NO_PAD
        .decode(text.trim_end_matches('='))
        .unwrap()
}

impl Client {
    fn new(h: &Harness) -> Self {
        Self {
            base: format!("http://{}", h.addr),
            http1: reqwest::Client::builder().http1_only().build().unwrap(),
            h2c: reqwest::Client::builder()
                .http2_prior_knowledge()
                .build()
                .unwrap(),
            catalog: Catalog::load().unwrap(),
        }
    }

    fn message(&self, path: &str, json: &str) -> DynamicMessage {
        let op = self.catalog.operation(path).unwrap();
        let mut de = serde_json::Deserializer::from_str(json);
        DynamicMessage::deserialize(op.input(), &mut de).unwrap()
    }

    /// Calls `path` with the request `json` in protocol `proto`.
    async fn call(&self, proto: Proto, path: &str, json: &str, headers: &[(&str, &str)]) -> Reply {
        let url = format!("{}{path}", self.base);
        let req = match proto {
            Json => self
                .http1
                .post(&url)
                .header("content-type", "application/json")
                .header("connect-protocol-version", "1")
                .body(json.to_string()),
            Binary => self
                .h2c
                .post(&url)
                .header("content-type", "application/proto")
                .body(self.message(path, json).encode_to_vec()),
            Get => {
                let q: String = url::form_urlencoded::Serializer::new(String::new())
                    .append_pair("encoding", "json")
                    .append_pair("message", json)
                    .append_pair("connect", "v1")
                    .finish();
                self.http1.get(format!("{url}?{q}"))
            }
            Web => {
                let msg = self.message(path, json).encode_to_vec();
                let mut frame = vec![0u8];
                frame.extend_from_slice(&(msg.len() as u32).to_be_bytes());
                frame.extend_from_slice(&msg);
                self.http1
                    .post(&url)
                    .header("content-type", "application/grpc-web+proto")
                    .header("x-grpc-web", "1")
                    .body(frame)
            }
        };
        let mut req = req;
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let resp = req.send().await.unwrap();
        self.parse(proto, path, resp).await
    }

    /// A Connect POST with a body and content type of the test's choosing.
    async fn raw(&self, path: &str, content_type: &str, body: Vec<u8>) -> Reply {
        let resp = self
            .http1
            .post(format!("{}{path}", self.base))
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .unwrap();
        self.parse(Json, path, resp).await
    }

    async fn parse(&self, proto: Proto, path: &str, resp: reqwest::Response) -> Reply {
        // None for a path that is no operation (only errors expected then).
        let output = self.catalog.operation(path).map(|op| op.output());
        let http = resp.status().as_u16();
        let headers = resp.headers().clone();
        let body = resp.bytes().await.unwrap();
        let mut reply = Reply {
            http,
            headers: headers.clone(),
            code: "ok".into(),
            message: String::new(),
            details: Vec::new(),
            json: serde_json::Value::Null,
        };
        if proto == Web {
            return parse_web(reply, &headers, &body, output.unwrap());
        }
        let content_type = headers
            .get("content-type")
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default();
        if http != 200 {
            assert_eq!(content_type, "application/json", "Connect errors are JSON");
            let err: serde_json::Value = serde_json::from_slice(&body).unwrap();
            reply.code = err["code"].as_str().unwrap().to_string();
            reply.message = err["message"].as_str().unwrap_or("").to_string();
            for d in err["details"].as_array().into_iter().flatten() {
                reply.details.push((
                    d["type"].as_str().unwrap().to_string(),
                    b64(d["value"].as_str().unwrap()),
                ));
            }
            return reply;
        }
        reply.json = if proto == Binary {
            assert_eq!(content_type, "application/proto");
            serde_json::to_value(DynamicMessage::decode(output.unwrap(), body.as_ref()).unwrap())
                .unwrap()
        } else {
            assert_eq!(content_type, "application/json");
            serde_json::from_slice(&body).unwrap()
        };
        reply
    }
}

/// A gRPC-Web reply: data frames (flag 0) and a trailers frame (flag 0x80),
/// or the status in the headers (trailers-only).
fn parse_web(
    mut reply: Reply,
    headers: &reqwest::header::HeaderMap,
    body: &[u8],
    output: prost_reflect::MessageDescriptor,
) -> Reply {
    assert_eq!(reply.http, 200, "gRPC-Web answers HTTP 200");
    let mut trailers: Vec<(String, String)> = headers
        .iter()
        .filter(|(k, _)| k.as_str().starts_with("grpc-"))
        .map(|(k, v)| (k.to_string(), v.to_str().unwrap().to_string()))
        .collect();
    let mut data = None;
    let mut rest = body;
    while !rest.is_empty() {
        let flag = rest[0];
        let len = u32::from_be_bytes(rest[1..5].try_into().unwrap()) as usize;
        let payload = &rest[5..5 + len];
        if flag & 0x80 != 0 {
            for line in std::str::from_utf8(payload).unwrap().split("\r\n") {
                if let Some((k, v)) = line.split_once(':') {
                    trailers.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
                }
            }
        } else {
            data = Some(payload.to_vec());
        }
        rest = &rest[5 + len..];
    }
    let get = |k: &str| {
        trailers
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.clone())
    };
    let status: i32 = get("grpc-status").expect("grpc-status").parse().unwrap();
    reply.code = cloudgate::server::connect_code_name(tonic::Code::from(status)).to_string();
    reply.message = percent_encoding::percent_decode_str(&get("grpc-message").unwrap_or_default())
        .decode_utf8_lossy()
        .into_owned();
    if let Some(bin) = get("grpc-status-details-bin") {
        let st = tonic_types::pb::Status::decode(b64(&bin).as_slice()).unwrap();
        for any in st.details {
            let name = any.type_url.rsplit('/').next().unwrap().to_string();
            reply.details.push((name, any.value));
        }
    }
    if status == 0 {
        let msg = DynamicMessage::decode(output, data.expect("a data frame").as_slice()).unwrap();
        reply.json = serde_json::to_value(msg).unwrap();
    }
    reply
}

async fn start(extra_toml: &str) -> Harness {
    Harness::with(Options {
        extra_toml: format!("[retry]\nmax_attempts = 1\n{extra_toml}"),
        ..Default::default()
    })
    .await
}

#[tokio::test]
async fn reads_and_writes_succeed_on_every_protocol() {
    let h = start("").await;
    let c = Client::new(&h);
    for (i, proto) in ALL.into_iter().enumerate() {
        let r = c
            .call(
                proto,
                DESCRIBE,
                r#"{"lang": "en_us", "featureType": 2}"#,
                &[],
            )
            .await;
        assert_eq!((r.http, r.code.as_str()), (200, "ok"), "{proto:?}: {r:?}");
        assert_eq!(r.json["userStatus"]["chargeType"], "PREPAY", "{proto:?}");
        assert_eq!(r.json["userStatus"]["remainDays"], "131", "{proto:?}");
        assert_eq!(r.json["requestId"].as_str().unwrap().len(), 36);
        let call = &h.emulator.calls()[i];
        assert_eq!(call.params["Lang"], "en_us", "{proto:?}");
        assert_eq!(call.params["FeatureType"], "2", "{proto:?}");
    }
    // A write, with the region header as metadata.
    for proto in POSTS {
        let r = c
            .call(
                proto,
                UPDATE,
                UPDATE_JSON,
                &[("x-cloud-region", "cn-shanghai")],
            )
            .await;
        assert_eq!(r.code, "ok", "{proto:?}: {r:?}");
        assert_eq!(r.json["requestId"].as_str().unwrap().len(), 36);
        let last = h.emulator.calls().pop().unwrap();
        assert_eq!(last.params["UserId"], "u-00q8wbq42wiltcrkabcd");
        assert_eq!(last.params["NewStatus"], "Disabled");
    }
    assert_eq!(h.emulator.calls().len(), 7);
    // A write is POST only: a GET is refused without a vendor call.
    let r = c.call(Get, UPDATE, UPDATE_JSON, &[]).await;
    assert_eq!((r.http, r.code.as_str()), (405, "unimplemented"), "{r:?}");
    assert_eq!(r.headers["allow"], "POST");
    assert_eq!(h.emulator.calls().len(), 7);
    // GET with base64 proto works too.
    let msg = c.message(DESCRIBE, r#"{"lang": "zh_cn"}"#).encode_to_vec();
    let q = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(msg);
    let resp = c
        .http1
        .get(format!(
            "{}{DESCRIBE}?encoding=proto&base64=1&message={q}",
            c.base
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "application/proto");
    assert_eq!(h.emulator.calls()[7].params["Lang"], "zh_cn");
    h.stop().await;
}

#[tokio::test]
async fn validation_failures_never_reach_the_vendor() {
    let h = start("").await;
    let c = Client::new(&h);
    for proto in POSTS {
        let r = c
            .call(
                proto,
                SRUS,
                r#"{"ownerId": "12ab", "status": "Frozen"}"#,
                &[],
            )
            .await;
        assert_eq!(r.code, "invalid_argument", "{proto:?}: {r:?}");
        assert_eq!(r.bad_fields(), ["owner_id", "status", "business_type"]);
        assert_eq!(r.reason(), "INVALID_REQUEST");
        if proto != Web {
            assert_eq!(r.http, 400);
        }
    }
    let r = c
        .call(Get, DESCRIBE, "{}", &[("x-cloud-region", "Moon Base")])
        .await;
    assert_eq!(
        (r.http, r.code.as_str()),
        (400, "invalid_argument"),
        "{r:?}"
    );
    assert_eq!(r.bad_fields(), ["x-cloud-region"]);

    // What only Connect can get wrong: the body and the content type.
    let cases: [(&str, &[u8], u16, &str); 6] = [
        ("application/json", br#"{"lang": "#, 400, "EOF"),
        (
            "application/json",
            br#"{"bogus": 1}"#,
            400,
            "unrecognized field name 'bogus'",
        ),
        (
            "application/json",
            br#"{"lang": 5}"#,
            400,
            "expected a string",
        ),
        ("application/json", br#"{} {}"#, 400, "trailing characters"),
        ("application/proto", b"\xff\xff\xff", 400, "is not a valid"),
        ("text/plain", b"{}", 415, "text/plain is not supported"),
    ];
    for (content_type, body, http, says) in cases {
        let r = c.raw(DESCRIBE, content_type, body.to_vec()).await;
        assert_eq!(
            (r.http, r.code.as_str()),
            (http, "invalid_argument"),
            "{r:?}"
        );
        assert!(r.message.contains(says), "{says}: {r:?}");
        let field = if http == 415 { "content-type" } else { "body" };
        assert_eq!(r.bad_fields(), [field]);
    }
    let r = c
        .call(Json, DESCRIBE, "{}", &[("connect-timeout-ms", "soon")])
        .await;
    assert_eq!(
        (r.http, r.code.as_str()),
        (400, "invalid_argument"),
        "{r:?}"
    );
    assert_eq!(r.bad_fields(), ["connect-timeout-ms"]);
    let r = c
        .call(Binary, DESCRIBE, "{}", &[("connect-protocol-version", "2")])
        .await;
    assert_eq!(r.bad_fields(), ["connect-protocol-version"], "{r:?}");
    let big = format!(r#"{{"lang": "{}"}}"#, "x".repeat(70_000));
    let r = c.raw(DESCRIBE, "application/json", big.into_bytes()).await;
    assert_eq!((r.http, r.code.as_str()), (400, "out_of_range"), "{r:?}");
    let r = c
        .raw(
            "/no.such.Service/Method",
            "application/json",
            b"{}".to_vec(),
        )
        .await;
    assert_eq!(r.code, "unimplemented", "{r:?}");
    assert!(
        h.emulator.calls().is_empty(),
        "the emulator saw a call that failed validation"
    );
    h.stop().await;
}

#[tokio::test]
async fn vendor_errors_keep_their_code_and_details() {
    let h = start("").await;
    let c = Client::new(&h);
    for proto in ALL {
        let (path, json, action) = if proto == Get {
            (DESCRIBE, "{}", "DescribeUserStatus")
        } else {
            (UPDATE, UPDATE_JSON, "UpdateUserStatus")
        };
        h.emulator.inject(fault(
            action,
            FaultKind::Error {
                code: "Throttling.User".into(),
                http_status: Some(400),
                message: Some("injected Throttling.User".into()),
            },
        ));
        let r = c.call(proto, path, json, &[]).await;
        assert_eq!(r.code, "resource_exhausted", "{proto:?}: {r:?}");
        if proto != Web {
            assert_eq!(r.http, 429);
        }
        assert_eq!(r.reason(), "Throttling.User");
        assert!(r
            .detail::<tonic_types::pb::RetryInfo>("google.rpc.RetryInfo")
            .is_some());
        let vendor = r
            .detail::<cloudgate::pb::cloudgate::v1::VendorError>("cloudgate.v1.VendorError")
            .expect("VendorError detail");
        assert_eq!(vendor.message, "injected Throttling.User");
    }
    h.stop().await;
}

#[tokio::test]
async fn the_rate_limit_refuses_on_every_protocol() {
    let h = start(
        "[ratelimit]\nmax_wait_ms = 20\n[ratelimit.operations.DescribeUserStatus]\nqps = 0.1\n",
    )
    .await;
    let c = Client::new(&h);
    let r = c.call(Json, DESCRIBE, "{}", &[]).await;
    assert_eq!(r.code, "ok", "{r:?}");
    for proto in ALL {
        let r = c.call(proto, DESCRIBE, "{}", &[]).await;
        assert_eq!(r.code, "resource_exhausted", "{proto:?}: {r:?}");
        if proto != Web {
            assert_eq!(r.http, 429);
        }
        assert_eq!(r.reason(), "RATE_LIMITED");
        assert!(r
            .detail::<tonic_types::pb::RetryInfo>("google.rpc.RetryInfo")
            .is_some());
        assert!(r
            .detail::<tonic_types::pb::QuotaFailure>("google.rpc.QuotaFailure")
            .is_some());
    }
    assert_eq!(
        h.emulator.calls().len(),
        1,
        "a refused call reached the vendor"
    );
    h.stop().await;
}

#[tokio::test]
async fn connect_timeout_ms_and_grpc_timeout_bound_the_call() {
    let h = start("").await;
    let c = Client::new(&h);
    for proto in ALL {
        h.emulator
            .inject(fault("DescribeUserStatus", FaultKind::Delay { ms: 3000 }));
        let timeout = if proto == Web {
            ("grpc-timeout", "300m")
        } else {
            ("connect-timeout-ms", "300")
        };
        let t = Instant::now();
        let r = c.call(proto, DESCRIBE, "{}", &[timeout]).await;
        let took = t.elapsed();
        assert_eq!(r.code, "deadline_exceeded", "{proto:?}: {r:?}");
        if proto != Web {
            assert_eq!(r.http, 504);
        }
        assert!(
            took < Duration::from_millis(1500),
            "{proto:?} took {took:?}"
        );
    }
    h.stop().await;
}

fn token_toml() -> String {
    support::register_secret(TOKEN);
    format!(
        r#"
[auth.tokens.reporting]
sha256 = "{}"

[[auth.callers]]
name = "reporting"
token = "reporting"
methods = ["aliyun.sddp.v20190103.Sddp/DescribeUserStatus"]
"#,
        hex::encode(Sha256::digest(TOKEN.as_bytes()))
    )
}

#[tokio::test]
async fn caller_auth_is_the_same_on_every_protocol() {
    let h = start(&token_toml()).await;
    let c = Client::new(&h);
    let bearer = format!("Bearer {TOKEN}");
    let auth = [("authorization", bearer.as_str())];
    // gRPC as the reference: no token, unauthenticated.
    let st = h
        .sddp()
        .describe_user_status(
            cloudgate::pb::aliyun::sddp::v20190103::DescribeUserStatusRequest::default(),
        )
        .await
        .unwrap_err();
    assert_eq!(st.code(), tonic::Code::Unauthenticated);
    // Another read-only method, outside the caller's rules.
    let other_read = c
        .catalog
        .operations()
        .iter()
        .find(|op| {
            op.path.starts_with("/aliyun.sddp.")
                && op.path != DESCRIBE
                && !op.rule.mutating
                && op.rule.safe_to_retry
        })
        .expect("another read-only Sddp method")
        .path
        .clone();
    for proto in ALL {
        let r = c.call(proto, DESCRIBE, "{}", &[]).await;
        assert_eq!(r.code, "unauthenticated", "{proto:?}: {r:?}");
        let wrong = [("authorization", "Bearer not-the-token")];
        let r = c.call(proto, DESCRIBE, "{}", &wrong).await;
        assert_eq!(r.code, "unauthenticated", "{proto:?}: {r:?}");
        assert!(!r.message.contains("not-the-token"), "{r:?}");
        if proto != Web {
            assert_eq!(r.http, 401);
        }
        let r = c.call(proto, DESCRIBE, "{}", &auth).await;
        assert_eq!(r.code, "ok", "{proto:?}: {r:?}");
        let (path, json) = if proto == Get {
            (other_read.as_str(), "{}")
        } else {
            (UPDATE, UPDATE_JSON)
        };
        let r = c.call(proto, path, json, &auth).await;
        assert_eq!(r.code, "permission_denied", "{proto:?}: {r:?}");
        assert!(r.message.contains("reporting"), "{r:?}");
        assert!(!r.message.contains(TOKEN), "{r:?}");
        if proto != Web {
            assert_eq!(r.http, 403);
        }
    }
    assert_eq!(
        h.emulator.calls().len(),
        4,
        "only the allowed calls reach the vendor"
    );
    h.stop().await;
}

#[tokio::test]
async fn cors_is_off_by_default_and_answers_configured_origins() {
    let preflight = |c: &Client, origin: &str| {
        c.http1
            .request(reqwest::Method::OPTIONS, format!("{}{DESCRIBE}", c.base))
            .header("origin", origin.to_string())
            .header("access-control-request-method", "POST")
            .header(
                "access-control-request-headers",
                "content-type,x-cloud-profile",
            )
            .send()
    };
    let h = start("").await;
    let c = Client::new(&h);
    let resp = preflight(&c, "https://tools.example.org").await.unwrap();
    assert!(resp.headers().get("access-control-allow-origin").is_none());
    h.stop().await;

    let h = start("[server.cors]\nallowed_origins = [\"https://tools.example.org\"]\n").await;
    let c = Client::new(&h);
    let resp = preflight(&c, "https://tools.example.org").await.unwrap();
    assert!(resp.status().is_success(), "{resp:?}");
    assert_eq!(
        resp.headers()["access-control-allow-origin"],
        "https://tools.example.org"
    );
    let allowed = resp.headers()["access-control-allow-headers"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(allowed.contains("x-cloud-profile"), "{allowed}");
    let resp = preflight(&c, "https://elsewhere.example.org")
        .await
        .unwrap();
    assert!(resp.headers().get("access-control-allow-origin").is_none());
    let r = c
        .call(
            Json,
            DESCRIBE,
            "{}",
            &[("origin", "https://tools.example.org")],
        )
        .await;
    assert_eq!(r.code, "ok");
    assert_eq!(
        r.headers["access-control-allow-origin"],
        "https://tools.example.org"
    );
    assert_eq!(h.emulator.calls().len(), 1);
    h.stop().await;
}

/// Not a check: per-call latency of the same write over gRPC, Connect JSON
/// (HTTP/1.1), Connect proto (h2c) and gRPC-Web, sequential calls against the
/// emulator, limits lifted as in benches/overhead.rs. Run with
/// `cargo nextest run --test e2e_connect --run-ignored only --no-capture`.
#[tokio::test]
#[ignore]
async fn measure_latency_per_protocol() {
    let h = start(
        "[ratelimit.operations.UpdateUserStatus]\nqps = 100000\nburst = 100000\n[ratelimit]\nmax_wait_ms = 0\n",
    )
    .await;
    let c = Client::new(&h);
    let n = 500;
    let pct = |mut v: Vec<Duration>| {
        v.sort();
        (v[v.len() / 2], v[v.len() * 99 / 100])
    };
    let mut grpc = Vec::new();
    let mut client = h.cloudsso();
    for _ in 0..n {
        let t = Instant::now();
        client
            .update_user_status(support::update_user())
            .await
            .unwrap();
        grpc.push(t.elapsed());
    }
    println!("gRPC   p50, p99 {:?}", pct(grpc));
    for proto in POSTS {
        let mut v = Vec::new();
        for _ in 0..n {
            let t = Instant::now();
            let r = c.call(proto, UPDATE, UPDATE_JSON, &[]).await;
            assert_eq!(r.code, "ok", "{r:?}");
            v.push(t.elapsed());
        }
        println!("{proto:<6?} p50, p99 {:?}", pct(v));
    }
    h.stop().await;
}
