//! The Connect unary protocol (connectrpc.com/docs/protocol) on the gRPC
//! port: `POST /<package>.<Service>/<Method>` with an `application/json`
//! (proto3 JSON) or `application/proto` body, and `GET` with the message in
//! the query for read-only operations (not mutating and safe to retry).
//!
//! The request becomes the same `tonic::Request<DynamicMessage>` a gRPC call
//! makes: the HTTP headers as metadata (`authorization`, `x-cloud-profile`,
//! `x-cloud-region`, `traceparent`), the connection's extensions (peer
//! address, client certificates) as they are, and `Connect-Timeout-Ms` as
//! `grpc-timeout`. So [`Gateway::handle`] authenticates, validates, limits,
//! signs, retries, audits and counts it exactly like a gRPC call.
//!
//! `Connect-Protocol-Version: 1` is accepted and not required, so that
//! `curl` callers need not send it; any other version is refused.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use base64::Engine;
use bytes::{Bytes, BytesMut};
use http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use http_body_util::BodyExt;
use prost::Message;
use prost_reflect::{DeserializeOptions, DynamicMessage, MessageDescriptor, SerializeOptions};
use tonic::body::Body;
use tonic::Status;

use super::connect_error;
use crate::catalog::Operation;
use crate::error::{quote, FieldViolation, GatewayError};
use crate::gateway::Gateway;

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

/// The Connect protocol version this gateway speaks.
const PROTOCOL_VERSION: &str = "1";
/// Longest `Connect-Timeout-Ms` value the protocol allows, in digits.
const TIMEOUT_DIGITS: usize = 10;

/// How a Connect message is encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// Proto3 JSON (`application/json`, `?encoding=json`).
    Json,
    /// Protobuf binary (`application/proto`, `?encoding=proto`).
    Proto,
}

impl Encoding {
    /// The content type of a unary message in this encoding.
    pub fn content_type(self) -> &'static str {
        match self {
            Encoding::Json => "application/json",
            Encoding::Proto => "application/proto",
        }
    }

    /// The encoding of a unary Connect request's `Content-Type`, parameters
    /// (`; charset=utf-8`) aside; `None` when it is not one of Connect's.
    pub fn from_content_type(value: &str) -> Option<Self> {
        let essence = value.split(';').next().unwrap_or("").trim();
        if essence.eq_ignore_ascii_case("application/json") {
            Some(Encoding::Json)
        } else if essence.eq_ignore_ascii_case("application/proto") {
            Some(Encoding::Proto)
        } else {
            None
        }
    }

    fn from_query(value: &str) -> Option<Self> {
        match value {
            "json" => Some(Encoding::Json),
            "proto" => Some(Encoding::Proto),
            _ => None,
        }
    }
}

/// Why a Connect request is refused before the gateway sees it.
#[derive(Debug, thiserror::Error)]
pub enum Refusal {
    /// The path names no operation of the catalog.
    #[error("{} is not a method of this gateway (see `cloudgate catalog`)", quote(.0))]
    UnknownMethod(String),
    /// Neither POST nor GET.
    #[error("HTTP method {0} is not part of the Connect protocol: use POST (or GET for read-only methods)")]
    Method(Method),
    /// A GET of an operation that changes state or is not safe to retry.
    #[error("{0} changes state or is not safe to retry, so it is served by POST only")]
    GetNotAllowed(String),
    /// A content type that is not Connect's.
    #[error("{} is not supported: send application/json or application/proto (Connect), application/grpc or application/grpc-web", quote(.0))]
    ContentType(String),
    /// A compressed body.
    #[error("compression {} is not supported: send the message uncompressed (identity)", quote(.0))]
    Compression(String),
    /// A request field of the protocol itself is malformed.
    #[error("{}: {}", .0.field, .0.description)]
    Protocol(FieldViolation),
    /// The body could not be read.
    #[error("reading the request body failed: {0}")]
    Body(String),
    /// The message is larger than `[server] max_request_bytes`.
    #[error("the request message is over {max} bytes (server.max_request_bytes)")]
    TooLarge {
        /// The limit.
        max: usize,
    },
    /// The message does not decode as the operation's input type.
    #[error("{}: {}", .0.field, .0.description)]
    Decode(FieldViolation),
}

impl Refusal {
    /// The Connect error reply (see [`connect_error`]).
    pub fn into_response(self) -> http::Response<Body> {
        let message = self.to_string();
        let (http, status, extra) = match self {
            Refusal::UnknownMethod(_) => (None, Status::unimplemented(message), None),
            Refusal::Method(_) => (
                Some(StatusCode::METHOD_NOT_ALLOWED),
                Status::unimplemented(message),
                Some((header::ALLOW, "GET, POST")),
            ),
            Refusal::GetNotAllowed(_) => (
                Some(StatusCode::METHOD_NOT_ALLOWED),
                Status::unimplemented(message),
                Some((header::ALLOW, "POST")),
            ),
            Refusal::ContentType(_) => (
                Some(StatusCode::UNSUPPORTED_MEDIA_TYPE),
                invalid("content-type", message),
                Some((
                    header::HeaderName::from_static("accept-post"),
                    "application/json, application/proto",
                )),
            ),
            Refusal::Compression(_) => (
                None,
                Status::unimplemented(message),
                Some((header::ACCEPT_ENCODING, "identity")),
            ),
            Refusal::Protocol(v) | Refusal::Decode(v) => {
                (None, GatewayError::InvalidRequest(vec![v]).into(), None)
            }
            Refusal::Body(_) => (None, invalid("body", message), None),
            Refusal::TooLarge { .. } => (None, Status::out_of_range(message), None),
        };
        let http = http.unwrap_or_else(|| connect_error::http_status(status.code()));
        let mut resp = connect_error::response_with(http, status);
        if let Some((name, value)) = extra {
            resp.headers_mut()
                .insert(name, HeaderValue::from_static(value));
        }
        resp
    }
}

fn invalid(field: &str, message: String) -> Status {
    GatewayError::InvalidRequest(vec![FieldViolation::new(field, message)]).into()
}

/// Serves Connect unary calls of every catalog operation.
#[derive(Clone)]
pub struct Connect {
    gateway: Arc<Gateway>,
    max_request_bytes: usize,
}

impl Connect {
    /// Calls `gateway`, refusing messages over `max_request_bytes`.
    pub fn new(gateway: Arc<Gateway>, max_request_bytes: usize) -> Self {
        Self {
            gateway,
            max_request_bytes,
        }
    }
}

impl tower::Service<http::Request<Body>> for Connect {
    type Response = http::Response<Body>;
    type Error = Infallible;
    type Future = BoxFuture<Result<Self::Response, Infallible>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: http::Request<Body>) -> Self::Future {
        let gateway = self.gateway.clone();
        let max = self.max_request_bytes;
        Box::pin(async move {
            Ok(match unary(gateway, max, req).await {
                Ok(resp) => resp,
                Err(refusal) => {
                    tracing::debug!(error = %refusal, "Connect request refused");
                    refusal.into_response()
                }
            })
        })
    }
}

/// Whether an operation answers Connect GET requests.
pub fn get_allowed(op: &Operation) -> bool {
    !op.rule.mutating && op.rule.safe_to_retry
}

async fn unary(
    gateway: Arc<Gateway>,
    max: usize,
    req: http::Request<Body>,
) -> Result<http::Response<Body>, Refusal> {
    let path = req.uri().path();
    let Some(op) = gateway.catalog().operation(path).cloned() else {
        return Err(Refusal::UnknownMethod(path.to_string()));
    };
    let (mut parts, body) = req.into_parts();
    let (encoding, bytes) = match parts.method {
        Method::POST => {
            protocol_version(parts.headers.get("connect-protocol-version"))?;
            let encoding = post_encoding(&parts.headers)?;
            if let Some(c) = parts.headers.get(header::CONTENT_ENCODING) {
                let c = String::from_utf8_lossy(c.as_bytes());
                if !c.trim().eq_ignore_ascii_case("identity") {
                    return Err(Refusal::Compression(c.into_owned()));
                }
            }
            (encoding, read_body(body, max).await?)
        }
        Method::GET => {
            if !get_allowed(&op) {
                return Err(Refusal::GetNotAllowed(op.path.clone()));
            }
            get_message(parts.uri.query().unwrap_or(""), max)?
        }
        other => return Err(Refusal::Method(other)),
    };
    let timeout = connect_timeout(parts.headers.get("connect-timeout-ms"))?;
    let message = decode(encoding, &op.input(), &bytes)?;

    // The headers become the call's metadata; Connect's own are not metadata.
    for name in [
        header::CONTENT_TYPE,
        header::CONTENT_LENGTH,
        header::CONTENT_ENCODING,
        header::ACCEPT_ENCODING,
        header::TE,
    ] {
        parts.headers.remove(name);
    }
    for name in [
        "connect-protocol-version",
        "connect-timeout-ms",
        "grpc-timeout",
        "grpc-encoding",
        "grpc-accept-encoding",
    ] {
        parts.headers.remove(name);
    }
    if let Some(t) = timeout {
        parts.headers.insert("grpc-timeout", grpc_timeout(t));
    }
    let request = tonic::Request::from_http(http::Request::from_parts(parts, message));
    Ok(match gateway.handle(op, request).await {
        Ok(reply) => reply_response(encoding, reply),
        Err(status) => connect_error::response(status),
    })
}

fn protocol_version(value: Option<&HeaderValue>) -> Result<(), Refusal> {
    match value {
        None => Ok(()),
        Some(v) if v.as_bytes() == PROTOCOL_VERSION.as_bytes() => Ok(()),
        Some(v) => Err(Refusal::Protocol(FieldViolation::new(
            "connect-protocol-version",
            format!(
                "{} is not a Connect protocol version this gateway speaks (1)",
                quote(&String::from_utf8_lossy(v.as_bytes()))
            ),
        ))),
    }
}

fn post_encoding(headers: &HeaderMap) -> Result<Encoding, Refusal> {
    let value = headers
        .get(header::CONTENT_TYPE)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
        .unwrap_or_default();
    let encoding =
        Encoding::from_content_type(&value).ok_or_else(|| Refusal::ContentType(value.clone()))?;
    // JSON is UTF-8; a charset parameter saying otherwise is refused.
    let charset = value
        .split(';')
        .skip(1)
        .filter_map(|p| p.split_once('='))
        .find(|(k, _)| k.trim().eq_ignore_ascii_case("charset"))
        .map(|(_, v)| v.trim().trim_matches('"').to_ascii_lowercase());
    match charset {
        Some(c) if c != "utf-8" && c != "utf8" => Err(Refusal::ContentType(value)),
        _ => Ok(encoding),
    }
}

/// `Connect-Timeout-Ms`: up to ten ASCII digits.
fn connect_timeout(value: Option<&HeaderValue>) -> Result<Option<Duration>, Refusal> {
    let Some(v) = value else {
        return Ok(None);
    };
    let bytes = v.as_bytes();
    let ok =
        !bytes.is_empty() && bytes.len() <= TIMEOUT_DIGITS && bytes.iter().all(u8::is_ascii_digit);
    let ms = ok
        .then(|| std::str::from_utf8(bytes).ok()?.parse::<u64>().ok())
        .flatten();
    match ms {
        Some(ms) => Ok(Some(Duration::from_millis(ms))),
        None => Err(Refusal::Protocol(FieldViolation::new(
            "connect-timeout-ms",
            "must be a positive number of milliseconds, at most 10 digits",
        ))),
    }
}

/// The `grpc-timeout` value of a Connect timeout (at most 8 digits and a unit).
fn grpc_timeout(t: Duration) -> HeaderValue {
    let ms = t.as_millis();
    let text = if ms <= 99_999_999 {
        format!("{ms}m")
    } else {
        format!("{}S", (ms / 1000).min(99_999_999))
    };
    HeaderValue::from_str(&text).unwrap_or(HeaderValue::from_static("99999999S"))
}

async fn read_body(mut body: Body, max: usize) -> Result<Bytes, Refusal> {
    let mut buf = BytesMut::new();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| Refusal::Body(e.to_string()))?;
        if let Ok(data) = frame.into_data() {
            if buf.len() + data.len() > max {
                return Err(Refusal::TooLarge { max });
            }
            buf.extend_from_slice(&data);
        }
    }
    Ok(buf.freeze())
}

/// The message of a GET: `?encoding=json|proto&message=...[&base64=1]`.
fn get_message(query: &str, max: usize) -> Result<(Encoding, Bytes), Refusal> {
    let bad = |field: &str, why: String| Refusal::Protocol(FieldViolation::new(field, why));
    let mut encoding = None;
    let mut message = None;
    let mut base64 = false;
    for (key, value) in url::form_urlencoded::parse(query.as_bytes()) {
        match key.as_ref() {
            "encoding" => {
                encoding = Some(Encoding::from_query(&value).ok_or_else(|| {
                    bad(
                        "encoding",
                        format!("{} is not json or proto", quote(&value)),
                    )
                })?)
            }
            "message" => message = Some(value.into_owned()),
            "base64" => base64 = value == "1",
            "compression" if value != "identity" => {
                return Err(Refusal::Compression(value.into_owned()))
            }
            "connect" if value != "v1" => {
                return Err(bad(
                    "connect",
                    format!(
                        "{} is not a protocol version this gateway speaks (v1)",
                        quote(&value)
                    ),
                ))
            }
            _ => {}
        }
    }
    let encoding = encoding.ok_or_else(|| {
        bad(
            "encoding",
            "is missing: a GET needs ?encoding=json or ?encoding=proto".into(),
        )
    })?;
    let message = message.unwrap_or_default();
    if message.len() > max * 4 / 3 + 4 {
        return Err(Refusal::TooLarge { max });
    }
    let bytes = if base64 {
        let text = message.trim_end_matches('=');
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(text)
            .or_else(|_| base64::engine::general_purpose::STANDARD_NO_PAD.decode(text))
            .map_err(|e| bad("message", format!("is not base64: {e}")))?
    } else {
        message.into_bytes()
    };
    if bytes.len() > max {
        return Err(Refusal::TooLarge { max });
    }
    Ok((encoding, Bytes::from(bytes)))
}

/// Decodes a request message; JSON with unknown fields is refused.
fn decode(
    encoding: Encoding,
    desc: &MessageDescriptor,
    bytes: &[u8],
) -> Result<DynamicMessage, Refusal> {
    let type_name = desc.full_name();
    match encoding {
        // An empty body is the empty message (handy for `curl -d ''`).
        Encoding::Json if bytes.iter().all(u8::is_ascii_whitespace) => {
            Ok(DynamicMessage::new(desc.clone()))
        }
        Encoding::Json => {
            let mut de = serde_json::Deserializer::from_slice(bytes);
            let decoded = DynamicMessage::deserialize_with_options(
                desc.clone(),
                &mut de,
                &DeserializeOptions::new(),
            )
            .and_then(|m| de.end().map(|()| m));
            decoded.map_err(|e| {
                Refusal::Decode(FieldViolation::new(
                    "body",
                    format!("is not valid JSON for {type_name}: {e}"),
                ))
            })
        }
        Encoding::Proto => DynamicMessage::decode(desc.clone(), bytes).map_err(|e| {
            Refusal::Decode(FieldViolation::new(
                "body",
                format!("is not a valid {type_name} message: {e}"),
            ))
        }),
    }
}

/// A successful reply, in the request's encoding, its metadata as headers.
fn reply_response(
    encoding: Encoding,
    reply: tonic::Response<DynamicMessage>,
) -> http::Response<Body> {
    let (meta, message, _) = reply.into_parts();
    let body = match encoding {
        Encoding::Json => {
            let mut out = Vec::new();
            let mut ser = serde_json::Serializer::new(&mut out);
            if let Err(e) = message.serialize_with_options(&mut ser, &SerializeOptions::new()) {
                return connect_error::response(Status::internal(format!(
                    "encoding the reply as JSON: {e}"
                )));
            }
            out
        }
        Encoding::Proto => message.encode_to_vec(),
    };
    let mut resp = http::Response::new(Body::new(axum::body::Body::from(body)));
    let headers = resp.headers_mut();
    for (name, value) in meta.into_headers().iter() {
        if !name.as_str().starts_with("grpc-") {
            headers.append(name.clone(), value.clone());
        }
    }
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(encoding.content_type()),
    );
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_types() {
        let e = Encoding::from_content_type;
        assert_eq!(e("application/json"), Some(Encoding::Json));
        assert_eq!(e("Application/JSON; charset=utf-8"), Some(Encoding::Json));
        assert_eq!(e("application/proto"), Some(Encoding::Proto));
        assert_eq!(e("text/plain"), None);
        assert_eq!(e("application/grpc"), None);
        let mut h = HeaderMap::new();
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json; charset=latin1"),
        );
        assert!(matches!(post_encoding(&h), Err(Refusal::ContentType(_))));
    }

    #[test]
    fn timeouts() {
        let t = |v: &'static str| connect_timeout(Some(&HeaderValue::from_static(v)));
        assert_eq!(t("250").unwrap(), Some(Duration::from_millis(250)));
        assert!(t("-1").is_err() && t("1.5").is_err() && t("12345678901").is_err());
        assert_eq!(grpc_timeout(Duration::from_millis(250)), "250m");
        assert_eq!(
            grpc_timeout(Duration::from_millis(9_999_999_999)),
            "9999999S"
        );
        for v in ["250m", "9999999S"] {
            assert!(crate::gateway::parse_grpc_timeout(v).is_some());
        }
    }

    #[test]
    fn get_queries() {
        let (e, m) = get_message("encoding=json&message=%7B%22lang%22%3A%22en%22%7D", 100).unwrap();
        assert_eq!(
            (e, m.as_ref()),
            (Encoding::Json, br#"{"lang":"en"}"#.as_ref())
        );
        let (_, m) = get_message("encoding=json&base64=1&message=e30", 100).unwrap();
        assert_eq!(m.as_ref(), b"{}");
        assert!(get_message("message=e30", 100).is_err());
        assert!(get_message("encoding=xml", 100).is_err());
        assert!(matches!(
            get_message("encoding=json&compression=gzip", 100),
            Err(Refusal::Compression(_))
        ));
        assert!(matches!(
            get_message("encoding=json&message=12345678901", 10),
            Err(Refusal::TooLarge { .. })
        ));
    }
}
