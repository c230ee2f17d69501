//! What a topology author touches: the component traits, collectors, tuples and values,
//! the task context, output declarations, the component registry, ids, errors, and the
//! retry schedule spouts replay failed messages with.

pub mod collector;
pub mod component;
pub mod context;
pub mod declare;
pub mod error;
pub mod ids;
pub mod registry;
pub mod retry;
pub mod tuple;
pub mod value;
