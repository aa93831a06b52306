//! Grants: a new grant's token opens its server at once, and stops at
//! once when revoked; names are unique across configuration and store.

use serde_json::{Value, json};
use toolgate_testkit::client::Client;
use toolgate_testkit::harness::TestGateway;

use crate::admin::Admin;

pub(crate) async fn grants(gw: &TestGateway, admin: &Admin<'_>) {
    let list = admin.get("/api/v1/grants", &[]).await;
    assert_eq!(list.status, 200);
    assert_eq!(list.body["grants"][0]["name"], "tester");
    assert_eq!(list.body["grants"][0]["source"], "config");

    let new = json!({"name": "agent-7", "server": "fx", "policy": "p"});
    let created = admin.post_json("/api/v1/grants", &[], &new).await;
    assert_eq!(created.status, 201, "{:?}", created.body);
    assert_eq!(created.body["source"], "store");
    let token = created.body["token"].as_str().unwrap().to_owned();

    // The token works right away.
    let mut client = Client::new(&gw.url("fx"), Some(&token), "2025-11-25");
    client.initialize().await;
    let call = client.call_tool("test_simple_text", json!({})).await;
    assert_eq!(call.status, 200);
    assert!(call.result()["content"].is_array(), "{call:?}");

    for (body, status) in [
        (new.clone(), 409),
        (json!({"name": "tester", "server": "fx"}), 409),
        (json!({"name": "x", "server": "nope"}), 400),
        (json!({"name": "x", "server": "fx", "policy": "nope"}), 400),
        (json!({"name": "bad name!", "server": "fx"}), 400),
        (json!({"name": "x", "server": "fx", "extra": 1}), 400),
        (json!({"server": "fx"}), 400),
    ] {
        let a = admin.post_json("/api/v1/grants", &[], &body).await;
        assert_eq!(a.status, status, "{body} → {:?}", a.body);
    }
    let garbage = admin
        .send(
            reqwest::Method::POST,
            "/api/v1/grants",
            &[],
            Some(("application/json", b"{not json".to_vec())),
        )
        .await;
    assert_eq!(garbage.status, 400);

    let listed = admin.get("/api/v1/grants", &[]).await;
    let mine = find(&listed.body, "agent-7");
    assert_eq!(mine["revoked_at"], Value::Null);
    assert!(
        !listed.body.to_string().contains(&token),
        "a list never shows a token"
    );

    let config = admin.delete("/api/v1/grants/{name}", &["tester"]).await;
    assert_eq!(config.status, 409, "{:?}", config.body);
    let unknown = admin.delete("/api/v1/grants/{name}", &["nobody"]).await;
    assert_eq!(unknown.status, 404, "{:?}", unknown.body);
    let revoked = admin.delete("/api/v1/grants/{name}", &["agent-7"]).await;
    assert_eq!(revoked.status, 204, "{:?}", revoked.body);

    // The next request with the same token is refused.
    let after = client.call_tool("test_simple_text", json!({})).await;
    assert_eq!(after.status, 401, "{after:?}");
    let listed = admin.get("/api/v1/grants", &[]).await;
    assert!(find(&listed.body, "agent-7")["revoked_at"].is_string());
}

fn find(list: &Value, name: &str) -> Value {
    list["grants"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["name"] == name)
        .cloned()
        .unwrap_or_else(|| panic!("no grant {name} in {list}"))
}
