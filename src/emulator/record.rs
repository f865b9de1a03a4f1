//! What the emulator received: the call log entries and the per-action statistics.

use std::collections::{BTreeMap, VecDeque};

use serde::{Deserialize, Serialize};

/// Calls kept in the log; older ones are dropped first.
pub const CALL_LOG_CAPACITY: usize = 10_000;

/// Stats bucket for actions the catalog does not know and for unknown access keys, so
/// request input cannot grow the statistics without bound.
pub const UNKNOWN_BUCKET: &str = "(unknown)";

/// One request the emulator received. Never holds a signature, secret or token.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReceivedCall {
    /// 1-based sequence number since start or the last reset.
    pub seq: u64,
    /// When it arrived, RFC 3339 UTC with milliseconds.
    pub received_at: String,
    /// `"alibaba"` or `"tencent"`.
    pub vendor: String,
    /// `"RPC-V1"`, `"ACS3"` or `"TC3"`.
    pub scheme: String,
    /// The action as sent.
    pub action: String,
    /// The product of the operation the call resolved to (empty when none did).
    #[serde(default)]
    pub product: String,
    /// The API version as sent.
    pub version: Option<String>,
    /// The access key id / SecretId as sent (empty when the request carried none).
    pub access_key_id: String,
    /// `X-TC-Region` (Tencent).
    pub region: Option<String>,
    /// `SignatureNonce` / `x-acs-signature-nonce` (Alibaba).
    pub nonce: Option<String>,
    /// The request timestamp as sent (`Timestamp`, `x-acs-date` or `X-TC-Timestamp`).
    pub timestamp: Option<String>,
    /// Whether a security token was sent (its value is never recorded).
    pub security_token: bool,
    /// Operation parameters by wire name (Alibaba: the query and form parameters except the
    /// common ones; Tencent: the JSON body members, non-strings as JSON text).
    pub params: BTreeMap<String, String>,
    /// The names of the parameters that came in a form body (Alibaba `formData`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub form_params: Vec<String>,
    /// HTTP status answered (0 when the connection was dropped by a fault).
    pub http_status: u16,
    /// `"ok"`, the vendor error code answered, or `"connection_dropped"`.
    pub outcome: String,
}

/// How a call ended, for the counters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Category {
    /// Answered with the success body.
    Ok,
    /// Refused by the emulated QPS limit.
    Throttled,
    /// Any other error, injected faults included.
    Error,
}

/// Counters of one access key for one action.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyStats {
    /// Calls received.
    pub received: u64,
    /// Calls answered with success.
    pub ok: u64,
    /// Calls answered with an error other than the emulated throttling.
    pub errors: u64,
    /// Calls refused by the emulated QPS limit.
    pub throttled: u64,
}

/// Counters of one action.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActionStats {
    /// Calls received.
    pub received: u64,
    /// Calls answered with success.
    pub ok: u64,
    /// Calls answered with an error other than the emulated throttling (faults included).
    pub errors: u64,
    /// Calls refused by the emulated QPS limit.
    pub throttled: u64,
    /// Most calls whose signature verified seen in any sliding one-second window.
    pub max_in_any_1s_window: u64,
    /// The same counters per access key id.
    pub per_key: BTreeMap<String, KeyStats>,
}

/// Statistics per action (unknown actions under [`UNKNOWN_BUCKET`]).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stats {
    /// Calls received in total.
    pub total: u64,
    /// Per action name.
    pub actions: BTreeMap<String, ActionStats>,
}

impl Stats {
    /// Counts one finished call.
    pub(crate) fn count(&mut self, action: &str, key: &str, category: Category) {
        self.total += 1;
        let a = self.actions.entry(action.to_string()).or_default();
        a.received += 1;
        let k = a.per_key.entry(key.to_string()).or_default();
        k.received += 1;
        match category {
            Category::Ok => {
                a.ok += 1;
                k.ok += 1;
            }
            Category::Throttled => {
                a.throttled += 1;
                k.throttled += 1;
            }
            Category::Error => {
                a.errors += 1;
                k.errors += 1;
            }
        }
    }

    /// Raises the action's peak one-second count to `in_window` if higher.
    pub(crate) fn peak(&mut self, action: &str, in_window: usize) {
        let a = self.actions.entry(action.to_string()).or_default();
        a.max_in_any_1s_window = a.max_in_any_1s_window.max(in_window as u64);
    }
}

/// The bounded call log.
#[derive(Debug, Default)]
pub(crate) struct CallLog {
    calls: VecDeque<ReceivedCall>,
    next_seq: u64,
}

impl CallLog {
    /// Appends a call, numbering it; the oldest is dropped beyond [`CALL_LOG_CAPACITY`].
    pub(crate) fn push(&mut self, mut call: ReceivedCall) -> u64 {
        self.next_seq += 1;
        call.seq = self.next_seq;
        if self.calls.len() >= CALL_LOG_CAPACITY {
            self.calls.pop_front();
        }
        self.calls.push_back(call);
        self.next_seq
    }

    /// The calls in arrival order, optionally of one action only.
    pub(crate) fn list(&self, action: Option<&str>) -> Vec<ReceivedCall> {
        self.calls
            .iter()
            .filter(|c| action.is_none_or(|a| matches_operation(a, &c.product, &c.action)))
            .cloned()
            .collect()
    }
}

/// Whether `name` (`Action`, `Product.Action` or `*`) names an operation.
pub(crate) fn matches_operation(name: &str, product: &str, action: &str) -> bool {
    match name.split_once('.') {
        _ if name == "*" => true,
        Some((p, a)) => a == action && p.eq_ignore_ascii_case(product),
        None => name == action,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(action: &str) -> ReceivedCall {
        ReceivedCall {
            seq: 0,
            received_at: String::new(),
            vendor: "alibaba".into(),
            scheme: "ACS3".into(),
            action: action.into(),
            product: String::new(),
            version: None,
            access_key_id: String::new(),
            region: None,
            nonce: None,
            timestamp: None,
            security_token: false,
            params: BTreeMap::new(),
            form_params: Vec::new(),
            http_status: 200,
            outcome: "ok".into(),
        }
    }

    #[test]
    fn log_numbers_filters_and_stays_bounded() {
        let mut log = CallLog::default();
        for i in 0..CALL_LOG_CAPACITY + 5 {
            log.push(call(if i % 2 == 0 { "A" } else { "B" }));
        }
        let all = log.list(None);
        assert_eq!(all.len(), CALL_LOG_CAPACITY);
        assert_eq!(all[0].seq, 6);
        assert_eq!(all.last().unwrap().seq, (CALL_LOG_CAPACITY + 5) as u64);
        assert!(log.list(Some("A")).iter().all(|c| c.action == "A"));
        assert!(log.list(Some("C")).is_empty());
    }

    #[test]
    fn stats_count_per_action_and_key() {
        let mut s = Stats::default();
        s.count("A", "k1", Category::Ok);
        s.count("A", "k1", Category::Throttled);
        s.count("A", "k2", Category::Error);
        s.peak("A", 3);
        s.peak("A", 2);
        let a = &s.actions["A"];
        assert_eq!((a.received, a.ok, a.throttled, a.errors), (3, 1, 1, 1));
        assert_eq!(a.max_in_any_1s_window, 3);
        assert_eq!(a.per_key["k1"].received, 2);
        assert_eq!(a.per_key["k2"].errors, 1);
        assert_eq!(s.total, 3);
        let json = serde_json::to_string(&s).unwrap();
        assert_eq!(serde_json::from_str::<Stats>(&json).unwrap(), s);
    }
}
