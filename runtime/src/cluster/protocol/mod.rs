//! Every message that crosses a process boundary in a Squall cluster, defined once and
//! used by both sides: nimbus's HTTP API bodies (submissions, actions, the views the CLI
//! prints: [`api`]), supervisor heartbeats and the assignments nimbus answers with, the
//! worker spec a supervisor starts a worker with ([`supervisor`], [`assignment`]), and the statistics
//! workers report ([`stats`]).
//!
//! Every HTTP exchange carries [`VERSION_HEADER`]; a peer outside
//! [`COMPATIBLE_VERSIONS`] is refused with a message naming both versions.

pub mod api;
pub mod assignment;
mod hash;
pub mod lag;
pub mod logconfig;
pub mod logs;
pub mod metrics;
pub mod stats;
mod status;
pub mod supervisor;
pub mod tokens;
pub mod trident;
mod version;

pub use api::{
    ActionResponse, ArtifactInfo, ErrorBody, ErrorCode, Health, KillRequest, RebalanceRequest,
    SubmitRequest, SupervisorList, SupervisorView, TopologyInfo, TopologyList, TopologySummary,
    WorkerAssignment, WorkerView,
};
pub use assignment::{
    ASSIGNMENT_PROTOCOL, AssignmentPoll, AssignmentVersion, BadAssignment, BadAssignmentVersion,
    HeartbeatResponse, MAX_ASSIGNMENT_WAIT_SECS, MAX_HEARTBEAT_ANSWER_BYTES, SlotRef,
    SupervisorAssignments, TopologyAssignment, WorkerLocation, assignment_poll_path,
};
pub use hash::{ArtifactHash, ArtifactHasher, BadArtifactHash, MAX_ARTIFACT_BYTES};
pub use metrics::{
    BackpressureStats, ComponentError, ComponentWindowStats, InputWindowStats, LatencyStats,
    OutputWindowStats, TaskWindowStats, TopologyMetrics, UserMetricView, Window, WindowFigures,
};
pub use stats::{
    ComponentRole, ComponentStats, Counters, ErrorRecord, Histogram, InputStreamStats, LogFilter,
    OutputStreamStats, QueueStats, StatsAck, TaskStats, UserMetric, UserMetricValue, WorkerStats,
};
pub use status::{SlotState, TopologyStatus};
pub use supervisor::{
    Executor, Heartbeat, MAX_RESTARTS_REPORTED, RestartRecord, SlotAssignment, WorkerLogs,
    WorkerReport, WorkerSpec,
};
pub use version::{
    COMPATIBLE_VERSIONS, IncompatibleVersion, PROTOCOL_VERSION, VERSION_HEADER, check_version,
};
