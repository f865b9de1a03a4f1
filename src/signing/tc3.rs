//! Tencent Cloud API 3.0 signature `TC3-HMAC-SHA256` (signed headers `content-type;host`, POST JSON body).

use std::fmt;

use super::{hmac_sha256, sha256_hex};

/// Algorithm name, first line of the string to sign and prefix of `Authorization`.
pub const ALGORITHM: &str = "TC3-HMAC-SHA256";
/// The headers [`sign`] signs, as they appear in `SignedHeaders=`.
pub const SIGNED_HEADERS: &str = "content-type;host";
/// Last element of the credential scope and of the key derivation.
pub const TERMINATOR: &str = "tc3_request";

/// Everything needed to sign one TC3 request (`POST /`, empty query). Holds the secret key:
/// no derived `Debug`.
pub struct Tc3Input<'a> {
    /// Endpoint host (`Host` header), e.g. `dlc.tencentcloudapi.com`.
    pub host: &'a str,
    /// Service name in the credential scope, e.g. `"dlc"`.
    pub service: &'a str,
    /// SecretId (goes into `Credential=`).
    pub secret_id: &'a str,
    /// SecretKey; the first derivation key is `"TC3" + secret_key`.
    pub secret_key: &'a str,
    /// `X-TC-Timestamp`, Unix seconds; its UTC date is the scope date.
    pub timestamp: i64,
    /// Exact `Content-Type` value sent, e.g. `application/json`.
    pub content_type: &'a str,
    /// Exact body bytes sent.
    pub body: &'a [u8],
}

impl fmt::Debug for Tc3Input<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tc3Input")
            .field("host", &self.host)
            .field("service", &self.service)
            .field("secret_id", &self.secret_id)
            .field("secret_key", &"<redacted>")
            .field("timestamp", &self.timestamp)
            .field("content_type", &self.content_type)
            .field("body_len", &self.body.len())
            .finish()
    }
}

/// Result of [`sign`]: every intermediate. `Debug` redacts the derived keys.
#[derive(Clone, PartialEq, Eq)]
pub struct Tc3Signed {
    /// UTC date of the timestamp, `YYYY-MM-DD`.
    pub date: String,
    /// `date/service/tc3_request`.
    pub credential_scope: String,
    /// Lowercase hex SHA-256 of the body.
    pub hashed_request_payload: String,
    /// The canonical request that was hashed.
    pub canonical_request: String,
    /// `TC3-HMAC-SHA256\n<timestamp>\n<scope>\n<hex sha256(canonical request)>`.
    pub string_to_sign: String,
    /// Derived key `HMAC("TC3" + key, date)`, hex. Secret: redacted in `Debug`.
    pub secret_date_hex: String,
    /// Derived key `HMAC(secret_date, service)`, hex. Secret: redacted in `Debug`.
    pub secret_service_hex: String,
    /// Derived key `HMAC(secret_service, "tc3_request")`, hex. Secret: redacted in `Debug`.
    pub secret_signing_hex: String,
    /// Lowercase hex HMAC-SHA256(secret_signing, string_to_sign).
    pub signature: String,
    /// Value of the `Authorization` header.
    pub authorization: String,
}

impl fmt::Debug for Tc3Signed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tc3Signed")
            .field("date", &self.date)
            .field("credential_scope", &self.credential_scope)
            .field("hashed_request_payload", &self.hashed_request_payload)
            .field("canonical_request", &self.canonical_request)
            .field("string_to_sign", &self.string_to_sign)
            .field("secret_date_hex", &"<redacted>")
            .field("secret_service_hex", &"<redacted>")
            .field("secret_signing_hex", &"<redacted>")
            .finish_non_exhaustive()
    }
}

/// Signs one TC3 request: `POST /`, empty query, signed headers `content-type;host`.
///
/// The content type and host are used verbatim (as the official SDKs do), so pass exactly
/// the values that are sent.
pub fn sign(input: &Tc3Input) -> Tc3Signed {
    let date = utc_date(input.timestamp);
    let credential_scope = format!("{date}/{}/{TERMINATOR}", input.service);
    let hashed_request_payload = sha256_hex(input.body);
    let canonical_request = format!(
        "POST\n/\n\ncontent-type:{}\nhost:{}\n\n{SIGNED_HEADERS}\n{hashed_request_payload}",
        input.content_type, input.host
    );
    let string_to_sign = format!(
        "{ALGORITHM}\n{}\n{credential_scope}\n{}",
        input.timestamp,
        sha256_hex(canonical_request.as_bytes())
    );

    let mut first_key = String::with_capacity(3 + input.secret_key.len());
    first_key.push_str("TC3");
    first_key.push_str(input.secret_key);
    let secret_date = hmac_sha256(first_key.as_bytes(), date.as_bytes());
    let secret_service = hmac_sha256(&secret_date, input.service.as_bytes());
    let secret_signing = hmac_sha256(&secret_service, TERMINATOR.as_bytes());
    let signature = hex::encode(hmac_sha256(&secret_signing, string_to_sign.as_bytes()));

    let authorization = format!(
        "{ALGORITHM} Credential={}/{credential_scope}, SignedHeaders={SIGNED_HEADERS}, Signature={signature}",
        input.secret_id
    );

    Tc3Signed {
        date,
        credential_scope,
        hashed_request_payload,
        canonical_request,
        string_to_sign,
        secret_date_hex: hex::encode(secret_date),
        secret_service_hex: hex::encode(secret_service),
        secret_signing_hex: hex::encode(secret_signing),
        signature,
        authorization,
    }
}

/// UTC calendar date (`YYYY-MM-DD`) of a Unix timestamp; total over all `i64` (proleptic
/// Gregorian, H. Hinnant's `civil_from_days`), so it never panics.
fn utc_date(timestamp: i64) -> String {
    let days = timestamp.div_euclid(86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097); // [0, 146096]
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365; // [0, 399]
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100); // [0, 365]
    let mp = (5 * doy + 2) / 153; // [0, 11]
    let day = doy - (153 * mp + 2) / 5 + 1; // [1, 31]
    let month = if mp < 10 { mp + 3 } else { mp - 9 }; // [1, 12]
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}")
}

/// A parsed TC3 `Authorization` header.
#[derive(Clone, PartialEq, Eq)]
pub struct Tc3Authorization {
    /// SecretId from `Credential=`.
    pub secret_id: String,
    /// Scope date from `Credential=`.
    pub date: String,
    /// Service from `Credential=`.
    pub service: String,
    /// The `SignedHeaders=` names, lowercased, in the order given.
    pub signed_headers: Vec<String>,
    /// The `Signature=` value.
    pub signature: String,
}

impl std::fmt::Debug for Tc3Authorization {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tc3Authorization")
            .field("signed_headers", &self.signed_headers)
            .field("signature", &"<redacted>")
            .finish_non_exhaustive()
    }
}

/// Parses `TC3-HMAC-SHA256 Credential=<id>/<date>/<service>/tc3_request, SignedHeaders=a;b, Signature=<hex>`;
/// `None` when malformed.
///
/// Spaces after the commas are optional; each field must appear exactly once, be non-empty
/// and contain no whitespace; unknown fields are rejected.
pub fn parse_authorization(value: &str) -> Option<Tc3Authorization> {
    let (credential, signed_headers, signature) = super::split_authorization(value, ALGORITHM)?;

    // SecretId/date/service/tc3_request, split from the right.
    let mut scope = credential.rsplitn(4, '/');
    let terminator = scope.next()?;
    let service = scope.next()?;
    let date = scope.next()?;
    let secret_id = scope.next()?;
    if terminator != TERMINATOR || service.is_empty() || date.is_empty() || secret_id.is_empty() {
        return None;
    }

    Some(Tc3Authorization {
        secret_id: secret_id.to_string(),
        date: date.to_string(),
        service: service.to_string(),
        signed_headers,
        signature: signature.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    const VECTORS: &str = include_str!("../../tests/vectors/tencent_tc3.json");

    /// Vector ids covered by one `#[test]` each below.
    const TESTED_IDS: &[&str] = &[
        "tencent-tc3-modify-user-type",
        "tencent-tc3-modify-user-type-sts-intl",
        "tencent-tc3-modify-user-type-charset-utf8-compact",
    ];

    fn vectors() -> Vec<Value> {
        let file: Value = serde_json::from_str(VECTORS).expect("vector file is JSON");
        file["vectors"].as_array().expect("vectors array").clone()
    }

    fn s<'a>(v: &'a Value, key: &str) -> &'a str {
        v[key]
            .as_str()
            .unwrap_or_else(|| panic!("field {key} is not a string"))
    }

    fn check(id: &str) {
        let all = vectors();
        let v = all
            .iter()
            .find(|v| v["id"] == id)
            .unwrap_or_else(|| panic!("vector {id} not in file"));
        let inputs = &v["inputs"];
        let expected = &v["expected"];
        assert_eq!(s(inputs, "http_method"), "POST", "{id}");
        assert_eq!(s(inputs, "path"), "/", "{id}");

        let input = Tc3Input {
            host: s(inputs, "host"),
            service: s(v, "service"),
            secret_id: s(inputs, "secret_id"),
            secret_key: s(inputs, "secret_key"),
            timestamp: inputs["timestamp"].as_i64().expect("timestamp"),
            content_type: s(inputs, "content_type"),
            body: s(inputs, "body").as_bytes(),
        };
        let out = sign(&input);

        assert_eq!(out.date, s(expected, "date"), "{id}: date");
        assert_eq!(
            out.credential_scope,
            s(expected, "credential_scope"),
            "{id}: scope"
        );
        assert_eq!(
            out.hashed_request_payload,
            s(expected, "hashed_request_payload"),
            "{id}: payload hash"
        );
        assert_eq!(
            s(expected, "signed_headers"),
            SIGNED_HEADERS,
            "{id}: signed headers"
        );
        assert!(
            out.canonical_request.contains(&format!(
                "\n\n{}\n{}\n",
                s(expected, "canonical_headers"),
                SIGNED_HEADERS
            )),
            "{id}: canonical headers"
        );
        assert_eq!(
            out.canonical_request,
            s(expected, "canonical_request"),
            "{id}: canonical request"
        );
        assert_eq!(
            out.string_to_sign,
            s(expected, "string_to_sign"),
            "{id}: string to sign"
        );
        assert_eq!(
            out.secret_date_hex,
            s(expected, "secret_date_hex"),
            "{id}: secret date"
        );
        assert_eq!(
            out.secret_service_hex,
            s(expected, "secret_service_hex"),
            "{id}: secret service"
        );
        assert_eq!(
            out.secret_signing_hex,
            s(expected, "secret_signing_hex"),
            "{id}: secret signing"
        );
        assert_eq!(out.signature, s(expected, "signature"), "{id}: signature");
        assert_eq!(
            out.authorization,
            s(expected, "authorization"),
            "{id}: authorization"
        );

        // The signed and time headers the SDK sent agree with the inputs.
        let sent = &expected["request_headers"];
        assert_eq!(
            s(sent, "Authorization"),
            out.authorization,
            "{id}: sent Authorization"
        );
        assert_eq!(
            s(sent, "Content-Type"),
            input.content_type,
            "{id}: sent Content-Type"
        );
        assert_eq!(s(sent, "Host"), input.host, "{id}: sent Host");
        assert_eq!(
            s(sent, "X-TC-Timestamp"),
            input.timestamp.to_string(),
            "{id}: sent X-TC-Timestamp"
        );
        assert_eq!(
            sent["X-TC-Token"].as_str(),
            inputs["token"].as_str(),
            "{id}: token"
        );

        // Server side: parse the header and re-sign with the received values.
        let auth = parse_authorization(&out.authorization).expect("parsable");
        assert_eq!(
            auth,
            Tc3Authorization {
                secret_id: input.secret_id.to_string(),
                date: out.date.clone(),
                service: input.service.to_string(),
                signed_headers: vec!["content-type".into(), "host".into()],
                signature: out.signature.clone(),
            },
            "{id}: parsed authorization"
        );
        let wrong = sign(&Tc3Input {
            secret_key: "other",
            ..input
        });
        assert_ne!(wrong.signature, out.signature, "{id}: wrong key");
        let wrong = sign(&Tc3Input {
            body: b"{}",
            ..input
        });
        assert_ne!(wrong.signature, out.signature, "{id}: tampered body");
    }

    #[test]
    fn every_vector_has_a_test() {
        let ids: Vec<String> = vectors()
            .iter()
            .map(|v| v["id"].as_str().expect("id").to_string())
            .collect();
        assert_eq!(ids, TESTED_IDS);
    }

    #[test]
    fn vector_modify_user_type() {
        check("tencent-tc3-modify-user-type");
    }

    #[test]
    fn vector_modify_user_type_sts_intl() {
        check("tencent-tc3-modify-user-type-sts-intl");
    }

    #[test]
    fn vector_modify_user_type_charset_utf8_compact() {
        check("tencent-tc3-modify-user-type-charset-utf8-compact");
    }

    #[test]
    fn utc_date_matches_chrono() {
        let mut samples: Vec<i64> = vec![
            0,
            -1,
            86_399,
            86_400,
            951_782_400, // 2000-02-29
            951_868_799,
            1_736_985_599,
            1_736_985_600,
            4_107_542_400,   // 2100-03-01
            -62_135_596_800, // 0001-01-01
            253_402_300_799, // 9999-12-31T23:59:59
        ];
        let mut t: i64 = -5_000_000_000;
        while t < 5_000_000_000 {
            samples.push(t);
            t += 7_777_777;
        }
        for ts in samples {
            let expected = chrono::DateTime::from_timestamp(ts, 0)
                .expect("in range")
                .format("%Y-%m-%d")
                .to_string();
            assert_eq!(utc_date(ts), expected, "timestamp {ts}");
        }
    }

    #[test]
    fn utc_date_never_panics_at_extremes() {
        for ts in [i64::MIN, i64::MIN + 1, i64::MAX, i64::MAX - 1] {
            assert!(!utc_date(ts).is_empty());
        }
    }

    #[test]
    fn parse_authorization_accepts_and_rejects() {
        let ok = parse_authorization(
            "TC3-HMAC-SHA256 Credential=AKID/x/2025-01-15/dlc/tc3_request,SignedHeaders=Content-Type;host, Signature=abc",
        )
        .expect("valid");
        assert_eq!(ok.secret_id, "AKID/x");
        assert_eq!(ok.date, "2025-01-15");
        assert_eq!(ok.service, "dlc");
        assert_eq!(ok.signed_headers, ["content-type", "host"]);
        assert_eq!(ok.signature, "abc");
        for bad in [
            "",
            "TC3-HMAC-SHA256",
            "TC3-HMAC-SHA256 ",
            "ACS3-HMAC-SHA256 Credential=AK/2025-01-15/dlc/tc3_request, SignedHeaders=host, Signature=abc",
            "TC3-HMAC-SHA256Credential=AK/2025-01-15/dlc/tc3_request, SignedHeaders=host, Signature=abc",
            "TC3-HMAC-SHA256 Credential=AK/2025-01-15/dlc/tc3_reques, SignedHeaders=host, Signature=abc",
            "TC3-HMAC-SHA256 Credential=AK/2025-01-15/tc3_request, SignedHeaders=host, Signature=abc",
            "TC3-HMAC-SHA256 Credential=/2025-01-15/dlc/tc3_request, SignedHeaders=host, Signature=abc",
            "TC3-HMAC-SHA256 Credential=AK//dlc/tc3_request, SignedHeaders=host, Signature=abc",
            "TC3-HMAC-SHA256 Credential=AK/2025-01-15//tc3_request, SignedHeaders=host, Signature=abc",
            "TC3-HMAC-SHA256 Credential=AK/2025-01-15/dlc/tc3_request, SignedHeaders=host",
            "TC3-HMAC-SHA256 Credential=AK/2025-01-15/dlc/tc3_request, Signature=abc",
            "TC3-HMAC-SHA256 Credential=AK/2025-01-15/dlc/tc3_request, SignedHeaders=, Signature=abc",
            "TC3-HMAC-SHA256 Credential=AK/2025-01-15/dlc/tc3_request, SignedHeaders=host;, Signature=abc",
            "TC3-HMAC-SHA256 Credential=AK/2025-01-15/dlc/tc3_request, SignedHeaders=host, Signature=",
            "TC3-HMAC-SHA256 Credential=AK/2025-01-15/dlc/tc3_request, SignedHeaders=host, Signature=a, Signature=b",
            "TC3-HMAC-SHA256 Credential=AK/2025-01-15/dlc/tc3_request, SignedHeaders=host, Signature=a, X=1",
            "TC3-HMAC-SHA256 Credential=AK/2025-01-15/dlc/tc3_request SignedHeaders=host Signature=abc",
        ] {
            assert_eq!(parse_authorization(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn debug_redacts_secrets_and_derived_keys() {
        let input = Tc3Input {
            host: "dlc.tencentcloudapi.com",
            service: "dlc",
            secret_id: "AKID",
            secret_key: "very-secret-value",
            timestamp: 1_736_929_845,
            content_type: "application/json",
            body: b"{}",
        };
        assert!(!format!("{input:?}").contains("very-secret-value"));
        let out = sign(&input);
        let dbg = format!("{out:?}");
        for key in [
            &out.secret_date_hex,
            &out.secret_service_hex,
            &out.secret_signing_hex,
        ] {
            assert!(!dbg.contains(key.as_str()));
        }
        assert!(!dbg.contains(&out.signature));
        assert!(dbg.contains("<redacted>"));
    }
}
