//! What may be retried: only failures that did not take effect, unless the
//! operation is safe to repeat (read-only or idempotent, per the proto options).

use std::time::Duration;

use crate::catalog::{ErrorClass, Operation};
use crate::error::{GatewayError, Outcome};

/// The retry decision for a failed attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Do not retry.
    Stop,
    /// Retry, at least after this vendor hint when given.
    Retry(Option<Duration>),
}

/// Decides whether a failed attempt of `op` may be repeated.
pub fn verdict(op: &Operation, err: &GatewayError) -> Verdict {
    // An idempotency token (the same one on every attempt) lets the vendor
    // de-duplicate, so an ambiguous failure can be retried.
    let safe = op.rule.safe_to_retry || op.idempotency_token().is_some();
    let if_safe = if safe {
        Verdict::Retry(None)
    } else {
        Verdict::Stop
    };
    match err {
        GatewayError::Vendor(f) => match f.class {
            // The vendor refused before executing: safe for every operation.
            ErrorClass::Throttled => Verdict::Retry(f.retry_after),
            ErrorClass::Transient => Verdict::Retry(None),
            // May have taken effect.
            ErrorClass::Unknown => if_safe,
            _ => Verdict::Stop,
        },
        GatewayError::Transport { outcome, .. } => match outcome {
            Outcome::NotExecuted => Verdict::Retry(None),
            Outcome::Unknown => if_safe,
        },
        GatewayError::BadVendorResponse { http_status, .. } if *http_status >= 500 => if_safe,
        _ => Verdict::Stop,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::{Catalog, Vendor};
    use crate::error::VendorFailure;
    use crate::pb::cloudgate::v1::VendorError;

    fn vendor(class: ErrorClass) -> GatewayError {
        GatewayError::Vendor(Box::new(VendorFailure {
            detail: VendorError::default(),
            code: tonic::Code::Unavailable,
            class,
            retry_after: Some(Duration::from_millis(300)),
            mutating: true,
        }))
    }

    fn transport(outcome: Outcome) -> GatewayError {
        GatewayError::Transport {
            host: "h".into(),
            cause: "c".into(),
            outcome,
            mutating: true,
        }
    }

    #[test]
    fn mutations_are_retried_only_when_they_did_not_happen() {
        let c = Catalog::load().unwrap();
        let m = c
            .by_action(Vendor::Alibaba, "SetResellerUserStatus")
            .unwrap();
        assert_eq!(
            verdict(m, &vendor(ErrorClass::Throttled)),
            Verdict::Retry(Some(Duration::from_millis(300)))
        );
        assert_eq!(
            verdict(m, &vendor(ErrorClass::Transient)),
            Verdict::Retry(None)
        );
        assert_eq!(verdict(m, &vendor(ErrorClass::Unknown)), Verdict::Stop);
        assert_eq!(
            verdict(m, &vendor(ErrorClass::InvalidRequest)),
            Verdict::Stop
        );
        assert_eq!(
            verdict(m, &transport(Outcome::NotExecuted)),
            Verdict::Retry(None)
        );
        assert_eq!(verdict(m, &transport(Outcome::Unknown)), Verdict::Stop);
    }

    #[test]
    fn safe_operations_are_retried_after_ambiguous_failures() {
        let c = Catalog::load().unwrap();
        let r = c.by_action(Vendor::Alibaba, "DescribeUserStatus").unwrap();
        assert_eq!(
            verdict(r, &vendor(ErrorClass::Unknown)),
            Verdict::Retry(None)
        );
        assert_eq!(
            verdict(r, &transport(Outcome::Unknown)),
            Verdict::Retry(None)
        );
        let bad = GatewayError::BadVendorResponse {
            host: "h".into(),
            http_status: 502,
            request_id: String::new(),
            reason: "r".into(),
            outcome: None,
        };
        assert_eq!(verdict(r, &bad), Verdict::Retry(None));
        let limited = GatewayError::RateLimited {
            limit_key: "k".into(),
            qps: 1.0,
            reason: "r",
            retry_after: Duration::from_secs(1),
        };
        assert_eq!(verdict(r, &limited), Verdict::Stop);
    }
}
