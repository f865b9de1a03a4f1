//! One gRPC call, start to finish: read metadata, validate, pick credential
//! and endpoint, run the vendor call through the tower stack within the
//! caller's deadline, decode the reply. Generic over every operation.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use prost_reflect::DynamicMessage;
use tokio::time::Instant;
use tower::util::BoxCloneSyncService;
use tower::ServiceExt;
use tracing::{field, Instrument};
use url::Url;

use crate::audit::{audit_params, AuditGuard, AuditLog, AuditRecord};
use crate::auth::Authorizer;
use crate::catalog::{Catalog, Operation};
use crate::config::{valid_region, Config};
use crate::credentials::{CredentialStore, DEFAULT_PROFILE};
use crate::error::{FieldViolation, GatewayError};
use crate::forward::VendorCall;
use crate::metrics as m;
use crate::ratelimit::RateLimiter;
use crate::trace_context::TraceContext;
use crate::translate;
use crate::vendors::{Signer, Target, VendorReply};

/// Metadata key selecting the credential profile.
pub const PROFILE_HEADER: &str = "x-cloud-profile";
/// Metadata key overriding the region.
pub const REGION_HEADER: &str = "x-cloud-region";

/// Longest value accepted for each header cloudgate reads, in bytes: a longer
/// one is refused (INVALID_ARGUMENT naming the header and its length) before
/// anything else, so no error, log or audit line can echo a huge value.
pub const HEADER_LIMITS: &[(&str, usize)] = &[
    (PROFILE_HEADER, 128),
    (REGION_HEADER, 64),
    ("traceparent", 512),
    ("authorization", 4096),
];

/// The headers of `meta` over their [`HEADER_LIMITS`].
pub fn oversized_headers(meta: &tonic::metadata::MetadataMap) -> Vec<FieldViolation> {
    HEADER_LIMITS
        .iter()
        .filter_map(|(name, max)| {
            let len = meta.get(*name)?.as_bytes().len();
            (len > *max).then(|| {
                FieldViolation::new(
                    *name,
                    format!("is {len} bytes long; the most accepted is {max}"),
                )
            })
        })
        .collect()
}

/// When a call's request arrived, before its message was decoded: the
/// caller's deadline counts from here (the first call of a product also
/// builds that product's descriptors while decoding).
#[derive(Debug, Clone, Copy)]
pub struct Arrival(pub std::time::Instant);

/// How much earlier than the caller's deadline the gateway gives up.
pub const DEADLINE_MARGIN: Duration = Duration::from_millis(10);

/// The tower stack a vendor call runs through.
pub type VendorStack = BoxCloneSyncService<VendorCall, VendorReply, GatewayError>;

/// Shared state of the gateway.
pub struct Gateway {
    catalog: Arc<Catalog>,
    config: Arc<Config>,
    credentials: Arc<CredentialStore>,
    stack: VendorStack,
    limiter: Arc<RateLimiter>,
    in_flight: InFlight,
    auth: Option<Arc<Authorizer>>,
    audit: Option<Arc<AuditLog>>,
}

/// Counts calls in progress, so shutdown can wait for exactly those.
#[derive(Default)]
pub struct InFlight {
    count: std::sync::atomic::AtomicUsize,
    idle: tokio::sync::Notify,
}

/// Leaves the in-flight count when dropped.
pub struct InFlightGuard<'a>(&'a InFlight);

impl InFlight {
    fn enter(&self) -> InFlightGuard<'_> {
        self.count.fetch_add(1, Ordering::SeqCst);
        InFlightGuard(self)
    }

    /// Calls in progress.
    pub fn count(&self) -> usize {
        self.count.load(Ordering::SeqCst)
    }

    /// Completes once no call is in progress.
    pub async fn wait_idle(&self) {
        loop {
            let notified = self.idle.notified();
            if self.count() == 0 {
                return;
            }
            notified.await;
        }
    }
}

impl Drop for InFlightGuard<'_> {
    fn drop(&mut self) {
        if self.0.count.fetch_sub(1, Ordering::SeqCst) == 1 {
            self.0.idle.notify_waiters();
        }
    }
}

/// Parses a `grpc-timeout` value ("100m", "5S", ...).
pub fn parse_grpc_timeout(value: &str) -> Option<Duration> {
    if value.len() < 2 || value.len() > 9 {
        return None;
    }
    let (digits, unit) = value.split_at(value.len() - 1);
    let n: u64 = digits.parse().ok()?;
    Some(match unit {
        "H" => Duration::from_secs(n.saturating_mul(3600)),
        "M" => Duration::from_secs(n.saturating_mul(60)),
        "S" => Duration::from_secs(n),
        "m" => Duration::from_millis(n),
        "u" => Duration::from_micros(n),
        "n" => Duration::from_nanos(n),
        _ => return None,
    })
}

fn metadata_text(
    meta: &tonic::metadata::MetadataMap,
    key: &str,
) -> Result<Option<String>, FieldViolation> {
    match meta.get(key) {
        None => Ok(None),
        Some(v) => v
            .to_str()
            .map(|s| Some(s.trim().to_string()))
            .map_err(|_| FieldViolation::new(key, "must be printable ASCII")),
    }
}

/// The asked profile as an audit line writes it: cut short, since it is the
/// caller's text and its length is not checked yet.
pub(crate) fn audited_profile(meta: &tonic::metadata::MetadataMap) -> Option<String> {
    asked_profile(meta).map(|p| crate::error::quote(&p).into_owned())
}

/// The profile a call asks for (`None`: unreadable metadata).
fn asked_profile(meta: &tonic::metadata::MetadataMap) -> Option<String> {
    match metadata_text(meta, PROFILE_HEADER) {
        Ok(Some(p)) if !p.is_empty() => Some(p),
        Ok(_) => Some(DEFAULT_PROFILE.to_string()),
        Err(_) => None,
    }
}

struct CallContext {
    profile: String,
    region: String,
    deadline: Option<Instant>,
}

impl Gateway {
    /// A gateway over a vendor stack.
    pub fn new(
        catalog: Arc<Catalog>,
        config: Arc<Config>,
        credentials: Arc<CredentialStore>,
        stack: VendorStack,
        limiter: Arc<RateLimiter>,
    ) -> Self {
        let auth = config.auth.clone().map(Authorizer::new);
        Self {
            catalog,
            config,
            credentials,
            stack,
            limiter,
            in_flight: InFlight::default(),
            auth,
            audit: None,
        }
    }

    /// Writes an audit line for every call of a mutating operation.
    pub fn with_audit(mut self, audit: Option<Arc<AuditLog>>) -> Self {
        self.audit = audit;
        self
    }

    /// The `[server]` settings.
    pub fn server_settings(&self) -> &crate::config::ServerSettings {
        &self.config.server
    }

    /// Calls in progress.
    pub fn in_flight(&self) -> &InFlight {
        &self.in_flight
    }

    /// The rate limiter (for its counters).
    pub fn limiter(&self) -> &Arc<RateLimiter> {
        &self.limiter
    }

    /// The catalog.
    pub fn catalog(&self) -> &Arc<Catalog> {
        &self.catalog
    }

    /// The caller authorizer, when `[auth]` is configured.
    pub fn authorizer(&self) -> Option<&Arc<Authorizer>> {
        self.auth.as_ref()
    }

    /// The one authorization check of a call: who is calling, and may it call
    /// this method with this profile. Runs before validation, rate limiting
    /// and any vendor call. `Ok(None)` when callers need not authenticate.
    fn authorize<Req>(
        &self,
        op: &Operation,
        request: &tonic::Request<Req>,
    ) -> Result<Option<String>, GatewayError> {
        let Some(auth) = self.auth.as_ref().filter(|a| a.enforced()) else {
            return Ok(None);
        };
        let profile =
            asked_profile(request.metadata()).unwrap_or_else(|| "<unreadable>".to_string());
        let certs = request.peer_certs();
        auth.authorize(
            &op.path,
            &profile,
            request.metadata(),
            certs.as_deref().map(Vec::as_slice),
        )
        .map(Some)
    }

    fn context(
        &self,
        op: &Operation,
        meta: &tonic::metadata::MetadataMap,
        arrived: Instant,
    ) -> Result<CallContext, GatewayError> {
        let mut violations = Vec::new();
        let profile = match metadata_text(meta, PROFILE_HEADER) {
            Ok(Some(p)) if !p.is_empty() => p,
            Ok(_) => DEFAULT_PROFILE.to_string(),
            Err(v) => {
                violations.push(v);
                DEFAULT_PROFILE.to_string()
            }
        };
        let configured = op
            .service
            .configured(&self.config.regions)
            .cloned()
            .unwrap_or_else(|| op.service.rule.default_region.clone());
        let region = match metadata_text(meta, REGION_HEADER) {
            Ok(Some(r)) if !r.is_empty() => {
                if !valid_region(&r) {
                    violations.push(FieldViolation::new(
                        REGION_HEADER,
                        format!("{r:?} is not a region id like cn-hangzhou"),
                    ));
                }
                r
            }
            Ok(_) => configured,
            Err(v) => {
                violations.push(v);
                configured
            }
        };
        let deadline = match meta
            .get("grpc-timeout")
            .map(|v| v.to_str().ok().and_then(parse_grpc_timeout))
        {
            // No deadline from the caller: the configured default bounds the call.
            None => Some(arrived + self.config.server.default_deadline),
            // tonic's transport enforces grpc-timeout too (answering CANCELLED);
            // finish a little earlier so the caller gets DEADLINE_EXCEEDED with details.
            Some(Some(d)) => {
                let d = d.min(self.config.server.max_deadline);
                Some(arrived + d - (d / 10).min(DEADLINE_MARGIN))
            }
            Some(None) => {
                violations.push(FieldViolation::new("grpc-timeout", "is malformed"));
                None
            }
        };
        if !violations.is_empty() {
            return Err(GatewayError::InvalidRequest(violations));
        }
        Ok(CallContext {
            profile,
            region,
            deadline,
        })
    }

    fn target(&self, op: &Operation, region: &str) -> Result<Target, GatewayError> {
        let key = &op.service.rule.endpoint_key;
        let base = match op.service.configured(&self.config.endpoints) {
            Some(url) => url.clone(),
            None => {
                let host = op.service.host_for(region);
                Url::parse(&format!("https://{host}/"))
                    .map_err(|e| GatewayError::Internal(format!("endpoint for {key}: {e}")))?
            }
        };
        // The signature scheme is chosen here, once per call's target.
        let signer = Signer::for_vendor(op.vendor(), self.config.alibaba_signature);
        Ok(Target::new(base, region.to_string(), signer))
    }

    /// Handles one call of any operation: the request decoded with the
    /// operation's input type, the reply encoded from its output type.
    pub async fn handle(
        &self,
        op: Arc<Operation>,
        request: tonic::Request<DynamicMessage>,
    ) -> Result<tonic::Response<DynamicMessage>, tonic::Status> {
        if let Some(reached) = request.extensions().get::<crate::audit::Reached>() {
            reached.mark();
        }
        let trace = TraceContext::from_metadata(request.metadata());
        let span = tracing::info_span!(
            "call",
            method = %op.path,
            trace_id = %trace.trace_id,
            span_id = %trace.span_id,
            parent_id = trace.parent_id.as_deref().map(field::display),
            caller = field::Empty,
            profile = field::Empty,
            region = field::Empty,
            request_id = field::Empty,
            attempts = field::Empty,
            outcome = field::Empty,
        );
        let started = std::time::Instant::now();
        let metrics = m::MethodMetrics::of(&op.path);
        metrics.in_flight.increment(1.0);
        let _in_flight = self.in_flight.enter();
        let attempts = Arc::new(AtomicU32::new(0));
        let mut call = CallState {
            facts: CallFacts::default(),
            audit: self.audit_guard(&op, &request, &trace.trace_id, &attempts),
        };
        let result = self
            .run(&op, request, &attempts, &mut call.facts)
            .instrument(span.clone())
            .await;

        // Everything the call learnt is recorded here, once.
        let facts = &call.facts;
        if let Some(c) = &facts.caller {
            span.record("caller", c.as_str());
        }
        if let Some(p) = &facts.profile {
            span.record("profile", p.as_str());
        }
        if let Some(r) = &facts.region {
            span.record("region", r.as_str());
        }
        let request_id = match &result {
            Ok(_) => facts.request_id.as_deref(),
            Err(e) => e.vendor_request_id(),
        };
        if let Some(id) = request_id {
            span.record("request_id", id);
        }
        let sent = attempts.load(Ordering::Relaxed);
        if sent > 0 {
            span.record("attempts", sent);
        }
        if let Some(guard) = call.take_audit() {
            // Stored before the caller hears back (or, failing that, logged
            // by `finish`: the caller still gets the real result, the vendor
            // has acted).
            let _ = guard.finish(&result).instrument(span.clone()).await;
        }
        metrics.in_flight.decrement(1.0);
        let code = match &result {
            Ok(_) => tonic::Code::Ok,
            Err(e) => e.code(),
        };
        metrics.finished(code, started.elapsed());
        let elapsed_ms = started.elapsed().as_secs_f64() * 1000.0;
        match &result {
            Ok(_) => {
                span.record("outcome", "ok");
                span.in_scope(|| tracing::info!(elapsed_ms, "call ok"));
            }
            Err(e) => {
                span.record("outcome", crate::audit::code_name(code));
                span.in_scope(|| tracing::warn!(elapsed_ms, error = %e, "call failed"));
            }
        }
        result
            .map(tonic::Response::new)
            .map_err(tonic::Status::from)
    }

    /// The audit log, when it is on.
    pub fn audit_log(&self) -> Option<&Arc<AuditLog>> {
        self.audit.as_ref()
    }

    /// The audit line of a call of a mutating operation (when the log is on).
    fn audit_guard<Req>(
        &self,
        op: &Operation,
        request: &tonic::Request<Req>,
        trace_id: &str,
        attempts: &Arc<AtomicU32>,
    ) -> Option<AuditGuard> {
        let log = self.audit.as_ref().filter(|_| op.rule.mutating)?;
        let peer = request.remote_addr().map(|a| a.to_string());
        let mut record = AuditRecord::start(op, trace_id, peer);
        // The profile asked for, even if the call is refused before it is checked.
        record.profile = audited_profile(request.metadata());
        Some(AuditGuard::new(log.clone(), record, attempts.clone()))
    }

    async fn run(
        &self,
        op: &Arc<Operation>,
        request: tonic::Request<DynamicMessage>,
        attempts: &Arc<AtomicU32>,
        facts: &mut CallFacts,
    ) -> Result<DynamicMessage, GatewayError> {
        if self.audit.is_some() && op.rule.mutating {
            // What was asked, even if the caller may not ask it.
            facts.params = Some(audit_params(&self.catalog, op, request.get_ref()));
        }
        let oversized = oversized_headers(request.metadata());
        if !oversized.is_empty() {
            return Err(GatewayError::InvalidRequest(oversized));
        }
        facts.caller = match self.authorize(op, &request) {
            Ok(c) => c,
            Err(e) => {
                if let GatewayError::PermissionDenied { caller, .. } = &e {
                    facts.caller = Some(caller.clone());
                }
                return Err(e);
            }
        };
        let arrived = request
            .extensions()
            .get::<Arrival>()
            .map_or_else(Instant::now, |a| Instant::from_std(a.0));
        let ctx = self.context(op, request.metadata(), arrived)?;
        facts.profile = Some(ctx.profile.clone());
        facts.region = Some(ctx.region.clone());
        let mut message = request.into_inner();
        if let Some(token) = op.idempotency_token() {
            // The same token on every retry of this call: the vendor
            // de-duplicates, so an ambiguous failure can be retried.
            if !message.has_field(&token.field) {
                message.set_field(
                    &token.field,
                    prost_reflect::Value::String(uuid::Uuid::new_v4().to_string()),
                );
            }
        }
        let params = translate::encode_request(&self.catalog, op, &message)
            .map_err(GatewayError::InvalidRequest)?;
        if !self.credentials.has_profile(&ctx.profile) {
            return Err(GatewayError::UnknownProfile(ctx.profile));
        }
        if op.rule.mutating {
            if let Some(why) = self.audit.as_ref().and_then(|a| a.failing()) {
                return Err(GatewayError::AuditUnavailable(why));
            }
        }
        let credential = self.credentials.get(&ctx.profile, op.vendor()).await?;
        let target = self.target(op, &ctx.region)?;
        let call = VendorCall {
            op: op.clone(),
            params: Arc::new(params),
            credential: credential.clone(),
            profile: ctx.profile.clone().into(),
            caller: facts.caller.clone().map(Into::into),
            target: Arc::new(target),
            deadline: ctx.deadline,
            attempts: attempts.clone(),
        };
        let host = call.target.host.clone();
        let reply = match self
            .dispatch(op, call.clone(), ctx.deadline, attempts)
            .await
        {
            // Refused before execution: drop the credential, fetch a fresh one, try once more.
            Err(e)
                if e.credential_rejected()
                    && self
                        .credentials
                        .renew(&ctx.profile, op.vendor(), &credential) =>
            {
                tracing::info!(error = %e, "credential rejected; retrying once with a fresh one");
                let credential = self.credentials.get(&ctx.profile, op.vendor()).await?;
                let retry = VendorCall { credential, ..call };
                self.dispatch(op, retry, ctx.deadline, attempts).await
            }
            r => r,
        };
        let reply = reply?;
        facts.request_id = Some(reply.request_id.clone()).filter(|id| !id.is_empty());
        translate::decode_response(&self.catalog, &op.output(), &reply.payload).map_err(|reason| {
            GatewayError::BadVendorResponse {
                host,
                http_status: reply.http_status,
                request_id: reply.request_id.clone(),
                reason: format!(
                    "the vendor reported success but its reply does not decode: {reason}"
                ),
                outcome: None,
            }
        })
    }

    /// Runs one call through the vendor stack within its deadline.
    async fn dispatch(
        &self,
        op: &Operation,
        call: VendorCall,
        deadline: Option<Instant>,
        attempts: &AtomicU32,
    ) -> Result<VendorReply, GatewayError> {
        let fut = self.stack.clone().oneshot(call);
        let Some(deadline) = deadline else {
            return fut.await;
        };
        match tokio::time::timeout_at(deadline, fut).await {
            Ok(r) => r,
            Err(_) => {
                let sent = attempts.load(Ordering::Relaxed) > 0;
                Err(GatewayError::DeadlineExceeded {
                    stage: if sent {
                        "waiting for the vendor"
                    } else {
                        "before the vendor call"
                    },
                    outcome: (op.rule.mutating && sent).then_some(crate::error::Outcome::Unknown),
                })
            }
        }
    }
}

/// What a call learnt on its way, recorded once when it ends (span, audit).
#[derive(Debug, Default)]
struct CallFacts {
    caller: Option<String>,
    profile: Option<String>,
    region: Option<String>,
    request_id: Option<String>,
    params: Option<serde_json::Value>,
}

/// The facts and the audit line of a call in progress; if the call is
/// dropped (the caller went away), the line is written with what was known.
struct CallState {
    facts: CallFacts,
    audit: Option<AuditGuard>,
}

impl CallState {
    fn apply(&mut self) {
        if let Some(guard) = self.audit.as_mut() {
            let r = guard.record();
            let f = &self.facts;
            if f.caller.is_some() {
                r.caller = f.caller.clone();
            }
            if f.profile.is_some() {
                r.profile = f.profile.clone();
            }
            r.region = f.region.clone();
            r.params = f.params.clone();
            r.vendor_request_id = f.request_id.clone();
        }
    }

    fn take_audit(&mut self) -> Option<AuditGuard> {
        self.apply();
        self.audit.take()
    }
}

impl Drop for CallState {
    fn drop(&mut self) {
        self.apply();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grpc_timeout_values() {
        assert_eq!(parse_grpc_timeout("100m"), Some(Duration::from_millis(100)));
        assert_eq!(parse_grpc_timeout("5S"), Some(Duration::from_secs(5)));
        assert_eq!(parse_grpc_timeout("2H"), Some(Duration::from_secs(7200)));
        assert_eq!(
            parse_grpc_timeout("99999999u"),
            Some(Duration::from_micros(99_999_999))
        );
        for bad in ["", "m", "10", "10x", "-1S", "1234567890S"] {
            assert_eq!(parse_grpc_timeout(bad), None, "{bad}");
        }
    }
}
