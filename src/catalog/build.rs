//! Building the catalog from encoded file descriptors: the files without
//! services form the shared base pool; every file with services becomes a
//! unit. Services and methods are read from the encoded files directly
//! (`raw`); a loaded unit's pool is also built once now, to check every
//! field's options before listening, and dropped again.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use prost_reflect::DescriptorPool;

use super::load::locate_in;
use super::raw::{RawFile, RawService};
use super::unit::{MessagePair, Unit};
use super::{opt_err, opts, Catalog, CatalogError, ErrorEntry, Operation, Service, Vendor};

/// A method as read from its options, before its unit is shared.
struct MethodRead {
    name: String,
    rule: opts::MethodRule,
    input: String,
    output: String,
    deprecated: bool,
}

/// A service as read from its options.
struct ServiceRead {
    full_name: String,
    rule: opts::ServiceRule,
    methods: Vec<MethodRead>,
}

type VendorErrors = HashMap<i32, HashMap<String, ErrorEntry>>;

fn add_vendor_errors(file: &RawFile, table: &mut VendorErrors) {
    for ve in &file.vendor_errors {
        let entries = table.entry(ve.vendor).or_default();
        for e in &ve.errors {
            entries.insert(e.code.clone(), e.clone());
        }
    }
}

/// A type name as descriptors write it (`.pkg.Msg`), without the dot.
fn type_name(name: Option<&String>) -> String {
    let name = name.map(String::as_str).unwrap_or_default();
    name.strip_prefix('.').unwrap_or(name).to_string()
}

/// The services of `file` with a `(cloudgate.v1.service)` option, checked.
fn read_services(file: &RawFile) -> Result<Vec<ServiceRead>, CatalogError> {
    let prefix = if file.package.is_empty() {
        String::new()
    } else {
        format!("{}.", file.package)
    };
    let at = |element: &str, path: &[i32]| {
        locate_in(element, &file.name, file.source_info.as_ref(), path)
    };
    let mut out = Vec::new();
    for (si, sd) in file.services.iter().enumerate() {
        let full_name = format!("{prefix}{}", sd.name.as_deref().unwrap_or_default());
        let path = [6, si as i32];
        let Some(rule) = service_rule(sd) else {
            continue;
        };
        let here = || at(&full_name, &path);
        if rule.vendor() == Vendor::Unspecified {
            return Err(opt_err(here(), "service option has no vendor"));
        }
        if rule.endpoint_key.is_empty() || rule.version.is_empty() || rule.product.is_empty() {
            return Err(opt_err(
                here(),
                "product, version and endpoint_key are required",
            ));
        }
        if rule.host_template.is_empty() {
            return Err(opt_err(here(), "host_template is required"));
        }
        if rule.vendor() == Vendor::Tencent && rule.signing_service.is_empty() {
            return Err(opt_err(here(), "Tencent services need signing_service"));
        }
        let mut methods = Vec::new();
        for (mi, md) in sd.method.iter().enumerate() {
            let name = md.name.clone().unwrap_or_default();
            let here = || {
                at(
                    &format!("{full_name}.{name}"),
                    &[6, si as i32, 2, mi as i32],
                )
            };
            if md.client_streaming == Some(true) || md.server_streaming == Some(true) {
                return Err(opt_err(
                    here(),
                    "streaming methods are not supported: vendor RPC operations are unary",
                ));
            }
            let options = md.options.clone().unwrap_or_default();
            let rule = options
                .rule
                .ok_or_else(|| opt_err(here(), "method has no (cloudgate.v1.method) option"))?;
            if rule.action.is_empty() {
                return Err(opt_err(here(), "method option has no action"));
            }
            if rule.documented_qps < 0.0 || !rule.documented_qps.is_finite() {
                return Err(opt_err(
                    here(),
                    "documented_qps must be 0 or a positive rate",
                ));
            }
            methods.push(MethodRead {
                name,
                input: type_name(md.input_type.as_ref()),
                output: type_name(md.output_type.as_ref()),
                deprecated: options.deprecated == Some(true),
                rule,
            });
        }
        out.push(ServiceRead {
            full_name,
            rule,
            methods,
        });
    }
    Ok(out)
}

fn service_rule(sd: &RawService) -> Option<opts::ServiceRule> {
    sd.options.as_ref().and_then(|o| o.rule.clone())
}

fn duplicate_file(name: &str, from: &str) -> CatalogError {
    CatalogError::Compile {
        location: name.to_string(),
        reason: format!("duplicate file: {name} is already loaded ({from})"),
    }
}

impl Catalog {
    /// The catalog of `embedded` plus `loaded`. Loaded units are checked
    /// down to every request field now; embedded ones by the test suite.
    pub(super) fn build(
        embedded: Vec<RawFile>,
        loaded: Vec<RawFile>,
    ) -> Result<Self, CatalogError> {
        let mut base = DescriptorPool::new();
        let mut base_files = Vec::new();
        let mut vendor_errors = VendorErrors::new();
        let embedded_names: HashSet<String> = embedded.iter().map(|f| f.name.clone()).collect();
        let mut unit_files = Vec::new();
        for file in embedded {
            if file.has_services() {
                unit_files.push((file, true));
            } else {
                base.decode_file_descriptor_proto(file.bytes.clone())?;
                add_vendor_errors(&file, &mut vendor_errors);
                base_files.push(file.bytes);
            }
        }

        let mut extra: HashMap<String, RawFile> = HashMap::new();
        let mut extra_files = Vec::new();
        let mut loaded_files = Vec::new();
        let mut loaded_units: HashSet<String> = HashSet::new();
        for file in loaded {
            if embedded_names.contains(&file.name) {
                if file.has_services() {
                    return Err(duplicate_file(&file.name, "embedded"));
                }
                // An import of an embedded file, copied into a descriptor set.
                continue;
            }
            if !file.has_services() && extra.contains_key(&file.name) {
                // The same import, compiled in two directories.
                continue;
            }
            loaded_files.push(file.name.clone());
            if file.has_services() {
                if !loaded_units.insert(file.name.clone()) {
                    return Err(duplicate_file(&file.name, "from another --proto-dir"));
                }
                unit_files.push((file, false));
            } else {
                add_vendor_errors(&file, &mut vendor_errors);
                extra_files.push(file.bytes.clone());
                extra.insert(file.name.clone(), file);
            }
        }

        let mut services: Vec<Arc<Service>> = Vec::new();
        let mut operations = Vec::new();
        let mut by_path = HashMap::new();
        let mut units = Vec::new();
        let mut service_files: HashMap<String, String> = HashMap::new();
        let mut identities: HashMap<(i32, String, String, String), String> = HashMap::new();
        for (raw, embedded) in unit_files {
            add_vendor_errors(&raw, &mut vendor_errors);
            let mut unit = Unit::new(&raw, &base, &extra)?;
            let read = read_services(&raw)?;
            for s in &read {
                if let Some(other) = service_files.insert(s.full_name.clone(), raw.name.clone()) {
                    return Err(opt_err(
                        &raw.name,
                        format!(
                            "duplicate service: {} is already defined in {other}",
                            s.full_name
                        ),
                    ));
                }
                unit.messages.extend(s.methods.iter().map(|m| MessagePair {
                    input: m.input.clone(),
                    output: m.output.clone(),
                    vendor: s.rule.vendor(),
                }));
            }
            if !embedded {
                // The file resolves, and every request field's options are
                // right: now, rather than on first use.
                unit.build()?;
            }
            let unit = Arc::new(unit);
            for s in read {
                let service = Arc::new(Service {
                    full_name: s.full_name,
                    embedded,
                    file: raw.name.clone(),
                    rule: s.rule,
                    unit: unit.clone(),
                });
                for m in s.methods {
                    let identity = (
                        service.rule.vendor,
                        service.rule.product.to_ascii_lowercase(),
                        service.rule.version.clone(),
                        m.rule.action.clone(),
                    );
                    let path = format!("/{}/{}", service.full_name, m.name);
                    if let Some(other) = identities.insert(identity, path.clone()) {
                        return Err(opt_err(
                            format!("{}.{}", service.full_name, m.name),
                            format!(
                                "duplicate operation: {} {} {} is already served by {other}",
                                service.rule.product, service.rule.version, m.rule.action
                            ),
                        ));
                    }
                    let errors = m
                        .rule
                        .errors
                        .iter()
                        .enumerate()
                        .map(|(i, e)| (e.code.trim().to_string(), i))
                        .collect();
                    let op = Arc::new(Operation {
                        service: service.clone(),
                        name: format!("{}.{}", service.rule.product, m.rule.action),
                        method: m.name,
                        path,
                        deprecated: m.deprecated,
                        rule: m.rule,
                        input_type: m.input,
                        output_type: m.output,
                        errors,
                    });
                    by_path.insert(op.path.clone(), op.clone());
                    operations.push(op);
                }
                services.push(service);
            }
            units.push(unit);
        }
        let unit_by_file = units.iter().map(|u| (u.file.clone(), u.clone())).collect();
        Ok(Self {
            base,
            base_files,
            extra_files,
            units,
            unit_by_file,
            services,
            operations,
            by_path,
            vendor_errors,
            loaded_files,
        })
    }
}
