//! Encoded descriptors read without a descriptor pool: a `FileDescriptorSet`
//! split into its files, and of each file what the catalog reads at start-up
//! (its imports, its services and methods with their `cloudgate.v1` options,
//! its vendor-wide errors). Decoding these few fields straight into the
//! option types is what lets thousands of operations load in well under a
//! second; everything else in a file (its messages) stays encoded until the
//! product is first used.

use bytes::Bytes;
use prost::Message;

use super::{opt_err, opts, CatalogError};

// The tags 51001, 51002 and 51004 below are the field numbers of the
// `cloudgate.v1` extensions in `options.proto`; a test checks that what is
// read here equals what a descriptor pool reads.

#[derive(Clone, PartialEq, Message)]
struct Set {
    #[prost(bytes = "bytes", repeated, tag = "1")]
    file: Vec<Bytes>,
}

/// `FileDescriptorProto`, the fields the catalog reads.
#[derive(Clone, PartialEq, Message)]
struct File {
    #[prost(string, optional, tag = "1")]
    name: Option<String>,
    #[prost(string, optional, tag = "2")]
    package: Option<String>,
    #[prost(string, repeated, tag = "3")]
    dependency: Vec<String>,
    #[prost(message, repeated, tag = "6")]
    service: Vec<RawService>,
    #[prost(message, optional, tag = "8")]
    options: Option<FileOptions>,
    #[prost(message, optional, tag = "9")]
    source_code_info: Option<prost_types::SourceCodeInfo>,
}

#[derive(Clone, PartialEq, Message)]
struct FileOptions {
    #[prost(message, repeated, tag = "51004")]
    vendor_errors: Vec<opts::VendorErrors>,
}

/// `ServiceDescriptorProto` with its `(cloudgate.v1.service)` option.
#[derive(Clone, PartialEq, Message)]
pub(super) struct RawService {
    #[prost(string, optional, tag = "1")]
    pub name: Option<String>,
    #[prost(message, repeated, tag = "2")]
    pub method: Vec<RawMethod>,
    #[prost(message, optional, tag = "3")]
    pub options: Option<ServiceOptions>,
}

#[derive(Clone, PartialEq, Message)]
pub(super) struct ServiceOptions {
    #[prost(message, optional, tag = "51001")]
    pub rule: Option<opts::ServiceRule>,
}

/// `MethodDescriptorProto` with its `(cloudgate.v1.method)` option.
#[derive(Clone, PartialEq, Message)]
pub(super) struct RawMethod {
    #[prost(string, optional, tag = "1")]
    pub name: Option<String>,
    #[prost(string, optional, tag = "2")]
    pub input_type: Option<String>,
    #[prost(string, optional, tag = "3")]
    pub output_type: Option<String>,
    #[prost(message, optional, tag = "4")]
    pub options: Option<MethodOptions>,
    #[prost(bool, optional, tag = "5")]
    pub client_streaming: Option<bool>,
    #[prost(bool, optional, tag = "6")]
    pub server_streaming: Option<bool>,
}

#[derive(Clone, PartialEq, Message)]
pub(super) struct MethodOptions {
    #[prost(bool, optional, tag = "33")]
    pub deprecated: Option<bool>,
    #[prost(message, optional, tag = "51002")]
    pub rule: Option<opts::MethodRule>,
}

/// One encoded file descriptor and what the catalog reads of it.
#[derive(Clone)]
pub(super) struct RawFile {
    pub name: String,
    pub package: String,
    pub deps: Vec<String>,
    pub services: Vec<RawService>,
    pub vendor_errors: Vec<opts::VendorErrors>,
    pub source_info: Option<prost_types::SourceCodeInfo>,
    pub bytes: Bytes,
}

impl RawFile {
    /// Whether the file defines services (and so is a unit of its own).
    pub fn has_services(&self) -> bool {
        !self.services.is_empty()
    }
}

/// Splits an encoded `FileDescriptorSet` into its files (imports first, as
/// protoc, protox and buf write them).
pub(super) fn split_set(bytes: Bytes) -> Result<Vec<RawFile>, CatalogError> {
    let set = Set::decode(bytes)
        .map_err(|e| opt_err("descriptor set", format!("does not decode: {e}")))?;
    set.file
        .into_iter()
        .map(|bytes| {
            let file = File::decode(bytes.clone())
                .map_err(|e| opt_err("descriptor set", format!("a file does not decode: {e}")))?;
            Ok(RawFile {
                name: file.name.unwrap_or_default(),
                package: file.package.unwrap_or_default(),
                deps: file.dependency,
                services: file.service,
                vendor_errors: file.options.map(|o| o.vendor_errors).unwrap_or_default(),
                source_info: file.source_code_info,
                bytes,
            })
        })
        .collect()
}

/// Encodes files as a `FileDescriptorSet`, each once: units share the
/// imports they were split with (the same buffer), so a repeat is skipped.
pub(super) fn encode_set<'a>(files: impl IntoIterator<Item = &'a Bytes>) -> Vec<u8> {
    let mut seen = std::collections::HashSet::new();
    Set {
        file: files
            .into_iter()
            .filter(|b| seen.insert(b.as_ptr()))
            .cloned()
            .collect(),
    }
    .encode_to_vec()
}
