#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;
use crate::cluster::wire::record::put_i64;
use crate::state::provider::StateProvider;
use crate::state::provider::memory::MemoryProvider;
use crate::state::provider::redb::RedbProvider;
use crate::window::manager::{WindowManager, WindowSink};
use crate::window::policy::{Length, Slide};

/// Items are integers.
#[derive(Default)]
struct Ints;

impl EventCodec<i64> for Ints {
    fn encode(&mut self, item: &i64, out: &mut Vec<u8>) -> Result<(), String> {
        put_i64(out, *item);
        Ok(())
    }
    fn decode(&self, r: &mut RecordReader<'_>) -> Result<i64, String> {
        r.i64("item").map_err(|e| e.to_string())
    }
}

fn ev(ts: i64, item: i64) -> Event<i64> {
    Event {
        ts,
        shown: false,
        item,
    }
}

fn all(s: &mut PagedStore<i64, Ints>) -> Vec<i64> {
    let n = s.len();
    s.with_window(n, &[], None, 0, |w| w.get_iter().map(|t| *t).collect())
}

fn store(provider: &dyn StateProvider, ns: &str, cap: usize) -> PagedStore<i64, Ints> {
    PagedStore::new(provider.open(ns).unwrap(), Ints, cap)
}

#[test]
fn pages_out_past_the_cap_and_reads_everything_back_in_order() {
    let provider = MemoryProvider::new();
    let mut s = store(&provider, "w-1", 64);
    assert_eq!(s.segment_size(), 16);
    for i in 0..1000 {
        s.insert(ev(i, i));
        assert!(s.resident() <= 64, "{} resident after {i}", s.resident());
    }
    assert_eq!(s.len(), 1000);
    assert_eq!(all(&mut s), (0..1000).collect::<Vec<_>>());
    // The new ones: after the shown prefix.
    s.mark_shown(990);
    let new: Vec<i64> = s.with_window(1000, &[], None, 0, |w| {
        w.get_new_iter().map(|t| *t).collect()
    });
    assert_eq!(new, (990..1000).collect::<Vec<_>>());
    assert_eq!(s.count_until(499), 500);
    assert_eq!(s.count_until(-1), 0);
    assert_eq!(s.ts_at(517), Some(517));
    // Eviction from the front pages segments in one by one.
    for i in 0..700 {
        assert_eq!(s.pop_front().map(|e| e.item), Some(i));
        assert!(s.resident() <= 64);
    }
    assert_eq!(all(&mut s), (700..1000).collect::<Vec<_>>());
    assert!(s.max_resident() <= 64, "{}", s.max_resident());
    assert!(s.take_error().is_none());
}

#[test]
fn out_of_order_events_land_in_time_order_in_paged_out_segments() {
    let provider = MemoryProvider::new();
    let mut s = store(&provider, "w-2", 64);
    for i in 0..200 {
        s.insert(ev(i * 10, i));
    }
    // Into the middle (paged out), before the front, at the back.
    s.insert(ev(555, -1));
    s.insert(ev(-5, -2));
    s.insert(ev(5000, -3));
    let got = all(&mut s);
    assert_eq!(got.len(), 203);
    assert_eq!(got[0], -2);
    let at = got.iter().position(|x| *x == -1).unwrap();
    assert_eq!((got[at - 1], got[at + 1]), (55, 56));
    assert_eq!(*got.last().unwrap(), -3);
    assert_eq!(s.count_until(555), 58);
    assert!(s.max_resident() <= 64);
}

#[test]
fn a_saved_window_is_restored_from_the_committed_state_and_rolled_back() {
    let dir = tempfile::tempdir().unwrap();
    let provider = RedbProvider::new(dir.path().to_path_buf());
    let mut s = store(&provider, "w-3", 64);
    for i in 0..300 {
        s.insert(ev(i, i));
    }
    s.mark_shown(250);
    s.save(serde_json::json!({"mine": 7})).unwrap();
    s.backend().prepare_commit(1).unwrap();
    s.backend().commit(1).unwrap();
    // After the commit: more events and pops, saved and prepared but rolled back.
    for i in 300..400 {
        s.insert(ev(i, i));
    }
    for _ in 0..50 {
        s.pop_front();
    }
    s.save(serde_json::json!({"mine": 8})).unwrap();
    s.backend().prepare_commit(2).unwrap();
    s.backend().rollback().unwrap();
    assert_eq!(s.restore().unwrap(), serde_json::json!({"mine": 7}));
    assert_eq!(s.len(), 300);
    assert_eq!(s.resident(), 0);
    assert_eq!(all(&mut s), (0..300).collect::<Vec<_>>());
    let new: Vec<i64> = s.with_window(300, &[], None, 0, |w| {
        w.get_new_iter().map(|t| *t).collect()
    });
    assert_eq!(new, (250..300).collect::<Vec<_>>());
    // A new store on the same namespace (a restarted task) reads the committed window.
    drop(s);
    let mut again = store(&provider, "w-3", 64);
    assert_eq!(again.restore().unwrap(), serde_json::json!({"mine": 7}));
    assert_eq!(all(&mut again), (0..300).collect::<Vec<_>>());
    // Appending after a restore goes on after the last segment.
    again.insert(ev(300, 300));
    assert_eq!(again.pop_front().map(|e| e.item), Some(0));
    assert_eq!(all(&mut again).last(), Some(&300));
    // A fresh namespace has no window.
    let mut empty = store(&provider, "w-4", 64);
    assert_eq!(empty.restore().unwrap(), serde_json::Value::Null);
    assert_eq!(empty.len(), 0);
}

#[test]
fn a_missing_page_is_an_error_for_the_next_save() {
    let provider = MemoryProvider::new();
    let mut s = store(&provider, "w-5", 64);
    for i in 0..300 {
        s.insert(ev(i, i));
    }
    // Drop a paged-out segment behind the store's back.
    s.backend().delete(segment_key(2)).unwrap();
    let got = all(&mut s);
    assert!(got.len() < 300);
    let e = s.save(serde_json::Value::Null).unwrap_err().to_string();
    assert!(e.contains("window segment 2"), "{e}");
}

struct Fired(Vec<(i64, usize, i64)>);

impl WindowSink<i64> for Fired {
    fn activate(&mut self, window: &TupleWindow<'_, i64>) -> bool {
        let sum = window.get_iter().map(|t| *t).sum();
        self.0.push((window.end_timestamp(), window.len(), sum));
        true
    }
    fn expire(&mut self, _item: &i64) {}
    fn fail(&mut self, _item: i64) {}
}

#[test]
fn the_manager_over_a_paged_store_fires_the_windows_of_a_memory_store() {
    let provider = MemoryProvider::new();
    let mut paged: WindowManager<i64, PagedStore<i64, Ints>> = WindowManager::with_store(
        Length::Count(500),
        Slide::Count(100),
        Some(0),
        store(&provider, "w-6", 64),
    );
    let mut memory: WindowManager<i64> =
        WindowManager::new(Length::Count(500), Slide::Count(100), Some(0));
    let (mut a, mut b) = (Fired(Vec::new()), Fired(Vec::new()));
    for i in 0..2000 {
        paged.add(i, i, &mut a);
        memory.add(i, i, &mut b);
    }
    assert_eq!(a.0.len(), 20);
    assert_eq!(a.0, b.0);
    assert_eq!(paged.len(), memory.len());
    assert!(paged.store().max_resident() <= 64);
}

#[test]
fn fired_windows_are_skipped_and_a_silent_replay_restarts_the_trigger() {
    // Event time, tumbling 10 ms: the windows up to 30 fired before a restart.
    let mut m: WindowManager<i64> = WindowManager::new(Length::Millis(10), Slide::Millis(10), None);
    m.set_fired_until(Some(30));
    let mut fired = Fired(Vec::new());
    for ts in 1..=50 {
        m.add(ts, ts, &mut fired);
    }
    m.on_watermark(50, &mut fired);
    let ends: Vec<i64> = fired.0.iter().map(|f| f.0).collect();
    assert_eq!(ends, [40, 50]);
    // The trigger state goes on in another manager.
    let saved = m.trigger_state();
    let mut again: WindowManager<i64> =
        WindowManager::new(Length::Millis(10), Slide::Millis(10), None);
    again.restore_trigger(&saved, None);
    let mut later = Fired(Vec::new());
    for ts in 51..=60 {
        again.add(ts, ts, &mut later);
    }
    again.on_watermark(60, &mut later);
    assert_eq!(later.0, [(60, 10, (51..=60).sum())]);

    // Processing time, count tumbling 3: a silent replay fires nothing; then the
    // trigger counts from zero.
    let mut p: WindowManager<i64> = WindowManager::new(Length::Count(3), Slide::Count(3), Some(0));
    let mut out = Fired(Vec::new());
    p.set_silent(true);
    for i in 1..=4 {
        p.add(i, i, &mut out);
    }
    assert!(out.0.is_empty());
    p.end_replay();
    for i in 5..=7 {
        p.add(i, i, &mut out);
    }
    assert_eq!(out.0, [(7, 3, 18)]);
}
