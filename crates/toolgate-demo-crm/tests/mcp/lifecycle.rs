//! The MCP lifecycle: initialize and version negotiation, tools/list, and
//! the stateless 2026-07-28 revision.

use serde_json::{Value, json};

use crate::support::{exchange, initialize, request};

const STATELESS: &str = "2026-07-28";

fn meta(version: &str) -> Value {
    json!({ "io.modelcontextprotocol/protocolVersion": version })
}

#[tokio::test]
async fn initialize_echoes_supported_versions_and_offers_latest_otherwise() {
    let cases = [
        ("2024-11-05", "2024-11-05"),
        ("2025-03-26", "2025-03-26"),
        ("2025-06-18", "2025-06-18"),
        ("2025-11-25", "2025-11-25"),
        // Stateless clients do not initialize; one that does gets a session.
        (STATELESS, "2025-11-25"),
        ("2099-01-01", "2025-11-25"),
    ];
    for (requested, expected) in cases {
        let replies = exchange(&[initialize(requested)]).await;
        let result = &replies[0]["result"];
        assert_eq!(replies[0]["id"], 0);
        assert_eq!(result["protocolVersion"], expected, "requested {requested}");
        assert_eq!(
            result["capabilities"],
            json!({"tools": {"listChanged": false}})
        );
        assert_eq!(result["serverInfo"]["name"], "toolgate-demo-crm");
        assert_eq!(
            result["serverInfo"]["title"],
            "Demo CRM (Bitrix24-compatible tools)"
        );
        assert_eq!(result["serverInfo"]["version"], env!("CARGO_PKG_VERSION"));
        assert!(result["instructions"].as_str().unwrap().contains("%TITLE"));
    }
}

#[tokio::test]
async fn tools_list_returns_the_25_tools_with_schemas_and_annotations() {
    let replies = exchange(&[
        initialize("2025-06-18"),
        request(1, "tools/list", json!({})),
    ])
    .await;
    let tools = replies[1]["result"]["tools"].as_array().unwrap();
    let names: Vec<&str> = tools.iter().map(|t| t["name"].as_str().unwrap()).collect();
    assert_eq!(names, toolgate_demo_crm::tool_names());
    assert_eq!(replies[1]["result"].get("nextCursor"), None);
    for tool in tools {
        let name = tool["name"].as_str().unwrap();
        assert!(!tool["description"].as_str().unwrap().is_empty(), "{name}");
        let schema = &tool["inputSchema"];
        assert_eq!(schema["type"], "object", "{name}");
        let properties = schema["properties"].as_object().unwrap();
        for required in schema["required"].as_array().unwrap() {
            let required = required.as_str().unwrap();
            assert!(properties.contains_key(required), "{name}.{required}");
        }
        for (property, spec) in properties {
            let ty = if property == "completed" {
                "boolean"
            } else {
                "string"
            };
            assert_eq!(spec["type"], ty, "{name}.{property}");
            assert!(spec["description"].is_string(), "{name}.{property}");
        }
        let hints = match &name[..3] {
            "get" | "che" => [true, false, true],
            "cre" | "add" => [false, false, false],
            "upd" => [false, true, true],
            other => panic!("unexpected prefix {other}"),
        };
        let expected = json!({
            "readOnlyHint": hints[0], "destructiveHint": hints[1],
            "idempotentHint": hints[2], "openWorldHint": false,
        });
        assert_eq!(tool["annotations"], expected, "{name}");
    }
    let required = |name: &str| {
        let tool = tools.iter().find(|t| t["name"] == name).unwrap();
        tool["inputSchema"]["required"].clone()
    };
    assert_eq!(required("createLead"), json!(["title"]));
    assert_eq!(
        required("createActivity"),
        json!(["ownerTypeId", "ownerId", "typeId", "subject"])
    );
    assert_eq!(required("getCrmSummary"), json!([]));
}

#[test]
fn tool_names_are_the_bitrix24_servers_in_order() {
    let expected = [
        "getLeads",
        "getLead",
        "createLead",
        "updateLead",
        "getDeals",
        "getDeal",
        "createDeal",
        "updateDeal",
        "getContacts",
        "getContact",
        "getActivities",
        "getActivity",
        "createActivity",
        "updateActivity",
        "getUsers",
        "getUser",
        "getTasks",
        "getFile",
        "getLeadStatuses",
        "getDealCategories",
        "getDealStages",
        "getCrmSummary",
        "checkApiConnection",
        "getCallStatistics",
        "addTimelineComment",
    ];
    assert_eq!(toolgate_demo_crm::tool_names(), expected);
}

#[tokio::test]
async fn requests_before_initialize_are_refused_except_lifecycle_ones() {
    let replies = exchange(&[
        request(1, "tools/list", json!({})),
        request(
            2,
            "tools/call",
            json!({"name": "getLead", "arguments": {"id": "1"}}),
        ),
        // A sessionful revision in _meta does not replace initialize.
        request(3, "tools/list", json!({"_meta": meta("2025-06-18")})),
        request(4, "ping", json!({})),
        request(5, "server/discover", json!({})),
        initialize("2025-11-25"),
        request(6, "tools/list", json!({})),
    ])
    .await;
    for reply in &replies[0..3] {
        assert_eq!(reply["error"]["code"], -32600, "{reply}");
        assert_eq!(reply["error"]["message"], "Server not initialized");
    }
    assert_eq!(replies[3]["result"], json!({}));
    assert!(replies[4]["result"]["supportedVersions"].is_array());
    assert_eq!(replies[6]["result"]["tools"].as_array().unwrap().len(), 25);
}

#[tokio::test]
async fn server_discover_describes_the_server() {
    let replies = exchange(&[request(
        1,
        "server/discover",
        json!({"_meta": meta(STATELESS)}),
    )])
    .await;
    let result = &replies[0]["result"];
    let versions = json!([
        "2026-07-28",
        "2025-11-25",
        "2025-06-18",
        "2025-03-26",
        "2024-11-05"
    ]);
    assert_eq!(result["resultType"], "complete");
    assert_eq!(result["supportedVersions"], versions);
    assert_eq!(
        result["capabilities"],
        json!({"tools": {"listChanged": false}})
    );
    assert_eq!(result["serverInfo"]["name"], "toolgate-demo-crm");
    assert_eq!(result["ttlMs"], 0);
    assert_eq!(result["cacheScope"], "public");
    assert!(result["instructions"].is_string());
}

#[tokio::test]
async fn stateless_requests_are_served_without_initialize() {
    let call = json!({
        "name": "createLead",
        "arguments": {"title": "Stateless lead"},
        "_meta": meta(STATELESS),
    });
    let replies = exchange(&[
        request(1, "tools/call", call),
        request(2, "tools/list", json!({"_meta": meta(STATELESS)})),
        request(3, "ping", json!({"_meta": meta(STATELESS)})),
        request(
            4,
            "initialize",
            json!({"protocolVersion": STATELESS, "_meta": meta(STATELESS)}),
        ),
    ])
    .await;
    let created = &replies[0]["result"];
    assert_eq!(created["resultType"], "complete");
    assert_eq!(created["structuredContent"]["id"], "9");
    let list = &replies[1]["result"];
    assert_eq!(list["tools"].as_array().unwrap().len(), 25);
    assert_eq!(
        (&list["resultType"], &list["ttlMs"], &list["cacheScope"]),
        (&json!("complete"), &json!(0), &json!("public"))
    );
    assert_eq!(replies[2]["result"], json!({"resultType": "complete"}));
    // initialize does not exist in the stateless revision.
    assert_eq!(replies[3]["error"]["code"], -32601);
}

#[tokio::test]
async fn unsupported_meta_versions_are_refused_with_the_supported_list() {
    let cases = [json!("2030-01-01"), json!(20260728)];
    for requested in cases {
        let params = json!({"_meta": {"io.modelcontextprotocol/protocolVersion": requested}});
        let replies = exchange(&[initialize("2025-11-25"), request(1, "tools/list", params)]).await;
        let error = &replies[1]["error"];
        assert_eq!(error["code"], -32022, "{requested}");
        assert_eq!(error["data"]["requested"], requested);
        assert_eq!(error["data"]["supported"][0], STATELESS);
        assert_eq!(error["data"]["supported"].as_array().unwrap().len(), 5);
    }
}
