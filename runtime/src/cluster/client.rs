//! The CLI's client side of nimbus's HTTP/JSON API: `submit`, `kill`, `activate`,
//! `deactivate`, `rebalance`, `list`, `status`, `watch`.

use std::path::Path;
use std::time::Duration;

use serde::de::DeserializeOwned;
use thiserror::Error;

use crate::cluster::auth::credentials::{self, CredentialsError};
use crate::cluster::auth::pin::CaPin;
use crate::cluster::auth::tls::{ClientTrust, check_cleartext, describe};
use crate::cluster::auth::token::{Role, Token};
use crate::cluster::protocol::tokens::{
    TOKENS_PATH, TokenCreateRequest, TokenCreated, TokenList, TokenView,
};
use crate::cluster::protocol::{
    ActionResponse, ArtifactHash, ErrorBody, KillRequest, RebalanceRequest, SubmitRequest,
    SupervisorList, TopologyInfo, TopologyList,
};

/// A client command failed.
#[derive(Debug, Error)]
pub enum ClientError {
    /// Nimbus could not be reached.
    #[error("cannot reach nimbus at {url}: {}", describe(source))]
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
    /// Nimbus wants a token and none was given.
    #[error("nimbus refused {what}: {missing}")]
    NoToken {
        /// The request.
        what: String,
        /// Which token is missing and how to give one.
        missing: CredentialsError,
    },
    /// A token was given but could not be loaded.
    #[error("{0}")]
    Credentials(#[from] CredentialsError),
    /// Anything else.
    #[error("{0}")]
    Other(String),
}

/// A nimbus client: every call sends and checks the cluster protocol version and reads
/// the typed answer of [`crate::cluster::protocol`].
#[derive(Debug, Clone)]
pub struct Nimbus {
    base: String,
    http: reqwest::Client,
    /// Whether requests carry a token (a 401 without one says how to give one).
    has_token: bool,
}

impl Nimbus {
    /// A client for nimbus at `url` (e.g. `http://127.0.0.1:6627`), sending `token` with
    /// every request (none: nimbus must run with `nimbus.authentication: none`); an
    /// `https://` nimbus must have a certificate the system's roots trust.
    pub fn new(url: &str, token: Option<&Token>) -> Result<Nimbus, ClientError> {
        Nimbus::with_trust(url, token, &ClientTrust::System)
    }

    /// A client for nimbus at `url` sending `token`, trusting `trust` when it is
    /// `https://`. A token is never sent in clear off loopback: a plain `http://` URL to
    /// another host is refused before any connection.
    pub fn with_trust(
        url: &str,
        token: Option<&Token>,
        trust: &ClientTrust,
    ) -> Result<Nimbus, ClientError> {
        check_cleartext(url, token.is_some()).map_err(|e| ClientError::Other(e.to_string()))?;
        let http = crate::cluster::http::client(Duration::from_secs(60), token, trust)
            .map_err(|e| ClientError::Other(format!("http client: {e}")))?;
        Ok(Nimbus {
            base: url.trim_end_matches('/').to_string(),
            http,
            has_token: token.is_some(),
        })
    }

    fn unreachable(&self, source: reqwest::Error) -> ClientError {
        ClientError::Unreachable {
            url: self.base.clone(),
            source,
        }
    }

    /// Check an answer's version and status; the body of a success.
    async fn answer_text(
        &self,
        what: &str,
        resp: reqwest::Response,
    ) -> Result<String, ClientError> {
        crate::cluster::http::check_answer(&resp).map_err(|e| ClientError::Refused {
            what: what.to_string(),
            message: e.to_string(),
        })?;
        let status = resp.status();
        let body = resp.text().await.unwrap_or_default();
        if status == reqwest::StatusCode::UNAUTHORIZED && !self.has_token {
            return Err(ClientError::NoToken {
                what: what.to_string(),
                missing: CredentialsError::Missing { what: "client" },
            });
        }
        if !status.is_success() {
            let message = serde_json::from_str::<ErrorBody>(&body)
                .map(|e| e.error)
                .unwrap_or_else(|_| format!("{status}: {body}"));
            return Err(ClientError::Refused {
                what: what.to_string(),
                message,
            });
        }
        Ok(body)
    }

    pub(crate) async fn call<R: DeserializeOwned>(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&(dyn ErasedBody + Sync)>,
    ) -> Result<R, ClientError> {
        let url = format!("{}{path}", self.base);
        let mut req = self.http.request(method.clone(), &url);
        if let Some(b) = body {
            req = req
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(b.to_json()?);
        }
        let resp = req.send().await.map_err(|e| self.unreachable(e))?;
        let what = format!("{method} {path}");
        let text = self.answer_text(&what, resp).await?;
        serde_json::from_str(&text).map_err(|e| {
            ClientError::Other(format!(
                "nimbus's answer to {what} is not what this client expects: {e}"
            ))
        })
    }

    /// Upload an artifact (skipped when nimbus has it); returns its hash.
    pub async fn upload(&self, artifact: &Path) -> Result<ArtifactHash, ClientError> {
        let bytes = std::fs::read(artifact).map_err(|source| ClientError::File {
            path: artifact.display().to_string(),
            source,
        })?;
        self.upload_bytes(bytes).await
    }

    /// Upload bytes to nimbus's content-addressed store (skipped when nimbus has them);
    /// returns their hash.
    pub async fn upload_bytes(&self, bytes: Vec<u8>) -> Result<ArtifactHash, ClientError> {
        let hash = ArtifactHash::of_bytes(&bytes);
        let url = format!("{}/api/v1/artifacts/{hash}", self.base);
        let head = self
            .http
            .head(&url)
            .send()
            .await
            .map_err(|e| self.unreachable(e))?;
        if head.status().is_success() {
            return Ok(hash);
        }
        if head.status() == reqwest::StatusCode::UNAUTHORIZED
            || head.status() == reqwest::StatusCode::FORBIDDEN
        {
            // The upload's answer says why (and how to authenticate).
            self.answer_text("artifact upload", head).await?;
        }
        let resp = self
            .http
            .put(&url)
            .body(bytes)
            .send()
            .await
            .map_err(|e| self.unreachable(e))?;
        self.answer_text("artifact upload", resp).await?;
        Ok(hash)
    }

    /// Submit a topology file with an artifact; returns nimbus's answer.
    pub async fn submit(
        &self,
        file: &Path,
        artifact: &Path,
        name: Option<&str>,
    ) -> Result<ActionResponse, ClientError> {
        let yaml = std::fs::read_to_string(file).map_err(|source| ClientError::File {
            path: file.display().to_string(),
            source,
        })?;
        self.submit_yaml(&yaml, artifact, name, None).await
    }

    /// Submit a topology given as YAML text with an artifact and, optionally, a
    /// resources directory (packed with [`crate::cluster::resources::pack`] and uploaded
    /// next to the artifact; the workers get it unpacked as their
    /// `topology.resources.dir`).
    pub async fn submit_yaml(
        &self,
        yaml: &str,
        artifact: &Path,
        name: Option<&str>,
        resources: Option<&Path>,
    ) -> Result<ActionResponse, ClientError> {
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
        let artifact = self.upload(artifact).await?;
        let body = SubmitRequest {
            name: name.map(str::to_string),
            yaml: yaml.to_string(),
            artifact,
            resources,
        };
        self.call(reqwest::Method::POST, "/api/v1/topologies", Some(&body))
            .await
    }

    async fn action(
        &self,
        name: &str,
        action: &str,
        body: Option<&(dyn ErasedBody + Sync)>,
    ) -> Result<ActionResponse, ClientError> {
        self.call(
            reqwest::Method::POST,
            &format!("/api/v1/topologies/{name}/{action}"),
            body,
        )
        .await
    }

    /// Kill a topology: deactivated for `wait_secs` (default: its message timeout),
    /// then removed.
    pub async fn kill(
        &self,
        name: &str,
        wait_secs: Option<u64>,
    ) -> Result<ActionResponse, ClientError> {
        self.action(name, "kill", Some(&KillRequest { wait_secs }))
            .await
    }

    /// Let a topology's spouts emit.
    pub async fn activate(&self, name: &str) -> Result<ActionResponse, ClientError> {
        self.action(name, "activate", None).await
    }

    /// Pause a topology's spouts.
    pub async fn deactivate(&self, name: &str) -> Result<ActionResponse, ClientError> {
        self.action(name, "deactivate", None).await
    }

    /// Give a topology a new secret (its workers restart with it).
    pub async fn rotate_secret(&self, name: &str) -> Result<ActionResponse, ClientError> {
        self.action(name, "rotate-secret", None).await
    }

    /// Reschedule a topology with new worker and executor counts.
    pub async fn rebalance(
        &self,
        name: &str,
        request: &RebalanceRequest,
    ) -> Result<ActionResponse, ClientError> {
        self.action(name, "rebalance", Some(request)).await
    }

    /// The topology list.
    pub async fn list(&self) -> Result<TopologyList, ClientError> {
        self.call(reqwest::Method::GET, "/api/v1/topologies", None)
            .await
    }

    /// A topology's status: summary, components with their counters, workers, tasks.
    pub async fn status(&self, name: &str) -> Result<TopologyInfo, ClientError> {
        self.call(
            reqwest::Method::GET,
            &format!("/api/v1/topologies/{name}"),
            None,
        )
        .await
    }

    /// Every supervisor nimbus knows.
    pub async fn supervisors(&self) -> Result<SupervisorList, ClientError> {
        self.call(reqwest::Method::GET, "/api/v1/supervisors", None)
            .await
    }

    /// Make a token (admin only); the answer holds its text, shown this once.
    pub async fn create_token(&self, name: &str, role: Role) -> Result<TokenCreated, ClientError> {
        let body = TokenCreateRequest {
            name: name.to_string(),
            role,
        };
        self.call(reqwest::Method::POST, TOKENS_PATH, Some(&body))
            .await
    }

    /// Every live token (admin only; never their secrets).
    pub async fn tokens(&self) -> Result<TokenList, ClientError> {
        self.call(reqwest::Method::GET, TOKENS_PATH, None).await
    }

    /// Revoke a token by name (admin only). Revoking a supervisor's token evicts it.
    pub async fn revoke_token(&self, name: &str) -> Result<TokenView, ClientError> {
        self.call(
            reqwest::Method::DELETE,
            &format!("{TOKENS_PATH}/{name}"),
            None,
        )
        .await
    }
}

/// A request body, serialised to JSON when sent.
pub(crate) trait ErasedBody {
    fn to_json(&self) -> Result<Vec<u8>, ClientError>;
}

impl<T: serde::Serialize> ErasedBody for T {
    fn to_json(&self) -> Result<Vec<u8>, ClientError> {
        serde_json::to_vec(self).map_err(|e| ClientError::Other(format!("encoding a request: {e}")))
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
    /// Rotate the topology's secret.
    RotateSecret(String),
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
    /// Make a token; print its text, and only it, on stdout.
    TokenCreate {
        /// Its name.
        name: String,
        /// Its role.
        role: Role,
    },
    /// List the tokens.
    TokenList {
        /// JSON output.
        json: bool,
    },
    /// Revoke a token.
    TokenRevoke(String),
    /// Change a topology's log configuration (`squall set-log-level`).
    SetLogLevel {
        /// Topology name or id.
        name: String,
        /// Storm's body.
        body: crate::cluster::protocol::logconfig::LogConfigBody,
    },
}

/// Run a client command against nimbus at `url` with the token of `token_file` (a
/// `--token-file` flag), `SQUALL_TOKEN_FILE` or `SQUALL_TOKEN` (see
/// [`credentials::load`]), trusting `ca_file` (`--ca-file`), else the join token's CA
/// pin, else the system's roots; returns the exit code.
pub fn run(
    url: &str,
    token_file: Option<&Path>,
    ca_file: Option<&Path>,
    cmd: ClientCommand,
) -> i32 {
    let token = match credentials::load(token_file, "client") {
        Ok(t) => Some(t),
        // Sent without one: a nimbus with `nimbus.authentication: none` needs none, and
        // any other answers 401, which says which token is missing.
        Err(CredentialsError::Missing { .. }) => None,
        Err(e) => {
            eprintln!("error: {e}");
            return 1;
        }
    };
    let trust = match ClientTrust::resolve(ca_file, token.as_ref().and_then(|t| t.pin).map(CaPin)) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("error: {e}");
            return 1;
        }
    };
    match block_on(run_async(url, token.as_ref(), &trust, cmd)).and_then(|r| r) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("error: {e}");
            1
        }
    }
}

async fn run_async(
    url: &str,
    token: Option<&Token>,
    trust: &ClientTrust,
    cmd: ClientCommand,
) -> Result<(), ClientError> {
    let n = Nimbus::with_trust(url, token, trust)?;
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
            println!("submitted topology {}", answer.id);
        }
        ClientCommand::Kill { name, wait } => {
            n.kill(&name, wait).await?;
            println!("killed topology {name}");
        }
        ClientCommand::Activate(name) => {
            n.activate(&name).await?;
            println!("activated topology {name}");
        }
        ClientCommand::Deactivate(name) => {
            n.deactivate(&name).await?;
            println!("deactivated topology {name}");
        }
        ClientCommand::RotateSecret(name) => {
            n.rotate_secret(&name).await?;
            println!("rotated the secret of topology {name}: its workers restart with the new one");
        }
        ClientCommand::Rebalance {
            name,
            workers,
            executors,
        } => {
            let request = RebalanceRequest {
                workers,
                parallelism: executors.into_iter().collect(),
                wait_secs: None,
            };
            n.rebalance(&name, &request).await?;
            println!("rebalanced topology {name}");
        }
        ClientCommand::List { json } => {
            let list = n.list().await?;
            if json {
                println!("{}", to_json(&list)?);
            } else {
                print_list(&list);
            }
        }
        ClientCommand::Status { name, json } => crate::cli::status::show(&n, &name, json).await?,
        ClientCommand::Watch(name) => crate::cli::status::watch(&n, &name).await?,
        ClientCommand::TokenCreate { name, role } => {
            let created = n.create_token(&name, role).await?;
            // Only the token on stdout: `squall token create ... > file` is the file.
            println!("{}", created.text);
            eprintln!(
                "created {} token '{}' (id {}); it is shown only this once",
                created.token.role, created.token.name, created.token.id
            );
        }
        ClientCommand::TokenList { json } => {
            let list = n.tokens().await?;
            if json {
                println!("{}", to_json(&list)?);
            } else {
                println!(
                    "{:<24} {:<10} {:<16} {:>12}  supervisor",
                    "name", "role", "id", "created"
                );
                for t in &list.tokens {
                    println!(
                        "{:<24} {:<10} {:<16} {:>12}  {}",
                        t.name,
                        t.role.as_str(),
                        t.id,
                        t.created_at,
                        t.supervisor_id.as_deref().unwrap_or("")
                    );
                }
            }
        }
        ClientCommand::TokenRevoke(name) => {
            let t = n.revoke_token(&name).await?;
            println!("revoked {} token '{}' (id {})", t.role, t.name, t.id);
        }
        ClientCommand::SetLogLevel { name, body } => {
            let config = n.set_log_config(&name, &body).await?;
            print!("{}", crate::cli::describe_log_config(&name, &config));
        }
    }
    Ok(())
}

fn to_json(v: &impl serde::Serialize) -> Result<String, ClientError> {
    serde_json::to_string(v).map_err(|e| ClientError::Other(format!("encoding the answer: {e}")))
}

fn print_list(list: &TopologyList) {
    println!(
        "{:<24} {:<12} {:>8} {:>9} {:>10}",
        "name", "status", "workers", "assigned", "uptime s"
    );
    for t in &list.topologies {
        println!(
            "{:<24} {:<12} {:>8} {:>9} {:>10}",
            t.name,
            t.status.to_string(),
            t.num_workers,
            t.assigned_workers,
            t.uptime_secs
        );
    }
}
