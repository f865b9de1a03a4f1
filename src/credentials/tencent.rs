//! Tencent Cloud credential sources, following the official SDKs: environment,
//! then `~/.tencentcloud/credentials` (or `/etc/tencentcloud/credentials`).
//!
//! No official SDK reads a token from the environment; cloudgate accepts
//! `TENCENTCLOUD_SESSION_TOKEN` (and the `TENCENTCLOUD_TOKEN` spelling some
//! tools use) for temporary credentials.

use std::path::{Path, PathBuf};

use super::{Credential, EnvLookup};

/// Environment → profile file; the error lists what was tried.
pub fn tencent_default_chain(env: EnvLookup, home: Option<&Path>) -> Result<Credential, String> {
    if let (Some(id), Some(key)) = (
        env("TENCENTCLOUD_SECRET_ID"),
        env("TENCENTCLOUD_SECRET_KEY"),
    ) {
        let token = env("TENCENTCLOUD_SESSION_TOKEN").or_else(|| env("TENCENTCLOUD_TOKEN"));
        return Credential::new(id, key, token, "environment")
            .map_err(|e| format!("environment credentials: {e}"));
    }
    from_files(env, home, None).map_err(|files| {
        format!("TENCENTCLOUD_SECRET_ID / TENCENTCLOUD_SECRET_KEY are not set; {files}")
    })
}

/// The profile file: `TENCENTCLOUD_CREDENTIALS_FILE`, `~/.tencentcloud/credentials`,
/// then `/etc/tencentcloud/credentials`; section `profile` (default `default`).
pub fn from_files(
    env: EnvLookup,
    home: Option<&Path>,
    profile: Option<&str>,
) -> Result<Credential, String> {
    let mut candidates: Vec<PathBuf> = Vec::new();
    if let Some(p) = env("TENCENTCLOUD_CREDENTIALS_FILE") {
        candidates.push(p.into());
    }
    if let Some(h) = home {
        candidates.push(h.join(".tencentcloud").join("credentials"));
    }
    candidates.push(PathBuf::from("/etc/tencentcloud/credentials"));
    let section = profile.unwrap_or("default");
    for path in &candidates {
        if !path.exists() {
            continue;
        }
        return from_ini_file(path, section);
    }
    let list: Vec<String> = candidates.iter().map(|p| p.display().to_string()).collect();
    Err(format!(
        "no credentials file ({} not found)",
        list.join(", ")
    ))
}

/// One section (`secret_id`, `secret_key`) of one credentials file.
pub(crate) fn from_ini_file(path: &Path, section: &str) -> Result<Credential, String> {
    let ini = ini::Ini::load_from_file(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let s = ini
        .section(Some(section))
        .ok_or_else(|| format!("{}: no section [{section}]", path.display()))?;
    let get = |k: &str| s.get(k).unwrap_or_default().to_string();
    Credential::new(
        get("secret_id"),
        get("secret_key"),
        None,
        path.display().to_string(),
    )
    .map_err(|e| format!("{} [{section}]: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn environment_with_session_token() {
        let env = |k: &str| match k {
            "TENCENTCLOUD_SECRET_ID" => Some("AKIDenv".to_string()),
            "TENCENTCLOUD_SECRET_KEY" => Some("key".to_string()),
            "TENCENTCLOUD_SESSION_TOKEN" => Some("tok".to_string()),
            _ => None,
        };
        let c = tencent_default_chain(&env, None).unwrap();
        assert_eq!(c.access_key_id.expose(), "AKIDenv");
        assert_eq!(c.token.unwrap().expose(), "tok");
    }

    #[test]
    fn profile_file_in_home() {
        let home = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(home.path().join(".tencentcloud")).unwrap();
        std::fs::write(
            home.path().join(".tencentcloud/credentials"),
            "[default]\nsecret_id = AKIDfile\nsecret_key = filekey\n",
        )
        .unwrap();
        let c = tencent_default_chain(&|_| None, Some(home.path())).unwrap();
        assert_eq!(c.secret.expose(), "filekey");
    }

    #[test]
    fn whitespace_in_keys_is_refused_like_the_sdk() {
        let env = |k: &str| match k {
            "TENCENTCLOUD_SECRET_ID" => Some("AKID ".to_string()),
            "TENCENTCLOUD_SECRET_KEY" => Some("key".to_string()),
            _ => None,
        };
        let e = tencent_default_chain(&env, None).unwrap_err();
        assert!(e.contains("whitespace"), "{e}");
    }
}
