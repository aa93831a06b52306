//! Policies end to end: the gateway in front of the bundled demo CRM (the
//! real `toolgate demo crm` process), clients over real HTTP.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests fail by panicking"
)]

use serde_json::{Value, json};
use toolgate_testkit::client::{Client, STATELESS};
use toolgate_testkit::harness::{TestGateway, policy_file, start_gateway};

const SEED: &str = r#"{"version":"1","default":"deny","tools":{"createLead":{"limits":[{"counter":"createlead_rate","window":"minute","max":30,"scope":"grant"}]}}}"#;
const ALICE: &str = "alice-token-0123456789abcdef";
const BOB: &str = "bob-token-0123456789abcdef";

async fn gateway(policy: &str, name: &str) -> TestGateway {
    let path = policy_file(name, policy);
    // The counter tests send 200 calls at once from one grant: above the
    // default in-flight limit per grant, which is not what they test.
    let cfg = format!(
        "listen: 127.0.0.1:0\nhttp:\n  max_inflight_per_grant: 1000\nservers:\n  crm:\n    command: [{:?}, \"demo\", \"crm\"]\ngrants:\n  - {{name: alice, token: {ALICE}, server: crm, policy: p}}\n  - {{name: bob, token: {BOB}, server: crm, policy: p}}\n  - {{name: nobody, token: nobody-0123456789abcdef, server: crm}}\npolicies:\n  p: {:?}\n",
        env!("CARGO_BIN_EXE_toolgate"),
        path.display().to_string()
    );
    start_gateway(&cfg).await
}

async fn session(gw: &TestGateway, token: &str, version: &str) -> Client {
    let mut c = Client::new(&gw.url("crm"), Some(token), version);
    assert_eq!(c.initialize().await.status, 200);
    c
}

fn denial(result: &Value) -> String {
    assert_eq!(result["isError"], true, "{result}");
    let text = result["content"][0]["text"].as_str().unwrap().to_owned();
    assert!(text.starts_with("[POLICY DENIED] "), "{text}");
    text
}

#[tokio::test]
async fn the_seed_policy_allows_thirty_createlead_a_minute_per_grant() {
    let gw = gateway(SEED, "seed").await;
    let alice = session(&gw, ALICE, "2025-11-25").await;
    for i in 0..30 {
        let r = alice
            .call_tool("createLead", json!({"title": format!("lead {i}")}))
            .await;
        assert!(r.result().get("isError").is_none(), "call {i}: {r:#?}");
    }
    let r = alice
        .call_tool("createLead", json!({"title": "one too many"}))
        .await;
    assert_eq!(
        r.status, 200,
        "a denial is a tool result, not an HTTP error"
    );
    let text = denial(r.result());
    assert!(text.contains("at most 30 per minute per grant"), "{text}");
    assert!(text.contains("resets at"), "{text}");
    let meta = &r.result()["_meta"]["toolgate/decision"];
    assert_eq!(
        meta["rule"], "/tools/createLead/limits/createlead_rate",
        "{meta}"
    );
    assert!(
        meta["policyVersion"]
            .as_str()
            .unwrap()
            .starts_with("sha256:"),
        "{meta}"
    );
    assert_eq!(meta["retry"], false);

    // Another grant has its own thirty; a stateless client counts the same.
    let bob = Client::new(&gw.url("crm"), Some(BOB), STATELESS);
    for i in 0..30 {
        let r = bob
            .call_tool("createLead", json!({"title": format!("bob {i}")}))
            .await;
        assert_eq!(r.result()["resultType"], "complete");
        assert!(r.result().get("isError").is_none(), "bob call {i}: {r:#?}");
    }
    denial(
        bob.call_tool("createLead", json!({"title": "bob 31"}))
            .await
            .result(),
    );

    // Every other tool is denied (default deny), with its reason.
    let other = alice.call_tool("getLeads", json!({})).await;
    let text = denial(other.result());
    assert!(text.contains("getLeads"), "{text}");
    assert_eq!(
        other.result()["_meta"]["toolgate/decision"]["rule"],
        "(default deny)"
    );
    gw.stop().await;
}

#[tokio::test]
async fn a_call_the_upstream_fails_gives_its_count_back() {
    let policy = r#"{"version":"1","default":"allow","all_tools":{"limits":[{"counter":"calls","window":"hour","max":2}]}}"#;
    let gw = gateway(policy, "rollback").await;
    let c = session(&gw, ALICE, "2025-06-18").await;
    // The upstream answers an unknown tool with a JSON-RPC error: not counted.
    for _ in 0..5 {
        let r = c.call_tool("noSuchTool", json!({})).await;
        assert_eq!(r.error().unwrap()["code"], -32602, "{r:#?}");
    }
    for _ in 0..2 {
        let r = c.call_tool("getCrmSummary", json!({})).await;
        assert!(r.result().get("isError").is_none(), "{r:#?}");
    }
    let r = c.call_tool("getCrmSummary", json!({})).await;
    assert!(denial(r.result()).contains("at most 2 per hour"));
    gw.stop().await;
}

#[tokio::test]
async fn hidden_tools_are_invisible_and_unknown() {
    let policy = r#"{"version":"1","default":"allow","hide":["getFile","update*"]}"#;
    let gw = gateway(policy, "hide").await;
    for version in ["2025-11-25", STATELESS] {
        let c = session(&gw, ALICE, version).await;
        let list = c.request("tools/list", json!({})).await;
        let names: Vec<&str> = list.result()["tools"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["name"].as_str().unwrap())
            .collect();
        assert_eq!(names.len(), 25 - 4, "{names:?}");
        for hidden in ["getFile", "updateLead", "updateDeal", "updateActivity"] {
            assert!(!names.contains(&hidden), "{hidden} is listed");
        }
        let probe = c.call_tool("getFile", json!({"id": "1"})).await;
        let err = probe.error().unwrap_or_else(|| panic!("{probe:#?}"));
        assert_eq!(err["code"], -32602);
        let unknown = c.call_tool("noSuchTool", json!({})).await;
        assert_eq!(
            unknown.error().unwrap()["code"],
            -32602,
            "a hidden tool looks like an unknown one"
        );
    }
    gw.stop().await;
}

#[tokio::test]
async fn conditions_and_approval_reach_the_agent_as_denials() {
    let policy = r#"{"version":"1","default":"allow",
      "tools":{
        "createDeal":{"deny_if":[{"path":"args.amount","op":"gt","value":10000,"message":"Deals over 10,000 need a person."}]},
        "updateLead":{"require":[{"path":"args.id","op":"exists","value":true}],"on_deny":"updateLead needs an id."},
        "addTimelineComment":{"approval":{"timeout":"10m","reason":"Comments are visible to customers."}}}}"#;
    let gw = gateway(policy, "conditions").await;
    let c = session(&gw, ALICE, "2025-11-25").await;
    let big = c
        .call_tool("createDeal", json!({"title": "Big", "amount": "15000"}))
        .await;
    assert!(denial(big.result()).contains("Deals over 10,000 need a person."));
    let small = c
        .call_tool("createDeal", json!({"title": "Small", "amount": "900"}))
        .await;
    assert!(small.result().get("isError").is_none(), "{small:#?}");
    let no_id = c.call_tool("updateLead", json!({"title": "x"})).await;
    assert!(denial(no_id.result()).contains("updateLead needs an id."));
    let comment = c
        .call_tool(
            "addTimelineComment",
            json!({"entityType": "lead", "entityId": "1", "comment": "hi"}),
        )
        .await;
    let text = denial(comment.result());
    assert!(
        text.contains("Comments are visible to customers.") && text.contains("approval"),
        "{text}"
    );
    assert_eq!(
        comment.result()["_meta"]["toolgate/decision"]["verdict"],
        "approval_required"
    );
    gw.stop().await;
}

#[tokio::test]
async fn a_grant_without_a_policy_can_call_nothing() {
    let gw = gateway(r#"{"version":"1","default":"allow"}"#, "open-e2e").await;
    let c = session(&gw, "nobody-0123456789abcdef", "2025-11-25").await;
    let list = c.request("tools/list", json!({})).await;
    assert_eq!(list.result()["tools"].as_array().unwrap().len(), 25);
    let r = c.call_tool("getCrmSummary", json!({})).await;
    assert!(denial(r.result()).contains("no policy"));
    gw.stop().await;
}

/// Waits until `check` passes (a reload is asynchronous), or fails.
async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    while !check().await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for: {what}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn policy_files_reload_atomically_and_keep_their_counters() {
    let v1 = r#"{"version":"1","default":"deny","tools":{"getCrmSummary":{"limits":[{"counter":"summaries","window":"hour","max":3}]}}}"#;
    let gw = gateway(v1, "reload").await;
    let path = gw.gw.policies.as_ref().unwrap().files()["p"].clone();
    let _watch = toolgate_gateway::policy::watch(gw.gw.policies.clone().unwrap()).unwrap();
    let c = session(&gw, ALICE, "2025-11-25").await;
    for _ in 0..2 {
        assert!(
            c.call_tool("getCrmSummary", json!({}))
                .await
                .result()
                .get("isError")
                .is_none()
        );
    }
    denial(c.call_tool("getLeads", json!({})).await.result());

    // v2 allows getLeads too and keeps the counter: one summary left.
    let v2 = r#"{"version":"1","default":"deny","tools":{"getLeads":{},"getCrmSummary":{"limits":[{"counter":"summaries","window":"hour","max":3}]}}}"#;
    std::fs::write(&path, v2).unwrap();
    eventually("v2 in force", || async {
        c.call_tool("getLeads", json!({}))
            .await
            .result()
            .get("isError")
            .is_none()
    })
    .await;
    assert!(
        c.call_tool("getCrmSummary", json!({}))
            .await
            .result()
            .get("isError")
            .is_none()
    );
    denial(c.call_tool("getCrmSummary", json!({})).await.result());

    // An invalid file is refused; v2 keeps serving.
    let before = gw
        .gw
        .policies
        .as_ref()
        .unwrap()
        .get("p")
        .unwrap()
        .version()
        .to_owned();
    std::fs::write(&path, r#"{"version":"1","default":"deny","tools":{"getLeads":{"limits":[{"counter":"x","window":"minnute","max":1}]}}}"#).unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(600)).await;
    assert_eq!(
        gw.gw.policies.as_ref().unwrap().get("p").unwrap().version(),
        before
    );
    assert!(
        c.call_tool("getLeads", json!({}))
            .await
            .result()
            .get("isError")
            .is_none()
    );

    // Replaced by rename, as editors do: picked up too.
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, SEED).unwrap();
    std::fs::rename(&tmp, &path).unwrap();
    eventually("the seed policy in force", || async {
        c.call_tool("getLeads", json!({})).await.result()["isError"] == true
    })
    .await;
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_concurrent_calls_against_max_thirty_admit_exactly_thirty() {
    let gw = gateway(SEED, "concurrent").await;
    let c = std::sync::Arc::new(session(&gw, ALICE, "2025-11-25").await);
    let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(200));
    let calls: Vec<_> = (0..200)
        .map(|i| {
            let (c, barrier) = (c.clone(), barrier.clone());
            tokio::spawn(async move {
                barrier.wait().await;
                let r = c
                    .call_tool("createLead", json!({"title": format!("race {i}")}))
                    .await;
                r.result().get("isError").is_none()
            })
        })
        .collect();
    let mut admitted = 0;
    for call in calls {
        if call.await.unwrap() {
            admitted += 1;
        }
    }
    assert_eq!(admitted, 30);
    gw.stop().await;
}
