//! Trident-style exactly-once processing, built step by step.
//!
//! Present so far: [`state`], the durable map states with Storm's transactional and
//! opaque update rules, and [`coordinator`], the master batch coordinator's state machine
//! (txids, attempts, batches in flight, commits in txid order, replay). Wiring the
//! coordinator into a topology, the Trident spouts and the stream API are not there yet.

pub mod coordinator;
pub mod state;
