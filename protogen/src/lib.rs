//! cloudgate protogen: protos for every RPC operation of Alibaba Cloud and
//! Tencent Cloud, generated from the vendors' own API metadata.
//!
//! [`run`] reads one product-version (or a folder of them), applies
//! `protogen.toml` overrides, keeps field numbers stable through
//! `protogen.lock` and writes
//! `OUT/<aliyun|tencentcloud>/<product>/v<version>/<product>.proto`.
//!
//! How the output expresses things (for the gateway):
//! - every field, at every depth, carries `(cloudgate.v1.field).name` = the
//!   vendor's member name;
//! - Alibaba nested objects are messages named `<Action><Member>`
//!   (response side), `<Action>Request<Member>` (request side) and
//!   `<Parent><Member>` deeper, de-duplicated with a number suffix and pinned
//!   in the lock; lists of objects are `repeated` of such a message;
//!   `additionalProperties` objects are `map<string, V>`; free-form objects,
//!   lists of lists and unknown kinds are `google.protobuf.Value`;
//! - Alibaba top-level request encodings: lists in `repeatList`/`flat` style
//!   are `WIRE_ENCODING_QUERY_FLAT_LIST` (elements that are messages flatten
//!   as `Name.N.Sub`), `json` style is `WIRE_ENCODING_QUERY_JSON`, `simple`
//!   style on scalar lists is `WIRE_ENCODING_QUERY_SIMPLE`; `flat` objects and
//!   scalars carry no encoding (the gateway's default: `Name.Sub`, plain
//!   query); `in: formData` is `form: true`;
//! - Tencent top-level request fields carry `WIRE_ENCODING_JSON_BODY`;
//! - `ClientToken` request fields carry `idempotency_token: true`
//!   (`safe_to_retry` stays false on such mutations: the gateway derives the
//!   retry safety from the token);
//! - validation options (`required`, allowed values, pattern, bounds,
//!   lengths, example) only on messages reachable from a request; proto3
//!   `optional` on their non-required scalars.

#![forbid(unsafe_code)]

pub mod alibaba;
pub mod classify;
pub mod emit;
pub mod lock;
pub mod model;
pub mod overrides;
pub mod tencent;
pub mod text;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::LazyLock;

use regex::Regex;

use model::{Product, Type, Vendor};

/// Command-line arguments of `cloudgate protogen`.
#[derive(Debug, Clone, clap::Args)]
#[command(about = "Generate cloudgate protos from the vendors' API metadata")]
pub struct Args {
    /// The vendor whose metadata is read.
    #[arg(long, value_enum)]
    pub vendor: VendorArg,
    /// Tencent `api.json` / Alibaba `api-docs.json`, or a folder searched for them
    /// (each file's folder also gives its examples.json, client.go and errors.go).
    #[arg(long, value_name = "FILE")]
    pub api: PathBuf,
    /// Tencent `examples.json` (default: next to api.json, when present).
    #[arg(long, value_name = "FILE")]
    pub examples: Option<PathBuf>,
    /// Tencent Go SDK `client.go` with per-action error codes (default: next to
    /// api.json, when present); `errors.go` next to it gives their meanings.
    #[arg(long, value_name = "FILE")]
    pub errors: Option<PathBuf>,
    /// Output folder (the proto root).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Only these actions (comma-separated).
    #[arg(long, value_delimiter = ',', value_name = "A,B")]
    pub actions: Vec<String>,
    /// Lock file of stable field numbers (read and updated).
    #[arg(long, value_name = "FILE")]
    pub lock: Option<PathBuf>,
    /// Overrides file (default: protogen.toml in the current folder, if present).
    #[arg(long, value_name = "FILE")]
    pub overrides: Option<PathBuf>,
}

/// Standalone parser for the `cloudgate-protogen` binary.
#[derive(Debug, clap::Parser)]
#[command(name = "cloudgate-protogen", version)]
pub struct Cli {
    #[command(flatten)]
    pub args: Args,
}

/// `--vendor` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum VendorArg {
    /// Tencent Cloud (tccli api.json).
    Tencent,
    /// Alibaba Cloud (OpenAPI api-docs.json).
    Alibaba,
}

/// Unreadable input (or an output that cannot be written).
#[derive(Debug, thiserror::Error)]
pub enum ProtogenError {
    /// A file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    /// A JSON input is not JSON.
    #[error("{path} is not valid JSON: {source}")]
    Json {
        path: PathBuf,
        source: serde_json::Error,
    },
    /// protogen.toml or the lock is not valid.
    #[error("{path}: {source}")]
    Toml {
        path: PathBuf,
        source: toml::de::Error,
    },
    /// The metadata lacks what every file of its format has.
    #[error("{path}: {reason}")]
    Metadata { path: PathBuf, reason: String },
    /// An output could not be written.
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// What one product-version gave.
#[derive(Debug, Clone, Default)]
pub struct ProductSummary {
    pub vendor: String,
    pub product: String,
    pub version: String,
    /// The written file, relative to the output folder (None: nothing to write).
    pub file: Option<String>,
    pub operations: usize,
    pub deprecated: usize,
    pub messages: usize,
    pub fields: usize,
    pub error_entries: usize,
    pub idempotency_tokens: usize,
    /// Operations with a documented QPS, by source.
    pub qps_sources: BTreeMap<String, usize>,
    /// (action, reason).
    pub skipped: Vec<(String, String)>,
    pub doc_required_disagreements: usize,
    pub notes: Vec<String>,
}

/// The result of a run.
#[derive(Debug, Clone, Default)]
pub struct Summary {
    pub products: Vec<ProductSummary>,
}

impl Summary {
    /// Operations written, all products.
    pub fn operations(&self) -> usize {
        self.products.iter().map(|p| p.operations).sum()
    }
    /// Skipped actions by reason (the reason's text before any parameter name).
    pub fn skipped_by_reason(&self) -> BTreeMap<String, usize> {
        let mut out = BTreeMap::new();
        for p in &self.products {
            for (_, why) in &p.skipped {
                let key = match why.split_once(" parameter ") {
                    Some((place, _)) => format!("{place} parameter"),
                    None => why.clone(),
                };
                *out.entry(key).or_insert(0) += 1;
            }
        }
        out
    }
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for p in &self.products {
            write!(
                f,
                "{} {} {}: {} operations",
                p.vendor, p.product, p.version, p.operations
            )?;
            match &p.file {
                Some(file) => write!(f, " -> {file}")?,
                None => write!(f, " (no file written)")?,
            }
            let qps: Vec<String> = p
                .qps_sources
                .iter()
                .map(|(k, v)| format!("{v} {k}"))
                .collect();
            writeln!(
                f,
                " ({} deprecated, {} messages, {} fields, {} error entries, {} idempotency tokens, QPS: {}; {} skipped, {} docRequired disagreements)",
                p.deprecated,
                p.messages,
                p.fields,
                p.error_entries,
                p.idempotency_tokens,
                if qps.is_empty() { "none".into() } else { qps.join(", ") },
                p.skipped.len(),
                p.doc_required_disagreements
            )?;
            for (action, why) in &p.skipped {
                writeln!(f, "  skipped {action}: {why}")?;
            }
            for n in &p.notes {
                writeln!(f, "  note: {n}")?;
            }
        }
        let skipped: usize = self.products.iter().map(|p| p.skipped.len()).sum();
        let reasons: Vec<String> = self
            .skipped_by_reason()
            .iter()
            .map(|(k, v)| format!("{k}: {v}"))
            .collect();
        writeln!(
            f,
            "total: {} operations written in {} files, {} skipped{}, {} docRequired disagreements",
            self.operations(),
            self.products.iter().filter(|p| p.file.is_some()).count(),
            skipped,
            if reasons.is_empty() {
                String::new()
            } else {
                format!(" ({})", reasons.join("; "))
            },
            self.products
                .iter()
                .map(|p| p.doc_required_disagreements)
                .sum::<usize>()
        )
    }
}

/// The service name of a product: its first letter upper-cased, separators
/// dropped with the next letter upper-cased (`dlc` -> `Dlc`,
/// `ahas-openapi` -> `AhasOpenapi`, `BssOpenApi` unchanged).
pub fn upper_first(s: &str) -> String {
    text::pascal_case(s)
}

fn read_text(path: &Path) -> Result<String, ProtogenError> {
    std::fs::read_to_string(path).map_err(|source| ProtogenError::Read {
        path: path.to_path_buf(),
        source,
    })
}

fn read_json(path: &Path) -> Result<serde_json::Value, ProtogenError> {
    let text = read_text(path)?;
    serde_json::from_str(&text).map_err(|source| ProtogenError::Json {
        path: path.to_path_buf(),
        source,
    })
}

/// The last `n` components of a path, `/`-joined (stable across machines).
fn tail(path: &Path, n: usize) -> String {
    let parts: Vec<String> = path
        .components()
        .filter_map(|c| match c {
            std::path::Component::Normal(s) => Some(s.to_string_lossy().into_owned()),
            _ => None,
        })
        .collect();
    parts[parts.len().saturating_sub(n)..].join("/")
}

/// Source repository and commit of a metadata file, from the README of the
/// snapshot folder (the first README.md above the file that names it).
fn provenance(path: &Path) -> Option<String> {
    static COMMIT: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"([\w.-]+/[\w.-]+),?\s+commit\s+([0-9a-f]{7,40})").unwrap());
    static SNAPSHOT: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"snapshot\s+(\d{8})").unwrap());
    let fname = path.file_name()?.to_string_lossy().into_owned();
    let mut dir = path.parent();
    for _ in 0..6 {
        let d = dir?;
        let readme = d.join("README.md");
        if let Ok(text) = std::fs::read_to_string(&readme) {
            let mut last: Option<String> = None;
            for line in text.lines().filter(|l| l.starts_with('|')) {
                let cells: Vec<&str> = line.split('|').map(str::trim).collect();
                if cells.len() < 3 {
                    continue;
                }
                let source = cells[2];
                let found = COMMIT.captures(source).map(|c| {
                    let mut s = format!("{} commit {}", &c[1], &c[2]);
                    if let Some(snap) = SNAPSHOT.captures(source) {
                        s.push_str(&format!(", snapshot {}", &snap[1]));
                    }
                    s
                });
                let this = if source.starts_with("same commit") {
                    last.clone()
                } else {
                    found
                };
                if this.is_some() {
                    last = this.clone();
                }
                if cells[1].contains(&format!("/{fname}`")) {
                    return this;
                }
            }
        }
        dir = d.parent();
    }
    None
}

/// One product's input files.
struct ProductInputs {
    api: PathBuf,
    examples: Option<PathBuf>,
    client_go: Option<PathBuf>,
}

fn find_apis(dir: &Path, name: &str, out: &mut Vec<PathBuf>) -> Result<(), ProtogenError> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|source| ProtogenError::Read {
            path: dir.to_path_buf(),
            source,
        })?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    entries.sort();
    for e in entries {
        if e.is_dir() {
            find_apis(&e, name, out)?;
        } else if e.file_name().is_some_and(|n| n == name) {
            out.push(e);
        }
    }
    Ok(())
}

fn sibling(api: &Path, name: &str) -> Option<PathBuf> {
    let p = api.with_file_name(name);
    p.is_file().then_some(p)
}

/// Messages reachable from the methods, renumbered; others dropped.
fn prune(p: &mut Product) {
    let mut keep = vec![false; p.messages.len()];
    let mut stack: Vec<usize> = p
        .methods
        .iter()
        .flat_map(|m| [m.request, m.response])
        .collect();
    while let Some(id) = stack.pop() {
        if std::mem::replace(&mut keep[id], true) {
            continue;
        }
        for f in &p.messages[id].fields {
            let t = match &f.ty {
                Type::Map(v) => v.as_ref(),
                t => t,
            };
            if let Type::Message(c) = t {
                stack.push(*c);
            }
        }
    }
    let mut map = vec![usize::MAX; p.messages.len()];
    let mut n = 0;
    for (i, k) in keep.iter().enumerate() {
        if *k {
            map[i] = n;
            n += 1;
        }
    }
    let old = std::mem::take(&mut p.messages);
    for (i, mut m) in old.into_iter().enumerate() {
        if !keep[i] {
            continue;
        }
        for f in &mut m.fields {
            match &mut f.ty {
                Type::Message(c) => *c = map[*c],
                Type::Map(v) => {
                    if let Type::Message(c) = v.as_mut() {
                        *c = map[*c];
                    }
                }
                _ => {}
            }
        }
        p.messages.push(m);
    }
    for m in &mut p.methods {
        m.request = map[m.request];
        m.response = map[m.response];
    }
}

/// Marks messages reachable from requests and clears request-only options
/// (validation, encodings, examples) elsewhere.
fn mark_request_side(p: &mut Product) {
    let mut stack: Vec<usize> = p.methods.iter().map(|m| m.request).collect();
    let mut seen = BTreeSet::new();
    while let Some(id) = stack.pop() {
        if !seen.insert(id) {
            continue;
        }
        for f in &p.messages[id].fields {
            let t = match &f.ty {
                Type::Map(v) => v.as_ref(),
                t => t,
            };
            if let Type::Message(c) = t {
                stack.push(*c);
            }
        }
    }
    for (i, m) in p.messages.iter_mut().enumerate() {
        m.request_side = seen.contains(&i);
        if !m.request_side {
            for f in &mut m.fields {
                f.rule = model::Rule::default();
            }
        }
    }
}

/// Reads, completes and writes one product-version.
fn generate(
    args: &Args,
    vendor: Vendor,
    inputs: &ProductInputs,
    overrides: &overrides::Overrides,
    overrides_name: Option<&str>,
    lock: &mut lock::Lock,
) -> Result<ProductSummary, ProtogenError> {
    let only: Option<BTreeSet<String>> = (!args.actions.is_empty())
        .then(|| args.actions.iter().map(|a| a.trim().to_string()).collect());
    let api = read_json(&inputs.api)?;
    let fallback = tail(
        inputs
            .api
            .parent()
            .and_then(Path::parent)
            .unwrap_or(Path::new("")),
        1,
    );
    let meta_err = |reason: String| ProtogenError::Metadata {
        path: inputs.api.clone(),
        reason,
    };
    let mut sources = vec![tail(&inputs.api, 4)];
    if let Some(p) = provenance(&inputs.api) {
        sources[0].push_str(&format!(" ({p})"));
    }
    let mut product = match vendor {
        Vendor::Tencent => {
            let examples = inputs.examples.as_deref().map(read_json).transpose()?;
            let client = inputs.client_go.as_deref().map(read_text).transpose()?;
            let errors_go_path = inputs
                .client_go
                .as_deref()
                .and_then(|c| sibling(c, "errors.go"));
            let errors_go = errors_go_path.as_deref().map(read_text).transpose()?;
            if let Some(e) = &inputs.examples {
                sources.push(tail(e, 1));
            }
            if let Some(c) = &inputs.client_go {
                let mut s = tail(c, 1);
                if let Some(p) = provenance(c) {
                    s.push_str(&format!(" ({p})"));
                }
                sources.push(s);
            }
            if errors_go.is_some() {
                sources.push("errors.go".into());
            }
            tencent::read(
                &tencent::Inputs {
                    api: &api,
                    examples: examples.as_ref(),
                    client_go: client.as_deref(),
                    errors_go: errors_go.as_deref(),
                    fallback_product: &fallback,
                },
                only.as_ref(),
            )
            .map_err(meta_err)?
        }
        Vendor::Alibaba => alibaba::read(&api, &fallback, only.as_ref()).map_err(meta_err)?,
    };
    mark_request_side(&mut product);
    let has_overrides = match overrides.product(&product) {
        Some(po) => {
            let notes = overrides::apply(&mut product, po);
            product.notes.extend(notes);
            true
        }
        None => false,
    };
    prune(&mut product);
    product.header = vec![
        "Code generated by cloudgate protogen from the vendor's API metadata. DO NOT EDIT.".into(),
        format!("Source: {}.", sources.join(", ")),
    ];
    if let (Some(o), true) = (overrides_name, has_overrides) {
        product.header.push(format!("Overrides: {o}."));
    }
    if vendor == Vendor::Tencent {
        for m in &product.methods {
            for f in &mut product.messages[m.request].fields {
                if f.rule.encoding.is_none() {
                    f.rule.encoding = Some("JSON_BODY".into());
                }
            }
        }
    }
    lock.assign(&mut product);

    let mut summary = ProductSummary {
        vendor: vendor.key().into(),
        product: product.product.clone(),
        version: product.version.clone(),
        operations: product.methods.len(),
        deprecated: product.methods.iter().filter(|m| m.deprecated).count(),
        messages: product.messages.len(),
        fields: product.messages.iter().map(|m| m.fields.len()).sum(),
        error_entries: product.methods.iter().map(|m| m.errors.len()).sum(),
        idempotency_tokens: product
            .messages
            .iter()
            .flat_map(|m| &m.fields)
            .filter(|f| f.rule.idempotency_token)
            .count(),
        skipped: product.skipped.clone(),
        doc_required_disagreements: product.doc_required_disagreements,
        notes: product.notes.clone(),
        ..Default::default()
    };
    for m in &product.methods {
        if m.documented_qps != 0.0 {
            *summary.qps_sources.entry(m.qps_source.clone()).or_default() += 1;
        }
    }
    if !product.methods.is_empty() {
        let rel = product.rel_path();
        let path = args.out.join(&rel);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|source| ProtogenError::Write {
                path: dir.to_path_buf(),
                source,
            })?;
        }
        std::fs::write(&path, emit::render(&product))
            .map_err(|source| ProtogenError::Write { path, source })?;
        summary.file = Some(rel);
    }
    Ok(summary)
}

/// Generates the protos the arguments ask for.
pub fn run(args: &Args) -> Result<Summary, ProtogenError> {
    let vendor = match args.vendor {
        VendorArg::Tencent => Vendor::Tencent,
        VendorArg::Alibaba => Vendor::Alibaba,
    };
    let overrides_path = args
        .overrides
        .clone()
        .or_else(|| Some(PathBuf::from("protogen.toml")).filter(|p| p.is_file()));
    let overrides = match &overrides_path {
        Some(p) => toml::from_str::<overrides::Overrides>(&read_text(p)?).map_err(|source| {
            ProtogenError::Toml {
                path: p.clone(),
                source,
            }
        })?,
        None => overrides::Overrides::default(),
    };
    let overrides_name = overrides_path.as_deref().map(|p| tail(p, 1));
    let mut lock = match &args.lock {
        Some(p) if p.is_file() => {
            lock::Lock::parse(&read_text(p)?).map_err(|source| ProtogenError::Toml {
                path: p.clone(),
                source,
            })?
        }
        _ => lock::Lock::default(),
    };
    let file_name = match vendor {
        Vendor::Tencent => "api.json",
        Vendor::Alibaba => "api-docs.json",
    };
    let mut products = Vec::new();
    if args.api.is_dir() {
        let mut apis = Vec::new();
        find_apis(&args.api, file_name, &mut apis)?;
        for api in apis {
            products.push(ProductInputs {
                examples: sibling(&api, "examples.json"),
                client_go: sibling(&api, "client.go"),
                api,
            });
        }
    } else {
        products.push(ProductInputs {
            examples: args
                .examples
                .clone()
                .or_else(|| sibling(&args.api, "examples.json")),
            client_go: args
                .errors
                .clone()
                .or_else(|| sibling(&args.api, "client.go")),
            api: args.api.clone(),
        });
    }
    let mut summary = Summary::default();
    for inputs in &products {
        summary.products.push(generate(
            args,
            vendor,
            inputs,
            &overrides,
            overrides_name.as_deref(),
            &mut lock,
        )?);
    }
    if let Some(p) = &args.lock {
        std::fs::write(p, lock.render()).map_err(|source| ProtogenError::Write {
            path: p.clone(),
            source,
        })?;
    }
    Ok(summary)
}
