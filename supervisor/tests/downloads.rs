//! Downloads never hold the supervisor up: a supervisor in this process, a stand-in nimbus
//! on loopback ([`fake_nimbus`]) that serves artifacts slowly, stalls or serves too much,
//! and real worker processes (shell scripts).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod fake_nimbus;

use std::path::Path;
use std::time::{Duration, Instant};

use fake_nimbus::{FakeNimbus, ReapWorkers, Serve, assignment, worker_script};
use squall_runtime::cluster::protocol::{ArtifactHash, SlotState};
use squall_runtime::engine::backoff::Backoff;
use squall_runtime::engine::clock::{Clock, ManualClock, SystemClock};
use squall_supervisor::{SupervisorOpts, start};

const LIMIT: Duration = Duration::from_secs(15);

fn opts(nimbus: &FakeNimbus, dir: &Path, slots: Vec<u16>) -> SupervisorOpts {
    let mut o = SupervisorOpts::new(nimbus.url(), dir.to_path_buf(), slots);
    o.heartbeat_interval = Duration::from_millis(100);
    o.worker_start_timeout = Duration::from_secs(30);
    o.shutdown_grace = Duration::from_secs(2);
    o.download_idle_timeout = Duration::from_secs(30);
    o.retry_backoff = Backoff::new(Duration::from_millis(200), Duration::from_secs(2));
    o.token = Some(nimbus.token.clone());
    o
}

/// Files in the artifact cache (partial downloads included).
fn cache_files(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir.join("artifacts"))
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn heartbeats_and_other_slots_go_on_during_a_slow_download() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("sup");
    let _reap = ReapWorkers(&dir);
    let nimbus = FakeNimbus::start().await;
    let small = worker_script("small", 0);
    let big = worker_script("big", 4 << 20);
    let (hs, hb) = (ArtifactHash::of_bytes(&small), ArtifactHash::of_bytes(&big));
    let (gate, gate_rx) = tokio::sync::watch::channel(false);
    nimbus.serve(hs, Serve::Whole(small));
    nimbus.serve(
        hb,
        Serve::Gated {
            bytes: big.clone(),
            first: 1 << 20,
            gate: gate_rx,
        },
    );
    nimbus.assign(vec![assignment("small", 6700, hs)]);
    let sup = start(opts(&nimbus, &dir, vec![6700, 6701])).unwrap();
    nimbus.wait_state(6700, SlotState::Running, LIMIT).await;

    // The big artifact: its download holds at 1 MiB of 4 until the gate opens.
    nimbus.assign(vec![
        assignment("small", 6700, hs),
        assignment("big", 6701, hb),
    ]);
    let stalled_at = nimbus
        .wait_for("the big artifact to be requested", LIMIT, |n| {
            n.gets_of(&hb).first().copied()
        })
        .await;
    let beats = nimbus
        .wait_for(
            "10 heartbeats during the download (the supervisor loop is blocked?)",
            LIMIT,
            |n| {
                let seen = n.seen();
                let during: Vec<Instant> = seen
                    .heartbeats
                    .iter()
                    .filter(|(t, hb)| {
                        let state =
                            |port| hb.workers.iter().find(|w| w.port == port).map(|w| w.state);
                        *t > stalled_at
                            && state(6700) == Some(SlotState::Running)
                            && state(6701) == Some(SlotState::Downloading)
                    })
                    .map(|(t, _)| *t)
                    .collect();
                (during.len() >= 10).then_some(during)
            },
        )
        .await;
    let longest = beats
        .windows(2)
        .map(|w| w[1] - w[0])
        .max()
        .unwrap_or_default();
    assert!(
        longest < Duration::from_secs(3),
        "heartbeats every 100 ms, but {longest:?} passed between two during the download"
    );
    gate.send(true).unwrap();
    nimbus.wait_state(6701, SlotState::Running, LIMIT).await;
    assert_eq!(nimbus.gets_of(&hb).len(), 1);
    assert_eq!(
        std::fs::read(dir.join("artifacts").join(hb.to_string())).unwrap(),
        big
    );
    // Every heartbeat and download carried the supervisor's token.
    assert!(
        nimbus.seen().unauthorized.is_empty(),
        "{:?}",
        nimbus.seen().unauthorized
    );
    sup.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_supervisor_with_a_wrong_token_is_refused_and_runs_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("sup");
    let _reap = ReapWorkers(&dir);
    let nimbus = FakeNimbus::start().await;
    let small = worker_script("small", 0);
    let hs = ArtifactHash::of_bytes(&small);
    nimbus.serve(hs, Serve::Whole(small));
    nimbus.assign(vec![assignment("small", 6700, hs)]);
    let mut o = opts(&nimbus, &dir, vec![6700]);
    o.token = Some(squall_runtime::cluster::auth::token::Token::generate().unwrap());
    let sup = start(o).unwrap();
    nimbus
        .wait_for("3 refused heartbeats", LIMIT, |n| {
            (n.seen().unauthorized.len() >= 3).then_some(())
        })
        .await;
    {
        let seen = nimbus.seen();
        assert!(
            seen.heartbeats.is_empty() && seen.gets.is_empty(),
            "{:?}",
            seen.gets
        );
        // Only heartbeats and polls for log requests were tried, both refused.
        assert!(
            seen.unauthorized
                .iter()
                .all(|r| r.contains("heartbeat") || r.contains("/log-requests?")),
            "{:?}",
            seen.unauthorized
        );
    }
    assert!(!dir.join("artifacts").join(hs.to_string()).exists());
    sup.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_download_fails_after_the_idle_timeout_and_is_retried_with_backoff() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("sup");
    let _reap = ReapWorkers(&dir);
    let nimbus = FakeNimbus::start().await;
    let script = worker_script("stall", 256 << 10);
    let hash = ArtifactHash::of_bytes(&script);
    nimbus.serve(
        hash,
        Serve::Stall {
            bytes: script.clone(),
            first: 1000,
        },
    );
    nimbus.assign(vec![assignment("stall", 6700, hash)]);
    let mut o = opts(&nimbus, &dir, vec![6700]);
    let idle = Duration::from_millis(300);
    o.download_idle_timeout = idle;
    let backoff = o.retry_backoff;
    let sup = start(o).unwrap();
    let gets = nimbus
        .wait_for("4 attempts at the stalled download", LIMIT, |n| {
            let g = n.gets_of(&hash);
            (g.len() >= 4).then_some(g)
        })
        .await;
    for (k, w) in gets.windows(2).take(3).enumerate() {
        let least = idle + backoff.delay(k as u32 + 1);
        let gap = w[1] - w[0];
        assert!(
            gap >= least,
            "attempt {} came {gap:?} after the previous one; the idle timeout and backoff \
             make at least {least:?}",
            k + 2
        );
    }
    let report = nimbus.report(6700).expect("the slot is reported");
    let why = report.last_exit.unwrap_or_default();
    assert!(
        why.contains("download failed") && why.contains("no data for"),
        "{why}"
    );
    assert_eq!(report.restarts, 0, "a failed download is not a restart");

    // Nimbus serves it properly now: the next retry succeeds and nothing partial is left.
    nimbus.serve(hash, Serve::Whole(script));
    nimbus.wait_state(6700, SlotState::Running, LIMIT).await;
    nimbus
        .wait_for("partial downloads to be removed", LIMIT, |_| {
            (cache_files(&dir) == vec![hash.to_string()]).then_some(())
        })
        .await;
    sup.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_artifact_over_the_size_limit_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("sup");
    let _reap = ReapWorkers(&dir);
    let nimbus = FakeNimbus::start().await;
    let (a, b) = (worker_script("a", 128 << 10), worker_script("b", 128 << 10));
    let (ha, hb) = (ArtifactHash::of_bytes(&a), ArtifactHash::of_bytes(&b));
    // One says its length up front; the other does not, and is cut off while streaming.
    nimbus.serve(ha, Serve::Whole(a));
    nimbus.serve(hb, Serve::NoLength(b));
    nimbus.assign(vec![assignment("a", 6700, ha), assignment("b", 6701, hb)]);
    let mut o = opts(&nimbus, &dir, vec![6700, 6701]);
    o.max_artifact_bytes = 64 << 10;
    let sup = start(o).unwrap();
    for port in [6700, 6701] {
        let why = nimbus
            .wait_for(
                &format!("slot {port}'s download to be refused"),
                LIMIT,
                |n| n.report(port).and_then(|r| r.last_exit),
            )
            .await;
        assert!(
            why.contains("larger than the limit of 65536 bytes"),
            "{why}"
        );
        assert_eq!(
            nimbus.report(port).map(|r| r.pid),
            Some(None),
            "nothing launched"
        );
    }
    nimbus
        .wait_for("no file left in the cache", LIMIT, |_| {
            cache_files(&dir).is_empty().then_some(())
        })
        .await;
    sup.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_truncated_or_corrupted_cached_artifact_is_downloaded_again_and_the_worker_runs() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("sup");
    let _reap = ReapWorkers(&dir);
    let nimbus = FakeNimbus::start().await;
    let script = worker_script("w", 0);
    let hash = ArtifactHash::of_bytes(&script);
    let cached = dir.join("artifacts").join(hash.to_string());
    // A crash left a truncated copy (a shell script that exits at once).
    std::fs::create_dir_all(dir.join("artifacts")).unwrap();
    std::fs::write(&cached, &script[..20]).unwrap();
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&cached, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    nimbus.serve(hash, Serve::Whole(script.clone()));
    nimbus.assign(vec![assignment("w", 6700, hash)]);
    let sup = start(opts(&nimbus, &dir, vec![6700])).unwrap();
    let report = nimbus.wait_state(6700, SlotState::Running, LIMIT).await;
    assert_eq!(report.restarts, 0, "{report:?}");
    assert_eq!(nimbus.gets_of(&hash).len(), 1, "downloaded again");
    assert_eq!(std::fs::read(&cached).unwrap(), script);

    // Corrupted in place (same length) while unassigned: found before the next launch.
    nimbus.assign(Vec::new());
    nimbus
        .wait_for("the slot to empty", LIMIT, |n| {
            let seen = n.seen();
            let (_, hb) = seen.heartbeats.last()?;
            hb.workers.is_empty().then_some(())
        })
        .await;
    let mut bad = script.clone();
    bad[12] ^= 0x20;
    std::fs::write(&cached, &bad).unwrap();
    nimbus.assign(vec![assignment("w", 6700, hash)]);
    nimbus.wait_state(6700, SlotState::Running, LIMIT).await;
    assert_eq!(nimbus.gets_of(&hash).len(), 2, "downloaded again");
    assert_eq!(std::fs::read(&cached).unwrap(), script);
    sup.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cached_artifacts_no_slot_uses_are_deleted_after_the_grace_period() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("sup");
    let _reap = ReapWorkers(&dir);
    let nimbus = FakeNimbus::start().await;
    let (x, y, z) = (
        worker_script("x", 0),
        worker_script("y", 0),
        worker_script("z", 0),
    );
    let (hx, hy, hz) = (
        ArtifactHash::of_bytes(&x),
        ArtifactHash::of_bytes(&y),
        ArtifactHash::of_bytes(&z),
    );
    // `z` is in the cache from an earlier run, and nothing uses it.
    std::fs::create_dir_all(dir.join("artifacts")).unwrap();
    std::fs::write(dir.join("artifacts").join(hz.to_string()), &z).unwrap();
    nimbus.serve(hx, Serve::Whole(x));
    nimbus.serve(hy, Serve::Whole(y));
    nimbus.assign(vec![assignment("x", 6700, hx)]);
    let clock = ManualClock::shared(SystemClock.wall_millis());
    let mut o = opts(&nimbus, &dir, vec![6700]);
    o.clock = clock.clone();
    o.heartbeat_interval = Duration::ZERO;
    o.worker_timeout = Duration::from_secs(3600);
    o.worker_start_timeout = Duration::from_secs(3600);
    let grace = Duration::from_secs(60);
    o.artifact_gc_grace = grace;
    let sup = start(o).unwrap();
    nimbus.wait_state(6700, SlotState::Running, LIMIT).await;
    nimbus.assign(vec![assignment("y", 6700, hy)]);
    nimbus
        .wait_for("slot 6700 to run y", LIMIT, |n| {
            n.report(6700)
                .filter(|r| r.topology == "y" && r.state == SlotState::Running)
        })
        .await;
    let names = |hs: &[ArtifactHash]| {
        let mut v: Vec<String> = hs.iter().map(ToString::to_string).collect();
        v.sort();
        v
    };
    assert_eq!(
        cache_files(&dir),
        names(&[hx, hy, hz]),
        "nothing expires before the grace"
    );
    clock.advance(grace);
    nimbus
        .wait_for("x and z to be deleted, y kept", LIMIT, |_| {
            (cache_files(&dir) == names(&[hy])).then_some(())
        })
        .await;
    sup.shutdown().await;
}
