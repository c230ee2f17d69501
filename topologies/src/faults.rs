//! Failure-injection components: a bolt that fails or drops a fraction of its inputs,
//! a bolt that reports an error on every input, and a bolt that is slow on purpose.

use std::time::Duration;

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use squall_runtime::{
    BasicBolt, BasicCollector, Bolt, BoltCollector, ComponentArgs, ComponentError, FactoryError,
    OutputDeclarer, Tuple,
};

/// Output fields from constructor argument `index` (a list of names), or `["value"]`.
fn fields_arg(args: &ComponentArgs<'_>, index: usize) -> Result<Vec<String>, FactoryError> {
    let Some(v) = args.args().get(index) else {
        return Ok(vec!["value".to_string()]);
    };
    let list = v.as_sequence().ok_or_else(|| {
        FactoryError(format!(
            "constructorArgs[{index}] must be a list of output field names"
        ))
    })?;
    list.iter()
        .map(|f| {
            f.as_str().map(str::to_string).ok_or_else(|| {
                FactoryError(format!(
                    "constructorArgs[{index}] must hold field names (strings)"
                ))
            })
        })
        .collect()
}

fn fraction(args: &ComponentArgs<'_>, index: usize, what: &str) -> Result<f64, FactoryError> {
    let f = args.f64_or(index, what, 0.0)?;
    if !(0.0..=1.0).contains(&f) {
        return Err(FactoryError(format!(
            "constructorArgs[{index}] ({what}) must be between 0 and 1, got {f}"
        )));
    }
    Ok(f)
}

/// Passes each input on anchored and acks it, except that it fails a fraction of the
/// inputs and silently drops another fraction (neither acks nor fails: they time out).
/// constructorArgs: `[fail_fraction, drop_fraction, [output fields]]` (fields default
/// `["value"]`; the input's values are passed on unchanged).
#[derive(Debug)]
pub struct FlakyBolt {
    fail: f64,
    drop: f64,
    fields: Vec<String>,
    rng: SmallRng,
}

impl FlakyBolt {
    /// From YAML constructor arguments.
    pub fn from_args(args: &ComponentArgs<'_>) -> Result<FlakyBolt, FactoryError> {
        let fail = fraction(args, 0, "fail fraction")?;
        let drop = fraction(args, 1, "drop fraction")?;
        if fail + drop > 1.0 {
            return Err(FactoryError(format!(
                "fail fraction + drop fraction must be at most 1, got {}",
                fail + drop
            )));
        }
        Ok(FlakyBolt {
            fail,
            drop,
            fields: fields_arg(args, 2)?,
            rng: SmallRng::from_os_rng(),
        })
    }
}

impl Bolt for FlakyBolt {
    fn declare_outputs(&self, out: &mut OutputDeclarer) {
        let fields: Vec<&str> = self.fields.iter().map(String::as_str).collect();
        out.declare(&fields);
    }

    fn execute(&mut self, input: Tuple, out: &mut BoltCollector) -> Result<(), ComponentError> {
        let r: f64 = self.rng.random();
        if r < self.fail {
            out.fail(&input);
        } else if r < self.fail + self.drop {
            // Dropped: neither acked nor failed; its tree times out at the spout.
        } else {
            out.emit_anchored(&input, input.values().clone())?;
            out.ack(&input);
        }
        Ok(())
    }
}

/// The longest error text an [`ErrorBolt`] takes, in bytes.
pub const MAX_ERROR_TEXT: usize = 4096;

/// Fails every input with an error of a fixed text, which the worker reports as the
/// bolt's error (Storm's `reportError`): for tests of how errors are shown, e.g. a text
/// holding HTML that a UI must show as text. Emits nothing.
/// constructorArgs: `[error text]` (at most [`MAX_ERROR_TEXT`] bytes).
#[derive(Debug, Clone)]
pub struct ErrorBolt {
    text: String,
}

impl ErrorBolt {
    /// From YAML constructor arguments.
    pub fn from_args(args: &ComponentArgs<'_>) -> Result<ErrorBolt, FactoryError> {
        let text = args.str(0, "error text")?;
        if text.len() > MAX_ERROR_TEXT {
            return Err(FactoryError(format!(
                "constructorArgs[0] (error text) must be at most {MAX_ERROR_TEXT} bytes, got {}",
                text.len()
            )));
        }
        Ok(ErrorBolt {
            text: text.to_string(),
        })
    }
}

impl BasicBolt for ErrorBolt {
    fn declare_outputs(&self, _out: &mut OutputDeclarer) {}

    fn execute(
        &mut self,
        _input: &Tuple,
        _out: &mut BasicCollector<'_>,
    ) -> Result<(), ComponentError> {
        Err(ComponentError::msg(self.text.clone()))
    }
}

/// Passes each input on (anchored, then acks it) after sleeping `micros_per_tuple`.
/// constructorArgs: `[micros_per_tuple, [output fields]]`.
#[derive(Debug)]
pub struct SlowBolt {
    delay: Duration,
    fields: Vec<String>,
}

impl SlowBolt {
    /// From YAML constructor arguments.
    pub fn from_args(args: &ComponentArgs<'_>) -> Result<SlowBolt, FactoryError> {
        Ok(SlowBolt {
            delay: Duration::from_micros(args.u64(0, "microseconds per tuple")?),
            fields: fields_arg(args, 1)?,
        })
    }
}

impl Bolt for SlowBolt {
    fn declare_outputs(&self, out: &mut OutputDeclarer) {
        let fields: Vec<&str> = self.fields.iter().map(String::as_str).collect();
        out.declare(&fields);
    }

    fn execute(&mut self, input: Tuple, out: &mut BoltCollector) -> Result<(), ComponentError> {
        std::thread::sleep(self.delay);
        out.emit_anchored(&input, input.values().clone())?;
        out.ack(&input);
        Ok(())
    }
}

/// The most a [`MemoryHogBolt`] allocates, in MiB.
pub const MAX_HOG_MB: u64 = 64 * 1024;

/// Allocates `megabytes` MiB on its first input (writing every page, so it is resident)
/// and holds them for its life; passes each input on (anchored, then acks it). For
/// tests of `topology.worker.max.memory.mb`. constructorArgs: `[megabytes, [output
/// fields]]` (at most [`MAX_HOG_MB`]).
#[derive(Debug)]
pub struct MemoryHogBolt {
    megabytes: u64,
    held: Vec<u8>,
    fields: Vec<String>,
}

impl MemoryHogBolt {
    /// From YAML constructor arguments.
    pub fn from_args(args: &ComponentArgs<'_>) -> Result<MemoryHogBolt, FactoryError> {
        let megabytes = args.u64(0, "megabytes to allocate")?;
        if megabytes > MAX_HOG_MB {
            return Err(FactoryError(format!(
                "constructorArgs[0] (megabytes to allocate) must be at most {MAX_HOG_MB}, \
                 got {megabytes}"
            )));
        }
        Ok(MemoryHogBolt {
            megabytes,
            held: Vec::new(),
            fields: fields_arg(args, 1)?,
        })
    }
}

impl Bolt for MemoryHogBolt {
    fn declare_outputs(&self, out: &mut OutputDeclarer) {
        let fields: Vec<&str> = self.fields.iter().map(String::as_str).collect();
        out.declare(&fields);
    }

    fn execute(&mut self, input: Tuple, out: &mut BoltCollector) -> Result<(), ComponentError> {
        if self.held.is_empty() && self.megabytes > 0 {
            let bytes = usize::try_from(self.megabytes << 20).unwrap_or(usize::MAX);
            // Non-zero bytes: every page is written, so all of it is resident.
            self.held = vec![0xa5; bytes];
            tracing::info!(megabytes = self.megabytes, "memory hog: allocated");
        }
        out.emit_anchored(&input, input.values().clone())?;
        out.ack(&input);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(yaml: &str) -> Vec<serde_yaml::Value> {
        serde_yaml::from_str(yaml).unwrap_or_default()
    }

    fn error_bolt(args: &[serde_yaml::Value]) -> Result<ErrorBolt, FactoryError> {
        let config = squall_runtime::Config::default();
        ErrorBolt::from_args(&ComponentArgs::new("e", args, &config))
    }

    #[test]
    fn an_error_bolt_takes_its_text_and_refuses_a_huge_one() {
        let ok = args(r#"["<img src=x onerror=\"window.__xss=1\">"]"#);
        let bolt = error_bolt(&ok);
        assert_eq!(
            bolt.map(|b| b.text).ok().as_deref(),
            Some(r#"<img src=x onerror="window.__xss=1">"#)
        );
        let huge = vec![serde_yaml::Value::String("x".repeat(MAX_ERROR_TEXT + 1))];
        let err = error_bolt(&huge).err();
        assert!(err.is_some_and(|e| e.0.contains("at most 4096 bytes")));
        assert!(error_bolt(&[]).is_err());
    }
}
