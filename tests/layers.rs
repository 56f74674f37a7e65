//! The layers hold (the module map in `src/lib.rs`): a top-level module uses only modules of
//! its own layer or below; the foundations use no other module, and the outside systems'
//! modules (`db`, `azure`, `storage`) none of each other; and no two top-level modules use each
//! other, directly or through others. Read from the source: every `crate::<module>` path
//! outside comments (including `use crate::{a, b}` groups) is a use of that module.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

/// The layers of `src/lib.rs`'s module map, from the bottom up.
const LAYERS: [&[&str]; 5] = [
    &[
        "secrets",
        "auth",
        "invocation",
        "schedule",
        "rules",
        "analytics",
    ],
    &["db", "azure", "storage"],
    &["ingestion", "evaluation", "anomalies"],
    &["api", "functions", "config", "tools"],
    &["server", "host", "telemetry"],
];

/// What `module` may use.
fn allowed(module: &str, used: &str) -> Result<bool, String> {
    let layer = |m: &str| {
        LAYERS
            .iter()
            .position(|layer| layer.contains(&m))
            .ok_or_else(|| format!("src/{m} is in no layer of the module map: add it"))
    };
    let (from, to) = (layer(module)?, layer(used)?);
    Ok(match from {
        // The foundations use nothing; the outside systems only the foundations.
        0 => false,
        1 => to == 0,
        _ => to <= from,
    })
}

#[test]
fn every_module_uses_only_its_own_layer_or_below() {
    let mut broken = Vec::new();
    for (module, uses) in module_uses() {
        if let Err(e) = allowed(&module, &module) {
            broken.push(e);
        }
        for (used, files) in uses {
            match allowed(&module, &used) {
                Ok(true) => {}
                Ok(false) => {
                    let files: Vec<&str> = files.iter().map(String::as_str).collect();
                    broken.push(format!(
                        "src/{module} uses crate::{used} (in {})",
                        files.join(", ")
                    ));
                }
                Err(e) => broken.push(e),
            }
        }
    }
    broken.dedup();
    assert!(broken.is_empty(), "layers broken:\n{}", broken.join("\n"));
}

#[test]
fn no_top_level_modules_use_each_other() {
    let graph: BTreeMap<String, BTreeSet<String>> = module_uses()
        .into_iter()
        .map(|(module, uses)| (module, uses.into_keys().collect()))
        .collect();
    let cycles: Vec<String> = graph
        .keys()
        .filter_map(|start| cycle_from(&graph, start))
        .collect();
    assert!(cycles.is_empty(), "import cycles:\n{}", cycles.join("\n"));
}

#[test]
fn the_scan_sees_single_paths_groups_and_ignores_comments() {
    let text = "use crate::db::{self, Scope};\n\
                use crate::{azure::client, storage};\n\
                /// See [`crate::api`].\n\
                let x = crate::secrets::describe(&e); // crate::server\n\
                tracing::info!(version = crate::VERSION);\n";
    let used: BTreeSet<String> = crate_paths(text).into_iter().collect();
    let expected = ["azure", "db", "secrets", "storage"].map(String::from);
    assert_eq!(used, expected.into_iter().collect());
}

/// For each top-level module of `src/`, the other top-level modules it uses, each with the
/// files that use it.
fn module_uses() -> BTreeMap<String, BTreeMap<String, BTreeSet<String>>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut uses: BTreeMap<String, BTreeMap<String, BTreeSet<String>>> = BTreeMap::new();
    for file in rust_files(&src) {
        let relative = file.strip_prefix(&src).unwrap_or(&file);
        let Some(module) = top_level_module(relative) else {
            continue;
        };
        let text = fs::read_to_string(&file).expect("a readable source file");
        let entry = uses.entry(module.clone()).or_default();
        for used in crate_paths(&text) {
            if used != module {
                entry
                    .entry(used)
                    .or_default()
                    .insert(relative.display().to_string());
            }
        }
    }
    uses
}

/// `db.rs` and `db/**` belong to `db`; `lib.rs`, `main.rs` and `bin/` to no module.
fn top_level_module(relative: &Path) -> Option<String> {
    let first = relative.components().next()?.as_os_str().to_str()?;
    let name = first.strip_suffix(".rs").unwrap_or(first);
    (!matches!(name, "lib" | "main" | "bin")).then(|| name.to_owned())
}

fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in fs::read_dir(dir).expect("a readable source directory") {
        let path = entry.expect("a directory entry").path();
        if path.is_dir() {
            files.extend(rust_files(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            files.push(path);
        }
    }
    files
}

/// The top-level modules named by `crate::` paths in `text`, comments left out.
fn crate_paths(text: &str) -> Vec<String> {
    let code: String = text
        .lines()
        .map(|line| match line.find("//") {
            // `//` inside a string (a URL) is not a comment: keep lines whose `//` follows `:`.
            Some(at) if !line[..at].ends_with(':') => &line[..at],
            _ => line,
        })
        .collect::<Vec<_>>()
        .join("\n");
    let mut found = Vec::new();
    let mut rest = code.as_str();
    while let Some(at) = rest.find("crate::") {
        let preceded_by_ident = rest[..at]
            .chars()
            .next_back()
            .is_some_and(|c| c.is_alphanumeric() || c == '_');
        rest = &rest[at + "crate::".len()..];
        if preceded_by_ident {
            continue;
        }
        if let Some(group) = rest.strip_prefix('{') {
            found.extend(group_heads(group));
        } else {
            found.push(ident(rest).to_owned());
        }
    }
    // Items of the crate root (`crate::VERSION`) are no module.
    found
        .retain(|m| m.starts_with(|c: char| c.is_ascii_lowercase()) && m != "self" && m != "super");
    found
}

/// The first segment of each item of a `{a::b, c, d::{e, f}}` group (`group` starts after `{`).
fn group_heads(group: &str) -> Vec<String> {
    let mut heads = Vec::new();
    let mut depth = 0;
    let mut at_item_start = true;
    for (i, c) in group.char_indices() {
        match c {
            '{' => depth += 1,
            '}' if depth == 0 => break,
            '}' => depth -= 1,
            ',' if depth == 0 => at_item_start = true,
            c if at_item_start && !c.is_whitespace() => {
                heads.push(ident(&group[i..]).to_owned());
                at_item_start = false;
            }
            _ => {}
        }
    }
    heads
}

fn ident(text: &str) -> &str {
    let end = text
        .find(|c: char| !(c.is_alphanumeric() || c == '_'))
        .unwrap_or(text.len());
    &text[..end]
}

/// A cycle through `start`, written `a -> b -> a`, if there is one.
fn cycle_from(graph: &BTreeMap<String, BTreeSet<String>>, start: &str) -> Option<String> {
    let mut stack = vec![vec![start.to_owned()]];
    let mut seen = BTreeSet::new();
    while let Some(path) = stack.pop() {
        let last = path.last()?;
        for next in graph.get(last).into_iter().flatten() {
            if next == start {
                return Some(format!("{} -> {start}", path.join(" -> ")));
            }
            if seen.insert(next.clone()) {
                let mut longer = path.clone();
                longer.push(next.clone());
                stack.push(longer);
            }
        }
    }
    None
}
