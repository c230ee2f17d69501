//! Topology YAML from outside: the paths nimbus and the CLI take with a submitted file.
//!
//! - nimbus: the structural parse and the task plan (`squall_nimbus::plan`), then the
//!   check the artifact's `validate` runs (`check::check_str` against the `squall`
//!   binary's registry);
//! - the CLI's Flux path (`squall local` / `submit` / `validate`): the text written to a
//!   file and loaded with `flux::load_file` (`${...}` substitution from a properties file,
//!   includes), checked, and its wire YAML parsed again as nimbus would.
#![no_main]

use std::path::PathBuf;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use squall_runtime::Registry;
use squall_runtime::flux::{self, LoadOptions};
use squall_runtime::topology::check;

struct Env {
    registry: Registry,
    _dir: tempfile::TempDir,
    file: PathBuf,
    opts: LoadOptions,
}

fn env() -> &'static Env {
    static ENV: OnceLock<Env> = OnceLock::new();
    ENV.get_or_init(|| {
        let mut registry = Registry::new();
        squall_topologies::register(&mut registry);
        let dir = tempfile::tempdir().expect("a scratch directory");
        let props = dir.path().join("dev.properties");
        std::fs::write(&props, "spout.class=org.apache.storm.testing.TestWordSpout\nn=2\nlist=[\"a\", \"b\"]\n")
            .expect("the properties file");
        std::fs::write(dir.path().join("inc.yaml"), "config:\n  topology.workers: 3\n")
            .expect("an include");
        Env {
            registry,
            file: dir.path().join("topology.yaml"),
            opts: LoadOptions {
                filter: Some(props),
                resources: None,
            },
            _dir: dir,
        }
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let env = env();
    // nimbus
    if let Ok(def) = squall_nimbus::plan::parse_yaml(text) {
        let _ = squall_nimbus::plan::plan(&def, &Default::default());
    }
    let _ = check::check_str(text, &env.registry);
    // the CLI (Flux)
    if std::fs::write(&env.file, text).is_err() {
        return;
    }
    if let Ok(loaded) = flux::load_file(&env.file, &env.opts) {
        let _ = check::check(&loaded.parsed, &env.registry);
        if let Ok(wire) = loaded.wire_yaml() {
            let _ = squall_nimbus::plan::parse_yaml(&wire);
        }
    }
});
