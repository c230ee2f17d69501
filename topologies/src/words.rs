//! Word-count and exclamation components.

use std::cell::Cell;

use compact_str::CompactString;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use rustc_hash::FxHashMap;
use squall_runtime::{
    BasicBolt, BasicCollector, ComponentError, Fields, MessageId, OutputDeclarer, Spout,
    SpoutCollector, Tuple, Value,
};

/// The sentences [`RandomSentenceSpout`] picks from (Storm's word-count example set).
pub const SENTENCES: [&str; 5] = [
    "the cow jumped over the moon",
    "an apple a day keeps the doctor away",
    "four score and seven years ago",
    "snow white and the seven dwarfs",
    "i am at two with nature",
];

/// The words [`WordSpout`] picks from (Storm's `TestWordSpout` set).
pub const WORDS: [&str; 5] = ["nathan", "mike", "jackson", "golda", "bertels"];

/// Emits random sentences (field `sentence`) forever, each with a message id. The
/// sentence is a function of the id, so a failed message is replayed with the same
/// sentence without keeping anything.
#[derive(Debug)]
pub struct RandomSentenceSpout {
    next_id: MessageId,
    replay: Vec<MessageId>,
    sentences: [Value; 5],
}

impl RandomSentenceSpout {
    /// A spout starting at a random id.
    pub fn new() -> RandomSentenceSpout {
        RandomSentenceSpout {
            next_id: SmallRng::from_os_rng().random::<u32>().into(),
            replay: Vec::new(),
            sentences: SENTENCES.map(Value::from_static),
        }
    }

    fn sentence(&self, id: MessageId) -> Value {
        let i = (id.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 32) % self.sentences.len() as u64;
        self.sentences[i as usize].clone()
    }
}

impl Default for RandomSentenceSpout {
    fn default() -> Self {
        Self::new()
    }
}

impl Spout for RandomSentenceSpout {
    fn declare_outputs(&self, out: &mut OutputDeclarer) {
        out.declare(&["sentence"]);
    }

    fn next_tuple(&mut self, out: &mut SpoutCollector) -> Result<(), ComponentError> {
        let id = match self.replay.pop() {
            Some(id) => id,
            None => {
                self.next_id += 1;
                self.next_id
            }
        };
        out.emit_id(self.sentence(id), id)?;
        Ok(())
    }

    fn fail(&mut self, id: MessageId) {
        self.replay.push(id);
    }
}

/// Emits random words (field `word`) forever, like Storm's `TestWordSpout`.
#[derive(Debug)]
pub struct WordSpout {
    rng: SmallRng,
    words: [Value; 5],
}

impl WordSpout {
    /// A spout seeded from the OS.
    pub fn new() -> WordSpout {
        WordSpout {
            rng: SmallRng::from_os_rng(),
            words: WORDS.map(Value::from_static),
        }
    }
}

impl Default for WordSpout {
    fn default() -> Self {
        Self::new()
    }
}

impl Spout for WordSpout {
    fn declare_outputs(&self, out: &mut OutputDeclarer) {
        out.declare(&["word"]);
    }

    fn next_tuple(&mut self, out: &mut SpoutCollector) -> Result<(), ComponentError> {
        let i = self.rng.random_range(0..self.words.len());
        out.emit(self.words[i].clone())?;
        Ok(())
    }
}

/// Splits the string in field 0 on whitespace and emits each word (field `word`).
#[derive(Debug, Default, Clone, Copy)]
pub struct SplitSentenceBolt;

impl BasicBolt for SplitSentenceBolt {
    fn declare_outputs(&self, out: &mut OutputDeclarer) {
        out.declare(&["word"]);
    }

    fn execute(
        &mut self,
        input: &Tuple,
        out: &mut BasicCollector<'_>,
    ) -> Result<(), ComponentError> {
        for word in input.get_str(0)?.split_ascii_whitespace() {
            out.emit(Value::Str(CompactString::new(word)))?;
        }
        Ok(())
    }
}

/// Counts words (input field `word`) and emits `word`, `count` after each update.
#[derive(Debug, Default)]
pub struct WordCountBolt {
    counts: FxHashMap<CompactString, Cell<i64>>,
    /// The last input stream's fields and the index of `word` in them.
    word_index: Option<(&'static Fields, usize)>,
}

impl WordCountBolt {
    /// Index of field `word` in the input's stream, looked up once per stream.
    fn word_index(&mut self, input: &Tuple) -> Result<usize, ComponentError> {
        let fields = input.fields();
        match self.word_index {
            Some((f, i)) if std::ptr::eq(f, fields) => Ok(i),
            _ => {
                let i = input.field_index("word")?;
                self.word_index = Some((fields, i));
                Ok(i)
            }
        }
    }
}

impl BasicBolt for WordCountBolt {
    fn declare_outputs(&self, out: &mut OutputDeclarer) {
        out.declare(&["word", "count"]);
    }

    fn execute(
        &mut self,
        input: &Tuple,
        out: &mut BasicCollector<'_>,
    ) -> Result<(), ComponentError> {
        let i = self.word_index(input)?;
        let word = input.get_str(i)?;
        // The emitted word is a copy of the map's key: copying a built string moves whole
        // words, where building one from `word` again writes it byte by byte (and the
        // move of those bytes into the tuple then stalls on them).
        let (key, count) = match self.counts.get_key_value(word) {
            Some((key, c)) => {
                c.set(c.get() + 1);
                (key.clone(), c.get())
            }
            None => {
                let key = CompactString::new(word);
                self.counts.insert(key.clone(), Cell::new(1));
                (key, 1)
            }
        };
        let mut values = squall_runtime::Values::with_capacity(2);
        values.push(Value::Str(key));
        values.push(count);
        out.emit(values)?;
        Ok(())
    }
}

/// Appends `!!!` to the string in field 0 and emits it (field `word`).
#[derive(Debug, Default, Clone, Copy)]
pub struct ExclamationBolt;

impl BasicBolt for ExclamationBolt {
    fn declare_outputs(&self, out: &mut OutputDeclarer) {
        out.declare(&["word"]);
    }

    fn execute(
        &mut self,
        input: &Tuple,
        out: &mut BasicCollector<'_>,
    ) -> Result<(), ComponentError> {
        let mut s = CompactString::new(input.get_str(0)?);
        s.push_str("!!!");
        out.emit(Value::Str(s))?;
        Ok(())
    }
}
