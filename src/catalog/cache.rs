//! Compiled `--proto-dir` directories, kept as descriptor sets so that the
//! next start with the same files skips protox (seconds for thousands of
//! operations). The key is a SHA-256 of every `.proto` file under the
//! directory (path and content) and of the binary's embedded descriptors, so
//! an edited file, an added one or another cloudgate build compiles afresh.
//! Only successful compiles are kept. Where: `$CLOUDGATE_CACHE_DIR`, else the
//! user's cache folder (`~/.cache/cloudgate/protos` on Linux); an empty
//! `CLOUDGATE_CACHE_DIR` turns it off. The newest few sets are kept.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use sha2::{Digest, Sha256};

/// How many compiled sets to keep.
const KEEP: usize = 8;

fn cache_dir() -> Option<PathBuf> {
    match std::env::var_os("CLOUDGATE_CACHE_DIR") {
        Some(dir) if dir.is_empty() => None,
        Some(dir) => Some(PathBuf::from(dir)),
        None => dirs::cache_dir().map(|d| d.join("cloudgate").join("protos")),
    }
}

fn embedded_digest() -> &'static [u8] {
    static DIGEST: OnceLock<Vec<u8>> = OnceLock::new();
    DIGEST.get_or_init(|| Sha256::digest(crate::pb::FILE_DESCRIPTOR_SET).to_vec())
}

/// The cache file for `files` (sorted, under `dir`), when caching is on and
/// the files can be read.
pub(super) fn entry(dir: &Path, files: &[PathBuf]) -> Option<PathBuf> {
    let root = cache_dir()?;
    let mut hash = Sha256::new();
    hash.update(b"cloudgate proto cache 1\0");
    hash.update(env!("CARGO_PKG_VERSION").as_bytes());
    hash.update(embedded_digest());
    for file in files {
        let name = file.strip_prefix(dir).unwrap_or(file);
        let text = std::fs::read(file).ok()?;
        hash.update(name.to_string_lossy().as_bytes());
        hash.update((text.len() as u64).to_le_bytes());
        hash.update(&text);
    }
    Some(root.join(format!("{}.binpb", hex::encode(hash.finalize()))))
}

/// Keeps `bytes` under `entry` (written whole, then renamed into place), and
/// drops the oldest sets beyond the last few. Failures only cost the next
/// start a compile, so they are logged, not returned.
pub(super) fn write(entry: &Path, bytes: &[u8]) {
    let Some(folder) = entry.parent() else {
        return;
    };
    let tmp = entry.with_extension(format!("tmp{}", std::process::id()));
    let result = std::fs::create_dir_all(folder)
        .and_then(|()| std::fs::write(&tmp, bytes))
        .and_then(|()| std::fs::rename(&tmp, entry));
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    match result {
        Ok(()) => prune(folder),
        Err(e) => {
            tracing::debug!(cache = %entry.display(), error = %e, "compiled protos not cached")
        }
    }
}

fn prune(folder: &Path) {
    let Ok(entries) = std::fs::read_dir(folder) else {
        return;
    };
    let mut sets: Vec<(std::time::SystemTime, PathBuf)> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "binpb"))
        .filter_map(|p| Some((p.metadata().ok()?.modified().ok()?, p)))
        .collect();
    sets.sort_by_key(|s| std::cmp::Reverse(s.0));
    for (_, old) in sets.into_iter().skip(KEEP) {
        let _ = std::fs::remove_file(old);
    }
}
