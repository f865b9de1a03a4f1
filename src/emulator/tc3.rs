//! Tencent TC3 front end (`TC3-HMAC-SHA256`): common parameters in `X-TC-*` headers, the
//! operation parameters in a JSON body, signed headers `content-type;host`.

use axum::http::Method;
use serde_json::{Map, Value};

use crate::catalog::Vendor;
use crate::signing::{constant_time_eq, tc3};

use super::rejection::Rejection;
use super::request::{clip, clip_opt, Clock, Envelope, Params, RawRequest};
use super::{auth, Emulator};

/// Largest accepted distance between `X-TC-Timestamp` and the server clock.
pub(crate) const MAX_SKEW_SECS: i64 = 5 * 60;

/// Reads the envelope and verifies the signature, token and timestamp. The body is parsed
/// first (so failed calls are recorded with their parameters) but a malformed body is only
/// reported once the signature verified.
pub(crate) fn authenticate(
    emu: &Emulator,
    req: &RawRequest,
    env: &mut Envelope,
    clock: &Clock,
) -> Result<(), Rejection> {
    env.action = clip(req.header("x-tc-action").unwrap_or_default());
    env.version = clip_opt(req.header("x-tc-version"));
    env.region = clip_opt(req.header("x-tc-region"));
    env.timestamp = clip_opt(req.header("x-tc-timestamp"));
    env.security_token = req.header("x-tc-token").is_some_and(|t| !t.is_empty());
    let body = parse_body(&req.body);
    if let Ok(map) = &body {
        env.params = Params::Json(map.clone());
    }

    if req.method != Method::POST {
        return Err(Rejection::Method(req.method.to_string()));
    }
    let authorization = req.header("authorization").ok_or_else(|| {
        Rejection::IncompleteSignature("the Authorization header is missing".into())
    })?;
    let parsed = tc3::parse_authorization(authorization).ok_or_else(|| {
        Rejection::IncompleteSignature("the Authorization header is malformed".into())
    })?;
    env.key_id = Some(clip(&parsed.secret_id));
    let known = auth::key(emu, Vendor::Tencent, &parsed.secret_id)?;
    let key = &known.key;
    let ts_text = req
        .header("x-tc-timestamp")
        .ok_or(Rejection::MissingHeader("X-TC-Timestamp"))?;
    let timestamp: i64 = ts_text
        .trim()
        .parse()
        .map_err(|_| Rejection::TimestampFormat(clip(ts_text)))?;
    let skew = timestamp.saturating_sub(clock.wall.timestamp());
    auth::check_skew(ts_text, skew, MAX_SKEW_SECS)?;
    if parsed.signed_headers.len() != 2
        || !["content-type", "host"]
            .iter()
            .all(|h| parsed.signed_headers.iter().any(|s| s == h))
    {
        return Err(Rejection::IncompleteSignature(format!(
            "SignedHeaders must be {}",
            tc3::SIGNED_HEADERS
        )));
    }

    // The product's signing service when the action is known (the one the
    // client names, when several products have the action), else what the
    // client claims.
    let candidates: Vec<&str> = emu
        .catalog
        .with_action(Vendor::Tencent, &env.action)
        .filter(|op| env.version.as_deref().is_none_or(|v| op.version() == v))
        .map(|op| op.service.rule.signing_service.as_str())
        .collect();
    let service = if candidates.is_empty() || candidates.contains(&parsed.service.as_str()) {
        parsed.service.clone()
    } else {
        candidates[0].to_string()
    };
    env.service = Some(service.clone());
    let signed = tc3::sign(&tc3::Tc3Input {
        host: &req.host,
        service: &service,
        secret_id: &parsed.secret_id,
        secret_key: &key.secret,
        timestamp,
        content_type: req.header("content-type").unwrap_or_default(),
        body: &req.body,
    });
    let signature_ok = constant_time_eq(&signed.signature, &parsed.signature);
    if !signature_ok || parsed.date != signed.date || parsed.service != service {
        return Err(Rejection::SignatureMismatch {
            string_to_sign: signed.string_to_sign,
            detail: None,
        });
    }
    auth::check_token(key, req.header("x-tc-token"))?;
    auth::check_expiry(emu, &known, clock)?;
    body.map(|_| ())
}

/// The JSON object body; an empty body is an empty object.
fn parse_body(body: &[u8]) -> Result<Map<String, Value>, Rejection> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Map::new());
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(Rejection::Malformed {
            what: "request body".into(),
            reason: "it must be a JSON object".into(),
        }),
        Err(e) => Err(Rejection::Malformed {
            what: "request body".into(),
            reason: format!("it is not valid JSON ({e})"),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies() {
        assert_eq!(parse_body(b"").unwrap(), Map::new());
        assert_eq!(parse_body(b" \n").unwrap(), Map::new());
        assert_eq!(parse_body(br#"{"A": 1}"#).unwrap()["A"], 1);
        assert!(parse_body(b"[1]").is_err());
        assert!(parse_body(b"{").is_err());
        assert!(parse_body(&[0xff, 0xfe]).is_err());
    }
}
