//! The success body of an operation: its documented sample when that
//! decodes into the output message, else a reply synthesized from the output
//! message, so an operation loaded a moment ago answers at once.

use serde_json::{json, Value};

use crate::catalog::{Catalog, Operation};
use crate::translate;

/// The reply body (Tencent: wrapped in `Response`), without a request id.
pub(crate) fn reply_body(catalog: &Catalog, op: &Operation, wrapped: bool) -> Value {
    let sample: Option<Value> = serde_json::from_str(&op.rule.sample_response)
        .ok()
        .filter(Value::is_object);
    let payload = |body: &Value| -> Option<Value> {
        if wrapped {
            body.get("Response").filter(|r| r.is_object()).cloned()
        } else {
            Some(body.clone())
        }
    };
    // A documented failure (`"Success": false`) is no sample of success.
    let sample = sample.filter(|b| b.get("Success") != Some(&Value::Bool(false)));
    if let Some(body) = sample {
        if let Some(p) = payload(&body) {
            if translate::decode_response(catalog, &op.output(), &p).is_ok() {
                return body;
            }
        }
    }
    let synthesized = Value::Object(translate::synthesize(catalog, &op.output()));
    if wrapped {
        json!({ "Response": synthesized })
    } else {
        synthesized
    }
}
