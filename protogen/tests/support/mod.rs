//! Shared helpers: paths, running the generator, compiling its output with protox.

#![allow(dead_code)]

use std::path::{Path, PathBuf};

use cloudgate_protogen::{Args, Summary, VendorArg};
use prost_reflect::DescriptorPool;

/// The workspace root (`/work/main`).
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// The vendor metadata samples (`../shared/vendor-metadata`), when present.
pub fn samples() -> Option<PathBuf> {
    let dir = std::env::var_os("CLOUDGATE_VENDOR_METADATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo().join("../shared/vendor-metadata"));
    if dir.is_dir() {
        Some(dir)
    } else {
        eprintln!(
            "vendor metadata samples not found at {}: skipped",
            dir.display()
        );
        None
    }
}

/// The fixtures folder.
pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// Arguments for one run.
pub fn args(vendor: VendorArg, api: &Path, out: &Path, lock: Option<&Path>) -> Args {
    Args {
        vendor,
        api: api.to_path_buf(),
        examples: None,
        errors: None,
        out: out.to_path_buf(),
        actions: Vec::new(),
        lock: lock.map(Path::to_path_buf),
        overrides: Some(repo().join("protogen.toml")),
    }
}

/// Runs the generator, panicking on errors.
pub fn generate(args: &Args) -> Summary {
    cloudgate_protogen::run(args).unwrap_or_else(|e| panic!("protogen failed: {e}"))
}

/// A copy of a lock file in `dir`.
pub fn lock_copy(from: &Path, dir: &Path) -> PathBuf {
    let to = dir.join("protogen.lock");
    std::fs::copy(from, &to).unwrap();
    to
}

/// Every `.proto` file under `root`, relative, sorted.
pub fn protos(root: &Path) -> Vec<String> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) {
        let mut entries: Vec<_> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        entries.sort();
        for e in entries {
            if e.is_dir() {
                walk(root, &e, out);
            } else if e.extension().is_some_and(|x| x == "proto") {
                out.push(
                    e.strip_prefix(root)
                        .unwrap()
                        .to_string_lossy()
                        .replace('\\', "/"),
                );
            }
        }
    }
    let mut out = Vec::new();
    walk(root, root, &mut out);
    out
}

/// Compiles `files` (relative to `root`) with protox, together with the
/// option language in the repository's proto folder.
pub fn compile(root: &Path, files: &[String]) -> DescriptorPool {
    let includes = [root.to_path_buf(), repo().join("proto")];
    let mut compiler = protox::Compiler::new(includes).unwrap();
    compiler.include_imports(true);
    for f in files {
        if let Err(e) = compiler.open_file(f) {
            panic!("{f} does not compile: {e:?}");
        }
    }
    compiler.descriptor_pool()
}
