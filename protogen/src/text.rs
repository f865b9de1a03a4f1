//! Text helpers: identifiers from vendor names, comments from vendor prose,
//! order-preserving JSON compaction, QPS figures in prose, proto literals.

use std::sync::LazyLock;

use regex::Regex;

/// `lower_snake_case` of a vendor name, usable as a proto field name.
///
/// Word breaks at case changes (`UseOssSize` -> `use_oss_size`, `KMSKeyId` ->
/// `kms_key_id`); any other character becomes a break (`SystemDisk.Category`
/// -> `system_disk_category`); digits stay on the word before them
/// (`Filter.1.Key` -> `filter1_key`), which keeps buf's FIELD_LOWER_SNAKE_CASE
/// happy; a leading digit gets an `f` in front; an empty result is `field`.
pub fn snake_case(name: &str) -> String {
    let chars: Vec<char> = name.chars().collect();
    let mut out = String::new();
    for (i, &c) in chars.iter().enumerate() {
        if c.is_ascii_alphanumeric() {
            if c.is_ascii_uppercase() && i > 0 {
                let prev = chars[i - 1];
                let next_lower = chars.get(i + 1).is_some_and(|n| n.is_ascii_lowercase());
                if prev.is_ascii_lowercase()
                    || prev.is_ascii_digit()
                    || (prev.is_ascii_uppercase() && next_lower)
                {
                    out.push('_');
                }
            }
            out.push(c.to_ascii_lowercase());
        } else {
            out.push('_');
        }
    }
    // Collapse runs of '_', drop '_' before digits and at the ends.
    let mut clean = String::new();
    let bytes: Vec<char> = out.chars().collect();
    for (i, &c) in bytes.iter().enumerate() {
        if c == '_' {
            let next = bytes.get(i + 1).copied();
            if clean.is_empty() || clean.ends_with('_') || next.is_none_or(|n| n.is_ascii_digit()) {
                continue;
            }
        }
        clean.push(c);
    }
    let clean = clean.trim_end_matches('_').to_string();
    if clean.is_empty() {
        return "field".into();
    }
    if clean.starts_with(|c: char| c.is_ascii_digit()) {
        return format!("f{clean}");
    }
    clean
}

/// `PascalCase` identifier from a vendor name (`key` -> `Key`,
/// `SystemDisk.Category` -> `SystemDiskCategory`).
pub fn pascal_case(name: &str) -> String {
    let mut out = String::new();
    let mut upper_next = true;
    for c in name.chars() {
        if c.is_ascii_alphanumeric() {
            if upper_next {
                out.push(c.to_ascii_uppercase());
            } else {
                out.push(c);
            }
            upper_next = false;
        } else {
            upper_next = true;
        }
    }
    if out.is_empty() {
        return "Message".into();
    }
    if out.starts_with(|c: char| c.is_ascii_digit()) {
        return format!("M{out}");
    }
    out
}

static MD_LINK: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"\[([^\]]*)\]\([^)]*\)").unwrap());
static HTML_TAG: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"</?[A-Za-z][^>]*>").unwrap());
static TILDE_REF: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"~~[0-9]+~~").unwrap());
static SPACES: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"\s+").unwrap());
static HEADING: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"(?m)^\s*#+\s.*$").unwrap());

/// Plain text of vendor prose: markdown links, emphasis, headings and HTML
/// tags removed, whitespace collapsed.
pub fn plain(text: &str) -> String {
    let t = HEADING.replace_all(text, " ");
    let t = MD_LINK.replace_all(&t, "$1");
    let t = HTML_TAG.replace_all(&t, " ");
    let t = TILDE_REF.replace_all(&t, "");
    let t = t
        .replace("**", "")
        .replace("__", "")
        .replace('`', "")
        .replace("&nbsp;", " ")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&");
    let t: String = t
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let t = SPACES.replace_all(&t, " ");
    t.trim()
        .trim_start_matches(['>', '*', '-', ' '])
        .trim()
        .to_string()
}

/// The first sentence(s) of vendor prose, cleaned, at most about `max` characters.
pub fn summary(text: &str, max: usize) -> String {
    let t = plain(text);
    if t.is_empty() {
        return t;
    }
    let mut out = String::new();
    let mut count = 0usize;
    let chars: Vec<char> = t.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        out.push(c);
        count += 1;
        let end_ascii = c == '.'
            && chars.get(i + 1).is_none_or(|n| n.is_whitespace())
            && !out.ends_with("e.g.")
            && !out.ends_with("i.e.");
        let end_cjk = matches!(c, '。' | '！' | '？' | '；');
        if (end_ascii || end_cjk) && count >= 24 {
            break;
        }
        if count >= max {
            // Cut at the last space if there is one nearby.
            if let Some(pos) = out.rfind(' ') {
                if out.len() - pos < 40 {
                    out.truncate(pos);
                }
            }
            out.push_str(" ...");
            break;
        }
        i += 1;
    }
    out.trim().to_string()
}

/// Wraps `text` into comment lines of about `width` characters.
pub fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in text.split(' ').filter(|w| !w.is_empty()) {
        // CJK text has no spaces: break long words by characters.
        let mut word = word.to_string();
        while word.chars().count() > width {
            if !line.is_empty() {
                lines.push(std::mem::take(&mut line));
            }
            let head: String = word.chars().take(width).collect();
            word = word.chars().skip(width).collect();
            lines.push(head);
        }
        if !line.is_empty() && line.chars().count() + 1 + word.chars().count() > width {
            lines.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(&word);
    }
    if !line.is_empty() {
        lines.push(line);
    }
    lines
}

/// Compacts JSON text, keeping member order and string escapes exactly as
/// written; `None` when the text is not valid JSON.
pub fn minify_json(text: &str) -> Option<String> {
    serde_json::from_str::<serde_json::Value>(text).ok()?;
    let mut out = String::with_capacity(text.len());
    let mut in_string = false;
    let mut escaped = false;
    for c in text.chars() {
        if in_string {
            out.push(c);
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_string = false;
            }
        } else if c == '"' {
            in_string = true;
            out.push(c);
        } else if !c.is_whitespace() {
            out.push(c);
        }
    }
    Some(out)
}

/// A proto string literal (double-quoted, escaped).
pub fn proto_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\x{:02x}", c as u32))
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A documented request rate found in prose.
#[derive(Debug, Clone, PartialEq)]
pub struct ProseQps {
    /// Calls per second.
    pub qps: f64,
    /// "per account", "per user" or empty.
    pub scope: String,
}

static QPS_PATTERNS: LazyLock<Vec<(Regex, f64)>> = LazyLock::new(|| {
    let per_second = 1.0;
    let per_minute = 1.0 / 60.0;
    [
        // English.
        (
            r"(?i)(\d+(?:\.\d+)?)\s*(?:times|calls|requests|queries|call|request|query)\s*(?:per|/|a|each)\s*second",
            per_second,
        ),
        (
            r"(?i)(\d+(?:\.\d+)?)\s*(?:times|calls|requests|queries)\s*(?:per|/|a|each)\s*minute",
            per_minute,
        ),
        (r"(?i)\bQPS\b[^.\d]{0,40}?(?:is|of|:|=)\s*(\d+(?:\.\d+)?)", per_second),
        (r"(?i)(\d+(?:\.\d+)?)\s*QPS\b", per_second),
        // Chinese.
        (r"(\d+(?:\.\d+)?)\s*次\s*(?:/|每)\s*秒", per_second),
        (r"(\d+(?:\.\d+)?)\s*次\s*(?:/|每)\s*分钟", per_minute),
        (
            r"每秒(?:钟)?(?:最多|最高|不超过|可|能|调用|请求|访问|支持|限制|上限|为|\s)*(\d+(?:\.\d+)?)\s*次",
            per_second,
        ),
        (r"(?:QPS|qps)\s*(?:上限|限制|最大)?\s*(?:为|是|:|：|=)\s*(\d+(?:\.\d+)?)", per_second),
    ]
    .into_iter()
    .map(|(p, f)| (Regex::new(p).unwrap(), f))
    .collect()
});

/// The request rate stated in an action's prose ("up to 10 times per second
/// per account", "20次/秒"), with its scope when the sentence names one.
pub fn prose_qps(text: &str) -> Option<ProseQps> {
    for (re, factor) in QPS_PATTERNS.iter() {
        if let Some(m) = re.captures(text) {
            let value: f64 = m[1].parse().ok()?;
            if value <= 0.0 {
                continue;
            }
            let whole = m.get(0).unwrap();
            // The sentence around the figure decides the scope.
            let start = text[..whole.start()]
                .char_indices()
                .rev()
                .find(|(_, c)| matches!(c, '.' | '。' | '\n'))
                .map_or(0, |(i, c)| i + c.len_utf8());
            let end = text[whole.end()..]
                .find(['.', '。', '\n'])
                .map_or(text.len(), |p| whole.end() + p);
            let sentence = &text[start..end];
            let lower = sentence.to_lowercase();
            let scope = if lower.contains("per user")
                || lower.contains("each user")
                || lower.contains("per ram user")
                || sentence.contains("每个用户")
                || sentence.contains("单用户")
            {
                "per user"
            } else if lower.contains("account")
                || sentence.contains("账号")
                || sentence.contains("帐号")
                || sentence.contains("账户")
            {
                "per account"
            } else if lower.contains("per user") || sentence.contains("用户") {
                "per user"
            } else {
                ""
            };
            let qps = (value * factor * 1000.0).round() / 1000.0;
            return Some(ProseQps {
                qps,
                scope: scope.into(),
            });
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snake_cases_vendor_names() {
        assert_eq!(snake_case("RequestId"), "request_id");
        assert_eq!(snake_case("UseOssSize"), "use_oss_size");
        assert_eq!(snake_case("KMSKeyId"), "kms_key_id");
        assert_eq!(snake_case("SystemDisk.Category"), "system_disk_category");
        assert_eq!(snake_case("Filter.1.Key"), "filter1_key");
        assert_eq!(snake_case("key"), "key");
        assert_eq!(snake_case("Ipv6Address"), "ipv6_address");
        assert_eq!(snake_case("1st"), "f1st");
        assert_eq!(snake_case("--"), "field");
        assert_eq!(snake_case("x-acs-foo"), "x_acs_foo");
    }

    #[test]
    fn minify_keeps_order_and_escapes() {
        let t = "{\n  \"b\": 1,\n  \"a\": \"x y\\n\"\n}";
        assert_eq!(minify_json(t).unwrap(), "{\"b\":1,\"a\":\"x y\\n\"}");
        assert!(minify_json("{not json").is_none());
    }

    #[test]
    fn finds_qps_in_english_and_chinese() {
        let p = prose_qps(
            "# Limits\n\nYou can call this operation up to 10 times per second per account. If",
        )
        .unwrap();
        assert_eq!(p.qps, 10.0);
        assert_eq!(p.scope, "per account");
        let p = prose_qps("The QPS limit for this interface per user is 10 times/second.").unwrap();
        assert_eq!((p.qps, p.scope.as_str()), (10.0, "per user"));
        let p = prose_qps("本接口的调用频率限制为20次/秒").unwrap();
        assert_eq!(p.qps, 20.0);
        let p = prose_qps("单个账号每秒最多调用 5 次").unwrap();
        assert_eq!((p.qps, p.scope.as_str()), (5.0, "per account"));
        assert!(prose_qps("the maximum number of QPs supported by the instance type").is_none());
        assert!(prose_qps("Queries instances.").is_none());
    }

    #[test]
    fn summaries_take_the_first_sentence() {
        assert_eq!(
            summary(
                "Queries the **information** about an account. This helps you.",
                200
            ),
            "Queries the information about an account."
        );
        assert_eq!(
            summary("修改用户类型。只有管理员用户能够调用", 200),
            "修改用户类型。只有管理员用户能够调用"
        );
        assert_eq!(
            summary(
                "See [DescribeRegions](~~25609~~) for the list of regions.",
                200
            ),
            "See DescribeRegions for the list of regions."
        );
    }

    #[test]
    fn escapes_proto_strings() {
        assert_eq!(proto_string("a\"b\\c\nd"), "\"a\\\"b\\\\c\\nd\"");
    }
}
