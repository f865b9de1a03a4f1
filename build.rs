//! Compiles `proto/` with protox (pure Rust: no `protoc` needed) and embeds
//! the descriptor set of every operation for the catalog and reflection. Rust
//! types are generated only for the option language and, as clients for tests
//! and benches, the five seed operations: the thousands of generated vendor
//! operations are served from descriptors, so they cost no Rust compile time.

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use prost_types::{DescriptorProto, FileDescriptorProto, FileDescriptorSet};

/// Services (and the methods of them) that get generated Rust clients.
const CLIENT_METHODS: &[(&str, &[&str])] = &[
    (
        "aliyun.bssopenapi.v20171214.BssOpenApi",
        &["SetResellerUserStatus", "ModifyAccountRelation"],
    ),
    ("aliyun.cloudsso.v20210515.CloudSSO", &["UpdateUserStatus"]),
    ("aliyun.sddp.v20190103.Sddp", &["DescribeUserStatus"]),
    ("tencentcloud.dlc.v20210125.Dlc", &["ModifyUserType"]),
];

fn proto_files(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            proto_files(&path, out)?;
        } else if path.extension().is_some_and(|e| e == "proto") {
            out.push(path);
        }
    }
    Ok(())
}

/// Every message of a file by full name (`.pkg.Outer.Inner`), nested included.
fn index<'a>(
    prefix: &str,
    messages: &'a [DescriptorProto],
    out: &mut HashMap<String, &'a DescriptorProto>,
) {
    for m in messages {
        let name = format!("{prefix}.{}", m.name());
        index(&name, &m.nested_type, out);
        out.insert(name, m);
    }
}

/// A product file cut down to the client methods and the messages they reach.
fn trim(file: &FileDescriptorProto, methods: &[(&str, &[&str])]) -> FileDescriptorProto {
    let package = file.package();
    let mut keep_types = BTreeSet::new();
    let mut out = file.clone();
    out.source_code_info = None;
    for service in &mut out.service {
        let full = format!("{package}.{}", service.name());
        let wanted = methods
            .iter()
            .find(|(s, _)| *s == full)
            .map(|(_, m)| *m)
            .unwrap_or(&[]);
        service.method.retain(|m| wanted.contains(&m.name()));
        for m in &service.method {
            keep_types.insert(m.input_type().to_string());
            keep_types.insert(m.output_type().to_string());
        }
    }
    out.service.retain(|s| !s.method.is_empty());
    let mut all = HashMap::new();
    index(&format!(".{package}"), &file.message_type, &mut all);
    let mut queue: Vec<String> = keep_types.iter().cloned().collect();
    while let Some(name) = queue.pop() {
        if let Some(m) = all.get(&name) {
            for f in &m.field {
                let t = f.type_name();
                if !t.is_empty() && keep_types.insert(t.to_string()) {
                    queue.push(t.to_string());
                }
            }
            for nested in &m.nested_type {
                for f in &nested.field {
                    let t = f.type_name();
                    if !t.is_empty() && keep_types.insert(t.to_string()) {
                        queue.push(t.to_string());
                    }
                }
            }
        }
    }
    out.message_type
        .retain(|m| keep_types.contains(&format!(".{package}.{}", m.name())));
    out
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = Path::new("proto");
    let mut files = Vec::new();
    proto_files(root, &mut files)?;
    files.sort();
    println!("cargo:rerun-if-changed=proto");

    let mut compiler = protox::Compiler::new([root])?;
    // No source info: comments and locations are 80% of the descriptor bytes
    // and of the start-up decode time with thousands of operations.
    compiler.include_imports(true).include_source_info(false);
    compiler.open_files(&files)?;
    let out_dir = PathBuf::from(std::env::var("OUT_DIR")?);
    // Encoded by protox itself: prost_types would drop the custom options.
    std::fs::write(
        out_dir.join("cloudgate_descriptor.bin"),
        compiler.encode_file_descriptor_set(),
    )?;

    let client_packages: Vec<&str> = CLIENT_METHODS
        .iter()
        .map(|(s, _)| &s[..s.rfind('.').unwrap_or(0)])
        .collect();
    let fds = compiler.file_descriptor_set();
    let mut for_code = FileDescriptorSet::default();
    for file in &fds.file {
        let package = file.package();
        if package.starts_with("aliyun.") || package.starts_with("tencentcloud.") {
            if client_packages.contains(&package) {
                for_code.file.push(trim(file, CLIENT_METHODS));
            }
        } else {
            for_code.file.push(file.clone());
        }
    }
    tonic_prost_build::configure()
        .build_client(true)
        .build_server(false)
        .compile_fds(for_code)?;
    Ok(())
}
