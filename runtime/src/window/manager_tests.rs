#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;

/// Records what the manager decided, as text.
#[derive(Default)]
struct Log {
    windows: Vec<String>,
    acked: Vec<i64>,
    failed: Vec<i64>,
    /// Fail the next window.
    fail_next: bool,
}

fn list(items: &[&i64]) -> String {
    items
        .iter()
        .map(|i| i.to_string())
        .collect::<Vec<_>>()
        .join(",")
}

impl WindowSink<i64> for Log {
    fn activate(&mut self, w: &TupleWindow<'_, i64>) -> bool {
        let start = w.start_timestamp().map_or("-".into(), |s| s.to_string());
        self.windows.push(format!(
            "({start},{}] [{}] new [{}] expired [{}]",
            w.end_timestamp(),
            list(w.get()),
            list(w.get_new()),
            list(w.get_expired())
        ));
        !std::mem::take(&mut self.fail_next)
    }
    fn expire(&mut self, item: &i64) {
        self.acked.push(*item);
    }
    fn fail(&mut self, item: i64) {
        self.failed.push(item);
    }
}

type M = WindowManager<i64>;

fn processing(length: Length, slide: Slide) -> M {
    M::new(length, slide, Some(0))
}

fn event(length: Length, slide: Slide) -> M {
    M::new(length, slide, None)
}

/// Add each `(item, ts)`.
fn add(m: &mut M, log: &mut Log, events: &[(i64, i64)]) {
    for &(item, ts) in events {
        m.add(item, ts, log);
    }
}

#[test]
fn count_sliding_processing_time() {
    // Storm's simple_windowing.yaml: length 5, slide 3.
    let (mut m, mut log) = (
        processing(Length::Count(5), Slide::Count(3)),
        Log::default(),
    );
    add(
        &mut m,
        &mut log,
        &(1..=10).map(|i| (i, i)).collect::<Vec<_>>(),
    );
    assert_eq!(
        log.windows,
        [
            "(-,3] [1,2,3] new [1,2,3] expired []",
            "(-,6] [2,3,4,5,6] new [4,5,6] expired [1]",
            "(-,9] [5,6,7,8,9] new [7,8,9] expired [2,3,4]",
        ]
    );
    assert_eq!(log.acked, [1, 2, 3, 4]);
    assert_eq!(m.len(), 6);
}

#[test]
fn count_tumbling_processing_time() {
    let (mut m, mut log) = (
        processing(Length::Count(3), Slide::Count(3)),
        Log::default(),
    );
    add(
        &mut m,
        &mut log,
        &(1..=7).map(|i| (i, 0)).collect::<Vec<_>>(),
    );
    assert_eq!(
        log.windows,
        [
            "(-,0] [1,2,3] new [1,2,3] expired []",
            "(-,0] [4,5,6] new [4,5,6] expired [1,2,3]",
        ]
    );
    assert_eq!(log.acked, [1, 2, 3]);
}

#[test]
fn count_length_duration_slide_processing_time() {
    let (mut m, mut log) = (
        processing(Length::Count(3), Slide::Millis(10)),
        Log::default(),
    );
    add(&mut m, &mut log, &[(1, 1), (2, 2), (3, 4), (4, 6), (5, 9)]);
    m.on_time(9, &mut log);
    assert!(log.windows.is_empty());
    m.on_time(10, &mut log);
    add(&mut m, &mut log, &[(6, 12)]);
    m.on_time(21, &mut log);
    // Nothing arrived in (10, 20]... but 6 did: window 20 holds the last 3 up to 20.
    m.on_time(35, &mut log);
    assert_eq!(
        log.windows,
        [
            "(-,10] [3,4,5] new [3,4,5] expired []",
            "(-,20] [4,5,6] new [6] expired [3]",
            "(-,30] [4,5,6] new [] expired []",
        ]
    );
    assert_eq!(log.acked, [1, 2, 3]);
}

#[test]
fn count_tumbling_by_duration_processing_time() {
    // Tumbling duration window: length = slide = 10 ms.
    let (mut m, mut log) = (
        processing(Length::Millis(10), Slide::Millis(10)),
        Log::default(),
    );
    add(
        &mut m,
        &mut log,
        &[(1, 1), (2, 5), (3, 10), (4, 11), (5, 19)],
    );
    m.on_time(20, &mut log);
    add(&mut m, &mut log, &[(6, 42)]);
    m.on_time(45, &mut log);
    m.on_time(50, &mut log);
    assert_eq!(
        log.windows,
        [
            "(0,10] [1,2,3] new [1,2,3] expired []",
            "(10,20] [4,5] new [4,5] expired [1,2,3]",
            // 30 and 40 were empty: skipped; the expired list spans them.
            "(40,50] [6] new [6] expired [4,5]",
        ]
    );
    assert_eq!(log.acked, [1, 2, 3, 4, 5]);
}

#[test]
fn the_first_processing_time_window_takes_every_arrival() {
    // Arrivals in the start millisecond are in the first tumbling window, not before it.
    let (mut m, mut log) = (
        processing(Length::Millis(10), Slide::Millis(10)),
        Log::default(),
    );
    add(&mut m, &mut log, &[(1, 0), (2, 0)]);
    for i in 3..300 {
        m.add(i, 5, &mut log);
    }
    m.on_time(10, &mut log);
    assert_eq!(log.windows.len(), 1);
    assert!(
        log.windows[0].starts_with("(0,10] [1,2,3,"),
        "{:?}",
        log.windows
    );
    m.on_time(20, &mut log);
    assert_eq!(log.acked.len(), 299);
}

#[test]
fn duration_sliding_processing_time() {
    let (mut m, mut log) = (
        processing(Length::Millis(20), Slide::Millis(10)),
        Log::default(),
    );
    add(&mut m, &mut log, &[(1, 1), (2, 5)]);
    m.on_time(10, &mut log);
    add(&mut m, &mut log, &[(3, 11), (4, 15)]);
    m.on_time(20, &mut log);
    add(&mut m, &mut log, &[(5, 21), (6, 25)]);
    // A late timer: both 30 and 40 are due.
    m.on_time(41, &mut log);
    assert_eq!(
        log.windows,
        [
            "(-10,10] [1,2] new [1,2] expired []",
            "(0,20] [1,2,3,4] new [3,4] expired []",
            "(10,30] [3,4,5,6] new [5,6] expired [1,2]",
            "(20,40] [5,6] new [] expired [3,4]",
        ]
    );
    assert_eq!(log.acked, [1, 2, 3, 4]);
}

#[test]
fn duration_length_count_slide_processing_time() {
    let (mut m, mut log) = (
        processing(Length::Millis(10), Slide::Count(2)),
        Log::default(),
    );
    add(
        &mut m,
        &mut log,
        &[(1, 0), (2, 4), (3, 8), (4, 12), (5, 16), (6, 30)],
    );
    assert_eq!(
        log.windows,
        [
            "(-6,4] [1,2] new [1,2] expired []",
            "(2,12] [2,3,4] new [3,4] expired [1]",
            "(20,30] [6] new [6] expired [2,3,4]",
        ]
    );
    assert_eq!(log.acked, [1, 2, 3, 4, 5]);
}

#[test]
fn duration_tumbling_count_windows_never_hold_more_than_length_plus_slide() {
    // Count length with a long duration slide: compaction keeps the store bounded.
    let (mut m, mut log) = (
        processing(Length::Count(10), Slide::Millis(1000)),
        Log::default(),
    );
    for i in 0..10_000 {
        m.add(i, 1, &mut log);
        assert!(m.len() <= 10 + COMPACT_EVERY as usize);
    }
    m.on_time(1000, &mut log);
    assert_eq!(log.windows.len(), 1);
    assert!(
        log.windows[0].starts_with("(-,1000] [9990,9991,"),
        "{:?}",
        log.windows
    );
    assert_eq!(log.acked.len(), 9990);
}

#[test]
fn event_time_duration_sliding_out_of_order() {
    let (mut m, mut log) = (event(Length::Millis(10), Slide::Millis(5)), Log::default());
    add(
        &mut m,
        &mut log,
        &[(3, 3), (1, 1), (7, 7), (12, 12), (6, 6), (14, 14)],
    );
    m.on_watermark(12, &mut log);
    add(&mut m, &mut log, &[(16, 16), (22, 22), (13, 13)]);
    m.on_watermark(20, &mut log);
    assert_eq!(
        log.windows,
        [
            // The first end is the earliest event time rounded up to the slide.
            "(-5,5] [1,3] new [1,3] expired []",
            "(0,10] [1,3,6,7] new [6,7] expired []",
            "(5,15] [6,7,12,13,14] new [12,13,14] expired [1,3]",
            "(10,20] [12,13,14,16] new [16] expired [6,7]",
        ]
    );
    assert_eq!(log.acked, [1, 3, 6, 7]);
}

#[test]
fn event_time_first_window_end_is_aligned_and_gaps_are_skipped() {
    let (mut m, mut log) = (event(Length::Millis(10), Slide::Millis(10)), Log::default());
    add(
        &mut m,
        &mut log,
        &[(1007, 1007), (1003, 1003), (5001, 5001)],
    );
    m.on_watermark(6000, &mut log);
    assert_eq!(
        log.windows,
        [
            "(1000,1010] [1003,1007] new [1003,1007] expired []",
            "(5000,5010] [5001] new [5001] expired [1003,1007]",
        ]
    );
}

#[test]
fn event_time_count_windows() {
    let (mut m, mut log) = (event(Length::Count(3), Slide::Count(2)), Log::default());
    add(&mut m, &mut log, &[(2, 2), (1, 1), (4, 4), (3, 3), (5, 5)]);
    m.on_watermark(4, &mut log);
    add(&mut m, &mut log, &[(6, 6)]);
    m.on_watermark(6, &mut log);
    assert_eq!(
        log.windows,
        [
            "(-,2] [1,2] new [1,2] expired []",
            "(-,4] [2,3,4] new [3,4] expired [1]",
            "(-,6] [4,5,6] new [5,6] expired [2,3]",
        ]
    );
    assert_eq!(log.acked, [1, 2, 3]);
}

#[test]
fn event_time_count_length_duration_slide_and_duration_length_count_slide() {
    let (mut m, mut log) = (event(Length::Count(2), Slide::Millis(10)), Log::default());
    add(&mut m, &mut log, &[(3, 3), (5, 5), (8, 8), (15, 15)]);
    m.on_watermark(20, &mut log);
    assert_eq!(
        log.windows,
        [
            "(-,10] [5,8] new [5,8] expired []",
            "(-,20] [8,15] new [15] expired [5]",
        ]
    );
    let (mut m, mut log) = (event(Length::Millis(10), Slide::Count(2)), Log::default());
    add(&mut m, &mut log, &[(3, 3), (5, 5), (8, 8), (15, 15)]);
    m.on_watermark(20, &mut log);
    assert_eq!(
        log.windows,
        [
            "(-5,5] [3,5] new [3,5] expired []",
            "(5,15] [8,15] new [8,15] expired [3,5]",
        ]
    );
}

#[test]
fn a_failed_window_fails_its_events_and_forgets_them() {
    let (mut m, mut log) = (
        processing(Length::Count(4), Slide::Count(2)),
        Log::default(),
    );
    add(&mut m, &mut log, &[(1, 0), (2, 0)]);
    log.fail_next = true;
    add(&mut m, &mut log, &[(3, 0), (4, 0)]);
    assert_eq!(log.failed, [1, 2, 3, 4]);
    assert_eq!(m.len(), 0);
    add(&mut m, &mut log, &[(3, 0), (4, 0)]);
    assert_eq!(
        log.windows,
        [
            "(-,0] [1,2] new [1,2] expired []",
            "(-,0] [1,2,3,4] new [3,4] expired []",
            "(-,0] [3,4] new [3,4] expired []",
        ]
    );
    assert!(log.acked.is_empty());
}
