//! Finding a Chromium, starting it headless with a throw-away profile, and killing it
//! (with every process it started) when dropped.

use std::ffi::OsString;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill, killpg};
use nix::unistd::Pid;

use super::BrowserError;

/// The environment variable naming the browser binary to use.
pub const OVERRIDE_VAR: &str = "SQUALL_CHROMIUM";
/// The names looked for on `PATH`, in order.
pub const CANDIDATES: [&str; 4] = [
    "chromium",
    "chromium-browser",
    "google-chrome",
    "google-chrome-stable",
];
/// How long Chromium gets to write `DevToolsActivePort` (a cold start on a busy 2-core
/// machine takes seconds).
const START_WAIT: Duration = Duration::from_secs(30);

/// The browser binary: `override_path` (the value of `SQUALL_CHROMIUM`) if given, else
/// the first of [`CANDIDATES`] found on `path` (the value of `PATH`).
pub fn find_chromium(
    override_path: Option<OsString>,
    path: Option<OsString>,
) -> Result<PathBuf, BrowserError> {
    if let Some(p) = override_path.filter(|p| !p.is_empty()) {
        let p = PathBuf::from(p);
        return if p.is_file() {
            Ok(p)
        } else {
            Err(BrowserError::BadOverride(p))
        };
    }
    let dirs: Vec<PathBuf> = path
        .map(|p| std::env::split_paths(&p).collect())
        .unwrap_or_default();
    CANDIDATES
        .iter()
        .flat_map(|name| dirs.iter().map(move |d| d.join(name)))
        .find(|p| p.is_file())
        .ok_or(BrowserError::NotFound)
}

/// A running headless Chromium: its process (group), its profile and log directory.
pub struct Chromium {
    child: Child,
    /// `profile/` (the user data dir) and `chromium.log`.
    dir: tempfile::TempDir,
    /// The browser-level DevTools websocket URL.
    pub ws_url: String,
}

impl Chromium {
    /// Start `binary` headless with a fresh profile and wait (bounded) for its DevTools
    /// endpoint.
    pub fn start(binary: &Path) -> Result<Chromium, BrowserError> {
        let launch = |detail: String| BrowserError::Launch {
            binary: binary.to_path_buf(),
            detail,
        };
        let dir = tempfile::Builder::new()
            .prefix("squall-chromium-")
            .tempdir()
            .map_err(|e| launch(format!("making its profile directory: {e}")))?;
        let profile = dir.path().join("profile");
        let log = std::fs::File::create(dir.path().join("chromium.log"))
            .map_err(|e| launch(format!("making its log file: {e}")))?;
        let child = Command::new(binary)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
                "--no-default-browser-check",
                "--disable-dev-shm-usage",
                "--hide-scrollbars",
                "--mute-audio",
                "--remote-debugging-port=0",
                "--ignore-certificate-errors",
                "--window-size=1366,768",
            ])
            .arg(format!("--user-data-dir={}", profile.display()))
            .arg("about:blank")
            // Its singleton socket's directory goes in the profile's temporary
            // directory too, removed with it (a killed Chromium cannot remove it).
            .env("TMPDIR", dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::from(log))
            // Its own process group: dropping it kills the renderers and helpers too.
            .process_group(0)
            .spawn()
            .map_err(|e| launch(format!("starting it: {e}")))?;
        let mut chromium = Chromium {
            child,
            dir,
            ws_url: String::new(),
        };
        chromium.ws_url = chromium.wait_for_endpoint(&profile).map_err(launch)?;
        Ok(chromium)
    }

    /// The browser's pid.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The last lines Chromium wrote to its stderr.
    pub fn log_tail(&self) -> String {
        let text =
            std::fs::read_to_string(self.dir.path().join("chromium.log")).unwrap_or_default();
        let start = text.len().saturating_sub(2000);
        let start = (start..text.len())
            .find(|i| text.is_char_boundary(*i))
            .unwrap_or(text.len());
        text[start..].to_string()
    }

    /// Poll `<profile>/DevToolsActivePort` (port, then the browser target's path) until
    /// Chromium wrote it, or fail if Chromium exits or [`START_WAIT`] passes.
    fn wait_for_endpoint(&mut self, profile: &Path) -> Result<String, String> {
        let file = profile.join("DevToolsActivePort");
        let deadline = Instant::now() + START_WAIT;
        loop {
            if let Ok(text) = std::fs::read_to_string(&file) {
                let mut lines = text.lines();
                if let (Some(port), Some(path)) = (lines.next(), lines.next())
                    && let Ok(port) = port.trim().parse::<u16>()
                    && path.starts_with('/')
                {
                    return Ok(format!("ws://127.0.0.1:{port}{}", path.trim()));
                }
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(format!(
                    "it exited ({status}) before it listened; its stderr ends:\n{}",
                    self.log_tail()
                ));
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "no {} within {START_WAIT:?}; its stderr ends:\n{}",
                    file.display(),
                    self.log_tail()
                ));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Chromium {
    fn drop(&mut self) {
        kill_family(&mut self.child);
    }
}

/// Kill `child`, its process group and every descendant (found before the parent dies:
/// they would be re-parented; helpers that left the group are still found), then wait,
/// bounded, until they are gone, so a test that checks right after sees none running.
pub fn kill_family(child: &mut std::process::Child) {
    let pid = child.id() as i32;
    let family = descendants(pid);
    let _ = killpg(Pid::from_raw(pid), Signal::SIGKILL);
    for p in &family {
        let _ = kill(Pid::from_raw(*p), Signal::SIGKILL);
    }
    let _ = child.wait();
    let deadline = Instant::now() + Duration::from_secs(5);
    while family.iter().any(|p| running(*p)) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Whether process `pid` exists and is not a zombie.
pub fn running(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| {
        s.rfind(')')
            .and_then(|i| s[i + 1..].split_whitespace().next())
            .is_some_and(|state| state != "Z")
    })
}

/// The pids of every live descendant of `root` (from `/proc/*/stat`).
pub fn descendants(root: i32) -> Vec<i32> {
    let parents: Vec<(i32, i32)> = std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let pid = e.file_name().to_str()?.parse::<i32>().ok()?;
            let stat = std::fs::read_to_string(e.path().join("stat")).ok()?;
            // `pid (comm) state ppid ...`: comm may hold spaces and parentheses.
            let rest = &stat[stat.rfind(')')? + 1..];
            let ppid = rest.split_whitespace().nth(1)?.parse::<i32>().ok()?;
            Some((pid, ppid))
        })
        .collect();
    let mut found = vec![root];
    let mut i = 0;
    while i < found.len() {
        let parent = found[i];
        found.extend(
            parents
                .iter()
                .filter(|(_, pp)| *pp == parent)
                .map(|(p, _)| *p),
        );
        i += 1;
    }
    found.remove(0);
    found
}
