//! The JSON-RPC envelope on the data path: what the gateway does to the
//! bytes of every `tools/call` on its way up and back down. Run with
//! `cargo bench -p toolgate-mcp`; `scripts/bench-check.sh` compares their
//! fastest samples with a baseline before a commit.
//!
//! The steps are the gateway's forward path (`session/forward.rs`,
//! `upstream/rewrite.rs`), calling the same functions: parse the client's body, read the tool name and
//! arguments, give the request the upstream's id, write it; then parse the
//! upstream's answer (JSON, or an SSE event), put the client's id back,
//! read `isError`, write it. Members the gateway does not interpret stay
//! raw text throughout, so the cost should grow with the body's size only
//! through copying, not through parsing into values.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "benchmark setup: a failure should stop the run"
)]

use divan::{Bencher, black_box};
use toolgate_mcp::sse::SseDecoder;
use toolgate_mcp::{Id, Message, Payload};

fn main() {
    divan::main();
}

/// A typical agent call: a CRM lookup with a handful of arguments.
const REQUEST: &str = r#"{"jsonrpc":"2.0","id":"call-1f3a9c","method":"tools/call","params":{"name":"createLead","arguments":{"title":"Website enquiry","name":"Ada","lastName":"Lovelace","email":"ada@example.com","phone":"+44 20 7946 0000","sourceId":"WEB","comments":"Asked for a demo next week."},"_meta":{"progressToken":"p-77"}}}"#;

/// The upstream's answer to it.
const RESPONSE: &str = r#"{"jsonrpc":"2.0","id":41,"result":{"content":[{"type":"text","text":"{\"id\":4711,\"title\":\"Website enquiry\",\"status\":\"NEW\",\"created\":\"2026-11-24T09:00:00Z\"}"}],"structuredContent":{"id":4711,"title":"Website enquiry","status":"NEW","created":"2026-11-24T09:00:00Z"},"isError":false}}"#;

/// A call carrying 16 KiB of text (a document to summarize, a file to write).
fn large_request() -> String {
    let text = "lorem ipsum dolor sit amet ".repeat(16 * 1024 / 27);
    format!(
        r#"{{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{{"name":"write_file","arguments":{{"path":"/tmp/notes.txt","content":"{text}"}}}}}}"#
    )
}

fn single(bytes: &[u8]) -> Message {
    match Payload::parse(bytes).unwrap() {
        Payload::Single(m) => m.unwrap(),
        Payload::Batch(_) => unreachable!("a single message"),
    }
}

/// The way up: parse, read name and arguments, give the request the
/// upstream's id and progress token, write.
fn request_leg(body: &[u8], upstream_id: u64) -> (Id, Vec<u8>) {
    let mut msg = single(body);
    let view = msg.params_view().unwrap();
    black_box((&view.name, &view.arguments));
    let (client_id, _progress_token) = msg.remap_request(upstream_id).unwrap();
    (client_id, msg.to_bytes())
}

/// The way down: parse, restore the client's id, read `isError`, write.
fn response_leg(text: &str, client_id: Id) -> Vec<u8> {
    let mut msg = Message::parse_text(text).unwrap();
    msg.set_id(Some(client_id));
    black_box(msg.result_is_error());
    msg.to_bytes()
}

#[divan::bench]
fn parse_request(b: Bencher<'_, '_>) {
    b.bench(|| single(black_box(REQUEST.as_bytes())));
}

#[divan::bench]
fn parse_request_16k(b: Bencher<'_, '_>) {
    let body = large_request();
    b.bench(|| single(black_box(body.as_bytes())));
}

#[divan::bench]
fn params_view(b: Bencher<'_, '_>) {
    let msg = single(REQUEST.as_bytes());
    b.bench(|| black_box(&msg).params_view().unwrap());
}

#[divan::bench]
fn forward_request(b: Bencher<'_, '_>) {
    b.bench(|| request_leg(black_box(REQUEST.as_bytes()), 41));
}

#[divan::bench]
fn forward_request_16k(b: Bencher<'_, '_>) {
    let body = large_request();
    b.bench(|| request_leg(black_box(body.as_bytes()), 41));
}

#[divan::bench]
fn forward_response(b: Bencher<'_, '_>) {
    let id = Id::from_string("call-1f3a9c");
    b.bench(|| response_leg(black_box(RESPONSE), id.clone()));
}

/// The answer arriving as one SSE event (`text/event-stream`), decoded.
#[divan::bench]
fn forward_response_sse(b: Bencher<'_, '_>) {
    let mut event = Vec::new();
    toolgate_mcp::sse::encode(Some("ev-1"), None, RESPONSE.as_bytes(), &mut event);
    let id = Id::from_string("call-1f3a9c");
    b.bench(|| {
        let mut decoder = SseDecoder::new(1 << 20);
        let mut out = Vec::new();
        decoder.feed(black_box(&event), &mut out).unwrap();
        response_leg(&out[0].data, id.clone())
    });
}

/// Both legs: the envelope work the gateway does per `tools/call`.
#[divan::bench]
fn round_trip(b: Bencher<'_, '_>) {
    b.bench(|| {
        let (client_id, up) = request_leg(black_box(REQUEST.as_bytes()), 41);
        black_box(up);
        response_leg(black_box(RESPONSE), client_id)
    });
}

/// Not the gateway's code: plain CPU work that `scripts/bench-check.sh`
/// divides this binary's other figures by (see `toolgate_load::calibrate`).
#[divan::bench]
fn calibrate(b: Bencher<'_, '_>) {
    let data = toolgate_load::calibrate::data();
    b.bench(|| toolgate_load::calibrate::work(black_box(&data)));
}
