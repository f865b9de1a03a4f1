//! W3C Trace Context (`traceparent`): an incoming trace is continued in the
//! gateway's call span (same trace id, the caller's span as parent, a new
//! span id), so logs join the caller's distributed trace; a call without one
//! starts a new trace.

use rand::Rng;

/// The trace identity of one gateway call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceContext {
    /// 32 lowercase hex digits.
    pub trace_id: String,
    /// This call's span id, 16 lowercase hex digits.
    pub span_id: String,
    /// The caller's span id, when a valid `traceparent` came in.
    pub parent_id: Option<String>,
    /// Trace flags (01 = sampled).
    pub flags: String,
}

fn hex_id(len: usize, s: &str) -> bool {
    s.len() == len
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        && s.bytes().any(|b| b != b'0')
}

fn random_hex(bytes: usize) -> String {
    let mut rng = rand::rng();
    (0..bytes)
        .map(|_| format!("{:02x}", rng.random::<u8>()))
        .collect()
}

impl TraceContext {
    /// Parses a `traceparent` value (`00-<trace id>-<parent id>-<flags>`);
    /// `None` when malformed (the spec says to start a new trace then).
    pub fn parse(value: &str) -> Option<(String, String, String)> {
        let parts: Vec<&str> = value.trim().split('-').collect();
        let [version, trace_id, parent_id, flags, ..] = parts.as_slice() else {
            return None;
        };
        let version_ok =
            version.len() == 2 && *version != "ff" && u8::from_str_radix(version, 16).is_ok();
        // Version 00 has exactly four fields; later versions may append more.
        if !version_ok || (*version == "00" && parts.len() != 4) {
            return None;
        }
        if !hex_id(32, trace_id)
            || !hex_id(16, parent_id)
            || flags.len() != 2
            || u8::from_str_radix(flags, 16).is_err()
        {
            return None;
        }
        Some((
            trace_id.to_string(),
            parent_id.to_string(),
            flags.to_string(),
        ))
    }

    /// Continues the caller's trace, or starts one.
    pub fn from_metadata(meta: &tonic::metadata::MetadataMap) -> Self {
        let incoming = meta
            .get("traceparent")
            .and_then(|v| v.to_str().ok())
            .and_then(Self::parse);
        match incoming {
            Some((trace_id, parent, flags)) => Self {
                trace_id,
                span_id: random_hex(8),
                parent_id: Some(parent),
                flags,
            },
            None => Self {
                trace_id: random_hex(16),
                span_id: random_hex(8),
                parent_id: None,
                flags: "01".into(),
            },
        }
    }

    /// The `traceparent` value naming this call's span.
    pub fn traceparent(&self) -> String {
        format!("00-{}-{}-{}", self.trace_id, self.span_id, self.flags)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn continues_a_valid_trace() {
        let mut meta = tonic::metadata::MetadataMap::new();
        meta.insert(
            "traceparent",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
                .parse()
                .unwrap(),
        );
        let t = TraceContext::from_metadata(&meta);
        assert_eq!(t.trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(t.parent_id.as_deref(), Some("00f067aa0ba902b7"));
        assert_ne!(t.span_id, "00f067aa0ba902b7");
        assert!(t
            .traceparent()
            .starts_with("00-4bf92f3577b34da6a3ce929d0e0e4736-"));
    }

    #[test]
    fn malformed_values_start_a_new_trace() {
        for bad in [
            "",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
        ] {
            assert!(TraceContext::parse(bad).is_none(), "{bad}");
        }
        let t = TraceContext::from_metadata(&tonic::metadata::MetadataMap::new());
        assert_eq!(t.trace_id.len(), 32);
        assert!(t.parent_id.is_none());
        // Future versions may carry more fields.
        assert!(
            TraceContext::parse("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-x")
                .is_some()
        );
    }
}
