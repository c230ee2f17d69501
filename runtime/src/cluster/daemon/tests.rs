//! The daemon configs: defaults, layering, and what a config file may not hold.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Serialize;

use super::*;

/// Flags as a daemon's command line gives them (`None`: not given).
#[derive(Default, Serialize)]
struct Flags {
    #[serde(rename = "storm.local.dir")]
    data: Option<PathBuf>,
    #[serde(rename = "nimbus.listen")]
    listen: Option<SocketAddr>,
}

fn parse(text: &str) -> Result<ConfigFile, ConfigErrors> {
    ConfigFile::parse(Path::new("squall.yaml"), text)
}

fn errors(text: &str) -> Vec<String> {
    match parse(text) {
        Ok(_) => panic!("accepted:\n{text}"),
        Err(e) => e.0.iter().map(|e| e.to_string()).collect(),
    }
}

#[test]
fn without_file_or_flags_every_default_applies() {
    let n: NimbusConfig = load(None, &Flags::default()).unwrap();
    assert_eq!(n, NimbusConfig::default());
    assert_eq!(n.data_dir, Path::new("squall-nimbus"));
    assert_eq!(n.listen, "127.0.0.1:6627".parse::<SocketAddr>().unwrap());
    assert_eq!(n.supervisor_timeout.duration(), Duration::from_secs(10));
    assert_eq!(n.monitor_freq.duration(), Duration::from_secs(1));
    let s: SupervisorConfig = load(None, &()).unwrap();
    assert_eq!(s.nimbus_url, None);
    assert_eq!(s.data_dir, Path::new("squall-supervisor"));
    assert_eq!(s.slots, [6700, 6701, 6702, 6703]);
    assert_eq!(s.host, "127.0.0.1");
    assert_eq!(s.heartbeat_frequency.duration(), Duration::from_secs(1));
    assert_eq!(s.worker_timeout.duration(), Duration::from_secs(10));
    assert_eq!(s.worker_start_timeout.duration(), Duration::from_secs(60));
    assert_eq!(s.worker_shutdown_sleep.duration(), Duration::from_secs(3));
    assert_eq!(s.worker_orphan_grace.duration(), Duration::from_secs(30));
    assert_eq!(s.worker_uid_range.to_string(), "20000-29999");
    assert!(!s.worker_run_as_root);
    assert_eq!(n.validate_user, "nobody");
}

#[test]
fn a_worker_uid_range_is_first_dash_last_never_root() {
    let s: SupervisorConfig = parse("supervisor.worker.uid.range: 30000-30009\n")
        .unwrap()
        .daemon(&())
        .unwrap();
    assert_eq!(
        (s.worker_uid_range.first, s.worker_uid_range.last),
        (30000, 30009)
    );
    assert_eq!(s.worker_uid_range.len(), 10);
    for bad in ["0-10", "10-5", "abc", "5", "1-4294967295"] {
        let e = errors(&format!("supervisor.worker.uid.range: {bad}\n"));
        assert!(
            e[0].contains("expected a uid range first-last"),
            "{bad}: {e:?}"
        );
    }
}

#[test]
fn a_flag_beats_the_file_which_beats_the_default() {
    let file = parse("storm.local.dir: /from/file\nnimbus.listen: 10.0.0.1:7000\n").unwrap();
    // the file over the defaults
    let n: NimbusConfig = file.daemon(&Flags::default()).unwrap();
    assert_eq!(n.data_dir, Path::new("/from/file"));
    assert_eq!(n.listen.to_string(), "10.0.0.1:7000");
    assert_eq!(n.monitor_freq, NimbusConfig::default().monitor_freq);
    // a flag over the file; a flag not given leaves the file's value
    let flags = Flags {
        listen: Some("127.0.0.1:0".parse().unwrap()),
        ..Flags::default()
    };
    let n: NimbusConfig = file.daemon(&flags).unwrap();
    assert_eq!(n.listen.to_string(), "127.0.0.1:0");
    assert_eq!(n.data_dir, Path::new("/from/file"));
    // a flag over the default
    let n: NimbusConfig = ConfigFile::default()
        .daemon(&Flags {
            data: Some("/from/flag".into()),
            ..Flags::default()
        })
        .unwrap();
    assert_eq!(n.data_dir, Path::new("/from/flag"));
}

#[test]
fn fractional_seconds_are_accepted() {
    let n: NimbusConfig = parse("nimbus.monitor.freq.secs: 0.5\n")
        .unwrap()
        .daemon(&())
        .unwrap();
    assert_eq!(n.monitor_freq.duration(), Duration::from_millis(500));
}

#[test]
fn one_file_serves_every_daemon() {
    let text = "\
# squall.yaml, as Storm's storm.yaml
storm.local.dir: /var/squall
nimbus.listen: 0.0.0.0:6627
nimbus.supervisor.timeout.secs: 30
nimbus.monitor.freq.secs: 2
nimbus.url: http://nimbus.example:6627
supervisor.slots.ports:
  - 6700
  - 6701
supervisor.host: worker1.example
supervisor.worker.timeout.secs: 20
topology.workers: 4
topology.message.timeout.secs: 60
";
    let file = parse(text).unwrap();
    let n: NimbusConfig = file.daemon(&()).unwrap();
    assert_eq!(n.listen.to_string(), "0.0.0.0:6627");
    assert_eq!(n.supervisor_timeout.duration(), Duration::from_secs(30));
    assert_eq!(n.data_dir, Path::new("/var/squall"));
    let s: SupervisorConfig = file.daemon(&()).unwrap();
    assert_eq!(s.nimbus_url.as_deref(), Some("http://nimbus.example:6627"));
    assert_eq!(s.slots, [6700, 6701]);
    assert_eq!(s.host, "worker1.example");
    assert_eq!(s.worker_timeout.duration(), Duration::from_secs(20));
    assert_eq!(s.data_dir, Path::new("/var/squall"));
    let topo = file.topology_defaults();
    assert_eq!(topo.len(), 2);
    assert_eq!(topo["topology.workers"], serde_yaml::Value::from(4));
}

#[test]
fn an_unknown_key_is_refused_with_file_line_and_suggestion() {
    let errs = errors("nimbus.listen: 127.0.0.1:6627\n\nnimbus.supervisor.timeout.sec: 3\n");
    assert_eq!(
        errs,
        [
            "squall.yaml:3:1: unknown key 'nimbus.supervisor.timeout.sec' \
          (did you mean 'nimbus.supervisor.timeout.secs'?)"
        ]
    );
    let errs = errors("frobnicate: yes\n");
    assert_eq!(errs, ["squall.yaml:1:1: unknown key 'frobnicate'"]);
}

#[test]
fn a_wrong_type_is_refused_with_file_line_and_expected_type() {
    let errs = errors("nimbus.listen: 127.0.0.1:6627\nnimbus.monitor.freq.secs: fast\n");
    assert_eq!(errs.len(), 1, "{errs:?}");
    assert!(
        errs[0].starts_with("squall.yaml:2:27: nimbus.monitor.freq.secs: "),
        "{errs:?}"
    );
    assert!(
        errs[0].contains("expected a positive number of seconds"),
        "{errs:?}"
    );
    let errs = errors("nimbus.listen: nowhere\n");
    assert!(
        errs[0].starts_with("squall.yaml:1:16: nimbus.listen: "),
        "{errs:?}"
    );
    assert!(
        errs[0].contains("expected an address host:port"),
        "{errs:?}"
    );
    let errs = errors("supervisor.slots.ports: [6700, 70000]\n");
    assert!(errs[0].contains("expected a list of ports"), "{errs:?}");
    let errs = errors("supervisor.slots.ports: 6700\n");
    assert!(errs[0].contains("expected a list of ports"), "{errs:?}");
    let errs = errors("nimbus.supervisor.timeout.secs: 0\n");
    assert!(errs[0].contains("expected a positive number"), "{errs:?}");
    // a topology key is checked against its KNOWN_KEYS type
    let errs = errors("topology.workers: two\n");
    assert_eq!(
        errs,
        ["squall.yaml:1:19: topology.workers: expected an integer >= 1, got two"]
    );
}

#[test]
fn every_problem_is_reported_at_once_in_line_order() {
    let errs = errors("a.b: 1\nnimbus.listen: 5\nsupervisor.host: [x]\n");
    assert_eq!(errs.len(), 3, "{errs:?}");
    assert!(errs[0].starts_with("squall.yaml:1:1: unknown key 'a.b'"));
    assert!(errs[1].starts_with("squall.yaml:2:"), "{errs:?}");
    assert!(errs[2].starts_with("squall.yaml:3:"), "{errs:?}");
}

#[test]
fn a_bad_document_is_refused_with_its_place() {
    let errs = errors("- nimbus.listen\n");
    assert_eq!(
        errs,
        ["squall.yaml:1:1: a config file must be a mapping of keys to values"]
    );
    let errs = errors("nimbus.listen: [\n");
    assert!(errs[0].starts_with("squall.yaml:2:1: "), "{errs:?}");
    assert!(!errs[0].contains("at line"), "{errs:?}");
    // an empty file is an empty config
    let n: NimbusConfig = parse("# nothing\n").unwrap().daemon(&()).unwrap();
    assert_eq!(n, NimbusConfig::default());
}

#[test]
fn a_missing_file_is_refused_with_its_name() {
    let e = load::<NimbusConfig>(Some(Path::new("/nonexistent/squall.yaml")), &())
        .unwrap_err()
        .to_string();
    assert!(
        e.starts_with("/nonexistent/squall.yaml: cannot read"),
        "{e}"
    );
}

#[test]
fn a_flag_for_another_daemon_s_key_is_a_bug_caught() {
    #[derive(Serialize)]
    struct Wrong {
        #[serde(rename = "supervisor.host")]
        host: &'static str,
    }
    let e = load::<NimbusConfig>(None, &Wrong { host: "x" }).unwrap_err();
    assert!(matches!(e.0[0], ConfigError::BadFlag { .. }), "{e}");
}

#[test]
fn a_key_given_twice_is_refused() {
    let errs = errors("nimbus.listen: 127.0.0.1:1\nnimbus.listen: 127.0.0.1:2\n");
    assert!(errs[0].starts_with("squall.yaml:2:"), "{errs:?}");
    assert!(errs[0].contains("duplicate"), "{errs:?}");
}

#[test]
fn non_finite_and_huge_seconds_are_refused_naming_the_key() {
    for (value, shown) in [
        (".inf", "got inf"),
        ("-.inf", "got -inf"),
        (".nan", "got NaN"),
        ("-1", "got -1"),
        ("-0.5", "got -5e-1"),
        ("1e300", "got 1e300"),
        ("1e18", "got 1e18"),
        ("18446744073709551615", "got 18446744073709551615"),
        ("1000000001", "got 1000000001"),
    ] {
        for key in [
            "nimbus.supervisor.timeout.secs",
            "supervisor.worker.timeout.secs",
        ] {
            let errs = errors(&format!("{key}: {value}\n"));
            assert_eq!(errs.len(), 1, "{key}: {value}: {errs:?}");
            assert!(
                errs[0].starts_with(&format!("squall.yaml:1:{}: {key}: ", key.len() + 3)),
                "{key}: {value}: {errs:?}"
            );
            assert!(
                errs[0].contains("expected a positive number of seconds, at most 1000000000"),
                "{key}: {value}: {errs:?}"
            );
            assert!(errs[0].contains(shown), "{key}: {value}: {errs:?}");
            // no float with hundreds of digits in the message
            assert!(errs[0].len() < 200, "{errs:?}");
        }
    }
    let n: NimbusConfig = parse("nimbus.supervisor.timeout.secs: 1000000000\n")
        .unwrap()
        .daemon(&())
        .unwrap();
    assert_eq!(n.supervisor_timeout.duration().as_secs(), MAX_SECS);
}

#[test]
fn huge_topology_defaults_in_a_daemon_file_are_refused() {
    let errs = errors("topology.message.timeout.secs: 9223372036854775807\n");
    assert_eq!(
        errs,
        [
            "squall.yaml:1:32: topology.message.timeout.secs: expected at most 31536000 \
             (larger values overflow a clock or an allocation), got 9223372036854775807"
        ]
    );
    let errs = errors("topology.stats.sample.rate: .nan\n");
    assert!(
        errs[0].starts_with("squall.yaml:1:29: topology.stats.sample.rate: expected a number"),
        "{errs:?}"
    );
}

#[test]
fn worker_log_and_http_limits_are_bounded() {
    let s: SupervisorConfig = parse("").unwrap().daemon(&()).unwrap();
    assert_eq!(s.worker_log_max_bytes, 64 * 1024 * 1024);
    assert_eq!(s.worker_log_files, 4);
    let n: NimbusConfig = parse("").unwrap().daemon(&()).unwrap();
    assert_eq!(n.http_header_timeout.duration(), Duration::from_secs(10));
    assert_eq!(n.http_body_timeout.duration(), Duration::from_secs(30));
    assert_eq!(n.http_max_connections, 1024);
    for (text, expected) in [
        (
            "supervisor.worker.log.max.bytes: 100\n",
            "expected an integer from 4096 to 1099511627776, got 100",
        ),
        (
            "supervisor.worker.log.max.bytes: .inf\n",
            "expected an integer from 4096 to 1099511627776, got .inf",
        ),
        (
            "supervisor.worker.log.files: 101\n",
            "expected an integer from 0 to 100, got 101",
        ),
        (
            "nimbus.http.max.connections: 0\n",
            "expected an integer from 1 to 65536, got 0",
        ),
        (
            "nimbus.http.header.timeout.secs: .nan\n",
            "expected a positive number of seconds",
        ),
    ] {
        let errs = errors(text);
        assert_eq!(errs.len(), 1, "{text}: {errs:?}");
        assert!(errs[0].contains(expected), "{text}: {errs:?}");
    }
}

#[test]
fn the_authentication_keys_parse_and_refuse_bad_values() {
    let n: NimbusConfig = load(None, &Flags::default()).unwrap();
    assert_eq!(n.authentication, config::Authentication::Token);
    let file = parse(
        "nimbus.authentication: none\nnimbus.auth.rate.per.sec: 5\nnimbus.auth.rate.burst: 9\n\
         nimbus.audit.log.max.bytes: 8192\ntopology.users: [alice, bob]\n",
    )
    .unwrap();
    let n: NimbusConfig = file.daemon(&()).unwrap();
    assert_eq!(n.authentication, config::Authentication::None);
    assert_eq!((n.auth_rate_per_sec, n.auth_rate_burst), (5, 9));
    assert_eq!(n.audit_log_max_bytes, 8192);
    let errs = errors("nimbus.authentication: kerberos\n");
    assert!(
        errs[0].contains("token") && errs[0].contains("none"),
        "{errs:?}"
    );
    let errs = errors("nimbus.auth.rate.per.sec: 0\n");
    assert!(errs[0].contains("from 1 to"), "{errs:?}");
    let errs = errors("topology.users: alice\n");
    assert!(errs[0].contains("a list of strings"), "{errs:?}");
}
