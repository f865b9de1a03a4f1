//! Alibaba RPC v1 front end (`SignatureMethod=HMAC-SHA1`, `SignatureVersion=1.0`): every
//! parameter in the query string (or a form body), signed together.

use axum::http::Method;

use crate::catalog::Vendor;
use crate::signing::{constant_time_eq, rpc_v1};

use super::rejection::Rejection;
use super::request::{clip, clip_opt, Clock, Envelope, Params, RawRequest};
use super::{alibaba, auth, query, Emulator};

/// Common parameters: not operation parameters, never recorded as such.
const COMMON: &[&str] = &[
    "AccessKeyId",
    "Action",
    "Format",
    "SecurityToken",
    "Signature",
    "SignatureMethod",
    "SignatureNonce",
    "SignatureType",
    "SignatureVersion",
    "Timestamp",
    "Version",
];

/// Reads the envelope and verifies the signature, token, timestamp and nonce.
pub(crate) fn authenticate(
    emu: &Emulator,
    req: &RawRequest,
    env: &mut Envelope,
    clock: &Clock,
) -> Result<(), Rejection> {
    let malformed = |what: &str, reason: String| Rejection::Malformed {
        what: what.to_string(),
        reason,
    };
    let mut pairs =
        query::parse(&req.query).map_err(|e| malformed("query string", e.to_string()))?;
    if req.is_form() {
        let body = std::str::from_utf8(&req.body)
            .map_err(|_| malformed("form body", "it is not UTF-8".into()))?;
        let form = query::parse(body).map_err(|e| malformed("form body", e.to_string()))?;
        env.form_params = form.iter().map(|(k, _)| k.clone()).collect();
        pairs.extend(form);
    }
    let get = |name: &str| query::first(&pairs, name);
    env.action = clip(get("Action").unwrap_or_default());
    env.version = clip_opt(get("Version"));
    env.key_id = clip_opt(get("AccessKeyId"));
    env.nonce = clip_opt(get("SignatureNonce"));
    env.timestamp = clip_opt(get("Timestamp"));
    env.security_token = get("SecurityToken").is_some_and(|t| !t.is_empty());
    env.params = Params::Query(
        pairs
            .iter()
            .filter(|(n, _)| !COMMON.contains(&n.as_str()))
            .cloned()
            .collect(),
    );

    if req.method != Method::GET && req.method != Method::POST {
        return Err(Rejection::Method(req.method.to_string()));
    }
    let key_id = get("AccessKeyId").ok_or(Rejection::MissingCommon("AccessKeyId"))?;
    let known = auth::key(emu, Vendor::Alibaba, key_id)?;
    let key = &known.key;
    let signature = get("Signature").ok_or(Rejection::MissingCommon("Signature"))?;
    match get("SignatureMethod") {
        None => return Err(Rejection::MissingCommon("SignatureMethod")),
        Some(m) if m != rpc_v1::SIGNATURE_METHOD => {
            return Err(Rejection::SignatureMethod(format!("SignatureMethod {m}")))
        }
        Some(_) => {}
    }
    match get("SignatureVersion") {
        None => return Err(Rejection::MissingCommon("SignatureVersion")),
        Some(v) if v != rpc_v1::SIGNATURE_VERSION => {
            return Err(Rejection::SignatureMethod(format!("SignatureVersion {v}")))
        }
        Some(_) => {}
    }
    let timestamp = get("Timestamp").ok_or(Rejection::MissingCommon("Timestamp"))?;
    let skew = alibaba::check_timestamp(timestamp, clock)?;
    let nonce = get("SignatureNonce").ok_or(Rejection::MissingCommon("SignatureNonce"))?;

    let signed: Vec<(String, String)> = pairs
        .iter()
        .filter(|(n, _)| n != "Signature")
        .cloned()
        .collect();
    let (string_to_sign, expected) =
        rpc_v1::compute_signature(req.method.as_str(), &signed, &key.secret);
    if !constant_time_eq(&expected, signature) {
        return Err(Rejection::SignatureMismatch {
            string_to_sign,
            detail: None,
        });
    }
    auth::check_token(key, get("SecurityToken"))?;
    auth::check_expiry(emu, &known, clock)?;
    alibaba::use_nonce(emu, key_id, nonce, skew, clock)
}
