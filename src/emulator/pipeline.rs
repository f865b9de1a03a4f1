//! One vendor request end to end, in the order a vendor gateway works:
//!
//! 1. scheme detection (`X-TC-Action` → TC3, `x-acs-action` → ACS3, `Action` → RPC v1);
//! 2. authentication: access key, timestamp, signature, security token, nonce;
//! 3. action and version;
//! 4. injected faults (so a faulted call has proven it was well signed);
//! 5. the documented QPS per access key (faulted calls never reach it; a delayed call
//!    does, after its delay);
//! 6. parameter validation against the catalog;
//! 7. the documented sample body with a fresh request id, or (for operations
//!    without one) a reply synthesized from the output message.
//!
//! Every detected call is recorded with its outcome, whatever step ended it.

use std::sync::Arc;
use std::time::Duration;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::SecondsFormat;
use tokio::time::Instant;

use crate::catalog::{Catalog, Operation, Vendor};

use super::faults::FaultKind;
use super::record::{Category, ReceivedCall, UNKNOWN_BUCKET};
use super::rejection::Rejection;
use super::request::{vendor_name, Clock, Envelope, RawRequest, Scheme};
use super::server::ConnControl;
use super::window::limit_for;
use super::{acs3, alibaba, rpc_v1, sts, tc3, tencent, validate, Emulator};

/// How a call that was not rejected ends.
enum Handled {
    /// Answer with the sample body.
    Success(Arc<Operation>),
    /// Close the connection without answering.
    Drop,
    /// A ready answer (STS `AssumeRole`).
    Reply(Response),
}

/// Answers one request to the vendor endpoint.
pub(crate) async fn handle(emu: &Emulator, req: RawRequest, conn: Option<ConnControl>) -> Response {
    let Some(scheme) = Scheme::detect(&req) else {
        tracing::debug!(method = %req.method, "vendor request names no action");
        return alibaba::no_action_response(&req.host);
    };
    let clock = Clock::now();
    let mut env = Envelope::new(scheme);
    let result = run(emu, &req, &mut env, &clock).await;

    let vendor = scheme.vendor();
    let op = env.op.clone().or_else(|| {
        // Rejected before routing (signature, ...): the error codes of the
        // action's first operation, for documented operation-specific codes.
        emu.catalog.by_action(vendor, &env.action).cloned()
    });
    let (response, http_status, outcome, category) = match result {
        Ok(Handled::Success(op)) => {
            let resp = match vendor {
                Vendor::Tencent => tencent::success_response(&emu.catalog, &op),
                _ => alibaba::success_response(&emu.catalog, &op),
            };
            (Some(resp), 200, "ok".to_string(), Category::Ok)
        }
        Ok(Handled::Drop) => (None, 0, "connection_dropped".to_string(), Category::Error),
        Ok(Handled::Reply(resp)) => (Some(resp), 200, "ok".to_string(), Category::Ok),
        Err(rejection) => {
            let category = if matches!(rejection, Rejection::Throttled { .. }) {
                Category::Throttled
            } else {
                Category::Error
            };
            let (resp, err) = match vendor {
                Vendor::Tencent => {
                    let err = tencent::map(&rejection, &emu.catalog, op.as_deref());
                    (tencent::error_response(&err), err)
                }
                _ => {
                    let err = alibaba::map(&rejection, &emu.catalog, op.as_deref());
                    (alibaba::error_response(&err, &req.host, op.as_deref()), err)
                }
            };
            tracing::debug!(%rejection, code = %err.code, "vendor call rejected");
            let status = resp.status().as_u16();
            (Some(resp), status, err.code, category)
        }
    };

    let action_bucket = if op.is_some() || sts::is_sts(&env.action) {
        env.action.as_str()
    } else {
        UNKNOWN_BUCKET
    };
    let key_bucket = match env.key_id.as_deref() {
        Some(id) if emu.known_key(vendor, id).is_some() => id,
        _ => UNKNOWN_BUCKET,
    };
    tracing::info!(
        scheme = scheme.as_str(),
        action = %env.action,
        access_key_id = %crate::credentials::mask(key_bucket),
        http_status,
        outcome = %outcome,
        "emulated vendor call"
    );
    let call = ReceivedCall {
        seq: 0,
        received_at: clock.wall.to_rfc3339_opts(SecondsFormat::Millis, true),
        vendor: vendor_name(vendor).to_string(),
        scheme: scheme.as_str().to_string(),
        action: env.action.clone(),
        product: env
            .op
            .as_ref()
            .map(|op| op.product().to_string())
            .unwrap_or_default(),
        version: env.version.clone(),
        access_key_id: env.key_id.clone().unwrap_or_default(),
        region: env.region.clone(),
        nonce: env.nonce.clone(),
        timestamp: env.timestamp.clone(),
        security_token: env.security_token,
        params: env.params.to_record(),
        form_params: env.form_params.clone(),
        http_status,
        outcome,
    };
    emu.state.record(call, action_bucket, key_bucket, category);

    match response {
        Some(resp) => resp,
        None => match conn {
            Some(conn) => {
                conn.drop_connection();
                // Never answer: the connection task closes the socket on the signal.
                std::future::pending::<Response>().await
            }
            None => (StatusCode::BAD_GATEWAY, "connection drop requested").into_response(),
        },
    }
}

async fn run(
    emu: &Emulator,
    req: &RawRequest,
    env: &mut Envelope,
    clock: &Clock,
) -> Result<Handled, Rejection> {
    if req.body_too_large {
        return Err(Rejection::BodyTooLarge);
    }
    match env.scheme {
        Scheme::RpcV1 => rpc_v1::authenticate(emu, req, env, clock)?,
        Scheme::Acs3 => acs3::authenticate(emu, req, env, clock)?,
        Scheme::Tc3 => tc3::authenticate(emu, req, env, clock)?,
    }
    let vendor = env.scheme.vendor();
    let is_sts = sts::is_sts(&env.action);
    let bucket = if is_sts || emu.catalog.by_action(vendor, &env.action).is_some() {
        env.action.as_str()
    } else {
        UNKNOWN_BUCKET
    };
    emu.state.note_verified(bucket, clock.mono);

    // STS `AssumeRole` is a catalog operation like any other; only its answer differs.
    let op = resolve(&emu.catalog, vendor, req, env)?;
    env.op = Some(op.clone());
    let (action, product) = (op.action(), op.product());
    if let Some(kind) = emu.faults.take(product, action) {
        tracing::info!(action, ?kind, "injecting fault");
        match kind {
            FaultKind::Error {
                code,
                http_status,
                message,
            } => {
                return Err(Rejection::Injected {
                    code,
                    http_status,
                    message,
                })
            }
            FaultKind::HttpStatus { status } => return Err(Rejection::InjectedStatus(status)),
            FaultKind::Delay { ms } => tokio::time::sleep(Duration::from_millis(ms)).await,
            FaultKind::Drop => return Ok(Handled::Drop),
        }
    }
    if let Some(limit) = limit_for(op.rule.documented_qps) {
        let key_id = env.key_id.as_deref().unwrap_or_default();
        if !emu.state.admit(op.action(), key_id, limit, Instant::now()) {
            return Err(Rejection::Throttled { limit });
        }
    }
    validate::check(&emu.catalog, &op, &env.params, env.region.as_deref())?;
    if is_sts && product.eq_ignore_ascii_case("sts") {
        return sts::assume_role(&emu.issued, vendor, env).map(Handled::Reply);
    }
    Ok(Handled::Success(op))
}

/// The operation a request is for, as the vendor routes it: the action and
/// version, and when several products have both, the product the request
/// names (Tencent: the credential scope's service; Alibaba: the host, when it
/// is a product host rather than the emulator's own address).
fn resolve(
    catalog: &Catalog,
    vendor: Vendor,
    req: &RawRequest,
    env: &Envelope,
) -> Result<Arc<Operation>, Rejection> {
    let action = env.action.as_str();
    let candidates: Vec<&Arc<Operation>> = catalog.with_action(vendor, action).collect();
    if candidates.is_empty() {
        return Err(Rejection::UnknownAction(action.to_string()));
    }
    let version = match env.version.as_deref().filter(|v| !v.is_empty()) {
        Some(v) => v,
        None if vendor == Vendor::Tencent => return Err(Rejection::MissingHeader("X-TC-Version")),
        None => return Err(Rejection::MissingCommon("Version")),
    };
    let same_version: Vec<&Arc<Operation>> = candidates
        .into_iter()
        .filter(|op| op.version() == version)
        .collect();
    let named = |op: &&&Arc<Operation>| match vendor {
        Vendor::Tencent => env
            .service
            .as_deref()
            .is_some_and(|s| op.service.rule.signing_service == s),
        _ => {
            let host = req.host.split(':').next().unwrap_or_default();
            let template = &op.service.rule.host_template;
            op.service.rule.region_hosts.iter().any(|r| r.host == host)
                || match template.split_once("{region}") {
                    Some((head, tail)) => host.starts_with(head) && host.ends_with(tail),
                    None => template == host,
                }
        }
    };
    same_version
        .iter()
        .find(named)
        .or(same_version.first())
        .map(|op| (*op).clone())
        .ok_or_else(|| Rejection::WrongVersion {
            action: action.to_string(),
            version: version.to_string(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(vendor: Vendor, action: &str, version: Option<&str>) -> (RawRequest, Envelope) {
        let scheme = match vendor {
            Vendor::Tencent => Scheme::Tc3,
            _ => Scheme::Acs3,
        };
        let mut env = Envelope::new(scheme);
        env.action = action.into();
        env.version = version.map(Into::into);
        let req = RawRequest {
            method: axum::http::Method::POST,
            path: "/".into(),
            query: String::new(),
            headers: Default::default(),
            body: Default::default(),
            body_too_large: false,
            host: "127.0.0.1:1".into(),
        };
        (req, env)
    }

    #[test]
    fn resolve_action_and_version() {
        let c = Catalog::load().unwrap();
        let r = |vendor, action, version| {
            let (req, env) = env(vendor, action, version);
            resolve(&c, vendor, &req, &env)
        };
        let op = r(Vendor::Alibaba, "DescribeUserStatus", Some("2019-01-03")).unwrap();
        assert_eq!(op.action(), "DescribeUserStatus");
        assert_eq!(
            r(Vendor::Alibaba, "ModifyUserType", Some("2021-01-25")).unwrap_err(),
            Rejection::UnknownAction("ModifyUserType".into()),
            "actions are looked up per vendor"
        );
        assert!(matches!(
            r(Vendor::Alibaba, "DescribeUserStatus", Some("2020-01-01")),
            Err(Rejection::WrongVersion { .. })
        ));
        assert_eq!(
            r(Vendor::Alibaba, "DescribeUserStatus", None).unwrap_err(),
            Rejection::MissingCommon("Version")
        );
        assert_eq!(
            r(Vendor::Tencent, "ModifyUserType", Some("")).unwrap_err(),
            Rejection::MissingHeader("X-TC-Version")
        );
    }
}
