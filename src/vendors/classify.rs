//! Classifies a vendor error code: from the catalog when documented, by the
//! vendors' naming conventions and HTTP status otherwise.

use tonic::Code;

use crate::catalog::{Catalog, ErrorClass, GrpcCode, Operation};
use crate::error::{code_for_class, grpc_code};

/// The gRPC code and class of a vendor error.
pub fn classify(
    catalog: &Catalog,
    op: &Operation,
    code: &str,
    http_status: u16,
) -> (Code, ErrorClass) {
    if let Some(e) = catalog.error(op, code) {
        let class = e.class();
        let grpc = match e.grpc_code() {
            GrpcCode::Unspecified => code_for_class(class),
            c => grpc_code(c),
        };
        return (grpc, class);
    }
    let has = |s: &str| code.contains(s);
    let class = if has("Throttling") || has("LimitExceeded") || http_status == 429 {
        ErrorClass::Throttled
    } else if has("NotFound") || has("NotExist") || http_status == 404 {
        ErrorClass::NotFound
    } else if code.starts_with("Missing") || code.starts_with("Invalid") {
        ErrorClass::InvalidRequest
    } else if has("Forbidden")
        || has("NoPermission")
        || has("Unauthorized")
        || has("AuthFailure")
        || http_status == 403
    {
        ErrorClass::Auth
    } else if http_status >= 500 {
        ErrorClass::Unknown
    } else if http_status >= 400 {
        ErrorClass::State
    } else {
        ErrorClass::Unspecified
    };
    (code_for_class(class), class)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::Vendor;

    #[test]
    fn documented_and_undocumented_codes() {
        let c = Catalog::load().unwrap();
        let op = c.by_action(Vendor::Alibaba, "UpdateUserStatus").unwrap();
        assert_eq!(
            classify(&c, op, "Throttling.User", 400),
            (Code::ResourceExhausted, ErrorClass::Throttled)
        );
        assert_eq!(
            classify(&c, op, "Forbidden.RAM", 403).0,
            Code::PermissionDenied
        );
        assert_eq!(
            classify(&c, op, "MissingDirectoryId", 400),
            (Code::InvalidArgument, ErrorClass::InvalidRequest)
        );
        assert_eq!(
            classify(&c, op, "EntityNotExist.User", 404).0,
            Code::NotFound
        );
        assert_eq!(
            classify(&c, op, "ServiceUnavailable", 503).0,
            Code::Unavailable
        );
        assert_eq!(
            classify(&c, op, "SomethingOdd", 502),
            (Code::Unavailable, ErrorClass::Unknown)
        );
        assert_eq!(
            classify(&c, op, "InvalidAccessKeyId.NotFound", 404).0,
            Code::Unauthenticated
        );
        let dlc = c.by_action(Vendor::Tencent, "ModifyUserType").unwrap();
        assert_eq!(
            classify(&c, dlc, "UnsupportedOperation.ModifyOwnerUnsupported", 200).0,
            Code::FailedPrecondition
        );
        assert_eq!(
            classify(&c, dlc, "AuthFailure.SignatureFailure", 200).0,
            Code::Unauthenticated
        );
        assert_eq!(
            classify(&c, dlc, "ResourceNotFound.Thing", 200).0,
            Code::NotFound
        );
    }
}
