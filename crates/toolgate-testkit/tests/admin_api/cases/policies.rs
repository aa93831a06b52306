//! Policies: validation reports positions; a bad replacement writes
//! nothing and the old version keeps deciding; a good one decides the very
//! next call.

use std::path::Path;

use reqwest::Method;
use serde_json::json;
use toolgate_testkit::client::Client;
use toolgate_testkit::harness::{TOKEN, TestGateway};

use crate::POLICY_V1;
use crate::admin::Admin;

/// `echo` allowed now; `test_image_content` still hidden.
const POLICY_V2: &str = r#"{"version": "1", "default": "allow", "hide": ["test_image_content"]}"#;
/// Not a policy: `default` must be `allow` or `deny` (line 2).
const POLICY_BAD: &str = "{\"version\": \"1\",\n \"default\": \"maybe\"}";
/// A valid policy, but YAML, and the file is `.json`.
const POLICY_YAML: &str = "version: \"1\"\ndefault: allow\n";

const ONE: &str = "/api/v1/policies/{name}";
const VALIDATE: &str = "/api/v1/policies/{name}/validate";

pub(crate) async fn policies(gw: &TestGateway, admin: &Admin<'_>, file: &Path) {
    let list = admin.get("/api/v1/policies", &[]).await;
    assert_eq!(list.status, 200);
    let v1 = list.body["policies"][0]["version"].clone();
    assert_eq!(list.body["policies"][0]["file"], file.display().to_string());

    let one = admin.get(ONE, &["p"]).await;
    assert_eq!(one.status, 200);
    assert_eq!(one.body["source"], POLICY_V1);
    assert_eq!(one.body["version"], v1);
    assert_eq!(one.body["source_version"], v1);
    assert_eq!(admin.get(ONE, &["nope"]).await.status, 404);

    let good = admin
        .text(Method::POST, VALIDATE, &["p"], POLICY_V2.as_bytes())
        .await;
    assert_eq!(good.status, 200, "{:?}", good.body);
    let v2 = good.body["version"].clone();
    assert_ne!(v2, v1);
    let bad = admin
        .text(Method::POST, VALIDATE, &["p"], POLICY_BAD.as_bytes())
        .await;
    assert_eq!(bad.status, 422, "{:?}", bad.body);
    let error = bad.body["error"].as_str().unwrap();
    assert!(
        error.starts_with(&format!("{}:2:", file.display())),
        "{error}"
    );
    assert_eq!(bad.body["line"], 2);
    assert_eq!(bad.body["path"], "default");
    let yaml = admin
        .text(Method::POST, VALIDATE, &["p"], POLICY_YAML.as_bytes())
        .await;
    assert_eq!(
        yaml.status, 422,
        "a .json file takes JSON only: {:?}",
        yaml.body
    );
    let binary = admin
        .text(Method::POST, VALIDATE, &["p"], &[0xff, 0xfe])
        .await;
    assert_eq!(binary.status, 400);
    let unknown = admin
        .text(Method::POST, VALIDATE, &["nope"], POLICY_V2.as_bytes())
        .await;
    assert_eq!(unknown.status, 404);

    let mut client = Client::new(&gw.url("fx"), Some(TOKEN), "2025-11-25");
    client.initialize().await;
    let echo = || client.call_tool("echo", json!({"message": "hi"}));

    // A bad replacement: 422, the file untouched, v1 still deciding.
    let refused = admin
        .text(Method::PUT, ONE, &["p"], POLICY_BAD.as_bytes())
        .await;
    assert_eq!(refused.status, 422, "{:?}", refused.body);
    assert_eq!(std::fs::read_to_string(file).unwrap(), POLICY_V1);
    assert_eq!(admin.get(ONE, &["p"]).await.body["version"], v1);
    let denied = echo().await;
    assert_eq!(
        denied.result()["content"][0]["text"],
        "[POLICY DENIED] echo is off"
    );

    // A good one: in force before the answer.
    let put = admin
        .text(Method::PUT, ONE, &["p"], POLICY_V2.as_bytes())
        .await;
    assert_eq!(put.status, 200, "{:?}", put.body);
    assert_eq!(put.body["version"], v2);
    let allowed = echo().await;
    assert_eq!(
        allowed.result()["content"][0]["text"],
        "Echo: hi",
        "{allowed:?}"
    );
    assert_eq!(std::fs::read_to_string(file).unwrap(), POLICY_V2);
    let now = admin.get(ONE, &["p"]).await;
    assert_eq!(now.body["version"], v2);
    assert_eq!(now.body["source"], POLICY_V2);

    let nowhere = admin
        .text(Method::PUT, ONE, &["nope"], POLICY_V2.as_bytes())
        .await;
    assert_eq!(nowhere.status, 404);
    let binary = admin.text(Method::PUT, ONE, &["p"], &[0xff]).await;
    assert_eq!(binary.status, 400);
}
