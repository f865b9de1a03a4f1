//! Request signing for the vendor APIs: Alibaba RPC v1 (HMAC-SHA1), Alibaba V3 (ACS3-HMAC-SHA256) and Tencent TC3-HMAC-SHA256.

pub mod acs3;
pub mod encode;
pub mod rpc_v1;
pub mod tc3;

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// Lowercase hex SHA-256 of `data`.
pub fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

/// Constant-time equality of two strings (for signature verification).
///
/// The comparison time depends only on the lengths, never on where the contents differ.
pub fn constant_time_eq(a: &str, b: &str) -> bool {
    a.as_bytes().ct_eq(b.as_bytes()).into()
}

/// A fresh nonce: 32 lowercase hex characters (128 bits) from the thread-local CSPRNG.
pub fn new_nonce() -> String {
    let bytes: [u8; 16] = rand::random();
    hex::encode(bytes)
}

/// Formats `t` as `yyyy-MM-ddTHH:mm:ssZ` (UTC, no fractional seconds), as both Alibaba schemes expect.
pub fn iso8601(t: chrono::DateTime<chrono::Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// Raw HMAC-SHA256 of `data` under `key`.
pub(crate) fn hmac_sha256(key: &[u8], data: &[u8]) -> [u8; 32] {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("hmac accepts any key length");
    mac.update(data);
    mac.finalize().into_bytes().into()
}

/// Raw HMAC-SHA1 of `data` under `key`.
pub(crate) fn hmac_sha1(key: &[u8], data: &[u8]) -> [u8; 20] {
    let mut mac = Hmac::<sha1::Sha1>::new_from_slice(key).expect("hmac accepts any key length");
    mac.update(data);
    mac.finalize().into_bytes().into()
}

/// Splits `<ALGORITHM> Credential=..,SignedHeaders=a;b,Signature=..` (spaces
/// after the commas allowed) into (credential, lowercased signed header names,
/// signature). `None` when the algorithm differs, a field is missing, repeated,
/// empty, unknown or contains whitespace, or a header name is empty.
pub(crate) fn split_authorization<'a>(
    value: &'a str,
    algorithm: &str,
) -> Option<(&'a str, Vec<String>, &'a str)> {
    let rest = value.trim().strip_prefix(algorithm)?;
    if !rest.starts_with(' ') {
        return None;
    }
    let mut credential = None;
    let mut signed_headers = None;
    let mut signature = None;
    for part in rest.split(',') {
        let (key, val) = part.trim().split_once('=')?;
        if val.is_empty() || val.chars().any(char::is_whitespace) {
            return None;
        }
        let slot = match key {
            "Credential" => &mut credential,
            "SignedHeaders" => &mut signed_headers,
            "Signature" => &mut signature,
            _ => return None,
        };
        if slot.replace(val).is_some() {
            return None;
        }
    }
    let names: Vec<String> = signed_headers?
        .split(';')
        .map(str::to_ascii_lowercase)
        .collect();
    if names.iter().any(String::is_empty) {
        return None;
    }
    Some((credential?, names, signature?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn sha256_hex_known_answers() {
        assert_eq!(sha256_hex(b""), acs3::EMPTY_SHA256);
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn hmac_known_answers() {
        // RFC 4231 test case 2 and RFC 2202 test case 2.
        assert_eq!(
            hex::encode(hmac_sha256(b"Jefe", b"what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        assert_eq!(
            hex::encode(hmac_sha1(b"Jefe", b"what do ya want for nothing?")),
            "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79"
        );
    }

    #[test]
    fn constant_time_eq_behaviour() {
        assert!(constant_time_eq("abc", "abc"));
        assert!(constant_time_eq("", ""));
        assert!(!constant_time_eq("abc", "abd"));
        assert!(!constant_time_eq("abc", "abcd"));
        assert!(!constant_time_eq("abc", ""));
    }

    #[test]
    fn nonce_is_32_lowercase_hex_and_fresh() {
        let a = new_nonce();
        let b = new_nonce();
        assert_eq!(a.len(), 32);
        assert!(a
            .bytes()
            .all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(&c)));
        assert_ne!(a, b);
    }

    #[test]
    fn iso8601_format() {
        let t = chrono::Utc
            .with_ymd_and_hms(2025, 1, 15, 8, 30, 45)
            .single()
            .expect("valid date");
        assert_eq!(iso8601(t), "2025-01-15T08:30:45Z");
        let t = chrono::Utc
            .timestamp_opt(1_736_929_845, 999_000_000)
            .single()
            .expect("valid timestamp");
        assert_eq!(iso8601(t), "2025-01-15T08:30:45Z");
    }
}
