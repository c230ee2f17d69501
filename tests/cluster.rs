//! The cluster end to end: real `squall nimbus`, `squall supervisor` and worker
//! processes on loopback, driven through the `squall` CLI.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod cluster_common;

use std::io::Write;
use std::time::{Duration, Instant};

use cluster_common::*;

/// `squall status NAME` (text) shows each of `components` on exactly one row.
fn assert_components_listed_once(c: &Cluster, name: &str, components: &[&str]) {
    let (code, out, err) = cli(&c.url, &["status", name]);
    assert_eq!(code, 0, "{out}{err}");
    for id in components {
        let rows = out
            .lines()
            .filter(|l| l.split_whitespace().next() == Some(id))
            .count();
        assert_eq!(rows, 1, "component {id} should be listed once:\n{out}");
    }
}

#[test]
fn wordcount_across_two_workers_gives_exact_counts_and_kill_removes_workers() {
    let c = cluster("");
    let (input, expected) = word_file(&c.root, 3000);
    let sink = c.root.join("sink.txt");
    submit(&c, &wordcount_yaml("wc", &input, &sink, 2));
    let st = wait_running(&c, "wc", 2);
    let sups: std::collections::BTreeSet<&str> = st["workers"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|w| w["supervisor"].as_str())
        .collect();
    assert_eq!(sups.len(), 2, "one worker on each supervisor: {st}");
    let got = wait_for(LONG, "exact word counts in the sink", || {
        let got = sink_counts(&sink);
        (got == expected).then_some(got)
    });
    assert_eq!(got, expected);
    // Tuples crossed worker processes: split and count run on both workers.
    let total: u64 = expected.values().sum();
    // The sink acks what it has flushed (within ~200 ms): wait for the last acks too,
    // and for both workers' ackers to have reported them (each worker reports on its
    // own schedule, so the spout's worker can be ahead of the other one's acker).
    let st = wait_for(LONG, "component statistics from both workers", || {
        let st = status(&c.url, "wc")?;
        let c = &st["components"];
        (c["count"]["executed"].as_f64()? as u64 == total
            && c["lines"]["acked"].as_f64()? >= 3000.0
            && c["__acker"]["acked"].as_f64()? >= 3000.0)
            .then_some(st)
    });
    assert_eq!(
        st["components"]["lines"]["acked"].as_f64(),
        Some(3000.0),
        "{st}"
    );
    // The ackers count the trees they completed: one per line, none failed.
    let acker = &st["components"]["__acker"];
    assert_eq!(acker["kind"], "acker", "{st}");
    assert_eq!(acker["acked"].as_u64(), Some(3000), "{st}");
    assert_eq!(acker["failed"].as_u64(), Some(0), "{st}");
    assert!(acker["executed"].as_u64() > Some(3000), "{st}");
    assert_components_listed_once(&c, "wc", &["lines", "split", "count", "__acker"]);

    let pids = worker_pids(&st);
    let (code, out, err) = cli(&c.url, &["kill", "wc", "-w", "1"]);
    assert_eq!(code, 0, "{out}{err}");
    wait_for(
        Duration::from_secs(20),
        "every worker process to exit after kill -w 1",
        || pids.iter().all(|p| !alive(*p)).then_some(()),
    );
    wait_for(
        Duration::from_secs(20),
        "the topology to leave the list",
        || {
            let (_, out, _) = cli(&c.url, &["list", "--json"]);
            (!out.contains("\"wc\"")).then_some(())
        },
    );
}

#[test]
fn a_killed_worker_is_restarted_with_its_cause_and_nothing_acked_is_lost() {
    let c = cluster("");
    let (input, expected) = word_file(&c.root, 20000);
    let sink = c.root.join("sink.txt");
    submit(&c, &split_sink_yaml("wc", &input, &sink, 2));
    let st = wait_running(&c, "wc", 2);
    let victim = worker_pids(&st)[0];
    // Kill while words are flowing.
    wait_for(LONG, "some words in the sink", || {
        (!sink_word_totals(&sink).is_empty()).then_some(())
    });
    let killed_at = Instant::now();
    kill_worker(victim);
    let st = wait_for(Duration::from_secs(10), "the worker's restart", || {
        let st = status(&c.url, "wc")?;
        let restarted = st["workers"].as_array()?.iter().any(|w| {
            w["restarts"] == 1
                && w["state"] == "running"
                && w["last_exit"]
                    .as_str()
                    .is_some_and(|e| e.contains("signal 9"))
        });
        restarted.then_some(st)
    });
    assert!(
        killed_at.elapsed() < Duration::from_secs(8),
        "restart took {:?}: {st}",
        killed_at.elapsed()
    );
    assert!(!worker_pids(&st).contains(&victim));
    assert_components_listed_once(&c, "wc", &["lines", "split", "sink", "__acker"]);
    // At least once: every word reaches the sink at least as often as it is in the input
    // (replays may add more). The sinks ack only what they flushed, and the killed
    // worker's in-flight tuples time out and are replayed by the spout.
    wait_for(
        LONG,
        "every word counted at least its exact number of times",
        || {
            let got = sink_word_totals(&sink);
            expected
                .iter()
                .all(|(w, n)| got.get(w).is_some_and(|g| g >= n))
                .then_some(())
        },
    );
}

#[test]
fn a_dead_supervisor_s_slots_are_reassigned_and_processing_goes_on() {
    let mut c = cluster("nimbus.supervisor.timeout.secs: 3\nnimbus.monitor.freq.secs: 0.5\n");
    let yaml = "name: endless\nconfig:\n  topology.workers: 2\n  topology.max.spout.pending: 1000\nspouts:\n  - id: sentences\n    className: RandomSentenceSpout\nbolts:\n  - id: split\n    className: SplitSentenceBolt\n    parallelism: 2\n  - id: count\n    className: WordCountBolt\n    parallelism: 2\nstreams:\n  - from: sentences\n    to: split\n    grouping: {type: SHUFFLE}\n  - from: split\n    to: count\n    grouping: {type: FIELDS, args: [word]}\n";
    submit(&c, yaml);
    let st = wait_running(&c, "endless", 2);
    // Kill a supervisor that runs workers (usually one each; under load nimbus may have
    // moved both to one supervisor already) and its workers.
    let ids: Vec<String> = ["sup1", "sup2"]
        .iter()
        .map(|d| {
            std::fs::read_to_string(c.root.join(d).join("supervisor-id"))
                .unwrap()
                .trim()
                .to_string()
        })
        .collect();
    let victim = if worker_pids_of(&st, &ids[1]).is_empty() {
        0
    } else {
        1
    };
    let (doomed_id, survivor_id) = (ids[victim].clone(), ids[1 - victim].clone());
    assert!(
        !worker_pids_of(&st, &doomed_id).is_empty(),
        "the victim runs a worker: {st}"
    );
    let victim_pid = c.sups[victim].pid();
    c.sups[victim].kill9();
    assert!(!alive(victim_pid));
    // Its machine dies with it: every worker running from its directory, found once the
    // supervisor can start no more (not the pids of an older status: a worker it
    // launched since would be missed, and left running).
    let doomed = kill_processes_under(&c.root.join(["sup1", "sup2"][victim]));
    assert!(!doomed.is_empty(), "the victim ran a worker: {st}");
    let st = wait_for(
        LONG,
        "both workers running on the surviving supervisor",
        || {
            let st = status(&c.url, "endless")?;
            let on_survivor = st["workers"]
                .as_array()?
                .iter()
                .filter(|w| w["state"] == "running" && w["supervisor"] == survivor_id.as_str())
                .count();
            (on_survivor == 2).then_some(st)
        },
    );
    let before = st["components"]["count"]["executed"]
        .as_f64()
        .unwrap_or(0.0);
    wait_for(
        LONG,
        "the topology to keep processing after the failover",
        || {
            let st = status(&c.url, "endless")?;
            (st["components"]["count"]["executed"].as_f64()? > before + 1000.0).then_some(())
        },
    );
}

#[test]
fn a_restarted_nimbus_still_lists_and_runs_its_topologies() {
    let mut c = cluster("");
    let (input, expected) = word_file(&c.root, 500);
    let sink = c.root.join("sink.txt");
    submit(&c, &wordcount_yaml("wc", &input, &sink, 2));
    let st = wait_running(&c, "wc", 2);
    let pids = worker_pids(&st);
    let port: u16 = c.url.rsplit(':').next().unwrap().parse().unwrap();
    c.nimbus.stop();
    let (restarted, _) = start_nimbus(&c.root.join("nimbus"), port, &[]);
    c.nimbus = restarted;
    let st = wait_for(LONG, "the topology listed by the restarted nimbus", || {
        let st = status(&c.url, "wc")?;
        (st["status"] == "ACTIVE").then_some(st)
    });
    assert_eq!(st["name"], "wc");
    assert!(pids.iter().all(|p| alive(*p)), "workers kept running: {st}");
    wait_for(LONG, "exact counts", || {
        (sink_counts(&sink) == expected).then_some(())
    });
}

#[test]
fn bad_input_is_refused_and_the_cluster_keeps_running() {
    let c = cluster("");
    // Malformed YAML: refused with its line; nothing submitted.
    let bad = c.root.join("bad.yaml");
    std::fs::write(
        &bad,
        "name: bad\nspouts:\n  - id: s\n    className: [oops\n",
    )
    .unwrap();
    let (code, _, err) = cli(&c.url, &["submit", bad.to_str().unwrap()]);
    assert_eq!(code, 1);
    assert!(err.contains("bad.yaml:"), "{err}");
    // Unknown topology.
    let (code, _, err) = cli(&c.url, &["status", "nope"]);
    assert_eq!(code, 1);
    assert!(err.contains("nope"), "{err}");
    // Corrupt artifact: refused by nimbus, which keeps running.
    let (input, expected) = word_file(&c.root, 300);
    let sink = c.root.join("sink.txt");
    let file = c.root.join("wc.yaml");
    std::fs::write(&file, wordcount_yaml("wc", &input, &sink, 2)).unwrap();
    let junk = c.root.join("junk.bin");
    std::fs::File::create(&junk)
        .unwrap()
        .write_all(&[0x7f, b'E', b'L', b'F', 1, 2, 3, 4, 5, 6, 7, 8])
        .unwrap();
    let (code, _, err) = cli(
        &c.url,
        &[
            "submit",
            file.to_str().unwrap(),
            "--artifact",
            junk.to_str().unwrap(),
        ],
    );
    assert_eq!(code, 1);
    assert!(err.contains("artifact"), "{err}");
    // A good submission still works; garbage on a worker's data port is refused
    // without harming the topology.
    submit(&c, &wordcount_yaml("wc", &input, &sink, 2));
    let st = wait_running(&c, "wc", 2);
    let port = st["workers"][0]["port"].as_u64().unwrap() as u16;
    let mut s = wait_for(LONG, "the worker's data port to accept", || {
        std::net::TcpStream::connect(("127.0.0.1", port)).ok()
    });
    let _ = s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\nthis is not a frame at all");
    drop(s);
    wait_for(LONG, "exact counts despite the garbage", || {
        (sink_counts(&sink) == expected).then_some(())
    });
    let st = status(&c.url, "wc").unwrap();
    assert_eq!(worker_pids(&st).len(), 2, "no worker died: {st}");
}

#[test]
fn a_hung_worker_is_killed_and_restarted_and_a_restarted_supervisor_adopts_its_worker() {
    let mut c = cluster("");
    // Replace supervisor 1 by one with a short worker timeout.
    let ports: Vec<u16> = free_ports(2);
    let fast = start_supervisor_with(
        &c.url,
        &c.root.join("sup3"),
        &ports,
        "supervisor.worker.timeout.secs: 2\n",
    );
    drop(std::mem::replace(&mut c.sups[0], fast));
    drop(c.sups.pop());
    let yaml = "name: endless\nconfig:\n  topology.workers: 1\n  topology.max.spout.pending: 100\nspouts:\n  - id: words\n    className: WordSpout\nbolts:\n  - id: exclaim\n    className: ExclamationBolt\nstreams:\n  - from: words\n    to: exclaim\n    grouping: {type: SHUFFLE}\n";
    submit(&c, yaml);
    let st = wait_running(&c, "endless", 1);
    let hung = worker_pids(&st)[0];
    // SIGSTOP: the process is alive but its heartbeat stops.
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(hung),
        nix::sys::signal::Signal::SIGSTOP,
    )
    .unwrap();
    let st = wait_for(
        Duration::from_secs(30),
        "the hung worker to be replaced",
        || {
            let st = status(&c.url, "endless")?;
            let w = st["workers"].as_array()?.first()?.clone();
            (w["restarts"] == 1 && w["state"] == "running" && w["pid"].as_i64()? as i32 != hung)
                .then_some(st)
        },
    );
    assert!(!alive(hung), "the hung worker was killed: {st}");
    assert!(
        st["workers"][0]["last_exit"]
            .as_str()
            .unwrap_or("")
            .contains("signal 9"),
        "{st}"
    );

    // kill -9 the supervisor alone: its worker runs on. A new supervisor on the same
    // data dir, within the orphan grace, adopts it: same process, no restart counted.
    let orphan = worker_pids(&st)[0];
    c.sups[0].kill9();
    assert!(running(orphan));
    c.sups[0] = start_supervisor_with(
        &c.url,
        &c.root.join("sup3"),
        &ports,
        "supervisor.worker.timeout.secs: 2\n",
    );
    let st = wait_for(
        LONG,
        "the restarted supervisor to report its worker",
        || {
            let st = status(&c.url, "endless")?;
            let w = st["workers"].as_array()?.first()?.clone();
            // The old supervisor's last report counted a restart (the hung worker's).
            (w["restarts"] == 0 && w["state"] == "running").then_some(st)
        },
    );
    assert_eq!(worker_pids(&st), [orphan], "the worker was adopted: {st}");
    assert!(running(orphan));
}

#[test]
fn trident_wordcount_counts_exactly_when_a_worker_is_killed_mid_run() {
    let c = cluster("");
    let (input, expected) = word_file(&c.root, 20000);
    let input_len = std::fs::metadata(&input).unwrap().len();
    let store = c.root.join("counts.redb");
    submit(&c, &trident_yaml(&input, &store, "transactional"));
    let st = wait_running(&c, "tw", 2);
    wait_for(LONG, "a first committed batch", || {
        (trident_progress(&c.url, "tw", input_len).committed >= 2).then_some(())
    });
    let before = trident_progress(&c.url, "tw", input_len);
    assert!(
        !before.done,
        "the run ended before the kill; make the input longer"
    );
    for victim in worker_pids(&st) {
        // Both workers: whichever holds the coordinator, the spout and the state.
        kill_worker(victim);
    }
    wait_for(LONG, "every line committed after the restarts", || {
        let p = trident_progress(&c.url, "tw", input_len);
        (p.done && p.committed > before.committed).then_some(())
    });
    let got = kill_and_dump(&c, "tw", &store);
    assert_eq!(got, expected, "exact counts after kill -9 of the workers");
    assert_eq!(
        trident_meta(&c.url, "tw", "coordinator"),
        None,
        "the metadata went with the topology"
    );
}

/// The supervisor whose worker runs the Trident master coordinator: the assigned worker
/// whose executors hold the task that reports as `$mastercoord`, once it has emitted.
fn coordinator_supervisor(st: &serde_json::Value) -> Option<String> {
    let task = st["tasks"].as_array()?.iter().find(|t| {
        t["component"] == "$mastercoord" && t["counters"]["emitted"].as_u64().is_some_and(|n| n > 0)
    })?["task"]
        .as_u64()?;
    let worker = st["assignment"].as_array()?.iter().find(|w| {
        w["executors"].as_array().is_some_and(|es| {
            es.iter().any(|e| {
                e[0].as_u64().is_some_and(|f| f <= task) && e[1].as_u64().is_some_and(|l| task <= l)
            })
        })
    })?;
    Some(worker["supervisor"].as_str()?.to_string())
}

#[test]
fn trident_coordinator_moved_to_another_supervisor_continues_its_txids_exactly() {
    // 5 s: on a loaded 2-core machine a shorter timeout moves workers before the kill.
    let mut c = cluster("nimbus.supervisor.timeout.secs: 5\nnimbus.monitor.freq.secs: 0.5\n");
    let (input, expected) = word_file(&c.root, 20000);
    let input_len = std::fs::metadata(&input).unwrap().len();
    // The redb state is host-local: both supervisors run on this machine, so a path in
    // the test's directory is reachable from wherever nimbus moves the state's task. On
    // a real cluster it would need a shared filesystem (or a state store of its own).
    let store = c.root.join("counts.redb");
    submit(&c, &trident_yaml(&input, &store, "opaque"));
    wait_running(&c, "tw", 2);
    wait_for(LONG, "a few committed batches", || {
        (trident_progress(&c.url, "tw", input_len).committed >= 3).then_some(())
    });
    let (st, victim_id) = wait_for(LONG, "the coordinator's worker in the stats", || {
        let st = status(&c.url, "tw")?;
        let sup = coordinator_supervisor(&st)?;
        (worker_pids(&st).len() == 2 && !worker_pids_of(&st, &sup).is_empty()).then_some((st, sup))
    });
    let ids: Vec<String> = ["sup1", "sup2"]
        .iter()
        .map(|d| {
            std::fs::read_to_string(c.root.join(d).join("supervisor-id"))
                .unwrap()
                .trim()
                .to_string()
        })
        .collect();
    let victim = ids
        .iter()
        .position(|id| *id == victim_id)
        .unwrap_or_else(|| panic!("coordinator on unknown supervisor {victim_id}: {ids:?}"));
    let survivor_id = ids[1 - victim].clone();
    let before = trident_progress(&c.url, "tw", input_len);
    assert!(
        !before.done,
        "the run ended before the move; make the input longer"
    );

    // kill -9 the coordinator's supervisor and its workers (all those running from its
    // directory once it is dead): nimbus moves them all.
    assert!(
        !worker_pids_of(&st, &victim_id).is_empty(),
        "the victim runs the coordinator: {st}"
    );
    c.sups[victim].kill9();
    let doomed = kill_processes_under(&c.root.join(["sup1", "sup2"][victim]));
    assert!(!doomed.is_empty(), "the victim ran the coordinator: {st}");
    wait_for(
        LONG,
        "every worker (the coordinator's too) on the survivor",
        || {
            let st = status(&c.url, "tw")?;
            let running = st["workers"]
                .as_array()?
                .iter()
                .filter(|w| w["state"] == "running" && w["supervisor"] == survivor_id.as_str())
                .count();
            let assigned_elsewhere = st["assignment"]
                .as_array()?
                .iter()
                .any(|w| w["supervisor"] != survivor_id.as_str());
            (running == 2 && !assigned_elsewhere).then_some(())
        },
    );
    // The moved coordinator read its predecessor's commit log from nimbus: its txids
    // go on from there (never back to 1), and every line is counted once.
    let mut last = before;
    let end = wait_for(LONG, "every line committed after the move", || {
        let p = trident_progress(&c.url, "tw", input_len);
        assert!(
            p.committed >= last.committed,
            "the committed txid went back from {last:?} to {p:?}: txids restarted"
        );
        last = p;
        (p.done && p.committed > before.committed).then_some(p)
    });
    assert!(
        end.epoch > before.epoch,
        "the coordinator restarted from nimbus's record: {before:?} then {end:?}"
    );
    let got = kill_and_dump(&c, "tw", &store);
    assert_eq!(got, expected, "exact counts after the coordinator moved");
}

#[test]
fn flux_filter_and_resources_directory_are_shipped_to_the_workers() {
    let c = cluster("");
    // The words live in a resources directory, read by ResourceLineSpout through
    // `topology.resources.dir`; the sink path comes from a --filter properties file.
    let res = c.root.join("res");
    std::fs::create_dir_all(&res).unwrap();
    let (_, expected) = word_file(&res, 2000);
    let sink = c.root.join("sink.txt");
    let yaml = wordcount_yaml(
        "flux",
        std::path::Path::new("IN"),
        std::path::Path::new("${sink}"),
        2,
    )
    .replace(
        "className: LineFileSpout\n    constructorArgs: [\"IN\"]",
        "className: ResourceLineSpout\n    constructorArgs: [words.txt]",
    );
    assert!(yaml.contains("ResourceLineSpout"), "{yaml}");
    let file = c.root.join("flux.yaml");
    std::fs::write(&file, yaml).unwrap();
    let props = c.root.join("cluster.properties");
    std::fs::write(&props, format!("sink = {}\n", sink.display())).unwrap();
    let (code, out, err) = cli(
        &c.url,
        &[
            "submit",
            file.to_str().unwrap(),
            "--filter",
            props.to_str().unwrap(),
            "--resources",
            res.to_str().unwrap(),
        ],
    );
    assert_eq!(code, 0, "submit failed: {out}{err}");
    // The workers must use their own copy: the original goes away.
    std::fs::remove_dir_all(&res).unwrap();
    wait_running(&c, "flux", 2);
    let got = wait_for(LONG, "exact word counts in the sink", || {
        let got = sink_counts(&sink);
        (got == expected).then_some(got)
    });
    assert_eq!(got, expected);
    let unpacked: Vec<_> = ["sup1", "sup2"]
        .iter()
        .flat_map(|s| {
            std::fs::read_dir(c.root.join(s).join("workers"))
                .into_iter()
                .flatten()
        })
        .filter_map(|e| e.ok())
        .map(|e| e.path().join("resources/words.txt"))
        .filter(|p| p.is_file())
        .collect();
    // (A slot may keep the directory of an earlier placement too.)
    assert!(
        unpacked.len() >= 2,
        "each worker has the words: {unpacked:?}"
    );

    // A resources directory that does not exist is refused before anything is uploaded.
    let (code, _, err) = cli(
        &c.url,
        &[
            "submit",
            file.to_str().unwrap(),
            "--filter",
            props.to_str().unwrap(),
            "--resources",
            "/nonexistent/res",
        ],
    );
    assert_eq!(code, 1);
    assert!(err.contains("resources: /nonexistent/res"), "{err}");
}

#[test]
fn pystorm_components_count_exactly_and_replay_on_the_cluster() {
    if std::process::Command::new("python3")
        .args(["-c", "import pystorm"])
        .status()
        .map(|s| !s.success())
        .unwrap_or(true)
    {
        panic!("pystorm is not installed for python3 (.ci/run installs it)");
    }
    let c = cluster_with("", python_workers_config());
    let (n, every) = (200usize, 5usize);
    const SENTENCES: [&str; 5] = [
        "the cow jumped over the moon",
        "an apple a day keeps the doctor away",
        "four score and seven years ago",
        "snow white and the seven dwarfs",
        "i am at two with nature",
    ];
    let mut expected = std::collections::BTreeMap::new();
    for i in 0..n {
        for w in SENTENCES[i % SENTENCES.len()].split_whitespace() {
            *expected.entry(w.to_string()).or_insert(0u64) += 1;
        }
    }
    let sink = c.root.join("sink.txt");
    let yaml = format!(
        r#"name: pystorm
config:
  topology.workers: 2
  topology.message.timeout.secs: 10
  test.sentences: {n}
  test.fail.every: {every}
spouts:
  - id: sentences
    className: org.apache.storm.flux.wrappers.spouts.FluxShellSpout
    constructorArgs: [["python3", "sentence_spout.py"], ["id", "sentence"]]
bolts:
  - id: split
    className: org.apache.storm.flux.wrappers.bolts.FluxShellBolt
    constructorArgs: [["python3", "flaky_split.py"], ["word"]]
    parallelism: 2
  - id: count
    className: WordCountBolt
    parallelism: 2
  - id: sink
    className: FileSinkBolt
    constructorArgs: ["{sink}"]
streams:
  - from: sentences
    to: split
    grouping: {{type: SHUFFLE}}
  - from: split
    to: count
    grouping: {{type: FIELDS, args: ["word"]}}
  - from: count
    to: sink
    grouping: {{type: GLOBAL}}
"#,
        sink = sink.display()
    );
    let file = c.root.join("pystorm.yaml");
    std::fs::write(&file, yaml).unwrap();
    let scripts = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/multilang");
    let (code, out, err) = cli(
        &c.url,
        &[
            "submit",
            file.to_str().unwrap(),
            "--resources",
            scripts.to_str().unwrap(),
        ],
    );
    assert_eq!(code, 0, "submit failed: {out}{err}");
    wait_running(&c, "pystorm", 2);
    let got = wait_for(LONG, "exact word counts from the pystorm topology", || {
        let got = sink_counts(&sink);
        (got == expected).then_some(got)
    });
    assert_eq!(got, expected);
    // Every 5th sentence failed at least once in a split subprocess and was replayed
    // by the pystorm spout.
    let failures = (0..n).filter(|i| i % every == 0).count() as f64;
    wait_for(LONG, "the spout's failures and acks in the status", || {
        let st = status(&c.url, "pystorm")?;
        let s = &st["components"]["sentences"];
        (s["acked"].as_f64()? == n as f64 && s["failed"].as_f64()? >= failures).then_some(())
    });
}
