//! Alibaba V3 front end (`ACS3-HMAC-SHA256`): action, version, date and nonce in `x-acs-*`
//! headers, operation parameters in the query string (or a form body).

use axum::http::Method;

use crate::catalog::Vendor;
use crate::signing::{acs3, constant_time_eq, sha256_hex};

use super::rejection::Rejection;
use super::request::{clip, clip_opt, Clock, Envelope, Params, RawRequest};
use super::{alibaba, auth, query, Emulator};

/// Reads the envelope and verifies the signature, signed-header coverage, body hash,
/// token, timestamp and nonce.
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
    let query = query::parse(&req.query).map_err(|e| malformed("query string", e.to_string()))?;
    let mut params = query.clone();
    if req.is_form() {
        let body = std::str::from_utf8(&req.body)
            .map_err(|_| malformed("form body", "it is not UTF-8".into()))?;
        let form = query::parse(body).map_err(|e| malformed("form body", e.to_string()))?;
        env.form_params = form.iter().map(|(k, _)| k.clone()).collect();
        params.extend(form);
    }
    env.action = clip(req.header("x-acs-action").unwrap_or_default());
    env.version = clip_opt(req.header("x-acs-version"));
    env.nonce = clip_opt(req.header("x-acs-signature-nonce"));
    env.timestamp = clip_opt(req.header("x-acs-date"));
    env.security_token = req
        .header("x-acs-security-token")
        .is_some_and(|t| !t.is_empty());
    env.params = Params::Query(params);

    if req.method != Method::GET && req.method != Method::POST {
        return Err(Rejection::Method(req.method.to_string()));
    }
    let authorization = req.header("authorization").ok_or_else(|| {
        Rejection::IncompleteSignature("the Authorization header is missing".into())
    })?;
    let parsed = acs3::parse_authorization(authorization).ok_or_else(|| {
        let algorithm = authorization.split_whitespace().next().unwrap_or_default();
        if algorithm.starts_with("ACS3-") && algorithm != acs3::ALGORITHM {
            Rejection::SignatureMethod(clip(algorithm))
        } else {
            Rejection::IncompleteSignature("the Authorization header is malformed".into())
        }
    })?;
    env.key_id = Some(clip(&parsed.access_key_id));
    let known = auth::key(emu, Vendor::Alibaba, &parsed.access_key_id)?;
    let key = &known.key;
    let date = req
        .header("x-acs-date")
        .ok_or(Rejection::MissingHeader("x-acs-date"))?;
    let skew = alibaba::check_timestamp(date, clock)?;
    let nonce = req
        .header("x-acs-signature-nonce")
        .ok_or(Rejection::MissingHeader("x-acs-signature-nonce"))?;
    let content_sha = req
        .header("x-acs-content-sha256")
        .ok_or(Rejection::MissingHeader("x-acs-content-sha256"))?;

    // host and every x-acs-* header sent must be signed; every signed header must be sent.
    let must_sign = std::iter::once("host").chain(
        req.headers
            .keys()
            .map(|n| n.as_str())
            .filter(|n| n.starts_with("x-acs-")),
    );
    for name in must_sign {
        if !parsed.signed_headers.iter().any(|s| s == name) {
            return Err(Rejection::IncompleteSignature(format!(
                "the header {name} must be signed"
            )));
        }
    }
    let mut headers = Vec::new();
    for name in &parsed.signed_headers {
        let mut values = req.headers.get_all(name.as_str()).iter().peekable();
        if values.peek().is_none() {
            return Err(Rejection::IncompleteSignature(format!(
                "the signed header {} was not sent",
                clip(name)
            )));
        }
        for value in values {
            headers.push((
                name.clone(),
                String::from_utf8_lossy(value.as_bytes()).into_owned(),
            ));
        }
    }

    // The server's own view: the hash of the body it received.
    let body_hash = sha256_hex(&req.body);
    let (canonical_request, _) =
        acs3::canonical_request(req.method.as_str(), &req.path, &query, &headers, &body_hash);
    let string_to_sign = acs3::string_to_sign(&canonical_request);
    if content_sha != body_hash {
        return Err(Rejection::SignatureMismatch {
            string_to_sign,
            detail: Some("x-acs-content-sha256 is not the SHA-256 of the request body".into()),
        });
    }
    let expected = acs3::signature(&key.secret, &string_to_sign);
    if !constant_time_eq(&expected, &parsed.signature) {
        return Err(Rejection::SignatureMismatch {
            string_to_sign,
            detail: None,
        });
    }
    auth::check_token(key, req.header("x-acs-security-token"))?;
    auth::check_expiry(emu, &known, clock)?;
    if let Some(id) = req.header("x-acs-accesskey-id") {
        if id != parsed.access_key_id {
            return Err(Rejection::WrongToken);
        }
    }
    alibaba::use_nonce(emu, &parsed.access_key_id, nonce, skew, clock)
}
