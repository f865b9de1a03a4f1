//! Alibaba Cloud credential sources, following `alibabacloud-credentials`:
//! environment, the aliyun CLI's `~/.aliyun/config.json`, then the INI file
//! `~/.alibabacloud/credentials.ini`.

use std::path::{Path, PathBuf};

use super::{Credential, EnvLookup};

/// Environment → CLI profile → INI file; the error lists what was tried.
pub fn alibaba_default_chain(env: EnvLookup, home: Option<&Path>) -> Result<Credential, String> {
    if let Some(c) = from_env(env)? {
        return Ok(c);
    }
    from_files(env, home, None).map_err(|files| {
        format!(
            "ALIBABA_CLOUD_ACCESS_KEY_ID / ALIBABA_CLOUD_ACCESS_KEY_SECRET are not set; {files}"
        )
    })
}

fn from_env(env: EnvLookup) -> Result<Option<Credential>, String> {
    let pair = |id: &str, secret: &str| Some((env(id)?, env(secret)?));
    let Some((id, secret)) = pair(
        "ALIBABA_CLOUD_ACCESS_KEY_ID",
        "ALIBABA_CLOUD_ACCESS_KEY_SECRET",
    )
    .or_else(|| pair("ALIYUN_ACCESS_KEY_ID", "ALIYUN_ACCESS_KEY_SECRET")) else {
        return Ok(None);
    };
    Credential::new(
        id,
        secret,
        env("ALIBABA_CLOUD_SECURITY_TOKEN"),
        "environment",
    )
    .map(Some)
    .map_err(|e| format!("environment credentials: {e}"))
}

/// The CLI profile file, then the INI file. `profile` overrides
/// `ALIBABA_CLOUD_PROFILE` (and the CLI file's `current`).
pub fn from_files(
    env: EnvLookup,
    home: Option<&Path>,
    profile: Option<&str>,
) -> Result<Credential, String> {
    let chosen = profile
        .map(str::to_string)
        .or_else(|| env("ALIBABA_CLOUD_PROFILE"));
    let mut tried = Vec::new();
    let cli_disabled =
        env("ALIBABA_CLOUD_CLI_PROFILE_DISABLED").is_some_and(|v| v.eq_ignore_ascii_case("true"));
    if !cli_disabled {
        if let Some(path) = home.map(|h| h.join(".aliyun").join("config.json")) {
            match from_cli_file(&path, chosen.as_deref()) {
                Ok(Some(c)) => return Ok(c),
                Ok(None) => tried.push(format!("{} not found", path.display())),
                Err(e) => return Err(format!("{}: {e}", path.display())),
            }
        }
    }
    let ini: Option<PathBuf> = env("ALIBABA_CLOUD_CREDENTIALS_FILE")
        .map(PathBuf::from)
        .or_else(|| home.map(|h| h.join(".alibabacloud").join("credentials.ini")));
    if let Some(path) = ini {
        let section = chosen.as_deref().unwrap_or("default");
        match from_ini_file(&path, section) {
            Ok(Some(c)) => return Ok(c),
            Ok(None) => tried.push(format!("{} not found", path.display())),
            Err(e) => return Err(format!("{}: {e}", path.display())),
        }
    }
    if tried.is_empty() {
        tried.push("no home directory to look for profile files".into());
    }
    Err(tried.join("; "))
}

pub(crate) fn from_cli_file(
    path: &Path,
    profile: Option<&str>,
) -> Result<Option<Credential>, String> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e.to_string()),
    };
    let doc: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| format!("not valid JSON: {e}"))?;
    let name = profile
        .map(str::to_string)
        .or_else(|| {
            doc.get("current")
                .and_then(|v| v.as_str())
                .map(str::to_string)
        })
        .unwrap_or_else(|| "default".to_string());
    let profiles = doc
        .get("profiles")
        .and_then(|p| p.as_array())
        .ok_or("no \"profiles\" list")?;
    let p = profiles
        .iter()
        .find(|p| p.get("name").and_then(|n| n.as_str()) == Some(name.as_str()))
        .ok_or_else(|| format!("no profile named {name:?}"))?;
    let field = |k: &str| {
        p.get(k)
            .and_then(|v| v.as_str())
            .unwrap_or_default()
            .to_string()
    };
    let mode = field("mode");
    let token = match mode.as_str() {
        "AK" => None,
        "StsToken" => Some(field("sts_token")),
        other => {
            return Err(format!(
                "profile {name:?} has mode {other:?}; only AK and StsToken are supported"
            ))
        }
    };
    Credential::new(
        field("access_key_id"),
        field("access_key_secret"),
        token,
        path.display().to_string(),
    )
    .map(Some)
    .map_err(|e| format!("profile {name:?}: {e}"))
}

pub(crate) fn from_ini_file(path: &Path, section: &str) -> Result<Option<Credential>, String> {
    if !path.exists() {
        return Ok(None);
    }
    let ini = ini::Ini::load_from_file(path).map_err(|e| e.to_string())?;
    let s = ini
        .section(Some(section))
        .ok_or_else(|| format!("no section [{section}]"))?;
    // The SDK drops everything after '#' in a value.
    let get = |k: &str| {
        s.get(k)
            .map(|v| v.split('#').next().unwrap_or_default().trim().to_string())
            .unwrap_or_default()
    };
    let kind = get("type");
    if kind != "access_key" {
        return Err(format!(
            "section [{section}] has type {kind:?}; only access_key is supported"
        ));
    }
    Credential::new(
        get("access_key_id"),
        get("access_key_secret"),
        None,
        path.display().to_string(),
    )
    .map(Some)
    .map_err(|e| format!("section [{section}]: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn environment_wins_and_carries_the_token() {
        let env = |k: &str| match k {
            "ALIBABA_CLOUD_ACCESS_KEY_ID" => Some("LTAIenv".to_string()),
            "ALIBABA_CLOUD_ACCESS_KEY_SECRET" => Some("envsecret".to_string()),
            "ALIBABA_CLOUD_SECURITY_TOKEN" => Some("tok".to_string()),
            _ => None,
        };
        let c = alibaba_default_chain(&env, None).unwrap();
        assert_eq!(c.access_key_id.expose(), "LTAIenv");
        assert_eq!(c.token.unwrap().expose(), "tok");
        assert_eq!(c.source, "environment");
    }

    #[test]
    fn cli_profile_file_current_and_named_profiles() {
        let home = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(home.path().join(".aliyun")).unwrap();
        std::fs::write(
            home.path().join(".aliyun/config.json"),
            r#"{"current":"main","profiles":[
                {"name":"main","mode":"AK","access_key_id":"LTAImain","access_key_secret":"mainsecret"},
                {"name":"sts","mode":"StsToken","access_key_id":"STS.x","access_key_secret":"s","sts_token":"t"},
                {"name":"role","mode":"RamRoleArn","access_key_id":"a","access_key_secret":"b"}]}"#,
        )
        .unwrap();
        let none = |_: &str| None;
        let c = alibaba_default_chain(&none, Some(home.path())).unwrap();
        assert_eq!(c.access_key_id.expose(), "LTAImain");
        let env = |k: &str| (k == "ALIBABA_CLOUD_PROFILE").then(|| "sts".to_string());
        let c = alibaba_default_chain(&env, Some(home.path())).unwrap();
        assert_eq!(c.token.unwrap().expose(), "t");
        let e = from_files(&none, Some(home.path()), Some("role")).unwrap_err();
        assert!(e.contains("RamRoleArn"), "{e}");
    }

    #[test]
    fn ini_file_with_comments() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("credentials.ini");
        std::fs::write(
            &path,
            "[default]\ntype = access_key # plain keys\naccess_key_id = LTAIini\naccess_key_secret = inisecret # comment\n",
        )
        .unwrap();
        let p = path.display().to_string();
        let env = move |k: &str| (k == "ALIBABA_CLOUD_CREDENTIALS_FILE").then(|| p.clone());
        let c = alibaba_default_chain(&env, None).unwrap();
        assert_eq!(c.secret.expose(), "inisecret");
    }

    #[test]
    fn nothing_configured_says_what_was_tried() {
        let home = tempfile::tempdir().unwrap();
        let e = alibaba_default_chain(&|_| None, Some(home.path())).unwrap_err();
        assert!(
            e.contains("ALIBABA_CLOUD_ACCESS_KEY_ID") && e.contains("config.json"),
            "{e}"
        );
    }
}
