//! The admin API through its boundary: real gateways on loopback, every
//! answer checked against `docs/admin-openapi.yaml`, and the document
//! checked against the route table the router is built from.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests fail by panicking"
)]

mod admin;
mod cases;
mod spec;

use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;

use reqwest::Method;
use toolgate_gateway::server::admin::ROUTES;
use toolgate_testkit::harness::{
    Fixture, TOKEN, TestGateway, UpstreamKind, fixture_bin, policy_file, start_fixture,
    start_gateway_unready,
};

use crate::admin::Admin;
use crate::spec::{Seen, Spec};

/// The admin token of the test gateways.
const ADMIN_TOKEN: &str = "admin-token-0123456789abcdef";
/// Its SHA-256, for `admin.token_sha256`.
const ADMIN_TOKEN_SHA256: &str = "b82c960b03eefe922830902342744b424aa2c080c8a8d4db775d181949549a6c";

/// `echo` is denied, `test_image_content` hidden.
const POLICY_V1: &str = r#"{"version": "1", "default": "allow", "hide": ["test_image_content"],
  "tools": {"echo": {"action": "deny", "reason": "echo is off"}}}"#;

#[test]
fn the_spec_documents_exactly_the_routes_served() {
    let spec = Spec::load();
    spec.compile_all();
    let documented = spec.operations();
    let served: BTreeSet<(String, String)> = ROUTES
        .iter()
        .map(|r| (r.method.to_string(), r.path.to_owned()))
        .collect();
    let keys: BTreeSet<(String, String)> = documented.keys().cloned().collect();
    assert_eq!(keys, served, "docs/admin-openapi.yaml against ROUTES");
    for r in ROUTES {
        let op = &documented[&(r.method.to_string(), r.path.to_owned())];
        let statuses: BTreeSet<u16> = r.statuses.iter().copied().collect();
        assert_eq!(op.statuses, statuses, "{} {}: statuses", r.method, r.path);
        assert_eq!(
            op.authenticated, r.authenticated,
            "{} {}: security",
            r.method, r.path
        );
    }
}

#[tokio::test]
async fn every_route_against_live_gateways() {
    let spec = Spec::load();
    let stateless = start_fixture(UpstreamKind::HttpStateless).await;
    let name = format!("admin-{:x}", rand::random::<u64>());
    let policy = policy_file(&name, POLICY_V1);

    let gw = start(&main_config(&stateless, &policy), &["fx", "fy"]).await;
    let admin = Admin::new(&gw.admin, Some(ADMIN_TOKEN), &spec);
    cases::refusals(&admin, 401).await;
    cases::open_routes(&admin, 503).await;
    cases::health(&admin).await;
    cases::grants(&gw, &admin).await;
    cases::policies(&gw, &admin, &policy).await;
    cases::servers(&admin, stateless.url.as_deref().unwrap()).await;
    cases::limits(&admin).await;
    gw.stop().await;

    // No grant store, the admin token given by its hash, every server up.
    let quiet_policy = policy_file(&format!("{name}-quiet"), POLICY_V1);
    let quiet = start(&quiet_config(&quiet_policy), &["fx"]).await;
    let admin = Admin::new(&quiet.admin, Some(ADMIN_TOKEN), &spec);
    cases::open_routes(&admin, 200).await;
    cases::without_store(&admin).await;
    std::fs::remove_file(&quiet_policy).unwrap();
    let gone = admin.get("/api/v1/policies/{name}", &["p"]).await;
    assert_eq!(gone.status, 500, "{:?}", gone.body);
    quiet.stop().await;

    // No admin token: the API is off, metrics and health are not.
    let off = start(&off_config(), &["fx"]).await;
    let admin = Admin::new(&off.admin, Some(ADMIN_TOKEN), &spec);
    cases::refusals(&admin, 403).await;
    assert_eq!(admin.get("/metrics", &[]).await.status, 200);
    off.stop().await;

    // Every documented status was seen, but for those no test can cause
    // without breaking the machine (a store that fails mid-request, a full
    // disk, an upstream slower than its timeout).
    let documented: BTreeSet<Seen> = spec
        .operations()
        .into_iter()
        .flat_map(|((m, p), op)| {
            op.statuses
                .into_iter()
                .map(move |s| (m.clone(), p.clone(), s))
        })
        .collect();
    let unseen: BTreeSet<Seen> = documented.difference(&spec.seen()).cloned().collect();
    let infeasible: BTreeSet<Seen> = [
        ("GET", "/api/v1/grants", 503),
        ("PUT", "/api/v1/policies/{name}", 500),
        ("GET", "/api/v1/servers/{name}/tools", 504),
    ]
    .into_iter()
    .map(|(m, p, s)| (m.to_owned(), p.to_owned(), s))
    .collect();
    assert_eq!(unseen, infeasible, "documented statuses never seen");
}

/// Starts a gateway and waits for the servers in `ready` (others may never
/// be).
async fn start(yaml: &str, ready: &[&str]) -> TestGateway {
    let gw = start_gateway_unready(yaml).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while !ready
        .iter()
        .all(|s| gw.gw.server(s).is_some_and(|rt| rt.health().ready))
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{ready:?} not ready"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    gw
}

fn stdio_server() -> String {
    format!(
        "    command: [{:?}, \"stdio\"]\n",
        fixture_bin().display().to_string()
    )
}

/// `fx` over stdio, `fy` stateless over HTTP, `down` never reachable; the
/// token spelled as in the issue (`admin_token`); the grant store in the
/// audit database (the harness's).
fn main_config(stateless: &Fixture, policy: &Path) -> String {
    format!(
        "listen: 127.0.0.1:0\nadmin:\n  admin_token: {ADMIN_TOKEN}\nservers:\n  fx:\n{}  fy:\n    url: {:?}\n  down:\n    url: \"http://127.0.0.1:9/mcp\"\ngrants:\n  - {{name: tester, token: {TOKEN}, server: fx, policy: p}}\npolicies:\n  p: {:?}\n",
        stdio_server(),
        stateless.url.clone().unwrap_or_default(),
        policy.display().to_string(),
    )
}

fn quiet_config(policy: &Path) -> String {
    format!(
        "listen: 127.0.0.1:0\nadmin:\n  token_sha256: {ADMIN_TOKEN_SHA256}\ngrant_store: none\nservers:\n  fx:\n{}grants:\n  - {{name: tester, token: {TOKEN}, server: fx, policy: p}}\npolicies:\n  p: {:?}\n",
        stdio_server(),
        policy.display().to_string(),
    )
}

fn off_config() -> String {
    format!("listen: 127.0.0.1:0\nservers:\n  fx:\n{}", stdio_server())
}

/// Fills a route's `{...}` segments with `x`.
fn placeholders(path: &str) -> Vec<&'static str> {
    vec!["x"; path.matches('{').count()]
}

/// Every authenticated route, with no body.
fn authenticated() -> impl Iterator<Item = (Method, &'static str)> {
    ROUTES
        .iter()
        .filter(|r| r.authenticated)
        .map(|r| (r.method.clone(), r.path))
}
