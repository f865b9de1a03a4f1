//! Programmable faults per action: an error code, an HTTP 5xx, a delay or a dropped
//! connection, each for a number of calls.

use std::sync::{Mutex, MutexGuard};

use serde::{Deserialize, Serialize};

/// A fault to inject into the next calls of one action.
///
/// JSON: `{"action":"DescribeUserStatus","kind":{"type":"error","code":"Throttling.User"},"times":2}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fault {
    /// The operation it applies to: `Action`, `Product.Action` (when several
    /// products have the action) or `"*"` for every operation.
    pub action: String,
    /// What happens.
    pub kind: FaultKind,
    /// How many calls it applies to (default 1); 0 means until cleared. In a listing of
    /// active faults: the calls left.
    #[serde(default = "one")]
    pub times: u32,
}

fn one() -> u32 {
    1
}

/// What an injected fault does.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum FaultKind {
    /// Answer with this vendor error code in the action's vendor shape. The HTTP status
    /// defaults to the status the catalog documents for the code (Alibaba; 400 when none)
    /// or 200 (Tencent); the message to the catalog's meaning of the code.
    Error {
        /// The vendor error code, e.g. `Throttling.User`, `-116`, `InternalError`.
        code: String,
        /// HTTP status to answer with.
        #[serde(default)]
        http_status: Option<u16>,
        /// Error message.
        #[serde(default)]
        message: Option<String>,
    },
    /// Answer with this HTTP status (5xx) and a vendor body (`ServiceUnavailable` for 503,
    /// `InternalError` otherwise).
    HttpStatus {
        /// The HTTP status.
        status: u16,
    },
    /// Wait this long, then handle the call normally.
    Delay {
        /// Milliseconds.
        ms: u64,
    },
    /// Close the TCP connection after reading the request, without any response.
    Drop,
}

impl Fault {
    /// A fault for the next call of `action`.
    pub fn once(action: impl Into<String>, kind: FaultKind) -> Self {
        Self {
            action: action.into(),
            kind,
            times: 1,
        }
    }

    /// The same fault for `times` calls (0: until cleared).
    pub fn times(mut self, times: u32) -> Self {
        self.times = times;
        self
    }
}

/// The active faults, applied first-injected first.
#[derive(Debug, Default)]
pub(crate) struct FaultStore {
    faults: Mutex<Vec<Fault>>,
}

impl FaultStore {
    fn lock(&self) -> MutexGuard<'_, Vec<Fault>> {
        self.faults.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Adds a fault.
    pub(crate) fn inject(&self, fault: Fault) {
        self.lock().push(fault);
    }

    /// Removes every fault.
    pub(crate) fn clear(&self) {
        self.lock().clear();
    }

    /// The active faults with the calls they have left.
    pub(crate) fn list(&self) -> Vec<Fault> {
        self.lock().clone()
    }

    /// The fault for this call of `product`'s `action`, if any, counting it
    /// against its `times`.
    pub(crate) fn take(&self, product: &str, action: &str) -> Option<FaultKind> {
        let mut faults = self.lock();
        let i = faults
            .iter()
            .position(|f| super::record::matches_operation(&f.action, product, action))?;
        let kind = faults[i].kind.clone();
        match faults[i].times {
            0 => {}
            1 => {
                faults.remove(i);
            }
            _ => faults[i].times -= 1,
        }
        Some(kind)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(code: &str) -> FaultKind {
        FaultKind::Error {
            code: code.into(),
            http_status: None,
            message: None,
        }
    }

    #[test]
    fn each_fault_applies_its_number_of_times_in_order() {
        let s = FaultStore::default();
        s.inject(Fault::once("A", err("X")).times(2));
        s.inject(Fault::once("A", FaultKind::Drop));
        assert_eq!(s.take("", "B"), None);
        assert_eq!(s.take("", "A"), Some(err("X")));
        assert_eq!(s.list()[0].times, 1);
        assert_eq!(s.take("", "A"), Some(err("X")));
        assert_eq!(s.take("", "A"), Some(FaultKind::Drop));
        assert_eq!(s.take("", "A"), None);
        assert!(s.list().is_empty());
    }

    #[test]
    fn zero_times_lasts_until_cleared_and_star_matches_all() {
        let s = FaultStore::default();
        s.inject(Fault::once("*", FaultKind::Delay { ms: 5 }).times(0));
        for _ in 0..100 {
            assert_eq!(s.take("", "Anything"), Some(FaultKind::Delay { ms: 5 }));
        }
        s.clear();
        assert_eq!(s.take("", "Anything"), None);
    }

    #[test]
    fn json_shape() {
        let f: Fault = serde_json::from_str(
            r#"{"action":"A","kind":{"type":"error","code":"Throttling.User","http_status":429}}"#,
        )
        .unwrap();
        assert_eq!(f.times, 1);
        assert_eq!(
            f.kind,
            FaultKind::Error {
                code: "Throttling.User".into(),
                http_status: Some(429),
                message: None
            }
        );
        for (json, kind) in [
            (
                r#"{"type":"http_status","status":503}"#,
                FaultKind::HttpStatus { status: 503 },
            ),
            (r#"{"type":"delay","ms":250}"#, FaultKind::Delay { ms: 250 }),
            (r#"{"type":"drop"}"#, FaultKind::Drop),
        ] {
            assert_eq!(serde_json::from_str::<FaultKind>(json).unwrap(), kind);
            assert_eq!(serde_json::to_string(&kind).unwrap(), json);
        }
    }
}
