//! `toolgate policy check|explain|test`, run as a user runs them.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests fail by panicking"
)]

use std::path::PathBuf;
use std::process::Command;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn toolgate(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_toolgate"))
        .args(args)
        .current_dir(root())
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into(),
        String::from_utf8_lossy(&out.stderr).into(),
    )
}

#[test]
fn check_summarizes_a_valid_policy_and_locates_errors() {
    let (ok, out, _) = toolgate(&["policy", "check", "examples/quickstart/policies/crm.json"]);
    assert!(ok);
    assert!(
        out.starts_with("ok  examples/quickstart/policies/crm.json  sha256:"),
        "{out}"
    );
    assert!(out.contains("default deny"), "{out}");

    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, "{\"version\": \"1\", \"default\": \"deny\",\n \"tools\": {\"createLead\": {\"limits\": [\n   {\"counter\": \"c\", \"window\": \"minnute\", \"max\": 30}]}}}\n").unwrap();
    let (ok, _, err) = toolgate(&["policy", "check", bad.to_str().unwrap()]);
    assert!(!ok);
    let want = format!("{}:3:", bad.display());
    assert!(err.contains(&want), "{err}");
    assert!(
        err.contains("tools.createLead.limits[0].window: unknown window \"minnute\""),
        "{err}"
    );
}

#[test]
fn explain_names_the_rule() {
    let (ok, out, _) = toolgate(&[
        "policy",
        "explain",
        "examples/quickstart/policies/crm.json",
        "--tool",
        "createDeal",
        "--args",
        r#"{"title":"x","amount":"20000"}"#,
        "--json",
    ]);
    assert!(ok);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["verdict"], "deny");
    assert_eq!(v["rule"], "/tools/createDeal/deny_if/args.amount-gt");
}

#[test]
fn the_quickstart_policy_passes_its_own_cases_and_a_wrong_case_fails() {
    let (ok, out, err) = toolgate(&[
        "policy",
        "test",
        "examples/quickstart/policies/crm.json",
        "examples/quickstart/policies/crm.cases.yaml",
    ]);
    assert!(ok, "{out}{err}");
    assert!(out.contains("0 failed"), "{out}");
    let dir = tempfile::tempdir().unwrap();
    let cases = dir.path().join("cases.yaml");
    std::fs::write(
        &cases,
        "cases:\n  - {name: wrong, tool: getLeads, expect: deny}\n",
    )
    .unwrap();
    let (ok, out, _) = toolgate(&[
        "policy",
        "test",
        "examples/quickstart/policies/crm.json",
        cases.to_str().unwrap(),
    ]);
    assert!(!ok);
    assert!(
        out.contains("FAIL  wrong: expected deny, got allow"),
        "{out}"
    );
}
