//! Reads Alibaba Cloud OpenAPI metadata (`api-docs.json`, RPC style).

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use crate::classify::classify;
use crate::model::{ErrorEntry, Field, Message, Method, MsgId, Product, Rule, Type, Vendor};
use crate::text::{minify_json, pascal_case, prose_qps, summary};

/// `systemTags.operationType` values of read-only actions.
const READ_TYPES: &[&str] = &[
    "get", "list", "describe", "query", "read", "search", "check",
];

/// Whether an Alibaba action is read-only: `systemTags.operationType`, else
/// the older top-level `operationType` ("read"); unknown means mutating.
pub fn is_read_only(api: &Value) -> bool {
    let tag = api["systemTags"]["operationType"]
        .as_str()
        .unwrap_or("")
        .to_ascii_lowercase();
    if !tag.is_empty() && tag != "none" {
        return READ_TYPES.contains(&tag.as_str());
    }
    api["operationType"].as_str() == Some("read")
}

/// Host template, exceptions and default region from `endpoints`.
pub fn endpoints(doc: &Value, product_lower: &str) -> (String, Vec<(String, String)>, String) {
    let entries: Vec<(String, String)> = doc["endpoints"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| {
            Some((
                e["regionId"].as_str()?.to_string(),
                e["endpoint"].as_str()?.to_string(),
            ))
        })
        .collect();
    let default_region = ["cn-hangzhou", "cn-shanghai"]
        .iter()
        .find(|r| entries.iter().any(|(er, _)| er == *r))
        .map(|r| r.to_string())
        .or_else(|| entries.first().map(|(r, _)| r.clone()))
        .unwrap_or_else(|| "cn-hangzhou".into());
    if entries.is_empty() {
        return (
            format!("{product_lower}.{{region}}.aliyuncs.com"),
            Vec::new(),
            default_region,
        );
    }
    let mut prefixes: BTreeMap<String, usize> = BTreeMap::new();
    let mut fixed: BTreeMap<String, usize> = BTreeMap::new();
    for (region, host) in &entries {
        *fixed.entry(host.clone()).or_default() += 1;
        if let Some(prefix) = host.strip_suffix(&format!(".{region}.aliyuncs.com")) {
            if !prefix.is_empty() && !prefix.contains('.') {
                *prefixes.entry(prefix.to_string()).or_default() += 1;
            }
        }
    }
    let best = |m: &BTreeMap<String, usize>| {
        m.iter()
            .max_by(|a, b| {
                a.1.cmp(b.1)
                    .then((a.0 == product_lower).cmp(&(b.0 == product_lower)))
                    .then(b.0.cmp(a.0))
            })
            .map(|(k, v)| (k.clone(), *v))
    };
    let (prefix, pcount) = best(&prefixes).unwrap_or_default();
    let (host, hcount) = best(&fixed).unwrap_or_default();
    if pcount > 0 && pcount >= hcount {
        let exceptions = entries
            .iter()
            .filter(|(r, h)| *h != format!("{prefix}.{r}.aliyuncs.com"))
            .cloned()
            .collect();
        (
            format!("{prefix}.{{region}}.aliyuncs.com"),
            exceptions,
            default_region,
        )
    } else {
        let exceptions = entries
            .iter()
            .filter(|(_, h)| *h != host)
            .cloned()
            .collect();
        (host, exceptions, default_region)
    }
}

/// Documented rates from a product-level `flowControl` list, by action.
///
/// The snapshots here carry none, so the reader is tolerant: a list (or an
/// object holding one) of entries naming the API (`apiName`, `api`, `action`,
/// `name`) with a threshold (`threshold`, `qps`, `limit`, `count`) per
/// `unit`/`timeUnit`/`period` (second by default, or minute).
pub fn flow_control(doc: &Value) -> BTreeMap<String, f64> {
    let mut out = BTreeMap::new();
    let fc = &doc["flowControl"];
    let list: Vec<&Value> = match fc {
        Value::Array(a) => a.iter().collect(),
        Value::Object(o) => o.values().filter_map(Value::as_array).flatten().collect(),
        _ => Vec::new(),
    };
    let text = |v: &Value, keys: &[&str]| -> Option<String> {
        keys.iter().find_map(|k| match &v[*k] {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        })
    };
    for entry in list {
        let Some(api) = text(entry, &["apiName", "api", "action", "name", "ApiName"]) else {
            continue;
        };
        let Some(threshold) = text(entry, &["threshold", "qps", "limit", "count", "Threshold"])
            .and_then(|t| t.trim().parse::<f64>().ok())
        else {
            continue;
        };
        let unit = text(entry, &["unit", "timeUnit", "period", "TimeUnit"])
            .unwrap_or_default()
            .to_ascii_lowercase();
        let per_second = if unit.starts_with("min") {
            threshold / 60.0
        } else if unit.starts_with("hour") {
            threshold / 3600.0
        } else {
            threshold
        };
        if per_second > 0.0 {
            out.insert(api, (per_second * 1000.0).round() / 1000.0);
        }
    }
    out
}

fn as_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.trim().to_string()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn as_i128(v: &Value) -> Option<i128> {
    match v {
        Value::Number(n) => n
            .as_i64()
            .map(i128::from)
            .or_else(|| n.as_u64().map(i128::from))
            .or_else(|| n.as_f64().filter(|f| f.fract() == 0.0).map(|f| f as i128)),
        Value::String(s) => s.trim().parse::<i128>().ok(),
        _ => None,
    }
}

struct Reader<'a> {
    doc: &'a Value,
    product: Product,
    by_ref: BTreeMap<String, MsgId>,
}

/// A member schema resolved through `$ref`.
fn deref<'v>(doc: &'v Value, schema: &'v Value) -> (&'v Value, Option<String>) {
    if let Some(r) = schema["$ref"].as_str() {
        let name = r.rsplit('/').next().unwrap_or(r);
        let target = &doc["components"]["schemas"][name];
        if !target.is_null() {
            return (target, Some(name.to_string()));
        }
    }
    (schema, None)
}

impl Reader<'_> {
    /// The type of a schema: (type, repeated). Objects become messages keyed
    /// `key` (named `suggested`).
    fn schema_type(
        &mut self,
        schema: &Value,
        key: &str,
        suggested: &str,
        request: bool,
    ) -> (Type, bool) {
        let (schema, ref_name) = deref(self.doc, schema);
        let ty = schema["type"].as_str().unwrap_or("");
        match ty {
            "array" => {
                let items = &schema["items"];
                let (inner, _) = deref(self.doc, items);
                if inner["type"].as_str() == Some("array") {
                    // Lists of lists: free-form JSON per element.
                    return (Type::Value, true);
                }
                let (t, _) = self.schema_type(items, key, suggested, request);
                (t, true)
            }
            "object" | "" if ty == "object" || schema.get("properties").is_some() => {
                let props = schema["properties"].as_object().filter(|p| !p.is_empty());
                if let Some(props) = props {
                    let (key, suggested) = match ref_name {
                        Some(n) => (format!("#{n}"), pascal_case(&n)),
                        None => (key.to_string(), suggested.to_string()),
                    };
                    (
                        Type::Message(self.object(&key, &suggested, schema, props, request)),
                        false,
                    )
                } else if let Some(add) =
                    schema.get("additionalProperties").filter(|a| a.is_object())
                {
                    let (add_inner, _) = deref(self.doc, add);
                    if add_inner["type"].as_str() == Some("array") {
                        return (Type::Map(Box::new(Type::Value)), false);
                    }
                    let (t, _) = self.schema_type(
                        add,
                        &format!("{key}.*"),
                        &format!("{suggested}Value"),
                        request,
                    );
                    (Type::Map(Box::new(t)), false)
                } else {
                    (Type::Value, false)
                }
            }
            "integer" => {
                let f = schema["format"].as_str().unwrap_or("int64");
                (
                    Type::Scalar(if f == "int32" { "int32" } else { "int64" }.into()),
                    false,
                )
            }
            "number" => (Type::Scalar("double".into()), false),
            "boolean" => (Type::Scalar("bool".into()), false),
            "string" => {
                if schema["format"].as_str() == Some("binary") {
                    (Type::Scalar("bytes".into()), false)
                } else {
                    (Type::Scalar("string".into()), false)
                }
            }
            _ => (Type::Value, false),
        }
    }

    fn object(
        &mut self,
        key: &str,
        suggested: &str,
        schema: &Value,
        props: &serde_json::Map<String, Value>,
        request: bool,
    ) -> MsgId {
        if let Some(&id) = self.by_ref.get(key) {
            return id;
        }
        let id = self.product.messages.len();
        let comment = summary(schema["description"].as_str().unwrap_or(""), 200);
        self.product
            .messages
            .push(Message::new(key, suggested, &comment, request));
        self.by_ref.insert(key.to_string(), id);
        let required_list: BTreeSet<String> = schema["required"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|v| v.as_str().map(String::from))
            .collect();
        let mut fields = Vec::new();
        for (name, prop) in props {
            let mut f = self.field(name, prop, key, suggested, request);
            if required_list.contains(name) {
                f.rule.required = true;
            }
            fields.push(f);
        }
        self.product.messages[id].fields = fields;
        id
    }

    /// A member of message `parent_key` (named `parent_name`).
    fn field(
        &mut self,
        name: &str,
        schema: &Value,
        parent_key: &str,
        parent_name: &str,
        request: bool,
    ) -> Field {
        let base = parent_name
            .strip_suffix("Response")
            .filter(|b| {
                !b.is_empty() && parent_key.ends_with("Response") && !parent_key.contains('.')
            })
            .unwrap_or(parent_name);
        let (ty, repeated) = self.schema_type(
            schema,
            &format!("{parent_key}.{name}"),
            &format!("{base}{}", pascal_case(name)),
            request,
        );
        let (schema, _) = deref(self.doc, schema);
        let mut f = Field::new(name, ty);
        f.repeated = repeated;
        f.comment = summary(schema["description"].as_str().unwrap_or(""), 200);
        f.deprecated = schema["deprecated"].as_bool().unwrap_or(false);
        if request {
            f.rule = self.rule(schema, &f.ty, repeated);
        }
        f
    }

    /// Validation options of a request member.
    fn rule(&mut self, schema: &Value, ty: &Type, repeated: bool) -> Rule {
        let mut rule = Rule {
            required: schema["required"].as_bool().unwrap_or(false),
            ..Rule::default()
        };
        if let Some(doc_required) = schema["docRequired"].as_bool() {
            if doc_required != rule.required {
                self.product.doc_required_disagreements += 1;
            }
        }
        let Type::Scalar(scalar) = ty else {
            return rule;
        };
        // For lists the element schema carries enum and pattern.
        let elem = if repeated { &schema["items"] } else { schema };
        let enums: Vec<String> = elem["enum"]
            .as_array()
            .or_else(|| schema["enum"].as_array())
            .into_iter()
            .flatten()
            .filter_map(as_text)
            .collect();
        rule.allowed_values = enums;
        if let Some(p) = elem["pattern"]
            .as_str()
            .or_else(|| schema["pattern"].as_str())
        {
            let p = p.trim();
            if !p.is_empty() {
                if regex::Regex::new(&format!("^(?:{p})$")).is_ok() {
                    rule.pattern = p.to_string();
                } else {
                    self.product.notes.push(format!(
                        "pattern {p:?} is not a valid regular expression: dropped"
                    ));
                }
            }
        }
        if scalar == "string" {
            let max = as_i128(&elem["maxLength"]).unwrap_or(0);
            let min = as_i128(&elem["minLength"]).unwrap_or(0);
            if max > 0 && max <= u32::MAX as i128 {
                rule.max_length = max as u32;
            }
            if min > 0 && min <= u32::MAX as i128 {
                rule.min_length = min as u32;
            }
            if rule.max_length != 0 && rule.min_length > rule.max_length {
                rule.min_length = 0;
                rule.max_length = 0;
            }
        }
        if scalar == "int32" || scalar == "int64" {
            let (tmin, tmax) = if scalar == "int32" {
                (i32::MIN as i128, i32::MAX as i128)
            } else {
                (i64::MIN as i128, i64::MAX as i128)
            };
            let min = as_i128(&elem["minimum"]).filter(|m| *m > tmin && *m <= tmax);
            let max = as_i128(&elem["maximum"]).filter(|m| *m < tmax && *m >= tmin);
            match (min, max) {
                (Some(a), Some(b)) if a > b => {}
                (Some(a), Some(b)) => {
                    rule.min_value = a as i64;
                    rule.max_value = b as i64;
                    if b == 0 {
                        // max_value 0 means "no maximum": keep only a bound that works.
                        rule.max_value = 0;
                        rule.min_value = if a == 0 { 0 } else { a as i64 };
                    }
                }
                (Some(a), None) => rule.min_value = a as i64,
                (None, Some(b)) if b != 0 => {
                    rule.min_value = tmin as i64;
                    rule.max_value = b as i64;
                }
                _ => {}
            }
        }
        rule.example = as_text(&schema["example"])
            .filter(|e| !e.is_empty())
            .or_else(|| as_text(&elem["example"]))
            .unwrap_or_default();
        rule
    }
}

/// Why an action cannot be served over RPC, if it cannot.
fn unsupported(api: &Value) -> Option<String> {
    for p in api["parameters"].as_array().into_iter().flatten() {
        let place = p["in"].as_str().unwrap_or("query");
        if place != "query" && place != "formData" {
            return Some(format!(
                "{place} parameter {}",
                p["name"].as_str().unwrap_or("?")
            ));
        }
    }
    let media = |k: &str| {
        api[k]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .map(str::to_ascii_lowercase)
            .collect::<Vec<_>>()
    };
    let kinds: Vec<String> = media("produces")
        .into_iter()
        .chain(media("consumes"))
        .collect();
    let return_type = api["staticInfo"]["returnType"]
        .as_str()
        .unwrap_or("")
        .to_ascii_lowercase();
    if kinds.iter().any(|k| k.contains("event-stream"))
        || return_type == "sse"
        || return_type.contains("stream")
    {
        return Some("streaming (SSE) action".into());
    }
    if kinds.iter().any(|k| k.contains("octet-stream")) {
        return Some("binary (octet-stream) action".into());
    }
    let ok = api["responses"]
        .as_object()
        .and_then(|r| r.iter().find(|(k, _)| k.starts_with('2')).map(|(_, v)| v));
    if let Some(schema) = ok.map(|r| &r["schema"]) {
        if schema["format"].as_str() == Some("binary") || schema["type"].as_str() == Some("file") {
            return Some("binary response".into());
        }
    }
    None
}

/// Builds the product from Alibaba metadata; `only` limits the actions.
pub fn read(
    doc: &Value,
    fallback_product: &str,
    only: Option<&BTreeSet<String>>,
) -> Result<Product, String> {
    let apis = doc["apis"]
        .as_object()
        .ok_or("api-docs.json has no \"apis\" table")?;
    let info = &doc["info"];
    let product = info["product"]
        .as_str()
        .unwrap_or(fallback_product)
        .to_string();
    let version = info["version"].as_str().unwrap_or("").to_string();
    if version.is_empty() {
        return Err("api-docs.json has no info.version".into());
    }
    let lower = product.to_ascii_lowercase();
    let (host_template, region_hosts, default_region) = endpoints(doc, &lower);
    let style = info["style"].as_str().unwrap_or("RPC").to_string();
    let mut reader = Reader {
        doc,
        product: Product {
            vendor: Vendor::Alibaba,
            service_name: crate::upper_first(&product),
            product: product.clone(),
            version: version.clone(),
            service_comment: format!("Alibaba Cloud {product}, API version {version}."),
            header: Vec::new(),
            endpoint_key: lower,
            host_template,
            region_hosts,
            default_region,
            region_required: false,
            signing_service: String::new(),
            methods: Vec::new(),
            messages: Vec::new(),
            skipped: Vec::new(),
            doc_required_disagreements: 0,
            notes: Vec::new(),
        },
        by_ref: BTreeMap::new(),
    };
    let flow = flow_control(doc);
    for (action, api) in apis {
        if only.is_some_and(|o| !o.contains(action)) {
            continue;
        }
        if !style.eq_ignore_ascii_case("RPC") {
            reader
                .product
                .skipped
                .push((action.clone(), format!("non-RPC ({style}) product")));
            continue;
        }
        if let Some(why) = unsupported(api) {
            reader.product.skipped.push((action.clone(), why));
            continue;
        }
        let rpc = pascal_case(action);
        let req_key = format!("{rpc}Request");
        let req_id = reader.product.messages.len();
        reader.product.messages.push(Message::new(
            &req_key,
            &req_key,
            &format!("Request of {action}."),
            true,
        ));
        let mut fields = Vec::new();
        let mut seen = BTreeSet::new();
        for p in api["parameters"].as_array().into_iter().flatten() {
            let Some(name) = p["name"].as_str() else {
                continue;
            };
            if !seen.insert(name.to_string()) {
                continue;
            }
            let schema = &p["schema"];
            let mut f = reader.field(name, schema, &req_key, &req_key, true);
            let style = p["style"].as_str().unwrap_or("");
            let scalar_elems = matches!(f.ty, Type::Scalar(_));
            f.rule.encoding = match (style, f.repeated, &f.ty) {
                ("json", _, Type::Message(_) | Type::Map(_) | Type::Value) => {
                    Some("QUERY_JSON".into())
                }
                ("json", true, _) => Some("QUERY_JSON".into()),
                ("simple", true, _) if scalar_elems => Some("QUERY_SIMPLE".into()),
                ("simple", true, _) => Some("QUERY_JSON".into()),
                (_, true, _) => Some("QUERY_FLAT_LIST".into()),
                _ => None,
            };
            f.rule.form = p["in"].as_str() == Some("formData");
            if name == "ClientToken" && f.ty == Type::Scalar("string".into()) && !f.repeated {
                f.rule.idempotency_token = true;
            }
            fields.push(f);
        }
        reader.product.messages[req_id].fields = fields;

        let resp_key = format!("{rpc}Response");
        let ok = api["responses"]
            .as_object()
            .and_then(|r| r.iter().find(|(k, _)| k.starts_with('2')).map(|(_, v)| v));
        let resp_schema = ok.map(|r| &r["schema"]).unwrap_or(&Value::Null);
        let (resp_schema, _) = deref(doc, resp_schema);
        let resp_id = reader.product.messages.len();
        reader.product.messages.push(Message::new(
            &resp_key,
            &resp_key,
            &format!("Response of {action}."),
            false,
        ));
        let mut fields = Vec::new();
        if let Some(props) = resp_schema["properties"].as_object() {
            for (name, prop) in props {
                fields.push(reader.field(name, prop, &resp_key, &resp_key, false));
            }
        }
        reader.product.messages[resp_id].fields = fields;

        let description = api["description"].as_str().unwrap_or("");
        let summary_text = api["summary"].as_str().unwrap_or("");
        let mut comment = summary(summary_text, 240);
        if comment.is_empty() {
            comment = summary(description, 240);
        }
        if comment.is_empty() {
            comment = summary(api["title"].as_str().unwrap_or(""), 200);
        }
        let read_only = is_read_only(api);
        let (qps, scope, source) = if let Some(q) = flow.get(action) {
            (*q, String::new(), "flow_control".to_string())
        } else if let Some(p) = prose_qps(description).or_else(|| prose_qps(summary_text)) {
            (p.qps, p.scope, "prose".to_string())
        } else {
            (0.0, String::new(), String::new())
        };
        let mut errors = Vec::new();
        let mut seen = BTreeSet::new();
        if let Some(by_status) = api["errorCodes"].as_object() {
            for (status, list) in by_status {
                let http: i32 = status.trim().parse().unwrap_or(0);
                for e in list.as_array().into_iter().flatten() {
                    let code = e["errorCode"].as_str().unwrap_or("").trim().to_string();
                    if code.is_empty() || !seen.insert(code.clone()) {
                        continue;
                    }
                    let meaning = crate::text::plain(e["errorMessage"].as_str().unwrap_or(""));
                    let (class, grpc) = classify(&code, http, &meaning);
                    errors.push(ErrorEntry {
                        code,
                        http_status: http,
                        meaning,
                        grpc_code: grpc.into(),
                        class: class.into(),
                    });
                }
            }
        }
        let sample = api["responseDemo"]
            .as_str()
            .and_then(|d| serde_json::from_str::<Value>(d).ok())
            .and_then(|demos| {
                demos.as_array().and_then(|list| {
                    list.iter()
                        .filter(|d| d["type"].as_str() == Some("json"))
                        .filter_map(|d| d["example"].as_str())
                        .find_map(minify_json)
                })
            })
            .unwrap_or_default();
        reader.product.methods.push(Method {
            action: action.clone(),
            name: rpc,
            comment,
            deprecated: api["deprecated"].as_bool().unwrap_or(false),
            request: req_id,
            response: resp_id,
            documented_qps: qps,
            qps_scope: scope,
            qps_source: source,
            mutating: !read_only,
            safe_to_retry: read_only,
            iam_action: String::new(),
            errors,
            sample_response: sample,
        });
    }
    Ok(reader.product)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn endpoints_pick_the_regional_pattern_or_the_common_host() {
        let sddp = json!({"endpoints": [
            {"regionId": "cn-hongkong", "endpoint": "sddp-api.cn-hongkong.aliyuncs.com"},
            {"regionId": "ap-southeast-1", "endpoint": "sddp.ap-southeast-1.aliyuncs.com"},
            {"regionId": "cn-zhangjiakou", "endpoint": "sddp.cn-zhangjiakou.aliyuncs.com"}]});
        let (t, ex, d) = endpoints(&sddp, "sddp");
        assert_eq!(t, "sddp.{region}.aliyuncs.com");
        assert_eq!(
            ex,
            vec![(
                "cn-hongkong".to_string(),
                "sddp-api.cn-hongkong.aliyuncs.com".to_string()
            )]
        );
        assert_eq!(d, "cn-hongkong");
        let bss = json!({"endpoints": [
            {"regionId": "cn-hangzhou", "endpoint": "business.aliyuncs.com"},
            {"regionId": "cn-beijing", "endpoint": "business.aliyuncs.com"},
            {"regionId": "ap-southeast-1", "endpoint": "business.ap-southeast-1.aliyuncs.com"},
            {"regionId": "us-east-1", "endpoint": "business.ap-southeast-1.aliyuncs.com"}]});
        let (t, ex, d) = endpoints(&bss, "bssopenapi");
        assert_eq!(t, "business.aliyuncs.com");
        assert_eq!(ex.len(), 2);
        assert_eq!(d, "cn-hangzhou");
        let none = json!({});
        assert_eq!(endpoints(&none, "foo").0, "foo.{region}.aliyuncs.com");
    }

    #[test]
    fn flow_control_is_read_tolerantly() {
        let doc = json!({"flowControl": {"flowControlList": [
            {"apiName": "DescribeA", "threshold": 100, "unit": "SECOND"},
            {"apiName": "DescribeB", "threshold": "600", "unit": "MINUTE"}]}});
        let f = flow_control(&doc);
        assert_eq!(f["DescribeA"], 100.0);
        assert_eq!(f["DescribeB"], 10.0);
    }

    #[test]
    fn read_only_from_operation_type() {
        assert!(is_read_only(
            &json!({"systemTags": {"operationType": "get"}})
        ));
        assert!(is_read_only(
            &json!({"systemTags": {"operationType": "list"}})
        ));
        assert!(!is_read_only(
            &json!({"systemTags": {"operationType": "update"}})
        ));
        assert!(!is_read_only(
            &json!({"systemTags": {"operationType": "none"}})
        ));
        assert!(is_read_only(&json!({"operationType": "read"})));
        assert!(!is_read_only(&json!({})));
    }
}
