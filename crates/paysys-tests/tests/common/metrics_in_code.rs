//! The metrics the services really emit, read from their source: every `counter!`, `gauge!` and
//! `histogram!` call in crates/*/src whose name is a string literal, with the labels given in
//! the same call (`"label" => value` pairs) and, where every call gives a label as a literal,
//! its values. A histogram exports `_bucket` (with `le`), `_sum` and `_count`. Shared by the
//! tests that check what operators' files name (deploy/alerts, deploy/grafana), each including
//! it with `#[path = "common/metrics_in_code.rs"] mod metrics_in_code;`.
#![allow(dead_code)] // each test uses its part

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// What one series is emitted with.
#[derive(Debug, Default, Clone)]
pub struct Series {
    /// Label names, from every call emitting the metric.
    pub labels: BTreeSet<String>,
    /// Label values by label, where every call gives that label a string literal (a label
    /// given a computed value somewhere is absent: its values are unknown).
    pub values: BTreeMap<String, BTreeSet<String>>,
    dynamic: BTreeSet<String>,
}

impl Series {
    /// Whether a query may use `label` on this series: its own labels, the labels Prometheus
    /// attaches to every scraped series (`job`, `instance`), and `le` on a histogram's buckets.
    pub fn allows(&self, name: &str, label: &str) -> bool {
        self.labels.contains(label)
            || matches!(label, "job" | "instance")
            || (label == "le" && name.ends_with("_bucket"))
    }
}

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

/// The text of a macro call's arguments: from just after `(` to its matching `)` (strings and
/// char literals skipped), or to the end of `text` when unbalanced.
fn call_arguments(text: &str) -> &str {
    let mut depth = 1usize;
    let mut in_string = false;
    let mut escaped = false;
    for (i, c) in text.char_indices() {
        if in_string {
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, '"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match c {
            '"' => in_string = true,
            '(' | '[' | '{' => depth += 1,
            ')' | ']' | '}' => {
                depth -= 1;
                if depth == 0 {
                    return &text[..i];
                }
            }
            _ => {}
        }
    }
    text
}

/// The `"label" => value` pairs at the top level of a call's arguments: the label, and the
/// value when it is a plain string literal.
fn label_pairs(args: &str) -> Vec<(String, Option<String>)> {
    let mut pairs = Vec::new();
    let bytes = args.as_bytes();
    let mut depth = 0usize;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'(' | b'[' | b'{' => depth += 1,
            b')' | b']' | b'}' => depth = depth.saturating_sub(1),
            b'"' => {
                let end = i + 1 + args[i + 1..].find('"').unwrap_or(args.len() - i - 1);
                let literal = &args[i + 1..end.min(args.len())];
                let after = args[(end + 1).min(args.len())..].trim_start();
                if depth == 0 {
                    if let Some(value) = after.strip_prefix("=>") {
                        let value = value.trim_start();
                        let literal_value = value.strip_prefix('"').and_then(|v| {
                            let close = v.find('"')?;
                            let rest = v[close + 1..].trim_start();
                            // `"x".to_string()` is still the literal; anything else is computed.
                            (rest.is_empty()
                                || rest.starts_with(',')
                                || rest.starts_with(".to_string()")
                                || rest.starts_with(".into()"))
                            .then(|| v[..close].to_string())
                        });
                        pairs.push((literal.to_string(), literal_value));
                    }
                }
                i = end + 1;
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    pairs
}

/// Every series emitted in crates/*/src, by name (histograms under their three series).
pub fn emitted() -> BTreeMap<String, Series> {
    let crates = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut series: BTreeMap<String, Series> = BTreeMap::new();
    for krate in std::fs::read_dir(&crates).unwrap().flatten() {
        let src = krate.path().join("src");
        if !src.is_dir() {
            continue;
        }
        let mut files = Vec::new();
        rust_files(&src, &mut files);
        for f in files {
            let text = std::fs::read_to_string(&f).unwrap();
            for (macro_name, suffixes) in [
                ("counter!(", &[""][..]),
                ("gauge!(", &[""][..]),
                ("histogram!(", &["_bucket", "_sum", "_count"][..]),
            ] {
                for piece in text.split(macro_name).skip(1) {
                    let piece = piece.trim_start();
                    let Some(rest) = piece.strip_prefix('"') else {
                        continue;
                    };
                    let name: String = rest.chars().take_while(|c| *c != '"').collect();
                    let args = call_arguments(&rest[name.len() + 1..]);
                    let pairs = label_pairs(args);
                    for s in suffixes {
                        let entry = series.entry(format!("{name}{s}")).or_default();
                        for (label, value) in &pairs {
                            entry.labels.insert(label.clone());
                            match value {
                                Some(v) if !entry.dynamic.contains(label) => {
                                    entry
                                        .values
                                        .entry(label.clone())
                                        .or_default()
                                        .insert(v.clone());
                                }
                                Some(_) => {}
                                None => {
                                    entry.dynamic.insert(label.clone());
                                    entry.values.remove(label);
                                }
                            }
                        }
                    }
                }
            }
        }
    }
    series
}
