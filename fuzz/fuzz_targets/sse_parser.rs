//! Feeds arbitrary bytes, cut into arbitrary chunks, to the SSE decoder (as
//! an upstream's event stream arrives): it must yield events or a bounded
//! error, never panic, and never hand out an event larger than its limit.
#![no_main]

use libfuzzer_sys::fuzz_target;
use toolgate_mcp::sse::SseDecoder;

const LIMIT: usize = 4096;

fuzz_target!(|data: &[u8]| {
    // The first byte chooses the chunk size, so splits land everywhere.
    let Some((&split, rest)) = data.split_first() else {
        return;
    };
    let chunk = usize::from(split).max(1);
    let mut decoder = SseDecoder::new(LIMIT);
    let mut events = Vec::new();
    for piece in rest.chunks(chunk) {
        if decoder.feed(piece, &mut events).is_err() {
            return;
        }
    }
    for event in &events {
        assert!(
            event.data.len() <= LIMIT,
            "an event over the limit got through"
        );
    }
});
