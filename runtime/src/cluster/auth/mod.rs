//! Credentials of the cluster's control plane and data plane, client and worker side
//! (nimbus's checks live in the nimbus crate), and the trust a client puts in nimbus's
//! certificate. This file only declares the modules.

pub mod credentials;
pub mod frame_mac;
pub mod handshake;
pub mod pin;
pub mod tls;
pub mod token;
pub mod topology_secret;
pub mod worker_credential;
