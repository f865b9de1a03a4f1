//! The method to drive: parsing `pkg.Service/Method`, `/pkg.Service/Method` or
//! `pkg.Service.Method`, and resolving it in a descriptor pool.

use std::fmt;

use prost_reflect::{DescriptorPool, MethodDescriptor};

/// A method name given by the user, split into service and method.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MethodName {
    /// Full service name, e.g. `aliyun.sddp.v20190103.Sddp`.
    pub service: String,
    /// Method name, e.g. `DescribeUserStatus`.
    pub method: String,
}

impl MethodName {
    /// Parses `pkg.Service/Method`, `/pkg.Service/Method` or `pkg.Service.Method`.
    pub fn parse(input: &str) -> Result<Self, MethodError> {
        let syntax = || MethodError::Syntax {
            input: input.to_string(),
        };
        let text = input.trim();
        let text = text.strip_prefix('/').unwrap_or(text);
        let (service, method) = match text.split_once('/') {
            Some(parts) => parts,
            None => text.rsplit_once('.').ok_or_else(syntax)?,
        };
        let ident = |s: &str| {
            !s.is_empty()
                && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                && !s.starts_with(|c: char| c.is_ascii_digit())
        };
        if !ident(method) || !service.split('.').all(ident) {
            return Err(syntax());
        }
        Ok(Self {
            service: service.to_string(),
            method: method.to_string(),
        })
    }

    /// The gRPC path, `/pkg.Service/Method`.
    pub fn path(&self) -> String {
        format!("/{}/{}", self.service, self.method)
    }
}

impl fmt::Display for MethodName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.service, self.method)
    }
}

/// A method that cannot be driven.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MethodError {
    /// Not of a recognised form.
    #[error(
        "invalid method {input:?}: expected pkg.Service/Method, /pkg.Service/Method or pkg.Service.Method"
    )]
    Syntax {
        /// The text given.
        input: String,
    },
    /// Well formed but not served.
    #[error("unknown method {input:?}; known methods:{}", list(known))]
    Unknown {
        /// The text given.
        input: String,
        /// Every method in the pool, `pkg.Service/Method`, sorted.
        known: Vec<String>,
    },
    /// A streaming method (only unary methods can be driven).
    #[error("method {method} is streaming; only unary methods can be load-tested")]
    Streaming {
        /// `pkg.Service/Method`.
        method: String,
    },
}

fn list(known: &[String]) -> String {
    known.iter().map(|m| format!("\n  {m}")).collect()
}

/// Every method of every service in `pool`, as `pkg.Service/Method`, sorted.
pub fn known_methods(pool: &DescriptorPool) -> Vec<String> {
    let mut all: Vec<String> = pool
        .services()
        .flat_map(|s| {
            let service = s.full_name().to_string();
            s.methods()
                .map(move |m| format!("{service}/{}", m.name()))
                .collect::<Vec<_>>()
        })
        .collect();
    all.sort();
    all
}

/// Parses `input` and finds the unary method it names in `pool`.
pub fn resolve(pool: &DescriptorPool, input: &str) -> Result<MethodDescriptor, MethodError> {
    let name = MethodName::parse(input)?;
    let method = pool
        .get_service_by_name(&name.service)
        .and_then(|s| s.methods().find(|m| m.name() == name.method))
        .ok_or_else(|| MethodError::Unknown {
            input: input.to_string(),
            known: known_methods(pool),
        })?;
    if method.is_client_streaming() || method.is_server_streaming() {
        return Err(MethodError::Streaming {
            method: name.to_string(),
        });
    }
    Ok(method)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(service: &str, method: &str) -> MethodName {
        MethodName {
            service: service.into(),
            method: method.into(),
        }
    }

    #[test]
    fn parses_the_three_forms() {
        let want = name("aliyun.sddp.v20190103.Sddp", "DescribeUserStatus");
        for input in [
            "aliyun.sddp.v20190103.Sddp/DescribeUserStatus",
            "/aliyun.sddp.v20190103.Sddp/DescribeUserStatus",
            "aliyun.sddp.v20190103.Sddp.DescribeUserStatus",
            " aliyun.sddp.v20190103.Sddp/DescribeUserStatus ",
        ] {
            assert_eq!(MethodName::parse(input).unwrap(), want, "{input:?}");
        }
        assert_eq!(MethodName::parse("Svc/M").unwrap(), name("Svc", "M"));
        assert_eq!(MethodName::parse("Svc.M").unwrap(), name("Svc", "M"));
        assert_eq!(
            want.path(),
            "/aliyun.sddp.v20190103.Sddp/DescribeUserStatus"
        );
    }

    #[test]
    fn refuses_malformed_names() {
        for input in [
            "",
            "/",
            "DescribeUserStatus",
            "a.b/",
            "/a.b/c/d",
            "a..b/C",
            "a.b/C D",
            "a b.C",
            ".C",
            "a.b/1C",
            "a.b//C",
        ] {
            assert!(
                matches!(MethodName::parse(input), Err(MethodError::Syntax { .. })),
                "{input:?}"
            );
        }
    }

    #[test]
    fn resolves_in_the_catalog_and_lists_known_methods_otherwise() {
        let catalog = crate::catalog::Catalog::load().unwrap();
        let dlc = catalog
            .service_pool("tencentcloud.dlc.v20210125.Dlc")
            .unwrap();
        let m = resolve(dlc, "tencentcloud.dlc.v20210125.Dlc.ModifyUserType").unwrap();
        assert_eq!(
            m.full_name(),
            "tencentcloud.dlc.v20210125.Dlc.ModifyUserType"
        );

        let pool = catalog.service_pool("aliyun.sddp.v20190103.Sddp").unwrap();
        let err = resolve(pool, "aliyun.sddp.v20190103.Sddp/DescribeUser").unwrap_err();
        let text = err.to_string();
        assert!(text.starts_with("unknown method"), "{text}");
        assert!(
            text.contains("\n  aliyun.sddp.v20190103.Sddp/DescribeUserStatus"),
            "{text}"
        );
        assert!(matches!(
            resolve(pool, "no.such.Service/Call"),
            Err(MethodError::Unknown { .. })
        ));
    }
}
