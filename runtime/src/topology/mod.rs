//! Topology declarations, before anything runs: the YAML/Flux model with its validation
//! ([`yaml`]), Flux's includes and substitution ([`flux`]), topologies built by Rust code
//! ([`source`]), what `validate` checks ([`check`]), the configuration keys ([`config`]) and the task plan ([`plan`]).

pub mod check;
pub mod config;
pub mod flux;
pub mod plan;
pub mod source;
pub mod yaml;
