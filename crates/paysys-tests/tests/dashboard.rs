//! deploy/grafana/paysys-dashboard.json shows only what the services really export: every
//! `paysys_*` series a panel (or a template variable) queries is emitted in crates/*/src, every
//! label a query matches on or aggregates by is one that series is emitted with (and a label
//! compared with `=` to a literal takes a value the code emits, where the code's values are all
//! literals), the panels are well formed (unique ids, a datasource and a query each), and every
//! query is valid PromQL (`promtool check rules` on the queries as recording rules; promtool
//! comes with Debian's prometheus package, which `make test` installs).

#[path = "common/metrics_in_code.rs"]
mod metrics_in_code;

use metrics_in_code::Series;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

fn dashboard() -> Value {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/grafana/paysys-dashboard.json");
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap())
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Every panel, rows and the panels of collapsed rows included.
fn panels(dash: &Value) -> Vec<&Value> {
    fn walk<'a>(list: &'a Value, out: &mut Vec<&'a Value>) {
        for p in list.as_array().into_iter().flatten() {
            out.push(p);
            if let Some(children) = p.get("panels") {
                walk(children, out);
            }
        }
    }
    let mut out = Vec::new();
    walk(&dash["panels"], &mut out);
    out
}

/// (panel title, expression) of every query.
fn exprs(dash: &Value) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for p in panels(dash) {
        for t in p["targets"].as_array().into_iter().flatten() {
            if let Some(e) = t["expr"].as_str() {
                out.push((
                    p["title"].as_str().unwrap_or("?").to_string(),
                    e.to_string(),
                ));
            }
        }
    }
    out
}

fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == ':'
}

/// Each `paysys_*` metric an expression names, with the byte offset just after its name.
fn metrics_in(expr: &str) -> Vec<(String, usize)> {
    let mut out = Vec::new();
    let mut from = 0;
    while let Some(at) = expr[from..].find("paysys_").map(|i| from + i) {
        let name: String = expr[at..]
            .chars()
            .take_while(|c| is_name_char(*c))
            .collect();
        let starts_a_name = !expr[..at].ends_with(is_name_char);
        // Inside quotes it is a label value, not a metric.
        let quoted = !expr[..at].matches('"').count().is_multiple_of(2);
        from = at + name.len();
        if starts_a_name && !quoted && name != "paysys_" {
            out.push((name, from));
        }
    }
    out
}

/// The index of the bracket closing the one at `open` (which must be `(` or `{`).
fn closing(expr: &str, open: usize) -> usize {
    let (o, c) = match expr.as_bytes()[open] {
        b'(' => (b'(', b')'),
        b'{' => (b'{', b'}'),
        other => panic!("not a bracket: {}", other as char),
    };
    let mut depth = 0;
    let mut quoted = false;
    for (i, b) in expr.bytes().enumerate().skip(open) {
        match b {
            b'"' => quoted = !quoted,
            _ if quoted => {}
            _ if b == o => depth += 1,
            _ if b == c => {
                depth -= 1;
                if depth == 0 {
                    return i;
                }
            }
            _ => {}
        }
    }
    panic!("unbalanced {}: {expr}", o as char)
}

/// A selector's matchers: (label, operator, value).
fn matchers(selector: &str) -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    let mut rest = selector;
    while let Some(q) = rest.find('"') {
        let head = &rest[..q];
        let close = q + 1 + rest[q + 1..].find('"').expect("closed quote");
        let value = rest[q + 1..close].to_string();
        let head = head.trim_start_matches([',', ' ']);
        let op_at = head.find(['=', '!']).expect("a matcher operator");
        out.push((
            head[..op_at].trim().to_string(),
            head[op_at..].trim().to_string(),
            value,
        ));
        rest = &rest[close + 1..];
    }
    out
}

/// `by (...)` / `without (...)` clauses: the labels and the aggregated expression (the
/// bracket after the clause, or before it in the `sum(x) by (l)` form).
fn groupings(expr: &str) -> Vec<(Vec<String>, String)> {
    let mut out = Vec::new();
    for keyword in ["by", "without"] {
        let mut from = 0;
        while let Some(at) = expr[from..].find(keyword).map(|i| from + i) {
            from = at + keyword.len();
            let before_ok = !expr[..at].ends_with(is_name_char)
                && expr[..at].matches('"').count().is_multiple_of(2);
            let after = expr[from..].trim_start();
            if !before_ok || !after.starts_with('(') {
                continue;
            }
            let open = expr.len() - after.len();
            let close = closing(expr, open);
            let labels = expr[open + 1..close]
                .split(',')
                .map(|l| l.trim().to_string())
                .filter(|l| !l.is_empty())
                .collect();
            let next = expr[close + 1..].trim_start();
            let argument = if next.starts_with('(') {
                let open = expr.len() - next.len();
                expr[open..=closing(expr, open)].to_string()
            } else {
                // Postfix form: the bracket ending just before the keyword.
                let head = expr[..at].trim_end();
                assert!(head.ends_with(')'), "cannot read the grouping in {expr}");
                let end = head.len() - 1;
                let mut depth = 0;
                let mut start = end;
                for (i, b) in head.bytes().enumerate().rev() {
                    match b {
                        b')' => depth += 1,
                        b'(' => {
                            depth -= 1;
                            if depth == 0 {
                                start = i;
                                break;
                            }
                        }
                        _ => {}
                    }
                }
                head[start..=end].to_string()
            };
            out.push((labels, argument));
        }
    }
    out
}

#[test]
fn queries_are_read_as_expected() {
    let e = r#"sum by (job, le) (rate(paysys_x_bucket{job=~"$job", path!~"/m"}[5m])) / sum(paysys_y) without (instance)"#;
    assert_eq!(
        metrics_in(e)
            .into_iter()
            .map(|(m, _)| m)
            .collect::<Vec<_>>(),
        ["paysys_x_bucket", "paysys_y"]
    );
    assert_eq!(
        matchers(r#"job=~"$job", path!~"/m", status="5""#),
        [
            ("job".into(), "=~".into(), "$job".into()),
            ("path".into(), "!~".into(), "/m".into()),
            ("status".into(), "=".into(), "5".into()),
        ]
    );
    let g = groupings(e);
    assert_eq!(g.len(), 2);
    assert_eq!(g[0].0, ["job", "le"]);
    assert!(g[0].1.contains("paysys_x_bucket") && !g[0].1.contains("paysys_y"));
    assert_eq!(
        g[1],
        (vec!["instance".to_string()], "(paysys_y)".to_string())
    );
    assert!(metrics_in(r#"up{job=~"paysys_a"}"#).is_empty());
}

#[test]
fn the_shared_scan_reads_labels_and_values_from_the_calls() {
    let emitted = metrics_in_code::emitted();
    let http = &emitted["paysys_http_requests_total"];
    assert_eq!(
        http.labels,
        BTreeSet::from(["path".to_string(), "status".to_string()])
    );
    assert!(!http.values.contains_key("status"), "computed: {http:?}");
    let deliveries = &emitted["paysys_notifier_deliveries_total"];
    assert!(
        deliveries.values["outcome"].contains("delivered")
            && deliveries.values["outcome"].contains("dead"),
        "{deliveries:?}"
    );
    // A label computed by a `match` inside the call is one label, not the match's strings.
    let confirms = &emitted["paysys_adapter_confirms_total"];
    assert_eq!(
        confirms.labels,
        BTreeSet::from(["provider".to_string(), "result".to_string()])
    );
    let bucket = "paysys_rpc_duration_seconds_bucket";
    assert!(emitted[bucket].allows(bucket, "le") && emitted[bucket].allows(bucket, "method"));
    let sum = "paysys_rpc_duration_seconds_sum";
    assert!(!emitted[sum].allows(sum, "le"));
}

#[test]
fn panels_are_well_formed() {
    let dash = dashboard();
    assert!(
        dash["schemaVersion"].as_u64().is_some_and(|v| v >= 36),
        "schemaVersion {}",
        dash["schemaVersion"]
    );
    let variables: Vec<&str> = dash["templating"]["list"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|v| v["name"].as_str())
        .collect();
    assert!(variables.contains(&"DS_PROMETHEUS"), "{variables:?}");
    let mut ids = BTreeSet::new();
    let mut shown = 0;
    for p in panels(&dash) {
        let title = p["title"].as_str().unwrap_or("?");
        let id = p["id"].as_u64().unwrap_or_else(|| panic!("{title}: no id"));
        assert!(ids.insert(id), "panel id {id} ({title}) is used twice");
        assert!(p["gridPos"]["w"].as_u64().is_some(), "{title}: no gridPos");
        if p["type"] == "row" {
            continue;
        }
        shown += 1;
        assert_eq!(
            p["datasource"]["uid"], "${DS_PROMETHEUS}",
            "{title}: datasource"
        );
        let targets = p["targets"].as_array().filter(|t| !t.is_empty());
        let targets = targets.unwrap_or_else(|| panic!("{title}: no query"));
        let mut refs = BTreeSet::new();
        for t in targets {
            assert!(
                t["expr"].as_str().is_some_and(|e| !e.trim().is_empty()),
                "{title}: a target without expr"
            );
            assert!(refs.insert(t["refId"].to_string()), "{title}: refId twice");
            assert_eq!(t["datasource"]["uid"], "${DS_PROMETHEUS}", "{title}");
        }
    }
    assert!(shown >= 20, "only {shown} panels");
}

/// The series the issue asks the dashboard to show.
#[test]
fn the_dashboard_shows_red_payments_ledger_notifications_and_messaging() {
    let all: String = exprs(&dashboard())
        .into_iter()
        .map(|(_, e)| e + "\n")
        .collect();
    for series in [
        "paysys_http_requests_total",
        "paysys_http_request_duration_seconds_bucket",
        "paysys_rpc_calls_total",
        "paysys_rpc_duration_seconds_bucket",
        "paysys_adapter_starts_total",
        "paysys_callbacks_total",
        "paysys_ledger_events_total",
        "paysys_notifier_deliveries_total",
        "paysys_notifier_delivery_latency_seconds_bucket",
        "paysys_dead_letters",
        "paysys_broker_connected",
        "paysys_outbox_oldest_age_seconds",
        "paysys_queue_messages",
    ] {
        assert!(all.contains(series), "no panel shows {series}");
    }
}

fn check_labels(emitted: &BTreeMap<String, Series>, title: &str, expr: &str, checked: &mut usize) {
    for (name, end) in metrics_in(expr) {
        let series = emitted.get(&name).unwrap_or_else(|| {
            panic!("panel {title:?}: {name} is not emitted by any service: {expr}")
        });
        *checked += 1;
        if !expr[end..].starts_with('{') {
            continue;
        }
        let close = end + closing(&expr[end..], 0);
        for (label, op, value) in matchers(&expr[end + 1..close]) {
            assert!(
                series.allows(&name, &label),
                "panel {title:?}: {name} has no label {label:?} (emitted with {:?}): {expr}",
                series.labels
            );
            if op == "=" {
                if let Some(values) = series.values.get(&label) {
                    assert!(
                        values.contains(&value),
                        "panel {title:?}: {name}{{{label}=\"{value}\"}} never happens; the code emits {values:?}"
                    );
                }
            }
        }
    }
    for (labels, argument) in groupings(expr) {
        for (name, _) in metrics_in(&argument) {
            let series = &emitted[&name];
            for label in &labels {
                assert!(
                    series.allows(&name, label),
                    "panel {title:?}: grouped by {label:?} but {name} has no such label (emitted with {:?}): {expr}",
                    series.labels
                );
            }
        }
    }
}

#[test]
fn every_series_and_label_a_panel_uses_is_emitted_by_a_service() {
    let emitted = metrics_in_code::emitted();
    let dash = dashboard();
    let mut checked = 0;
    for (title, expr) in exprs(&dash) {
        check_labels(&emitted, &title, &expr, &mut checked);
    }
    // Template variables query the series too (`label_values(series, label)`).
    for v in dash["templating"]["list"].as_array().unwrap() {
        let Some(definition) = v["definition"].as_str() else {
            continue;
        };
        for (name, end) in metrics_in(definition) {
            let series = emitted
                .get(&name)
                .unwrap_or_else(|| panic!("variable {}: {name} is not emitted", v["name"]));
            if let Some(label) = definition[end..].strip_prefix(',') {
                let label = label.trim().trim_end_matches(')').trim();
                assert!(
                    series.allows(&name, label),
                    "variable {}: {name} has no {label}",
                    v["name"]
                );
            }
            checked += 1;
        }
    }
    assert!(checked >= 30, "only {checked} series uses found");
}

/// Grafana's variables, replaced by what they stand for so promtool can parse the query.
fn without_variables(expr: &str) -> String {
    let e = expr
        .replace("$__rate_interval", "5m")
        .replace("$__interval", "1m")
        .replace("$__range", "1h")
        .replace("${job}", ".*")
        .replace("$job", ".*");
    assert!(
        !e.contains('$'),
        "a variable the test does not know: {expr}"
    );
    e
}

#[test]
fn every_query_is_valid_promql() {
    let dash = dashboard();
    let mut rules = String::from("groups:\n  - name: paysys-dashboard\n    rules:\n");
    for (i, (title, expr)) in exprs(&dash).into_iter().enumerate() {
        rules.push_str(&format!(
            "      # {}\n      - record: paysys_dashboard:query_{i}\n        expr: {}\n",
            title.replace('\n', " "),
            serde_json::to_string(&without_variables(&expr)).unwrap()
        ));
    }
    let file = std::env::temp_dir().join(format!(
        "paysys-dashboard-{}-{}.rules.yml",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    ));
    std::fs::write(&file, &rules).unwrap();
    let out = std::process::Command::new("promtool")
        .args(["check", "rules"])
        .arg(&file)
        .output();
    let _ = std::fs::remove_file(&file);
    let out = out.unwrap_or_else(|e| {
        panic!("promtool not runnable ({e}): install Debian's prometheus package (scripts/test-deps.sh, run by `make test`)")
    });
    assert!(
        out.status.success(),
        "promtool check rules refused the dashboard's queries:\n{}{}\n{rules}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
