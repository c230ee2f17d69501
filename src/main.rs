//! The `squall` binary: the runtime's command line with the built-in components, plus
//! the cluster daemons (`squall nimbus`, `squall supervisor`).

fn main() {
    let mut args = std::env::args().skip(1);
    let code = match args.next().as_deref() {
        Some("nimbus") => squall_nimbus::cli::main(args.collect()),
        Some("supervisor") => squall_supervisor::cli::main(args.collect()),
        _ => {
            let mut registry = squall_runtime::Registry::new();
            squall_topologies::register(&mut registry);
            squall_runtime::cli::run(registry)
        }
    };
    std::process::exit(code);
}
