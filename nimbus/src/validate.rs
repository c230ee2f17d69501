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
pub mod sandbox;

pub use registry::RegistryValidator;
pub use sandbox::{Limits, Sandbox};

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

/// At most this much of the validator's stderr, and as much of its stdout, is kept for
/// the error message.
const MAX_OUTPUT: usize = 64 * 1024;
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
    /// builder made; without, return it only when it carries the checkpoint wiring of
    /// stateful bolts (a `$checkpointspout` nimbus must plan). A refusal is a [`ClusterError::BadRequest`] listing the errors.
    fn validate<'a>(
        &'a self,
        artifact: &'a Path,
        hash: &'a str,
        yaml: &'a str,
        resolve: bool,
    ) -> ValidateFuture<'a>;
}

/// The default validator: runs the artifact ([`validate_with_artifact`]) in a fresh
/// directory under `tmp_root`, confined by `sandbox`, killing it after `timeout`.
#[derive(Debug, Clone)]
pub struct ArtifactValidator {
    /// Where the scratch directories go: outside nimbus's data directory (the system
    /// temporary directory), which the run must not reach.
    pub tmp_root: PathBuf,
    /// How long `<artifact> validate` may run.
    pub timeout: Duration,
    /// How the run is confined (user, rlimits).
    pub sandbox: Sandbox,
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
            &self.sandbox,
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

/// Run `artifact validate topology.yaml` on `yaml` in a fresh directory under `tmp_root`
/// (removed afterwards), confined by `sandbox` (see [`sandbox`]: a copy of the artifact,
/// cleared environment, rlimits, an unprivileged user when nimbus is root), killing it
/// and everything it started after `timeout`. Ok when it exits 0; otherwise a bad request
/// carrying what it printed (stderr, then stdout, each capped), or saying why it could
/// not run.
///
/// The artifact is also asked for the resolved declaration (`--write-resolved`). With
/// `resolve` (the YAML has a `topologySource`) it is returned, and required: the YAML
/// text of the spouts, bolts, streams and config its builder made. Without, it is
/// returned only if it carries the checkpoint wiring of stateful bolts (nimbus must plan
/// the `$checkpointspout` task too).
pub async fn validate_with_artifact(
    artifact: &Path,
    hash: &str,
    yaml: &str,
    tmp_root: &Path,
    timeout: Duration,
    resolve: bool,
    sandbox: &Sandbox,
) -> Result<Option<String>, ClusterError> {
    let internal = |what: &str, e: std::io::Error| ClusterError::Internal(format!("{what}: {e}"));
    let cannot_run = |why: String| {
        ClusterError::bad_request(format!(
            "artifact {hash} cannot run: {why} (it must be a topology binary built on \
             squall-runtime for this machine)"
        ))
    };
    if let Err(why) = check_header(artifact).await {
        return Err(cannot_run(why));
    }
    // Created 0700 by tempfile; the sandbox hands it to the run's user.
    let dir = tempfile::Builder::new()
        .prefix("squall-validate-")
        .tempdir_in(tmp_root)
        .map_err(|e| internal("cannot create a validation directory", e))?;
    tokio::fs::write(dir.path().join(SPEC_FILE), yaml)
        .await
        .map_err(|e| internal("cannot write the topology file", e))?;
    let program = {
        let (sandbox, dir, artifact) = (
            sandbox.clone(),
            dir.path().to_path_buf(),
            artifact.to_path_buf(),
        );
        tokio::task::spawn_blocking(move || sandbox.prepare_dir(&dir, &artifact))
            .await
            .map_err(|e| {
                ClusterError::Internal(format!("preparing the validation directory: {e}"))
            })?
            .map_err(|e| internal("cannot prepare the validation directory", e))?
    };
    let mut attempt = 0;
    let child = loop {
        let mut command = Command::new(&program);
        command.arg("validate").arg(SPEC_FILE);
        // Always asked for: the checkpoint wiring of stateful bolts changes the
        // declaration of a topology without `topologySource` too.
        command.arg("--write-resolved").arg(RESOLVED_FILE);
        sandbox.confine(&mut command, dir.path());
        command
            .current_dir(dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            // Its own process group, so whatever it starts is killed with it.
            .process_group(0)
            .kill_on_drop(true);
        match sandbox::Run::start(|| command.spawn(), tokio::process::Child::id) {
            Ok(started) => break started,
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
    let (leader, mut child) = child;
    let group = child.id();
    let (stdout, stderr) = (child.stdout.take(), child.stderr.take());
    // Once it exits, whatever it left running goes too (and releases the pipes).
    let wait = async {
        let status = child.wait().await;
        kill_group(group);
        status
    };
    let run = async { tokio::join!(read_capped(stderr), read_capped(stdout), wait) };
    let outcome = tokio::time::timeout(timeout, run).await;
    if outcome.is_err() {
        kill_group(group);
    }
    // Its group is dead: what left the group goes too (reaped before the leader is
    // forgotten, so that a concurrent reaping never takes the leader's zombie).
    let reaper = sandbox.clone();
    let _ = tokio::task::spawn_blocking(move || reaper.reap_escapees()).await;
    drop(leader);
    let (err, out, status) = match outcome {
        Ok(done) => done,
        Err(_) => {
            return Err(ClusterError::bad_request(format!(
                "artifact {hash} did not finish `validate` within {} s (it runs with {})",
                timeout.as_secs_f64(),
                sandbox.limits.describe()
            )));
        }
    };
    let status = status.map_err(|e| cannot_run(e.to_string()))?;
    let text = printed(&err, &out);
    if status.success() {
        let resolved = read_resolved(&dir.path().join(RESOLVED_FILE), hash).await;
        if resolve {
            return resolved.map(Some);
        }
        // Without a topologySource, the resolved declaration matters only when the
        // checkpoint wiring was added (stateful bolts).
        return Ok(resolved.ok().filter(|text| {
            squall_runtime::topology::yaml::parse_str(text, None)
                .is_ok_and(|p| squall_runtime::state::checkpoint::wiring::is_wired(&p.def))
        }));
    }
    match status.code() {
        Some(_) if !text.is_empty() => Err(invalid(&text)),
        Some(code) => Err(cannot_run(format!(
            "`validate` exited with status {code} and printed nothing"
        ))),
        None => {
            use std::os::unix::process::ExitStatusExt;
            let signal = status.signal().unwrap_or_default();
            let name = nix::sys::signal::Signal::try_from(signal)
                .map(|s| format!(" ({})", s.as_str()))
                .unwrap_or_default();
            Err(cannot_run(format!(
                "`validate` was killed by signal {signal}{name}, within the validation \
                 limits of {}{}{text}",
                sandbox.limits.describe(),
                if text.is_empty() { "" } else { ": " }
            )))
        }
    }
}

/// The first [`MAX_OUTPUT`] bytes of a pipe, the rest drained: a chatty artifact must not
/// block on a full pipe until the timeout.
async fn read_capped<R: tokio::io::AsyncRead + Unpin>(pipe: Option<R>) -> Vec<u8> {
    let mut buf = Vec::new();
    if let Some(mut pipe) = pipe {
        let _ = (&mut pipe)
            .take(MAX_OUTPUT as u64)
            .read_to_end(&mut buf)
            .await;
        let _ = tokio::io::copy(&mut pipe, &mut tokio::io::sink()).await;
    }
    buf
}

/// What a run printed, for the submitter: stderr (the errors), then stdout if any.
fn printed(err: &[u8], out: &[u8]) -> String {
    let err = String::from_utf8_lossy(err);
    let out = String::from_utf8_lossy(out);
    match (err.trim(), out.trim()) {
        (e, "") => e.to_string(),
        ("", o) => o.to_string(),
        (e, o) => format!("{e}\n{o}"),
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
    // The run owns its directory: it may have left a symlink (to nimbus's database) or a
    // FIFO there; only a regular file is read, and no link is followed.
    use nix::fcntl::OFlag;
    let file = tokio::fs::OpenOptions::new()
        .read(true)
        .custom_flags((OFlag::O_NOFOLLOW | OFlag::O_NONBLOCK).bits())
        .open(path)
        .await
        .map_err(|e| missing(e.to_string()))?;
    let meta = file.metadata().await.map_err(|e| missing(e.to_string()))?;
    if !meta.is_file() {
        return Err(missing("it is not a regular file".to_string()));
    }
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

#[cfg(test)]
#[path = "validate/sandbox_tests.rs"]
mod sandbox_tests;
