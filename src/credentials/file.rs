//! A credentials file re-read when it changes (a secret manager rotating keys): its
//! modification time, size and inode are polled at most once per poll interval, on the
//! call path, so the first call after the interval already signs with the new keys.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime};

use tokio::time::Instant;

use super::{alibaba, mask, tencent, Credential};
use crate::catalog::Vendor;

/// Default poll interval.
pub const DEFAULT_POLL: Duration = Duration::from_secs(1);

#[derive(Debug, Clone, PartialEq, Eq)]
struct Stamp {
    modified: Option<SystemTime>,
    len: u64,
    inode: u64,
}

impl Stamp {
    fn of(meta: &std::fs::Metadata) -> Self {
        #[cfg(unix)]
        let inode = std::os::unix::fs::MetadataExt::ino(meta);
        #[cfg(not(unix))]
        let inode = 0;
        Self {
            modified: meta.modified().ok(),
            len: meta.len(),
            inode,
        }
    }
}

#[derive(Default)]
struct State {
    current: Option<Arc<Credential>>,
    stamp: Option<Stamp>,
    last_error: Option<String>,
    checked_at: Option<Instant>,
    loads: u64,
}

/// A watched credentials file in the vendor's format: Alibaba `credentials.ini`
/// (`type = access_key`) or the aliyun CLI's `config.json` (`AK` / `StsToken`, when
/// the name ends in `.json`); Tencent `credentials` (`secret_id`, `secret_key`).
pub(crate) struct WatchedFile {
    vendor: Vendor,
    path: PathBuf,
    section: String,
    poll: Duration,
    state: Mutex<State>,
}

impl std::fmt::Debug for WatchedFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WatchedFile")
            .field("path", &self.path)
            .field("section", &self.section)
            .finish_non_exhaustive()
    }
}

impl WatchedFile {
    /// `poll`: default [`DEFAULT_POLL`].
    pub(crate) fn new(vendor: Vendor, path: &Path, section: &str, poll: Option<Duration>) -> Self {
        Self {
            vendor,
            path: path.to_path_buf(),
            section: section.to_string(),
            poll: poll.unwrap_or(DEFAULT_POLL),
            state: Mutex::new(State::default()),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn read(&self) -> Result<Credential, String> {
        let path = &self.path;
        match self.vendor {
            Vendor::Tencent => tencent::from_ini_file(path, &self.section),
            _ if path.extension().is_some_and(|e| e == "json") => {
                alibaba::from_cli_file(path, Some(&self.section))
                    .and_then(|c| c.ok_or_else(|| "not found".to_string()))
                    .map_err(|e| format!("{}: {e}", path.display()))
            }
            _ => alibaba::from_ini_file(path, &self.section)
                .and_then(|c| c.ok_or_else(|| "not found".to_string()))
                .map_err(|e| format!("{}: {e}", path.display())),
        }
    }

    /// Re-reads the file on the next `get` (the vendor rejected its credential).
    pub(crate) fn invalidate(&self) {
        let mut s = self.lock();
        s.checked_at = None;
        s.stamp = None;
    }

    /// The credential of the file as last read successfully, re-read when it changed.
    pub(crate) fn get(&self) -> Result<Arc<Credential>, String> {
        let now = Instant::now();
        let mut s = self.lock();
        let due = s.checked_at.is_none_or(|t| now >= t + self.poll);
        if due {
            s.checked_at = Some(now);
            match std::fs::metadata(&self.path) {
                Err(e) => {
                    let e = format!("{}: {e}", self.path.display());
                    if s.last_error.as_ref() != Some(&e) {
                        tracing::warn!(error = %e, kept = s.current.is_some(), "credentials file unreadable");
                    }
                    s.last_error = Some(e);
                }
                Ok(meta) => {
                    let stamp = Stamp::of(&meta);
                    if s.stamp.as_ref() != Some(&stamp) {
                        match self.read() {
                            Ok(c) => {
                                tracing::info!(
                                    path = %self.path.display(),
                                    access_key_id = %mask(c.access_key_id.expose()),
                                    "credentials file loaded"
                                );
                                s.current = Some(Arc::new(c));
                                s.stamp = Some(stamp);
                                s.last_error = None;
                                s.loads += 1;
                            }
                            // Keep the previous keys (a half-written file); try again next poll.
                            Err(e) => {
                                if s.last_error.as_ref() != Some(&e) {
                                    tracing::warn!(error = %e, kept = s.current.is_some(), "credentials file not usable");
                                }
                                s.last_error = Some(e);
                            }
                        }
                    }
                }
            }
        }
        match (&s.current, &s.last_error) {
            (Some(c), _) => Ok(c.clone()),
            (None, Some(e)) => Err(e.clone()),
            (None, None) => Err(format!("{} not read yet", self.path.display())),
        }
    }

    /// The file and the key in use (masked).
    pub(crate) fn describe(&self) -> String {
        let s = self.lock();
        let what = format!(
            "file {} [{}] (re-read on change)",
            self.path.display(),
            self.section
        );
        match (&s.current, &s.last_error) {
            (Some(c), None) => format!("{} from {what}", mask(c.access_key_id.expose())),
            (Some(c), Some(e)) => format!(
                "{} from {what}; last read failed: {e}",
                mask(c.access_key_id.expose())
            ),
            (None, Some(e)) => format!("{what}: unavailable: {e}"),
            (None, None) => format!("{what}: not read yet"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rewritten_file_is_picked_up_and_a_broken_one_keeps_the_old_keys() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("credentials");
        std::fs::write(&path, "[default]\nsecret_id = AKIDone\nsecret_key = k1\n").unwrap();
        let f = WatchedFile::new(Vendor::Tencent, &path, "default", Some(Duration::ZERO));
        assert_eq!(f.get().unwrap().access_key_id.expose(), "AKIDone");
        std::fs::write(
            &path,
            "[default]\nsecret_id = AKIDtwo\nsecret_key = k2-longer\n",
        )
        .unwrap();
        assert_eq!(f.get().unwrap().access_key_id.expose(), "AKIDtwo");
        std::fs::write(&path, "[default]\nsecret_id = \n").unwrap();
        assert_eq!(f.get().unwrap().access_key_id.expose(), "AKIDtwo");
        assert!(
            f.describe().contains("last read failed"),
            "{}",
            f.describe()
        );
        std::fs::remove_file(&path).unwrap();
        assert_eq!(f.get().unwrap().access_key_id.expose(), "AKIDtwo");
        let nope = dir.path().join("nope.ini");
        let missing = WatchedFile::new(Vendor::Alibaba, &nope, "default", Some(Duration::ZERO));
        assert!(missing.get().unwrap_err().contains("nope.ini"));
    }
}
