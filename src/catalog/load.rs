//! Files loaded at start-up (`--proto-dir`, `[catalog] proto_dirs`): `.proto`
//! text compiled with protox (imports of `cloudgate/v1/*.proto` and the
//! google files resolved from the embedded set), and precompiled descriptor
//! sets (`.binpb`, `.pb`: `buf build -o`, `protoc --include_imports -o`,
//! `cloudgate catalog --descriptor-set-out`) read as they are.

use std::path::{Path, PathBuf};

use bytes::Bytes;
use miette::Diagnostic;
use prost_reflect::FileDescriptor;
use protox::file::{
    ChainFileResolver, DescriptorSetFileResolver, GoogleFileResolver, IncludeFileResolver,
};

use super::cache;
use super::raw::{split_set, RawFile};
use super::CatalogError;

/// The `.proto` files and the descriptor sets under `dir`, at any depth.
fn files_under(
    dir: &Path,
    protos: &mut Vec<PathBuf>,
    sets: &mut Vec<PathBuf>,
) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            files_under(&path, protos, sets)?;
        } else {
            match path.extension().and_then(|e| e.to_str()) {
                Some("proto") => protos.push(path),
                Some("binpb" | "pb") => sets.push(path),
                _ => {}
            }
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

/// Every file under each directory: `.proto` files compiled (with their
/// imports), descriptor sets read. Imports first, as the catalog needs them.
/// `source_info`: keep comments and locations (for errors that name a line;
/// they cost most of the memory and time of large files).
pub(super) fn load_dirs(dirs: &[PathBuf], source_info: bool) -> Result<Vec<RawFile>, CatalogError> {
    let mut loaded = Vec::new();
    for dir in dirs {
        let (mut protos, mut sets) = (Vec::new(), Vec::new());
        files_under(dir, &mut protos, &mut sets)
            .map_err(|e| compile_err(dir.display().to_string(), format!("cannot read: {e}")))?;
        protos.sort();
        sets.sort();
        if protos.is_empty() && sets.is_empty() {
            return Err(compile_err(
                dir.display().to_string(),
                "no .proto files or descriptor sets (.binpb, .pb) under this directory",
            ));
        }
        for set in &sets {
            let bytes = std::fs::read(set)
                .map_err(|e| compile_err(set.display().to_string(), format!("cannot read: {e}")))?;
            let files = split_set(Bytes::from(bytes)).map_err(|e| {
                compile_err(
                    set.display().to_string(),
                    format!("not a FileDescriptorSet: {e}"),
                )
            })?;
            tracing::info!(set = %set.display(), files = files.len(), "descriptor set loaded");
            loaded.extend(files);
        }
        if !protos.is_empty() {
            loaded.extend(compile(dir, &protos, source_info)?);
        }
    }
    Ok(loaded)
}

/// Compiles `files` (under `dir`) with their imports, or reads the set a
/// previous start compiled from the same files (`cache`).
fn compile(dir: &Path, files: &[PathBuf], source_info: bool) -> Result<Vec<RawFile>, CatalogError> {
    // With source info only to name a line: never cached.
    let entry = (!source_info).then(|| cache::entry(dir, files)).flatten();
    if let Some(bytes) = entry.as_deref().and_then(|e| std::fs::read(e).ok()) {
        if let Ok(loaded) = split_set(Bytes::from(bytes)) {
            tracing::info!(
                dir = %dir.display(),
                files = files.len(),
                cache = %entry.as_deref().map(Path::display).map(|d| d.to_string()).unwrap_or_default(),
                "proto files loaded (compiled set from the cache)"
            );
            return Ok(loaded);
        }
    }
    let bytes = protox_compile(dir, files, source_info)?;
    if let Some(entry) = &entry {
        cache::write(entry, &bytes);
    }
    split_set(Bytes::from(bytes))
}

/// protox over `files`, imports included: an encoded `FileDescriptorSet`.
fn protox_compile(
    dir: &Path,
    files: &[PathBuf],
    source_info: bool,
) -> Result<Vec<u8>, CatalogError> {
    let embedded = DescriptorSetFileResolver::decode(crate::pb::FILE_DESCRIPTOR_SET)
        .map_err(|e| compile_err("embedded descriptor set", e.to_string()))?;
    let mut resolver = ChainFileResolver::new();
    resolver.add(IncludeFileResolver::new(dir.to_path_buf()));
    resolver.add(embedded);
    resolver.add(GoogleFileResolver::new());
    let started = std::time::Instant::now();
    let mut compiler = protox::Compiler::with_file_resolver(resolver);
    // Imports too (google/protobuf/struct.proto, ...): the catalog skips the
    // embedded ones.
    compiler
        .include_imports(true)
        .include_source_info(source_info);
    for file in files {
        compiler.open_file(file).map_err(|e| describe(dir, &e))?;
    }
    let bytes = compiler.encode_file_descriptor_set();
    drop(compiler);
    tracing::info!(
        dir = %dir.display(),
        files = files.len(),
        compile_ms = started.elapsed().as_millis() as u64,
        descriptor_bytes = bytes.len(),
        "proto files loaded"
    );
    Ok(bytes)
}

/// `element (file:line)` for an element of a file, when the file carries
/// source info (loaded files do).
pub(super) fn locate(element: &str, file: &FileDescriptor, path: &[i32]) -> String {
    let info = file.file_descriptor_proto().source_code_info.as_ref();
    locate_in(element, file.name(), info, path)
}

/// `element (file:line)` from a file's source info, when it has one.
pub(super) fn locate_in(
    element: &str,
    file: &str,
    info: Option<&prost_types::SourceCodeInfo>,
    path: &[i32],
) -> String {
    let line = info.and_then(|i| {
        i.location
            .iter()
            .find(|l| l.path == path)
            .and_then(|l| l.span.first())
            .map(|l| l + 1)
    });
    match line {
        Some(line) => format!("{element} ({file}:{line})"),
        None => element.to_string(),
    }
}
