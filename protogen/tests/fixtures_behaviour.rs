//! Behaviour on small metadata fixtures: types, encodings, skips, errors,
//! QPS, idempotency tokens, lock stability.

mod support;

use std::path::Path;

use cloudgate_protogen::VendorArg;
use prost_reflect::{DescriptorPool, DynamicMessage, Kind, Value};
use support::*;

fn field_rule(pool: &DescriptorPool, message: &str, field: &str) -> DynamicMessage {
    let ext = pool.get_extension_by_name("cloudgate.v1.field").unwrap();
    let md = pool
        .get_message_by_name(message)
        .unwrap_or_else(|| panic!("no message {message}"));
    let f = md
        .get_field_by_name(field)
        .unwrap_or_else(|| panic!("no field {message}.{field}"));
    match f.options().get_extension(&ext).as_ref() {
        Value::Message(m) => m.clone(),
        _ => panic!("no rule"),
    }
}

fn get<'a>(m: &'a DynamicMessage, name: &str) -> std::borrow::Cow<'a, Value> {
    m.get_field_by_name(name).unwrap()
}

fn method_rule(pool: &DescriptorPool, service: &str, method: &str) -> DynamicMessage {
    let ext = pool.get_extension_by_name("cloudgate.v1.method").unwrap();
    let sd = pool.get_service_by_name(service).unwrap();
    let md = sd.methods().find(|m| m.name() == method).unwrap();
    match md.options().get_extension(&ext).as_ref() {
        Value::Message(m) => m.clone(),
        _ => panic!("no rule"),
    }
}

fn run_fixture(
    vendor: VendorArg,
    sub: &str,
    dir: &Path,
    lock: Option<&Path>,
) -> (cloudgate_protogen::Summary, DescriptorPool) {
    let out = dir.join("out");
    let mut a = args(vendor, &fixtures().join(sub), &out, lock);
    a.overrides = Some(fixtures().join("empty.toml"));
    let summary = generate(&a);
    let pool = compile(&out, &protos(&out));
    (summary, pool)
}

#[test]
fn alibaba_styles_types_and_policies() {
    let tmp = tempfile::tempdir().unwrap();
    let (summary, pool) = run_fixture(VendorArg::Alibaba, "aliyun", tmp.path(), None);
    let reasons = summary.skipped_by_reason();
    assert_eq!(reasons.get("path parameter"), Some(&1));
    assert_eq!(reasons.get("non-RPC (ROA) product"), Some(&1));
    assert_eq!(summary.operations(), 2);
    assert_eq!(summary.products[0].doc_required_disagreements, 1);

    let req = "aliyun.demo.v20200101.CreateThingRequest";
    let md = pool.get_message_by_name(req).unwrap();
    // Repeated RegionId: one field.
    assert_eq!(
        md.fields()
            .filter(|f| f.name().starts_with("region_id"))
            .count(),
        1
    );
    // Dotted names are escaped and keep the vendor name.
    let r = field_rule(&pool, req, "system_disk_category");
    assert_eq!(get(&r, "name").as_str(), Some("SystemDisk.Category"));
    // Encodings by style.
    let enc = |f: &str| get(&field_rule(&pool, req, f), "encoding").as_enum_number();
    assert_eq!(enc("tag"), Some(2)); // repeatList of objects: QUERY_FLAT_LIST
    assert_eq!(enc("ids"), Some(2)); // flat list of strings
    assert_eq!(enc("names"), Some(5)); // simple
    assert_eq!(enc("expression"), Some(4)); // json object
    assert_eq!(enc("labels"), Some(4)); // json map
    assert_eq!(enc("config"), Some(0)); // flat object: the gateway's default
    assert_eq!(enc("mode"), Some(0));
    assert!(get(&field_rule(&pool, req, "body"), "form")
        .as_bool()
        .unwrap());
    assert!(
        get(&field_rule(&pool, req, "client_token"), "idempotency_token")
            .as_bool()
            .unwrap()
    );
    // Types.
    assert!(md.get_field_by_name("labels").unwrap().is_map());
    let kind = |m: &str, f: &str| {
        pool.get_message_by_name(m)
            .unwrap()
            .get_field_by_name(f)
            .unwrap()
            .kind()
    };
    assert!(
        matches!(kind(req, "extra"), Kind::Message(m) if m.full_name() == "google.protobuf.Value")
    );
    assert!(
        matches!(kind(req, "matrix"), Kind::Message(m) if m.full_name() == "google.protobuf.Value")
    );
    assert!(matches!(kind(req, "size"), Kind::Int32));
    assert!(matches!(
        kind("aliyun.demo.v20200101.CreateThingThing", "ratio"),
        Kind::Double
    ));
    // Key / key collide: deterministic suffix; vendor names kept.
    let tag = "aliyun.demo.v20200101.CreateThingRequestTag";
    assert_eq!(
        get(&field_rule(&pool, tag, "key"), "name").as_str(),
        Some("Key")
    );
    assert_eq!(
        get(&field_rule(&pool, tag, "key2"), "name").as_str(),
        Some("key")
    );
    // Validation from metadata.
    let mode = field_rule(&pool, req, "mode");
    assert_eq!(get(&mode, "max_length").as_u32(), Some(16));
    assert_eq!(get(&mode, "pattern").as_str(), Some("[a-z]+"));
    let size = field_rule(&pool, req, "size");
    assert_eq!(
        (
            get(&size, "min_value").as_i64(),
            get(&size, "max_value").as_i64()
        ),
        (Some(1), Some(100))
    );
    // proto3 optional on non-required request scalars only.
    assert!(md
        .get_field_by_name("mode")
        .unwrap()
        .field_descriptor_proto()
        .proto3_optional());
    assert!(!md
        .get_field_by_name("region_id")
        .unwrap()
        .field_descriptor_proto()
        .proto3_optional());
    // Method policy, QPS from prose, trimmed and classed errors, sample reply.
    let m = method_rule(&pool, "aliyun.demo.v20200101.Demo", "CreateThing");
    assert!(get(&m, "mutating").as_bool().unwrap());
    assert_eq!(get(&m, "documented_qps").as_f64(), Some(5.0));
    assert_eq!(get(&m, "qps_source").as_str(), Some("prose"));
    assert_eq!(get(&m, "qps_scope").as_str(), Some("per account"));
    let errors = get(&m, "errors");
    let errors = errors.as_list().unwrap();
    let codes: Vec<(String, i32)> = errors
        .iter()
        .map(|e| {
            let e = e.as_message().unwrap();
            (
                get(e, "code").as_str().unwrap().to_string(),
                get(e, "class").as_enum_number().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        codes,
        vec![
            ("InvalidParameter.Mode".to_string(), 1),
            ("Throttling.User".to_string(), 4),
            ("InvalidThing.NotFound".to_string(), 3)
        ]
    );
    assert_eq!(
        get(&m, "sample_response").as_str(),
        Some("{\"RequestId\":\"r-1\",\"Thing\":{\"Id\":\"t-1\"}}")
    );
    let d = method_rule(&pool, "aliyun.demo.v20200101.Demo", "DescribeThings");
    assert!(get(&d, "safe_to_retry").as_bool().unwrap());
    let sd = pool
        .get_service_by_name("aliyun.demo.v20200101.Demo")
        .unwrap();
    let dm = sd.methods().find(|m| m.name() == "DescribeThings").unwrap();
    assert!(dm
        .method_descriptor_proto()
        .options
        .as_ref()
        .unwrap()
        .deprecated());
}

#[test]
fn tencent_types_skips_errors_and_examples() {
    let tmp = tempfile::tempdir().unwrap();
    let (summary, pool) = run_fixture(VendorArg::Tencent, "tencentcloud", tmp.path(), None);
    let reasons = summary.skipped_by_reason();
    assert_eq!(reasons.len(), 3, "{reasons:?}");
    let req = "tencentcloud.demo.v20200101.CreateThingRequest";
    let date = field_rule(&pool, req, "expire_date");
    assert_eq!(get(&date, "pattern").as_str(), Some(r"\d{4}-\d{2}-\d{2}"));
    assert_eq!(get(&date, "encoding").as_enum_number(), Some(3));
    assert!(
        get(&field_rule(&pool, req, "client_token"), "idempotency_token")
            .as_bool()
            .unwrap()
    );
    let md = pool.get_message_by_name(req).unwrap();
    assert!(matches!(
        md.get_field_by_name("count").unwrap().kind(),
        Kind::Uint64
    ));
    assert!(md.get_field_by_name("tags").unwrap().is_list());
    // Shared struct: one message, reached from request and response.
    assert!(pool
        .get_message_by_name("tencentcloud.demo.v20200101.Tag")
        .is_some());
    let m = method_rule(&pool, "tencentcloud.demo.v20200101.Demo", "CreateThing");
    assert_eq!(get(&m, "documented_qps").as_f64(), Some(20.0));
    assert_eq!(
        get(&m, "sample_response").as_str(),
        Some("{\"Response\":{\"ThingId\":\"t-1\",\"RequestId\":\"r-1\"}}")
    );
    let errors = get(&m, "errors");
    let first = errors.as_list().unwrap()[0].as_message().unwrap().clone();
    assert_eq!(get(&first, "code").as_str(), Some("FailedOperation.Busy"));
    assert_eq!(get(&first, "class").as_enum_number(), Some(5)); // "请稍后重试": transient
    assert_eq!(
        get(&first, "meaning").as_str(),
        Some("系统繁忙，请稍后重试。")
    );
    let d = method_rule(&pool, "tencentcloud.demo.v20200101.Demo", "DescribeThings");
    assert!(get(&d, "safe_to_retry").as_bool().unwrap());
    assert!(!get(&d, "mutating").as_bool().unwrap());
}

#[test]
fn the_lock_keeps_numbers_reserves_removed_members_and_numbers_new_ones() {
    let tmp = tempfile::tempdir().unwrap();
    let meta = tmp.path().join("meta/tencentcloud/demo/v20200101");
    std::fs::create_dir_all(&meta).unwrap();
    let src = fixtures().join("tencentcloud/demo/v20200101/api.json");
    std::fs::copy(&src, meta.join("api.json")).unwrap();
    let lock = tmp.path().join("protogen.lock");
    let out = tmp.path().join("out");
    let mut a = args(
        VendorArg::Tencent,
        &meta.join("api.json"),
        &out,
        Some(&lock),
    );
    a.overrides = Some(fixtures().join("empty.toml"));
    generate(&a);
    let first = compile(&out, &protos(&out));
    let num = |pool: &DescriptorPool, f: &str| {
        pool.get_message_by_name("tencentcloud.demo.v20200101.CreateThingRequest")
            .unwrap()
            .get_field_by_name(f)
            .map(|f| f.number())
    };
    assert_eq!(num(&first, "count"), Some(2));
    assert_eq!(num(&first, "client_token"), Some(7));

    // A newer snapshot: Count removed, Color added before ClientToken.
    let mut api: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&src).unwrap()).unwrap();
    let members = api["objects"]["CreateThingRequest"]["members"]
        .as_array_mut()
        .unwrap();
    members.retain(|m| m["name"] != "Count");
    members.insert(
        5,
        serde_json::json!({"name": "Color", "type": "string", "member": "string", "required": false, "document": "颜色。", "example": "red"}),
    );
    std::fs::write(meta.join("api.json"), serde_json::to_string(&api).unwrap()).unwrap();
    generate(&a);
    let second = compile(&out, &protos(&out));
    assert_eq!(num(&second, "count"), None);
    assert_eq!(num(&second, "client_token"), Some(7));
    assert_eq!(num(&second, "name"), Some(1));
    assert_eq!(num(&second, "color"), Some(8));
    let md = second
        .get_message_by_name("tencentcloud.demo.v20200101.CreateThingRequest")
        .unwrap();
    let proto = md.descriptor_proto();
    assert!(proto
        .reserved_range
        .iter()
        .any(|r| r.start() == 2 && r.end() == 3));
    assert!(proto.reserved_name.contains(&"count".to_string()));

    // Count comes back: its old number, not a new one.
    std::fs::copy(&src, meta.join("api.json")).unwrap();
    generate(&a);
    let third = compile(&out, &protos(&out));
    assert_eq!(num(&third, "count"), Some(2));
    assert_eq!(num(&third, "color"), None);
}

#[test]
fn actions_limit_the_output() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let mut a = args(
        VendorArg::Alibaba,
        &fixtures().join("aliyun/demo/2020-01-01/api-docs.json"),
        &out,
        None,
    );
    a.overrides = Some(fixtures().join("empty.toml"));
    a.actions = vec!["DescribeThings".into()];
    let summary = generate(&a);
    assert_eq!(summary.operations(), 1);
    let pool = compile(&out, &protos(&out));
    assert!(pool
        .get_message_by_name("aliyun.demo.v20200101.CreateThingRequest")
        .is_none());
}

#[test]
fn unreadable_input_is_an_error() {
    let tmp = tempfile::tempdir().unwrap();
    let bad = tmp.path().join("api.json");
    std::fs::write(&bad, "{not json").unwrap();
    let a = args(VendorArg::Tencent, &bad, &tmp.path().join("out"), None);
    assert!(cloudgate_protogen::run(&a).is_err());
    let a = args(
        VendorArg::Tencent,
        &tmp.path().join("missing.json"),
        &tmp.path().join("out"),
        None,
    );
    assert!(cloudgate_protogen::run(&a).is_err());
}
