//! Policies on the other methods that reach data: `resources/read` by URI,
//! `prompts/get` by name; and what a denial looks like for them.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests fail by panicking"
)]

use serde_json::json;
use toolgate_testkit::client::{Client, STATELESS};
use toolgate_testkit::harness::{
    TOKEN, UpstreamKind, config_with_policy, start_fixture, start_gateway,
};

const POLICY: &str = r#"{"version": "1", "default": "allow",
  "resources": {"rules": {"test://static-binary": {"action": "deny", "reason": "binary resources are off limits"}}},
  "prompts": {"default": "deny", "rules": {"test_simple_prompt": {}}}}"#;

#[tokio::test]
async fn resources_and_prompts_are_judged_by_uri_and_name() {
    let fixture = start_fixture(UpstreamKind::Stdio).await;
    let gw = start_gateway(&config_with_policy(
        UpstreamKind::Stdio,
        &fixture,
        "",
        POLICY,
    ))
    .await;
    for version in ["2025-11-25", STATELESS] {
        let mut c = Client::new(&gw.url("fx"), Some(TOKEN), version);
        c.initialize().await;
        let text = c
            .request("resources/read", json!({"uri": "test://static-text"}))
            .await;
        assert!(text.result()["contents"][0]["text"].is_string(), "{text:?}");
        let binary = c
            .request("resources/read", json!({"uri": "test://static-binary"}))
            .await;
        let err = binary.error().unwrap_or_else(|| panic!("{binary:#?}"));
        assert_eq!(err["code"], -31001);
        assert_eq!(
            err["message"],
            "[POLICY DENIED] binary resources are off limits"
        );
        assert_eq!(
            err["data"]["toolgate/decision"]["rule"],
            "/resources/rules/test:~1~1static-binary"
        );
        let simple = c
            .request("prompts/get", json!({"name": "test_simple_prompt"}))
            .await;
        assert!(simple.result()["messages"].is_array(), "{simple:?}");
        let other = c.request("prompts/get", json!({"name": "test_prompt_with_arguments", "arguments": {"arg1": "a", "arg2": "b"}})).await;
        assert_eq!(other.error().unwrap()["code"], -31001, "{other:?}");
        let listed = c.request("resources/list", json!({})).await;
        assert!(
            listed.result()["resources"].as_array().unwrap().len() >= 2,
            "lists are not judged"
        );
    }
    gw.stop().await;
}
