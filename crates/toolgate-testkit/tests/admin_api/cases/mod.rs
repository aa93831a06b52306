//! The scenarios, one function per part of the API.

mod grants;
mod policies;

use reqwest::Method;
use serde_json::{Value, json};

pub(crate) use self::grants::grants;
pub(crate) use self::policies::policies;
use crate::admin::Admin;
use crate::{authenticated, placeholders};

/// Every authenticated route refuses a missing and a wrong token with
/// `status` (401; 403 when the API is off), and says nothing of the token.
pub(crate) async fn refusals(admin: &Admin<'_>, status: u16) {
    let wrong = "wrong-token-0123456789abcdef";
    for token in [None, Some(wrong)] {
        let admin = admin.with_token(token);
        for (method, path) in authenticated() {
            let a = admin
                .send(method.clone(), path, &placeholders(path), None)
                .await;
            assert_eq!(
                a.status, status,
                "{method} {path} with {token:?}: {:?}",
                a.body
            );
            let error = a.body["error"].as_str().unwrap();
            assert!(!error.contains(wrong), "{error}");
            if status == 403 {
                assert_eq!(error, "the admin API is disabled: set admin.token");
            }
        }
    }
    if status == 401 {
        let metrics = admin.get("/metrics", &[]).await;
        let text = metrics.body.as_str().unwrap();
        assert!(text.contains("reason=\"admin_unauthorized\""), "{text}");
    }
}

/// `/metrics` and `/healthz` need no token; `/healthz` says `healthz`
/// (503 while a server is down). Unknown paths are a JSON 404.
pub(crate) async fn open_routes(admin: &Admin<'_>, healthz: u16) {
    let open = admin.with_token(None);
    let metrics = open.get("/metrics", &[]).await;
    assert_eq!(metrics.status, 200);
    assert_eq!(open.get("/healthz", &[]).await.status, healthz);
    let unknown = reqwest::get(format!("{}/api/v1/nothing-here", admin.base()))
        .await
        .unwrap();
    assert_eq!(unknown.status(), 404);
    let body: Value = unknown.json().await.unwrap();
    assert_eq!(body, json!({"error": "no such route"}));
}

pub(crate) async fn health(admin: &Admin<'_>) {
    let h = admin.get("/api/v1/health", &[]).await;
    assert_eq!(h.status, 200);
    assert_eq!(h.body["status"], "degraded", "`down` is never ready");
    assert_eq!(h.body["grant_store"], "sqlite");
    assert!(h.body["audit"]["queue_depth"].is_u64());
    let servers = h.body["servers"].as_array().unwrap();
    let down = servers.iter().find(|s| s["name"] == "down").unwrap();
    assert_eq!(down["ready"], false);
    assert!(down["error"].is_string(), "{down}");
    let fx = servers.iter().find(|s| s["name"] == "fx").unwrap();
    assert_eq!(fx["ready"], true);
    assert_eq!(h.body["policies"][0]["name"], "p");
}

/// Where each server is (no more), and its tools live, with hints.
pub(crate) async fn servers(admin: &Admin<'_>, fy_url: &str) {
    let list = admin.get("/api/v1/servers", &[]).await;
    assert_eq!(list.status, 200);
    let find = |name: &str| {
        list.body["servers"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["name"] == name)
            .cloned()
            .unwrap()
    };
    let fx = find("fx");
    assert_eq!(fx["transport"], "stdio");
    assert_eq!(fx["command"], "toolgate-fixture", "the program's name only");
    assert_eq!(find("fy")["transport"], "streamable_http");
    assert_eq!(find("fy")["url"], fy_url);
    assert_eq!(find("fy")["generation"], "stateless");
    assert_eq!(find("down")["ready"], false);

    // fx: a process of its own, with the policy in force (echo allowed
    // since the PUT, test_image_content hidden).
    let tools = admin.get("/api/v1/servers/{name}/tools", &["fx"]).await;
    assert_eq!(tools.status, 200, "{:?}", tools.body);
    let tool = |name: &str| {
        tools.body["tools"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["name"] == name)
            .cloned()
            .unwrap_or_else(|| panic!("no {name} in {:#}", tools.body))
    };
    let echo = tool("echo");
    assert_eq!(echo["inputSchema"]["required"], json!(["message"]));
    assert_eq!(echo["policies"][0]["policy"], "p");
    assert_eq!(
        echo["policies"][0]["grants"],
        json!(["tester"]),
        "revoked grants are gone"
    );
    assert_eq!(echo["policies"][0]["verdict"], "allow");
    assert_eq!(tool("test_image_content")["policies"][0]["verdict"], "hide");

    // fy: the shared stateless connection; no grant opens it.
    let fy = admin.get("/api/v1/servers/{name}/tools", &["fy"]).await;
    assert_eq!(fy.status, 200, "{:?}", fy.body);
    assert!(fy.body["tools"].as_array().unwrap().len() > 5);
    assert_eq!(fy.body["tools"][0]["policies"], json!([]));

    let down = admin.get("/api/v1/servers/{name}/tools", &["down"]).await;
    assert_eq!(down.status, 502, "{:?}", down.body);
    let nope = admin.get("/api/v1/servers/{name}/tools", &["nope"]).await;
    assert_eq!(nope.status, 404);
}

/// With `grant_store: none`: configured grants list, nothing can be made
/// or revoked.
pub(crate) async fn without_store(admin: &Admin<'_>) {
    let list = admin.get("/api/v1/grants", &[]).await;
    assert_eq!(list.status, 200);
    assert_eq!(list.body["grants"].as_array().unwrap().len(), 1);
    let made = admin
        .post_json("/api/v1/grants", &[], &json!({"name": "a", "server": "fx"}))
        .await;
    assert_eq!(made.status, 503, "{:?}", made.body);
    let revoked = admin.delete("/api/v1/grants/{name}", &["ghost"]).await;
    assert_eq!(revoked.status, 503, "{:?}", revoked.body);
    let h = admin.get("/api/v1/health", &[]).await;
    assert_eq!(h.body["status"], "ok");
    assert_eq!(h.body["grant_store"], Value::Null);
}

/// A body over the limit is a JSON 413 on every route that takes one; a
/// method a path does not serve is a JSON 405 that says what is allowed.
pub(crate) async fn limits(admin: &Admin<'_>) {
    let big = vec![b' '; toolgate_gateway::server::admin::MAX_BODY_BYTES + 1];
    for (method, path) in [
        (Method::POST, "/api/v1/grants"),
        (Method::POST, "/api/v1/policies/{name}/validate"),
        (Method::PUT, "/api/v1/policies/{name}"),
    ] {
        let a = admin
            .text(method.clone(), path, &placeholders(path), &big)
            .await;
        assert_eq!(a.status, 413, "{method} {path}: {:?}", a.body);
        let error = a.body["error"].as_str().unwrap();
        assert!(error.contains("larger than the admin API takes"), "{error}");
    }
    let http = reqwest::Client::new();
    for (method, path, token) in [
        (Method::DELETE, "/api/v1/servers", Some(crate::ADMIN_TOKEN)),
        (Method::POST, "/metrics", None),
    ] {
        let mut req = http.request(method.clone(), format!("{}{path}", admin.base()));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let resp = req.send().await.unwrap();
        assert_eq!(resp.status(), 405, "{method} {path}");
        let allow = resp.headers()["allow"].to_str().unwrap().to_owned();
        assert!(allow.contains("GET"), "{method} {path}: allow {allow}");
        let body: Value = resp.json().await.unwrap();
        assert_eq!(
            body,
            json!({"error": format!("{method} is not allowed on this path")})
        );
    }
}
