//! The Kafka spout against a bare consumer, and Kafka → word count latency, on a real
//! broker (tansu, memory storage, loopback) started by this bench.
//!
//! `cargo bench -p squall-kafka --bench spout [-- null|latency]`.
//!
//! - `null`: `SQUALL_BENCH_RECORDS` records (default 300 000, 100-byte values) are
//!   produced into a 1- and a 3-partition topic first; then, `SQUALL_BENCH_REPS` times
//!   (default 3), three reads of the whole topic in turn: a bare rdkafka `BaseConsumer`
//!   reading with `poll`, a record per call (the `rdkafka` crate's consumer API); the
//!   same consumer reading through `squall_kafka::spout::BatchQueue`, up to 256 records
//!   per librdkafka call, as the spout reads (both with manual assignment from the
//!   beginning and the spout's client settings, touching every record's value); and a
//!   local topology KafkaSpout (1 task, default translator, a fresh group, EARLIEST) →
//!   null bolt with acking on (1 acker, `topology.max.spout.pending`
//!   `SQUALL_BENCH_PENDING`, default 2000). Each is timed from its first record (at the
//!   null bolt, for the spout) to its last, so that connecting and the first fetch are
//!   left out. Rates in records/s, the spout's rate against each bare consumer per rep,
//!   and the CPU time this process used per record in each read (all its threads: the
//!   consumer's, librdkafka's, and for the spout the executors and the acker; the broker
//!   is another process), which depends less on other load than the rates.
//!   `SQUALL_BENCH_THREADS=1` adds, per read, each thread's CPU time per record and the
//!   share of its runnable time it waited for a CPU (`/proc/self/task/*/schedstat`):
//!   which thread bounds a run, and how starved the machine was.
//!   `SQUALL_BENCH_PROPS=key=value,key=value` adds client properties to the bare
//!   consumers and the spout (e.g. `fetch.queue.backoff.ms=1000`, librdkafka's default,
//!   to see what the spout's own default of 10 ms changes). The bench runs on the
//!   `squall` binary's allocator (mimalloc).
//! - `latency`: Kafka → split → fields(word) → count, acking on. Its maximum rate is
//!   taken from pre-produced sentences (`SQUALL_BENCH_SENTENCES`, default 100 000, 3
//!   partitions); then a producer thread (`linger.ms` 1) writes sentences stamped with
//!   their send time at half that rate for `SQUALL_BENCH_WARMUP` + `SQUALL_BENCH_SECS`
//!   seconds (default 3 + 10) while the topology runs; the count bolt records, for every
//!   word of a sentence sent after the warm-up, the time from the send to its count
//!   update: p50 / p99 / max. `SQUALL_BENCH_FETCH_WAIT_MS` sets the spout's
//!   `fetch.wait.max.ms` (librdkafka's default: 500).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::producer::{BaseRecord, DefaultProducerContext, Producer, ThreadedProducer};
use rdkafka::{Message, Offset, TopicPartitionList};
use squall_kafka::KafkaSpout;
use squall_kafka::spout::{BatchQueue, Polled};
use squall_kafka::testing::{Broker, log_ends, produce};
use squall_runtime::local::{LocalOptions, run_local};
use squall_runtime::testing::load_yaml;
use squall_runtime::{
    BasicBolt, BasicCollector, ComponentError, OutputDeclarer, Registry, Tuple, async_trait,
};

/// The `squall` binary's allocator (workers run the spout there).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn env_u64(key: &str, default: u64) -> u64 {
    std::env::var(key)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn micros_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros() as u64)
        .unwrap_or(0)
}

/// When the first and the last tuple arrived, and how many did.
type Span = Arc<Mutex<Option<(Instant, Instant, u64)>>>;

/// Does nothing with its input (acked on return) but note when it arrived.
struct NullBolt {
    span: Span,
    first: Option<Instant>,
    last: Option<Instant>,
    n: u64,
}

#[async_trait]
impl BasicBolt for NullBolt {
    fn execute(&mut self, _: &Tuple, _: &mut BasicCollector<'_>) -> Result<(), ComponentError> {
        let now = Instant::now();
        self.first.get_or_insert(now);
        self.last = Some(now);
        self.n += 1;
        Ok(())
    }

    async fn cleanup(&mut self) {
        if let (Some(f), Some(l)) = (self.first, self.last) {
            *self.span.lock().unwrap() = Some((f, l, self.n));
        }
    }
}

/// CPU seconds this process used so far (user + system, from `/proc/self/stat`).
fn cpu_secs() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after = stat.rsplit(')').next().unwrap_or("");
    let f: Vec<f64> = after
        .split_whitespace()
        .map(|x| x.parse().unwrap_or(0.0))
        .collect();
    // Fields 14 and 15 of the file; 12 and 13 after the command name.
    (f.get(11).copied().unwrap_or(0.0) + f.get(12).copied().unwrap_or(0.0)) / 100.0
}

/// Per thread of this process: name, time on a CPU and time waiting for one (ns), from
/// `/proc/self/task/*/schedstat`.
type Sched = BTreeMap<u64, (String, u64, u64)>;

fn sched() -> Sched {
    let mut out = Sched::new();
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return out;
    };
    for t in tasks.flatten() {
        let Some(tid) = t.file_name().to_str().and_then(|s| s.parse().ok()) else {
            continue;
        };
        let stat = std::fs::read_to_string(t.path().join("schedstat")).unwrap_or_default();
        let mut f = stat
            .split_whitespace()
            .map(|x| x.parse::<u64>().unwrap_or(0));
        let (run, wait) = (f.next().unwrap_or(0), f.next().unwrap_or(0));
        let name = std::fs::read_to_string(t.path().join("comm")).unwrap_or_default();
        out.insert(tid, (name.trim().to_string(), run, wait));
    }
    out
}

/// With `SQUALL_BENCH_THREADS=1`: samples every thread's schedstat while a run lasts
/// (threads that end keep their last sample), then prints per thread name its CPU time
/// per record, and how much of the time it was runnable it waited for a CPU.
struct ThreadWatch {
    stop: Arc<AtomicBool>,
    sampler: std::thread::JoinHandle<Sched>,
    before: Sched,
}

impl ThreadWatch {
    fn start() -> Option<ThreadWatch> {
        std::env::var("SQUALL_BENCH_THREADS").ok()?;
        let stop = Arc::new(AtomicBool::new(false));
        let before = sched();
        let sampler = {
            let stop = stop.clone();
            std::thread::Builder::new()
                .name("bench-sampler".into())
                .spawn(move || {
                    let mut last = Sched::new();
                    while !stop.load(Ordering::Relaxed) {
                        last.extend(sched());
                        std::thread::sleep(Duration::from_millis(100));
                    }
                    last.extend(sched());
                    last
                })
                .unwrap()
        };
        Some(ThreadWatch {
            stop,
            sampler,
            before,
        })
    }

    fn report(self, what: &str, records: usize) {
        self.stop.store(true, Ordering::Relaxed);
        let last = self.sampler.join().unwrap();
        let mut by_name: BTreeMap<String, (u64, u64)> = BTreeMap::new();
        for (tid, (name, run, wait)) in last {
            let (r0, w0) = self.before.get(&tid).map_or((0, 0), |(_, r, w)| (*r, *w));
            let e = by_name.entry(name).or_default();
            e.0 += run.saturating_sub(r0);
            e.1 += wait.saturating_sub(w0);
        }
        let mut parts: Vec<(u64, String)> = by_name
            .into_iter()
            .map(|(name, (run, wait))| {
                let us = run as f64 / 1000.0 / records as f64;
                let waited = 100.0 * wait as f64 / (run + wait).max(1) as f64;
                (
                    run,
                    format!("{name} {us:.2} µs/record ({waited:.0}% waiting)"),
                )
            })
            .filter(|(run, _)| *run as f64 / 1000.0 / records as f64 >= 0.01)
            .collect();
        parts.sort_by_key(|p| std::cmp::Reverse(p.0));
        let parts: Vec<String> = parts.into_iter().map(|(_, p)| p).collect();
        println!(
            "  {what}: CPU per thread (and the share of its runnable time spent waiting for a CPU): {}",
            parts.join(", ")
        );
    }
}

/// Records per second between the first and the last record.
fn rate(first: Instant, last: Instant, n: u64) -> f64 {
    n.saturating_sub(1) as f64 / last.duration_since(first).as_secs_f64().max(1e-9)
}

/// `"<send micros> word word …"` → `(word, send micros)` per word.
struct SplitStamped;

#[async_trait]
impl BasicBolt for SplitStamped {
    fn declare_outputs(&self, out: &mut OutputDeclarer) {
        out.declare(&["word", "sent"]);
    }

    fn execute(
        &mut self,
        input: &Tuple,
        out: &mut BasicCollector<'_>,
    ) -> Result<(), ComponentError> {
        let line = input.get_str(0)?;
        let mut words = line.split(' ');
        let sent: i64 = words.next().and_then(|s| s.parse().ok()).unwrap_or(0);
        for w in words {
            out.emit(squall_runtime::values![w, sent])?;
        }
        Ok(())
    }
}

/// Counts words; records send → count latencies (µs) of words sent at or after `from`.
struct CountLatency {
    counts: HashMap<String, u64>,
    from: u64,
    latencies: Arc<Mutex<Vec<u64>>>,
    local: Vec<u64>,
}

#[async_trait]
impl BasicBolt for CountLatency {
    fn execute(&mut self, input: &Tuple, _: &mut BasicCollector<'_>) -> Result<(), ComponentError> {
        let word = input.get_str(0)?;
        *self.counts.entry(word.to_string()).or_default() += 1;
        let sent = input.get_i64(1)? as u64;
        if sent >= self.from {
            self.local.push(micros_now().saturating_sub(sent));
            if self.local.len() >= 1024 {
                self.latencies.lock().unwrap().append(&mut self.local);
            }
        }
        Ok(())
    }

    async fn cleanup(&mut self) {
        self.latencies.lock().unwrap().append(&mut self.local);
    }
}

/// `SQUALL_BENCH_PROPS` (`key=value,key=value`): client properties for both the bare
/// consumer and the spout.
fn bench_props() -> Vec<(String, String)> {
    std::env::var("SQUALL_BENCH_PROPS")
        .unwrap_or_default()
        .split(',')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect()
}

/// The spout's client settings (see `spout/client.rs`) for a bare consumer.
fn bare_consumer(bootstrap: &str, group: &str) -> BaseConsumer {
    let mut c = ClientConfig::new();
    c.set("queued.max.messages.kbytes", "16384")
        .set("fetch.queue.backoff.ms", "10")
        .set("auto.offset.reset", "earliest");
    for (k, v) in bench_props() {
        c.set(k, v);
    }
    c.set("bootstrap.servers", bootstrap)
        .set("group.id", group)
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        .create()
        .unwrap()
}

/// Read every record of `topic` up to `ends` with a bare consumer: records/s from the
/// first record to the last.
fn bare(bootstrap: &str, topic: &str, ends: &BTreeMap<i32, i64>, group: &str, read: Read) -> f64 {
    let start = Instant::now();
    let mut first = None;
    let consumer = bare_consumer(bootstrap, group);
    let mut tpl = TopicPartitionList::new();
    for p in ends.keys() {
        tpl.add_partition_offset(topic, *p, Offset::Beginning)
            .unwrap();
    }
    consumer.assign(&tpl).unwrap();
    let total: i64 = ends.values().sum();
    let (mut n, mut bytes) = (0i64, 0usize);
    let deadline = start + Duration::from_secs(300);
    // Each arm's last record time is taken before its consumer is dropped (closing a
    // consumer takes a while and is not reading).
    let last = match read {
        Read::Batch => {
            let queue = BatchQueue::of(consumer).unwrap();
            while n < total {
                assert!(Instant::now() < deadline, "bare consumer: {n} of {total}");
                if let Some(m) = queue.poll_within(Duration::from_millis(100)) {
                    let m = m.unwrap();
                    first.get_or_insert_with(Instant::now);
                    bytes += m.record().value.map_or(0, <[u8]>::len);
                    n += 1;
                }
            }
            Instant::now()
        }
        Read::Poll => {
            while n < total {
                assert!(Instant::now() < deadline, "bare consumer: {n} of {total}");
                if let Some(m) = consumer.poll(Duration::from_millis(100)) {
                    let m = m.unwrap();
                    first.get_or_insert_with(Instant::now);
                    bytes += m.payload().map_or(0, <[u8]>::len);
                    n += 1;
                }
            }
            Instant::now()
        }
    };
    std::hint::black_box(bytes);
    rate(first.unwrap_or(start), last, total as u64)
}

/// KafkaSpout → null (acking) over `topic` up to `ends`: records/s from the first record
/// at the null bolt to the last.
fn spout(bootstrap: &str, topic: &str, ends: &BTreeMap<i32, i64>, group: &str) -> f64 {
    let pending = env_u64("SQUALL_BENCH_PENDING", 2000);
    let props: Vec<String> = bench_props()
        .into_iter()
        .map(|(k, v)| format!("'{k}': '{v}'"))
        .collect();
    let props = props.join(", ");
    let yaml = format!(
        "name: kafka-null\nconfig:\n  topology.acker.executors: 1\n  \
         topology.max.spout.pending: {pending}\nspouts:\n  - id: kafka\n    className: Bounded\n    \
         constructorArgs:\n      - {{bootstrap.servers: '{bootstrap}', topics: [{topic}], \
         group.id: {group}, first.poll.offset.strategy: EARLIEST, props: {{{props}}}}}\nbolts:\n  - id: sink\n    \
         className: Null\nstreams:\n  - from: kafka\n    to: sink\n    grouping: {{type: SHUFFLE}}\n"
    );
    let stop: BTreeMap<(String, i32), i64> = ends
        .iter()
        .map(|(p, e)| ((topic.to_string(), *p), *e))
        .collect();
    let span: Span = Arc::default();
    let bolt_span = span.clone();
    let mut registry = Registry::new();
    registry
        .spout("Bounded", move |a| {
            Ok(KafkaSpout::from_args(a)?.stop_at(stop.clone()))
        })
        .basic_bolt("Null", move |_| {
            Ok(NullBolt {
                span: bolt_span.clone(),
                first: None,
                last: None,
                n: 0,
            })
        });
    let (topo, registry) = load_yaml(&registry, &yaml).unwrap();
    let report = run_local(&registry, &topo, options(None)).unwrap();
    assert!(report.completed, "the spout did not complete");
    let total: i64 = ends.values().sum();
    let acked = report.components["kafka"].acked;
    assert_eq!(acked, total as u64, "acked {acked} of {total}");
    let (first, last, n) = span.lock().unwrap().expect("the null bolt saw nothing");
    assert_eq!(n, total as u64);
    rate(first, last, n)
}

fn options(duration: Option<Duration>) -> LocalOptions<'static> {
    LocalOptions {
        duration,
        capture: false,
        progress: None,
        stop_on_interrupt: false,
    }
}

fn null(broker: &Broker) {
    let records = env_u64("SQUALL_BENCH_RECORDS", 300_000) as usize;
    let reps = env_u64("SQUALL_BENCH_REPS", 3);
    let value = [b'x'; 100];
    for partitions in [1, 3] {
        let topic = format!("null-{partitions}");
        broker.create_topic(&topic, partitions).unwrap();
        let batch: Vec<_> = (0..records)
            .map(|i| (Some((i % partitions as usize) as i32), None, &value[..]))
            .collect();
        let t = Instant::now();
        let ends = log_ends(&produce(&broker.bootstrap(), &topic, &batch).unwrap());
        eprintln!(
            "produced {records} records into {topic} in {:.1} s",
            t.elapsed().as_secs_f64()
        );
        let (mut vs_poll, mut vs_batch) = (Vec::new(), Vec::new());
        let per_record = |cpu: f64| 1e6 * cpu / records as f64;
        for rep in 0..reps {
            let mut rates = Vec::new();
            for (what, how) in [
                ("bare consumer (poll)", Run::Bare(Read::Poll)),
                ("bare consumer (batch)", Run::Bare(Read::Batch)),
                ("KafkaSpout → null", Run::Spout),
            ] {
                let c0 = cpu_secs();
                let watch = ThreadWatch::start();
                let group = format!("{}-{rep}", what.replace(|c: char| !c.is_alphanumeric(), ""));
                let rate = match how {
                    Run::Bare(read) => bare(&broker.bootstrap(), &topic, &ends, &group, read),
                    Run::Spout => spout(&broker.bootstrap(), &topic, &ends, &group),
                };
                let cpu = per_record(cpu_secs() - c0);
                if let Some(w) = watch {
                    w.report(what, records);
                }
                rates.push(format!("{what} {rate:.0} rec/s ({cpu:.2} µs CPU/record)"));
                match how {
                    Run::Bare(Read::Poll) => vs_poll.push(rate),
                    Run::Bare(Read::Batch) => vs_batch.push(rate),
                    Run::Spout => {
                        let (p, b) = (vs_poll.len() - 1, vs_batch.len() - 1);
                        vs_poll[p] = rate / vs_poll[p];
                        vs_batch[b] = rate / vs_batch[b];
                    }
                }
            }
            println!(
                "null {partitions}p rep {rep}: {}; spout/poll {:.1}%, spout/batch {:.1}%",
                rates.join(", "),
                100.0 * vs_poll[vs_poll.len() - 1],
                100.0 * vs_batch[vs_batch.len() - 1]
            );
        }
        vs_poll.sort_by(f64::total_cmp);
        vs_batch.sort_by(f64::total_cmp);
        println!(
            "null {partitions}p: median ratio {:.1}% of the poll consumer, {:.1}% of the batch consumer ({} reps)",
            100.0 * vs_poll[vs_poll.len() / 2],
            100.0 * vs_batch[vs_batch.len() / 2],
            vs_poll.len()
        );
    }
}

/// One timed read in the `null` comparison.
#[derive(Clone, Copy)]
enum Run {
    Bare(Read),
    Spout,
}

/// How the bare consumer reads.
#[derive(Clone, Copy)]
enum Read {
    /// `BaseConsumer::poll`, a record per call: the `rdkafka` crate's consumer API.
    Poll,
    /// `squall_kafka::spout::BatchQueue`, up to 256 records per librdkafka call, as the
    /// spout reads.
    Batch,
}

const WORDS: [&str; 8] = [
    "storm", "kafka", "squall", "spout", "bolt", "tuple", "stream", "acker",
];

fn sentence(i: usize, sent: u64) -> String {
    let mut s = sent.to_string();
    for j in 0..8 {
        s.push(' ');
        s.push_str(WORDS[(i * 3 + j * 5) % WORDS.len()]);
    }
    s
}

/// The word count topology over `topic`; latencies of words sent at or after `from`.
fn wordcount(
    bootstrap: &str,
    topic: &str,
    group: &str,
    stop: Option<BTreeMap<(String, i32), i64>>,
    from: u64,
    latencies: Arc<Mutex<Vec<u64>>>,
) -> (Registry, squall_runtime::spec::ValidTopology) {
    let props = match std::env::var("SQUALL_BENCH_FETCH_WAIT_MS") {
        Ok(ms) => format!(", props: {{fetch.wait.max.ms: {ms}}}"),
        Err(_) => String::new(),
    };
    let yaml = format!(
        "name: kafka-wc\nconfig:\n  topology.acker.executors: 1\n  \
         topology.max.spout.pending: 2000\nspouts:\n  - id: kafka\n    className: Kafka\n    \
         constructorArgs:\n      - {{bootstrap.servers: '{bootstrap}', topics: [{topic}], \
         group.id: {group}, first.poll.offset.strategy: EARLIEST, record.translator: VALUE{props}}}\n\
         bolts:\n  - id: split\n    className: Split\n  - id: count\n    className: Count\n\
         streams:\n  - from: kafka\n    to: split\n    grouping: {{type: SHUFFLE}}\n  \
         - from: split\n    to: count\n    grouping: {{type: FIELDS, args: [word]}}\n"
    );
    let mut registry = Registry::new();
    registry
        .spout("Kafka", move |a| {
            let s = KafkaSpout::from_args(a)?;
            Ok(match &stop {
                Some(ends) => s.stop_at(ends.clone()),
                None => s,
            })
        })
        .basic_bolt("Split", |_| Ok(SplitStamped))
        .basic_bolt("Count", move |_| {
            Ok(CountLatency {
                counts: HashMap::new(),
                from,
                latencies: latencies.clone(),
                local: Vec::new(),
            })
        });
    let (topo, registry) = load_yaml(&registry, &yaml).unwrap();
    (registry, topo)
}

fn latency(broker: &Broker) {
    let sentences = env_u64("SQUALL_BENCH_SENTENCES", 100_000) as usize;
    let warmup = env_u64("SQUALL_BENCH_WARMUP", 3);
    let secs = env_u64("SQUALL_BENCH_SECS", 10);
    // The maximum rate, from pre-produced sentences.
    broker.create_topic("wc-max", 3).unwrap();
    let lines: Vec<String> = (0..sentences).map(|i| sentence(i, 0)).collect();
    let batch: Vec<_> = lines
        .iter()
        .enumerate()
        .map(|(i, l)| (Some((i % 3) as i32), None, l.as_bytes()))
        .collect();
    let ends = log_ends(&produce(&broker.bootstrap(), "wc-max", &batch).unwrap());
    let stop = ends
        .iter()
        .map(|(p, e)| (("wc-max".to_string(), *p), *e))
        .collect();
    let (registry, topo) = wordcount(
        &broker.bootstrap(),
        "wc-max",
        "wc-max",
        Some(stop),
        u64::MAX,
        Arc::default(),
    );
    let report = run_local(&registry, &topo, options(None)).unwrap();
    assert!(report.completed);
    let max = sentences as f64 / report.elapsed_secs;
    println!(
        "kafka → wordcount max: {max:.0} sentences/s ({:.0} words/s)",
        max * 8.0
    );

    // Half the maximum rate, sentences stamped with their send time.
    let rate = max / 2.0;
    broker.create_topic("wc-live", 3).unwrap();
    let start = micros_now();
    let from = start + warmup * 1_000_000;
    let latencies: Arc<Mutex<Vec<u64>>> = Arc::default();
    let (registry, topo) = wordcount(
        &broker.bootstrap(),
        "wc-live",
        "wc-live",
        None,
        from,
        latencies.clone(),
    );
    let run_for = Duration::from_secs(warmup + secs);
    let stop = Arc::new(AtomicBool::new(false));
    let producer = {
        let bootstrap = broker.bootstrap();
        let stop = stop.clone();
        std::thread::spawn(move || {
            let p: ThreadedProducer<DefaultProducerContext> = ClientConfig::new()
                .set("bootstrap.servers", &bootstrap)
                .set("linger.ms", "1")
                .create()
                .unwrap();
            let t0 = Instant::now();
            let mut sent = 0usize;
            while !stop.load(Ordering::Relaxed) {
                let due = (t0.elapsed().as_secs_f64() * rate) as usize;
                while sent < due {
                    let line = sentence(sent, micros_now());
                    let rec: BaseRecord<'_, (), str> = BaseRecord::to("wc-live").payload(&line);
                    if p.send(rec).is_err() {
                        break;
                    }
                    sent += 1;
                }
                std::thread::sleep(Duration::from_micros(500));
            }
            let _ = p.flush(Duration::from_secs(10));
            sent
        })
    };
    let report = run_local(&registry, &topo, options(Some(run_for))).unwrap();
    stop.store(true, Ordering::Relaxed);
    let sent = producer.join().unwrap();
    let mut l = std::mem::take(&mut *latencies.lock().unwrap());
    l.sort_unstable();
    let q = |f: f64| l.get(((l.len() as f64 * f) as usize).min(l.len().saturating_sub(1)));
    let ms = |v: Option<&u64>| v.map_or(f64::NAN, |v| *v as f64 / 1000.0);
    println!(
        "kafka → wordcount at half the max ({rate:.0} sentences/s; {sent} sent, {} words counted): \
         end-to-end latency p50 {:.2} / p99 {:.2} / max {:.2} ms over {} words",
        report.components["count"].executed,
        ms(q(0.5)),
        ms(q(0.99)),
        ms(l.last()),
        l.len()
    );
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let want = |s: &str| args.is_empty() || args.iter().any(|a| s.contains(a.as_str()));
    let broker = Broker::start().unwrap();
    if want("null") {
        null(&broker);
    }
    if want("latency") {
        latency(&broker);
    }
}
