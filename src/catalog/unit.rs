//! Units of loading. Every proto file that defines services gets a descriptor
//! pool of its own: the shared base (the `cloudgate/v1` and google files),
//! the file's other imports, and the file. A unit's pool and field specs are
//! built the first time one of its operations is used and kept from then on,
//! so a gateway holding thousands of operations pays memory only for the
//! products it serves (a prost-reflect pool costs about 25 KiB per operation;
//! the encoded descriptors it is built from, about 2.5 KiB).

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::sync::{Arc, OnceLock};

use bytes::Bytes;
use prost_reflect::{DescriptorPool, ExtensionDescriptor, MessageDescriptor};

use super::raw::RawFile;
use super::spec::{MessageSpec, SpecBuilder};
use super::{opt_err, CatalogError, Vendor};

/// The request and reply types of one operation of a unit, with its vendor
/// (which decides how request fields are checked).
pub(super) struct MessagePair {
    pub input: String,
    pub output: String,
    pub vendor: Vendor,
}

/// A unit's pool and the specs of every message its operations use.
pub struct Runtime {
    pool: DescriptorPool,
    specs: HashMap<String, Arc<MessageSpec>>,
}

impl Runtime {
    /// The pool.
    pub fn pool(&self) -> &DescriptorPool {
        &self.pool
    }

    /// The spec of a message of this unit.
    pub fn spec(&self, full_name: &str) -> Option<&Arc<MessageSpec>> {
        self.specs.get(full_name)
    }
}

/// One file that defines services.
pub struct Unit {
    /// The file name.
    pub(super) file: String,
    /// Its package.
    pub(super) package: String,
    base: DescriptorPool,
    /// Imports outside the base (in dependency order), then the file.
    files: Vec<Bytes>,
    pub(super) messages: Vec<MessagePair>,
    runtime: OnceLock<Runtime>,
}

impl fmt::Debug for Unit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Unit")
            .field("file", &self.file)
            .field("built", &self.runtime.get().is_some())
            .finish_non_exhaustive()
    }
}

impl Unit {
    /// `file` and the imports it needs beyond `base_names`, from `extra`.
    pub(super) fn new(
        file: &RawFile,
        base: &DescriptorPool,
        extra: &HashMap<String, RawFile>,
    ) -> Result<Self, CatalogError> {
        let mut files = Vec::new();
        let mut seen = HashSet::new();
        collect_imports(file, base, extra, &mut seen, &mut files)?;
        files.push(file.bytes.clone());
        Ok(Self {
            file: file.name.clone(),
            package: file.package.clone(),
            base: base.clone(),
            files,
            messages: Vec::new(),
            runtime: OnceLock::new(),
        })
    }

    /// The encoded files beyond the base.
    pub(super) fn files(&self) -> &[Bytes] {
        &self.files
    }

    /// A fresh pool of the base, the imports and the file.
    pub(super) fn pool(&self) -> Result<DescriptorPool, CatalogError> {
        let mut pool = self.base.clone();
        for bytes in &self.files {
            pool.decode_file_descriptor_proto(bytes.clone())
                .map_err(|e| {
                    opt_err(
                        e.file().unwrap_or(&self.file).to_string(),
                        format!("{e} (a name defined twice?)"),
                    )
                })?;
        }
        Ok(pool)
    }

    /// Builds the pool and the specs of every operation's messages,
    /// checking every request field's options.
    pub(super) fn build(&self) -> Result<Runtime, CatalogError> {
        let pool = self.pool()?;
        let field_ext = field_extension(&pool)?;
        let mut specs = SpecBuilder::new(&field_ext);
        for pair in &self.messages {
            for (name, request) in [(&pair.input, true), (&pair.output, false)] {
                let md = message(&pool, name, &self.file)?;
                specs.add(&md, pair.vendor, request, true)?;
            }
        }
        let specs = specs.specs;
        Ok(Runtime { pool, specs })
    }

    /// The runtime, built on first use. Units are checked when loaded
    /// (loaded files at start-up; the embedded set by the test suite), so
    /// building again cannot fail short of a corrupted binary.
    pub fn runtime(&self) -> &Runtime {
        self.runtime.get_or_init(|| {
            let started = std::time::Instant::now();
            let runtime = self
                .build()
                .unwrap_or_else(|e| panic!("{}: checked when loaded, fails now: {e}", self.file));
            tracing::info!(
                file = %self.file,
                build_ms = started.elapsed().as_millis() as u64,
                "descriptor pool built on first use"
            );
            runtime
        })
    }

    /// Whether the runtime has been built.
    pub fn is_built(&self) -> bool {
        self.runtime.get().is_some()
    }
}

/// `(cloudgate.v1.field)` as seen from `pool`.
pub(super) fn field_extension(pool: &DescriptorPool) -> Result<ExtensionDescriptor, CatalogError> {
    pool.get_extension_by_name("cloudgate.v1.field")
        .ok_or_else(|| {
            opt_err(
                "cloudgate.v1.field",
                "extension missing from the descriptor set",
            )
        })
}

fn message(
    pool: &DescriptorPool,
    name: &str,
    file: &str,
) -> Result<MessageDescriptor, CatalogError> {
    pool.get_message_by_name(name)
        .ok_or_else(|| opt_err(file, format!("message {name} is not defined")))
}

fn collect_imports(
    file: &RawFile,
    base: &DescriptorPool,
    extra: &HashMap<String, RawFile>,
    seen: &mut HashSet<String>,
    out: &mut Vec<Bytes>,
) -> Result<(), CatalogError> {
    for dep in &file.deps {
        if base.get_file_by_name(dep).is_some() || !seen.insert(dep.clone()) {
            continue;
        }
        let raw = extra.get(dep).ok_or_else(|| {
            opt_err(
                &file.name,
                format!("imports {dep}, which is neither embedded nor loaded"),
            )
        })?;
        collect_imports(raw, base, extra, seen, out)?;
        out.push(raw.bytes.clone());
    }
    Ok(())
}
