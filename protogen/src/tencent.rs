//! Reads Tencent Cloud metadata: tccli `api.json` (+ `examples.json`) and the
//! Go SDK's `client.go` / `errors.go` error lists.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::LazyLock;

use regex::Regex;
use serde_json::Value;

use crate::classify::classify;
use crate::model::{ErrorEntry, Field, Message, Method, MsgId, Product, Type, Vendor};
use crate::text::{minify_json, pascal_case, prose_qps, summary};

/// Verbs of read-only actions.
const READ_VERBS: &[&str] = &[
    "Describe", "List", "Get", "Query", "Check", "Inquiry", "Inquire", "Search",
];

/// Whether a Tencent action is read-only by its verb (`DescribeInstances`).
pub fn is_read_only(action: &str) -> bool {
    READ_VERBS.iter().any(|v| {
        action.strip_prefix(v).is_some_and(|rest| {
            rest.is_empty() || rest.starts_with(|c: char| c.is_ascii_uppercase())
        })
    })
}

/// Date kinds: (pattern, description).
fn date_pattern(kind: &str) -> Option<(&'static str, &'static str)> {
    match kind {
        "date" => Some((r"\d{4}-\d{2}-\d{2}", "a date (YYYY-MM-DD)")),
        "datetime" => Some((
            r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}",
            "a date and time (YYYY-MM-DD hh:mm:ss)",
        )),
        "datetime_iso" => Some((
            r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:?\d{2})?",
            "an ISO 8601 date and time (YYYY-MM-DDThh:mm:ssZ)",
        )),
        _ => None,
    }
}

/// Error codes per action from `client.go` (the comment block after
/// `可能返回的错误码:` above each `func (c *Client) Action(`).
pub fn parse_client_go(text: &str) -> BTreeMap<String, Vec<String>> {
    static FUNC: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"^func \(c \*Client\) (\w+)\(").unwrap());
    static CODE: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r#"^//\s+[A-Z0-9_]+\s*=\s*"([^"]+)""#).unwrap());
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut block: Vec<&str> = Vec::new();
    for line in text.lines() {
        let trimmed = line.trim_end();
        if trimmed.starts_with("//") {
            block.push(trimmed);
            continue;
        }
        if let Some(m) = FUNC.captures(trimmed) {
            let name = m[1]
                .strip_suffix("WithContext")
                .unwrap_or(&m[1])
                .to_string();
            let mut codes = Vec::new();
            let mut in_codes = false;
            for l in &block {
                if l.contains("可能返回的错误码") {
                    in_codes = true;
                    continue;
                }
                if in_codes {
                    if let Some(c) = CODE.captures(l) {
                        codes.push(c[1].to_string());
                    }
                }
            }
            if !codes.is_empty() {
                out.entry(name).or_insert(codes);
            }
        }
        block.clear();
    }
    out
}

/// Meanings of error codes from `errors.go` (the comment lines above each constant).
pub fn parse_errors_go(text: &str) -> BTreeMap<String, String> {
    static CONST: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r#"^\s*[A-Z0-9_]+\s*=\s*"([^"]+)""#).unwrap());
    let mut out = BTreeMap::new();
    let mut comment: Vec<String> = Vec::new();
    for line in text.lines() {
        let t = line.trim();
        if let Some(c) = t.strip_prefix("//") {
            comment.push(c.trim().to_string());
            continue;
        }
        if let Some(m) = CONST.captures(t) {
            if !comment.is_empty() {
                out.entry(m[1].to_string())
                    .or_insert_with(|| comment.join(" ").trim().to_string());
            }
        }
        comment.clear();
    }
    out
}

struct Reader<'a> {
    objects: &'a serde_json::Map<String, Value>,
    product: Product,
    by_struct: BTreeMap<String, MsgId>,
}

impl Reader<'_> {
    /// The type of a member kind (`int64`, `Filter`, ...): (type, date pattern).
    fn kind(&mut self, kind: &str, type_: &str) -> (Type, Option<(&'static str, &'static str)>) {
        let scalar = |s: &str| Type::Scalar(s.to_string());
        match kind {
            "string" => (scalar("string"), None),
            "int64" | "int" | "integer" => (scalar("int64"), None),
            "uint64" => (scalar("uint64"), None),
            "bool" | "boolean" => (scalar("bool"), None),
            "float" | "double" => (scalar("double"), None),
            "binary" => (scalar("bytes"), None),
            k if date_pattern(k).is_some() => (scalar("string"), date_pattern(k)),
            name if self.objects.contains_key(name) => (Type::Message(self.structure(name)), None),
            other => {
                self.product.notes.push(format!(
                    "unknown member kind {other:?} ({type_}): free-form JSON"
                ));
                (Type::Value, None)
            }
        }
    }

    /// The message of a struct, built once.
    fn structure(&mut self, name: &str) -> MsgId {
        if let Some(&id) = self.by_struct.get(name) {
            return id;
        }
        let obj = &self.objects[name];
        let id = self.product.messages.len();
        self.product.messages.push(Message::new(
            name,
            &pascal_case(name),
            &summary(obj["document"].as_str().unwrap_or(""), 200),
            false,
        ));
        self.by_struct.insert(name.to_string(), id);
        let fields = self.members(obj);
        self.product.messages[id].fields = fields;
        id
    }

    fn members(&mut self, obj: &Value) -> Vec<Field> {
        let mut fields = Vec::new();
        let mut seen = BTreeSet::new();
        for m in obj["members"].as_array().map(Vec::as_slice).unwrap_or(&[]) {
            let Some(name) = m["name"].as_str() else {
                continue;
            };
            if !seen.insert(name.to_string()) {
                continue;
            }
            let type_ = m["type"].as_str().unwrap_or("string");
            let kind = m["member"].as_str().unwrap_or(type_);
            let (ty, date) = self.kind(kind, type_);
            let mut f = Field::new(name, ty);
            f.repeated = type_ == "list";
            f.comment = summary(m["document"].as_str().unwrap_or(""), 200);
            f.deprecated = m["disabled"].as_bool().unwrap_or(false);
            f.rule.required = m["required"].as_bool().unwrap_or(false);
            if let Some((p, d)) = date {
                f.rule.pattern = p.into();
                f.rule.pattern_description = d.into();
            }
            f.rule.example = match &m["example"] {
                Value::String(s) => s.trim().to_string(),
                Value::Null => String::new(),
                other => other.to_string(),
            };
            fields.push(f);
        }
        fields
    }
}

/// Whether a member list (at any depth, through structs) carries a binary member.
fn has_binary(
    objects: &serde_json::Map<String, Value>,
    name: &str,
    seen: &mut BTreeSet<String>,
) -> bool {
    if !seen.insert(name.to_string()) {
        return false;
    }
    let Some(obj) = objects.get(name) else {
        return false;
    };
    obj["members"].as_array().into_iter().flatten().any(|m| {
        let kind = m["member"].as_str().unwrap_or("");
        kind == "binary" || m["type"].as_str() == Some("binary") || has_binary(objects, kind, seen)
    })
}

/// Inputs of one Tencent product-version.
pub struct Inputs<'a> {
    pub api: &'a Value,
    pub examples: Option<&'a Value>,
    pub client_go: Option<&'a str>,
    pub errors_go: Option<&'a str>,
    /// The product name when `metadata.serviceShortName` is missing.
    pub fallback_product: &'a str,
}

/// Builds the product from Tencent metadata; `only` limits the actions.
pub fn read(input: &Inputs<'_>, only: Option<&BTreeSet<String>>) -> Result<Product, String> {
    let api = input.api;
    let objects = api["objects"]
        .as_object()
        .ok_or("api.json has no \"objects\" table")?;
    let actions = api["actions"]
        .as_object()
        .ok_or("api.json has no \"actions\" table")?;
    let meta = &api["metadata"];
    let product = meta["serviceShortName"]
        .as_str()
        .unwrap_or(input.fallback_product)
        .to_string();
    let version = meta["apiVersion"].as_str().unwrap_or("").to_string();
    if version.is_empty() {
        return Err("api.json has no metadata.apiVersion".into());
    }
    let lower = product.to_ascii_lowercase();
    let name_cn = meta["serviceNameCN"].as_str().unwrap_or("");
    let mut service_comment = format!("Tencent Cloud {product}");
    if !name_cn.is_empty() {
        service_comment = format!("Tencent Cloud {name_cn} ({product})");
    }
    service_comment.push_str(&format!(", API version {version}."));
    let brief = summary(meta["api_brief"].as_str().unwrap_or(""), 200);
    if !brief.is_empty() {
        service_comment.push(' ');
        service_comment.push_str(&brief);
    }
    let mut reader = Reader {
        objects,
        product: Product {
            vendor: Vendor::Tencent,
            service_name: crate::upper_first(&product),
            product: product.clone(),
            version,
            service_comment,
            header: Vec::new(),
            endpoint_key: lower.clone(),
            host_template: format!("{lower}.tencentcloudapi.com"),
            region_hosts: Vec::new(),
            default_region: "ap-guangzhou".into(),
            region_required: true,
            signing_service: lower.clone(),
            methods: Vec::new(),
            messages: Vec::new(),
            skipped: Vec::new(),
            doc_required_disagreements: 0,
            notes: Vec::new(),
        },
        by_struct: BTreeMap::new(),
    };
    let errors = input.client_go.map(parse_client_go).unwrap_or_default();
    let meanings = input.errors_go.map(parse_errors_go).unwrap_or_default();

    for (action, a) in actions {
        if only.is_some_and(|o| !o.contains(action)) {
            continue;
        }
        let status = a["status"].as_str().unwrap_or("online");
        if status == "offline" {
            reader
                .product
                .skipped
                .push((action.clone(), "offline action".into()));
            continue;
        }
        let input_name = a["input"].as_str().unwrap_or("");
        let output_name = a["output"].as_str().unwrap_or("");
        let (Some(in_obj), Some(out_obj)) = (objects.get(input_name), objects.get(output_name))
        else {
            reader.product.skipped.push((
                action.clone(),
                "input or output type missing from api.json".into(),
            ));
            continue;
        };
        let members = in_obj["members"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or(&[]);
        if members.iter().any(|m| m["name"].as_str() == Some("Stream")) {
            reader.product.skipped.push((
                action.clone(),
                "streaming (SSE) action (Stream parameter)".into(),
            ));
            continue;
        }
        if has_binary(objects, input_name, &mut BTreeSet::new()) {
            reader
                .product
                .skipped
                .push((action.clone(), "binary (octet-stream) action".into()));
            continue;
        }
        let rpc = pascal_case(action);
        let req_id = reader.product.messages.len();
        reader.product.messages.push(Message::new(
            &format!("{rpc}Request"),
            &format!("{rpc}Request"),
            &format!("Request of {action}."),
            true,
        ));
        let mut fields = reader.members(in_obj);
        for f in &mut fields {
            f.rule.encoding = Some("JSON_BODY".into());
            if f.vendor_name == "ClientToken"
                && f.ty == Type::Scalar("string".into())
                && !f.repeated
            {
                f.rule.idempotency_token = true;
            }
        }
        reader.product.messages[req_id].fields = fields;
        let resp_id = reader.product.messages.len();
        reader.product.messages.push(Message::new(
            &format!("{rpc}Response"),
            &format!("{rpc}Response"),
            &format!("Response of {action}."),
            false,
        ));
        let fields = reader.members(out_obj);
        reader.product.messages[resp_id].fields = fields;

        let document = a["document"].as_str().unwrap_or("");
        let title = a["name"].as_str().unwrap_or("");
        let mut comment = summary(document, 240);
        if comment.is_empty() {
            comment = summary(title, 200);
        }
        let read_only = is_read_only(action);
        let (qps, scope, source) = match prose_qps(document) {
            Some(p) => (p.qps, p.scope, "prose".to_string()),
            None => (0.0, String::new(), String::new()),
        };
        let errs = errors
            .get(action)
            .map(|codes| {
                let mut seen = BTreeSet::new();
                codes
                    .iter()
                    .filter(|c| seen.insert(c.to_string()))
                    .map(|code| {
                        let meaning = meanings.get(code).cloned().unwrap_or_default();
                        let (class, grpc) = classify(code, 0, &meaning);
                        ErrorEntry {
                            code: code.clone(),
                            http_status: 0,
                            meaning,
                            grpc_code: grpc.into(),
                            class: class.into(),
                        }
                    })
                    .collect()
            })
            .unwrap_or_default();
        let sample = input
            .examples
            .and_then(|e| e["actions"][action.as_str()].as_array())
            .and_then(|list| {
                list.iter()
                    .filter_map(|x| x["output"].as_str())
                    .find_map(minify_json)
            })
            .unwrap_or_default();
        reader.product.methods.push(Method {
            action: action.clone(),
            name: rpc,
            comment,
            deprecated: status == "deprecated",
            request: req_id,
            response: resp_id,
            documented_qps: qps,
            qps_scope: scope,
            qps_source: source,
            mutating: !read_only,
            safe_to_retry: read_only,
            iam_action: String::new(),
            errors: errs,
            sample_response: sample,
        });
    }
    Ok(reader.product)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn read_only_by_verb() {
        assert!(is_read_only("DescribeInstances"));
        assert!(is_read_only("InquiryPriceRunInstances"));
        assert!(is_read_only("GetFederationToken"));
        assert!(!is_read_only("ModifyUserType"));
        assert!(!is_read_only("Getaway"));
        assert!(!is_read_only("RunInstances"));
    }

    #[test]
    fn parses_error_lists() {
        let client = "// ModifyUserType\n// 修改用户类型\n//\n// 可能返回的错误码:\n//  INTERNALERROR = \"InternalError\"\n//  INVALIDPARAMETER = \"InvalidParameter\"\nfunc (c *Client) ModifyUserType(request *X) {\n}\n// ModifyUserType\n// 可能返回的错误码:\n//  INTERNALERROR = \"InternalError\"\nfunc (c *Client) ModifyUserTypeWithContext(ctx context.Context) {\n";
        let m = parse_client_go(client);
        assert_eq!(
            m["ModifyUserType"],
            vec!["InternalError", "InvalidParameter"]
        );
        let errors = "const (\n\t// 此产品的特有错误码\n\n\t// 内部错误。\n\tINTERNALERROR = \"InternalError\"\n)\n";
        let e = parse_errors_go(errors);
        assert_eq!(e["InternalError"], "内部错误。");
        assert_eq!(e.len(), 1);
    }
}
