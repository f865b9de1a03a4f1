//! Scans every log and audit line the end-to-end suite produced (kept in
//! `target/tmp/e2e-logs` by `tests/support`) for every secret the suite
//! configured — access key ids and secrets, STS tokens, bearer tokens — and
//! for credential-shaped fields with a value, and fails on any hit.
//!
//! It reads what the other tests wrote, so it runs after them:
//! `scripts/test.sh` runs it last with `--run-ignored only`.

mod support;

use std::collections::BTreeSet;
use std::path::PathBuf;

use cloudgate::emulator::{
    DEMO_ALIBABA_ID, DEMO_ALIBABA_SECRET, DEMO_TENCENT_ID, DEMO_TENCENT_SECRET,
};
use regex::Regex;

/// Secrets shorter than this are too generic to look for ("x", "id").
const MIN_SECRET_LEN: usize = 8;

fn files(ext: &str) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(support::log_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == ext))
        .collect();
    out.sort();
    out
}

fn secrets() -> BTreeSet<String> {
    let mut all: BTreeSet<String> = files("txt")
        .iter()
        .flat_map(|p| {
            std::fs::read_to_string(p)
                .unwrap()
                .lines()
                .map(str::to_string)
                .collect::<Vec<_>>()
        })
        .collect();
    // The standalone emulator's fixed demo keys (`cloudgate emulator`).
    for s in [
        DEMO_ALIBABA_ID,
        DEMO_ALIBABA_SECRET,
        DEMO_TENCENT_ID,
        DEMO_TENCENT_SECRET,
    ] {
        all.insert(s.to_string());
    }
    all.retain(|s| s.len() >= MIN_SECRET_LEN);
    all
}

/// A credential field written with a value that is not redacted, e.g. an
/// STS reply or a credentials file logged whole.
fn credential_field() -> Regex {
    Regex::new(
        r#"(?i)"?(AccessKeySecret|access_key_secret|TmpSecretKey|SecretKey|SecurityToken|security_token|sessionToken)\\?"?\s*[:=]\s*\\?"([A-Za-z0-9+/=._-]{8,})"#,
    )
    .unwrap()
}

fn masked(secret: &str) -> String {
    format!("{}… ({} chars)", &secret[..4], secret.len())
}

#[test]
#[ignore = "reads the logs of the whole suite: scripts/test.sh runs it after the other tests"]
fn no_configured_secret_appears_in_any_log_or_audit_line() {
    let secrets = secrets();
    assert!(
        secrets.contains(support::ALI_SECRET) && secrets.contains(support::TC_SECRET),
        "the suite registered no secrets: did it run? ({} in {})",
        secrets.len(),
        support::log_dir().display()
    );
    let logs: Vec<PathBuf> = files("log").into_iter().chain(files("jsonl")).collect();
    let field = credential_field();
    let mut lines = 0usize;
    let mut audit_lines = 0usize;
    let mut hits = Vec::new();
    for path in &logs {
        let text = std::fs::read_to_string(path).unwrap();
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        for (n, line) in text.lines().enumerate() {
            lines += 1;
            if name.starts_with("audit-") {
                audit_lines += 1;
            }
            for s in &secrets {
                if line.contains(s.as_str()) {
                    hits.push(format!("{name}:{}: secret {}", n + 1, masked(s)));
                }
            }
            if let Some(c) = field.captures(line) {
                hits.push(format!("{name}:{}: credential field {}", n + 1, &c[1]));
            }
        }
    }
    println!(
        "scanned {} files, {lines} lines ({audit_lines} audit lines) for {} secrets",
        logs.len(),
        secrets.len()
    );
    assert!(
        logs.len() >= 20 && lines >= 1000 && audit_lines >= 20,
        "too little to scan ({} files, {lines} lines, {audit_lines} audit lines): did the suite run first?",
        logs.len()
    );
    assert!(hits.is_empty(), "secrets in logs:\n{}", hits.join("\n"));
}

#[test]
fn the_scanner_finds_what_it_looks_for() {
    let field = credential_field();
    for leak in [
        r#"{"AccessKeySecret":"abcdEFGH1234"}"#,
        r#"body={\"Credentials\":{\"TmpSecretKey\":\"abcdEFGH1234\"}}"#,
        r#"access_key_secret = "e2e-secret-value""#,
    ] {
        assert!(field.is_match(leak), "{leak}");
    }
    for fine in [
        r#"{"AccessKeySecret":"<redacted>"}"#,
        r#"access_key_secret: set"#,
        r#"security_token=true"#,
    ] {
        assert!(!field.is_match(fine), "{fine}");
    }
    assert_eq!(masked("e2e-alibaba-default-secret"), "e2e-… (26 chars)");
}
