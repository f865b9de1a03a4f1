//! The gateway's error type and its one mapping to `tonic::Status` with rich
//! `google.rpc` details (ErrorInfo, BadRequest, RetryInfo) and the vendor's
//! full error as `cloudgate.v1.VendorError`.

use std::time::Duration;

use prost::Message;
use tonic::Code;
use tonic_types::pb;

use crate::catalog::ErrorClass;
use crate::pb::cloudgate::v1::VendorError;

/// `google.rpc.ErrorInfo.domain` for errors raised by the gateway itself.
pub const GATEWAY_DOMAIN: &str = "cloudgate";

/// One invalid request field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldViolation {
    /// The proto field name (or metadata key) at fault.
    pub field: String,
    /// Why it is rejected.
    pub description: String,
}

impl FieldViolation {
    /// A violation of `field`.
    pub fn new(field: impl Into<String>, description: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            description: description.into(),
        }
    }
}

/// Longest caller-supplied value quoted whole in an error, log or audit line
/// (characters); longer ones are cut, so error trailers stay small whatever
/// the caller sent.
pub const MAX_QUOTED_CHARS: usize = 64;

/// A caller-supplied value as errors, logs and audit lines quote it: whole
/// when short, else its first [`MAX_QUOTED_CHARS`] characters and its length,
/// `abc…(6000 chars)`.
pub fn quote(value: &str) -> std::borrow::Cow<'_, str> {
    match value.char_indices().nth(MAX_QUOTED_CHARS) {
        None => std::borrow::Cow::Borrowed(value),
        Some((cut, _)) => std::borrow::Cow::Owned(format!(
            "{}…({} chars)",
            &value[..cut],
            value.chars().count()
        )),
    }
}

/// Whether a failed call may have taken effect at the vendor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The request never left the gateway (or the vendor refused it before executing).
    NotExecuted,
    /// The request was sent and no usable answer came back: it may have taken effect.
    Unknown,
}

impl Outcome {
    fn as_str(self) -> &'static str {
        match self {
            Outcome::NotExecuted => "not_executed",
            Outcome::Unknown => "unknown",
        }
    }
}

/// A vendor's error reply, classified by the catalog.
#[derive(Debug, Clone)]
pub struct VendorFailure {
    /// The vendor's full error, as sent to the caller in the details.
    pub detail: VendorError,
    /// The gRPC code from the catalog (or the fallback classification).
    pub code: Code,
    /// The failure class.
    pub class: ErrorClass,
    /// The vendor's back-off hint, when it sent one.
    pub retry_after: Option<Duration>,
    /// Whether the operation changes state at the vendor.
    pub mutating: bool,
}

impl VendorFailure {
    /// Whether a mutating call that failed this way may still have taken effect.
    pub fn outcome(&self) -> Option<Outcome> {
        if !self.mutating {
            return None;
        }
        match self.class {
            ErrorClass::Unknown => Some(Outcome::Unknown),
            _ => Some(Outcome::NotExecuted),
        }
    }
}

/// Vendor codes that reject the signing credential as expired (Alibaba
/// `InvalidSecurityToken.Expired`, Tencent `AuthFailure.TokenFailure`) or the
/// request time as skewed (`InvalidTimeStamp.Expired`, `AuthFailure.SignatureExpire`).
pub const CREDENTIAL_REJECTED: &[&str] = &[
    "InvalidSecurityToken.Expired",
    "AuthFailure.TokenFailure",
    "InvalidTimeStamp.Expired",
    "AuthFailure.SignatureExpire",
];

/// Everything that can make a call fail.
#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    /// Local validation failed; nothing was sent.
    #[error("invalid request: {}", describe(.0))]
    InvalidRequest(Vec<FieldViolation>),
    /// The call's metadata names a profile the config does not declare.
    #[error("unknown credential profile {0:?} (x-cloud-profile)")]
    UnknownProfile(String),
    /// No usable credential for the profile and vendor.
    #[error("credentials for profile {profile:?} ({vendor}) are unavailable: {cause}")]
    CredentialsUnavailable {
        /// The profile.
        profile: String,
        /// The vendor.
        vendor: &'static str,
        /// Why (never the secret itself).
        cause: String,
    },
    /// The gateway's own rate limit refused the call; nothing was sent.
    #[error("rate limit {limit_key} ({qps:.2}/s): {reason}; retry in {retry_after:?}")]
    RateLimited {
        /// The limit, e.g. `Sddp.DescribeUserStatus@profile:default`.
        limit_key: String,
        /// The admitted rate of that limit.
        qps: f64,
        /// Why: waited too long, too many waiting, deadline too close.
        reason: &'static str,
        /// When a call could be admitted.
        retry_after: Duration,
    },
    /// The vendor answered with an error.
    #[error("{} {} failed: {}: {}", .0.detail.vendor, .0.detail.action, .0.detail.code, .0.detail.message)]
    Vendor(Box<VendorFailure>),
    /// The vendor could not be reached or the connection failed.
    #[error("calling {host} failed: {cause}")]
    Transport {
        /// Vendor host.
        host: String,
        /// What failed.
        cause: String,
        /// Whether the call may have taken effect.
        outcome: Outcome,
        /// Whether the operation changes state.
        mutating: bool,
    },
    /// The caller's deadline passed.
    #[error("deadline exceeded {stage}")]
    DeadlineExceeded {
        /// Where the deadline hit ("before the vendor call", "waiting for the vendor").
        stage: &'static str,
        /// Whether the call may have taken effect (mutating calls already sent).
        outcome: Option<Outcome>,
    },
    /// The vendor answered with something that is not a valid reply.
    #[error("unexpected reply from {host} (HTTP {http_status}): {reason}")]
    BadVendorResponse {
        /// Vendor host.
        host: String,
        /// HTTP status.
        http_status: u16,
        /// Vendor request id, if one could be read.
        request_id: String,
        /// What is wrong with it.
        reason: String,
        /// Whether the call may have taken effect.
        outcome: Option<Outcome>,
    },
    /// The caller is not authenticated (no or unknown client certificate or token).
    #[error("unauthenticated: {0}")]
    Unauthenticated(String),
    /// The caller may not call this method or use this profile.
    #[error("caller {caller:?} may not {what}")]
    PermissionDenied {
        /// The caller's configured name.
        caller: String,
        /// The gRPC method.
        method: String,
        /// The profile, when it is the profile that is not allowed.
        profile: Option<String>,
        /// What was refused, e.g. `call /pkg.Service/Method`.
        what: String,
    },
    /// The audit log cannot be written, so mutating calls are refused
    /// before they reach the vendor.
    #[error("the audit log cannot be written ({0}); mutating calls are refused until it can")]
    AuditUnavailable(String),
    /// A bug or misconfiguration inside the gateway.
    #[error("internal error: {0}")]
    Internal(String),
}

pub(crate) fn describe(v: &[FieldViolation]) -> String {
    v.iter()
        .map(|v| format!("{}: {}", v.field, v.description))
        .collect::<Vec<_>>()
        .join("; ")
}

fn any<M: Message>(type_name: &str, msg: &M) -> prost_types::Any {
    prost_types::Any {
        type_url: format!("type.googleapis.com/{type_name}"),
        value: msg.encode_to_vec(),
    }
}

fn error_info(reason: &str, domain: &str, metadata: Vec<(&str, String)>) -> prost_types::Any {
    any(
        "google.rpc.ErrorInfo",
        &pb::ErrorInfo {
            reason: reason.to_string(),
            domain: domain.to_string(),
            metadata: metadata
                .into_iter()
                .filter(|(_, v)| !v.is_empty())
                .map(|(k, v)| (k.to_string(), v))
                .collect(),
        },
    )
}

fn bad_request(violations: &[FieldViolation]) -> prost_types::Any {
    let bad = pb::BadRequest {
        field_violations: violations
            .iter()
            .map(|v| pb::bad_request::FieldViolation {
                field: v.field.clone(),
                description: v.description.clone(),
                ..Default::default()
            })
            .collect(),
    };
    any("google.rpc.BadRequest", &bad)
}

fn retry_info(delay: Duration) -> prost_types::Any {
    any(
        "google.rpc.RetryInfo",
        &pb::RetryInfo {
            retry_delay: Some(prost_types::Duration {
                seconds: delay.as_secs() as i64,
                nanos: delay.subsec_nanos() as i32,
            }),
        },
    )
}

fn status(code: Code, message: String, details: Vec<prost_types::Any>) -> tonic::Status {
    let body = pb::Status {
        code: code as i32,
        message: message.clone(),
        details,
    };
    tonic::Status::with_details(code, message, body.encode_to_vec().into())
}

impl GatewayError {
    /// The gRPC code the caller receives.
    pub fn code(&self) -> Code {
        match self {
            GatewayError::InvalidRequest(_) | GatewayError::UnknownProfile(_) => {
                Code::InvalidArgument
            }
            GatewayError::CredentialsUnavailable { .. }
            | GatewayError::Transport { .. }
            | GatewayError::AuditUnavailable(_) => Code::Unavailable,
            GatewayError::Vendor(f) => f.code,
            GatewayError::RateLimited { .. } => Code::ResourceExhausted,
            GatewayError::Unauthenticated(_) => Code::Unauthenticated,
            GatewayError::PermissionDenied { .. } => Code::PermissionDenied,
            GatewayError::DeadlineExceeded { .. } => Code::DeadlineExceeded,
            GatewayError::BadVendorResponse { http_status, .. } if *http_status >= 500 => {
                Code::Unavailable
            }
            GatewayError::BadVendorResponse { .. } | GatewayError::Internal(_) => Code::Internal,
        }
    }

    /// Whether the failed call may have taken effect at the vendor (`None`
    /// when the error says nothing about it).
    pub fn outcome(&self) -> Option<Outcome> {
        match self {
            GatewayError::Vendor(f) => f.outcome(),
            GatewayError::Transport { outcome, .. } => Some(*outcome),
            GatewayError::DeadlineExceeded { outcome, .. }
            | GatewayError::BadVendorResponse { outcome, .. } => *outcome,
            _ => None,
        }
    }

    /// Whether the vendor refused the credential itself as expired, or the
    /// request's time as skewed ([`CREDENTIAL_REJECTED`]): refused before
    /// anything was executed, so a fresh credential may be tried once.
    pub fn credential_rejected(&self) -> bool {
        matches!(self, GatewayError::Vendor(f) if CREDENTIAL_REJECTED.contains(&f.detail.code.as_str()))
    }

    /// The vendor's request id, when the vendor answered.
    pub fn vendor_request_id(&self) -> Option<&str> {
        match self {
            GatewayError::Vendor(f) => Some(f.detail.request_id.as_str()),
            GatewayError::BadVendorResponse { request_id, .. } => Some(request_id.as_str()),
            _ => None,
        }
        .filter(|id| !id.is_empty())
    }
}

/// Default back-off hint for vendor throttling without a vendor hint.
pub const DEFAULT_THROTTLE_RETRY: Duration = Duration::from_secs(1);

impl From<GatewayError> for tonic::Status {
    fn from(err: GatewayError) -> Self {
        let message = err.to_string();
        let code = err.code();
        match err {
            GatewayError::InvalidRequest(violations) => status(
                code,
                message,
                vec![
                    error_info("INVALID_REQUEST", GATEWAY_DOMAIN, vec![]),
                    bad_request(&violations),
                ],
            ),
            GatewayError::UnknownProfile(profile) => {
                let bad = bad_request(&[FieldViolation::new(
                    "x-cloud-profile",
                    format!("no profile named {profile:?} is configured"),
                )]);
                status(
                    code,
                    message,
                    vec![
                        error_info(
                            "UNKNOWN_PROFILE",
                            GATEWAY_DOMAIN,
                            vec![("profile", profile)],
                        ),
                        bad,
                    ],
                )
            }
            GatewayError::Unauthenticated(_) => status(
                code,
                message,
                vec![error_info("UNAUTHENTICATED", GATEWAY_DOMAIN, vec![])],
            ),
            GatewayError::PermissionDenied {
                caller,
                method,
                profile,
                ..
            } => status(
                code,
                message,
                vec![error_info(
                    "PERMISSION_DENIED",
                    GATEWAY_DOMAIN,
                    vec![
                        ("caller", caller),
                        ("method", method),
                        ("profile", profile.unwrap_or_default()),
                    ],
                )],
            ),
            GatewayError::CredentialsUnavailable {
                profile, vendor, ..
            } => status(
                code,
                message,
                vec![error_info(
                    "CREDENTIALS_UNAVAILABLE",
                    GATEWAY_DOMAIN,
                    vec![("profile", profile), ("vendor", vendor.to_string())],
                )],
            ),
            GatewayError::RateLimited {
                limit_key,
                qps,
                reason,
                retry_after,
            } => {
                let quota = pb::QuotaFailure {
                    violations: vec![pb::quota_failure::Violation {
                        subject: limit_key.clone(),
                        description: format!("{qps:.2} calls/s: {reason}"),
                        ..Default::default()
                    }],
                };
                status(
                    code,
                    message,
                    vec![
                        error_info(
                            "RATE_LIMITED",
                            GATEWAY_DOMAIN,
                            vec![
                                ("limit", limit_key),
                                ("outcome", Outcome::NotExecuted.as_str().into()),
                            ],
                        ),
                        retry_info(retry_after),
                        any("google.rpc.QuotaFailure", &quota),
                    ],
                )
            }
            GatewayError::Vendor(failure) => {
                let d = &failure.detail;
                let mut meta = vec![
                    ("request_id", d.request_id.clone()),
                    ("http_status", d.http_status.to_string()),
                    ("action", d.action.clone()),
                    ("vendor", d.vendor.clone()),
                ];
                if let Some(outcome) = failure.outcome() {
                    meta.push(("outcome", outcome.as_str().to_string()));
                }
                let mut details = vec![error_info(&d.code, &d.host, meta)];
                if failure.class == ErrorClass::Throttled {
                    details.push(retry_info(
                        failure.retry_after.unwrap_or(DEFAULT_THROTTLE_RETRY),
                    ));
                }
                details.push(any("cloudgate.v1.VendorError", d));
                status(code, message, details)
            }
            GatewayError::Transport {
                host,
                outcome,
                mutating,
                ..
            } => {
                let mut meta = vec![("outcome", outcome.as_str().to_string())];
                if mutating && outcome == Outcome::Unknown {
                    meta.push((
                        "note",
                        "the request was sent; it may or may not have taken effect".into(),
                    ));
                }
                status(
                    code,
                    message,
                    vec![error_info("VENDOR_UNREACHABLE", &host, meta)],
                )
            }
            GatewayError::DeadlineExceeded { outcome, .. } => {
                let meta = outcome
                    .map(|o| vec![("outcome", o.as_str().to_string())])
                    .unwrap_or_default();
                status(
                    code,
                    message,
                    vec![error_info("DEADLINE_EXCEEDED", GATEWAY_DOMAIN, meta)],
                )
            }
            GatewayError::BadVendorResponse {
                host,
                http_status,
                request_id,
                outcome,
                ..
            } => {
                let mut meta = vec![
                    ("request_id", request_id),
                    ("http_status", http_status.to_string()),
                ];
                if let Some(o) = outcome {
                    meta.push(("outcome", o.as_str().to_string()));
                }
                status(
                    code,
                    message,
                    vec![error_info("BAD_VENDOR_RESPONSE", &host, meta)],
                )
            }
            GatewayError::AuditUnavailable(_) => status(
                code,
                message,
                vec![
                    error_info(
                        "AUDIT_LOG_UNAVAILABLE",
                        GATEWAY_DOMAIN,
                        vec![("outcome", Outcome::NotExecuted.as_str().into())],
                    ),
                    retry_info(Duration::from_secs(1)),
                ],
            ),
            GatewayError::Internal(_) => status(
                code,
                message,
                vec![error_info("INTERNAL", GATEWAY_DOMAIN, vec![])],
            ),
        }
    }
}

/// Maps a catalog `GrpcCode` to tonic's.
/// The gRPC code of a vendor error class (when the catalog names no code).
pub fn code_for_class(class: ErrorClass) -> Code {
    match class {
        ErrorClass::InvalidRequest => Code::InvalidArgument,
        ErrorClass::Auth => Code::PermissionDenied,
        ErrorClass::NotFound => Code::NotFound,
        ErrorClass::Throttled => Code::ResourceExhausted,
        ErrorClass::Transient | ErrorClass::Unknown => Code::Unavailable,
        ErrorClass::State => Code::FailedPrecondition,
        ErrorClass::Unspecified => Code::Unknown,
    }
}

/// The gRPC code the catalog names.
pub fn grpc_code(code: crate::catalog::GrpcCode) -> Code {
    Code::from_i32(code as i32)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tonic_types::StatusExt;

    fn vendor_failure(class: ErrorClass, code: Code, mutating: bool) -> GatewayError {
        GatewayError::Vendor(Box::new(VendorFailure {
            detail: VendorError {
                vendor: "alibaba".into(),
                code: "Throttling.User".into(),
                message: "Request was denied due to user flow control.".into(),
                request_id: "REQ-1".into(),
                http_status: 400,
                host: "sddp.cn-zhangjiakou.aliyuncs.com".into(),
                action: "DescribeUserStatus".into(),
                ..Default::default()
            },
            code,
            class,
            retry_after: Some(Duration::from_millis(1500)),
            mutating,
        }))
    }

    #[test]
    fn throttling_carries_error_info_retry_info_and_vendor_error() {
        let st: tonic::Status =
            vendor_failure(ErrorClass::Throttled, Code::ResourceExhausted, false).into();
        assert_eq!(st.code(), Code::ResourceExhausted);
        let d = st.get_error_details();
        let info = d.error_info().unwrap();
        assert_eq!(info.reason, "Throttling.User");
        assert_eq!(info.domain, "sddp.cn-zhangjiakou.aliyuncs.com");
        assert_eq!(info.metadata["request_id"], "REQ-1");
        assert_eq!(info.metadata["http_status"], "400");
        assert!(!info.metadata.contains_key("outcome"));
        assert_eq!(
            d.retry_info().unwrap().retry_delay,
            Some(Duration::from_millis(1500))
        );
        let raw = pb::Status::decode(st.details()).unwrap();
        let vendor = raw
            .details
            .iter()
            .find(|a| a.type_url.ends_with("cloudgate.v1.VendorError"))
            .unwrap();
        let ve = VendorError::decode(vendor.value.as_slice()).unwrap();
        assert_eq!(ve.message, "Request was denied due to user flow control.");
    }

    #[test]
    fn unknown_class_on_a_mutating_call_says_outcome_unknown() {
        let st: tonic::Status = vendor_failure(ErrorClass::Unknown, Code::Unavailable, true).into();
        let info = st.get_error_details().error_info().unwrap().clone();
        assert_eq!(info.metadata["outcome"], "unknown");
        assert!(st.get_error_details().retry_info().is_none());
    }

    #[test]
    fn validation_errors_name_every_field() {
        let st: tonic::Status = GatewayError::InvalidRequest(vec![
            FieldViolation::new("status", "is required"),
            FieldViolation::new("business_type", "must be one of FREEZE, TRUSTEESHIP"),
        ])
        .into();
        assert_eq!(st.code(), Code::InvalidArgument);
        assert!(st.message().contains("status: is required"));
        let bad = st.get_error_details().bad_request().unwrap().clone();
        let fields: Vec<_> = bad
            .field_violations
            .iter()
            .map(|v| v.field.as_str())
            .collect();
        assert_eq!(fields, ["status", "business_type"]);
    }

    #[test]
    fn transport_failure_after_sending_is_unavailable_with_unknown_outcome() {
        let st: tonic::Status = GatewayError::Transport {
            host: "business.aliyuncs.com".into(),
            cause: "connection reset".into(),
            outcome: Outcome::Unknown,
            mutating: true,
        }
        .into();
        assert_eq!(st.code(), Code::Unavailable);
        let info = st.get_error_details().error_info().unwrap().clone();
        assert_eq!(info.metadata["outcome"], "unknown");
    }
}
