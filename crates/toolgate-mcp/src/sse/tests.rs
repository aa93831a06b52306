use super::*;
use proptest::prelude::*;

fn decode_all(input: &[u8], max: usize) -> Result<Vec<SseEvent>, SseError> {
    let mut d = SseDecoder::new(max);
    let mut out = Vec::new();
    d.feed(input, &mut out)?;
    Ok(out)
}

fn ev(id: Option<&str>, event: Option<&str>, data: &str) -> SseEvent {
    SseEvent {
        id: id.map(str::to_owned),
        event: event.map(str::to_owned),
        data: data.to_owned(),
        retry: None,
    }
}

#[test]
fn decodes_the_whatwg_forms() {
    let input = b"\xef\xbb\xbf: comment\nid: 1\ndata: {\"a\":1}\n\nevent: endpoint\ndata:/message?s=1\r\n\r\ndata: x\rdata:  y\r\rid: p\ndata:\n\n";
    let got = decode_all(input, 1024).unwrap();
    assert_eq!(
        got,
        vec![
            ev(Some("1"), None, "{\"a\":1}"),
            ev(None, Some("endpoint"), "/message?s=1"),
            ev(None, None, "x\n y"),
            ev(Some("p"), None, ""),
        ]
    );
    assert_eq!(got[1].event_type(), "endpoint");
    assert_eq!(got[0].event_type(), "message");
}

#[test]
fn retry_and_unknown_fields() {
    let got = decode_all(b"retry: 500\nfoo: bar\nretry: x\n\n", 64).unwrap();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].retry, Some(500));
}

#[test]
fn oversized_event_is_refused() {
    let big = format!("data: {}\n\n", "x".repeat(100));
    assert_eq!(
        decode_all(big.as_bytes(), 50),
        Err(SseError::EventTooLarge { limit: 50 })
    );
    // A line that never ends is bounded too.
    assert!(decode_all(&[b'a'; 200], 50).is_err());
    // The limit is per event: many small events pass.
    let many = "data: 0123456789\n\n".repeat(100);
    assert_eq!(decode_all(many.as_bytes(), 50).unwrap().len(), 100);
}

#[test]
fn encode_then_decode() {
    let mut out = Vec::new();
    encode(Some("s1-3"), Some("message"), b"{\"a\":\n1}", &mut out);
    encode_retry(1000, &mut out);
    out.extend_from_slice(KEEP_ALIVE);
    let got = decode_all(&out, 1024).unwrap();
    assert_eq!(got[0], ev(Some("s1-3"), Some("message"), "{\"a\":\n1}"));
    assert_eq!(got[1].retry, Some(1000));
    assert_eq!(got.len(), 2);
}

proptest! {
    #[test]
    fn chunking_does_not_change_the_events(
        datas in prop::collection::vec("[^\r\n]{0,20}", 1..6),
        splits in prop::collection::vec(0usize..200, 0..8),
        crlf in any::<bool>(),
    ) {
        let nl = if crlf { "\r\n" } else { "\n" };
        let mut text = String::new();
        for (i, d) in datas.iter().enumerate() {
            text.push_str(&format!("id: {i}{nl}data: {d}{nl}{nl}"));
        }
        let whole = decode_all(text.as_bytes(), 4096).unwrap();
        let bytes = text.as_bytes();
        let mut cuts: Vec<usize> = splits.into_iter().map(|s| s % (bytes.len() + 1)).collect();
        cuts.sort_unstable();
        let mut d = SseDecoder::new(4096);
        let mut got = Vec::new();
        let mut prev = 0;
        for c in cuts.into_iter().chain([bytes.len()]) {
            d.feed(&bytes[prev..c], &mut got).unwrap();
            prev = c;
        }
        prop_assert_eq!(&got, &whole);
        prop_assert_eq!(got.len(), datas.len());
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        let mut d = SseDecoder::new(64);
        let mut out = Vec::new();
        let _ = d.feed(&bytes, &mut out);
    }
}
