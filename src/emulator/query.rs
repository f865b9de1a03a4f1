//! `application/x-www-form-urlencoded` parsing for query strings and form bodies.
//!
//! Both wire forms decode to the same values: the Python SDKs send `urlencode` output
//! (space as `+`), the gateway sends RFC 3986 (space as `%20`).

use percent_encoding::percent_decode;

/// A query string that does not decode.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the {part} of query item {index} is not valid UTF-8 once percent-decoded")]
pub(crate) struct QueryError {
    /// `"name"` or `"value"`.
    pub part: &'static str,
    /// 1-based position of the `name=value` item.
    pub index: usize,
}

/// Parses `a=1&b=x+y&c=%2B&d` into pairs in order: `+` is a space, `%XY` a byte, a bare
/// name has an empty value, empty items are skipped. Repeated names are kept.
pub(crate) fn parse(raw: &str) -> Result<Vec<(String, String)>, QueryError> {
    let mut out = Vec::new();
    for (i, item) in raw.split('&').enumerate() {
        if item.is_empty() {
            continue;
        }
        let (name, value) = item.split_once('=').unwrap_or((item, ""));
        let index = i + 1;
        let name = decode(name).ok_or(QueryError {
            part: "name",
            index,
        })?;
        let value = decode(value).ok_or(QueryError {
            part: "value",
            index,
        })?;
        out.push((name, value));
    }
    Ok(out)
}

/// The first value of `name`.
pub(crate) fn first<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

fn decode(s: &str) -> Option<String> {
    let spaced: Vec<u8> = s
        .bytes()
        .map(|b| if b == b'+' { b' ' } else { b })
        .collect();
    percent_decode(&spaced)
        .decode_utf8()
        .ok()
        .map(|c| c.into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(n: &str, v: &str) -> (String, String) {
        (n.to_string(), v.to_string())
    }

    #[test]
    fn plus_and_percent_twenty_both_mean_space() {
        assert_eq!(
            parse("A=x+y&B=x%20y").unwrap(),
            [p("A", "x y"), p("B", "x y")]
        );
    }

    #[test]
    fn reserved_characters_and_utf8_decode() {
        let q = "V=a%2Bb%3Dc%26d%2A~%2F&W=%E6%B5%8B%C3%BC";
        assert_eq!(parse(q).unwrap(), [p("V", "a+b=c&d*~/"), p("W", "测ü")]);
    }

    #[test]
    fn bare_names_empty_items_and_repeats() {
        assert_eq!(
            parse("&A&B=&&A=2&").unwrap(),
            [p("A", ""), p("B", ""), p("A", "2")]
        );
        assert_eq!(parse("").unwrap(), []);
        let pairs = parse("A=1&A=2").unwrap();
        assert_eq!(first(&pairs, "A"), Some("1"));
        assert_eq!(first(&pairs, "B"), None);
    }

    #[test]
    fn value_may_contain_equals() {
        assert_eq!(parse("Sig=abc==").unwrap(), [p("Sig", "abc==")]);
    }

    #[test]
    fn invalid_utf8_is_an_error_not_a_panic() {
        assert_eq!(
            parse("A=1&B=%FF").unwrap_err(),
            QueryError {
                part: "value",
                index: 2
            }
        );
        assert_eq!(parse("%C3=1").unwrap_err().part, "name");
        // A stray % that is not an escape is kept literally.
        assert_eq!(parse("A=100%").unwrap(), [p("A", "100%")]);
    }
}
