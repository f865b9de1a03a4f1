//! What `cloudgate catalog` prints: every operation the gateway would serve.

use serde::Serialize;

use super::{vendor_name, Catalog};

/// One operation, as listed.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct OperationSummary {
    /// gRPC path.
    pub path: String,
    /// `alibaba` / `tencent`.
    pub vendor: &'static str,
    /// Vendor product code.
    pub product: String,
    /// API version.
    pub version: String,
    /// Vendor action.
    pub action: String,
    /// Documented calls/s (`null`: none published; the gateway's
    /// `ratelimit.default_qps` applies).
    pub documented_qps: Option<f64>,
    /// Where the figure comes from (`documented`, `flow_control`, `prose`,
    /// `override`), `null` without one.
    pub qps_source: Option<String>,
    /// Changes state at the vendor.
    pub mutating: bool,
    /// Repeating it cannot change the outcome.
    pub safe_to_retry: bool,
    /// The vendor marks it deprecated.
    pub deprecated: bool,
    /// The proto file it comes from.
    pub file: String,
    /// Embedded in the binary (false: loaded with `--proto-dir`).
    pub embedded: bool,
}

/// Every operation, in path order.
pub fn listing(catalog: &Catalog) -> Vec<OperationSummary> {
    let mut out: Vec<OperationSummary> = catalog
        .operations()
        .iter()
        .map(|op| {
            let qps = op.rule.documented_qps;
            OperationSummary {
                path: op.path.clone(),
                vendor: vendor_name(op.vendor()),
                product: op.product().to_string(),
                version: op.version().to_string(),
                action: op.action().to_string(),
                documented_qps: (qps > 0.0).then_some(qps),
                qps_source: (qps > 0.0).then(|| {
                    if op.rule.qps_source.is_empty() {
                        "documented".to_string()
                    } else {
                        op.rule.qps_source.clone()
                    }
                }),
                mutating: op.rule.mutating,
                safe_to_retry: op.rule.safe_to_retry,
                deprecated: op.deprecated,
                file: op.service.file.clone(),
                embedded: op.service.embedded,
            }
        })
        .collect();
    out.sort_by(|a, b| a.path.cmp(&b.path));
    out
}

/// The listing as a text table.
pub fn table(ops: &[OperationSummary]) -> String {
    use std::fmt::Write;
    let width = ops.iter().map(|o| o.path.len()).max().unwrap_or(4).max(4);
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<width$}  {:<7}  {:<14}  {:<10}  {:<22}  {:<8}  SAFE TO RETRY",
        "PATH", "VENDOR", "PRODUCT", "VERSION", "QPS (SOURCE)", "MUTATING"
    );
    for o in ops {
        let qps = match (&o.documented_qps, &o.qps_source) {
            (Some(q), Some(s)) => format!("{q} ({s})"),
            _ => "- (default_qps)".to_string(),
        };
        let line = format!(
            "{:<width$}  {:<7}  {:<14}  {:<10}  {:<22}  {:<8}  {:<13}{}",
            o.path,
            o.vendor,
            o.product,
            o.version,
            qps,
            if o.mutating { "yes" } else { "no" },
            if o.safe_to_retry { "yes" } else { "no" },
            if o.deprecated { "  deprecated" } else { "" },
        );
        let _ = writeln!(out, "{}", line.trim_end());
    }
    let loaded = ops.iter().filter(|o| !o.embedded).count();
    let _ = writeln!(
        out,
        "{} operations ({} embedded, {loaded} loaded)",
        ops.len(),
        ops.len() - loaded
    );
    out
}
