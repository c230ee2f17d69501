//! Why `execute`/`next_tuple` are synchronous: the cost of one call through a trait
//! object, plain versus `async_trait` (a boxed future per call), both driven from an
//! executor thread.
//!
//! `cargo bench --bench dispatch`

use std::hint::black_box;
use std::time::Instant;

use async_trait::async_trait;

trait SyncBolt: Send {
    fn execute(&mut self, x: u64) -> u64;
}

#[async_trait]
trait AsyncBolt: Send {
    async fn execute(&mut self, x: u64) -> u64;
}

struct Adder(u64);

impl SyncBolt for Adder {
    #[inline(never)]
    fn execute(&mut self, x: u64) -> u64 {
        self.0 = self.0.wrapping_add(x);
        self.0
    }
}

#[async_trait]
impl AsyncBolt for Adder {
    async fn execute(&mut self, x: u64) -> u64 {
        self.0 = self.0.wrapping_add(x);
        self.0
    }
}

const N: u64 = 20_000_000;

fn report(name: &str, start: Instant, n: u64) {
    let ns = start.elapsed().as_nanos() as f64 / n as f64;
    println!("{name:<48} {ns:>8.2} ns/call");
}

fn main() {
    let rt = match tokio::runtime::Builder::new_current_thread().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("cannot start a tokio runtime: {e}");
            std::process::exit(1);
        }
    };

    let mut b: Box<dyn SyncBolt> = Box::new(Adder(0));
    let t = Instant::now();
    for i in 0..N {
        black_box(b.execute(black_box(i)));
    }
    report("sync trait object", t, N);

    let mut a: Box<dyn AsyncBolt> = Box::new(Adder(0));
    let t = Instant::now();
    rt.block_on(async {
        for i in 0..N {
            black_box(a.execute(black_box(i)).await);
        }
    });
    report("async_trait, awaited inside one async loop", t, N);

    let n = N / 10;
    let t = Instant::now();
    for i in 0..n {
        black_box(rt.block_on(a.execute(black_box(i))));
    }
    report("async_trait, block_on per call", t, n);
}
