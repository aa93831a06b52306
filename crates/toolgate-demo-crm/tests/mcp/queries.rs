//! Tools that read: list filters, statistics, the summary, reference data.

use serde_json::{Value, json};

use crate::support::{
    call_tool, call_tools, exchange, ids, initialize, payload, request, tool_error,
};

#[tokio::test]
async fn list_filters_select_the_expected_records() {
    let cases = [
        (
            "getLeads",
            "leads",
            "",
            vec!["1", "2", "3", "4", "5", "6", "7", "8"],
        ),
        (
            "getLeads",
            "leads",
            r#"{"STATUS_ID":"NEW"}"#,
            vec!["1", "2"],
        ),
        (
            "getLeads",
            "leads",
            r#"{"STATUS_ID":"CONVERTED"}"#,
            vec!["7", "8"],
        ),
        ("getLeads", "leads", r#"{"%TITLE":"acme"}"#, vec!["2", "7"]),
        ("getLeads", "leads", r#"{"%title":"ACME"}"#, vec!["2", "7"]),
        (
            "getLeads",
            "leads",
            r#"{"ASSIGNED_BY_ID":"2","STATUS_ID":"IN_PROCESS"}"#,
            vec!["3"],
        ),
        (
            "getLeads",
            "leads",
            r#"{">OPPORTUNITY":"15000"}"#,
            vec!["3", "7", "8"],
        ),
        (
            "getLeads",
            "leads",
            r#"{"!STATUS_ID":["JUNK","CONVERTED"]}"#,
            vec!["1", "2", "3", "4", "5"],
        ),
        (
            "getLeads",
            "leads",
            r#"{">=DATE_CREATE":"2026-01-09"}"#,
            vec!["1", "2", "3"],
        ),
        ("getLeads", "leads", r#"{"STATUS_ID":"NO_SUCH"}"#, vec![]),
        (
            "getDeals",
            "deals",
            r#"{"CATEGORY_ID":"1"}"#,
            vec!["5", "6"],
        ),
        (
            "getDeals",
            "deals",
            r#"{"CLOSED":"N","CURRENCY_ID":"USD"}"#,
            vec!["1", "2"],
        ),
        (
            "getContacts",
            "contacts",
            r#"{"COMPANY_ID":"1"}"#,
            vec!["1", "6"],
        ),
        (
            "getContacts",
            "contacts",
            r#"{"EMAIL":"raj.patel@initech.example"}"#,
            vec!["3"],
        ),
        (
            "getActivities",
            "activities",
            r#"{"TYPE_ID":"2"}"#,
            vec!["1", "4", "5", "6"],
        ),
        (
            "getActivities",
            "activities",
            r#"{"COMPLETED":"N"}"#,
            vec!["2", "7"],
        ),
        (
            "getUsers",
            "users",
            r#"{"%WORK_POSITION":"sales"}"#,
            vec!["1", "3"],
        ),
        ("getTasks", "tasks", r#"{"STATUS":"2"}"#, vec!["2", "3"]),
        (
            "getTasks",
            "tasks",
            r#"{"RESPONSIBLE_ID":"2"}"#,
            vec!["1", "2", "4"],
        ),
    ];
    for (tool, key, filter, expected) in cases {
        let result = call_tool(tool, json!({ "filter": filter })).await;
        assert_eq!(ids(payload(&result), key), expected, "{tool} {filter}");
    }
}

#[tokio::test]
async fn call_statistics_aggregate_completed_calls_in_range() {
    // (dateFrom, dateTo, calls, incoming, outgoing, total seconds, average)
    let cases = [
        (None, None, 4, 2, 2, 2421, 605),
        (Some("2026-01-09"), Some("2026-01-13"), 2, 2, 0, 1572, 786),
        (Some("2026-01-14"), None, 1, 0, 1, 95, 95),
        (None, Some("2026-01-08"), 1, 0, 1, 754, 754),
        (Some("2026-02-01"), None, 0, 0, 0, 0, 0),
    ];
    for (from, to, calls, incoming, outgoing, total, average) in cases {
        let result = call_tool("getCallStatistics", json!({"dateFrom": from, "dateTo": to})).await;
        let stats = payload(&result);
        let expected = json!({
            "dateFrom": from, "dateTo": to, "totalCalls": calls, "incoming": incoming,
            "outgoing": outgoing, "totalDuration": total, "averageDuration": average,
        });
        assert_eq!(stats, &expected, "{from:?}..{to:?}");
    }
    let bad = [
        (
            json!({"dateFrom": "2026-1-9"}),
            "dateFrom must be a date in YYYY-MM-DD format, got \"2026-1-9\"",
        ),
        (
            json!({"dateTo": "2026-02-30"}),
            "dateTo must be a date in YYYY-MM-DD format, got \"2026-02-30\"",
        ),
        (
            json!({"dateFrom": "15.01.2026"}),
            "dateFrom must be a date in YYYY-MM-DD format, got \"15.01.2026\"",
        ),
        (
            json!({"dateFrom": "2026-01-20", "dateTo": "2026-01-10"}),
            "dateFrom 2026-01-20 is after dateTo 2026-01-10",
        ),
    ];
    for (args, expected) in bad {
        let text = tool_error(&call_tool("getCallStatistics", args.clone()).await).to_string();
        assert_eq!(
            text,
            format!("Invalid arguments for getCallStatistics: {}", expected),
            "{args}"
        );
    }
}

#[tokio::test]
async fn summary_counts_agree_with_the_seed_and_the_list_tools() {
    let mut calls = vec![
        ("getCrmSummary", json!({})),
        ("checkApiConnection", json!({})),
    ];
    let statuses = ["NEW", "IN_PROCESS", "PROCESSED", "CONVERTED", "JUNK"];
    for status in statuses {
        calls.push((
            "getLeads",
            json!({"filter": format!("{{\"STATUS_ID\":\"{status}\"}}")}),
        ));
    }
    calls.push(("getLeadStatuses", json!({})));
    let results = call_tools(&calls).await;
    let summary = payload(&results[0]);
    let expected = json!({
        "leads": {"total": 8, "byStatus": {"NEW": 2, "IN_PROCESS": 2, "PROCESSED": 1, "CONVERTED": 2, "JUNK": 1}},
        "deals": {"total": 6, "open": 4, "won": 1, "lost": 1, "amountByCurrency": {"USD": "73500.00", "EUR": "24800.00"}},
        "activities": {"total": 7, "open": 2},
        "contacts": 6,
        "users": 4,
    });
    assert_eq!(summary, &expected);
    assert_eq!(
        payload(&results[1]),
        &json!({"status": "ok", "server": "toolgate-demo-crm", "records": 43})
    );
    for (status, listed) in statuses.iter().zip(&results[2..7]) {
        assert_eq!(
            summary["leads"]["byStatus"][status],
            payload(listed)["total"],
            "{status}"
        );
    }
    let listed: Vec<&Value> = payload(&results[7])["statuses"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| &s["STATUS_ID"])
        .collect();
    assert_eq!(listed, statuses.map(Value::from).iter().collect::<Vec<_>>());
}

#[tokio::test]
async fn reference_tools_describe_pipelines_users_and_files() {
    let results = call_tools(&[
        ("getDealCategories", json!({})),
        ("getDealStages", json!({})),
        ("getDealStages", json!({"categoryId": "1"})),
        ("getUser", json!({"id": "4"})),
        ("getFile", json!({"id": "1"})),
    ])
    .await;
    let categories = payload(&results[0]);
    assert_eq!(ids(categories, "categories"), ["0", "1"]);
    let stage_ids = |result: &Value| -> Vec<String> {
        let stages = payload(result)["stages"].as_array().unwrap().clone();
        stages
            .iter()
            .map(|s| s["STATUS_ID"].as_str().unwrap().to_string())
            .collect()
    };
    let sales = [
        "NEW",
        "PREPARATION",
        "PREPAYMENT_INVOICE",
        "EXECUTING",
        "FINAL_INVOICE",
        "WON",
        "LOSE",
    ];
    assert_eq!(stage_ids(&results[1]), sales);
    assert_eq!(
        stage_ids(&results[2]),
        [
            "C1:NEW",
            "C1:PREPARATION",
            "C1:EXECUTING",
            "C1:WON",
            "C1:LOSE"
        ]
    );
    assert_eq!(payload(&results[3])["WORK_POSITION"], "Partner Manager");
    let file = payload(&results[4]);
    assert_eq!(
        (&file["NAME"], &file["SIZE"]),
        (&json!("Acme_Logistics_Proposal.pdf"), &json!("482133"))
    );
    assert!(
        file["DOWNLOAD_URL"]
            .as_str()
            .unwrap()
            .starts_with("https://demo-crm.example.invalid/")
    );
}

#[tokio::test]
async fn identical_sessions_produce_identical_output() {
    let session = [
        initialize("2025-11-25"),
        request(
            1,
            "tools/call",
            json!({"name": "createLead", "arguments": {"title": "Twice"}}),
        ),
        request(
            2,
            "tools/call",
            json!({"name": "updateLead", "arguments": {"id": "9", "name": "Al"}}),
        ),
        request(
            3,
            "tools/call",
            json!({"name": "getCrmSummary", "arguments": {}}),
        ),
    ];
    let first = exchange(&session).await;
    assert_eq!(first, exchange(&session).await);
    let lead = &first[2]["result"]["structuredContent"];
    assert_eq!(lead["DATE_MODIFY"], "2026-01-15T09:02:00+00:00");
}
