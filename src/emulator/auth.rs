//! Checks shared by the three schemes: key lookup, security token, clock skew.

use crate::catalog::Vendor;
use crate::signing::constant_time_eq;

use super::config::EmulatorKey;
use super::rejection::Rejection;
use super::request::Clock;
use super::sts::KnownKey;
use super::Emulator;

/// The key with this id (configured or issued), or [`Rejection::UnknownKey`].
pub(crate) fn key(emu: &Emulator, vendor: Vendor, id: &str) -> Result<KnownKey, Rejection> {
    emu.known_key(vendor, id).ok_or(Rejection::UnknownKey)
}

/// An issued (temporary) key past its expiry is refused, once its signature and token
/// verified.
pub(crate) fn check_expiry(emu: &Emulator, key: &KnownKey, clock: &Clock) -> Result<(), Rejection> {
    match key.expires_at {
        Some(t) if clock.wall >= t => {
            emu.issued.note_expired();
            Err(Rejection::TokenExpired)
        }
        _ => Ok(()),
    }
}

/// A key registered with a token requires exactly that token; a key without one accepts
/// none (an empty value counts as absent).
pub(crate) fn check_token(key: &EmulatorKey, sent: Option<&str>) -> Result<(), Rejection> {
    let sent = sent.filter(|t| !t.is_empty());
    match (key.token.as_deref(), sent) {
        (None, None) => Ok(()),
        (Some(_), None) => Err(Rejection::MissingToken),
        (Some(expected), Some(sent)) if constant_time_eq(expected, sent) => Ok(()),
        _ => Err(Rejection::WrongToken),
    }
}

/// `skew_secs` (request time minus server time) within `max_secs` either way.
pub(crate) fn check_skew(value: &str, skew_secs: i64, max_secs: i64) -> Result<(), Rejection> {
    if skew_secs.checked_abs().is_some_and(|s| s <= max_secs) {
        Ok(())
    } else {
        Err(Rejection::TimestampExpired {
            value: value.to_string(),
            skew_secs,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens() {
        let plain = EmulatorKey::new(Vendor::Alibaba, "a", "s");
        let sts = plain.clone().with_token("tok");
        assert_eq!(check_token(&plain, None), Ok(()));
        assert_eq!(check_token(&plain, Some("")), Ok(()));
        assert_eq!(check_token(&plain, Some("tok")), Err(Rejection::WrongToken));
        assert_eq!(check_token(&sts, None), Err(Rejection::MissingToken));
        assert_eq!(check_token(&sts, Some("")), Err(Rejection::MissingToken));
        assert_eq!(check_token(&sts, Some("tok2")), Err(Rejection::WrongToken));
        assert_eq!(check_token(&sts, Some("tok")), Ok(()));
    }

    #[test]
    fn skew_limits_both_ways_and_never_overflows() {
        assert!(check_skew("t", 900, 900).is_ok());
        assert!(check_skew("t", -900, 900).is_ok());
        assert!(check_skew("t", 901, 900).is_err());
        assert!(check_skew("t", -901, 900).is_err());
        assert!(check_skew("t", i64::MIN, 900).is_err());
    }
}
