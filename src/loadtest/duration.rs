//! Durations on the command line: `10s`, `500ms`, `2m`, `1h`, `1.5s`, `250us`.

use std::time::Duration;

/// A duration that does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid duration {input:?}: {reason} (examples: 10s, 500ms, 2m, 1h)")]
pub struct DurationError {
    /// The text given.
    pub input: String,
    /// What is wrong with it.
    pub reason: &'static str,
}

/// Parses `<number><unit>` with unit `us`, `ms`, `s`, `m` or `h`; the number may have a
/// fraction (`1.5s`). A bare `0` is zero; any other bare number is refused, so `10`
/// never silently means ten milliseconds or ten minutes.
pub fn parse_duration(input: &str) -> Result<Duration, DurationError> {
    let err = |reason| DurationError {
        input: input.to_string(),
        reason,
    };
    let text = input.trim();
    if text.is_empty() {
        return Err(err("empty"));
    }
    if text == "0" {
        return Ok(Duration::ZERO);
    }
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .ok_or_else(|| err("missing unit"))?;
    let (number, unit) = text.split_at(split);
    if number.is_empty() || number.starts_with('.') || number.ends_with('.') {
        return Err(err("expected a number before the unit"));
    }
    let value: f64 = number.parse().map_err(|_| err("not a number"))?;
    let seconds_per_unit = match unit {
        "us" | "µs" => 1e-6,
        "ms" => 1e-3,
        "s" => 1.0,
        "m" => 60.0,
        "h" => 3600.0,
        _ => return Err(err("unknown unit (use us, ms, s, m or h)")),
    };
    let seconds = value * seconds_per_unit;
    // A year is far more than any option accepts; beyond it is certainly a typo.
    if !seconds.is_finite() || seconds > 365.0 * 24.0 * 3600.0 {
        return Err(err("too large"));
    }
    Ok(Duration::from_secs_f64(seconds))
}

/// Formats a duration compactly for people: `850us`, `12.3ms`, `1.50s`.
pub fn format_duration(d: Duration) -> String {
    let us = d.as_micros();
    if us < 1_000 {
        format!("{us}us")
    } else if us < 1_000_000 {
        format!("{:.1}ms", us as f64 / 1e3)
    } else {
        format!("{:.2}s", d.as_secs_f64())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_unit() {
        assert_eq!(parse_duration("10s"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("1h"), Ok(Duration::from_secs(3600)));
        assert_eq!(parse_duration("250us"), Ok(Duration::from_micros(250)));
        assert_eq!(parse_duration("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_duration(" 3s "), Ok(Duration::from_secs(3)));
        assert_eq!(parse_duration("0"), Ok(Duration::ZERO));
        assert_eq!(parse_duration("0s"), Ok(Duration::ZERO));
    }

    #[test]
    fn refuses_bad_input_with_a_reason() {
        for (input, reason) in [
            ("", "empty"),
            ("10", "missing unit"),
            ("s", "expected a number before the unit"),
            ("10x", "unknown unit (use us, ms, s, m or h)"),
            ("10 s", "unknown unit (use us, ms, s, m or h)"),
            ("-1s", "expected a number before the unit"),
            ("1.2.3s", "not a number"),
            (".5s", "expected a number before the unit"),
            ("5.s", "expected a number before the unit"),
            ("99999999999h", "too large"),
            ("10sec", "unknown unit (use us, ms, s, m or h)"),
        ] {
            let e = parse_duration(input).unwrap_err();
            assert_eq!(e.reason, reason, "{input:?}");
            assert!(e.to_string().contains("examples: 10s"), "{e}");
        }
    }

    #[test]
    fn formats_for_people() {
        assert_eq!(format_duration(Duration::from_micros(850)), "850us");
        assert_eq!(format_duration(Duration::from_micros(12_345)), "12.3ms");
        assert_eq!(format_duration(Duration::from_millis(1500)), "1.50s");
    }
}
