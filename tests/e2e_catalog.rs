//! Operations loaded at start-up from `tests/protos` (`--proto-dir`), served
//! with no Rust per operation: nested shapes on the wire exactly as the
//! official SDKs send them, nested replies decoded, validation at every
//! depth, synthesized replies, idempotency tokens, load errors, ambiguous
//! names in the config, `cloudgate catalog`.

mod support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;

use cloudgate::catalog::Catalog;
use cloudgate::codec::DynamicCodec;
use cloudgate::emulator::{EmulatorHandle, FaultKind};
use prost_reflect::{DynamicMessage, ReflectMessage};
use serde_json::{json, Value};
use support::*;
use tonic::transport::Channel;

const WIDGET: &str = "/aliyun.widget.v20240101.Widget/CreateWidgets";
const WIDGET_REGIONS: &str = "/aliyun.widget.v20240101.Widget/DescribeRegions";
const GADGET: &str = "/tencentcloud.gadget.v20230315.Gadget/RunGadgets";
const GADGET_REGIONS: &str = "/tencentcloud.gadget.v20230315.Gadget/DescribeRegions";

fn proto_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/protos")
}

fn catalog() -> Arc<Catalog> {
    Arc::new(Catalog::load_with_dirs(&[proto_dir()]).unwrap())
}

struct Loaded {
    emulator: EmulatorHandle,
    gateway: GatewayProc,
    catalog: Arc<Catalog>,
}

async fn start(extra_toml: &str) -> Loaded {
    let catalog = catalog();
    let emulator = spawn_emulator_with(catalog.clone()).await;
    let gateway =
        GatewayProc::start_full(&emulator.base_url(), extra_toml, None, catalog.clone()).await;
    Loaded {
        emulator,
        gateway,
        catalog,
    }
}

impl Loaded {
    /// Calls `path` with a request given as proto3 JSON (as grpcurl sends it).
    async fn call(
        &self,
        path: &str,
        request: Value,
        meta: &[(&'static str, &str)],
    ) -> Result<DynamicMessage, tonic::Status> {
        call(&self.gateway.channel, &self.catalog, path, request, meta).await
    }

    async fn stop(self) {
        self.gateway.stop().await;
        self.emulator.shutdown().await;
    }
}

async fn call(
    channel: &Channel,
    catalog: &Catalog,
    path: &str,
    request: Value,
    meta: &[(&'static str, &str)],
) -> Result<DynamicMessage, tonic::Status> {
    let op = catalog.operation(path).unwrap();
    let msg = DynamicMessage::deserialize(op.input(), request).unwrap();
    let mut grpc = tonic::client::Grpc::new(channel.clone());
    grpc.ready().await.unwrap();
    let req = with_meta(msg, meta);
    grpc.unary(
        req,
        http::uri::PathAndQuery::from_str(path).unwrap(),
        DynamicCodec::new(op.output()),
    )
    .await
    .map(tonic::Response::into_inner)
}

/// The reply as proto3 JSON (what grpcurl prints).
fn as_json(msg: &DynamicMessage) -> Value {
    serde_json::to_value(msg).unwrap()
}

fn widget_request() -> Value {
    json!({
        "regionId": "cn-hangzhou",
        "widget": [
            {"name": "a", "size": 1, "disk": {"category": "cloud_ssd", "size": "40"}, "tags": ["x", "y"]},
            {"name": "b"}
        ],
        "config": {"filter": {"rules": [{"operator": "=", "value": "v"}], "relation": "and"}},
        "labels": {"env": "prod", "team": "core"},
        "expression": {"list": [{"period": "60"}], "times": 3},
        "instanceIds": ["i-1", "i-2"],
        "policy": {"statement": ["s1"], "version": "1"},
        "description": "multi\nline"
    })
}

/// Exactly what the official Alibaba SDKs send for `widget_request()`
/// (repeatList `Name.N.Sub`, flat `Name.Sub`, maps `Name.Key`, json-style
/// compact JSON with vendor names and numbers, simple-style comma-joined),
/// the idempotency token aside.
fn widget_wire() -> BTreeMap<String, String> {
    [
        ("RegionId", "cn-hangzhou"),
        ("Widget.1.Name", "a"),
        ("Widget.1.Size", "1"),
        ("Widget.1.Disk.Category", "cloud_ssd"),
        ("Widget.1.Disk.Size", "40"),
        ("Widget.1.Tags.1", "x"),
        ("Widget.1.Tags.2", "y"),
        ("Widget.2.Name", "b"),
        ("Config.Filter.Rules.1.Operator", "="),
        ("Config.Filter.Rules.1.Value", "v"),
        ("Config.Filter.Relation", "and"),
        ("Labels.env", "prod"),
        ("Labels.team", "core"),
        ("Expression", r#"{"List":[{"Period":60}],"Times":3}"#),
        ("InstanceIds", "i-1,i-2"),
        ("Policy", r#"{"Statement":["s1"],"Version":"1"}"#),
        ("Description", "multi\nline"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

async fn alibaba_nested_shapes(signing: &str) {
    let h = start(&format!("[signing]\nalibaba = \"{signing}\"\n")).await;
    let reply = h.call(WIDGET, widget_request(), &[]).await.unwrap();

    let calls = h.emulator.calls_of("Widget.CreateWidgets");
    assert_eq!(calls.len(), 1);
    let mut params = calls[0].params.clone();
    let token = params
        .remove("ClientToken")
        .expect("a filled idempotency token");
    assert_eq!(token.len(), 36, "a UUID: {token}");
    assert_eq!(params, widget_wire());
    let mut form = calls[0].form_params.clone();
    form.sort();
    assert_eq!(form, ["Description", "Policy"], "form-body parameters");
    assert_eq!(calls[0].product, "Widget");

    // The nested reply, decoded by vendor names with the SDKs' leniency
    // ("2" for an integer, 1 and "false" for booleans), unknown members ignored.
    let got = as_json(&reply);
    assert_eq!(got["totalCount"], 2);
    assert_eq!(
        got["widgets"],
        json!({"widget": [
            {"id": "w-1", "size": "10", "ready": true, "tags": {"tag": [{"key": "env", "value": "prod"}]}},
            {"id": "w-2", "size": "20"}
        ]})
    );
    assert_eq!(got["meta"], json!({"zone": "cn-hangzhou-h"}));
    assert_eq!(got["extra"], json!({"Nested": {"A": [1.0, "b"]}}));
    assert!(!got["requestId"].as_str().unwrap().is_empty());
    h.stop().await;
}

#[tokio::test]
async fn alibaba_nested_shapes_travel_as_the_sdk_flattens_them_acs3() {
    alibaba_nested_shapes("acs3").await;
}

#[tokio::test]
async fn alibaba_nested_shapes_travel_as_the_sdk_flattens_them_rpc_v1() {
    alibaba_nested_shapes("rpc-v1").await;
}

#[tokio::test]
async fn tencent_body_mirrors_the_message_tree() {
    let h = start("").await;
    let request = json!({
        "placement": {"zone": "ap-guangzhou-3", "projectId": "0"},
        "dataDisks": [
            {"diskType": "CLOUD_SSD", "diskSize": "50", "encrypt": false},
            {"diskSize": "9007199254740993"}
        ],
        "tags": [{"key": "env", "value": "prod"}],
        "gadgetCount": "18446744073709551615",
        "labels": {"a": "1"},
        "metadata": {"k": [1, "two", null]},
        "dryRun": false,
        "offset": "0"
    });
    // 9007199254740993 is over the disk size maximum: refused, nothing sent.
    let err = h
        .call(
            GADGET,
            request.clone(),
            &[("x-cloud-region", "ap-guangzhou")],
        )
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::InvalidArgument);
    assert!(err.message().contains("data_disks[1].disk_size"), "{err:?}");
    assert!(h.emulator.calls_of("RunGadgets").is_empty());

    let mut request = request;
    request["dataDisks"][1]["diskSize"] = json!("32000");
    let reply = h.call(GADGET, request, &[]).await.unwrap();
    let calls = h.emulator.calls_of("gadget.RunGadgets");
    assert_eq!(calls.len(), 1);
    let body: BTreeMap<String, Value> = calls[0]
        .params
        .iter()
        .map(|(k, v)| {
            let parsed = serde_json::from_str(v).unwrap_or_else(|_| Value::String(v.to_string()));
            (k.clone(), parsed)
        })
        .collect();
    // Vendor member names at every depth, 64-bit integers as JSON numbers,
    // explicitly set zeros and false sent, unset members left out.
    let expected: BTreeMap<String, Value> = [
        ("Placement", json!({"Zone": "ap-guangzhou-3", "ProjectId": 0})),
        (
            "DataDisks",
            json!([{"DiskType": "CLOUD_SSD", "DiskSize": 50, "Encrypt": false}, {"DiskSize": 32000}]),
        ),
        ("Tags", json!([{"Key": "env", "Value": "prod"}])),
        ("GadgetCount", json!(18446744073709551615u64)),
        ("Labels", json!({"a": "1"})),
        ("Metadata", json!({"k": [1, "two", null]})),
        ("DryRun", json!(false)),
        ("Offset", json!(0)),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    assert_eq!(body, expected);

    let got = as_json(&reply);
    assert_eq!(got["instanceIdSet"], json!(["g-1", "g-2"]));
    assert_eq!(
        got["details"],
        json!([{"id": "g-1", "zone": "ap-guangzhou-3", "disks": [{"size": "50"}, {"size": "100"}], "capacity": "18446744073709551615"}])
    );
    assert_eq!(got["total"], "2");
    h.stop().await;
}

#[tokio::test]
async fn validation_names_the_field_path_at_every_depth_and_sends_nothing() {
    let h = start("").await;
    let mut request = widget_request();
    request["widget"][0]["name"] = json!("");
    request["widget"][1]["disk"] = json!({"category": "hdd", "size": "10"});
    request["labels"]["bad"] = json!("tab\u{7}bell");
    let err = h.call(WIDGET, request, &[]).await.unwrap_err();
    assert_eq!(err.code(), tonic::Code::InvalidArgument);
    let details = tonic_types::StatusExt::get_details_bad_request(&err).unwrap();
    let fields: Vec<(&str, &str)> = details
        .field_violations
        .iter()
        .map(|v| (v.field.as_str(), v.description.as_str()))
        .collect();
    assert_eq!(
        fields,
        [
            ("widget[0].name", "is required"),
            (
                "widget[1].disk.category",
                "\"hdd\" is not one of cloud_ssd, cloud_essd"
            ),
            ("widget[1].disk.size", "must be at least 20"),
            ("labels[\"bad\"]", "must not contain control characters"),
        ]
    );
    // An empty required message puts nothing on the wire: it is missing.
    let missing = h
        .call(GADGET, json!({"placement": {}}), &[])
        .await
        .unwrap_err();
    let details = tonic_types::StatusExt::get_details_bad_request(&missing).unwrap();
    assert_eq!(details.field_violations[0].field, "placement");
    let missing = h
        .call(GADGET, json!({"placement": {"projectId": "1"}}), &[])
        .await
        .unwrap_err();
    let details = tonic_types::StatusExt::get_details_bad_request(&missing).unwrap();
    assert_eq!(details.field_violations[0].field, "placement.zone");
    assert!(h.emulator.calls().is_empty(), "nothing reached the vendor");
    h.stop().await;
}

#[tokio::test]
async fn operations_without_a_sample_get_a_synthesized_reply() {
    let h = start("").await;
    let ali = as_json(&h.call(WIDGET_REGIONS, json!({}), &[]).await.unwrap());
    assert_eq!(
        ali["regions"]["region"][0]["regionEndpoint"], "widget.cn-hangzhou.aliyuncs.com",
        "the field's example"
    );
    assert!(!ali["requestId"].as_str().unwrap().is_empty());
    let tc = as_json(&h.call(GADGET_REGIONS, json!({}), &[]).await.unwrap());
    assert_eq!(tc["regionSet"][0]["regionState"], "AVAILABLE");
    assert_eq!(tc["totalCount"], "1");
    // Both DescribeRegions were routed to their own product.
    assert_eq!(h.emulator.calls_of("Widget.DescribeRegions").len(), 1);
    assert_eq!(h.emulator.calls_of("gadget.DescribeRegions").len(), 1);
    assert_eq!(h.emulator.calls_of("DescribeRegions").len(), 2);
    h.stop().await;
}

#[tokio::test]
async fn a_mutation_with_an_idempotency_token_is_retried_with_the_same_token() {
    let h = start("").await;
    h.emulator.inject(fault("CreateWidgets", FaultKind::Drop));
    h.call(WIDGET, widget_request(), &[]).await.unwrap();
    let calls = h.emulator.calls_of("CreateWidgets");
    assert_eq!(calls.len(), 2, "dropped once, retried once");
    assert_eq!(calls[0].outcome, "connection_dropped");
    assert_eq!(
        calls[0].params["ClientToken"],
        calls[1].params["ClientToken"]
    );
    assert_ne!(calls[0].nonce, calls[1].nonce, "re-signed");

    // The caller's own token is kept.
    let mut request = widget_request();
    request["clientToken"] = json!("caller-token-1");
    h.call(WIDGET, request, &[]).await.unwrap();
    assert_eq!(
        h.emulator.calls_of("CreateWidgets")[2].params["ClientToken"],
        "caller-token-1"
    );

    // Without a token, an ambiguous failure of a mutation is not retried.
    h.emulator.inject(fault("RunGadgets", FaultKind::Drop));
    let err = h
        .call(GADGET, json!({"placement": {"zone": "z"}}), &[])
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::Unavailable);
    let info = tonic_types::StatusExt::get_details_error_info(&err).unwrap();
    assert_eq!(info.metadata["outcome"], "unknown", "{err:?}");
    assert_eq!(h.emulator.calls_of("RunGadgets").len(), 1);
    h.stop().await;
}

#[tokio::test]
async fn vendor_errors_of_loaded_operations_map_through_their_catalog() {
    let h = start("").await;
    h.emulator.inject(fault(
        "CreateWidgets",
        FaultKind::Error {
            code: "Widget.Exists".into(),
            http_status: Some(409),
            message: None,
        },
    ));
    let err = h.call(WIDGET, widget_request(), &[]).await.unwrap_err();
    assert_eq!(err.code(), tonic::Code::AlreadyExists);
    h.stop().await;
}

#[tokio::test]
async fn reflection_and_health_cover_loaded_services() {
    use tonic_health::pb::health_client::HealthClient;
    use tonic_health::pb::HealthCheckRequest;
    let h = start("").await;
    for service in [
        "aliyun.widget.v20240101.Widget",
        "tencentcloud.gadget.v20230315.Gadget",
        "aliyun.sddp.v20190103.Sddp",
    ] {
        let status = HealthClient::new(h.gateway.channel.clone())
            .check(HealthCheckRequest {
                service: service.into(),
            })
            .await
            .unwrap()
            .into_inner()
            .status;
        assert_eq!(status, 1, "{service} serving");
    }
    // An unknown method of the same port is UNIMPLEMENTED, naming it.
    let mut grpc = tonic::client::Grpc::new(h.gateway.channel.clone());
    grpc.ready().await.unwrap();
    let op = h.catalog.operation(WIDGET).unwrap();
    let err = grpc
        .unary(
            tonic::Request::new(DynamicMessage::new(op.input())),
            http::uri::PathAndQuery::from_static("/aliyun.widget.v20240101.Widget/Nope"),
            DynamicCodec::new(op.output()),
        )
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::Unimplemented);
    assert!(err.message().contains("Widget/Nope"), "{err:?}");
    h.stop().await;
}

// === load errors ===

fn bad_dir(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in files {
        let path = dir.path().join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
    dir
}

fn load_error(files: &[(&str, &str)]) -> String {
    let dir = bad_dir(files);
    Catalog::load_with_dirs(&[dir.path().to_path_buf()])
        .unwrap_err()
        .to_string()
}

const HEAD: &str = "syntax = \"proto3\";\npackage t.v1;\nimport \"cloudgate/v1/options.proto\";\n";

fn service(vendor: &str, extra_method: &str, field: &str) -> String {
    format!(
        "{HEAD}service T {{\n  option (cloudgate.v1.service) = {{vendor: {vendor} product: \"T\" version: \"2020-01-01\" endpoint_key: \"t\" host_template: \"t.example.com\" signing_service: \"t\"}};\n  rpc Do(DoRequest) returns (DoResponse) {{ option (cloudgate.v1.method) = {{action: \"Do\"}}; }}\n{extra_method}}}\nmessage DoRequest {{\n  {field}\n}}\nmessage DoResponse {{}}\n"
    )
}

#[test]
fn bad_proto_files_stop_loading_with_file_line_and_reason() {
    let e = load_error(&[("t.proto", "syntax = \"proto3\";\nmessage {")]);
    assert!(e.contains("t.proto:2"), "{e}");

    let e = load_error(&[("t.proto", "syntax = \"proto3\";\nimport \"nope.proto\";\n")]);
    assert!(e.contains("t.proto:2") && e.contains("nope.proto"), "{e}");

    let ok_field = "string a = 1 [(cloudgate.v1.field) = {name: \"A\"}];";
    let e = load_error(&[(
        "t.proto",
        &service(
            "VENDOR_ALIBABA",
            "  rpc Two(DoRequest) returns (DoResponse);\n",
            ok_field,
        ),
    )]);
    assert!(
        e.contains("t.v1.T.Two (t.proto:7)") && e.contains("has no (cloudgate.v1.method) option"),
        "{e}"
    );

    let e = load_error(&[("t.proto", &service("VENDOR_ALIBABA", "", "string a = 1;"))]);
    assert!(
        e.contains("t.v1.DoRequest.a (t.proto:9)")
            && e.contains("request field has no (cloudgate.v1.field) option"),
        "{e}"
    );

    let e = load_error(&[(
        "t.proto",
        &service(
            "VENDOR_TENCENT",
            "",
            "string a = 1 [(cloudgate.v1.field) = {name: \"A\" encoding: WIRE_ENCODING_QUERY_JSON}];",
        ),
    )]);
    assert!(
        e.contains("WIRE_ENCODING_QUERY_JSON is an Alibaba encoding"),
        "{e}"
    );

    let e = load_error(&[(
        "t.proto",
        &service(
            "VENDOR_ALIBABA",
            "  rpc Stream(DoRequest) returns (stream DoResponse) { option (cloudgate.v1.method) = {action: \"S\"}; }\n",
            ok_field,
        ),
    )]);
    assert!(e.contains("streaming methods are not supported"), "{e}");

    let e = load_error(&[(
        "t.proto",
        &service(
            "VENDOR_ALIBABA",
            "  rpc Again(DoRequest) returns (DoResponse) { option (cloudgate.v1.method) = {action: \"Do\"}; }\n",
            ok_field,
        ),
    )]);
    assert!(e.contains("duplicate operation: T 2020-01-01 Do"), "{e}");

    // A file of the embedded set loaded again.
    let embedded = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("proto/aliyun/sddp/v20190103/sddp.proto"),
    )
    .unwrap();
    let e = load_error(&[("aliyun/sddp/v20190103/sddp.proto", &embedded)]);
    assert!(e.contains("duplicate file"), "{e}");
    // The same services under another file name.
    let e = load_error(&[("copy/sddp.proto", &embedded)]);
    assert!(e.contains("aliyun.sddp.v20190103"), "{e}");
}

#[test]
fn messages_from_an_imported_file_are_validated_and_encoded_like_local_ones() {
    // The request's nested type lives in a file without services, imported.
    let common = "syntax = \"proto3\";\npackage t.common;\nimport \"cloudgate/v1/options.proto\";\nmessage Disk {\n  string size = 1 [(cloudgate.v1.field) = {name: \"Size\" required: true pattern: \"[0-9]+\"}];\n}\n";
    let svc = format!(
        "{HEAD}import \"common.proto\";\nservice T {{\n  option (cloudgate.v1.service) = {{vendor: VENDOR_ALIBABA product: \"T\" version: \"2020-01-01\" endpoint_key: \"t\" host_template: \"t.example.com\"}};\n  rpc Do(DoRequest) returns (DoResponse) {{ option (cloudgate.v1.method) = {{action: \"Do\"}}; }}\n}}\nmessage DoRequest {{\n  t.common.Disk disk = 1 [(cloudgate.v1.field) = {{name: \"Disk\"}}];\n}}\nmessage DoResponse {{}}\n"
    );
    let dir = bad_dir(&[("common.proto", common), ("t.proto", &svc)]);
    let catalog = Catalog::load_with_dirs(&[dir.path().to_path_buf()]).unwrap();
    let op = catalog.operation("/t.v1.T/Do").unwrap();
    let ok = DynamicMessage::deserialize(op.input(), json!({"disk": {"size": "40"}})).unwrap();
    match cloudgate::translate::encode_request(&catalog, op, &ok).unwrap() {
        cloudgate::translate::WireParams::Query(q) => {
            assert_eq!(q.query, [("Disk.Size".to_string(), "40".to_string())])
        }
        other => panic!("{other:?}"),
    }
    let bad = DynamicMessage::deserialize(op.input(), json!({"disk": {"size": "4x"}})).unwrap();
    let violations = cloudgate::translate::encode_request(&catalog, op, &bad).unwrap_err();
    assert_eq!(violations[0].field, "disk.size", "{violations:?}");
}

#[test]
fn an_ambiguous_action_in_the_limits_config_names_the_candidates() {
    let catalog = catalog();
    let parse = |text: &str| {
        let file: cloudgate::config::FileConfig = toml::from_str(text).unwrap();
        cloudgate::config::Config::validate(file, &catalog)
    };
    let e = parse("[ratelimit.operations.DescribeRegions]\nqps = 1\n")
        .unwrap_err()
        .to_string();
    assert!(e.contains("ratelimit.operations.DescribeRegions"), "{e}");
    assert!(e.contains("ambiguous"), "{e}");
    assert!(
        e.contains(WIDGET_REGIONS) && e.contains(GADGET_REGIONS),
        "{e}"
    );
    let c = parse(
        "[ratelimit.operations.\"Widget.DescribeRegions\"]\nqps = 1\n\
         [ratelimit.profiles.default.\"/tencentcloud.gadget.v20230315.Gadget/DescribeRegions\"]\nqps = 2\n\
         [endpoints]\nwidget = \"http://127.0.0.1:1\"\n",
    )
    .unwrap();
    let widget = catalog.operation(WIDGET_REGIONS).unwrap();
    assert_eq!(
        c.ratelimit
            .limit_for(&widget.path, 0.0, "default")
            .nominal_qps,
        1.0
    );
    let gadget = catalog.operation(GADGET_REGIONS).unwrap();
    assert_eq!(
        c.ratelimit
            .limit_for(&gadget.path, 0.0, "default")
            .nominal_qps,
        2.0
    );
    // A bare action that only one operation has stays valid.
    parse("[ratelimit.operations.RunGadgets]\nqps = 1\n").unwrap();
    // Without the loaded files the product is unknown.
    let file: cloudgate::config::FileConfig =
        toml::from_str("[endpoints]\nwidget = \"http://127.0.0.1:1\"\n").unwrap();
    assert!(cloudgate::config::Config::validate(file, &Catalog::load().unwrap()).is_err());
}

// === the binary ===

fn cloudgate(args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_cloudgate"))
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn the_catalog_command_lists_every_operation() {
    let dir = proto_dir();
    let out = cloudgate(&["catalog", "--proto-dir", dir.to_str().unwrap(), "--json"]);
    assert!(out.status.success(), "{out:?}");
    let ops: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    let embedded = Catalog::load().unwrap().operations().len();
    assert_eq!(ops.len(), embedded + 4);
    let widget = ops.iter().find(|o| o["path"] == WIDGET).unwrap();
    assert_eq!(
        widget,
        &json!({
            "path": WIDGET, "vendor": "alibaba", "product": "Widget", "version": "2024-01-01",
            "action": "CreateWidgets", "documented_qps": 5.0, "qps_source": "prose",
            "mutating": true, "safe_to_retry": false, "deprecated": false,
            "file": "aliyun/widget/v20240101/widget.proto", "embedded": false
        })
    );
    let sddp = ops
        .iter()
        .find(|o| o["action"] == "DescribeUserStatus")
        .unwrap();
    assert_eq!(sddp["qps_source"], "documented");
    assert_eq!(sddp["embedded"], true);

    let out = cloudgate(&["catalog", "--proto-dir", dir.to_str().unwrap()]);
    // Logs to a pipe carry no ANSI colour codes.
    let log = String::from_utf8(out.stderr).unwrap();
    assert!(log.contains("proto files loaded"), "{log}");
    assert!(
        !log.contains('\u{1b}'),
        "colour codes in a piped log: {log:?}"
    );
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains(&format!(
            "{} operations ({embedded} embedded, 4 loaded)",
            embedded + 4
        )),
        "{text}"
    );
    assert!(
        text.lines()
            .any(|l| l.starts_with(GADGET) && l.contains("tencent") && l.contains("yes       no")),
        "{text}"
    );
}

#[test]
fn serve_refuses_to_start_on_a_bad_proto_dir() {
    let dir = bad_dir(&[("t.proto", "syntax = \"proto3\";\nmessage {")]);
    let out = cloudgate(&[
        "serve",
        "--emulate",
        "--listen",
        "127.0.0.1:0",
        "--proto-dir",
        dir.path().to_str().unwrap(),
    ]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("t.proto:2"), "{stderr}");
    assert!(
        !String::from_utf8_lossy(&out.stdout).contains("listening"),
        "stopped before listening"
    );
}

#[test]
fn serve_emulate_serves_loaded_operations_at_once() {
    let config = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(
        config.path(),
        format!(
            "[catalog]\nproto_dirs = [{:?}]\n",
            proto_dir().display().to_string()
        ),
    )
    .unwrap();
    let (mut child, port, _stdout) = spawn_serve_emulate(config.path());
    let rt = tokio::runtime::Runtime::new().unwrap();
    let result = rt.block_on(async {
        let channel = Channel::from_shared(format!("http://127.0.0.1:{port}"))
            .unwrap()
            .connect()
            .await
            .unwrap();
        let catalog = catalog();
        let reply = call(&channel, &catalog, WIDGET, widget_request(), &[]).await;
        let tc = call(
            &channel,
            &catalog,
            GADGET,
            json!({"placement": {"zone": "z"}}),
            &[],
        )
        .await;
        (reply, tc)
    });
    let _ = child.kill();
    let _ = child.wait();
    let (reply, tc) = result;
    let reply = reply.unwrap();
    assert_eq!(reply.descriptor().name(), "CreateWidgetsResponse");
    assert_eq!(as_json(&reply)["totalCount"], 2);
    assert_eq!(
        as_json(&tc.unwrap())["instanceIdSet"],
        json!(["g-1", "g-2"])
    );
}

#[test]
fn a_compiled_proto_dir_is_cached_until_a_file_changes() {
    let cache = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    for rel in [
        "aliyun/widget/v20240101/widget.proto",
        "tencentcloud/gadget/v20230315/gadget.proto",
    ] {
        let to = dir.path().join(rel);
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::copy(proto_dir().join(rel), to).unwrap();
    }
    let run = || {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_cloudgate"))
            .args([
                "catalog",
                "--json",
                "--proto-dir",
                dir.path().to_str().unwrap(),
            ])
            .env("CLOUDGATE_CACHE_DIR", cache.path())
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        let log = String::from_utf8(out.stderr).unwrap();
        (log.contains("from the cache"), out.stdout)
    };
    let (cached, first) = run();
    assert!(!cached, "nothing cached yet");
    assert_eq!(std::fs::read_dir(cache.path()).unwrap().count(), 1);
    let (cached, second) = run();
    assert!(cached, "the second start reads the compiled set");
    assert_eq!(first, second, "same operations either way");
    // An edited file compiles again (and its change is served).
    let gadget = dir
        .path()
        .join("tencentcloud/gadget/v20230315/gadget.proto");
    let text = std::fs::read_to_string(&gadget).unwrap();
    std::fs::write(
        &gadget,
        text.replacen("rpc RunGadgets", "rpc RunGadgetsRenamed", 1),
    )
    .unwrap();
    let (cached, third) = run();
    assert!(!cached, "an edited file is compiled again");
    assert!(String::from_utf8(third)
        .unwrap()
        .contains("RunGadgetsRenamed"));
}

#[tokio::test]
async fn a_descriptor_set_serves_like_the_proto_text() {
    let dir = tempfile::tempdir().unwrap();
    let set = dir.path().join("loaded.binpb");
    let out = cloudgate(&[
        "catalog",
        "--proto-dir",
        proto_dir().to_str().unwrap(),
        "--descriptor-set-out",
        set.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{out:?}");
    let from_set = Arc::new(Catalog::load_with_dirs(&[dir.path().to_path_buf()]).unwrap());
    assert_eq!(
        cloudgate::catalog::listing(&from_set),
        cloudgate::catalog::listing(&catalog())
    );

    let emulator = spawn_emulator_with(from_set.clone()).await;
    let gateway = GatewayProc::start_full(&emulator.base_url(), "", None, from_set.clone()).await;
    let reply = call(&gateway.channel, &from_set, WIDGET, widget_request(), &[])
        .await
        .unwrap();
    let calls = emulator.calls_of("Widget.CreateWidgets");
    let mut params = calls[0].params.clone();
    params.remove("ClientToken");
    assert_eq!(params, widget_wire());
    assert_eq!(as_json(&reply)["totalCount"], 2);
    gateway.stop().await;
    emulator.shutdown().await;

    // Not a descriptor set: the error names the file.
    std::fs::write(&set, b"not protobuf at all").unwrap();
    let e = Catalog::load_with_dirs(&[dir.path().to_path_buf()])
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("loaded.binpb") && e.contains("not a FileDescriptorSet"),
        "{e}"
    );
}

#[tokio::test]
async fn loadtest_drives_loaded_operations_and_the_health_baseline_through_reflection() {
    use cloudgate::loadtest::{run, LoadTestOptions};
    let h = start("").await;
    let opts = |method: &str, data: &str| LoadTestOptions {
        addr: format!("http://{}", h.gateway.addr),
        method: method.into(),
        data: data.into(),
        rate: 4.0,
        concurrency: 2,
        duration: std::time::Duration::from_millis(600),
        ..LoadTestOptions::default()
    };
    // Not in the embedded catalog: found through the gateway's reflection.
    let report = run(
        opts(
            "tencentcloud.gadget.v20230315.Gadget/DescribeRegions",
            r#"{"product":"cvm"}"#,
        ),
        |_| {},
    )
    .await
    .unwrap();
    assert!(report.sent > 0 && report.ok == report.sent, "{report}");
    let report = run(opts("grpc.health.v1.Health/Check", "{}"), |_| {})
        .await
        .unwrap();
    assert!(report.sent > 0 && report.ok == report.sent, "{report}");
    // A field the loaded request type does not have is refused before any call.
    let err = run(
        opts(
            "tencentcloud.gadget.v20230315.Gadget/DescribeRegions",
            r#"{"nope":1}"#,
        ),
        |_| {},
    )
    .await
    .unwrap_err();
    assert!(err.to_string().contains("nope"), "{err}");
    h.stop().await;
}
