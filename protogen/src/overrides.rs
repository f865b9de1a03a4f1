//! `protogen.toml`: what the metadata lacks or gets wrong, applied after reading.
//!
//! ```toml
//! [alibaba.sddp."2019-01-03"]            # vendor . product (lower case) . version
//! default_region = "cn-zhangjiakou"
//! [alibaba.sddp."2019-01-03".actions.DescribeUserStatus]
//! documented_qps = 10
//! qps_scope = "per user"
//! qps_source = "documented"              # default "override"
//! [alibaba.sddp."2019-01-03".actions.DescribeUserStatus.fields."request.Lang"]
//! allowed_values = ["zh_cn", "en_us"]
//! [alibaba.sddp."2019-01-03".actions.DescribeUserStatus.fields."response.UserStatus.AssetRoleAuthed"]
//! add = "bool"                           # a member the metadata omits
//! ```
//!
//! Field paths start at `request` or `response` and follow vendor member
//! names through nested messages and list elements.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::model::{ErrorEntry, Field, Product, Type};

/// The whole file: vendor -> product (lower case) -> version -> overrides.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Overrides {
    #[serde(default)]
    pub alibaba: BTreeMap<String, BTreeMap<String, ProductOverride>>,
    #[serde(default)]
    pub tencent: BTreeMap<String, BTreeMap<String, ProductOverride>>,
}

/// A region host.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegionHost {
    pub region: String,
    pub host: String,
}

/// Overrides of one product-version.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProductOverride {
    /// The service name (`CloudSSO`).
    pub service_name: Option<String>,
    /// `ServiceRule.product`.
    pub product: Option<String>,
    pub comment: Option<String>,
    pub host_template: Option<String>,
    /// Replaces the region hosts derived from the metadata.
    pub region_hosts: Option<Vec<RegionHost>>,
    pub default_region: Option<String>,
    #[serde(default)]
    pub actions: BTreeMap<String, ActionOverride>,
}

/// Overrides of one action.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ActionOverride {
    pub comment: Option<String>,
    pub iam_action: Option<String>,
    pub documented_qps: Option<f64>,
    pub qps_scope: Option<String>,
    pub qps_source: Option<String>,
    pub mutating: Option<bool>,
    pub safe_to_retry: Option<bool>,
    pub sample_response: Option<String>,
    pub deprecated: Option<bool>,
    /// Skip the action, with this reason.
    pub skip: Option<String>,
    /// Per error code: meaning, class, gRPC code, HTTP status.
    #[serde(default)]
    pub errors: BTreeMap<String, ErrorOverride>,
    /// Per field path (`request.Status`, `response.UserStatus.Trail`).
    #[serde(default)]
    pub fields: BTreeMap<String, FieldOverride>,
}

/// Overrides of one documented error (added when the metadata lacks it).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ErrorOverride {
    pub meaning: Option<String>,
    /// ErrorClass without prefix (`STATE`).
    pub class: Option<String>,
    /// GrpcCode without prefix (`FAILED_PRECONDITION`).
    pub grpc_code: Option<String>,
    pub http_status: Option<i32>,
}

/// Overrides of one field.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FieldOverride {
    /// Adds a member the metadata omits, of this scalar type.
    pub add: Option<String>,
    /// With `add`: a list.
    pub repeated: Option<bool>,
    /// Replaces the scalar type (`int64` where the metadata says int32).
    #[serde(rename = "type")]
    pub ty: Option<String>,
    pub comment: Option<String>,
    pub required: Option<bool>,
    pub allowed_values: Option<Vec<String>>,
    pub pattern: Option<String>,
    pub pattern_description: Option<String>,
    pub min_value: Option<i64>,
    pub max_value: Option<i64>,
    pub max_length: Option<u32>,
    pub min_length: Option<u32>,
    pub example: Option<String>,
    pub sensitive: Option<bool>,
    /// WireEncoding without prefix.
    pub encoding: Option<String>,
    pub deprecated: Option<bool>,
}

const SCALARS: &[&str] = &[
    "string", "bytes", "bool", "int32", "int64", "uint32", "uint64", "sint32", "sint64", "double",
    "float", "fixed32", "fixed64",
];

impl Overrides {
    /// The overrides of a product-version, if any.
    pub fn product(&self, p: &Product) -> Option<&ProductOverride> {
        let table = match p.vendor {
            crate::model::Vendor::Alibaba => &self.alibaba,
            crate::model::Vendor::Tencent => &self.tencent,
        };
        table
            .get(&p.product.to_ascii_lowercase())
            .and_then(|v| v.get(&p.version))
    }
}

/// Applies product overrides; returns problems (unknown actions, paths) as notes.
pub fn apply(p: &mut Product, o: &ProductOverride) -> Vec<String> {
    let mut notes = Vec::new();
    if let Some(v) = &o.service_name {
        p.service_name = v.clone();
    }
    if let Some(v) = &o.product {
        p.product = v.clone();
    }
    if let Some(v) = &o.comment {
        p.service_comment = v.clone();
    }
    if let Some(v) = &o.host_template {
        p.host_template = v.clone();
    }
    if let Some(v) = &o.region_hosts {
        p.region_hosts = v
            .iter()
            .map(|r| (r.region.clone(), r.host.clone()))
            .collect();
    }
    if let Some(v) = &o.default_region {
        p.default_region = v.clone();
    }
    for (action, ao) in &o.actions {
        let Some(mi) = p.methods.iter().position(|m| &m.action == action) else {
            continue; // Not generated this run (skipped or filtered).
        };
        if let Some(why) = &ao.skip {
            p.methods.remove(mi);
            p.skipped.push((action.clone(), format!("override: {why}")));
            continue;
        }
        let m = &mut p.methods[mi];
        if let Some(v) = &ao.comment {
            m.comment = v.clone();
        }
        if let Some(v) = &ao.iam_action {
            m.iam_action = v.clone();
        }
        if let Some(v) = ao.documented_qps {
            m.documented_qps = v;
            m.qps_scope = ao.qps_scope.clone().unwrap_or_default();
            m.qps_source = ao.qps_source.clone().unwrap_or_else(|| "override".into());
        }
        if let Some(v) = ao.mutating {
            m.mutating = v;
        }
        if let Some(v) = ao.safe_to_retry {
            m.safe_to_retry = v;
        }
        if let Some(v) = &ao.sample_response {
            m.sample_response = v.clone();
        }
        if let Some(v) = ao.deprecated {
            m.deprecated = v;
        }
        for (code, eo) in &ao.errors {
            let entry = match m.errors.iter_mut().find(|e| &e.code == code) {
                Some(e) => e,
                None => {
                    let (class, grpc) =
                        crate::classify::classify(code, eo.http_status.unwrap_or(0), "");
                    m.errors.push(ErrorEntry {
                        code: code.clone(),
                        http_status: 0,
                        meaning: String::new(),
                        grpc_code: grpc.into(),
                        class: class.into(),
                    });
                    m.errors.last_mut().unwrap()
                }
            };
            if let Some(v) = &eo.meaning {
                entry.meaning = v.clone();
            }
            if let Some(v) = &eo.class {
                entry.class = v.clone();
            }
            if let Some(v) = &eo.grpc_code {
                entry.grpc_code = v.clone();
            }
            if let Some(v) = eo.http_status {
                entry.http_status = v;
            }
        }
        let (req, resp) = (m.request, m.response);
        for (path, fo) in &ao.fields {
            let mut parts = path.split('.');
            let root = match parts.next() {
                Some("request") => req,
                Some("response") => resp,
                _ => {
                    notes.push(format!(
                        "override {action}: path {path:?} must start with request or response"
                    ));
                    continue;
                }
            };
            let names: Vec<&str> = parts.collect();
            if let Err(e) = apply_field(p, root, &names, fo) {
                notes.push(format!("override {action} {path}: {e}"));
            }
        }
    }
    notes
}

fn apply_field(
    p: &mut Product,
    mut msg: usize,
    names: &[&str],
    fo: &FieldOverride,
) -> Result<(), String> {
    let Some((last, parents)) = names.split_last() else {
        return Err("empty path".into());
    };
    for name in parents {
        let f = p.messages[msg]
            .fields
            .iter()
            .find(|f| f.vendor_name == *name)
            .ok_or_else(|| format!("no member {name}"))?;
        msg = match &f.ty {
            Type::Message(id) => *id,
            Type::Map(v) => match **v {
                Type::Message(id) => id,
                _ => return Err(format!("{name} holds no message")),
            },
            _ => return Err(format!("{name} is not a message")),
        };
    }
    let message = &mut p.messages[msg];
    let idx = match message.fields.iter().position(|f| f.vendor_name == *last) {
        Some(i) => i,
        None => {
            let Some(ty) = &fo.add else {
                return Err(format!(
                    "no member {last} (use add = \"<type>\" to add one)"
                ));
            };
            if !SCALARS.contains(&ty.as_str()) {
                return Err(format!("add: {ty} is not a scalar type"));
            }
            let mut f = Field::new(last, Type::Scalar(ty.clone()));
            f.repeated = fo.repeated.unwrap_or(false);
            message.fields.push(f);
            message.fields.len() - 1
        }
    };
    let f = &mut message.fields[idx];
    if let Some(t) = &fo.ty {
        if !SCALARS.contains(&t.as_str()) {
            return Err(format!("type: {t} is not a scalar type"));
        }
        f.ty = Type::Scalar(t.clone());
    }
    let r = &mut f.rule;
    if let Some(v) = &fo.comment {
        f.comment = v.clone();
    }
    if let Some(v) = fo.required {
        r.required = v;
    }
    if let Some(v) = &fo.allowed_values {
        r.allowed_values = v.clone();
    }
    if let Some(v) = &fo.pattern {
        regex::Regex::new(&format!("^(?:{v})$")).map_err(|e| format!("pattern: {e}"))?;
        r.pattern = v.clone();
    }
    if let Some(v) = &fo.pattern_description {
        r.pattern_description = v.clone();
    }
    if let Some(v) = fo.min_value {
        r.min_value = v;
    }
    if let Some(v) = fo.max_value {
        r.max_value = v;
    }
    if let Some(v) = fo.max_length {
        r.max_length = v;
    }
    if let Some(v) = fo.min_length {
        r.min_length = v;
    }
    if let Some(v) = &fo.example {
        r.example = v.clone();
    }
    if let Some(v) = fo.sensitive {
        r.sensitive = v;
    }
    if let Some(v) = &fo.encoding {
        r.encoding = Some(v.clone()).filter(|e| !e.is_empty() && e != "UNSPECIFIED");
    }
    if let Some(v) = fo.deprecated {
        f.deprecated = v;
    }
    Ok(())
}
