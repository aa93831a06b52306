//! `toolgate-load config`: the files `compare` runs toolgate with, written
//! where a person (or `scripts/bench-instructions.sh`) can run it by hand.
#![allow(clippy::expect_used, reason = "tests fail by panicking")]

use std::process::Command;

#[test]
fn config_writes_the_gateway_config_and_policy() {
    let dir = std::env::temp_dir().join(format!("toolgate-load-config-{}", std::process::id()));
    let out = Command::new(env!("CARGO_BIN_EXE_toolgate-load"))
        .args(["config", "--dir"])
        .arg(&dir)
        .args([
            "--listen",
            "127.0.0.1:18802",
            "--upstream",
            "http://127.0.0.1:18801/mcp",
        ])
        .output()
        .expect("toolgate-load runs");
    assert!(out.status.success(), "{out:?}");
    let config_path = dir.join("toolgate.yaml");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        config_path.display().to_string()
    );
    let config = std::fs::read_to_string(&config_path).expect("toolgate.yaml written");
    assert!(config.contains("listen: 127.0.0.1:18802"), "{config}");
    assert!(
        config.contains("url: http://127.0.0.1:18801/mcp"),
        "{config}"
    );
    assert!(config.contains("audit: sqlite://audit.db"), "{config}");
    let policy: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("policy.json")).expect("policy written"))
            .expect("the policy is JSON");
    assert_eq!(policy, toolgate_load::gateway::policy());
    std::fs::remove_dir_all(&dir).expect("cleaned up");
}
