//! The operation catalog, read from the `cloudgate.v1` options of the proto
//! files: the embedded set, plus any directory loaded at start-up
//! (`--proto-dir`). Services, methods, fields at every depth and error codes.
//! Nothing here is a hand-written table; adding an operation means adding a
//! proto method.

mod build;
mod cache;
mod listing;
mod load;
mod raw;
mod spec;
mod unit;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use bytes::Bytes;
use prost_reflect::{
    DescriptorPool, DynamicMessage, ExtensionDescriptor, FieldDescriptor, MessageDescriptor, Value,
};

use crate::pb::cloudgate::v1 as opts;
pub use listing::{listing, table, OperationSummary};
pub use opts::{ErrorClass, GrpcCode, Vendor, WireEncoding};
pub use spec::{is_free_json, MessageSpec, RequestField, Shape};
pub use unit::{Runtime, Unit};

/// A problem in the proto files or their options, found when the catalog is loaded.
#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    /// The embedded descriptor set does not decode, or loaded files clash.
    #[error("descriptor set: {0}")]
    Descriptor(#[from] prost_reflect::DescriptorError),
    /// An option is missing or wrong.
    #[error("{element}: {reason}")]
    Option {
        /// The proto element (service, method or field full name), with its
        /// file and line when known.
        element: String,
        /// What is wrong.
        reason: String,
    },
    /// A proto file under a `--proto-dir` does not compile.
    #[error("{location}: {reason}")]
    Compile {
        /// `file:line` (or the directory).
        location: String,
        /// What is wrong.
        reason: String,
    },
}

pub(crate) fn opt_err(element: impl Into<String>, reason: impl Into<String>) -> CatalogError {
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
    /// The proto file that defines it.
    pub file: String,
    /// Whether it came from the embedded set (false: a `--proto-dir`).
    pub embedded: bool,
    /// The unit (file) it belongs to, which holds its descriptors.
    pub unit: Arc<Unit>,
}

impl Service {
    /// The vendor.
    pub fn vendor(&self) -> Vendor {
        self.rule.vendor()
    }

    /// `aliyun-<key>` / `tencentcloud-<key>`: the endpoint key of this
    /// vendor's product alone (a bare TOML key, unlike a dotted one).
    pub fn qualified_key(&self) -> String {
        let prefix = match self.vendor() {
            Vendor::Tencent => "tencentcloud",
            _ => "aliyun",
        };
        format!("{prefix}-{}", self.rule.endpoint_key)
    }

    /// The config value for this service in a table keyed by endpoint key
    /// (`[endpoints]`, `[regions]`): the vendor-qualified key first.
    pub fn configured<'a, V>(
        &self,
        table: &'a std::collections::HashMap<String, V>,
    ) -> Option<&'a V> {
        self.keys().iter().find_map(|k| table.get(k))
    }

    /// The keys config tables name this service by: the vendor-qualified
    /// key (`aliyun-vpc`), then the product key (`vpc`).
    pub fn keys(&self) -> [String; 2] {
        [self.qualified_key(), self.rule.endpoint_key.clone()]
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

/// A documented error code with its mapping.
pub type ErrorEntry = opts::ErrorCode;

/// One vendor operation behind one gRPC method: (vendor, product, version,
/// action), reachable by its gRPC path.
#[derive(Debug, Clone)]
pub struct Operation {
    /// The service it belongs to.
    pub service: Arc<Service>,
    /// gRPC method name, e.g. `DescribeUserStatus`.
    pub method: String,
    /// gRPC path, e.g. `/aliyun.sddp.v20190103.Sddp/DescribeUserStatus`.
    pub path: String,
    /// `Product.Action`, e.g. `Sddp.DescribeUserStatus`: the operation's name
    /// in limiter keys and config.
    pub name: String,
    /// The method's options.
    pub rule: opts::MethodRule,
    /// Whether the vendor marks the operation deprecated.
    pub deprecated: bool,
    /// Full name of the request message.
    pub input_type: String,
    /// Full name of the response message.
    pub output_type: String,
    /// Documented error codes (trimmed) to their index in `rule.errors`.
    errors: HashMap<String, usize>,
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

    /// The vendor product code.
    pub fn product(&self) -> &str {
        &self.service.rule.product
    }

    /// The idempotency-token field, when the operation has one.
    pub fn idempotency_token(&self) -> Option<&RequestField> {
        self.fields().iter().find(|f| f.rule.idempotency_token)
    }

    /// The request message (the unit's descriptors are built on first use).
    pub fn input(&self) -> MessageDescriptor {
        self.spec_of(&self.input_type).descriptor.clone()
    }

    /// The response message.
    pub fn output(&self) -> MessageDescriptor {
        self.spec_of(&self.output_type).descriptor.clone()
    }

    /// The top-level request fields in declaration order.
    pub fn fields(&self) -> &[RequestField] {
        &self.spec_of(&self.input_type).fields
    }

    fn spec_of(&self, name: &str) -> &Arc<MessageSpec> {
        self.service
            .unit
            .runtime()
            .spec(name)
            .expect("a unit builds the specs of every operation's messages")
    }
}

/// Everything the gateway knows about the operations it serves.
#[derive(Debug)]
pub struct Catalog {
    /// The files without services (`cloudgate/v1`, google), shared by every unit.
    base: DescriptorPool,
    base_files: Vec<Bytes>,
    /// Loaded files without services (imports of loaded units).
    extra_files: Vec<Bytes>,
    units: Vec<Arc<Unit>>,
    unit_by_file: HashMap<String, Arc<Unit>>,
    services: Vec<Arc<Service>>,
    operations: Vec<Arc<Operation>>,
    by_path: HashMap<String, Arc<Operation>>,
    vendor_errors: HashMap<i32, HashMap<String, ErrorEntry>>,
    loaded_files: Vec<String>,
}

pub(crate) fn option_message<T: prost::Message + Default>(
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
        let embedded = raw::split_set(Bytes::from_static(crate::pb::FILE_DESCRIPTOR_SET))?;
        Self::build(embedded, Vec::new())
    }

    /// The embedded set plus every `.proto` file (compiled now) and every
    /// descriptor set (`.binpb`, `.pb`) under each of `dirs`. A file that
    /// does not compile, or whose options are wrong, is an error naming the
    /// file, line and reason.
    pub fn load_with_dirs(dirs: &[PathBuf]) -> Result<Self, CatalogError> {
        if dirs.is_empty() {
            return Self::load();
        }
        let embedded = || raw::split_set(Bytes::from_static(crate::pb::FILE_DESCRIPTOR_SET));
        let loaded = load::load_dirs(dirs, false)?;
        match Self::build(embedded()?, loaded) {
            Err(CatalogError::Option { .. }) => {
                // Compiled again with source info, only to name the line.
                Self::build(embedded()?, load::load_dirs(dirs, true)?)
            }
            other => other,
        }
    }

    /// Loads the catalog from an encoded `FileDescriptorSet` (imports first,
    /// the `cloudgate/v1` options among them).
    pub fn from_descriptor_set(bytes: &[u8]) -> Result<Self, CatalogError> {
        let files = raw::split_set(Bytes::copy_from_slice(bytes))?;
        Self::build(files, Vec::new())
    }

    /// The descriptors of the service `full_name` (its unit's pool, built on
    /// first use).
    pub fn service_pool(&self, full_name: &str) -> Option<&DescriptorPool> {
        self.services
            .iter()
            .find(|s| s.full_name == full_name)
            .map(|s| s.unit.runtime().pool())
    }

    /// A message of any unit by full name (tests and tools; builds the unit
    /// whose package contains it).
    pub fn message_by_name(&self, full_name: &str) -> Option<MessageDescriptor> {
        self.units
            .iter()
            .filter(|u| {
                full_name
                    .strip_prefix(u.package.as_str())
                    .is_some_and(|rest| rest.starts_with('.'))
            })
            .find_map(|u| u.runtime().pool().get_message_by_name(full_name))
            .or_else(|| self.base.get_message_by_name(full_name))
    }

    /// Builds now the descriptors of the products named by endpoint key
    /// (`sddp`, `aliyun-vpc`; `*` for all) instead of on their first call;
    /// returns how many products were built.
    pub fn preload(&self, keys: &[String]) -> usize {
        let wanted = |s: &Service| {
            let names = s.keys();
            keys.iter().any(|k| k == "*" || names.contains(k))
        };
        let mut built = 0;
        for service in self.services.iter().filter(|s| wanted(s)) {
            if !service.unit.is_built() {
                service.unit.runtime();
                built += 1;
            }
        }
        built
    }

    /// Every file as an encoded `FileDescriptorSet` (for reflection), imports
    /// first.
    pub fn encoded_pool(&self) -> Vec<u8> {
        let files = self
            .base_files
            .iter()
            .chain(&self.extra_files)
            .chain(self.units.iter().flat_map(|u| u.files()));
        raw::encode_set(files)
    }

    /// The files loaded from `--proto-dir`s, imports first, as an encoded
    /// `FileDescriptorSet` (what `cloudgate catalog --descriptor-set-out`
    /// writes, for a faster start than compiling `.proto` text).
    pub fn loaded_descriptor_set(&self) -> Vec<u8> {
        let files = self.extra_files.iter().chain(
            self.units
                .iter()
                .filter(|u| self.loaded_files.contains(&u.file))
                .flat_map(|u| u.files()),
        );
        raw::encode_set(files)
    }

    /// Files compiled from `--proto-dir` directories.
    pub fn loaded_files(&self) -> &[String] {
        &self.loaded_files
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

    /// Every operation of a vendor with this action name (several products,
    /// or versions, may have it).
    pub fn with_action<'a>(
        &'a self,
        vendor: Vendor,
        action: &'a str,
    ) -> impl Iterator<Item = &'a Arc<Operation>> + 'a {
        self.operations
            .iter()
            .filter(move |op| op.vendor() == vendor && op.action() == action)
    }

    /// The first operation of a vendor with this action name (tests and
    /// tools; an action name alone does not identify an operation).
    pub fn by_action(&self, vendor: Vendor, action: &str) -> Option<&Arc<Operation>> {
        self.operations
            .iter()
            .find(|op| op.vendor() == vendor && op.action() == action)
    }

    /// The operation a config key or command line names: the gRPC path
    /// (`/pkg.Service/Method` or `pkg.Service/Method`), `Product.Action`
    /// (product case-insensitive), or a bare action while it is unambiguous.
    /// The error names the candidates.
    pub fn resolve(&self, name: &str) -> Result<&Arc<Operation>, String> {
        let name = name.trim();
        if name.contains('/') {
            let path = if name.starts_with('/') {
                name.to_string()
            } else {
                format!("/{name}")
            };
            return self
                .operation(&path)
                .ok_or_else(|| format!("no operation has the gRPC path {path}"));
        }
        let found: Vec<&Arc<Operation>> = match name.split_once('.') {
            Some((product, action)) => self
                .operations
                .iter()
                .filter(|op| op.product().eq_ignore_ascii_case(product) && op.action() == action)
                .collect(),
            None => self
                .operations
                .iter()
                .filter(|op| op.action() == name)
                .collect(),
        };
        match found.as_slice() {
            [one] => Ok(one),
            [] => Err(format!(
                "unknown operation (use Product.Action or the gRPC path; {} operations are loaded)",
                self.operations.len()
            )),
            many => Err(format!(
                "ambiguous: {} names {} operations ({}); use Product.Action or the gRPC path",
                name,
                many.len(),
                many.iter()
                    .take(8)
                    .map(|op| op.path.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
        }
    }

    /// The endpoint keys of all services (the keys `[endpoints]` and
    /// `[regions]` accept): the product key (`vpc`), which applies to every
    /// vendor's product of that key, and the vendor-qualified form
    /// (`aliyun-vpc`, `tencentcloud-vpc`) for one vendor's.
    pub fn endpoint_keys(&self) -> Vec<String> {
        let mut keys: Vec<String> = self.services.iter().flat_map(|s| s.keys()).collect();
        keys.sort_unstable();
        keys.dedup();
        keys
    }

    /// The field specs of a message used by an operation (request or reply,
    /// any depth), from the unit whose pool the message comes from.
    pub fn spec(&self, md: &MessageDescriptor) -> Option<&Arc<MessageSpec>> {
        let name = md.full_name();
        let file = md.parent_file();
        self.unit_by_file
            .get(file.name())
            .and_then(|u| u.runtime().spec(name))
            .or_else(|| {
                // A message of an imported file: the unit built from that pool.
                self.units
                    .iter()
                    .filter(|u| u.is_built() && u.runtime().pool() == md.parent_pool())
                    .find_map(|u| u.runtime().spec(name))
            })
    }

    /// The vendor name of a message field (`(cloudgate.v1.field).name`, else
    /// the proto name).
    pub fn vendor_name<'a>(&'a self, field: &'a FieldDescriptor) -> &'a str {
        self.spec(field.parent_message())
            .and_then(|s| s.fields.iter().find(|f| f.field.number() == field.number()))
            .map(|f| f.rule.name.as_str())
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
                return op.rule.errors.get(*e);
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
}

#[cfg(test)]
mod tests {
    use super::*;
    use prost::Message;

    #[test]
    fn loads_all_five_seed_operations_from_the_options() {
        let c = Catalog::load().unwrap();
        for path in [
            "/aliyun.bssopenapi.v20171214.BssOpenApi/SetResellerUserStatus",
            "/aliyun.bssopenapi.v20171214.BssOpenApi/ModifyAccountRelation",
            "/aliyun.cloudsso.v20210515.CloudSSO/UpdateUserStatus",
            "/aliyun.sddp.v20190103.Sddp/DescribeUserStatus",
            "/tencentcloud.dlc.v20210125.Dlc/ModifyUserType",
        ] {
            assert!(c.operation(path).is_some(), "{path}");
        }
        // Every product of the vendor metadata samples is embedded.
        assert!(c.operations().len() > 2000, "{}", c.operations().len());
        let op = c
            .operation("/aliyun.sddp.v20190103.Sddp/DescribeUserStatus")
            .unwrap();
        assert_eq!(op.rule.documented_qps, 10.0);
        assert!(op.rule.safe_to_retry);
        assert_eq!(op.version(), "2019-01-03");
        let dlc = c.by_action(Vendor::Tencent, "ModifyUserType").unwrap();
        assert_eq!(dlc.rule.documented_qps, 20.0);
        assert!(!dlc.rule.safe_to_retry);
        let keys = c.endpoint_keys();
        for k in [
            "bssopenapi",
            "cloudsso",
            "dlc",
            "sddp",
            "vpc",
            "aliyun-vpc",
            "tencentcloud-vpc",
        ] {
            assert!(keys.iter().any(|x| x == k), "{k} in {keys:?}");
        }
    }

    #[test]
    fn a_product_is_built_on_its_first_use_only() {
        let c = Catalog::load().unwrap();
        assert!(c.services().iter().all(|s| !s.unit.is_built()));
        let op = c
            .operation("/aliyun.sddp.v20190103.Sddp/DescribeUserStatus")
            .unwrap();
        assert_eq!(op.input().name(), "DescribeUserStatusRequest");
        let built: Vec<&str> = c
            .services()
            .iter()
            .filter(|s| s.unit.is_built())
            .map(|s| s.full_name.as_str())
            .collect();
        assert_eq!(built, ["aliyun.sddp.v20190103.Sddp"]);
        // The reflection set still carries every file.
        let set = prost_types::FileDescriptorSet::decode(c.encoded_pool().as_slice()).unwrap();
        assert!(set
            .file
            .iter()
            .any(|f| f.name() == "aliyun/ecs/v20140526/ecs.proto"));
        assert!(set
            .file
            .iter()
            .any(|f| f.name() == "cloudgate/v1/options.proto"));
    }

    #[test]
    fn options_read_without_a_pool_equal_what_the_pool_reads() {
        let c = Catalog::load().unwrap();
        for service in c.services() {
            let pool = service.unit.pool().unwrap();
            let ext = pool.get_extension_by_name("cloudgate.v1.service").unwrap();
            let sd = pool.get_service_by_name(&service.full_name).unwrap();
            let rule = option_message::<opts::ServiceRule>(&sd.options(), &ext, "")
                .unwrap()
                .unwrap();
            assert_eq!(rule, service.rule, "{}", service.full_name);
            let ext = pool.get_extension_by_name("cloudgate.v1.method").unwrap();
            for md in sd.methods() {
                let op = c
                    .operation(&format!("/{}/{}", sd.full_name(), md.name()))
                    .unwrap();
                let rule = option_message::<opts::MethodRule>(&md.options(), &ext, "")
                    .unwrap()
                    .unwrap();
                assert_eq!(rule, op.rule, "{}", op.path);
                assert_eq!(md.input().full_name(), op.input_type);
                assert_eq!(md.output().full_name(), op.output_type);
            }
        }
        // Vendor-wide errors (file option 51004 of vendor_errors.proto).
        let srus = c
            .by_action(Vendor::Alibaba, "SetResellerUserStatus")
            .unwrap();
        assert!(c
            .vendor_errors
            .get(&(Vendor::Alibaba as i32))
            .is_some_and(|t| !t.is_empty()));
        assert!(c.error(srus, "Throttling.User").is_some());
    }

    #[test]
    fn preload_builds_the_named_products_before_their_first_call() {
        let c = Catalog::load().unwrap();
        assert_eq!(c.preload(&["sddp".into(), "aliyun-vpc".into()]), 2);
        let built: Vec<&str> = c
            .services()
            .iter()
            .filter(|s| s.unit.is_built())
            .map(|s| s.full_name.as_str())
            .collect();
        assert_eq!(
            built,
            ["aliyun.sddp.v20190103.Sddp", "aliyun.vpc.v20160428.Vpc"]
        );
        // `*`: the rest; built ones are not built again.
        assert_eq!(c.preload(&["*".into()]), c.services().len() - 2);
        assert_eq!(c.preload(&["*".into()]), 0);
    }

    #[test]
    fn request_fields_carry_vendor_names_and_encodings() {
        let c = Catalog::load().unwrap();
        let op = c
            .by_action(Vendor::Alibaba, "ModifyAccountRelation")
            .unwrap();
        let role = op
            .fields()
            .iter()
            .find(|f| f.proto_name() == "role_codes")
            .unwrap();
        assert_eq!(role.rule.name, "RoleCodes");
        assert_eq!(role.rule.encoding(), WireEncoding::QueryFlatList);
        let nick = op
            .fields()
            .iter()
            .find(|f| f.proto_name() == "child_nick")
            .unwrap();
        assert!(nick.rule.required);
        assert_eq!(nick.rule.encoding(), WireEncoding::Query);
        let srus = c
            .by_action(Vendor::Alibaba, "SetResellerUserStatus")
            .unwrap();
        let owner = srus
            .fields()
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
            .message_by_name("aliyun.sddp.v20190103.UserStatus")
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
