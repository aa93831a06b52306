//! Feeds arbitrary bytes to the JSON-RPC envelope parser, as the HTTP edge
//! does with a request body: it must return a payload or an error, never
//! panic. A message that parses must survive a write and a re-parse
//! unchanged (the gateway forwards what it parsed byte for byte), and its
//! params view (what routing and policy read) must not panic either.
#![no_main]

use libfuzzer_sys::fuzz_target;
use toolgate_mcp::{Message, Payload};

fuzz_target!(|data: &[u8]| {
    let Ok(payload) = Payload::parse(data) else {
        return;
    };
    let messages = match payload {
        Payload::Single(m) => vec![m],
        Payload::Batch(items) => items,
    };
    for message in messages.into_iter().flatten() {
        let _ = message.params_view();
        let bytes = message.to_bytes();
        let text = std::str::from_utf8(&bytes).expect("a message writes UTF-8");
        let again = Message::parse_text(text).expect("a written message parses again");
        assert_eq!(again.to_bytes(), bytes, "write → parse → write is stable");
    }
});
