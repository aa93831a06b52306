//! JSON-RPC framing: parse errors, invalid messages, notifications,
//! batches and line-by-line flushing.

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

use crate::support::{exchange, exchange_bytes, initialize, notification, request};

#[tokio::test]
async fn malformed_and_unknown_messages_get_json_rpc_errors() {
    // (input line, expected id, expected code, expected message prefix)
    let cases: [(&str, Value, i64, &str); 11] = [
        ("{not json", Value::Null, -32700, "Parse error: "),
        (r#""hello""#, Value::Null, -32600, "Invalid Request"),
        (
            r#"{"jsonrpc":"1.0","id":5,"method":"ping"}"#,
            json!(5),
            -32600,
            "Invalid Request",
        ),
        (
            r#"{"jsonrpc":"2.0","id":{"a":1},"method":"ping"}"#,
            Value::Null,
            -32600,
            "Invalid Request",
        ),
        (
            r#"{"jsonrpc":"2.0","id":null,"method":"ping"}"#,
            Value::Null,
            -32600,
            "Invalid Request",
        ),
        (
            r#"{"jsonrpc":"2.0","id":"s6","method":7}"#,
            json!("s6"),
            -32600,
            "Invalid Request",
        ),
        (
            r#"{"jsonrpc":"2.0","id":7,"method":"resources/list"}"#,
            json!(7),
            -32601,
            "Method not found",
        ),
        (
            r#"{"jsonrpc":"2.0","id":8,"method":"tools/list","params":[1]}"#,
            json!(8),
            -32602,
            "Invalid params",
        ),
        (
            r#"{"jsonrpc":"2.0","id":9,"method":"tools/list","params":{"cursor":"p2"}}"#,
            json!(9),
            -32602,
            "Invalid cursor",
        ),
        (
            r#"{"jsonrpc":"2.0","id":10,"method":"tools/call","params":{"name":"dropDatabase"}}"#,
            json!(10),
            -32602,
            "Unknown tool: dropDatabase",
        ),
        (
            r#"{"jsonrpc":"2.0","id":11,"method":"tools/call","params":{"arguments":{}}}"#,
            json!(11),
            -32602,
            "Invalid params",
        ),
    ];
    for (line, id, code, message) in cases {
        let input = format!("{}\n{line}\n", initialize("2025-11-25"));
        let replies = exchange_bytes(input.as_bytes()).await;
        assert_eq!(replies.len(), 2, "{line}");
        let reply = &replies[1];
        assert_eq!(reply["jsonrpc"], "2.0");
        assert_eq!(reply["id"], id, "{line}");
        assert_eq!(reply["error"]["code"], code, "{line}");
        let text = reply["error"]["message"].as_str().unwrap();
        assert!(text.starts_with(message), "{line}: {text}");
    }
}

#[tokio::test]
async fn invalid_utf8_is_a_parse_error_not_the_end_of_the_session() {
    let mut input = b"\xff\xfe\n".to_vec();
    input.extend_from_slice(format!("{}\n", request(1, "ping", json!({}))).as_bytes());
    let replies = exchange_bytes(&input).await;
    assert_eq!(replies[0]["error"]["code"], -32700);
    assert_eq!(replies[1], json!({"jsonrpc": "2.0", "id": 1, "result": {}}));
}

#[tokio::test]
async fn blank_lines_and_crlf_are_tolerated_and_ping_answers_empty() {
    let input = format!("\n   \n{}\r\n\n", request(3, "ping", json!({})));
    let replies = exchange_bytes(input.as_bytes()).await;
    assert_eq!(replies, [json!({"jsonrpc": "2.0", "id": 3, "result": {}})]);
}

#[tokio::test]
async fn notifications_and_responses_get_no_reply() {
    let create = json!({"name": "createLead", "arguments": {"title": "Should not exist"}});
    let replies = exchange(&[
        initialize("2025-11-25"),
        notification("notifications/initialized", json!({})),
        notification(
            "notifications/cancelled",
            json!({"requestId": 0, "reason": "test"}),
        ),
        // A request method sent as a notification is not executed.
        notification("tools/call", create),
        json!({"jsonrpc": "2.0", "id": 42, "result": {}}),
        notification("notifications/unknown", json!({})),
        request(
            1,
            "tools/call",
            json!({"name": "getLeads", "arguments": {}}),
        ),
    ])
    .await;
    assert_eq!(replies.len(), 2, "{replies:#?}");
    assert_eq!(replies[1]["id"], 1);
    assert_eq!(replies[1]["result"]["structuredContent"]["total"], 8);
}

#[tokio::test]
async fn batches_answer_their_requests_in_an_array() {
    let batch = json!([
        request(1, "ping", json!({})),
        notification("notifications/initialized", json!({})),
        request(
            2,
            "tools/call",
            json!({"name": "getLead", "arguments": {"id": "2"}})
        ),
        "junk",
    ]);
    let only_notifications = json!([notification("notifications/initialized", json!({}))]);
    let replies = exchange(&[
        initialize("2025-03-26"),
        batch,
        only_notifications,
        json!([]),
    ])
    .await;
    assert_eq!(replies.len(), 3, "{replies:#?}");
    let answers = replies[1].as_array().unwrap();
    let ids: Vec<&Value> = answers.iter().map(|r| &r["id"]).collect();
    assert_eq!(ids, [&json!(1), &json!(2), &Value::Null]);
    assert_eq!(
        answers[1]["result"]["structuredContent"]["TITLE"],
        "Trade show lead: Acme Corp"
    );
    assert_eq!(answers[2]["error"]["code"], -32600);
    // An empty batch is itself an invalid request (JSON-RPC 2.0, section 6).
    assert_eq!(replies[2]["error"]["code"], -32600);
    assert_eq!(replies[2]["id"], Value::Null);
}

#[tokio::test]
async fn each_response_is_flushed_before_the_next_line_is_read() {
    let (client, server) = tokio::io::duplex(4096);
    let (server_read, server_write) = tokio::io::split(server);
    let serving = tokio::spawn(toolgate_demo_crm::serve(
        BufReader::new(server_read),
        server_write,
    ));
    let (client_read, mut client_write) = tokio::io::split(client);
    let mut lines = BufReader::new(client_read).lines();
    for (id, message) in [
        (0, initialize("2025-11-25")),
        (1, request(1, "ping", json!({}))),
    ] {
        client_write
            .write_all(format!("{message}\n").as_bytes())
            .await
            .unwrap();
        // Bounded so that a server that buffers until EOF fails instead of hanging.
        let line = tokio::time::timeout(std::time::Duration::from_secs(10), lines.next_line())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        let reply: Value = serde_json::from_str(&line).unwrap();
        assert_eq!(reply["id"], id);
    }
    // Half-close: the server sees end of input and stops, closing its side.
    client_write.shutdown().await.unwrap();
    serving.await.unwrap().unwrap();
    assert_eq!(lines.next_line().await.unwrap(), None);
}
