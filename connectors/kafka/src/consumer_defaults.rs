//! The librdkafka settings every consumer of this crate starts from (the spout's and the
//! Trident spout's), before the user's `props` and the settings each owns.

use rdkafka::config::ClientConfig;

/// Prefetched bytes librdkafka may queue per consumer, unless `props` say otherwise.
pub(crate) const QUEUED_KBYTES: &str = "16384";

/// How long librdkafka waits before it fetches a partition again once its prefetch queue
/// was full (`fetch.queue.backoff.ms`), unless `props` say otherwise.
///
/// librdkafka's default, 1000 ms, starves a spout that reads slower than its fetcher: the
/// queue reaches `queued.min.messages` (100 000), fetching stops for a second, the spout
/// drains the queue in a fraction of it and then idles. A 300 000-record read then took
/// 1.3 s instead of 0.4. A queue that full takes far longer than 10 ms to drain, so
/// fetching resumes long before it runs dry; the cost is a check every 10 ms by the
/// client's broker thread while the queue stays full.
pub(crate) const FETCH_QUEUE_BACKOFF_MS: &str = "10";

/// A client configuration holding the defaults above.
pub(crate) fn consumer_defaults() -> ClientConfig {
    let mut c = ClientConfig::new();
    c.set("queued.max.messages.kbytes", QUEUED_KBYTES)
        .set("fetch.queue.backoff.ms", FETCH_QUEUE_BACKOFF_MS);
    c
}
