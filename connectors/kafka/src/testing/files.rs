//! Files for tests of the `<key>.file` secrets: written with the mode a test asks for.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use super::TestError;

/// Write `text` to a new file `name` in `dir` with permission bits `mode` (0o600 for a
/// private secret, 0o640 for one the check must refuse).
pub fn write_with_mode(
    dir: &Path,
    name: &str,
    text: &str,
    mode: u32,
) -> Result<PathBuf, TestError> {
    let path = dir.join(name);
    let fail = |e: std::io::Error| TestError::new(format!("writing {}: {e}", path.display()));
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(&path)
        .map_err(fail)?;
    f.write_all(text.as_bytes()).map_err(fail)?;
    Ok(path)
}
