//! Tencent Cloud behaviour: the mapping of rejections to API 3.0 error codes and the
//! response bodies (errors travel with HTTP 200 inside `Response.Error`).

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

use crate::catalog::{Catalog, Operation};

use super::rejection::{Rejection, VendorError};

/// The Tencent code and message of a rejection (HTTP status 200 unless injected).
pub(crate) fn map(rej: &Rejection, catalog: &Catalog, op: Option<&Operation>) -> VendorError {
    use Rejection as R;
    let e = |code: &str, message: String| VendorError::new(200, code, message);
    match rej {
        R::Method(m) => e("UnsupportedProtocol", format!("The HTTP method {m} is not supported; only POST with a JSON body is.")),
        R::BodyTooLarge => e("RequestSizeLimitExceeded", "The request body is too large.".into()),
        R::MissingCommon(name) | R::MissingHeader(name) => {
            e("MissingParameter", format!("The request is missing a required parameter `{name}`."))
        }
        R::MissingParameter(name) => {
            e("MissingParameter", format!("The request is missing a required parameter `{name}`."))
        }
        R::Malformed { what, reason } => e("InvalidParameter", format!("The {what} is invalid: {reason}.")),
        R::UnknownKey => e(
            "AuthFailure.SecretIdNotFound",
            "The SecretId is not found, please ensure that your SecretId is correct.".into(),
        ),
        R::IncompleteSignature(reason) | R::SignatureMethod(reason) => {
            e("AuthFailure.InvalidAuthorization", format!("The Authorization header is invalid: {reason}."))
        }
        R::SignatureMismatch { .. } => e(
            "AuthFailure.SignatureFailure",
            "The provided credentials could not be validated. Please check your signature is correct.".into(),
        ),
        R::MissingToken => e("AuthFailure.TokenFailure", "The temporary credential requires its X-TC-Token.".into()),
        R::WrongToken => e("AuthFailure.TokenFailure", "The token does not belong to the SecretId.".into()),
        R::TokenExpired => e("AuthFailure.TokenFailure", "The temporary credential has expired.".into()),
        R::TimestampFormat(v) => e("InvalidParameter", format!("The X-TC-Timestamp `{v}` is not a Unix timestamp.")),
        R::TimestampExpired { value, skew_secs } => e(
            "AuthFailure.SignatureExpire",
            format!("Signature expired. Timestamp {value} is {skew_secs} s away from the server time; the limit is 300 s."),
        ),
        R::NonceUsed => e("AuthFailure.SignatureFailure", "The request was replayed.".into()),
        R::UnknownAction(a) => e("InvalidAction", format!("The action `{a}` does not exist.")),
        R::WrongVersion { action, version } => {
            e("NoSuchVersion", format!("The version `{version}` of action `{action}` does not exist."))
        }
        R::InvalidParameter { name, field, value, reason } => {
            // A documented operation-specific code (`InvalidParameter.Invalid<Field>`) wins.
            let specific = format!("InvalidParameter.Invalid{field}");
            let code = if op.is_some_and(|op| op.rule.errors.iter().any(|d| d.code == specific)) {
                specific
            } else {
                "InvalidParameterValue".to_string()
            };
            let value = super::request::clip(value);
            VendorError::new(200, code, format!("The value `{value}` of parameter `{name}` is invalid: {reason}."))
        }
        R::WrongType { name, expected } => {
            e("InvalidParameter", format!("The parameter `{name}` must be of type {expected}."))
        }
        R::UnknownParameter(name) => e("UnknownParameter", format!("The parameter `{name}` is not recognized.")),
        R::Throttled { limit } => e(
            "RequestLimitExceeded",
            format!("Your request frequency exceeds the limit of {limit} requests per second. Please reduce the frequency of calls."),
        ),
        R::Injected { code, http_status, message } => {
            let documented = op.and_then(|op| catalog.error(op, code));
            let message = message
                .clone()
                .or_else(|| documented.map(|d| d.meaning.clone()).filter(|m| !m.is_empty()))
                .unwrap_or_else(|| "The request failed (injected fault).".to_string());
            VendorError::new(http_status.unwrap_or(200), code.clone(), message)
        }
        R::InjectedStatus(status) => {
            let code = if *status == 503 { "ServiceUnavailable" } else { "InternalError" };
            VendorError::new(*status, code, "The service is temporarily unavailable.")
        }
    }
}

/// A fresh Tencent request id (lowercase UUID).
pub(crate) fn request_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// `{"Response":{"Error":{"Code","Message"},"RequestId"}}`.
pub(crate) fn error_response(err: &VendorError) -> Response {
    let body = json!({"Response": {"Error": {"Code": err.code, "Message": err.message}, "RequestId": request_id()}});
    json_response(err.status, &body)
}

/// The documented sample body (or one synthesized from the output message)
/// with a fresh `Response.RequestId`.
pub(crate) fn success_response(catalog: &Catalog, op: &Operation) -> Response {
    let mut body = super::sample::reply_body(catalog, op, true);
    body["Response"]["RequestId"] = Value::String(request_id());
    json_response(200, &body)
}

pub(crate) fn json_response(status: u16, body: &Value) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut resp = (status, body.to_string()).into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::Vendor;

    #[test]
    fn documented_specific_codes_win_for_invalid_values() {
        let c = Catalog::load().unwrap();
        let op = c.by_action(Vendor::Tencent, "ModifyUserType").unwrap();
        let invalid = |field: &str| Rejection::InvalidParameter {
            name: field.into(),
            field: field.into(),
            value: "x".into(),
            reason: "r".into(),
        };
        assert_eq!(
            map(&invalid("UserType"), &c, Some(op)).code,
            "InvalidParameter.InvalidUserType"
        );
        assert_eq!(
            map(&invalid("UserId"), &c, Some(op)).code,
            "InvalidParameterValue"
        );
        assert_eq!(
            map(&Rejection::Throttled { limit: 20 }, &c, Some(op)).status,
            200
        );
        let inj = Rejection::Injected {
            code: "InternalError".into(),
            http_status: None,
            message: None,
        };
        let v = map(&inj, &c, Some(op));
        assert_eq!((v.status, v.code.as_str()), (200, "InternalError"));
        assert!(v.message.contains("may or may not"), "{}", v.message);
    }
}
