//! A `tonic::Status` as a Connect error (connectrpc.com/docs/protocol): the
//! HTTP status Connect prescribes for the code, and the JSON body
//! `{"code", "message", "details"}` with the same google.rpc details
//! (ErrorInfo, BadRequest, RetryInfo, ...) the gRPC status carries. The one
//! place a status becomes a Connect reply.

use std::sync::OnceLock;

use base64::Engine;
use http::{HeaderValue, StatusCode};
use prost::Message;
use prost_reflect::{DescriptorPool, DynamicMessage};
use tonic::body::Body;
use tonic::{Code, Status};

/// The Connect name of a code.
pub fn code_name(code: Code) -> &'static str {
    match code {
        Code::Ok => "ok",
        Code::Cancelled => "canceled",
        Code::Unknown => "unknown",
        Code::InvalidArgument => "invalid_argument",
        Code::DeadlineExceeded => "deadline_exceeded",
        Code::NotFound => "not_found",
        Code::AlreadyExists => "already_exists",
        Code::PermissionDenied => "permission_denied",
        Code::ResourceExhausted => "resource_exhausted",
        Code::FailedPrecondition => "failed_precondition",
        Code::Aborted => "aborted",
        Code::OutOfRange => "out_of_range",
        Code::Unimplemented => "unimplemented",
        Code::Internal => "internal",
        Code::Unavailable => "unavailable",
        Code::DataLoss => "data_loss",
        Code::Unauthenticated => "unauthenticated",
    }
}

/// The HTTP status Connect prescribes for a code.
pub fn http_status(code: Code) -> StatusCode {
    match code {
        Code::Ok => StatusCode::OK,
        Code::Cancelled => StatusCode::from_u16(499).unwrap_or(StatusCode::BAD_REQUEST),
        Code::Unknown | Code::Internal | Code::DataLoss => StatusCode::INTERNAL_SERVER_ERROR,
        Code::InvalidArgument | Code::FailedPrecondition | Code::OutOfRange => {
            StatusCode::BAD_REQUEST
        }
        Code::DeadlineExceeded => StatusCode::GATEWAY_TIMEOUT,
        Code::NotFound => StatusCode::NOT_FOUND,
        Code::AlreadyExists | Code::Aborted => StatusCode::CONFLICT,
        Code::PermissionDenied => StatusCode::FORBIDDEN,
        Code::ResourceExhausted => StatusCode::TOO_MANY_REQUESTS,
        Code::Unimplemented => StatusCode::NOT_IMPLEMENTED,
        Code::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        Code::Unauthenticated => StatusCode::UNAUTHORIZED,
    }
}

/// The google.rpc (and cloudgate.v1) message types, to show details as JSON.
fn detail_types() -> &'static DescriptorPool {
    static POOL: OnceLock<DescriptorPool> = OnceLock::new();
    POOL.get_or_init(|| {
        let mut pool = DescriptorPool::new();
        for set in [
            tonic_types::pb::FILE_DESCRIPTOR_SET,
            crate::pb::FILE_DESCRIPTOR_SET,
        ] {
            if let Err(e) = pool.decode_file_descriptor_set(set) {
                tracing::warn!(error = %e, "error detail types for Connect replies");
            }
        }
        pool
    })
}

/// The Connect error body of `status`.
pub fn error_json(status: &Status) -> serde_json::Value {
    let mut body = serde_json::Map::new();
    body.insert("code".into(), code_name(status.code()).into());
    if !status.message().is_empty() {
        body.insert("message".into(), status.message().into());
    }
    let details = tonic_types::pb::Status::decode(status.details())
        .map(|s| s.details)
        .unwrap_or_default();
    if !details.is_empty() {
        let list = details.iter().map(detail_json).collect::<Vec<_>>();
        body.insert("details".into(), list.into());
    }
    body.into()
}

fn detail_json(any: &prost_types::Any) -> serde_json::Value {
    let type_name = any
        .type_url
        .rsplit_once('/')
        .map_or(any.type_url.as_str(), |(_, name)| name);
    let mut detail = serde_json::Map::new();
    detail.insert("type".into(), type_name.into());
    let value = base64::engine::general_purpose::STANDARD_NO_PAD.encode(&any.value);
    detail.insert("value".into(), value.into());
    let debug = detail_types()
        .get_message_by_name(type_name)
        .and_then(|desc| DynamicMessage::decode(desc, any.value.as_slice()).ok())
        .and_then(|msg| serde_json::to_value(&msg).ok());
    if let Some(debug) = debug {
        detail.insert("debug".into(), debug);
    }
    detail.into()
}

/// `status` as a Connect error reply, with the HTTP status of its code.
pub fn response(status: Status) -> http::Response<Body> {
    let http = http_status(status.code());
    response_with(http, status)
}

/// `status` as a Connect error reply with HTTP status `http` (415 for a
/// content type Connect does not know, 405 for a GET of a mutating method).
/// The status rides along in the reply's extensions, for the refusal audit.
pub fn response_with(http: StatusCode, status: Status) -> http::Response<Body> {
    let body = serde_json::to_vec(&error_json(&status)).unwrap_or_default();
    let mut resp = http::Response::new(Body::new(axum::body::Body::from(body)));
    *resp.status_mut() = http;
    let headers = resp.headers_mut();
    for (name, value) in status.metadata().clone().into_headers().iter() {
        if !name.as_str().starts_with("grpc-") {
            headers.append(name.clone(), value.clone());
        }
    }
    headers.insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp.extensions_mut().insert(status);
    resp
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::{FieldViolation, GatewayError};

    #[test]
    fn every_code_has_the_connect_name_and_http_status() {
        let table = [
            (Code::Cancelled, "canceled", 499),
            (Code::Unknown, "unknown", 500),
            (Code::InvalidArgument, "invalid_argument", 400),
            (Code::DeadlineExceeded, "deadline_exceeded", 504),
            (Code::NotFound, "not_found", 404),
            (Code::AlreadyExists, "already_exists", 409),
            (Code::PermissionDenied, "permission_denied", 403),
            (Code::ResourceExhausted, "resource_exhausted", 429),
            (Code::FailedPrecondition, "failed_precondition", 400),
            (Code::Aborted, "aborted", 409),
            (Code::OutOfRange, "out_of_range", 400),
            (Code::Unimplemented, "unimplemented", 501),
            (Code::Internal, "internal", 500),
            (Code::Unavailable, "unavailable", 503),
            (Code::DataLoss, "data_loss", 500),
            (Code::Unauthenticated, "unauthenticated", 401),
        ];
        for (code, name, http) in table {
            assert_eq!(code_name(code), name);
            assert_eq!(http_status(code).as_u16(), http, "{code:?}");
        }
    }

    #[test]
    fn details_keep_their_type_value_and_json() {
        let status = Status::from(GatewayError::InvalidRequest(vec![FieldViolation::new(
            "owner_id",
            "must be digits",
        )]));
        let json = error_json(&status);
        assert_eq!(json["code"], "invalid_argument");
        assert!(json["message"].as_str().unwrap().contains("owner_id"));
        let details = json["details"].as_array().unwrap();
        let bad = details
            .iter()
            .find(|d| d["type"] == "google.rpc.BadRequest")
            .expect("BadRequest detail");
        assert_eq!(
            bad["debug"]["fieldViolations"][0]["field"], "owner_id",
            "{bad}"
        );
        let value = base64::engine::general_purpose::STANDARD_NO_PAD
            .decode(bad["value"].as_str().unwrap())
            .unwrap();
        let decoded = tonic_types::pb::BadRequest::decode(value.as_slice()).unwrap();
        assert_eq!(decoded.field_violations[0].description, "must be digits");
    }
}
