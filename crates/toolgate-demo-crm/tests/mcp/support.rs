//! Drives `serve()` with whole sessions and reads back its responses.

use serde_json::{Value, json};

/// The first mutation of a session is stamped one minute after the
/// logical clock's base.
pub(crate) const FIRST_TICK: &str = "2026-01-15T09:01:00+00:00";

/// Feeds `input` to a fresh server and returns each output line, parsed.
pub(crate) async fn exchange_bytes(input: &[u8]) -> Vec<Value> {
    let mut output = Vec::new();
    toolgate_demo_crm::serve(input, &mut output).await.unwrap();
    let text = String::from_utf8(output).unwrap();
    assert!(
        text.is_empty() || text.ends_with('\n'),
        "unterminated output: {text}"
    );
    text.lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

/// Sends `messages`, one per line, and returns the responses.
pub(crate) async fn exchange(messages: &[Value]) -> Vec<Value> {
    let input: String = messages.iter().map(|m| format!("{m}\n")).collect();
    exchange_bytes(input.as_bytes()).await
}

/// An `initialize` request with id 0.
pub(crate) fn initialize(version: &str) -> Value {
    json!({
        "jsonrpc": "2.0", "id": 0, "method": "initialize",
        "params": {
            "protocolVersion": version,
            "capabilities": {},
            "clientInfo": {"name": "toolgate-tests", "version": "0"},
        },
    })
}

/// A request.
pub(crate) fn request(id: i64, method: &str, params: Value) -> Value {
    json!({ "jsonrpc": "2.0", "id": id, "method": method, "params": params })
}

/// A notification.
pub(crate) fn notification(method: &str, params: Value) -> Value {
    json!({ "jsonrpc": "2.0", "method": method, "params": params })
}

/// Initializes, calls each tool in turn, and returns each call's `result`.
pub(crate) async fn call_tools(calls: &[(&str, Value)]) -> Vec<Value> {
    let mut messages = vec![initialize("2025-11-25")];
    for (id, (name, arguments)) in (1..).zip(calls) {
        let params = json!({ "name": name, "arguments": arguments });
        messages.push(request(id, "tools/call", params));
    }
    let replies = exchange(&messages).await;
    assert_eq!(replies.len(), calls.len() + 1, "{replies:#?}");
    replies[1..]
        .iter()
        .zip(1..)
        .map(|(reply, id)| {
            assert_eq!(reply["id"], id, "{reply}");
            reply
                .get("result")
                .cloned()
                .unwrap_or_else(|| panic!("not a result: {reply}"))
        })
        .collect()
}

/// Calls one tool on a fresh server.
pub(crate) async fn call_tool(name: &str, arguments: Value) -> Value {
    call_tools(&[(name, arguments)]).await.remove(0)
}

/// The payload of a successful tool result, checking that the text content
/// is the same JSON, pretty-printed.
pub(crate) fn payload(result: &Value) -> &Value {
    assert_eq!(result.get("isError"), None, "tool failed: {result}");
    let structured = &result["structuredContent"];
    assert!(structured.is_object(), "{result}");
    assert_eq!(result["content"][0]["type"], "text");
    let text = result["content"][0]["text"].as_str().unwrap();
    assert_eq!(text, serde_json::to_string_pretty(structured).unwrap());
    structured
}

/// The message of a failed tool result.
pub(crate) fn tool_error(result: &Value) -> &str {
    assert_eq!(result["isError"], true, "tool did not fail: {result}");
    assert_eq!(result.get("structuredContent"), None);
    assert_eq!(result["content"][0]["type"], "text");
    result["content"][0]["text"].as_str().unwrap()
}

/// The IDs of the records in a list payload under `key`.
pub(crate) fn ids(payload: &Value, key: &str) -> Vec<String> {
    let items = payload[key].as_array().unwrap();
    assert_eq!(payload["total"], items.len());
    items
        .iter()
        .map(|item| item["ID"].as_str().unwrap().to_string())
        .collect()
}
