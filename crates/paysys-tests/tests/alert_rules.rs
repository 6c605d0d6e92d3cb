//! The alert rules in deploy/alerts name only metrics the services really emit: every
//! `paysys_*` series an expression uses is declared by a `counter!`, `gauge!` or `histogram!`
//! somewhere in crates/*/src (histograms also as `_bucket`, `_sum`, `_count`). A renamed metric
//! otherwise leaves an alert that can never fire. (`promtool check rules`, run by `make test`,
//! checks the syntax.)

#[path = "common/metrics_in_code.rs"]
mod metrics_in_code;

use std::path::Path;

#[test]
fn every_metric_an_alert_uses_is_emitted_by_a_service() {
    let emitted = metrics_in_code::emitted();
    assert!(
        emitted.contains_key("paysys_http_requests_total"),
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
                    emitted.contains_key(&name),
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
