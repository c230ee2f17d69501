//! Commands a binary adds to the runtime's command line: the `squall` binary adds the
//! cluster daemons (`nimbus`, `supervisor`), which live in crates the runtime cannot
//! depend on. clap knows them (they are listed by `--help`), and each parses its own
//! arguments, so `squall nimbus --help` shows nimbus's flags.

/// A subcommand owned by the binary: its name, its one-line help, and its entry point.
///
/// ```no_run
/// use squall_runtime::{Registry, cli};
///
/// fn hello(args: Vec<String>) -> i32 {
///     println!("hello {}", args.join(" "));
///     0
/// }
///
/// let hello = cli::ExtraCommand {
///     name: "hello",
///     about: "Say hello",
///     run: hello,
/// };
/// std::process::exit(cli::run_with(Registry::new(), &[hello]));
/// ```
#[derive(Debug, Clone, Copy)]
pub struct ExtraCommand {
    /// The subcommand's name (`nimbus`).
    pub name: &'static str,
    /// Its one-line description in `--help`.
    pub about: &'static str,
    /// Runs it with the arguments after the name (flags, `--help` included); returns the
    /// exit code.
    pub run: fn(Vec<String>) -> i32,
}

/// Name of the argument that collects an extra command's arguments.
const ARGS: &str = "args";

impl ExtraCommand {
    /// The clap subcommand: every argument after the name is passed through untouched.
    pub(crate) fn clap(&self) -> clap::Command {
        clap::Command::new(self.name)
            .about(self.about)
            .override_usage(format!("squall {} [OPTIONS]", self.name))
            .after_help(format!(
                "Run `squall {} --help` for its options.",
                self.name
            ))
            .disable_help_flag(true)
            .disable_version_flag(true)
            .arg(
                clap::Arg::new(ARGS)
                    .num_args(0..)
                    .trailing_var_arg(true)
                    .allow_hyphen_values(true)
                    .value_parser(clap::value_parser!(String))
                    .hide(true),
            )
    }

    /// The arguments clap collected for this command.
    pub(crate) fn args(matches: &clap::ArgMatches) -> Vec<String> {
        matches
            .get_many::<String>(ARGS)
            .map(|a| a.cloned().collect())
            .unwrap_or_default()
    }
}
