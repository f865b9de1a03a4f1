//! Why a call was refused, independent of the vendor; `alibaba.rs` and `tencent.rs` each
//! map it to their own code, HTTP status and message in one place.

/// A refused call.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum Rejection {
    /// The HTTP method is not one the scheme accepts.
    #[error("HTTP method {0} is not supported")]
    Method(String),
    /// The request body exceeds the emulator's limit.
    #[error("request body too large")]
    BodyTooLarge,
    /// A common query parameter (`AccessKeyId`, `Timestamp`, `Version`, ...) is missing.
    #[error("common parameter {0} is missing")]
    MissingCommon(&'static str),
    /// A protocol header (`x-acs-date`, `X-TC-Timestamp`, ...) is missing.
    #[error("header {0} is missing")]
    MissingHeader(&'static str),
    /// Some part of the request does not parse.
    #[error("{what} is malformed: {reason}")]
    Malformed {
        /// What did not parse.
        what: String,
        /// Why.
        reason: String,
    },
    /// The access key id is not known.
    #[error("unknown access key id")]
    UnknownKey,
    /// The Authorization header is missing or malformed, or a header that must be signed
    /// is not.
    #[error("incomplete signature: {0}")]
    IncompleteSignature(String),
    /// The signature method or version is not supported.
    #[error("unsupported signature method: {0}")]
    SignatureMethod(String),
    /// The signature does not match the emulator's computation.
    #[error("signature does not match")]
    SignatureMismatch {
        /// The emulator's string to sign (Alibaba puts it in the message).
        string_to_sign: String,
        /// Extra explanation (e.g. a wrong body hash), if any.
        detail: Option<String>,
    },
    /// The key requires a security token and none was sent.
    #[error("security token missing")]
    MissingToken,
    /// The security token is not the key's (or the key takes none).
    #[error("security token does not match the access key")]
    WrongToken,
    /// The temporary credential (STS token) has expired.
    #[error("security token expired")]
    TokenExpired,
    /// The timestamp does not parse.
    #[error("timestamp {0:?} is malformed")]
    TimestampFormat(String),
    /// The timestamp is too far from the server clock.
    #[error("timestamp {value:?} is {skew_secs} s from the server clock")]
    TimestampExpired {
        /// The timestamp as sent.
        value: String,
        /// Request time minus server time, seconds.
        skew_secs: i64,
    },
    /// The nonce was used within the validity window.
    #[error("signature nonce already used")]
    NonceUsed,
    /// No such action for the vendor.
    #[error("action {0:?} does not exist")]
    UnknownAction(String),
    /// The action exists but not in this version.
    #[error("version {version:?} of action {action:?} does not exist")]
    WrongVersion {
        /// The action.
        action: String,
        /// The version sent.
        version: String,
    },
    /// A required operation parameter is missing or empty.
    #[error("parameter {0} is missing")]
    MissingParameter(String),
    /// A parameter value breaks the catalog rules.
    #[error("parameter {name} is invalid: {reason}")]
    InvalidParameter {
        /// The wire name (`Name.3` for a list element).
        name: String,
        /// The catalog field's wire name, without any list index.
        field: String,
        /// The value as sent.
        value: String,
        /// Why it is invalid.
        reason: String,
    },
    /// A JSON member has the wrong type.
    #[error("parameter {name} must be {expected}")]
    WrongType {
        /// The wire name.
        name: String,
        /// The expected type, in the vendor's words.
        expected: &'static str,
    },
    /// A parameter the operation does not have (reported for Tencent only).
    #[error("unknown parameter {0}")]
    UnknownParameter(String),
    /// The emulated QPS limit refused the call.
    #[error("throttled at {limit} calls per second")]
    Throttled {
        /// The limit.
        limit: usize,
    },
    /// An injected error fault.
    #[error("injected error {code}")]
    Injected {
        /// Vendor error code.
        code: String,
        /// HTTP status override.
        http_status: Option<u16>,
        /// Message override.
        message: Option<String>,
    },
    /// An injected HTTP status fault.
    #[error("injected HTTP status {0}")]
    InjectedStatus(u16),
}

/// A rejection rendered for one vendor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct VendorError {
    /// HTTP status.
    pub status: u16,
    /// Vendor error code.
    pub code: String,
    /// Vendor error message.
    pub message: String,
}

impl VendorError {
    pub(crate) fn new(status: u16, code: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            status,
            code: code.into(),
            message: message.into(),
        }
    }
}
