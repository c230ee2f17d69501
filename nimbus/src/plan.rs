//! What nimbus needs to know about a topology's shape: its components' task and executor
//! counts, and its executors as task ranges, computed from the YAML alone (nimbus never
//! instantiates components; the artifact validated them).

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};
use squall_runtime::config::Config;
use squall_runtime::plan::TaskPlan;
use squall_runtime::spec::{self, TopologyDef};

use crate::error::ClusterError;
use squall_runtime::cluster::protocol::Executor;

/// The name YAML errors are reported under (`topology.yaml:LINE:COLUMN: ...`), the same
/// as the artifact's validation reports.
pub const SPEC_FILE_NAME: &str = "topology.yaml";

/// The most tasks one topology may have (bounds the memory one submission can take).
pub const MAX_TASKS: u64 = 100_000;

/// Task and executor counts of one component.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ComponentPlan {
    /// Number of tasks (fixed at submission).
    pub tasks: u32,
    /// Number of executors (changed by rebalance).
    pub executors: u32,
}

/// A topology's executors and per-component counts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopologyPlan {
    /// Every executor, ascending by first task.
    pub executors: Vec<Executor>,
    /// Component id (the acker included) -> counts.
    pub components: BTreeMap<String, ComponentPlan>,
}

impl TopologyPlan {
    /// Total number of tasks.
    pub fn num_tasks(&self) -> u32 {
        self.components.values().map(|c| c.tasks).sum()
    }
}

/// Parse the topology YAML; structural errors become one bad request listing each of them
/// with its line and column.
pub fn parse_yaml(yaml: &str) -> Result<TopologyDef, ClusterError> {
    spec::parse_str(yaml, Some(Path::new(SPEC_FILE_NAME)))
        .map(|p| p.def)
        .map_err(|errors| {
            let details: Vec<String> = errors.0.iter().map(ToString::to_string).collect();
            ClusterError::BadRequest {
                message: format!("the topology YAML is invalid:\n{}", details.join("\n")),
                details,
            }
        })
}

/// `topology.workers` of a definition (default 1).
pub fn configured_workers(def: &TopologyDef) -> u32 {
    Config::merged([&def.config]).settings().workers
}

/// Plan `def` with the executor counts in `parallelism` overriding its own.
pub fn plan(
    def: &TopologyDef,
    parallelism: &BTreeMap<String, u32>,
) -> Result<TopologyPlan, ClusterError> {
    let ackers = u64::from(Config::merged([&def.config]).settings().acker_tasks());
    let tasks: u64 = def
        .spouts
        .iter()
        .chain(&def.bolts)
        .map(|c| u64::from(c.num_tasks.unwrap_or(c.parallelism)))
        .sum::<u64>()
        + ackers;
    if tasks > MAX_TASKS {
        return Err(ClusterError::bad_request(format!(
            "the topology has {tasks} tasks; at most {MAX_TASKS} are supported"
        )));
    }
    let task_plan = TaskPlan::from_def(def, parallelism);
    let mut executors: Vec<Executor> = task_plan
        .executors
        .iter()
        .filter_map(|e| Some([e.tasks.first()?.0, e.tasks.last()?.0]))
        .collect();
    executors.sort_unstable();
    let mut components = BTreeMap::new();
    for (id, tasks) in &task_plan.component_tasks {
        let n = task_plan
            .executors
            .iter()
            .filter(|e| &e.component == id)
            .count();
        components.insert(
            id.clone(),
            ComponentPlan {
                tasks: u32::try_from(tasks.len()).unwrap_or(u32::MAX),
                executors: u32::try_from(n).unwrap_or(u32::MAX),
            },
        );
    }
    Ok(TopologyPlan {
        executors,
        components,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const YAML: &str = "name: t
config:
  topology.workers: 2
spouts:
  - id: s
    className: S
    parallelism: 2
    numTasks: 4
bolts:
  - id: b
    className: B
    parallelism: 3
streams:
  - from: s
    to: b
    grouping:
      type: SHUFFLE
";

    #[test]
    fn plans_tasks_executors_and_ackers() {
        let def = parse_yaml(YAML).unwrap();
        assert_eq!(configured_workers(&def), 2);
        let p = plan(&def, &BTreeMap::new()).unwrap();
        // __acker (2 tasks: one per worker) 1-2, b 3-5, s 6-9 in two runs.
        assert_eq!(
            p.executors,
            vec![[1, 1], [2, 2], [3, 3], [4, 4], [5, 5], [6, 7], [8, 9]]
        );
        assert_eq!(p.num_tasks(), 9);
        assert_eq!(
            p.components["s"],
            ComponentPlan {
                tasks: 4,
                executors: 2
            }
        );
        let more = plan(&def, &BTreeMap::from([("s".to_string(), 4)])).unwrap();
        assert_eq!(more.components["s"].executors, 4);
        assert_eq!(more.executors.len(), 9);
    }

    #[test]
    fn bad_yaml_lists_line_and_column() {
        let err = parse_yaml("name: t\nspouts: [\n").unwrap_err();
        assert_eq!(err.status(), 400);
        assert!(
            err.to_string().contains(":2:") || err.to_string().contains(":3:"),
            "{err}"
        );
    }

    #[test]
    fn too_many_tasks_is_refused() {
        let def =
            parse_yaml("name: t\nspouts:\n  - id: s\n    className: S\n    numTasks: 4000000\n")
                .unwrap();
        assert_eq!(plan(&def, &BTreeMap::new()).unwrap_err().status(), 400);
    }
}
