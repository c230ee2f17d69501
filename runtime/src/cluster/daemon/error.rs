//! What is wrong with a daemon config: located in its file, one error per problem.

use std::fmt;
use std::path::PathBuf;

use crate::topology::yaml::Location;

/// A place in a config file: the file, and the line and column when known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Place {
    /// The file, as it was named.
    pub file: PathBuf,
    /// 1-based line and column.
    pub location: Option<Location>,
}

impl fmt::Display for Place {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some(loc) = self.location {
            write!(f, ":{}:{}", loc.line, loc.column)?;
        }
        Ok(())
    }
}

/// One problem with a daemon config.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file cannot be read.
    #[error("{}: cannot read: {source}", file.display())]
    Read {
        /// The file.
        file: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The file is not valid YAML.
    #[error("{at}: {message}")]
    Syntax {
        /// Where.
        at: Place,
        /// The parser's message.
        message: String,
    },
    /// The document is not a mapping of keys to values.
    #[error("{at}: a config file must be a mapping of keys to values")]
    NotAMapping {
        /// Where.
        at: Place,
    },
    /// A key no daemon reads and that is no topology key.
    #[error("{at}: unknown key '{key}'{}", did_you_mean(.suggestion.as_deref()))]
    UnknownKey {
        /// Where the key is.
        at: Place,
        /// The key.
        key: String,
        /// The known key it is closest to, if any is close.
        suggestion: Option<String>,
    },
    /// A known key with a value of the wrong type or range.
    #[error("{at}: {key}: {message}")]
    BadValue {
        /// Where the value is.
        at: Place,
        /// The key.
        key: String,
        /// What was expected.
        message: String,
    },
    /// A daemon's flag maps onto no key of its config, or onto a bad value: a bug in that
    /// daemon's command line.
    #[error("flag for '{key}': {message}")]
    BadFlag {
        /// The key the flag sets.
        key: String,
        /// What is wrong.
        message: String,
    },
}

fn did_you_mean(suggestion: Option<&str>) -> String {
    suggestion.map_or_else(String::new, |s| format!(" (did you mean '{s}'?)"))
}

/// Every problem found in one config (never empty), one per line.
#[derive(Debug)]
pub struct ConfigErrors(pub Vec<ConfigError>);

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        crate::topology::yaml::error::write_lines(f, &self.0)
    }
}

impl std::error::Error for ConfigErrors {}

impl From<ConfigError> for ConfigErrors {
    fn from(e: ConfigError) -> ConfigErrors {
        ConfigErrors(vec![e])
    }
}
