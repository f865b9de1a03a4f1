//! Classes vendor error codes into the gateway's error classes and gRPC codes.

/// `(ErrorClass, GrpcCode)` enum value names without their prefixes, e.g.
/// `("INVALID_REQUEST", "INVALID_ARGUMENT")`.
pub type Classed = (&'static str, &'static str);

const INVALID: Classed = ("INVALID_REQUEST", "INVALID_ARGUMENT");
const UNAUTHENTICATED: Classed = ("AUTH", "UNAUTHENTICATED");
const DENIED: Classed = ("AUTH", "PERMISSION_DENIED");
const NOT_FOUND: Classed = ("NOT_FOUND", "NOT_FOUND");
const THROTTLED: Classed = ("THROTTLED", "RESOURCE_EXHAUSTED");
const TRANSIENT: Classed = ("TRANSIENT", "UNAVAILABLE");
const UNKNOWN: Classed = ("UNKNOWN", "UNAVAILABLE");
const STATE: Classed = ("STATE", "FAILED_PRECONDITION");
const EXISTS: Classed = ("STATE", "ALREADY_EXISTS");
const QUOTA: Classed = ("STATE", "RESOURCE_EXHAUSTED");

fn starts(code: &str, prefixes: &[&str]) -> bool {
    prefixes.iter().any(|p| {
        code == *p
            || code
                .strip_prefix(p)
                .is_some_and(|rest| rest.starts_with(['.', '_', ':']))
    })
}

fn says_try_again(meaning: &str) -> bool {
    let lower = meaning.to_lowercase();
    ["try again", "retry", "later"]
        .iter()
        .any(|w| lower.contains(w))
        || ["请重试", "稍后重试", "稍后再试", "请稍后", "重试"]
            .iter()
            .any(|w| meaning.contains(w))
}

/// Classes one documented error by its code, then its documented HTTP status
/// (0 when none), then its meaning ("try again" marks transient failures).
pub fn classify(code: &str, http_status: i32, meaning: &str) -> Classed {
    let lower = code.to_ascii_lowercase();
    // Throttling first: "Throttling.User", "RequestLimitExceeded.*", "*.Throttling".
    if starts(
        code,
        &[
            "Throttling",
            "RequestLimitExceeded",
            "Throttled",
            "TooManyRequests",
        ],
    ) || lower.contains("throttl")
        || lower.contains("flowlimit")
        || lower.contains("qpslimit")
    {
        return THROTTLED;
    }
    // Credentials and signatures.
    if starts(code, &["AuthFailure.UnauthorizedOperation"]) {
        return DENIED;
    }
    if starts(
        code,
        &[
            "AuthFailure",
            "InvalidAccessKeyId",
            "SignatureDoesNotMatch",
            "IncompleteSignature",
            "InvalidSecurityToken",
            "MissingSecurityToken",
            "InvalidSignatureMethod",
        ],
    ) {
        return UNAUTHENTICATED;
    }
    // Things that do not exist ("UnauthorizedOperation.UserNotExist" included).
    if starts(code, &["ResourceNotFound", "NotFound", "NoSuch"])
        || lower.contains("notfound")
        || lower.contains("notexist")
        || lower.contains("not_exist")
        || lower.contains("not_found")
        || lower.contains("nonexist")
    {
        return NOT_FOUND;
    }
    if starts(
        code,
        &[
            "UnauthorizedOperation",
            "Forbidden",
            "NoPermission",
            "NotAuthorized",
            "AccessDenied",
            "NotApplicable",
            "OperationDenied.NoPermission",
        ],
    ) || lower.contains("nopermission")
        || lower.contains("accessdenied")
        || lower.contains("unauthorized")
    {
        return DENIED;
    }
    if lower.contains("alreadyexist") || lower.contains("duplicate") || lower.ends_with("exists") {
        return EXISTS;
    }
    if starts(
        code,
        &[
            "InternalError",
            "InternalServerError",
            "UnknownError",
            "UndefinedError",
        ],
    ) || lower == "internalerror"
    {
        return if says_try_again(meaning) {
            TRANSIENT
        } else {
            UNKNOWN
        };
    }
    if starts(
        code,
        &[
            "ServiceUnavailable",
            "ServiceBusy",
            "Timeout",
            "RequestTimeout",
        ],
    ) {
        return TRANSIENT;
    }
    if starts(
        code,
        &["LimitExceeded", "QuotaExceeded", "ResourceInsufficient"],
    ) || lower.contains("quotaexceed")
        || lower.contains("quota.exceed")
    {
        // Quotas and sold-out resources: the state of the account or zone.
        return if starts(code, &["ResourceInsufficient"]) {
            STATE
        } else {
            QUOTA
        };
    }
    // Wrong state reported with an "Invalid"/"Incorrect" prefix.
    if (lower.starts_with("incorrect") || lower.starts_with("invalid"))
        && (lower.contains("status") || lower.contains("state"))
    {
        return STATE;
    }
    if starts(
        code,
        &[
            "InvalidParameter",
            "InvalidParameterValue",
            "MissingParameter",
            "UnknownParameter",
            "InvalidRequest",
            "InvalidAction",
            "ParameterError",
            "IllegalParameter",
            "InvalidFilter",
            "UnsupportedRegion",
        ],
    ) || lower.starts_with("invalid")
        || lower.starts_with("missing")
        || lower.starts_with("illegal")
        || lower.contains("parametererror")
        || lower.contains("param.")
    {
        return INVALID;
    }
    if starts(
        code,
        &[
            "FailedOperation",
            "OperationDenied",
            "UnsupportedOperation",
            "ResourceInUse",
            "ResourceUnavailable",
            "ResourcesSoldOut",
            "DryRunOperation",
            "OperationConflict",
            "IncorrectStatus",
        ],
    ) || lower.starts_with("incorrect")
        || lower.starts_with("unsupported")
        || lower.starts_with("operation")
    {
        return if says_try_again(meaning) {
            TRANSIENT
        } else {
            STATE
        };
    }
    match http_status {
        401 => UNAUTHENTICATED,
        403 => DENIED,
        404 => NOT_FOUND,
        409 => EXISTS,
        429 => THROTTLED,
        503 => TRANSIENT,
        s if s >= 500 => {
            if says_try_again(meaning) {
                TRANSIENT
            } else {
                UNKNOWN
            }
        }
        _ => {
            if says_try_again(meaning) {
                TRANSIENT
            } else {
                STATE
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes_by_code_prefix() {
        assert_eq!(
            classify("AuthFailure.SignatureFailure", 0, ""),
            UNAUTHENTICATED
        );
        assert_eq!(classify("AuthFailure.UnauthorizedOperation", 0, ""), DENIED);
        assert_eq!(classify("InvalidParameter.InvalidUserName", 0, ""), INVALID);
        assert_eq!(classify("MissingParameter", 0, ""), INVALID);
        assert_eq!(classify("ResourceNotFound.Instance", 0, ""), NOT_FOUND);
        assert_eq!(
            classify("UnauthorizedOperation.UserNotExist", 0, ""),
            NOT_FOUND
        );
        assert_eq!(classify("UnauthorizedOperation.GrantPolicy", 0, ""), DENIED);
        assert_eq!(classify("Throttling.User", 400, ""), THROTTLED);
        assert_eq!(classify("RequestLimitExceeded", 0, ""), THROTTLED);
        assert_eq!(classify("InternalError", 0, "内部错误。"), UNKNOWN);
        assert_eq!(classify("ResourceInsufficient", 0, ""), STATE);
        assert_eq!(
            classify("FailedOperation.GrantPolicyFailed", 0, "授权失败。"),
            STATE
        );
        assert_eq!(
            classify(
                "FailedOperation.GetUserInfoFailed",
                0,
                "获取用户信息失败，请重试"
            ),
            TRANSIENT
        );
        assert_eq!(
            classify("UnsupportedOperation.ModifyOwnerUnsupported", 0, ""),
            STATE
        );
        assert_eq!(classify("OperationDenied", 0, ""), STATE);
        assert_eq!(classify("IncorrectInstanceStatus", 403, ""), STATE);
        assert_eq!(classify("NotAuthorized", 400, ""), DENIED);
        assert_eq!(classify("-116", 200, "Quota is less than 0."), STATE);
        assert_eq!(
            classify("CreditInnerError", 400, "Please try again."),
            TRANSIENT
        );
        assert_eq!(classify("UndefinedError", 500, "unknown error"), UNKNOWN);
    }
}
