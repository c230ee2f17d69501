//! Trident-style exactly-once processing, built step by step.
//!
//! Present so far: [`state`], the durable map states with Storm's transactional and
//! opaque update rules. Batch coordination and the stream API are not there yet.

pub mod state;
