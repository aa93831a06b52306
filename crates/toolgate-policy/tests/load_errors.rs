//! Data-driven load-error tests: every `tests/errors/*.yaml` is a list of
//! bad policies, each with the exact error it must produce
//! (`{source}:{line}:{column}: {path}: {message}`).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test code: a failure should stop the test with the value"
)]

use std::path::Path;

use serde::Deserialize;
use toolgate_policy::Policy;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ErrorCase {
    name: String,
    /// The name given to the loader (its extension does not pick the format:
    /// `from_str_auto` looks at the text).
    source: String,
    policy: String,
    error: String,
}

#[test]
fn load_errors() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/errors");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    let mut failures = Vec::new();
    let mut count = 0;
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap();
        let cases: Vec<ErrorCase> =
            yaml_serde::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        for case in cases {
            count += 1;
            match Policy::from_str_auto(&case.policy, &case.source) {
                Ok(_) => failures.push(format!("{}: loaded, expected {}", case.name, case.error)),
                Err(e) if e.to_string() != case.error => failures.push(format!(
                    "{}:\n     got: {e}\n    want: {}",
                    case.name, case.error
                )),
                Err(e) => {
                    // The parts agree with the text.
                    let rebuilt = format!(
                        "{}:{}:{}: {}: {}",
                        e.source_name, e.line, e.column, e.path, e.message
                    );
                    assert_eq!(rebuilt, case.error, "{}", case.name);
                }
            }
        }
    }
    assert!(count >= 30, "error cases are missing");
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
