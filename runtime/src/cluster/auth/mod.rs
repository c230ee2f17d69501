//! The client and worker side of cluster security (issue 12): credentials, the trust a
//! client puts in nimbus's certificate, the data plane's secrets. This file only
//! declares the modules.

pub mod pin;
pub mod tls;
