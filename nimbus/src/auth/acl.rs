//! What each route needs ([`classify`]) and whether a principal has it ([`check`]):
//! admins do anything; deployers submit and act on their own topologies (and those
//! whose `topology.users` name them); viewers read; supervisors heartbeat (as the id
//! their token is bound to) and download artifacts; a worker posts stats and Trident
//! metadata of its own topology.

use axum::http::Method;
use squall_runtime::cluster::auth::token::Role;

use super::Principal;
use crate::error::ClusterError;

/// What a request needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Need {
    /// Nothing (`GET /api/v1/health`, and the web UI's page and assets:
    /// [`crate::api::ui::is_ui_path`]).
    Open,
    /// Any reading role (admin, deployer, viewer).
    Read,
    /// Reading an artifact: any role (supervisors download them).
    ArtifactRead,
    /// Submitting or uploading: admin or deployer.
    Deploy,
    /// Acting on topology `.0`: admin, its owner, or a deployer its `topology.users` name.
    Act(String),
    /// A supervisor heartbeat, or its assignment poll
    /// (`GET /api/v1/supervisors/{id}/assignments`): admin or a supervisor token (bound
    /// to the supervisor's id by the handler).
    Heartbeat,
    /// A supervisor's log requests and answers
    /// (`/api/v1/supervisors/{id}/log-requests`, `.../log-responses/{request}`): admin
    /// or a supervisor token (bound to the path's id by the handler).
    SupervisorLogs,
    /// A worker's report or Trident metadata of topology `topology`; reading it is also
    /// open to the reading roles.
    WorkerOf {
        /// The topology's name.
        topology: String,
        /// Whether it writes.
        write: bool,
    },
    /// Token management: admin only.
    Admin,
}

/// Whether `method` changes something (audited and rate limited).
pub fn is_mutation(method: &Method) -> bool {
    !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// What `method path` needs.
pub fn classify(method: &Method, path: &str) -> Need {
    let read = matches!(*method, Method::GET | Method::HEAD);
    // The web UI's page and assets hold no data (the page asks for a token itself).
    if read && crate::api::ui::is_ui_path(path) {
        return Need::Open;
    }
    let rest = path.strip_prefix("/api/v1/").unwrap_or("");
    let seg: Vec<&str> = rest.split('/').collect();
    let post = *method == Method::POST;
    match seg.as_slice() {
        ["health"] if *method == Method::GET => Need::Open,
        ["artifacts", _] if read => Need::ArtifactRead,
        ["artifacts", _] => Need::Deploy,
        ["topologies"] if post => Need::Deploy,
        ["topologies", name, "stats"] => Need::WorkerOf {
            topology: (*name).to_string(),
            write: !read,
        },
        ["topologies", name, "trident", ..] => Need::WorkerOf {
            topology: (*name).to_string(),
            write: !read,
        },
        ["topologies", name, _action] if post => Need::Act((*name).to_string()),
        // Storm's actions name the topology by id (or name): `Act` resolves either.
        ["topology", id, _action] if post => Need::Act((*id).to_string()),
        ["topology", id, "rebalance" | "kill", _wait] if post => Need::Act((*id).to_string()),
        // Storm's path: `{id}` is the id or the name (the handler checks again against
        // the topology it resolves to).
        ["topology", id, "logconfig"] if post => Need::Act((*id).to_string()),
        ["supervisors", "heartbeat"] if !read => Need::Heartbeat,
        ["supervisors", _, "assignments"] if read => Need::Heartbeat,
        ["supervisors", _, "log-requests"] if read => Need::SupervisorLogs,
        ["supervisors", _, "log-responses", _] if post => Need::SupervisorLogs,
        ["topology", _, "logs"] if read => Need::Read,
        ["tokens", ..] => Need::Admin,
        _ if is_mutation(method) => Need::Admin,
        _ => Need::Read,
    }
}

/// Who may act on a topology.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopologyAcl {
    /// Its current id.
    pub id: String,
    /// The token that submitted it (`None`: submitted to an open nimbus; admins only).
    pub owner: Option<String>,
    /// `topology.users`.
    pub users: Vec<String>,
}

/// Whether `who` has `need`; `acl` is the topology's, for [`Need::Act`] and
/// [`Need::WorkerOf`] (`None`: no such topology, and the handler answers 404).
pub fn check(who: &Principal, need: &Need, acl: Option<&TopologyAcl>) -> Result<(), ClusterError> {
    let forbid = |m: String| Err(ClusterError::Forbidden(m));
    let (name, role) = match who {
        Principal::Open => return Ok(()),
        Principal::Worker { topology_id } => {
            return match (need, acl) {
                (Need::WorkerOf { .. }, Some(a)) if a.id == *topology_id => Ok(()),
                (Need::WorkerOf { .. }, None) => Ok(()),
                _ => forbid(format!(
                    "a worker credential of topology {topology_id} may only post stats and \
                     Trident metadata of that topology"
                )),
            };
        }
        Principal::Token { name, role, .. } => (name, *role),
    };
    if role == Role::Admin {
        return Ok(());
    }
    let only_reads = || {
        forbid(format!(
            "token '{name}' has role viewer, which may only read; ask an admin for a \
             deployer token"
        ))
    };
    let supervisor_only = || {
        forbid(format!(
            "token '{name}' has role supervisor, which may only send heartbeats and \
             download artifacts"
        ))
    };
    match (need, role) {
        (Need::Open | Need::ArtifactRead, _) => Ok(()),
        (Need::Read, Role::Deployer | Role::Viewer) => Ok(()),
        (Need::WorkerOf { write: false, .. }, Role::Deployer | Role::Viewer) => Ok(()),
        (Need::Heartbeat | Need::SupervisorLogs, Role::Supervisor) => Ok(()),
        (Need::SupervisorLogs, _) => forbid(format!(
            "token '{name}' has role {role}; only a supervisor's own token (or an admin) \
             may fetch or answer its log requests (read logs with GET \
             /api/v1/topology/NAME/logs)"
        )),
        (Need::Deploy, Role::Deployer) => Ok(()),
        (Need::Act(topology), Role::Deployer) => match acl {
            None => Ok(()),
            Some(a) if a.owner.as_deref() == Some(name.as_str()) => Ok(()),
            Some(a) if a.users.iter().any(|u| u == name) => Ok(()),
            Some(a) => forbid(format!(
                "topology '{topology}' belongs to {}; token '{name}' may not act on it \
                 (its owner can add '{name}' to its topology.users, or an admin can act)",
                a.owner.as_deref().map_or(
                    "no token (submitted without authentication)".to_string(),
                    |o| { format!("'{o}'") }
                )
            )),
        },
        (Need::Admin, _) => forbid(format!(
            "only an admin token may do this; token '{name}' has role {role}"
        )),
        (_, Role::Viewer) => only_reads(),
        (_, Role::Supervisor) => supervisor_only(),
        (Need::Heartbeat, _) => forbid(format!(
            "token '{name}' has role {role}; heartbeats need a supervisor token \
             (`squall token create --role supervisor --name N`)"
        )),
        (Need::WorkerOf { topology, .. }, _) => forbid(format!(
            "only the workers of topology '{topology}' (or an admin) may write its stats \
             and Trident metadata"
        )),
        (_, _) => forbid(format!("token '{name}' with role {role} may not do this")),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn tok(name: &str, role: Role) -> Principal {
        Principal::Token {
            name: name.into(),
            role,
            id: "0".into(),
        }
    }

    #[test]
    fn routes_are_classified() {
        let c = |m: Method, p: &str| classify(&m, p);
        assert_eq!(c(Method::GET, "/api/v1/health"), Need::Open);
        assert_eq!(c(Method::POST, "/api/v1/health"), Need::Admin);
        assert_eq!(c(Method::PUT, "/api/v1/artifacts/ab"), Need::Deploy);
        assert_eq!(c(Method::HEAD, "/api/v1/artifacts/ab"), Need::ArtifactRead);
        assert_eq!(c(Method::POST, "/api/v1/topologies"), Need::Deploy);
        assert_eq!(
            c(Method::POST, "/api/v1/topologies/t/kill"),
            Need::Act("t".into())
        );
        assert_eq!(c(Method::GET, "/api/v1/topologies/t"), Need::Read);
        for action in ["activate", "deactivate", "rebalance/0", "kill/30"] {
            assert_eq!(
                c(Method::POST, &format!("/api/v1/topology/t-1-2/{action}")),
                Need::Act("t-1-2".into()),
                "{action}"
            );
        }
        for read in [
            "/api/v1/cluster/summary",
            "/api/v1/supervisor/summary",
            "/api/v1/nimbus/summary",
            "/api/v1/topology/summary",
            "/api/v1/topology/t-1-2",
            "/api/v1/topology/t-1-2/component/split",
            "/api/v1/topology/t-1-2/lag",
        ] {
            assert_eq!(c(Method::GET, read), Need::Read, "{read}");
        }
        assert_eq!(
            c(Method::POST, "/api/v1/topology/t-1-2/debug/enable/10"),
            Need::Admin
        );
        assert_eq!(
            c(Method::POST, "/api/v1/topology/t-1-2/logconfig"),
            Need::Act("t-1-2".into())
        );
        assert_eq!(c(Method::GET, "/api/v1/topology/t/logconfig"), Need::Read);
        assert_eq!(
            c(Method::POST, "/api/v1/supervisors/heartbeat"),
            Need::Heartbeat
        );
        assert_eq!(
            c(Method::GET, "/api/v1/supervisors/s1/assignments"),
            Need::Heartbeat
        );
        assert_eq!(c(Method::DELETE, "/api/v1/tokens/x"), Need::Admin);
        assert_eq!(c(Method::GET, "/api/v1/topology/t-1-2/logs"), Need::Read);
        assert_eq!(
            c(Method::GET, "/api/v1/supervisors/s1/log-requests"),
            Need::SupervisorLogs
        );
        assert_eq!(
            c(Method::POST, "/api/v1/supervisors/s1/log-responses/7"),
            Need::SupervisorLogs
        );
        assert_eq!(c(Method::GET, "/nope"), Need::Read);
        // The web UI: its page and assets are open to GET only.
        for open in ["/", "/index.html", "/ui/app.js", "/ui/unknown.css"] {
            assert_eq!(c(Method::GET, open), Need::Open, "{open}");
            assert_eq!(c(Method::HEAD, open), Need::Open, "{open}");
            assert_eq!(c(Method::POST, open), Need::Admin, "{open}");
        }
        for closed in ["/ui/../api/v1/topologies", "/ui/a/b", "/ui/", "/ui/%2e%2e"] {
            assert_eq!(c(Method::GET, closed), Need::Read, "{closed}");
        }
        assert_eq!(
            c(Method::GET, "/api/v1/topology/t-1-2/visualization"),
            Need::Read
        );
    }

    #[test]
    fn deployers_act_on_their_own_and_listed_topologies() {
        let acl = TopologyAcl {
            id: "t-1".into(),
            owner: Some("alice".into()),
            users: vec!["carol".into()],
        };
        let act = Need::Act("t".into());
        check(&tok("alice", Role::Deployer), &act, Some(&acl)).unwrap();
        check(&tok("carol", Role::Deployer), &act, Some(&acl)).unwrap();
        let e = check(&tok("bob", Role::Deployer), &act, Some(&acl))
            .unwrap_err()
            .to_string();
        assert!(e.contains("'alice'"), "{e}");
        check(&tok("root", Role::Admin), &act, Some(&acl)).unwrap();
        assert!(check(&tok("v", Role::Viewer), &act, Some(&acl)).is_err());
        assert!(check(&tok("v", Role::Viewer), &Need::Deploy, None).is_err());
        check(&tok("v", Role::Viewer), &Need::Read, None).unwrap();
        assert!(check(&tok("s", Role::Supervisor), &Need::Read, None).is_err());
        check(&tok("s", Role::Supervisor), &Need::ArtifactRead, None).unwrap();
        // Logs: viewers read them; only supervisors (and admins) serve them.
        check(&tok("s", Role::Supervisor), &Need::SupervisorLogs, None).unwrap();
        check(&tok("root", Role::Admin), &Need::SupervisorLogs, None).unwrap();
        for role in [Role::Viewer, Role::Deployer] {
            let e = check(&tok("v", role), &Need::SupervisorLogs, None).unwrap_err();
            assert!(e.to_string().contains("supervisor's own token"), "{e}");
        }
    }
}
