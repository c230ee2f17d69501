//! The CLI's client side of nimbus's HTTP/JSON API: `submit`, `kill`, `activate`,
//! `deactivate`, `rebalance`, `list`, `status`, `watch`.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use std::time::Duration;

use serde_json::{Value as Json, json};
use sha2::{Digest, Sha256};
use thiserror::Error;

/// A client command failed.
#[derive(Debug, Error)]
pub enum ClientError {
    /// Nimbus could not be reached.
    #[error("cannot reach nimbus at {url}: {source}")]
    Unreachable {
        /// The URL.
        url: String,
        /// Why.
        source: reqwest::Error,
    },
    /// Nimbus refused the request.
    #[error("nimbus refused {what}: {message}")]
    Refused {
        /// The request.
        what: String,
        /// Nimbus's message.
        message: String,
    },
    /// A local file could not be read.
    #[error("{path}: {source}")]
    File {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// Anything else.
    #[error("{0}")]
    Other(String),
}

/// A nimbus client.
#[derive(Debug, Clone)]
pub struct Nimbus {
    base: String,
    http: reqwest::Client,
}

impl Nimbus {
    /// A client for nimbus at `url` (e.g. `http://127.0.0.1:6627`).
    pub fn new(url: &str) -> Result<Nimbus, ClientError> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .build()
            .map_err(|e| ClientError::Other(format!("http client: {e}")))?;
        Ok(Nimbus {
            base: url.trim_end_matches('/').to_string(),
            http,
        })
    }

    async fn answer(&self, what: &str, resp: reqwest::Response) -> Result<Json, ClientError> {
        let status = resp.status();
        let body = resp.text().await.unwrap_or_default();
        if !status.is_success() {
            let message = serde_json::from_str::<Json>(&body)
                .ok()
                .and_then(|j| j.get("error").and_then(|e| e.as_str()).map(str::to_string))
                .unwrap_or_else(|| format!("{status}: {body}"));
            return Err(ClientError::Refused {
                what: what.to_string(),
                message,
            });
        }
        Ok(serde_json::from_str(&body).unwrap_or(Json::Null))
    }

    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Json>,
    ) -> Result<Json, ClientError> {
        let url = format!("{}{path}", self.base);
        let mut req = self.http.request(method.clone(), &url);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req
            .send()
            .await
            .map_err(|source| ClientError::Unreachable {
                url: self.base.clone(),
                source,
            })?;
        self.answer(&format!("{method} {path}"), resp).await
    }

    /// Upload an artifact (skipped when nimbus has it); returns its SHA-256.
    pub async fn upload(&self, artifact: &Path) -> Result<String, ClientError> {
        let bytes = std::fs::read(artifact).map_err(|source| ClientError::File {
            path: artifact.display().to_string(),
            source,
        })?;
        self.upload_bytes(bytes).await
    }

    /// Upload bytes to nimbus's content-addressed store (skipped when nimbus has them);
    /// returns their SHA-256.
    pub async fn upload_bytes(&self, bytes: Vec<u8>) -> Result<String, ClientError> {
        let hash = hex::encode(Sha256::digest(&bytes));
        let url = format!("{}/api/v1/artifacts/{hash}", self.base);
        let unreachable = |source| ClientError::Unreachable {
            url: self.base.clone(),
            source,
        };
        let head = self.http.head(&url).send().await.map_err(unreachable)?;
        if head.status().is_success() {
            return Ok(hash);
        }
        let resp = self
            .http
            .put(&url)
            .body(bytes)
            .send()
            .await
            .map_err(unreachable)?;
        self.answer("artifact upload", resp).await?;
        Ok(hash)
    }

    /// Submit a topology file with an artifact; returns nimbus's answer.
    pub async fn submit(
        &self,
        file: &Path,
        artifact: &Path,
        name: Option<&str>,
    ) -> Result<Json, ClientError> {
        let yaml = std::fs::read_to_string(file).map_err(|source| ClientError::File {
            path: file.display().to_string(),
            source,
        })?;
        self.submit_yaml(&yaml, artifact, name, None).await
    }

    /// Submit a topology given as YAML text with an artifact and, optionally, a
    /// resources directory (packed with [`crate::cluster::resources::pack`] and uploaded next to
    /// the artifact; the workers get it unpacked as their `topology.resources.dir`).
    pub async fn submit_yaml(
        &self,
        yaml: &str,
        artifact: &Path,
        name: Option<&str>,
        resources: Option<&Path>,
    ) -> Result<Json, ClientError> {
        let resources = match resources {
            Some(dir) => {
                let archive = crate::cluster::resources::pack(
                    dir,
                    crate::cluster::resources::MAX_RESOURCES_BYTES,
                )
                .map_err(|e| ClientError::Other(e.to_string()))?;
                Some(self.upload_bytes(archive).await?)
            }
            None => None,
        };
        let hash = self.upload(artifact).await?;
        let mut body = json!({"name": name, "yaml": yaml, "artifact": hash});
        if let Some(r) = resources {
            body["resources"] = json!(r);
        }
        self.call(reqwest::Method::POST, "/api/v1/topologies", Some(body))
            .await
    }

    /// `POST /api/v1/topologies/{name}/{action}`.
    pub async fn action(&self, name: &str, action: &str, body: Json) -> Result<Json, ClientError> {
        self.call(
            reqwest::Method::POST,
            &format!("/api/v1/topologies/{name}/{action}"),
            Some(body),
        )
        .await
    }

    /// The topology list.
    pub async fn list(&self) -> Result<Json, ClientError> {
        self.call(reqwest::Method::GET, "/api/v1/topologies", None)
            .await
    }

    /// A topology's status in the CLI's shape: `{name, status, workers: [...],
    /// components: {id: counters}}` plus nimbus's other fields.
    pub async fn status(&self, name: &str) -> Result<Json, ClientError> {
        let mut info = self
            .call(
                reqwest::Method::GET,
                &format!("/api/v1/topologies/{name}"),
                None,
            )
            .await?;
        // `components` in the CLI's shape: nimbus's per-component counters summed over
        // workers; nimbus's task and executor counts are merged into each entry.
        let mut components = info
            .get("component_stats")
            .cloned()
            .unwrap_or_else(|| json!({}));
        if let (Some(stats), Some(plan)) = (
            components.as_object_mut(),
            info.get("components").and_then(|c| c.as_object()),
        ) {
            for (id, p) in plan {
                let entry = stats.entry(id.clone()).or_insert_with(|| json!({}));
                if let (Some(e), Some(p)) = (entry.as_object_mut(), p.as_object()) {
                    for (k, v) in p {
                        e.entry(k.clone()).or_insert_with(|| v.clone());
                    }
                }
            }
        }
        if let Some(obj) = info.as_object_mut() {
            obj.insert("components".into(), components);
        }
        Ok(info)
    }
}

fn block_on<T>(f: impl std::future::Future<Output = T>) -> Result<T, ClientError> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| ClientError::Other(format!("async runtime: {e}")))?;
    Ok(rt.block_on(f))
}

/// What a client command does.
#[derive(Debug, Clone)]
pub enum ClientCommand {
    /// Upload and submit.
    Submit {
        /// Topology file.
        file: std::path::PathBuf,
        /// Artifact (default: this binary).
        artifact: Option<std::path::PathBuf>,
        /// Name override.
        name: Option<String>,
        /// The YAML to send (default: the file's text), e.g. substituted and merged.
        yaml: Option<String>,
        /// A resources directory to ship with the artifact.
        resources: Option<std::path::PathBuf>,
    },
    /// Kill with a wait.
    Kill {
        /// Topology.
        name: String,
        /// Seconds to wait deactivated.
        wait: Option<u64>,
    },
    /// Activate.
    Activate(String),
    /// Deactivate.
    Deactivate(String),
    /// Rebalance.
    Rebalance {
        /// Topology.
        name: String,
        /// New worker count.
        workers: Option<u32>,
        /// component=n pairs.
        executors: Vec<(String, u32)>,
    },
    /// List topologies.
    List {
        /// JSON output.
        json: bool,
    },
    /// Show one topology.
    Status {
        /// Topology.
        name: String,
        /// JSON output.
        json: bool,
    },
    /// Live view.
    Watch(String),
}

/// Run a client command against nimbus at `url`; returns the exit code.
pub fn run(url: &str, cmd: ClientCommand) -> i32 {
    match block_on(run_async(url, cmd)).and_then(|r| r) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("error: {e}");
            1
        }
    }
}

async fn run_async(url: &str, cmd: ClientCommand) -> Result<(), ClientError> {
    let n = Nimbus::new(url)?;
    match cmd {
        ClientCommand::Submit {
            file,
            artifact,
            name,
            yaml,
            resources,
        } => {
            let artifact = match artifact {
                Some(a) => a,
                None => std::env::current_exe()
                    .map_err(|e| ClientError::Other(format!("cannot find this binary: {e}")))?,
            };
            let yaml = match yaml {
                Some(y) => y,
                None => std::fs::read_to_string(&file).map_err(|source| ClientError::File {
                    path: file.display().to_string(),
                    source,
                })?,
            };
            let answer = n
                .submit_yaml(&yaml, &artifact, name.as_deref(), resources.as_deref())
                .await?;
            let id = answer.get("id").and_then(|v| v.as_str()).unwrap_or("?");
            println!("submitted topology {id}");
        }
        ClientCommand::Kill { name, wait } => {
            n.action(&name, "kill", json!({"wait_secs": wait})).await?;
            println!("killed topology {name}");
        }
        ClientCommand::Activate(name) => {
            n.action(&name, "activate", json!({})).await?;
            println!("activated topology {name}");
        }
        ClientCommand::Deactivate(name) => {
            n.action(&name, "deactivate", json!({})).await?;
            println!("deactivated topology {name}");
        }
        ClientCommand::Rebalance {
            name,
            workers,
            executors,
        } => {
            let parallelism: BTreeMap<String, u32> = executors.into_iter().collect();
            n.action(
                &name,
                "rebalance",
                json!({"workers": workers, "parallelism": parallelism}),
            )
            .await?;
            println!("rebalanced topology {name}");
        }
        ClientCommand::List { json } => {
            let list = n.list().await?;
            if json {
                println!("{list}");
            } else {
                print_list(&list);
            }
        }
        ClientCommand::Status { name, json } => {
            let s = n.status(&name).await?;
            if json {
                println!("{s}");
            } else {
                print!("{}", render_status(&s));
            }
        }
        ClientCommand::Watch(name) => loop {
            let screen = match n.status(&name).await {
                Ok(s) => render_status(&s),
                Err(e) => format!("{e}\n"),
            };
            let mut out = std::io::stdout();
            let _ = write!(out, "\x1b[2J\x1b[H{screen}");
            let _ = out.flush();
            tokio::time::sleep(Duration::from_secs(1)).await;
        },
    }
    Ok(())
}

fn s<'a>(v: &'a Json, k: &str) -> &'a str {
    v.get(k).and_then(|x| x.as_str()).unwrap_or("")
}

fn u(v: &Json, k: &str) -> u64 {
    v.get(k).and_then(|x| x.as_u64()).unwrap_or(0)
}

fn print_list(list: &Json) {
    println!(
        "{:<24} {:<12} {:>8} {:>9} {:>10}",
        "name", "status", "workers", "assigned", "uptime s"
    );
    for t in list
        .get("topologies")
        .and_then(|t| t.as_array())
        .into_iter()
        .flatten()
    {
        println!(
            "{:<24} {:<12} {:>8} {:>9} {:>10}",
            s(t, "name"),
            s(t, "status"),
            u(t, "num_workers"),
            u(t, "assigned_workers"),
            u(t, "uptime_secs")
        );
    }
}

/// The `status` / `watch` screen.
pub fn render_status(st: &Json) -> String {
    let mut out = format!(
        "topology {} ({})  status {}  uptime {}s\n\nworkers:\n",
        s(st, "name"),
        s(st, "id"),
        s(st, "status"),
        u(st, "uptime_secs")
    );
    out.push_str(&format!(
        "  {:<28} {:>6} {:>8} {:<11} {:>8} {:>8}  {}\n",
        "supervisor", "port", "pid", "state", "uptime", "restarts", "last exit"
    ));
    for w in st
        .get("workers")
        .and_then(|w| w.as_array())
        .into_iter()
        .flatten()
    {
        out.push_str(&format!(
            "  {:<28} {:>6} {:>8} {:<11} {:>7}s {:>8}  {}\n",
            s(w, "supervisor"),
            u(w, "port"),
            w.get("pid")
                .and_then(|p| p.as_u64())
                .map(|p| p.to_string())
                .unwrap_or_else(|| "-".into()),
            s(w, "state"),
            u(w, "uptime_secs"),
            u(w, "restarts"),
            s(w, "last_exit")
        ));
    }
    out.push_str(&format!(
        "\ncomponents:\n  {:<20} {:>12} {:>12} {:>12} {:>10}\n",
        "component", "emitted", "executed", "acked", "failed"
    ));
    if let Some(cs) = st.get("components").and_then(|c| c.as_object()) {
        for (id, c) in cs {
            let f = |k: &str| c.get(k).and_then(|x| x.as_f64()).unwrap_or(0.0) as u64;
            out.push_str(&format!(
                "  {:<20} {:>12} {:>12} {:>12} {:>10}\n",
                id,
                f("emitted"),
                f("executed"),
                f("acked"),
                f("failed")
            ));
        }
    }
    out
}
