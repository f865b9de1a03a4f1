//! Alibaba Cloud behaviour shared by RPC v1 and ACS3: timestamps and nonces, the mapping of
//! rejections to Alibaba codes and HTTP statuses, and the response bodies.

use std::time::Duration;

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, NaiveDateTime, Utc};
use serde_json::{json, Value};

use crate::catalog::{Catalog, Operation};

use super::auth;
use super::rejection::{Rejection, VendorError};
use super::request::Clock;
use super::Emulator;

/// Largest accepted distance between the request timestamp and the server clock.
pub(crate) const MAX_SKEW_SECS: i64 = 15 * 60;

/// Content type of every Alibaba answer.
pub(crate) const CONTENT_TYPE: &str = "application/json;charset=utf-8";

/// Parses `yyyy-MM-ddTHH:mm:ssZ` (also with fractional seconds, or any RFC 3339 offset).
pub(crate) fn parse_timestamp(s: &str) -> Option<DateTime<Utc>> {
    if let Ok(t) = NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%SZ") {
        return Some(t.and_utc());
    }
    DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// Checks format and skew; returns the skew (request minus server time, seconds).
pub(crate) fn check_timestamp(value: &str, clock: &Clock) -> Result<i64, Rejection> {
    let t = parse_timestamp(value).ok_or_else(|| Rejection::TimestampFormat(value.to_string()))?;
    let skew = (t - clock.wall).num_seconds();
    auth::check_skew(value, skew, MAX_SKEW_SECS)?;
    Ok(skew)
}

/// Marks the nonce used by `key_id`. It is remembered until the request timestamp leaves
/// the accepted window (so a replay can never pass the timestamp check either).
pub(crate) fn use_nonce(
    emu: &Emulator,
    key_id: &str,
    nonce: &str,
    skew_secs: i64,
    clock: &Clock,
) -> Result<(), Rejection> {
    let remember = (MAX_SKEW_SECS + skew_secs).clamp(0, 2 * MAX_SKEW_SECS) as u64;
    let expires_at = clock.mono + Duration::from_secs(remember);
    if emu.state.use_nonce(key_id, nonce, clock.mono, expires_at) {
        Ok(())
    } else {
        Err(Rejection::NonceUsed)
    }
}

/// The Alibaba code, HTTP status and message of a rejection.
pub(crate) fn map(rej: &Rejection, catalog: &Catalog, op: Option<&Operation>) -> VendorError {
    use Rejection as R;
    fn e(status: u16, code: impl Into<String>, message: impl Into<String>) -> VendorError {
        VendorError::new(status, code, message)
    }
    match rej {
        R::Method(m) => e(
            400,
            "UnsupportedHTTPMethod",
            format!("This http method {m} is not supported."),
        ),
        R::BodyTooLarge => e(400, "InvalidParameter", "The request body is too large."),
        R::MissingCommon(name) => e(
            400,
            format!("Missing{name}"),
            format!("{name} is mandatory for this action."),
        ),
        R::MissingHeader(name) => e(
            400,
            "MissingParameter",
            format!("The header {name} is mandatory for this action."),
        ),
        R::Malformed { what, reason } => e(
            400,
            "InvalidParameter",
            format!("The specified {what} is not valid: {reason}."),
        ),
        R::UnknownKey => e(
            404,
            "InvalidAccessKeyId.NotFound",
            "Specified access key is not found.",
        ),
        R::IncompleteSignature(reason) => e(
            400,
            "IncompleteSignature",
            format!("The request signature does not conform to Aliyun standards: {reason}."),
        ),
        R::SignatureMethod(what) => e(
            400,
            "InvalidSignatureMethod",
            format!("Specified signature method is not supported: {what}."),
        ),
        R::SignatureMismatch {
            string_to_sign,
            detail,
        } => {
            let detail = detail
                .as_deref()
                .map(|d| format!(" {d}."))
                .unwrap_or_default();
            e(
                400,
                "SignatureDoesNotMatch",
                format!("Specified signature is not matched with our calculation.{detail} server string to sign is:{string_to_sign}"),
            )
        }
        R::MissingToken => e(
            400,
            "MissingSecurityToken",
            "SecurityToken is mandatory for this AccessKey.",
        ),
        R::WrongToken => e(
            400,
            "InvalidSecurityToken.MismatchWithAccessKey",
            "Specified SecurityToken mismatch with the AccessKey.",
        ),
        R::TokenExpired => e(
            400,
            "InvalidSecurityToken.Expired",
            "Specified SecurityToken is expired.",
        ),
        R::TimestampFormat(_) => e(
            400,
            "InvalidTimeStamp.Format",
            "Specified time stamp or date value is not well formatted.",
        ),
        R::TimestampExpired { .. } => e(
            400,
            "InvalidTimeStamp.Expired",
            "Specified time stamp or date value is expired.",
        ),
        R::NonceUsed => e(
            400,
            "SignatureNonceUsed",
            "Specified signature nonce was used already.",
        ),
        R::UnknownAction(_) => e(
            404,
            "InvalidAction.NotFound",
            "Specified api is not found, please check your url and method.",
        ),
        R::WrongVersion { .. } => e(
            400,
            "InvalidVersion",
            "Specified parameter Version is not valid.",
        ),
        R::MissingParameter(name) => e(
            400,
            format!("Missing{name}"),
            format!("{name} is mandatory for this action."),
        ),
        R::InvalidParameter {
            name,
            field,
            reason,
            ..
        } => {
            // A documented operation-specific code (`Invalid<Field>`) wins over the generic one.
            let specific = format!("Invalid{field}");
            let code = if op.is_some_and(|op| op.rule.errors.iter().any(|d| d.code == specific)) {
                specific
            } else {
                "InvalidParameter".to_string()
            };
            e(
                400,
                code,
                format!("The specified parameter {name} is not valid: {reason}."),
            )
        }
        R::WrongType { name, expected } => e(
            400,
            "InvalidParameter",
            format!("The specified parameter {name} is not valid: it must be {expected}."),
        ),
        R::UnknownParameter(name) => e(
            400,
            "InvalidParameter",
            format!("The parameter {name} is not recognized."),
        ),
        R::Throttled { .. } => e(
            400,
            "Throttling.User",
            "Request was denied due to user flow control.",
        ),
        R::Injected {
            code,
            http_status,
            message,
        } => {
            let documented = op.and_then(|op| catalog.error(op, code));
            let status = http_status
                .or_else(|| {
                    documented
                        .and_then(|d| u16::try_from(d.http_status).ok())
                        .filter(|s| *s > 0)
                })
                .unwrap_or(400);
            let message = message
                .clone()
                .or_else(|| {
                    documented
                        .map(|d| d.meaning.clone())
                        .filter(|m| !m.is_empty())
                })
                .unwrap_or_else(|| "The request failed (injected fault).".to_string());
            e(status, code.clone(), message)
        }
        R::InjectedStatus(status) => status_error(*status),
    }
}

/// The body Alibaba's gateway sends with a bare HTTP 5xx.
fn status_error(status: u16) -> VendorError {
    if status == 503 {
        VendorError::new(
            status,
            "ServiceUnavailable",
            "The request has failed due to a temporary failure of the server.",
        )
    } else {
        VendorError::new(
            status,
            "InternalError",
            "The request processing has failed due to some unknown error, exception or failure.",
        )
    }
}

/// A fresh Alibaba request id (uppercase UUID).
pub(crate) fn request_id() -> String {
    uuid::Uuid::new_v4().to_string().to_uppercase()
}

/// The error response. A documented HTTP 200 failure (BSS `-116`) uses the BSS body shape
/// (`Success: false`), everything else the gateway shape.
pub(crate) fn error_response(err: &VendorError, host: &str, op: Option<&Operation>) -> Response {
    let id = request_id();
    let body = if err.status == 200 {
        json!({"RequestId": id, "Code": err.code, "Message": err.message, "Success": false})
    } else {
        let product = op.map(|op| op.service.rule.product.as_str()).unwrap_or("");
        let recommend = format!(
            "https://api.aliyun.com/troubleshoot?q={}&product={}&requestId={id}",
            percent_encoding::utf8_percent_encode(&err.code, percent_encoding::NON_ALPHANUMERIC),
            product
        );
        json!({"RequestId": id, "HostId": host, "Code": err.code, "Message": err.message, "Recommend": recommend})
    };
    json_response(err.status, &body)
}

/// The success response: the documented sample body (or one synthesized
/// from the output message) with a fresh `RequestId`.
pub(crate) fn success_response(catalog: &Catalog, op: &Operation) -> Response {
    let mut body = super::sample::reply_body(catalog, op, false);
    body["RequestId"] = Value::String(request_id());
    json_response(200, &body)
}

pub(crate) fn json_response(status: u16, body: &Value) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut resp = (status, body.to_string()).into_response();
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE));
    resp
}

/// The answer to a request that names no action in any scheme.
pub(crate) fn no_action_response(host: &str) -> Response {
    let err = VendorError::new(
        400,
        "MissingAction",
        "Action is mandatory for this request.",
    );
    error_response(&err, host, None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_in_both_forms_and_garbage() {
        let t = parse_timestamp("2025-01-15T08:30:45Z").unwrap();
        assert_eq!(t.timestamp(), 1_736_929_845);
        assert_eq!(
            parse_timestamp("2025-01-15T08:30:45.123Z")
                .unwrap()
                .timestamp(),
            1_736_929_845
        );
        assert_eq!(parse_timestamp("2025-01-15T16:30:45+08:00").unwrap(), t);
        for bad in [
            "",
            "2025-01-15",
            "2025-13-15T08:30:45Z",
            "now",
            "2025-01-15 08:30:45",
        ] {
            assert!(parse_timestamp(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn codes_and_statuses() {
        let c = Catalog::load().unwrap();
        let srus = c
            .by_action(crate::catalog::Vendor::Alibaba, "SetResellerUserStatus")
            .unwrap();
        let m = |r: Rejection| map(&r, &c, Some(srus));
        assert_eq!(m(Rejection::UnknownKey).status, 404);
        assert_eq!(
            m(Rejection::MissingParameter("OwnerId".into())).code,
            "MissingOwnerId"
        );
        assert_eq!(
            m(Rejection::MissingParameter("OwnerId".into())).message,
            "OwnerId is mandatory for this action."
        );
        let sig = m(Rejection::SignatureMismatch {
            string_to_sign: "POST&%2F&x".into(),
            detail: None,
        });
        assert!(sig.message.ends_with(":POST&%2F&x"), "{}", sig.message);
        let t = m(Rejection::Throttled { limit: 10 });
        assert_eq!((t.status, t.code.as_str()), (400, "Throttling.User"));
        // Injected codes take their documented status and meaning.
        let inj = |code: &str, status: Option<u16>| {
            m(Rejection::Injected {
                code: code.into(),
                http_status: status,
                message: None,
            })
        };
        assert_eq!(inj("UndefinedError", None).status, 500);
        assert_eq!(inj("InternalError", None).status, 400, "BSS documents 400");
        assert_eq!(inj("-116", None).status, 200);
        assert_eq!(inj("ServiceUnavailable", None).status, 503);
        assert_eq!(inj("Whatever", None).status, 400);
        assert_eq!(inj("Whatever", Some(429)).status, 429);
        assert_eq!(m(Rejection::InjectedStatus(503)).code, "ServiceUnavailable");
        assert_eq!(m(Rejection::InjectedStatus(502)).code, "InternalError");
    }
}
