//! Error types of the component API.

use thiserror::Error;

/// Reading a tuple field failed.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum TupleError {
    /// Index past the end of the tuple.
    #[error("tuple from {component}:{stream} has {len} values; there is no index {index}")]
    NoSuchIndex {
        /// Requested index.
        index: usize,
        /// Number of values.
        len: usize,
        /// Emitting component.
        component: String,
        /// Stream.
        stream: String,
    },
    /// No field with that name on the tuple's stream.
    #[error("stream {component}:{stream} has no field '{field}'; its fields are: {fields}")]
    NoSuchField {
        /// Requested field.
        field: String,
        /// Emitting component.
        component: String,
        /// Stream.
        stream: String,
        /// Declared fields.
        fields: String,
    },
    /// The value has another type than asked for.
    #[error("field '{field}' of {component}:{stream} is a {found}, not a {expected}")]
    WrongType {
        /// Field name (or `#index`).
        field: String,
        /// Emitting component.
        component: String,
        /// Stream.
        stream: String,
        /// Type asked for.
        expected: &'static str,
        /// Type found.
        found: &'static str,
    },
}

/// Emitting a tuple failed: a programming error in the component, reported with the
/// stream and what was wrong.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum EmitError {
    /// The component did not declare this stream.
    #[error("component '{component}' did not declare stream '{stream}'")]
    UnknownStream {
        /// Emitting component.
        component: String,
        /// Stream asked for.
        stream: String,
    },
    /// Plain emit on a direct stream, or direct emit on a plain stream.
    #[error("stream '{stream}' of '{component}' is {declared}; use {hint}")]
    WrongStreamKind {
        /// Emitting component.
        component: String,
        /// Stream.
        stream: String,
        /// "direct" or "not direct".
        declared: &'static str,
        /// Which call to use.
        hint: &'static str,
    },
    /// An unanchored emit from a stateful bolt: its outputs must join the trees of its
    /// inputs, or a replay after a rollback could not reproduce them.
    #[error(
        "stateful bolt '{component}' emitted on stream '{stream}' without an anchor: bolts of a stateful topology must emit anchored tuples"
    )]
    Unanchored {
        /// Emitting component.
        component: String,
        /// Stream.
        stream: String,
    },
    /// Wrong number of values for the stream's fields.
    #[error("stream '{stream}' of '{component}' declares {expected} fields, got {got} values")]
    Arity {
        /// Emitting component.
        component: String,
        /// Stream.
        stream: String,
        /// Declared fields.
        expected: usize,
        /// Values given.
        got: usize,
    },
}

/// An error a spout or bolt reports: from its own logic, a tuple access or an emit.
#[derive(Debug, Error)]
pub enum ComponentError {
    /// A tuple field was missing or had the wrong type.
    #[error(transparent)]
    Tuple(#[from] TupleError),
    /// An emit was refused.
    #[error(transparent)]
    Emit(#[from] EmitError),
    /// An I/O error, with what was being done.
    #[error("{context}: {source}")]
    Io {
        /// What was being done (e.g. "opening /data/in.txt").
        context: String,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The component panicked; the payload's message.
    #[error("panicked: {0}")]
    Panic(String),
    /// Anything else, in words.
    #[error("{0}")]
    Other(String),
}

impl ComponentError {
    /// An error with a message.
    pub fn msg(m: impl Into<String>) -> ComponentError {
        ComponentError::Other(m.into())
    }

    /// The error for a caught panic, with its message when it has one.
    pub fn from_panic(payload: &(dyn std::any::Any + Send)) -> ComponentError {
        let msg = payload
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "non-string panic payload".to_string());
        ComponentError::Panic(msg)
    }

    /// An I/O error with context.
    pub fn io(context: impl Into<String>, source: std::io::Error) -> ComponentError {
        ComponentError::Io {
            context: context.into(),
            source,
        }
    }
}

/// Creating a component from its YAML declaration failed.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{0}")]
pub struct FactoryError(pub String);

/// Building or running a topology failed.
#[derive(Debug, Error)]
pub enum RunError {
    /// The topology file is invalid.
    #[error(transparent)]
    Spec(#[from] crate::topology::yaml::SpecErrors),
    /// A component failed (or panicked) in `open` or `prepare`.
    #[error("{component} task {task}: {source}")]
    Lifecycle {
        /// Component id.
        component: String,
        /// Task.
        task: crate::TaskId,
        /// What went wrong.
        source: Box<ComponentError>,
    },
    /// A factory failed although validation passed.
    #[error("creating '{component}': {source}")]
    Factory {
        /// Component id.
        component: String,
        /// What went wrong.
        source: FactoryError,
    },
    /// The process could not start threads or its async runtime.
    #[error("starting the runtime: {0}")]
    Start(#[from] std::io::Error),
    /// A configuration value is invalid.
    #[error("config: {0}")]
    Config(String),
}
