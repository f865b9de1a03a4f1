//! Replays the fuzz seeds (`fuzz/seeds/<target>/`) and every crash the fuzzers
//! ever found (`fuzz/regressions/<target>/`) through the same functions the
//! cargo-fuzz targets call, so a fixed crash stays fixed on stable Rust.

use std::path::{Path, PathBuf};

use cloudgate::fuzzing;

fn inputs(dir: &Path) -> Vec<PathBuf> {
    let entries = std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    let mut files: Vec<PathBuf> = entries
        .map(|e| e.expect("directory entry").path())
        .filter(|p| p.is_file())
        .filter(|p| {
            !p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with('.'))
        })
        .collect();
    files.sort();
    files
}

fn replay(target: &str, run: fn(&[u8])) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    let seeds = inputs(&root.join("seeds").join(target));
    assert!(
        !seeds.is_empty(),
        "fuzz/seeds/{target} is empty: the replay would pass without testing anything"
    );
    let regressions = inputs(&root.join("regressions").join(target));
    let mut failed = Vec::new();
    for path in seeds.iter().chain(&regressions) {
        let data = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        if std::panic::catch_unwind(|| run(&data)).is_err() {
            failed.push(path.display().to_string());
        }
    }
    assert!(
        failed.is_empty(),
        "{target}: {} of {} inputs fail (panic messages above):\n{}",
        failed.len(),
        seeds.len() + regressions.len(),
        failed.join("\n")
    );
}

#[test]
fn vendor_response_seeds_and_regressions() {
    replay("vendor_response", fuzzing::vendor_response);
}

#[test]
fn config_seeds_and_regressions() {
    replay("config", fuzzing::config);
}

#[test]
fn request_encoding_seeds_and_regressions() {
    replay("request_encoding", fuzzing::request_encoding);
}

/// The seeds are worth starting from: for every operation, one reply seed
/// that `interpret` accepts and decodes and one request seed that validates.
#[test]
fn seeds_reach_the_success_paths() {
    use cloudgate::vendors;
    use prost_reflect::DynamicMessage;

    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/seeds");
    let catalog = fuzzing::catalog();
    let mut replies = std::collections::BTreeSet::new();
    for path in inputs(&root.join("vendor_response")) {
        let data = std::fs::read(&path).unwrap();
        let (op, target) = fuzzing::pick(data[0]);
        let headers = http::HeaderMap::new();
        // Status index 0 is HTTP 200.
        if data[1] != 0 {
            continue;
        }
        if let Ok(reply) = vendors::interpret(catalog, op, target, 200, &headers, &data[3..]) {
            if cloudgate::translate::decode_response(catalog, &op.output(), &reply.payload).is_ok()
            {
                replies.insert(op.path.clone());
            }
        }
    }
    let mut requests = std::collections::BTreeSet::new();
    for path in inputs(&root.join("request_encoding")) {
        let data = std::fs::read(&path).unwrap();
        let (op, _) = fuzzing::pick(data[0]);
        // Flag bit 0 clear: the rest is the encoded message.
        if data[1] & 1 != 0 {
            continue;
        }
        let msg = DynamicMessage::decode(op.input(), &data[2..]).unwrap();
        if cloudgate::translate::encode_request(fuzzing::catalog(), op, &msg).is_ok() {
            requests.insert(op.path.clone());
        }
    }
    for op in fuzzing::operations() {
        assert!(
            replies.contains(&op.path),
            "no accepted reply seed for {}",
            op.path
        );
        assert!(
            requests.contains(&op.path),
            "no valid request seed for {}",
            op.path
        );
    }
}
