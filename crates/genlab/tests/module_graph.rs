//! House rule: inside every crate of the workspace, no two top-level modules
//! refer to each other (`crate::a::…` in `b` and `crate::b::…` in `a`),
//! test modules included. Doc comments are ignored.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let p = entry.path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|e| e == "rs") {
            out.push(p);
        }
    }
}

/// The top-level module a source file belongs to (`None` for the crate root).
fn top_module(src: &Path, file: &Path) -> Option<String> {
    let rel = file.strip_prefix(src).ok()?;
    let first = rel.components().next()?.as_os_str().to_str()?;
    let name = first.trim_end_matches(".rs");
    (name != "lib" && name != "main").then(|| name.to_string())
}

/// Every `crate::NAME` (and `crate::{NAME, …}`) a line of code mentions.
fn referenced(code: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for (i, _) in code.match_indices("crate::") {
        let rest = &code[i + "crate::".len()..];
        let names: Vec<&str> = match rest.strip_prefix('{') {
            Some(group) => group.split('}').next().unwrap_or("").split(',').collect(),
            None => vec![rest],
        };
        for n in names {
            let n = n.trim();
            let ident: String = n
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            // Only paths into a module (`crate::name::…`), not re-exported items.
            if n[ident.len()..].starts_with("::") && ident.starts_with(|c: char| c.is_lowercase()) {
                out.insert(ident);
            }
        }
    }
    out
}

#[test]
fn no_two_modules_of_a_crate_import_each_other() {
    let crates = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut cycles = Vec::new();
    for krate in std::fs::read_dir(&crates).unwrap().flatten() {
        let src = krate.path().join("src");
        if !src.is_dir() {
            continue;
        }
        let mut files = Vec::new();
        rust_files(&src, &mut files);
        let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for f in &files {
            let Some(top) = top_module(&src, f) else {
                continue;
            };
            let text = std::fs::read_to_string(f).unwrap();
            for line in text.lines().filter(|l| !l.trim_start().starts_with("//")) {
                for m in referenced(line) {
                    if m != top {
                        edges.entry(top.clone()).or_default().insert(m);
                    }
                }
            }
        }
        for (a, targets) in &edges {
            for b in targets {
                if a < b && edges.get(b).is_some_and(|t| t.contains(a)) {
                    cycles.push(format!(
                        "{}: {a} <-> {b}",
                        krate.file_name().to_string_lossy()
                    ));
                }
            }
        }
    }
    assert!(
        cycles.is_empty(),
        "modules that import each other:\n{}",
        cycles.join("\n")
    );
}

#[test]
fn the_reference_scanner_sees_paths_and_groups() {
    let r = referenced("use crate::a::X; use crate::{b::Y, Z}; let v = crate::c::f();");
    let want: BTreeSet<String> = ["a", "b", "c"].iter().map(|s| s.to_string()).collect();
    assert_eq!(r, want);
}
