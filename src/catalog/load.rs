//! Proto files loaded at start-up (`--proto-dir`, `[catalog] proto_dirs`):
//! compiled with protox, their imports of `cloudgate/v1/*.proto` and the
//! google files resolved from the embedded set, added to the pool.

use std::path::{Path, PathBuf};

use miette::Diagnostic;
use prost_reflect::{DescriptorPool, FileDescriptor};
use protox::file::{
    ChainFileResolver, DescriptorSetFileResolver, GoogleFileResolver, IncludeFileResolver,
};

use super::CatalogError;

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

fn compile_err(location: impl Into<String>, reason: impl Into<String>) -> CatalogError {
    CatalogError::Compile {
        location: location.into(),
        reason: reason.into(),
    }
}

/// `file:line` of a byte offset in a file under `dir`.
fn line_of(dir: &Path, file: &str, offset: usize) -> Option<usize> {
    let text = std::fs::read_to_string(dir.join(file)).ok()?;
    let upto = text.get(..offset.min(text.len()))?;
    Some(upto.bytes().filter(|b| *b == b'\n').count() + 1)
}

fn describe(dir: &Path, e: &protox::Error) -> CatalogError {
    let file = e.file().unwrap_or("").to_string();
    let line = e
        .labels()
        .and_then(|mut labels| labels.next())
        .and_then(|label| line_of(dir, &file, label.offset()));
    let location = match (file.is_empty(), line) {
        (true, _) => dir.display().to_string(),
        (false, Some(line)) => format!("{}:{line}", dir.join(&file).display()),
        (false, None) => dir.join(&file).display().to_string(),
    };
    let mut reason = e.to_string();
    if let Some(help) = e.help() {
        reason.push_str(&format!(" ({help})"));
    }
    compile_err(location, reason)
}

/// Compiles every `.proto` under each directory and adds the files to
/// `pool`; returns their names.
/// `source_info`: keep comments and locations (for errors that name a line;
/// they cost most of the memory and time of large files).
pub(super) fn compile_dirs(
    pool: &mut DescriptorPool,
    dirs: &[PathBuf],
    source_info: bool,
) -> Result<Vec<String>, CatalogError> {
    let mut loaded = Vec::new();
    for dir in dirs {
        let mut files = Vec::new();
        proto_files(dir, &mut files)
            .map_err(|e| compile_err(dir.display().to_string(), format!("cannot read: {e}")))?;
        files.sort();
        if files.is_empty() {
            return Err(compile_err(
                dir.display().to_string(),
                "no .proto files under this directory",
            ));
        }
        let embedded = DescriptorSetFileResolver::decode(crate::pb::FILE_DESCRIPTOR_SET)
            .map_err(|e| compile_err("embedded descriptor set", e.to_string()))?;
        let mut resolver = ChainFileResolver::new();
        resolver.add(IncludeFileResolver::new(dir.clone()));
        resolver.add(embedded);
        resolver.add(GoogleFileResolver::new());
        let started = std::time::Instant::now();
        let mut compiler = protox::Compiler::with_file_resolver(resolver);
        // Imports too (google/protobuf/struct.proto, ...): files already in
        // the pool are skipped when the set is added.
        compiler
            .include_imports(true)
            .include_source_info(source_info);
        for file in &files {
            compiler.open_file(file).map_err(|e| describe(dir, &e))?;
        }
        for meta in compiler.files() {
            let name = meta.name();
            if meta.is_import() {
                continue;
            }
            if pool.get_file_by_name(name).is_some() || loaded.iter().any(|l| l == name) {
                return Err(compile_err(
                    dir.join(name).display().to_string(),
                    format!("duplicate file: {name} is already loaded (embedded or from another --proto-dir)"),
                ));
            }
            loaded.push(name.to_string());
        }
        let compiled = started.elapsed();
        let bytes = compiler.encode_file_descriptor_set();
        drop(compiler);
        pool.decode_file_descriptor_set(bytes.as_slice())
            .map_err(|e| {
                compile_err(
                    e.file()
                        .map(|f| dir.join(f).display().to_string())
                        .unwrap_or_else(|| dir.display().to_string()),
                    format!("{e} (a duplicate service or message name?)"),
                )
            })?;
        tracing::info!(
            dir = %dir.display(),
            files = files.len(),
            compile_ms = compiled.as_millis() as u64,
            add_ms = (started.elapsed() - compiled).as_millis() as u64,
            descriptor_bytes = bytes.len(),
            "proto files loaded"
        );
    }
    Ok(loaded)
}

/// `element (file:line)` for an element of a file, when the file carries
/// source info (loaded files do).
pub(super) fn locate(element: &str, file: &FileDescriptor, path: &[i32]) -> String {
    let info = file.file_descriptor_proto().source_code_info.as_ref();
    let line = info.and_then(|i| {
        i.location
            .iter()
            .find(|l| l.path == path)
            .and_then(|l| l.span.first())
            .map(|l| l + 1)
    });
    match line {
        Some(line) => format!("{element} ({}:{line})", file.name()),
        None => element.to_string(),
    }
}
