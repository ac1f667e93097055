//! The module graph has no cycles (ARCHITECTURE.md §2): neither between the server's features
//! (`roster`, `ledger`, `attendance`, `sync`, …) nor between any two files of the server, of
//! client-core or of the office agent. Read from the source text: every `crate::…`, `super::…` and `self::…` path
//! outside comments and `#[cfg(test)]` code is an edge to the file that defines it. Reproduce
//! with `cargo test -p daftar-tests --test api structure`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// A crate's files by module path (`["roster", "handlers"]`), with their source text.
fn modules(src: &Path) -> BTreeMap<Vec<String>, String> {
    fn walk(dir: &Path, prefix: &[String], out: &mut BTreeMap<Vec<String>, String>) {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
            .expect("read src")
            .map(|e| e.expect("entry").path())
            .collect();
        entries.sort();
        for path in entries {
            let name = path
                .file_stem()
                .and_then(|n| n.to_str())
                .unwrap_or_default()
                .to_string();
            if path.is_dir() {
                let mut p = prefix.to_vec();
                p.push(name);
                walk(&path, &p, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let mut p = prefix.to_vec();
                if !matches!(name.as_str(), "lib" | "main") || !prefix.is_empty() {
                    p.push(name);
                }
                if path.parent().is_some_and(|d| d.ends_with("bin")) {
                    continue;
                }
                out.insert(p, std::fs::read_to_string(&path).expect("read"));
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(src, &[], &mut out);
    out
}

/// `text` without comments and without everything from the first `#[cfg(test)]` on (test
/// modules close their files).
fn code_of(text: &str) -> String {
    let text = text.split("#[cfg(test)]").next().unwrap_or("");
    let mut out = String::with_capacity(text.len());
    for line in text.lines() {
        out.push_str(line.split("//").next().unwrap_or(""));
        out.push('\n');
    }
    out
}

/// The module paths a file's code names: `crate::a::b`, `crate::{a, b::c}`, `super::x`.
fn references(module: &[String], code: &str) -> Vec<Vec<String>> {
    let mut refs = Vec::new();
    let bytes = code.as_bytes();
    let ident = |c: u8| c.is_ascii_alphanumeric() || c == b'_';
    let mut i = 0;
    while i < bytes.len() {
        if !code.is_char_boundary(i) {
            i += 1;
            continue;
        }
        let rest = &code[i..];
        let (base, skip): (Vec<String>, usize) = if rest.starts_with("crate::") {
            (Vec::new(), 7)
        } else if rest.starts_with("super::") {
            (module[..module.len().saturating_sub(1)].to_vec(), 7)
        } else {
            i += 1;
            continue;
        };
        if i > 0 && ident(bytes[i - 1]) {
            i += 1;
            continue;
        }
        let after = &rest[skip..];
        let expand = |path: &str| -> Vec<String> {
            let mut p = base.clone();
            p.extend(
                path.split("::")
                    .map(|s| s.trim().to_string())
                    .filter(|s| !s.is_empty() && s != "self" && s != "*"),
            );
            p
        };
        if let Some(group) = after.strip_prefix('{') {
            let end = group.find('}').unwrap_or(group.len());
            for item in group[..end].split(',') {
                let path: String = item
                    .split(" as ")
                    .next()
                    .unwrap_or("")
                    .chars()
                    .filter(|c| !c.is_whitespace() && *c != '{')
                    .collect();
                refs.push(expand(&path));
            }
        } else {
            let len = after
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'))
                .unwrap_or(after.len());
            refs.push(expand(&after[..len]));
        }
        i += skip;
    }
    refs
}

/// The file a module path is defined in: its longest prefix that is a module.
fn owner<'a>(files: &'a BTreeMap<Vec<String>, String>, path: &[String]) -> Option<&'a Vec<String>> {
    (1..=path.len())
        .rev()
        .find_map(|n| files.get_key_value(&path[..n]).map(|(k, _)| k))
}

/// Every cycle of `graph` (strongly connected components of more than one node).
fn cycles(graph: &BTreeMap<String, BTreeSet<String>>) -> Vec<Vec<String>> {
    // Tarjan's algorithm.
    struct State<'g> {
        graph: &'g BTreeMap<String, BTreeSet<String>>,
        index: BTreeMap<String, usize>,
        low: BTreeMap<String, usize>,
        stack: Vec<String>,
        on_stack: BTreeSet<String>,
        next: usize,
        found: Vec<Vec<String>>,
    }
    fn visit(s: &mut State, v: &str) {
        s.index.insert(v.to_string(), s.next);
        s.low.insert(v.to_string(), s.next);
        s.next += 1;
        s.stack.push(v.to_string());
        s.on_stack.insert(v.to_string());
        let targets: Vec<String> = s
            .graph
            .get(v)
            .map(|t| t.iter().cloned().collect())
            .unwrap_or_default();
        for w in targets {
            if !s.index.contains_key(&w) {
                visit(s, &w);
                let lw = s.low[&w];
                let lv = s.low.get_mut(v).expect("visited");
                *lv = (*lv).min(lw);
            } else if s.on_stack.contains(&w) {
                let iw = s.index[&w];
                let lv = s.low.get_mut(v).expect("visited");
                *lv = (*lv).min(iw);
            }
        }
        if s.low[v] == s.index[v] {
            let mut component = Vec::new();
            while let Some(w) = s.stack.pop() {
                s.on_stack.remove(&w);
                let done = w == v;
                component.push(w);
                if done {
                    break;
                }
            }
            if component.len() > 1 {
                component.sort();
                s.found.push(component);
            }
        }
    }
    let mut s = State {
        graph,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        next: 0,
        found: Vec::new(),
    };
    for v in graph.keys() {
        if !s.index.contains_key(v) {
            visit(&mut s, v);
        }
    }
    s.found
}

/// File-level and top-level-module graphs of the crate at `src`.
fn graphs(
    src: &Path,
) -> (
    BTreeMap<String, BTreeSet<String>>,
    BTreeMap<String, BTreeSet<String>>,
) {
    let files = modules(src);
    let mut by_file: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut by_feature: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (module, text) in &files {
        let from = module.join("::");
        for target in references(module, &code_of(text)) {
            let Some(to) = owner(&files, &target) else {
                continue;
            };
            if to == module || to.is_empty() || module.is_empty() {
                continue;
            }
            // A file may use its own submodules (`roster.rs` declares `roster/…`).
            if to.starts_with(module) {
                continue;
            }
            by_file
                .entry(from.clone())
                .or_default()
                .insert(to.join("::"));
            if module[0] != to[0] {
                by_feature
                    .entry(module[0].clone())
                    .or_default()
                    .insert(to[0].clone());
            }
        }
    }
    (by_file, by_feature)
}

fn crate_src(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(name)
        .join("src")
}

#[test]
fn the_server_and_client_core_have_no_import_cycles() {
    let mut found = Vec::new();
    for krate in ["server", "client-core", "desktop-agent"] {
        let (files, features) = graphs(&crate_src(krate));
        for c in cycles(&features) {
            found.push(format!("{krate}: features {}", c.join(" <-> ")));
        }
        for c in cycles(&files) {
            found.push(format!("{krate}: files {}", c.join(" <-> ")));
        }
        let edges: usize = files.values().map(BTreeSet::len).sum();
        assert!(edges > 10, "{krate}: the graph was read ({edges} edges)");
    }
    assert!(found.is_empty(), "import cycles:\n{}", found.join("\n"));
}

#[test]
fn the_cycle_check_finds_a_cycle() {
    let files: BTreeMap<Vec<String>, String> = [
        (
            vec!["a".to_string()],
            "use crate::b::thing; // crate::c::not_read".to_string(),
        ),
        (
            vec!["b".to_string()],
            "use crate::{a::other, c};".to_string(),
        ),
        (vec!["c".to_string()], "fn f() {}".to_string()),
    ]
    .into_iter()
    .collect();
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (m, t) in &files {
        for r in references(m, &code_of(t)) {
            if let Some(to) = owner(&files, &r) {
                if to != m {
                    graph.entry(m.join("::")).or_default().insert(to.join("::"));
                }
            }
        }
    }
    assert_eq!(cycles(&graph), vec![vec!["a".to_string(), "b".to_string()]]);
    assert!(!graph["a"].contains("c"), "comments are not read");
}
