//! Validation of a submission before it is stored, behind the [`Validator`] trait.
//!
//! Nimbus cannot instantiate the components, so by default ([`ArtifactValidator`]) it
//! runs the submission's own artifact: `<artifact> validate topology.yaml` (every
//! topology binary built on squall-runtime understands it: exit 0 when valid, 1 with the
//! errors on stderr). For a `topologySource` topology, whose components only the
//! artifact's builder knows, it adds `--write-resolved resolved.yaml` and plans from that
//! declaration.
//!
//! A cluster in one process has no artifact binary to run: [`RegistryValidator`] checks
//! the YAML against a [`squall_runtime::Registry`] in the process, with the very
//! function the artifact's `validate` calls
//! ([`squall_runtime::topology::check::check`]).

mod registry;

pub use registry::RegistryValidator;

use std::fmt;
use std::future::Future;
use std::path::Path;
use std::path::PathBuf;
use std::pin::Pin;
use std::process::Stdio;
use std::time::Duration;

use tokio::io::AsyncReadExt;
use tokio::process::Command;

use crate::error::ClusterError;
use crate::plan::SPEC_FILE_NAME as SPEC_FILE;

/// Where the artifact writes the resolved declaration of a `topologySource` topology.
const RESOLVED_FILE: &str = "resolved.yaml";
/// The most bytes of resolved declaration nimbus reads.
const MAX_RESOLVED: u64 = 16 * 1024 * 1024;

/// At most this much of the validator's stderr is kept for the error message.
const MAX_STDERR: usize = 64 * 1024;
/// `ETXTBSY`: the file is open for writing somewhere (e.g. a descriptor inherited by a
/// process forked at that moment); retried.
const ETXTBSY: i32 = 26;

/// What [`Validator::validate`] returns: the resolved declaration of a
/// `topologySource` topology when asked for it.
pub type ValidateFuture<'a> =
    Pin<Box<dyn Future<Output = Result<Option<String>, ClusterError>> + Send + 'a>>;

/// Decides whether a submitted topology may be stored.
pub trait Validator: Send + Sync + fmt::Debug {
    /// Validate `yaml`, submitted with the artifact stored at `artifact` (content hash
    /// `hash`, for messages). With `resolve` (the YAML has a `topologySource`), return
    /// the resolved declaration: the YAML of the spouts, bolts, streams and config the
    /// builder made. A refusal is a [`ClusterError::BadRequest`] listing the errors.
    fn validate<'a>(
        &'a self,
        artifact: &'a Path,
        hash: &'a str,
        yaml: &'a str,
        resolve: bool,
    ) -> ValidateFuture<'a>;
}

/// The default validator: runs the artifact ([`validate_with_artifact`]) in a fresh
/// directory under `tmp_root`, killing it after `timeout`.
#[derive(Debug, Clone)]
pub struct ArtifactValidator {
    /// Where the scratch directories go (nimbus's `tmp/`).
    pub tmp_root: PathBuf,
    /// How long `<artifact> validate` may run.
    pub timeout: Duration,
}

impl Validator for ArtifactValidator {
    fn validate<'a>(
        &'a self,
        artifact: &'a Path,
        hash: &'a str,
        yaml: &'a str,
        resolve: bool,
    ) -> ValidateFuture<'a> {
        Box::pin(validate_with_artifact(
            artifact,
            hash,
            yaml,
            &self.tmp_root,
            self.timeout,
            resolve,
        ))
    }
}

/// The refusal of an invalid topology: the errors as printed by `validate`, one per
/// detail line.
pub(crate) fn invalid(text: &str) -> ClusterError {
    ClusterError::BadRequest {
        message: format!("the topology is invalid:\n{text}"),
        details: text.lines().map(str::to_string).collect(),
    }
}

/// Run `artifact validate topology.yaml` on `yaml` in a fresh directory under `tmp_root`,
/// killing it after `timeout`. Ok when it exits 0; otherwise a bad request carrying what
/// it printed on stderr, or saying why it could not run.
///
/// With `resolve` (the YAML has a `topologySource`), the artifact is also asked for the
/// resolved declaration (`--write-resolved`), which is returned: the YAML text of the
/// spouts, bolts, streams and config its builder made.
pub async fn validate_with_artifact(
    artifact: &Path,
    hash: &str,
    yaml: &str,
    tmp_root: &Path,
    timeout: Duration,
    resolve: bool,
) -> Result<Option<String>, ClusterError> {
    let internal = |what: &str, e: std::io::Error| ClusterError::Internal(format!("{what}: {e}"));
    let dir = tempfile::Builder::new()
        .prefix("validate-")
        .tempdir_in(tmp_root)
        .map_err(|e| internal("cannot create a validation directory", e))?;
    tokio::fs::write(dir.path().join(SPEC_FILE), yaml)
        .await
        .map_err(|e| internal("cannot write the topology file", e))?;
    let cannot_run = |why: String| {
        ClusterError::bad_request(format!(
            "artifact {hash} cannot run: {why} (it must be a topology binary built on \
             squall-runtime for this machine)"
        ))
    };
    if let Err(why) = check_header(artifact).await {
        return Err(cannot_run(why));
    }
    let mut attempt = 0;
    let mut child = loop {
        let mut command = Command::new(artifact);
        command.arg("validate").arg(SPEC_FILE);
        if resolve {
            command.arg("--write-resolved").arg(RESOLVED_FILE);
        }
        let spawned = command
            .current_dir(dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            // Its own process group, so whatever it starts is killed with it.
            .process_group(0)
            .kill_on_drop(true)
            .spawn();
        match spawned {
            Ok(child) => break child,
            Err(e) if e.raw_os_error() == Some(ETXTBSY) && attempt < 20 => {
                attempt += 1;
                tokio::time::sleep(Duration::from_millis(25)).await;
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(cannot_run(format!(
                    "the file or its #! interpreter was not found ({e})"
                )));
            }
            Err(e) => return Err(cannot_run(e.to_string())),
        }
    };
    let group = child.id();
    let mut stderr = child.stderr.take();
    // Keep the first MAX_STDERR bytes and drain the rest: a chatty artifact must not
    // block on a full pipe until the timeout.
    let read_stderr = async {
        let mut buf = Vec::new();
        if let Some(err) = stderr.as_mut() {
            let _ = err.take(MAX_STDERR as u64).read_to_end(&mut buf).await;
            let _ = tokio::io::copy(err, &mut tokio::io::sink()).await;
        }
        buf
    };
    // Once it exits, whatever it left running goes too (and releases the pipe).
    let wait = async {
        let status = child.wait().await;
        kill_group(group);
        status
    };
    let run = async { tokio::join!(read_stderr, wait) };
    let (buf, status) = match tokio::time::timeout(timeout, run).await {
        Ok(done) => done,
        Err(_) => {
            kill_group(group);
            return Err(ClusterError::bad_request(format!(
                "artifact {hash} did not finish `validate` within {} s",
                timeout.as_secs_f64()
            )));
        }
    };
    let status = status.map_err(|e| cannot_run(e.to_string()))?;
    let text = String::from_utf8_lossy(&buf).trim().to_string();
    if status.success() {
        if !resolve {
            return Ok(None);
        }
        return read_resolved(&dir.path().join(RESOLVED_FILE), hash)
            .await
            .map(Some);
    }
    match status.code() {
        Some(_) if !text.is_empty() => Err(invalid(&text)),
        Some(code) => Err(cannot_run(format!(
            "`validate` exited with status {code} and printed nothing on stderr"
        ))),
        None => {
            use std::os::unix::process::ExitStatusExt;
            let signal = status.signal().unwrap_or_default();
            Err(cannot_run(format!(
                "`validate` was killed by signal {signal}{}{text}",
                if text.is_empty() { "" } else { ": " }
            )))
        }
    }
}

/// SIGKILL the process group led by `leader` (the validation run and anything it
/// started); a group already gone is fine.
fn kill_group(leader: Option<u32>) {
    if let Some(pid) = leader.and_then(|p| i32::try_from(p).ok()) {
        let _ = nix::sys::signal::killpg(
            nix::unistd::Pid::from_raw(pid),
            nix::sys::signal::Signal::SIGKILL,
        );
    }
}

/// The resolved declaration the artifact wrote; a bad request when it wrote none.
async fn read_resolved(path: &Path, hash: &str) -> Result<String, ClusterError> {
    let missing = |why: String| {
        ClusterError::bad_request(format!(
            "artifact {hash} validated the topologySource topology but did not write its \
             resolved declaration ({why}); build it with a squall-runtime that supports \
             `validate --write-resolved`"
        ))
    };
    let file = tokio::fs::File::open(path)
        .await
        .map_err(|e| missing(e.to_string()))?;
    let mut text = String::new();
    file.take(MAX_RESOLVED + 1)
        .read_to_string(&mut text)
        .await
        .map_err(|e| missing(e.to_string()))?;
    if text.len() as u64 > MAX_RESOLVED {
        return Err(missing(format!("more than {MAX_RESOLVED} bytes")));
    }
    Ok(text)
}

/// Refuse files that are neither ELF binaries nor `#!` scripts before trying to run them
/// (the C library would hand other files to `/bin/sh`).
async fn check_header(artifact: &Path) -> Result<(), String> {
    let mut file = tokio::fs::File::open(artifact)
        .await
        .map_err(|e| e.to_string())?;
    let mut head = [0u8; 4];
    let mut n = 0;
    while n < head.len() {
        match file.read(&mut head[n..]).await {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) => return Err(e.to_string()),
        }
    }
    let head = &head[..n];
    if head.starts_with(b"\x7fELF") || head.starts_with(b"#!") {
        Ok(())
    } else {
        Err("it is not an executable (neither an ELF binary nor a #! script)".to_string())
    }
}

#[cfg(test)]
#[path = "validate/subprocess_tests.rs"]
mod subprocess_tests;
