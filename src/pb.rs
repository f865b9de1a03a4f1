//! Code generated from `proto/` (messages, tonic clients and servers) and the
//! encoded descriptor set the catalog and the reflection service read.

#![allow(clippy::all, missing_docs)]

/// The encoded `FileDescriptorSet` of everything under `proto/`.
pub const FILE_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/cloudgate_descriptor.bin"));

/// Gateway options and detail messages.
pub mod cloudgate {
    /// Version 1.
    pub mod v1 {
        tonic::include_proto!("cloudgate.v1");
    }
}

/// Alibaba Cloud products.
pub mod aliyun {
    /// BssOpenApi.
    pub mod bssopenapi {
        /// API version 2017-12-14.
        pub mod v20171214 {
            tonic::include_proto!("aliyun.bssopenapi.v20171214");
        }
    }
    /// CloudSSO.
    pub mod cloudsso {
        /// API version 2021-05-15.
        pub mod v20210515 {
            tonic::include_proto!("aliyun.cloudsso.v20210515");
        }
    }
    /// Data Security Center.
    pub mod sddp {
        /// API version 2019-01-03.
        pub mod v20190103 {
            tonic::include_proto!("aliyun.sddp.v20190103");
        }
    }
}

/// Tencent Cloud products.
pub mod tencentcloud {
    /// Data Lake Compute.
    pub mod dlc {
        /// API version 2021-01-25.
        pub mod v20210125 {
            tonic::include_proto!("tencentcloud.dlc.v20210125");
        }
    }
}
