//! `[audit]`: where the audit log of mutating calls goes and how hard each
//! line is pushed to storage before the caller gets its reply.

use std::path::PathBuf;

use serde::Deserialize;

use super::{invalid, ConfigError};

/// `[audit]` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditSection {
    /// Write audit lines at all (default true).
    pub enabled: Option<bool>,
    /// A file to append JSON lines to, or `"-"` for stdout (default `"-"`).
    pub path: Option<String>,
    /// `fdatasync` every batch before replying, so lines survive a power
    /// loss, not only a crash of cloudgate (default false).
    pub fsync: Option<bool>,
}

/// Where audit lines go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuditSink {
    /// Standard output.
    Stdout,
    /// A file opened for appending.
    File(PathBuf),
}

/// Validated `[audit]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditSettings {
    /// Where lines go; `None` when the audit log is off.
    pub sink: Option<AuditSink>,
    /// Whether each batch is synced to storage.
    pub fsync: bool,
}

/// Validates `[audit]`.
pub fn audit(a: &AuditSection) -> Result<AuditSettings, ConfigError> {
    let sink = match (a.enabled.unwrap_or(true), a.path.as_deref()) {
        (false, _) => None,
        (true, None | Some("-")) => Some(AuditSink::Stdout),
        (true, Some("")) => {
            return Err(invalid("audit.path", "must not be empty (\"-\" is stdout)"))
        }
        (true, Some(p)) => Some(AuditSink::File(PathBuf::from(p))),
    };
    if a.fsync == Some(true) && sink == Some(AuditSink::Stdout) {
        return Err(invalid(
            "audit.fsync",
            "needs a file in audit.path (stdout cannot be synced)",
        ));
    }
    Ok(AuditSettings {
        sink,
        fsync: a.fsync.unwrap_or(false),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn section(enabled: Option<bool>, path: Option<&str>, fsync: Option<bool>) -> AuditSection {
        AuditSection {
            enabled,
            path: path.map(String::from),
            fsync,
        }
    }

    #[test]
    fn defaults_to_stdout_without_fsync() {
        let s = audit(&AuditSection::default()).unwrap();
        assert_eq!(s.sink, Some(AuditSink::Stdout));
        assert!(!s.fsync);
    }

    #[test]
    fn file_sink_and_off() {
        let s = audit(&section(None, Some("/var/log/a.jsonl"), Some(true))).unwrap();
        assert_eq!(s.sink, Some(AuditSink::File("/var/log/a.jsonl".into())));
        assert!(s.fsync);
        assert_eq!(audit(&section(Some(false), None, None)).unwrap().sink, None);
    }

    #[test]
    fn bad_combinations_name_the_key() {
        let e = audit(&section(None, Some(""), None))
            .unwrap_err()
            .to_string();
        assert!(e.contains("audit.path"), "{e}");
        let e = audit(&section(None, Some("-"), Some(true)))
            .unwrap_err()
            .to_string();
        assert!(e.contains("audit.fsync"), "{e}");
    }
}
