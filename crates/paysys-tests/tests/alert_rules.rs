//! The alert rules in deploy/alerts name only metrics the services really emit: every
//! `paysys_*` series an expression uses is declared by a `counter!`, `gauge!` or `histogram!`
//! somewhere in crates/*/src (histograms also as `_bucket`, `_sum`, `_count`). A renamed metric
//! otherwise leaves an alert that can never fire. (`promtool check rules`, run by `make test`,
//! checks the syntax.)

use std::collections::BTreeSet;
use std::path::Path;

fn rust_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let p = entry.path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|e| e == "rs") {
            out.push(p);
        }
    }
}

/// Metric names emitted in the source, with the series a histogram exports.
fn emitted() -> BTreeSet<String> {
    let crates = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut names = BTreeSet::new();
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
                    for s in suffixes {
                        names.insert(format!("{name}{s}"));
                    }
                }
            }
        }
    }
    names
}

#[test]
fn every_metric_an_alert_uses_is_emitted_by_a_service() {
    let emitted = emitted();
    assert!(
        emitted.contains("paysys_http_requests_total"),
        "{emitted:?}"
    );
    let alerts = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/alerts");
    let mut checked = 0;
    for entry in std::fs::read_dir(&alerts).unwrap().flatten() {
        let text = std::fs::read_to_string(entry.path()).unwrap();
        for line in text.lines().filter(|l| l.trim_start().starts_with("expr:")) {
            let mut rest = line;
            while let Some(at) = rest.find("paysys_") {
                let name: String = rest[at..]
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                rest = &rest[at + name.len()..];
                // `job=~"paysys.*"` is a label value, not a metric.
                if name == "paysys_" {
                    continue;
                }
                assert!(
                    emitted.contains(&name),
                    "{}: {name} is not emitted by any service",
                    entry.path().display()
                );
                checked += 1;
            }
        }
    }
    assert!(
        checked >= 8,
        "only {checked} metric uses found in deploy/alerts"
    );
}
