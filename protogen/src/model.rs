//! The vendor-neutral description of one product-version that the readers
//! build and the emitter writes: a service, its methods and messages.

use std::collections::BTreeMap;

/// The two vendors.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Vendor {
    /// Alibaba Cloud (`api-docs.json`).
    Alibaba,
    /// Tencent Cloud (`api.json`).
    Tencent,
}

impl Vendor {
    /// The key used in protogen.toml and the summary.
    pub fn key(self) -> &'static str {
        match self {
            Vendor::Alibaba => "alibaba",
            Vendor::Tencent => "tencent",
        }
    }
    /// The first package component and output folder.
    pub fn dir(self) -> &'static str {
        match self {
            Vendor::Alibaba => "aliyun",
            Vendor::Tencent => "tencentcloud",
        }
    }
}

/// Index of a message in [`Product::messages`].
pub type MsgId = usize;

/// A field's value type.
#[derive(Debug, Clone, PartialEq)]
pub enum Type {
    /// A proto scalar type name (`string`, `int64`, `double`, `bool`, `bytes`, ...).
    Scalar(String),
    /// A generated message.
    Message(MsgId),
    /// `google.protobuf.Value`: free-form JSON.
    Value,
    /// `map<string, V>`; V is never a map or a list.
    Map(Box<Type>),
}

/// Validation and wire options of a field (the `(cloudgate.v1.field)` option
/// minus the vendor name).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Rule {
    pub required: bool,
    pub allowed_values: Vec<String>,
    /// WireEncoding value name without its prefix (`QUERY_JSON`).
    pub encoding: Option<String>,
    pub pattern: String,
    pub pattern_description: String,
    pub min_value: i64,
    pub max_value: i64,
    pub max_length: u32,
    pub min_length: u32,
    pub example: String,
    pub sensitive: bool,
    pub form: bool,
    pub idempotency_token: bool,
}

/// One member of a message, before names and numbers are assigned.
#[derive(Debug, Clone)]
pub struct Field {
    /// The vendor's member name.
    pub vendor_name: String,
    pub ty: Type,
    pub repeated: bool,
    pub comment: String,
    pub rule: Rule,
    pub deprecated: bool,
    /// Filled by the lock: proto name and number.
    pub name: String,
    pub number: u32,
}

impl Field {
    /// A new field with an empty rule.
    pub fn new(vendor_name: &str, ty: Type) -> Self {
        Field {
            vendor_name: vendor_name.to_string(),
            ty,
            repeated: false,
            comment: String::new(),
            rule: Rule::default(),
            deprecated: false,
            name: String::new(),
            number: 0,
        }
    }
}

/// One message.
#[derive(Debug, Clone)]
pub struct Message {
    /// Identity in the lock: the message name for request/response and
    /// Tencent structs, `<parent key>.<member>` for Alibaba nested objects.
    pub key: String,
    /// Name wanted when the lock has none.
    pub suggested_name: String,
    /// Final name (after the lock and de-duplication).
    pub name: String,
    pub comment: String,
    pub fields: Vec<Field>,
    /// Reachable from a request: members get validation options and proto3 `optional`.
    pub request_side: bool,
    /// `(number, proto name)` of members that were removed.
    pub reserved: Vec<(u32, String)>,
}

impl Message {
    /// A new empty message.
    pub fn new(key: &str, suggested_name: &str, comment: &str, request_side: bool) -> Self {
        Message {
            key: key.to_string(),
            suggested_name: suggested_name.to_string(),
            name: String::new(),
            comment: comment.to_string(),
            fields: Vec::new(),
            request_side,
            reserved: Vec::new(),
        }
    }
}

/// A documented error of one operation.
#[derive(Debug, Clone, PartialEq)]
pub struct ErrorEntry {
    pub code: String,
    pub http_status: i32,
    pub meaning: String,
    /// GrpcCode value name without prefix.
    pub grpc_code: String,
    /// ErrorClass value name without prefix.
    pub class: String,
}

/// One operation.
#[derive(Debug, Clone)]
pub struct Method {
    pub action: String,
    /// The rpc name (the action, made an identifier).
    pub name: String,
    pub comment: String,
    pub deprecated: bool,
    pub request: MsgId,
    pub response: MsgId,
    pub documented_qps: f64,
    pub qps_scope: String,
    pub qps_source: String,
    pub mutating: bool,
    pub safe_to_retry: bool,
    pub iam_action: String,
    pub errors: Vec<ErrorEntry>,
    pub sample_response: String,
}

/// One product-version: one proto file with one service.
#[derive(Debug, Clone)]
pub struct Product {
    pub vendor: Vendor,
    /// `ServiceRule.product` ("BssOpenApi", "dlc").
    pub product: String,
    /// API version ("2017-12-14").
    pub version: String,
    /// Service name ("BssOpenApi", "Dlc").
    pub service_name: String,
    pub service_comment: String,
    /// Header lines (provenance), without the `// `.
    pub header: Vec<String>,
    pub endpoint_key: String,
    pub host_template: String,
    pub region_hosts: Vec<(String, String)>,
    pub default_region: String,
    pub region_required: bool,
    pub signing_service: String,
    pub methods: Vec<Method>,
    pub messages: Vec<Message>,
    /// Skipped actions and why.
    pub skipped: Vec<(String, String)>,
    /// Parameters whose `docRequired` disagrees with `required`.
    pub doc_required_disagreements: usize,
    /// Notes for the summary (dropped patterns, unknown types...).
    pub notes: Vec<String>,
}

impl Product {
    /// The lower-case product key used in the package and paths (an identifier).
    pub fn package_product(&self) -> String {
        let lower = self.endpoint_key.to_ascii_lowercase();
        let s: String = lower
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
            .collect();
        if s.starts_with(|c: char| c.is_ascii_digit()) {
            format!("p{s}")
        } else {
            s
        }
    }

    /// `v` + the version's digits (dates), or its letters and digits otherwise.
    pub fn package_version(&self) -> String {
        let digits: String = self
            .version
            .chars()
            .filter(|c| c.is_ascii_digit())
            .collect();
        let is_date =
            self.version.chars().all(|c| c.is_ascii_digit() || c == '-') && !digits.is_empty();
        if is_date {
            format!("v{digits}")
        } else {
            let s: String = self
                .version
                .to_ascii_lowercase()
                .chars()
                .filter(|c| c.is_ascii_alphanumeric())
                .collect();
            format!("v{s}")
        }
    }

    /// The proto package.
    pub fn package(&self) -> String {
        format!(
            "{}.{}.{}",
            self.vendor.dir(),
            self.package_product(),
            self.package_version()
        )
    }

    /// The file path under the output folder.
    pub fn rel_path(&self) -> String {
        format!(
            "{}/{}/{}/{}.proto",
            self.vendor.dir(),
            self.package_product(),
            self.package_version(),
            self.package_product()
        )
    }

    /// Messages by key.
    pub fn message_index(&self) -> BTreeMap<String, MsgId> {
        self.messages
            .iter()
            .enumerate()
            .map(|(i, m)| (m.key.clone(), i))
            .collect()
    }
}
