//! Alibaba Cloud percent-encoding (RFC 3986 unreserved set) and canonical query strings.

use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

/// Every byte except `A-Z a-z 0-9 - _ . ~` is encoded.
const ALIBABA_ENCODE_SET: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// Alibaba percent-encoding: UTF-8, keep `A-Z a-z 0-9 - _ . ~`, everything else `%XY` uppercase.
///
/// So space becomes `%20` (never `+`), `*` becomes `%2A` and `~` stays as it is.
pub fn pe(s: &str) -> String {
    utf8_percent_encode(s, ALIBABA_ENCODE_SET).to_string()
}

/// Sorted (byte order by name) `pe(name)=pe(value)` joined by `&`. Input need not be sorted.
///
/// Repeated names are kept and ordered by value, so the output is deterministic.
/// An empty slice gives an empty string; an empty value gives `name=`.
pub fn canonical_query(params: &[(String, String)]) -> String {
    let mut sorted: Vec<&(String, String)> = params.iter().collect();
    sorted.sort();
    let mut out = String::new();
    for (i, (name, value)) in sorted.into_iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        out.push_str(&pe(name));
        out.push('=');
        out.push_str(&pe(value));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(name: &str, value: &str) -> (String, String) {
        (name.to_string(), value.to_string())
    }

    #[test]
    fn pe_documented_examples() {
        assert_eq!(pe(" "), "%20");
        assert_eq!(pe("*"), "%2A");
        assert_eq!(pe("~"), "~");
        assert_eq!(pe("/"), "%2F");
        assert_eq!(pe("+"), "%2B");
        assert_eq!(pe("="), "%3D");
        assert_eq!(pe("&"), "%26");
        assert_eq!(pe("%"), "%25");
        assert_eq!(pe(":"), "%3A");
        assert_eq!(pe("测"), "%E6%B5%8B");
        assert_eq!(pe("ü"), "%C3%BC");
        assert_eq!(pe(""), "");
        let unreserved = "ABCXYZabcxyz0123456789-_.~";
        assert_eq!(pe(unreserved), unreserved);
    }

    #[test]
    fn pe_encodes_every_other_ascii_byte_uppercase() {
        for b in 0u8..0x80 {
            let s = (b as char).to_string();
            let keep = b.is_ascii_alphanumeric() || b"-_.~".contains(&b);
            let expected = if keep { s.clone() } else { format!("%{b:02X}") };
            assert_eq!(pe(&s), expected, "byte {b:#04x}");
        }
    }

    #[test]
    fn canonical_query_sorts_by_name_as_strings() {
        let params = vec![
            p("PermissionCodes.2", "b"),
            p("PermissionCodes.10", "j"),
            p("Action", "X"),
            p("PermissionCodes.1", "a"),
            p("Empty", ""),
            p("Space", "a b*~"),
        ];
        assert_eq!(
            canonical_query(&params),
            "Action=X&Empty=&PermissionCodes.1=a&PermissionCodes.10=j&PermissionCodes.2=b&Space=a%20b%2A~"
        );
        assert_eq!(canonical_query(&[]), "");
    }

    #[test]
    fn canonical_query_repeated_names_are_deterministic() {
        let a = vec![p("A", "2"), p("A", "1")];
        let b = vec![p("A", "1"), p("A", "2")];
        assert_eq!(canonical_query(&a), "A=1&A=2");
        assert_eq!(canonical_query(&a), canonical_query(&b));
    }
}
