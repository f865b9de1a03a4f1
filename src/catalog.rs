//! The operation catalog, read from the `cloudgate.v1` options in the embedded
//! descriptor set: services, methods, fields and error codes. Nothing here is
//! a hand-written table; adding an operation means adding a proto method.

use std::collections::HashMap;
use std::sync::Arc;

use prost_reflect::{
    DescriptorPool, DynamicMessage, ExtensionDescriptor, FieldDescriptor, Kind, MessageDescriptor,
    ReflectMessage, Value,
};
use regex::Regex;

use crate::pb::cloudgate::v1 as opts;
pub use opts::{ErrorClass, GrpcCode, Vendor, WireEncoding};

/// A problem in the proto options, found when the catalog is loaded.
#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    /// The embedded descriptor set does not decode.
    #[error("descriptor set: {0}")]
    Descriptor(#[from] prost_reflect::DescriptorError),
    /// An option is missing or wrong.
    #[error("{element}: {reason}")]
    Option {
        /// The proto element (service, method or field full name).
        element: String,
        /// What is wrong.
        reason: String,
    },
}

fn opt_err(element: impl Into<String>, reason: impl Into<String>) -> CatalogError {
    CatalogError::Option {
        element: element.into(),
        reason: reason.into(),
    }
}

/// `"alibaba"` / `"tencent"`.
pub fn vendor_name(vendor: Vendor) -> &'static str {
    match vendor {
        Vendor::Alibaba => "alibaba",
        Vendor::Tencent => "tencent",
        Vendor::Unspecified => "unspecified",
    }
}

/// A vendor product served by one gRPC service.
#[derive(Debug)]
pub struct Service {
    /// gRPC full name, e.g. `aliyun.sddp.v20190103.Sddp`.
    pub full_name: String,
    /// The service's options.
    pub rule: opts::ServiceRule,
}

impl Service {
    /// The vendor.
    pub fn vendor(&self) -> Vendor {
        self.rule.vendor()
    }

    /// The documented host for a region (before any `[endpoints]` override).
    pub fn host_for(&self, region: &str) -> String {
        self.rule
            .region_hosts
            .iter()
            .find(|r| r.region == region)
            .map(|r| r.host.clone())
            .unwrap_or_else(|| self.rule.host_template.replace("{region}", region))
    }
}

/// One request field with its vendor rule, compiled.
#[derive(Debug, Clone)]
pub struct RequestField {
    /// The proto field.
    pub field: FieldDescriptor,
    /// Its options (encoding resolved to the vendor default when unset).
    pub rule: opts::FieldRule,
    /// `rule.pattern`, anchored and compiled.
    pub pattern: Option<Regex>,
}

impl RequestField {
    /// The proto field name (what callers and BadRequest violations use).
    pub fn proto_name(&self) -> &str {
        self.field.name()
    }
}

/// A documented error code with its mapping.
pub type ErrorEntry = opts::ErrorCode;

/// One vendor operation behind one gRPC method.
#[derive(Debug, Clone)]
pub struct Operation {
    /// The service it belongs to.
    pub service: Arc<Service>,
    /// gRPC method name, e.g. `DescribeUserStatus`.
    pub method: String,
    /// gRPC path, e.g. `/aliyun.sddp.v20190103.Sddp/DescribeUserStatus`.
    pub path: String,
    /// The method's options.
    pub rule: opts::MethodRule,
    /// The request message.
    pub input: MessageDescriptor,
    /// The response message.
    pub output: MessageDescriptor,
    /// The request fields in field-number order.
    pub fields: Vec<RequestField>,
    errors: HashMap<String, ErrorEntry>,
}

impl Operation {
    /// The vendor.
    pub fn vendor(&self) -> Vendor {
        self.service.vendor()
    }

    /// The vendor action name.
    pub fn action(&self) -> &str {
        &self.rule.action
    }

    /// The API version.
    pub fn version(&self) -> &str {
        &self.service.rule.version
    }
}

/// Everything the gateway knows about the operations it serves.
#[derive(Debug)]
pub struct Catalog {
    pool: DescriptorPool,
    services: Vec<Arc<Service>>,
    operations: Vec<Arc<Operation>>,
    by_path: HashMap<String, Arc<Operation>>,
    vendor_errors: HashMap<i32, HashMap<String, ErrorEntry>>,
    response_names: HashMap<String, String>,
}

struct Extensions {
    service: ExtensionDescriptor,
    method: ExtensionDescriptor,
    field: ExtensionDescriptor,
    vendor_errors: ExtensionDescriptor,
}

fn extension(pool: &DescriptorPool, name: &str) -> Result<ExtensionDescriptor, CatalogError> {
    pool.get_extension_by_name(name)
        .ok_or_else(|| opt_err(name, "extension missing from the descriptor set"))
}

fn option_message<T: prost::Message + Default>(
    options: &DynamicMessage,
    ext: &ExtensionDescriptor,
    element: &str,
) -> Result<Option<T>, CatalogError> {
    if !options.has_extension(ext) {
        return Ok(None);
    }
    match options.get_extension(ext).as_ref() {
        Value::Message(m) => m
            .transcode_to::<T>()
            .map(Some)
            .map_err(|e| opt_err(element, format!("option {}: {e}", ext.full_name()))),
        _ => Err(opt_err(element, "option is not a message")),
    }
}

impl Catalog {
    /// Loads the catalog from the descriptor set embedded at build time.
    pub fn load() -> Result<Self, CatalogError> {
        Self::from_descriptor_set(crate::pb::FILE_DESCRIPTOR_SET)
    }

    /// Loads the catalog from an encoded `FileDescriptorSet`.
    pub fn from_descriptor_set(bytes: &[u8]) -> Result<Self, CatalogError> {
        let pool = DescriptorPool::decode(bytes)?;
        let ext = Extensions {
            service: extension(&pool, "cloudgate.v1.service")?,
            method: extension(&pool, "cloudgate.v1.method")?,
            field: extension(&pool, "cloudgate.v1.field")?,
            vendor_errors: extension(&pool, "cloudgate.v1.vendor_errors")?,
        };

        let mut vendor_errors: HashMap<i32, HashMap<String, ErrorEntry>> = HashMap::new();
        for file in pool.files() {
            let options = file.options();
            if !options.has_extension(&ext.vendor_errors) {
                continue;
            }
            if let Value::List(items) = options.get_extension(&ext.vendor_errors).as_ref() {
                for item in items {
                    if let Value::Message(m) = item {
                        let ve: opts::VendorErrors = m
                            .transcode_to()
                            .map_err(|e| opt_err(file.name(), e.to_string()))?;
                        let table = vendor_errors.entry(ve.vendor).or_default();
                        for e in ve.errors {
                            table.insert(e.code.clone(), e);
                        }
                    }
                }
            }
        }

        let mut response_names = HashMap::new();
        for message in pool.all_messages() {
            for field in message.fields() {
                if let Some(rule) = option_message::<opts::FieldRule>(
                    &field.options(),
                    &ext.field,
                    field.full_name(),
                )? {
                    response_names.insert(field.full_name().to_string(), rule.name);
                }
            }
        }

        let mut services = Vec::new();
        let mut operations = Vec::new();
        let mut by_path = HashMap::new();
        for sd in pool.services() {
            let Some(rule) =
                option_message::<opts::ServiceRule>(&sd.options(), &ext.service, sd.full_name())?
            else {
                continue;
            };
            if rule.vendor() == Vendor::Unspecified {
                return Err(opt_err(sd.full_name(), "service option has no vendor"));
            }
            if rule.endpoint_key.is_empty() || rule.version.is_empty() {
                return Err(opt_err(
                    sd.full_name(),
                    "endpoint_key and version are required",
                ));
            }
            if rule.vendor() == Vendor::Tencent && rule.signing_service.is_empty() {
                return Err(opt_err(
                    sd.full_name(),
                    "Tencent services need signing_service",
                ));
            }
            let service = Arc::new(Service {
                full_name: sd.full_name().to_string(),
                rule,
            });
            for md in sd.methods() {
                let rule =
                    option_message::<opts::MethodRule>(&md.options(), &ext.method, md.full_name())?
                        .ok_or_else(|| {
                            opt_err(md.full_name(), "method has no (cloudgate.v1.method) option")
                        })?;
                if rule.action.is_empty() {
                    return Err(opt_err(md.full_name(), "method option has no action"));
                }
                let input = md.input();
                let mut fields = Vec::new();
                for field in input.fields() {
                    let mut frule = option_message::<opts::FieldRule>(
                        &field.options(),
                        &ext.field,
                        field.full_name(),
                    )?
                    .ok_or_else(|| {
                        opt_err(
                            field.full_name(),
                            "request field has no (cloudgate.v1.field) option",
                        )
                    })?;
                    if frule.name.is_empty() {
                        return Err(opt_err(
                            field.full_name(),
                            "field option has no vendor name",
                        ));
                    }
                    check_field_kind(&field)?;
                    if frule.encoding() == WireEncoding::Unspecified {
                        let enc = match (service.vendor(), field.is_list()) {
                            (Vendor::Tencent, _) => WireEncoding::JsonBody,
                            (_, true) => WireEncoding::QueryFlatList,
                            _ => WireEncoding::Query,
                        };
                        frule.set_encoding(enc);
                    }
                    let pattern = if frule.pattern.is_empty() {
                        None
                    } else {
                        Some(
                            Regex::new(&format!("^(?:{})$", frule.pattern))
                                .map_err(|e| opt_err(field.full_name(), e.to_string()))?,
                        )
                    };
                    fields.push(RequestField {
                        field,
                        rule: frule,
                        pattern,
                    });
                }
                let errors = rule
                    .errors
                    .iter()
                    .map(|e| (e.code.clone(), e.clone()))
                    .collect();
                let op = Arc::new(Operation {
                    service: service.clone(),
                    method: md.name().to_string(),
                    path: format!("/{}/{}", sd.full_name(), md.name()),
                    rule,
                    input,
                    output: md.output(),
                    fields,
                    errors,
                });
                by_path.insert(op.path.clone(), op.clone());
                operations.push(op);
            }
            services.push(service);
        }
        Ok(Self {
            pool,
            services,
            operations,
            by_path,
            vendor_errors,
            response_names,
        })
    }

    /// The descriptor pool the catalog was read from.
    pub fn pool(&self) -> &DescriptorPool {
        &self.pool
    }

    /// Every service with a `(cloudgate.v1.service)` option.
    pub fn services(&self) -> &[Arc<Service>] {
        &self.services
    }

    /// Every operation.
    pub fn operations(&self) -> &[Arc<Operation>] {
        &self.operations
    }

    /// The operation behind a gRPC path (`/pkg.Service/Method`).
    pub fn operation(&self, path: &str) -> Option<&Arc<Operation>> {
        self.by_path.get(path)
    }

    /// The operation of a vendor with this action name.
    pub fn by_action(&self, vendor: Vendor, action: &str) -> Option<&Arc<Operation>> {
        self.operations
            .iter()
            .find(|op| op.vendor() == vendor && op.action() == action)
    }

    /// The endpoint keys of all services (the keys `[endpoints]` accepts).
    pub fn endpoint_keys(&self) -> Vec<&str> {
        let mut keys: Vec<&str> = self
            .services
            .iter()
            .map(|s| s.rule.endpoint_key.as_str())
            .collect();
        keys.sort_unstable();
        keys.dedup();
        keys
    }

    /// The vendor name of a message field (`(cloudgate.v1.field).name`).
    pub fn vendor_name<'a>(&'a self, field: &'a FieldDescriptor) -> &'a str {
        self.response_names
            .get(field.full_name())
            .map(String::as_str)
            .unwrap_or_else(|| field.name())
    }

    /// Looks a vendor error code up: the operation's own codes first, then the
    /// vendor-wide ones; a dotted code falls back to its parent
    /// (`Throttling.User` to `Throttling`) when it is not listed itself.
    pub fn error<'a>(&'a self, op: &'a Operation, code: &str) -> Option<&'a ErrorEntry> {
        let vendor = self.vendor_errors.get(&(op.vendor() as i32));
        let mut candidate = code;
        loop {
            if let Some(e) = op.errors.get(candidate) {
                return Some(e);
            }
            if let Some(e) = vendor.and_then(|t| t.get(candidate)) {
                return Some(e);
            }
            match candidate.rfind('.') {
                Some(i) => candidate = &candidate[..i],
                None => return None,
            }
        }
    }

    /// Whether a descriptor message belongs to this catalog's pool.
    pub fn owns(&self, message: &impl ReflectMessage) -> bool {
        self.pool
            .get_message_by_name(message.descriptor().full_name())
            .is_some()
    }
}

fn check_field_kind(field: &FieldDescriptor) -> Result<(), CatalogError> {
    match field.kind() {
        Kind::String | Kind::Int64 | Kind::Int32 | Kind::Bool => Ok(()),
        other => Err(opt_err(
            field.full_name(),
            format!("request fields must be string, int64, int32 or bool, not {other:?}"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loads_all_five_operations_from_the_options() {
        let c = Catalog::load().unwrap();
        let mut actions: Vec<_> = c
            .operations()
            .iter()
            .map(|o| o.action().to_string())
            .collect();
        actions.sort();
        assert_eq!(
            actions,
            [
                "DescribeUserStatus",
                "ModifyAccountRelation",
                "ModifyUserType",
                "SetResellerUserStatus",
                "UpdateUserStatus"
            ]
        );
        let op = c
            .operation("/aliyun.sddp.v20190103.Sddp/DescribeUserStatus")
            .unwrap();
        assert_eq!(op.rule.documented_qps, 10.0);
        assert!(op.rule.safe_to_retry);
        assert_eq!(op.version(), "2019-01-03");
        let dlc = c.by_action(Vendor::Tencent, "ModifyUserType").unwrap();
        assert_eq!(dlc.rule.documented_qps, 20.0);
        assert!(!dlc.rule.safe_to_retry);
        assert_eq!(c.endpoint_keys(), ["bssopenapi", "cloudsso", "dlc", "sddp"]);
    }

    #[test]
    fn request_fields_carry_vendor_names_and_encodings() {
        let c = Catalog::load().unwrap();
        let op = c
            .by_action(Vendor::Alibaba, "ModifyAccountRelation")
            .unwrap();
        let role = op
            .fields
            .iter()
            .find(|f| f.proto_name() == "role_codes")
            .unwrap();
        assert_eq!(role.rule.name, "RoleCodes");
        assert_eq!(role.rule.encoding(), WireEncoding::QueryFlatList);
        let nick = op
            .fields
            .iter()
            .find(|f| f.proto_name() == "child_nick")
            .unwrap();
        assert!(nick.rule.required);
        assert_eq!(nick.rule.encoding(), WireEncoding::Query);
        let srus = c
            .by_action(Vendor::Alibaba, "SetResellerUserStatus")
            .unwrap();
        let owner = srus
            .fields
            .iter()
            .find(|f| f.proto_name() == "owner_id")
            .unwrap();
        assert!(owner.pattern.as_ref().unwrap().is_match("1234"));
        assert!(!owner.pattern.as_ref().unwrap().is_match("12a4"));
    }

    #[test]
    fn error_lookup_prefers_operation_codes_and_falls_back_to_parents() {
        let c = Catalog::load().unwrap();
        let srus = c
            .by_action(Vendor::Alibaba, "SetResellerUserStatus")
            .unwrap();
        let e = c.error(srus, "-116").unwrap();
        assert_eq!(e.grpc_code(), GrpcCode::FailedPrecondition);
        // InternalError is documented by BSS with HTTP 400.
        assert_eq!(c.error(srus, "InternalError").unwrap().http_status, 400);
        let t = c.error(srus, "Throttling.User").unwrap();
        assert_eq!(t.class(), ErrorClass::Throttled);
        let t = c.error(srus, "Throttling.Something.New").unwrap();
        assert_eq!(t.code, "Throttling");
        let dlc = c.by_action(Vendor::Tencent, "ModifyUserType").unwrap();
        assert_eq!(
            c.error(dlc, "UnauthorizedOperation.UserNotExist")
                .unwrap()
                .grpc_code(),
            GrpcCode::NotFound
        );
        assert_eq!(
            c.error(dlc, "RequestLimitExceeded.IPLimitExceeded")
                .unwrap()
                .class(),
            ErrorClass::Throttled
        );
        assert!(c.error(dlc, "NoSuchThing").is_none());
    }

    #[test]
    fn response_field_vendor_names_come_from_options() {
        let c = Catalog::load().unwrap();
        let msg = c
            .pool()
            .get_message_by_name("aliyun.sddp.v20190103.UserStatus")
            .unwrap();
        let f = msg.get_field_by_name("use_oss_size").unwrap();
        assert_eq!(c.vendor_name(&f), "UseOssSize");
        assert_eq!(msg.fields().len(), 21);
    }

    #[test]
    fn every_host_follows_the_documented_rules() {
        let c = Catalog::load().unwrap();
        let sddp = c
            .services()
            .iter()
            .find(|s| s.rule.endpoint_key == "sddp")
            .unwrap();
        assert_eq!(
            sddp.host_for("cn-hongkong"),
            "sddp-api.cn-hongkong.aliyuncs.com"
        );
        assert_eq!(
            sddp.host_for("cn-zhangjiakou"),
            "sddp.cn-zhangjiakou.aliyuncs.com"
        );
        let bss = c
            .services()
            .iter()
            .find(|s| s.rule.endpoint_key == "bssopenapi")
            .unwrap();
        assert_eq!(bss.host_for("cn-hangzhou"), "business.aliyuncs.com");
        assert_eq!(
            bss.host_for("eu-central-1"),
            "business.ap-southeast-1.aliyuncs.com"
        );
    }
}
