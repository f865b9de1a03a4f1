//! The vendors' wire protocols: how a validated call becomes a signed HTTP
//! request, and how the HTTP reply becomes a payload or a classified error.

pub mod alibaba;
mod classify;
pub mod tencent;

use std::sync::Arc;

use url::Url;

use crate::catalog::{Catalog, Operation, Vendor};
use crate::config::AlibabaSignature;
use crate::credentials::Credential;
use crate::error::GatewayError;
use crate::translate::WireParams;

pub use classify::classify;

/// The signature scheme of a call, chosen once when its target is resolved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signer {
    /// Alibaba ACS3-HMAC-SHA256.
    Acs3,
    /// Alibaba RPC v1 (HMAC-SHA1).
    RpcV1,
    /// Tencent TC3-HMAC-SHA256.
    Tc3,
}

impl Signer {
    /// The scheme for an operation of `vendor` (Alibaba: as configured).
    pub fn for_vendor(vendor: Vendor, alibaba: AlibabaSignature) -> Self {
        match (vendor, alibaba) {
            (Vendor::Tencent, _) => Self::Tc3,
            (_, AlibabaSignature::RpcV1) => Self::RpcV1,
            (_, AlibabaSignature::Acs3) => Self::Acs3,
        }
    }
}

/// Where a call goes, and how it is signed.
#[derive(Debug, Clone)]
pub struct Target {
    /// Base URL (`https://host[:port]/`).
    pub base: Url,
    /// `host[:port]` as sent in the Host header (and signed).
    pub host: String,
    /// The region of the call.
    pub region: String,
    /// The signature scheme.
    pub signer: Signer,
}

impl Target {
    /// The target for a base URL.
    pub fn new(base: Url, region: String, signer: Signer) -> Self {
        let mut host = base.host_str().unwrap_or_default().to_string();
        if let Some(port) = base.port() {
            host = format!("{host}:{port}");
        }
        Self {
            base,
            host,
            region,
            signer,
        }
    }
}

/// An HTTP request ready to send.
#[derive(Clone)]
pub struct PreparedRequest {
    /// Full URL including the query string.
    pub url: String,
    /// Headers (lowercase names), without Host (the client derives it from the URL).
    pub headers: Vec<(String, String)>,
    /// Body bytes.
    pub body: Vec<u8>,
}

// URL, headers and body carry signatures and tokens.
impl std::fmt::Debug for PreparedRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PreparedRequest")
            .field("body_len", &self.body.len())
            .finish_non_exhaustive()
    }
}

/// Per-attempt signing inputs: a fresh time and nonce every attempt.
#[derive(Debug, Clone)]
pub struct Freshness {
    /// Now, UTC.
    pub now: chrono::DateTime<chrono::Utc>,
    /// Unique nonce.
    pub nonce: String,
}

impl Freshness {
    /// Current time and a new random nonce.
    pub fn new() -> Self {
        Self {
            now: chrono::Utc::now(),
            nonce: crate::signing::new_nonce(),
        }
    }
}

impl Default for Freshness {
    fn default() -> Self {
        Self::new()
    }
}

/// Signs one attempt with the target's scheme.
pub fn prepare(
    op: &Operation,
    params: &WireParams,
    credential: &Credential,
    target: &Target,
    fresh: &Freshness,
) -> Result<PreparedRequest, GatewayError> {
    let alibaba = |scheme| match params {
        WireParams::Query(params) => Some(alibaba::prepare(
            op, params, credential, target, scheme, fresh,
        )),
        WireParams::Json(_) => None,
    };
    let prepared = match (target.signer, params) {
        (Signer::Acs3, _) => alibaba(AlibabaSignature::Acs3),
        (Signer::RpcV1, _) => alibaba(AlibabaSignature::RpcV1),
        (Signer::Tc3, WireParams::Json(body)) => {
            Some(tencent::prepare(op, body, credential, target, fresh))
        }
        (Signer::Tc3, WireParams::Query(_)) => None,
    };
    match prepared {
        Some(p) => Ok(p),
        None => Err(GatewayError::Internal(format!(
            "{}: parameters do not match the vendor's wire format",
            op.path
        ))),
    }
}

/// A successful vendor reply.
#[derive(Debug, Clone)]
pub struct VendorReply {
    /// The response payload (Tencent: the `Response` object).
    pub payload: serde_json::Value,
    /// The vendor request id.
    pub request_id: String,
    /// HTTP status.
    pub http_status: u16,
}

/// Reads a vendor reply (any status) into a payload or a classified error.
pub fn interpret(
    catalog: &Catalog,
    op: &Arc<Operation>,
    target: &Target,
    status: u16,
    headers: &http::HeaderMap,
    body: &[u8],
) -> Result<VendorReply, GatewayError> {
    match op.vendor() {
        Vendor::Tencent => tencent::interpret(catalog, op, target, status, body),
        _ => alibaba::interpret(catalog, op, target, status, headers, body),
    }
}

/// A short, printable excerpt of an unexpected body.
pub(crate) fn excerpt(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let mut s: String = text.chars().take(200).collect();
    if text.chars().count() > 200 {
        s.push('…');
    }
    s
}
