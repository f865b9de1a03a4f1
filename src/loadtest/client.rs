//! The gRPC side: the request body from JSON, the metadata from `key: value` headers,
//! one channel to the target, and one unary call through the [`DynamicCodec`].

use std::future::Future;
use std::str::FromStr;
use std::time::Duration;

use http::uri::PathAndQuery;
use prost_reflect::{DynamicMessage, MessageDescriptor, MethodDescriptor};
use tonic::client::Grpc;
use tonic::metadata::{AsciiMetadataKey, AsciiMetadataValue, MetadataMap};
use tonic::transport::{Channel, Endpoint};
use tonic::{Code, Request};

use super::tally::CallOutcome;
use super::{error_chain, LoadTestError};
use crate::codec::DynamicCodec;

/// Parses `data` as the proto3 JSON form of a `message`; the whole text must be one
/// JSON value. Errors name the message type and the problem (unknown field, wrong type,
/// position).
pub fn parse_request(
    message: &MessageDescriptor,
    data: &str,
) -> Result<DynamicMessage, LoadTestError> {
    let err = |reason: String| LoadTestError::Data {
        message: message.full_name().to_string(),
        reason,
    };
    let mut de = serde_json::Deserializer::from_str(data);
    let request = DynamicMessage::deserialize(message.clone(), &mut de)
        .map_err(|e| err(blame_member(message, data).unwrap_or_else(|| e.to_string())))?;
    de.end().map_err(|e| err(e.to_string()))?;
    Ok(request)
}

/// When `data` is a JSON object that does not fit `message`, the first member that does
/// not fit on its own, as `field "name": problem` (the JSON error alone only has a
/// position).
fn blame_member(message: &MessageDescriptor, data: &str) -> Option<String> {
    let members: serde_json::Map<String, serde_json::Value> = serde_json::from_str(data).ok()?;
    members.into_iter().find_map(|(name, value)| {
        let single = serde_json::Value::Object(std::iter::once((name.clone(), value)).collect());
        DynamicMessage::deserialize(message.clone(), single)
            .err()
            .map(|e| format!("field {name:?}: {e}"))
    })
}

/// Splits a `key: value` header (`x-cloud-profile: ops`) into its trimmed parts.
pub fn parse_header(header: &str) -> Result<(String, String), LoadTestError> {
    let (key, value) = header
        .split_once(':')
        .ok_or_else(|| LoadTestError::Header {
            header: header.to_string(),
            reason: "expected `key: value`".into(),
        })?;
    Ok((key.trim().to_string(), value.trim().to_string()))
}

/// The gRPC metadata of every call. Keys are lowercased; binary (`-bin`) keys and
/// values that are not visible ASCII are refused.
pub fn build_metadata(headers: &[(String, String)]) -> Result<MetadataMap, LoadTestError> {
    let mut map = MetadataMap::new();
    for (key, value) in headers {
        let err = |reason: &str| LoadTestError::Header {
            header: format!("{key}: {value}"),
            reason: reason.to_string(),
        };
        let k = AsciiMetadataKey::from_str(&key.to_ascii_lowercase()).map_err(|_| {
            err("not a valid ASCII metadata key (binary `-bin` keys are not supported)")
        })?;
        let visible = value.bytes().all(|b| (b' '..=b'~').contains(&b));
        let v = AsciiMetadataValue::from_str(value)
            .ok()
            .filter(|_| visible)
            .ok_or_else(|| err("the value must be printable ASCII"))?;
        map.append(k, v);
    }
    Ok(map)
}

/// `addr` with `http://` in front when it has no scheme (`127.0.0.1:50051`).
pub fn normalize_addr(addr: &str) -> String {
    let addr = addr.trim();
    if addr.contains("://") {
        addr.to_string()
    } else {
        format!("http://{addr}")
    }
}

/// Opens one HTTP/2 channel to `addr` (`http://host:port`, or `host:port`), failing when the target
/// cannot be reached within `connect_timeout`. Calls are multiplexed on it.
pub async fn connect(addr: &str, connect_timeout: Duration) -> Result<Channel, LoadTestError> {
    let endpoint = Endpoint::from_shared(normalize_addr(addr))
        .map_err(|e| LoadTestError::Address {
            addr: addr.to_string(),
            reason: e.to_string(),
        })?
        .connect_timeout(connect_timeout)
        .tcp_nodelay(true);
    if endpoint.uri().scheme_str() != Some("http") {
        return Err(LoadTestError::Address {
            addr: addr.to_string(),
            reason: "only plaintext http:// is supported (cloudgate serves h2c; no TLS client)"
                .into(),
        });
    }
    if endpoint.uri().host().is_none() {
        return Err(LoadTestError::Address {
            addr: addr.to_string(),
            reason: "expected http://host:port".into(),
        });
    }
    let connect = endpoint.connect();
    match tokio::time::timeout(connect_timeout, connect).await {
        Ok(Ok(channel)) => Ok(channel),
        Ok(Err(e)) => Err(LoadTestError::Connect {
            addr: addr.to_string(),
            reason: error_chain(&e),
        }),
        Err(_) => Err(LoadTestError::Connect {
            addr: addr.to_string(),
            reason: format!("timed out after {connect_timeout:?}"),
        }),
    }
}

/// Everything needed to make one call, cloned into each call.
#[derive(Debug, Clone)]
pub struct Caller {
    channel: Channel,
    path: PathAndQuery,
    request: DynamicMessage,
    metadata: MetadataMap,
    codec: DynamicCodec,
    timeout: Duration,
}

impl Caller {
    /// Calls `method` with `request` and `metadata` over `channel`, each call bounded by
    /// `timeout` (sent as `grpc-timeout` and enforced locally).
    pub fn new(
        channel: Channel,
        method: &MethodDescriptor,
        request: DynamicMessage,
        metadata: MetadataMap,
        timeout: Duration,
    ) -> Result<Self, LoadTestError> {
        let path = format!("/{}/{}", method.parent_service().full_name(), method.name());
        let path = PathAndQuery::from_str(&path).map_err(|e| LoadTestError::InvalidOption {
            option: "method",
            reason: e.to_string(),
        })?;
        Ok(Self {
            channel,
            path,
            request,
            metadata,
            codec: DynamicCodec::new(method.output()),
            timeout,
        })
    }

    /// One call; the future owns what it needs, so it can be spawned.
    pub fn call(&self) -> impl Future<Output = CallOutcome> + Send + 'static {
        let this = self.clone();
        async move {
            let timeout = this.timeout;
            let mut request = Request::new(this.request);
            *request.metadata_mut() = this.metadata;
            request.set_timeout(timeout);
            let mut grpc = Grpc::new(this.channel);
            let call = async {
                grpc.ready().await.map_err(|e| {
                    let e: Box<dyn std::error::Error + Send + Sync> = e.into();
                    tonic::Status::unavailable(format!("channel not ready: {}", error_chain(&*e)))
                })?;
                grpc.unary(request, this.path, this.codec).await
            };
            match tokio::time::timeout(timeout, call).await {
                Ok(Ok(_response)) => CallOutcome::Ok,
                Ok(Err(status)) => CallOutcome::Error {
                    code: status.code(),
                    message: status.message().to_string(),
                },
                Err(_) => CallOutcome::Error {
                    code: Code::DeadlineExceeded,
                    message: format!("no answer within the {timeout:?} timeout"),
                },
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::Catalog;

    #[test]
    fn request_json_errors_name_the_message_and_the_problem() {
        let catalog = Catalog::load().unwrap();
        let desc = catalog
            .message_by_name("aliyun.sddp.v20190103.DescribeUserStatusRequest")
            .unwrap();
        let ok = parse_request(&desc, r#"{"lang":"en_us"}"#).unwrap();
        assert_eq!(
            ok.get_field_by_name("lang").unwrap().as_str(),
            Some("en_us")
        );
        for (data, needle) in [
            (r#"{"lang":"en_us""#, "EOF"),
            (
                r#"{"nope":1}"#,
                "field \"nope\": unrecognized field name 'nope'",
            ),
            (r#"{"lang":5}"#, "field \"lang\": invalid type"),
            (
                r#"{"feature_type":"two"}"#,
                "field \"feature_type\": invalid digit",
            ),
            (r#"{"lang":"en_us"} x"#, "trailing characters"),
            ("", "EOF"),
        ] {
            let e = parse_request(&desc, data).unwrap_err().to_string();
            assert!(
                e.contains("aliyun.sddp.v20190103.DescribeUserStatusRequest") && e.contains(needle),
                "{data:?}: {e}"
            );
        }
    }

    #[tokio::test]
    async fn addresses_default_to_http_and_tls_is_refused() {
        assert_eq!(normalize_addr("127.0.0.1:50051"), "http://127.0.0.1:50051");
        assert_eq!(normalize_addr(" http://h:1 "), "http://h:1");
        for bad in ["https://127.0.0.1:50051", "http://", "http://a b"] {
            let e = connect(bad, Duration::from_millis(100)).await.unwrap_err();
            assert!(matches!(e, LoadTestError::Address { .. }), "{bad}: {e}");
        }
    }

    #[test]
    fn headers_become_metadata_or_a_clear_error() {
        let (k, v) = parse_header(" X-Cloud-Profile : ops ").unwrap();
        assert_eq!((k.as_str(), v.as_str()), ("X-Cloud-Profile", "ops"));
        let map =
            build_metadata(&[(k, v), ("x-cloud-region".into(), "ap-singapore".into())]).unwrap();
        assert_eq!(map.get("x-cloud-profile").unwrap(), "ops");
        assert_eq!(map.get("x-cloud-region").unwrap(), "ap-singapore");
        assert!(parse_header("no-colon").is_err());
        for (k, v) in [("bad key", "v"), ("x-data-bin", "v"), ("", "v"), ("k", "é")] {
            let e = build_metadata(&[(k.into(), v.into())]).unwrap_err();
            assert!(matches!(e, LoadTestError::Header { .. }), "{e}");
        }
    }
}
