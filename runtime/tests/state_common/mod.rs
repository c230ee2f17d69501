//! Shared by the state tests: the provider protocol checks and a Redis server.

pub mod protocol;
pub mod redis_server;

use squall_runtime::state::provider::StateProvider;

/// What a provider's tests need: a way to open a provider anew on the same store.
pub trait Setup {
    /// A function that opens a new provider on this setup's store each call.
    fn reopen(&self) -> Box<dyn Fn() -> Box<dyn StateProvider> + '_>;
}
