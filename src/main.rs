//! The `squall` binary: the runtime's command line with the built-in components, plus
//! the cluster daemons (`squall nimbus`, `squall supervisor`).

/// Every allocation of the process, librdkafka's and OpenSSL's included (the `override`
/// feature replaces `malloc`): tuples are built on one thread and freed on another, which
/// glibc's per-thread caches serve poorly (BENCHMARKS.md, "Allocator").
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    let mut registry = squall_runtime::Registry::new();
    squall_topologies::register(&mut registry);
    #[cfg(feature = "kafka")]
    squall_kafka::register(&mut registry);
    let daemons = [squall_nimbus::cli::COMMAND, squall_supervisor::cli::COMMAND];
    std::process::exit(squall_runtime::cli::run_with(registry, &daemons));
}
