//! Trident-style exactly-once processing, built step by step.
//!
//! Present so far: [`state`], the durable map states with Storm's transactional and
//! opaque update rules; [`coordinator`], the master batch coordinator's state machine
//! (txids, attempts, batches in flight, commits in txid order, replay); and [`source`],
//! a replayable file batch source (transactional or opaque) with a durable offsets log.
//! Wiring these into a topology (coordinator spout, batch tracking in bolts) and the
//! stream API are not there yet.

pub mod coordinator;
pub mod source;
pub mod state;
