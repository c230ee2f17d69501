//! The `squall` binary: the runtime's command line with the built-in components.

fn main() {
    let mut registry = squall_runtime::Registry::new();
    squall_topologies::register(&mut registry);
    std::process::exit(squall_runtime::cli::run(registry));
}
