//! `squall errors NAME [--json]`: each component's recent errors (Storm UI's
//! `componentErrors`): when, which task, which worker (host:port), and the text.

use std::collections::BTreeMap;
use std::time::{Duration, UNIX_EPOCH};

use super::NimbusArg;
use crate::cluster::auth::credentials::{self, CredentialsError};
use crate::cluster::auth::pin::CaPin;
use crate::cluster::auth::tls::ClientTrust;
use crate::cluster::client::{ClientError, Nimbus};
use crate::cluster::protocol::ComponentError;

/// Run `squall errors`; the exit code.
pub fn run(nimbus: &NimbusArg, name: &str, json: bool) -> i32 {
    match fetch(nimbus, name) {
        Ok(errors) if json => match serde_json::to_string_pretty(&errors) {
            Ok(text) => {
                println!("{text}");
                0
            }
            Err(e) => {
                eprintln!("error: encoding the errors: {e}");
                1
            }
        },
        Ok(errors) => {
            print!("{}", render(name, &errors));
            0
        }
        Err(e) => {
            eprintln!("error: {e}");
            1
        }
    }
}

/// The errors of topology `name` from nimbus, with the command's token and trust.
fn fetch(
    nimbus: &NimbusArg,
    name: &str,
) -> Result<BTreeMap<String, Vec<ComponentError>>, ClientError> {
    let token = match credentials::load(nimbus.token_file.as_deref(), "client") {
        Ok(t) => Some(t),
        // An open nimbus needs none; any other answers 401, which says how to give one.
        Err(CredentialsError::Missing { .. }) => None,
        Err(e) => return Err(e.into()),
    };
    let pin = token.as_ref().and_then(|t| t.pin).map(CaPin);
    let trust = ClientTrust::resolve(nimbus.ca_file.as_deref(), pin)
        .map_err(|e| ClientError::Other(e.to_string()))?;
    let client = Nimbus::with_trust(&nimbus.url, token.as_ref(), &trust)?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| ClientError::Other(format!("async runtime: {e}")))?;
    rt.block_on(client.component_errors(name))
}

/// The text `squall errors` prints: per component, one line per error (time, task,
/// worker, first line of the text), further lines of the text indented below it.
pub fn render(name: &str, errors: &BTreeMap<String, Vec<ComponentError>>) -> String {
    if errors.is_empty() {
        return format!("no errors reported by topology {name}\n");
    }
    let mut out = String::new();
    for (component, list) in errors {
        let n = list.len();
        out.push_str(&format!(
            "{component} ({n} error{})\n",
            if n == 1 { "" } else { "s" }
        ));
        for e in list {
            let when = humantime::format_rfc3339_seconds(
                UNIX_EPOCH + Duration::from_millis(e.error.time_ms),
            );
            let mut lines = e.error.error.lines();
            let first = lines.next().unwrap_or("");
            out.push_str(&format!(
                "  {when}  task {}  {}:{}  {first}\n",
                e.task, e.host, e.port
            ));
            for line in lines {
                out.push_str(&format!("      {line}\n"));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::protocol::ErrorRecord;

    #[test]
    fn errors_print_time_task_worker_and_text() {
        let e = |task, time_ms, text: &str| ComponentError {
            task,
            host: "10.0.0.7".into(),
            port: 6701,
            error: ErrorRecord {
                time_ms,
                error: text.into(),
            },
        };
        let mut errors = BTreeMap::new();
        errors.insert(
            "split".to_string(),
            vec![
                e(3, 1_700_000_000_000, "no field 'word'"),
                e(4, 1_700_000_001_000, "boom\nat line 2"),
            ],
        );
        let text = render("wc", &errors);
        assert_eq!(
            text,
            "split (2 errors)\n  2023-11-14T22:13:20Z  task 3  10.0.0.7:6701  no field 'word'\n  \
             2023-11-14T22:13:21Z  task 4  10.0.0.7:6701  boom\n      at line 2\n"
        );
        assert_eq!(
            render("wc", &BTreeMap::new()),
            "no errors reported by topology wc\n"
        );
    }
}
