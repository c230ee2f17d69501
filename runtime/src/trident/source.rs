//! A replayable batch source over a text file: the lines of each txid's batch, with the
//! byte range of every uncommitted txid recorded durably (in a [`MetaSlot`]: nimbus in
//! a cluster, a file in local mode) before the batch is emitted, so a replay — even
//! after the process crashed or the coordinator moved — reads the same lines
//! (transactional) or picks up from where the previous txid ended (opaque).

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufRead, BufReader, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use thiserror::Error;

use super::meta::{MetaError, MetaSlot};

/// How a replayed txid is rebuilt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceMode {
    /// A txid always has the same lines: its recorded byte range is read again.
    Transactional,
    /// A replayed txid starts where the previous txid ended and reads what is there now
    /// (more lines if the file grew); each line still lands in exactly one committed
    /// batch because commits are in txid order.
    Opaque,
}

/// Reading the input or the offsets log failed.
#[derive(Debug, Error)]
pub enum SourceError {
    /// An I/O error on a file.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The offsets record could not be read or written.
    #[error("batch offsets: {0}")]
    Meta(#[from] MetaError),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Range {
    txid: u64,
    start: u64,
    end: u64,
}

/// The stored record: the ranges of the txids not known to be committed, and of the
/// last committed one (where the next txid starts).
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct OffsetsRecord {
    ranges: Vec<Range>,
}

/// A stored record: JSON, or the line log of earlier versions (one JSON range per line;
/// a torn last line, from a crash mid-append, is dropped with a warning: its batch was
/// never emitted), read once and replaced at the next write. `at` names the record.
fn decode(text: &str, at: &str) -> Result<OffsetsRecord, String> {
    let json = match serde_json::from_str::<OffsetsRecord>(text) {
        Ok(r) => return Ok(r),
        Err(e) => e,
    };
    let lines: Vec<(usize, &str)> = text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .collect();
    let mut ranges = Vec::new();
    for (n, &(i, line)) in lines.iter().enumerate() {
        match serde_json::from_str::<Range>(line) {
            Ok(r) => ranges.push(r),
            Err(_) if ranges.is_empty() => return Err(json.to_string()),
            Err(_) if n + 1 == lines.len() => tracing::warn!(
                log = %at,
                line = i + 1,
                text = %line,
                "trident batch offsets: dropping a torn last line (a crash mid-write)"
            ),
            Err(e) => return Err(format!("line {}: {e}", i + 1)),
        }
    }
    Ok(OffsetsRecord { ranges })
}

/// Batches of lines by txid.
#[derive(Debug)]
pub struct FileBatchSource {
    input: PathBuf,
    slot: MetaSlot,
    mode: SourceMode,
    batch_lines: usize,
    ranges: BTreeMap<u64, (u64, u64)>,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> SourceError + '_ {
    move |source| SourceError::Io {
        path: path.to_path_buf(),
        source,
    }
}

impl FileBatchSource {
    /// A source over `input` with at most `batch_lines` lines per batch, recording its
    /// ranges in the file `log` (created if missing; read back if present).
    pub fn open(
        input: &Path,
        log: &Path,
        mode: SourceMode,
        batch_lines: usize,
    ) -> Result<FileBatchSource, SourceError> {
        FileBatchSource::open_in(input, MetaSlot::file(log)?, mode, batch_lines)
    }

    /// A source over `input` with at most `batch_lines` lines per batch, recording its
    /// ranges in `slot` (read back if present).
    pub fn open_in(
        input: &Path,
        slot: MetaSlot,
        mode: SourceMode,
        batch_lines: usize,
    ) -> Result<FileBatchSource, SourceError> {
        let record = match slot.get()? {
            Some(text) => {
                decode(&text, &slot.describe()).map_err(|message| MetaError::Corrupt {
                    at: slot.describe(),
                    message,
                })?
            }
            None => OffsetsRecord::default(),
        };
        let ranges = record
            .ranges
            .iter()
            .map(|r| (r.txid, (r.start, r.end)))
            .collect();
        Ok(FileBatchSource {
            input: input.to_path_buf(),
            slot,
            mode,
            batch_lines: batch_lines.max(1),
            ranges,
        })
    }

    /// Batch `txid` committed: the ranges of older txids are no longer needed (dropped
    /// from the record at its next write; `txid`'s own is kept: the next txid starts
    /// where it ended).
    pub fn committed(&mut self, txid: u64) {
        self.ranges.retain(|t, _| *t >= txid);
    }

    /// The recorded byte range of `txid`, if it was emitted.
    pub fn range(&self, txid: u64) -> Option<(u64, u64)> {
        self.ranges.get(&txid).copied()
    }

    /// Where `txid` starts: where the txid before it ended (0 for the first).
    fn start_of(&self, txid: u64) -> u64 {
        self.ranges
            .range(..txid)
            .next_back()
            .map_or(0, |(_, (_, end))| *end)
    }

    /// The byte range `[start, end)` of batch `txid`, recorded durably before it is
    /// returned. Transactional: a recorded txid keeps its range. Opaque: the range is
    /// rebuilt from where txid - 1 ended, up to the batch limit, with what the file holds
    /// now. A range never ends inside a line.
    pub fn plan(&mut self, txid: u64) -> Result<(u64, u64), SourceError> {
        if let (SourceMode::Transactional, Some(range)) = (self.mode, self.range(txid)) {
            return Ok(range);
        }
        let start = self.start_of(txid);
        let (_, end) = self.read(start, None, false)?;
        self.record(Range { txid, start, end })?;
        Ok((start, end))
    }

    /// Whether a complete line follows the last planned range (a new batch would not
    /// be empty).
    pub fn has_more(&self) -> Result<bool, SourceError> {
        let start = self.ranges.values().next_back().map_or(0, |(_, end)| *end);
        let len = std::fs::metadata(&self.input)
            .map_err(io(&self.input))?
            .len();
        if len <= start {
            return Ok(false);
        }
        let mut f = BufReader::new(File::open(&self.input).map_err(io(&self.input))?);
        f.seek(SeekFrom::Start(start)).map_err(io(&self.input))?;
        let mut buf = Vec::new();
        f.read_until(b'\n', &mut buf).map_err(io(&self.input))?;
        Ok(buf.last() == Some(&b'\n'))
    }

    /// The lines of batch `txid` (planned as [`plan`](Self::plan) says), all parts.
    pub fn batch(&mut self, txid: u64) -> Result<Vec<String>, SourceError> {
        let (start, end) = self.plan(txid)?;
        let mut lines = Vec::new();
        read_part(&self.input, start, end, 0, 1, |l| {
            lines.push(l.to_string());
        })?;
        Ok(lines)
    }

    fn read(
        &self,
        start: u64,
        end: Option<u64>,
        keep: bool,
    ) -> Result<(Vec<String>, u64), SourceError> {
        let mut f = BufReader::new(File::open(&self.input).map_err(io(&self.input))?);
        f.seek(SeekFrom::Start(start)).map_err(io(&self.input))?;
        let mut lines = Vec::new();
        let mut count = 0;
        let mut pos = start;
        let mut buf = Vec::new();
        loop {
            if end.is_some_and(|e| pos >= e) || (end.is_none() && count >= self.batch_lines) {
                break;
            }
            buf.clear();
            let n = f.read_until(b'\n', &mut buf).map_err(io(&self.input))?;
            if n == 0 || buf.last() != Some(&b'\n') {
                break;
            }
            pos += n as u64;
            count += 1;
            if keep {
                while matches!(buf.last(), Some(b'\n' | b'\r')) {
                    buf.pop();
                }
                lines.push(String::from_utf8_lossy(&buf).into_owned());
            }
        }
        Ok((lines, pos))
    }

    /// Record a range, durably, before the batch is emitted; kept in memory only once
    /// it is durable (a failed write leaves the source as it was).
    fn record(&mut self, r: Range) -> Result<(), SourceError> {
        let mut ranges = self.ranges.clone();
        ranges.insert(r.txid, (r.start, r.end));
        let record = OffsetsRecord {
            ranges: ranges
                .iter()
                .map(|(&txid, &(start, end))| Range { txid, start, end })
                .collect(),
        };
        self.slot.put_json(&record)?;
        self.ranges = ranges;
        Ok(())
    }
}

/// Read part `part` of `parts` of the byte range `[start, end)` of `input`: the lines
/// that start in the part's share of the range, without their line ends. Together the
/// parts read every line of the range exactly once.
pub fn read_part(
    input: &Path,
    start: u64,
    end: u64,
    part: usize,
    parts: usize,
    mut each: impl FnMut(&str),
) -> Result<(), SourceError> {
    let parts = parts.max(1) as u64;
    let len = end.saturating_sub(start);
    let lo = start + len * part as u64 / parts;
    let hi = start + len * (part as u64 + 1) / parts;
    if lo >= hi {
        return Ok(());
    }
    let mut f = BufReader::with_capacity(1 << 20, File::open(input).map_err(io(input))?);
    // A line belongs to the part its first byte is in: skip the tail of a line that
    // started before `lo`.
    let mut pos = if lo > start { lo - 1 } else { lo };
    f.seek(SeekFrom::Start(pos)).map_err(io(input))?;
    let mut buf = Vec::with_capacity(256);
    if lo > start {
        pos += f.read_until(b'\n', &mut buf).map_err(io(input))? as u64;
    }
    while pos < hi {
        buf.clear();
        let n = f.read_until(b'\n', &mut buf).map_err(io(input))?;
        if n == 0 {
            break;
        }
        pos += n as u64;
        while matches!(buf.last(), Some(b'\n' | b'\r')) {
            buf.pop();
        }
        match std::str::from_utf8(&buf) {
            Ok(line) => each(line),
            Err(_) => each(&String::from_utf8_lossy(&buf)),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::fs::OpenOptions;
    use std::io::Write;

    use super::*;
    use crate::trident::meta::MetaKey;

    fn setup(lines: &[&str]) -> (tempfile::TempDir, PathBuf, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let input = dir.path().join("in.txt");
        let mut text = lines.join("\n");
        text.push('\n');
        std::fs::write(&input, text).unwrap();
        let log = dir.path().join("offsets.log");
        (dir, input, log)
    }

    #[test]
    fn transactional_replay_reads_the_same_lines_even_after_a_restart() {
        let (_d, input, log) = setup(&["a", "b", "c", "d", "e"]);
        let mut s = FileBatchSource::open(&input, &log, SourceMode::Transactional, 2).unwrap();
        assert_eq!(s.batch(1).unwrap(), ["a", "b"]);
        assert_eq!(s.batch(2).unwrap(), ["c", "d"]);
        // A new process (crash and restart) replays txid 2 from the log.
        let mut again = FileBatchSource::open(&input, &log, SourceMode::Transactional, 2).unwrap();
        assert_eq!(again.batch(2).unwrap(), ["c", "d"]);
        assert_eq!(again.batch(3).unwrap(), ["e"]);
        assert!(again.batch(4).unwrap().is_empty(), "nothing left");
    }

    #[test]
    fn opaque_replay_continues_from_the_previous_txid_and_sees_new_lines() {
        let (_d, input, log) = setup(&["a", "b", "c"]);
        let mut s = FileBatchSource::open(&input, &log, SourceMode::Opaque, 5).unwrap();
        assert_eq!(s.batch(1).unwrap(), ["a", "b", "c"]);
        let mut f = OpenOptions::new().append(true).open(&input).unwrap();
        f.write_all(b"d\ne\n").unwrap();
        // Txid 1 replayed: same start, now with the lines appended since.
        assert_eq!(s.batch(1).unwrap(), ["a", "b", "c", "d", "e"]);
        assert!(
            s.batch(2).unwrap().is_empty(),
            "txid 2 starts where txid 1 ended"
        );
    }

    #[test]
    fn a_partial_last_line_waits_for_its_newline() {
        let (_d, input, log) = setup(&["a"]);
        let mut f = OpenOptions::new().append(true).open(&input).unwrap();
        f.write_all(b"par").unwrap();
        let mut s = FileBatchSource::open(&input, &log, SourceMode::Transactional, 10).unwrap();
        assert_eq!(s.batch(1).unwrap(), ["a"]);
        f.write_all(b"tial\n").unwrap();
        assert_eq!(s.batch(2).unwrap(), ["partial"]);
    }

    #[test]
    fn parts_read_every_line_of_a_range_exactly_once() {
        let lines: Vec<String> = (0..50)
            .map(|i| format!("line {i} {}", "x".repeat(i % 7)))
            .collect();
        let refs: Vec<&str> = lines.iter().map(String::as_str).collect();
        let (_d, input, log) = setup(&refs);
        let mut s = FileBatchSource::open(&input, &log, SourceMode::Transactional, 40).unwrap();
        let (start, end) = s.plan(1).unwrap();
        for parts in 1..6 {
            let mut got = Vec::new();
            for part in 0..parts {
                read_part(&input, start, end, part, parts, |l| got.push(l.to_string())).unwrap();
            }
            assert_eq!(got, lines[..40], "{parts} parts");
        }
        assert!(s.has_more().unwrap());
        s.plan(2).unwrap();
        assert!(!s.has_more().unwrap(), "all 50 lines planned");
    }

    #[test]
    fn a_corrupt_log_is_a_clear_error() {
        let (_d, input, log) = setup(&["a"]);
        std::fs::write(&log, "{\"ranges\":[]}\nnot json\n").unwrap();
        let e = FileBatchSource::open(&input, &log, SourceMode::Opaque, 1).unwrap_err();
        assert!(e.to_string().contains("offsets.log"), "{e}");
    }

    #[test]
    fn the_line_log_of_earlier_versions_is_read() {
        let (_d, input, log) = setup(&["a", "b", "c"]);
        std::fs::write(
            &log,
            "{\"txid\":1,\"start\":0,\"end\":2}\n{\"txid\":2,\"start\":2,\"end\":4}\n",
        )
        .unwrap();
        let mut s = FileBatchSource::open(&input, &log, SourceMode::Transactional, 1).unwrap();
        assert_eq!(s.batch(2).unwrap(), ["b"]);
        assert_eq!(s.batch(3).unwrap(), ["c"]);
        let stored = std::fs::read_to_string(&log).unwrap();
        assert!(stored.starts_with("{\"ranges\":["), "rewritten: {stored}");
    }

    #[test]
    fn a_torn_last_line_of_an_old_line_log_is_dropped_but_a_corrupt_middle_is_an_error() {
        let (_d, input, log) = setup(&["a", "b", "c"]);
        // Killed while appending the range of txid 3: its batch was never emitted.
        std::fs::write(
            &log,
            "{\"txid\":1,\"start\":0,\"end\":2}\n{\"txid\":2,\"start\":2,\"end\":4}\n{\"txid\":3,\"sta",
        )
        .unwrap();
        let mut s = FileBatchSource::open(&input, &log, SourceMode::Transactional, 1).unwrap();
        assert_eq!(s.range(2), Some((2, 4)));
        assert_eq!(s.range(3), None);
        assert_eq!(s.batch(3).unwrap(), ["c"]);
        // The same damage in the middle is corruption: an error naming file and line.
        std::fs::write(
            &log,
            "{\"txid\":1,\"start\":0,\"end\":2}\n{\"txid\":2,\"sta\n{\"txid\":3,\"start\":4,\"end\":6}\n",
        )
        .unwrap();
        let e = FileBatchSource::open(&input, &log, SourceMode::Transactional, 1).unwrap_err();
        let msg = e.to_string();
        assert!(
            msg.contains("offsets.log") && msg.contains("line 2"),
            "{msg}"
        );
    }

    #[test]
    fn committed_ranges_are_dropped_but_the_last_one_is_kept() {
        let (_d, input, log) = setup(&["a", "b", "c", "d", "e", "f"]);
        let mut s = FileBatchSource::open(&input, &log, SourceMode::Opaque, 1).unwrap();
        for txid in 1..=4 {
            s.plan(txid).unwrap();
        }
        s.committed(3);
        s.plan(5).unwrap();
        let stored = std::fs::read_to_string(&log).unwrap();
        assert!(!stored.contains("\"txid\":2"), "{stored}");
        // A restarted (or moved) coordinator continues after the last commit.
        let mut again = FileBatchSource::open(&input, &log, SourceMode::Opaque, 1).unwrap();
        assert_eq!(again.range(3), Some((4, 6)));
        assert_eq!(again.batch(4).unwrap(), ["d"]);
    }

    /// A store whose writes all fail.
    #[derive(Debug)]
    struct ReadOnly;

    impl crate::trident::meta::MetaStore for ReadOnly {
        fn get(&self, _: &MetaKey) -> Result<Option<String>, MetaError> {
            Ok(None)
        }
        fn put(&self, key: &MetaKey, _: &str) -> Result<(), MetaError> {
            Err(MetaError::Refused {
                key: key.to_string(),
                status: 503,
                message: "read-only".into(),
            })
        }
    }

    #[test]
    fn a_range_is_not_kept_when_it_could_not_be_recorded() {
        let (_d, input, _) = setup(&["a", "b"]);
        let slot = MetaSlot::new(
            std::sync::Arc::new(ReadOnly),
            MetaKey::spout("lines", "offsets").unwrap(),
        );
        let mut s = FileBatchSource::open_in(&input, slot, SourceMode::Transactional, 1).unwrap();
        let e = s.plan(1).unwrap_err();
        assert!(e.to_string().contains("read-only"), "{e}");
        assert_eq!(s.range(1), None, "never handed out without its record");
    }
}
