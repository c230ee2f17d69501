//! A worker's log filter at run time: the process's `tracing` subscriber filters
//! through a `tracing_subscriber::reload` layer ([`init`]), and the worker's report loop
//! follows the filter nimbus names in every stats answer ([`Follower`]): a new one is
//! laid over the default (`SQUALL_LOG`, else the built-in default) and swapped in with
//! one info line; when nimbus no longer names one, or it expires (checked locally too,
//! so a worker cut off from nimbus still reverts), the default comes back.

use std::sync::OnceLock;

use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Registry, reload};

use crate::cluster::log_filter::overlay;
use crate::cluster::protocol::LogFilter;

/// The environment variable holding the default filter directives.
pub const LOG_ENV: &str = "SQUALL_LOG";

/// The installed reloadable filter and the default it returns to.
struct Reloadable {
    handle: reload::Handle<EnvFilter, Registry>,
    default: String,
}

static RELOADABLE: OnceLock<Reloadable> = OnceLock::new();

/// Log to stderr through a filter that can be swapped at run time: `SQUALL_LOG`'s
/// directives, else `builtin_default`. A no-op when a subscriber is already set.
pub fn init(builtin_default: &str) {
    let from_env = std::env::var(LOG_ENV)
        .ok()
        .filter(|d| EnvFilter::builder().parse(d).is_ok());
    let default = from_env.unwrap_or_else(|| builtin_default.to_string());
    let filter = EnvFilter::builder()
        .parse(&default)
        .unwrap_or_else(|_| EnvFilter::new("warn"));
    let (layer, handle) = reload::Layer::new(filter);
    let fmt = tracing_subscriber::fmt::layer().with_writer(std::io::stderr);
    if tracing_subscriber::registry()
        .with(layer)
        .with(fmt)
        .try_init()
        .is_ok()
    {
        let _ = RELOADABLE.set(Reloadable { handle, default });
    }
}

/// What the worker must do with its filter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// Use these directives (over the default) from now on.
    Set(LogFilter),
    /// Go back to the default (`why`: reset by nimbus, or expired).
    Reset {
        /// Why, for the log line.
        why: &'static str,
    },
}

/// The filter a worker follows: the last one applied.
#[derive(Debug, Default)]
pub struct Follower {
    applied: Option<LogFilter>,
}

impl Follower {
    /// A follower with the default filter in place.
    pub fn new() -> Follower {
        Follower::default()
    }

    /// The filter applied now (`None`: the default).
    pub fn applied(&self) -> Option<&LogFilter> {
        self.applied.as_ref()
    }

    /// Nimbus answered that the filter must be `wanted` (`None`: the default): the
    /// change to make, if any. An expired filter counts as none.
    pub fn follow(&mut self, wanted: Option<&LogFilter>, now_ms: u64) -> Option<Change> {
        let wanted = wanted.filter(|f| !expired(f, now_ms));
        if wanted == self.applied.as_ref() {
            return None;
        }
        self.applied = wanted.cloned();
        Some(match wanted {
            Some(f) => Change::Set(f.clone()),
            None => Change::Reset {
                why: "nimbus no longer sets one",
            },
        })
    }

    /// Time passed without word from nimbus: the change to make if the filter expired.
    pub fn tick(&mut self, now_ms: u64) -> Option<Change> {
        if self.applied.as_ref().is_some_and(|f| expired(f, now_ms)) {
            self.applied = None;
            return Some(Change::Reset {
                why: "its timeout is over",
            });
        }
        None
    }
}

fn expired(f: &LogFilter, now_ms: u64) -> bool {
    f.expires_at_ms.is_some_and(|at| at <= now_ms)
}

/// Swap this process's filter as `change` says and log one info line (nothing is
/// swapped when [`init`] did not install the reloadable filter, e.g. a worker on a
/// thread of a test process).
pub fn apply(change: &Change) {
    let Some(r) = RELOADABLE.get() else {
        tracing::debug!(?change, "no reloadable log filter in this process; ignored");
        return;
    };
    match change {
        Change::Set(f) => {
            let merged = overlay(&r.default, &f.directives);
            match EnvFilter::builder().parse(&merged) {
                Ok(filter) => match r.handle.reload(filter) {
                    Ok(()) => tracing::info!(filter = %merged, directives = %f.directives,
                        expires_at_ms = ?f.expires_at_ms, "log filter set by nimbus"),
                    Err(e) => tracing::warn!("cannot swap the log filter: {e}"),
                },
                Err(e) => {
                    tracing::warn!(filter = %merged, "nimbus sent a log filter this worker cannot parse: {e}")
                }
            }
        }
        Change::Reset { why } => {
            let filter = EnvFilter::builder()
                .parse(&r.default)
                .unwrap_or_else(|_| EnvFilter::new("warn"));
            match r.handle.reload(filter) {
                Ok(()) => tracing::info!(filter = %r.default,
                    "log filter back to the default: {why}"),
                Err(e) => tracing::warn!("cannot swap the log filter: {e}"),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn filter(d: &str, expires_at_ms: Option<u64>) -> LogFilter {
        LogFilter {
            directives: d.to_string(),
            expires_at_ms,
        }
    }

    #[test]
    fn a_new_filter_is_set_once_and_an_absent_one_resets() {
        let mut f = Follower::new();
        assert_eq!(f.follow(None, 0), None);
        let debug = filter("debug", Some(5_000));
        assert_eq!(
            f.follow(Some(&debug), 1_000),
            Some(Change::Set(debug.clone()))
        );
        assert_eq!(
            f.follow(Some(&debug), 2_000),
            None,
            "unchanged: nothing to do"
        );
        let trace = filter("my_bolt=trace", None);
        assert_eq!(
            f.follow(Some(&trace), 2_000),
            Some(Change::Set(trace.clone()))
        );
        assert!(matches!(f.follow(None, 3_000), Some(Change::Reset { .. })));
        assert_eq!(f.applied(), None);
    }

    #[test]
    fn an_expired_filter_reverts_without_nimbus_and_is_not_set_again() {
        let mut f = Follower::new();
        let debug = filter("debug", Some(5_000));
        f.follow(Some(&debug), 1_000);
        assert_eq!(f.tick(4_999), None);
        assert!(matches!(f.tick(5_000), Some(Change::Reset { .. })));
        assert_eq!(f.tick(6_000), None);
        // Nimbus still naming the expired filter does not bring it back.
        assert_eq!(f.follow(Some(&debug), 6_000), None);
    }
}
