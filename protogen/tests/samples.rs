//! Every sample product of both vendors generates, compiles and is
//! reproducible; the committed lock is current.

mod support;

use std::time::Instant;

use cloudgate_protogen::VendorArg;
use support::*;

#[test]
fn every_sample_product_compiles() {
    let Some(samples) = samples() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let lock = lock_copy(&repo().join("protogen.lock"), tmp.path());
    let started = Instant::now();
    let tencent = generate(&args(
        VendorArg::Tencent,
        &samples.join("tencentcloud"),
        &out,
        Some(&lock),
    ));
    let alibaba = generate(&args(
        VendorArg::Alibaba,
        &samples.join("aliyun"),
        &out,
        Some(&lock),
    ));
    let generated = started.elapsed();
    eprint!("{tencent}{alibaba}");

    let files = protos(&out);
    let started = Instant::now();
    let pool = compile(&out, &files);
    let compiled = started.elapsed();
    let services: Vec<_> = pool
        .services()
        .filter(|s| {
            s.full_name().starts_with("aliyun.") || s.full_name().starts_with("tencentcloud.")
        })
        .collect();
    let methods: usize = services.iter().map(|s| s.methods().len()).sum();
    let messages = pool
        .all_messages()
        .filter(|m| {
            !m.full_name().starts_with("google.") && !m.full_name().starts_with("cloudgate.")
        })
        .count();
    eprintln!(
        "generated {} files ({} Tencent + {} Alibaba operations) in {:.2?}; compiled {} services, {} methods, {} messages in {:.2?}",
        files.len(),
        tencent.operations(),
        alibaba.operations(),
        generated,
        services.len(),
        methods,
        messages,
        compiled
    );
    assert_eq!(methods, tencent.operations() + alibaba.operations());
    assert!(
        tencent.operations() > 900,
        "Tencent operations: {}",
        tencent.operations()
    );
    assert!(
        alibaba.operations() > 1000,
        "Alibaba operations: {}",
        alibaba.operations()
    );

    // Every field at every depth carries its vendor name.
    let ext = pool.get_extension_by_name("cloudgate.v1.field").unwrap();
    for m in pool.all_messages() {
        if m.full_name().starts_with("google.")
            || m.full_name().starts_with("cloudgate.")
            || m.is_map_entry()
        {
            continue;
        }
        for f in m.fields() {
            assert!(
                f.options().has_extension(&ext),
                "{} has no field option",
                f.full_name()
            );
        }
    }
}

#[test]
fn output_is_deterministic_and_the_committed_lock_is_current() {
    let Some(samples) = samples() else { return };
    let committed = std::fs::read_to_string(repo().join("protogen.lock")).unwrap();
    let mut outputs = Vec::new();
    for _ in 0..2 {
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path().join("out");
        let lock = lock_copy(&repo().join("protogen.lock"), tmp.path());
        generate(&args(
            VendorArg::Tencent,
            &samples.join("tencentcloud"),
            &out,
            Some(&lock),
        ));
        generate(&args(
            VendorArg::Alibaba,
            &samples.join("aliyun"),
            &out,
            Some(&lock),
        ));
        let files: Vec<(String, Vec<u8>)> = protos(&out)
            .into_iter()
            .map(|f| {
                let bytes = std::fs::read(out.join(&f)).unwrap();
                (f, bytes)
            })
            .collect();
        let lock_text = std::fs::read_to_string(&lock).unwrap();
        assert!(
            lock_text == committed,
            "protogen.lock is not current: regenerate the samples with --lock protogen.lock"
        );
        outputs.push((files, tmp));
    }
    assert_eq!(outputs[0].0.len(), outputs[1].0.len());
    for (a, b) in outputs[0].0.iter().zip(&outputs[1].0) {
        assert_eq!(a.0, b.0);
        assert!(a.1 == b.1, "{} differs between two runs", a.0);
    }
}

#[test]
fn a_run_without_a_lock_numbers_in_metadata_order() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let mut a = args(
        VendorArg::Tencent,
        &fixtures().join("tencentcloud"),
        &out,
        None,
    );
    a.overrides = Some(fixtures().join("empty.toml"));
    let summary = generate(&a);
    assert_eq!(summary.operations(), 2);
    let files = protos(&out);
    assert_eq!(
        files,
        vec!["tencentcloud/demo/v20200101/demo.proto".to_string()]
    );
    compile(&out, &files);
}
