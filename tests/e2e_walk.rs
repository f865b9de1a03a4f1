//! Every embedded operation (all sample products of both vendors), called
//! through the gateway against the emulator with a request built from its
//! own documented examples: each must be accepted, signed, validated by the
//! emulator, answered, and its reply decoded. Prints the counts.

mod support;

use std::collections::BTreeMap;
use std::str::FromStr;

use cloudgate::catalog::Catalog;
use cloudgate::codec::DynamicCodec;
use futures::StreamExt;
use prost_reflect::ReflectMessage;
use support::Harness;

#[tokio::test]
async fn every_embedded_operation_works_end_to_end_with_its_own_examples() {
    // Rate limits well above one call per operation, retries off: each
    // operation is called once, and any failure shows as it is.
    let h = Harness::with(support::Options {
        extra_toml: "[retry]\nmax_attempts = 1\n".into(),
        ..Default::default()
    })
    .await;
    let catalog = Catalog::load().unwrap();
    let ops: Vec<_> = catalog.operations().to_vec();
    let started = std::time::Instant::now();
    let results: Vec<(String, Result<(), String>)> = futures::stream::iter(ops.iter())
        .map(|op| {
            let channel = h.channel.clone();
            let request = cloudgate::translate::example_request(&catalog, &op.input());
            let op = op.clone();
            async move {
                let mut grpc = tonic::client::Grpc::new(channel);
                grpc.ready().await.unwrap();
                let result = grpc
                    .unary(
                        tonic::Request::new(request),
                        http::uri::PathAndQuery::from_str(&op.path).unwrap(),
                        DynamicCodec::new(op.output()),
                    )
                    .await;
                let outcome = match result {
                    Ok(reply) => {
                        let reply = reply.into_inner();
                        if reply.descriptor().full_name() == op.output().full_name() {
                            Ok(())
                        } else {
                            Err("reply of the wrong type".to_string())
                        }
                    }
                    Err(s) => Err(format!("{:?}: {}", s.code(), s.message())),
                };
                (op.path.clone(), outcome)
            }
        })
        .buffer_unordered(8)
        .collect()
        .await;
    let elapsed = started.elapsed();

    let mut by_vendor: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
    let mut failures = Vec::new();
    for (path, outcome) in &results {
        let vendor = if path.starts_with("/aliyun.") {
            "alibaba"
        } else {
            "tencent"
        };
        let e = by_vendor.entry(vendor).or_default();
        match outcome {
            Ok(()) => e.0 += 1,
            Err(why) => {
                e.1 += 1;
                failures.push(format!("{path}: {why}"));
            }
        }
    }
    println!(
        "walked {} operations in {:.1}s: {by_vendor:?} (ok, failed) per vendor",
        results.len(),
        elapsed.as_secs_f64()
    );
    for f in failures.iter().take(40) {
        println!("  {f}");
    }
    let received = h.emulator.calls().len();
    println!("emulator received {received} calls");
    assert!(results.len() > 2000);
    assert!(failures.is_empty(), "{} operations failed", failures.len());
    assert_eq!(received, results.len(), "one vendor call per operation");
    h.stop().await;
}
