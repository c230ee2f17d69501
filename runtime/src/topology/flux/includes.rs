//! Flux `includes`: other topology files merged into the including one.
//!
//! As in Flux: one level only (includes of an included file are ignored, with a
//! warning); `name`, `config`, `components`, `spouts`, `bolts` and `streams` are merged;
//! with `override: false` what the including file (or an earlier include) defines wins,
//! with `override: true` the included definition replaces it — components, spouts and
//! bolts by id (in place), config keys by key, the name, and streams by their
//! `(from, streamId, to)` subscription (Storm keeps one grouping per subscription).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::LoadOptions;
use super::substitute::{Sources, substitute};
use crate::topology::yaml::{self, IncludeDef, KeyPath, Origin, ParsedSpec, VertexExtras, limits};

/// Merge every include of `main` (a file in `dir`) into it; problems are recorded in
/// `main.problems`.
pub(super) fn process(
    main: &mut ParsedSpec,
    dir: &Path,
    opts: &LoadOptions,
    sources: &Sources<'_>,
) {
    let includes = std::mem::take(&mut main.flux.includes);
    for (i, inc) in includes.iter().enumerate() {
        let at = KeyPath::root().key("includes").index(i);
        let path = match locate(inc, dir, opts) {
            Ok(p) => p,
            Err(message) => {
                let e = main.error_at(&at.key("file"), message);
                main.problems.push(e);
                continue;
            }
        };
        let text = match limits::read_capped(&path, limits::MAX_TOPOLOGY_BYTES) {
            Ok(t) => t,
            Err(e) => {
                let e = main.error_at(
                    &at.key("file"),
                    format!("cannot read included file {}: {e}", path.display()),
                );
                main.problems.push(e);
                continue;
            }
        };
        let (text, problems) = substitute(&text, Some(&path), sources);
        main.problems.extend(problems);
        let included = match yaml::parse_str(&text, Some(&path)) {
            Ok(p) => p,
            Err(errors) => {
                main.problems.extend(errors.0);
                continue;
            }
        };
        tracing::info!(file = %path.display(), r#override = inc.override_existing, "including");
        merge(main, included, inc.override_existing);
    }
}

/// The file an include names.
fn locate(inc: &IncludeDef, dir: &Path, opts: &LoadOptions) -> Result<PathBuf, String> {
    if inc.resource {
        let root = opts.resources.clone().unwrap_or_else(|| dir.to_path_buf());
        let root = std::path::absolute(&root).unwrap_or(root);
        let candidate = root.join(inc.file.trim_start_matches('/'));
        if candidate.is_file() {
            return Ok(candidate);
        }
        return Err(format!(
            "included resource '{}' not found: looked for {} (Squall has no classpath: \
             resource includes are looked up under the resources directory, --resources DIR, \
             by default the topology file's directory)",
            inc.file,
            candidate.display()
        ));
    }
    let given = Path::new(&inc.file);
    let mut tried = Vec::new();
    let candidates = if given.is_absolute() {
        vec![given.to_path_buf()]
    } else {
        let mut c = vec![dir.join(given)];
        if let Ok(cwd) = std::env::current_dir() {
            c.push(cwd.join(given));
        }
        c
    };
    for c in candidates {
        if c.is_file() {
            return Ok(c);
        }
        tried.push(c.display().to_string());
    }
    Err(format!(
        "included file '{}' not found (looked for {})",
        inc.file,
        tried.join(" and ")
    ))
}

/// Merge `inc` into `main` (see the module documentation).
fn merge(main: &mut ParsedSpec, inc: ParsedSpec, override_existing: bool) {
    let root = KeyPath::root();
    let file = inc.file.clone();
    let shown = file
        .as_ref()
        .map(|f| f.display().to_string())
        .unwrap_or_default();
    let source = Arc::new(inc.source.clone());
    let mut origins = Vec::new();
    let mut origin = |at: KeyPath, path: KeyPath| {
        origins.push(Origin {
            at,
            file: file.clone(),
            source: Arc::clone(&source),
            path,
        });
    };
    if !inc.flux.includes.is_empty() {
        tracing::warn!(file = %shown, "includes of an included file are ignored (Flux includes one level)");
    }
    if !inc.flux.worker_hooks.is_empty() || inc.def.topology_source.is_some() {
        tracing::warn!(file = %shown, "workerHooks and topologySource of an included file are ignored");
    }
    main.problems.extend(inc.problems);
    let (def, flux) = (inc.def, inc.flux);
    if !def.name.is_empty() && (main.def.name.is_empty() || override_existing) {
        main.def.name = def.name;
        origin(root.key("name"), root.key("name"));
    }
    for (k, v) in def.config {
        if override_existing || !main.def.config.contains_key(&k) {
            origin(
                root.key("config").key(k.clone()),
                root.key("config").key(k.clone()),
            );
            main.def.config.insert(k, v);
        } else {
            tracing::warn!(key = %k, file = %shown, "config key already set: the included value is ignored (override: false)");
        }
    }
    for (j, b) in flux.components.into_iter().enumerate() {
        let from = root.key("components").index(j);
        match main.flux.components.iter().position(|c| c.id == b.id) {
            Some(idx) if override_existing => {
                main.flux.components[idx] = b;
                origin(root.key("components").index(idx), from);
            }
            Some(_) => {
                tracing::warn!(id = %b.id, file = %shown, "component already defined: the included one is ignored (override: false)");
            }
            None => {
                origin(
                    root.key("components").index(main.flux.components.len()),
                    from,
                );
                main.flux.components.push(b);
            }
        }
    }
    for (key, defs, extras) in [
        ("spouts", def.spouts, flux.spouts),
        ("bolts", def.bolts, flux.bolts),
    ] {
        let (mine, my_extras) = if key == "spouts" {
            (&mut main.def.spouts, &mut main.flux.spouts)
        } else {
            (&mut main.def.bolts, &mut main.flux.bolts)
        };
        my_extras.resize(mine.len(), VertexExtras::default());
        for (j, c) in defs.into_iter().enumerate() {
            let x = extras.get(j).cloned().unwrap_or_default();
            let from = root.key(key).index(j);
            match mine.iter().position(|m| m.id == c.id) {
                Some(idx) if override_existing => {
                    mine[idx] = c;
                    my_extras[idx] = x;
                    origin(root.key(key).index(idx), from);
                }
                Some(_) => {
                    tracing::warn!(id = %c.id, file = %shown, "{key} entry already defined: the included one is ignored (override: false)");
                }
                None => {
                    origin(root.key(key).index(mine.len()), from);
                    mine.push(c);
                    my_extras.push(x);
                }
            }
        }
    }
    for (j, s) in def.streams.into_iter().enumerate() {
        let from = root.key("streams").index(j);
        let same = |m: &yaml::StreamDef| {
            m.from == s.from && m.to == s.to && m.grouping.stream_id == s.grouping.stream_id
        };
        match main.def.streams.iter().position(same) {
            Some(idx) if override_existing => {
                main.def.streams[idx] = s;
                origin(root.key("streams").index(idx), from);
            }
            Some(_) => {
                tracing::warn!(from = %s.from, to = %s.to, file = %shown, "subscription already defined: the included one is ignored (override: false)");
            }
            None => {
                origin(root.key("streams").index(main.def.streams.len()), from);
                main.def.streams.push(s);
            }
        }
    }
    main.origins.extend(origins);
}
