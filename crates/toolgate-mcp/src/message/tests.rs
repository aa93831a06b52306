use super::*;

fn single(text: &str) -> Result<Message, EnvelopeError> {
    match Payload::parse(text.as_bytes()).expect("valid JSON") {
        Payload::Single(m) => m,
        Payload::Batch(_) => panic!("unexpected batch"),
    }
}

#[test]
fn request_round_trips_unknown_members_and_params_verbatim() {
    let text = r#"{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"echo","arguments":{"x":[1,2,{"y":null}]},"future":true},"x-vendor":{"a":1}}"#;
    let m = single(text).unwrap();
    assert_eq!(m.kind(), Kind::Request);
    assert_eq!(m.id().unwrap().as_json(), "7");
    assert_eq!(m.method(), Some("tools/call"));
    assert_eq!(String::from_utf8(m.to_bytes()).unwrap(), text);
}

#[test]
fn string_ids_and_error_responses_keep_their_form() {
    let m = single(r#"{"jsonrpc":"2.0","id":"a\"b","result":{}}"#).unwrap();
    assert_eq!(m.kind(), Kind::Response);
    assert_eq!(m.id().unwrap().as_json(), r#""a\"b""#);
    let e = single(r#"{"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"x"}}"#).unwrap();
    assert_eq!(e.kind(), Kind::Response);
    assert!(e.id().is_none());
    assert_eq!(
        String::from_utf8(e.to_bytes()).unwrap(),
        r#"{"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"x"}}"#
    );
    assert_eq!(e.error_object().unwrap().code, -32700);
}

#[test]
fn notification_has_no_id() {
    let m = single(r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#).unwrap();
    assert_eq!(m.kind(), Kind::Notification);
    assert!(m.id().is_none());
}

#[test]
fn invalid_envelopes_are_rejected_with_their_id() {
    let cases = [
        (r#"{"id":1,"method":"x"}"#, Some("1"), "jsonrpc"),
        (
            r#"{"jsonrpc":"1.0","id":1,"method":"x"}"#,
            Some("1"),
            "jsonrpc",
        ),
        (
            r#"{"jsonrpc":"2.0","id":{"a":1},"method":"x"}"#,
            None,
            "id must be",
        ),
        (r#"{"jsonrpc":"2.0","id":null,"method":"x"}"#, None, "null"),
        (
            r#"{"jsonrpc":"2.0","id":2,"method":5}"#,
            Some("2"),
            "method",
        ),
        (
            r#"{"jsonrpc":"2.0","id":3,"method":"x","params":"s"}"#,
            Some("3"),
            "params",
        ),
        (
            r#"{"jsonrpc":"2.0","id":4,"result":1,"error":{}}"#,
            Some("4"),
            "not both",
        ),
        (r#"{"jsonrpc":"2.0"}"#, None, "not a request"),
        (
            r#"{"jsonrpc":"2.0","id":5,"method":"a","method":"b"}"#,
            Some("5"),
            "duplicate",
        ),
        (
            r#"{"jsonrpc":"2.0","id":6,"method":"a","params":{},"params":{}}"#,
            Some("6"),
            "duplicate",
        ),
        (
            r#"{"jsonrpc":"2.0","id":7,"method":"a","x":1,"x":2}"#,
            Some("7"),
            "duplicate",
        ),
        (
            r#"{"jsonrpc":"2.0","jsonrpc":"2.0","id":8,"method":"a"}"#,
            Some("8"),
            "duplicate member \"jsonrpc\"",
        ),
        (
            r#"{"jsonrpc":"2.0","id":9,"\u0069d":10,"method":"a"}"#,
            Some("9"),
            "duplicate member \"id\"",
        ),
        (r#"17"#, None, "object"),
    ];
    for (text, id, needle) in cases {
        let err = single(text).expect_err(text);
        assert_eq!(err.id.as_ref().map(Id::as_json), id, "{text}");
        assert!(err.reason.contains(needle), "{text}: {}", err.reason);
    }
}

#[test]
fn escaped_member_names_and_methods_read_as_their_values() {
    // Names and strings are borrowed from the text unless they hold an
    // escape; both ways must read the same.
    let m = single(r#"{"jsonr\u0070c":"2.\u0030","\u0069d":1,"method":"tools\/call","params":{}}"#)
        .expect("valid");
    assert_eq!(m.kind(), Kind::Request);
    assert_eq!(m.id().map(Id::as_json), Some("1"));
    assert_eq!(m.method(), Some("tools/call"));
    let n = single(r#"{"jsonrpc":"2.0","method":"notifications/progress","x-\u0076":true}"#)
        .expect("valid");
    assert_eq!(n.method(), Some("notifications/progress"));
    assert!(
        String::from_utf8(n.to_bytes())
            .expect("utf-8")
            .contains(r#""x-v":true"#)
    );
    // As before: a `jsonrpc` that is not a string is compared as written.
    assert!(single(r#"{"jsonrpc":2.0,"id":1,"method":"a"}"#).is_ok());
    assert!(single(r#"{"jsonrpc":2,"id":1,"method":"a"}"#).is_err());
}

#[test]
fn batches_are_parsed_element_by_element() {
    let p = Payload::parse(
        br#" [{"jsonrpc":"2.0","id":1,"method":"a"}, 5, {"jsonrpc":"2.0","method":"n"}]"#,
    )
    .unwrap();
    let Payload::Batch(items) = p else {
        panic!("expected batch")
    };
    assert_eq!(items.len(), 3);
    assert!(items[0].is_ok());
    assert!(items[1].is_err());
    assert_eq!(items[2].as_ref().unwrap().kind(), Kind::Notification);
}

#[test]
fn malformed_json_is_a_parse_error() {
    for text in ["", "{", "{\"jsonrpc\":", "[1,", "nul"] {
        assert!(Payload::parse(text.as_bytes()).is_err(), "{text:?}");
    }
}

#[test]
fn to_line_never_embeds_a_newline() {
    let text =
        "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"m\",\"params\":{\n  \"a\": \"x\\ny\"\r\n}}";
    let m = single(text).unwrap();
    let line = m.to_line();
    assert_eq!(line.iter().filter(|b| **b == b'\n').count(), 1);
    assert_eq!(line.last(), Some(&b'\n'));
    let back: serde_json::Value = serde_json::from_slice(&line).unwrap();
    assert_eq!(back["params"]["a"], "x\ny");
}

#[test]
fn params_view_reads_what_policy_needs() {
    let m = single(
        r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"t","arguments":{"a":1},"_meta":{"progressToken":"p1","io.modelcontextprotocol/protocolVersion":"2026-07-28"}}}"#,
    )
    .unwrap();
    let v = m.params_view().unwrap();
    assert_eq!(v.name.as_deref(), Some("t"));
    assert_eq!(v.arguments.unwrap().get(), r#"{"a":1}"#);
    assert!(v.progress_token.is_none());
    let m2 = single(
        r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"_meta":{"progressToken":"p1","io.modelcontextprotocol/protocolVersion":"2026-07-28"}}}"#,
    )
    .unwrap();
    let v2 = m2.params_view().unwrap();
    assert_eq!(v2.progress_token().unwrap().as_json(), "\"p1\"");
    assert_eq!(v2.meta_protocol_version(), Some("2026-07-28"));
}

#[test]
fn duplicate_tool_names_in_params_are_refused() {
    let m = single(
        r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"ok","name":"evil"}}"#,
    )
    .unwrap();
    assert!(m.params_view().is_err());
}

#[test]
fn ids_accept_only_strings_and_numbers() {
    assert!(Id::from_json("12").is_some());
    assert!(Id::from_json("-1.5").is_some());
    assert!(Id::from_json("\"x\"").is_some());
    for bad in ["null", "true", "{}", "[]", "\"x", "1x", ""] {
        assert!(Id::from_json(bad).is_none(), "{bad}");
    }
    assert_eq!(Id::from_string("a\"b").as_json(), r#""a\"b""#);
    assert_eq!(Id::from_u64(9).as_u64(), Some(9));
}

mod props {
    use super::*;
    use proptest::prelude::*;

    fn arb_json() -> impl Strategy<Value = serde_json::Value> {
        let leaf = prop_oneof![
            Just(serde_json::Value::Null),
            any::<bool>().prop_map(serde_json::Value::Bool),
            any::<i64>().prop_map(|n| serde_json::json!(n)),
            ".*".prop_map(serde_json::Value::String),
        ];
        leaf.prop_recursive(3, 24, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(serde_json::Value::Array),
                prop::collection::btree_map("[a-z_]{1,6}", inner, 0..4)
                    .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest! {
        #[test]
        fn any_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
            let _ = Payload::parse(&bytes);
        }

        #[test]
        fn requests_round_trip_as_equal_json(id in any::<u32>(), method in "[a-z/]{1,16}", params in arb_json()) {
            let params = serde_json::json!({"p": params});
            let text = serde_json::json!({"jsonrpc":"2.0","id":id,"method":method,"params":params}).to_string();
            let m = single(&text).unwrap();
            let back: serde_json::Value = serde_json::from_slice(&m.to_bytes()).unwrap();
            let orig: serde_json::Value = serde_json::from_str(&text).unwrap();
            prop_assert_eq!(back, orig);
        }
    }
}

#[test]
fn json_string_escapes_like_serde_json() {
    for s in [
        "plain",
        "quote \" and \\ backslash",
        "line\nfeed\ttab",
        "\u{1}\u{1f}",
        "café ☕",
        "",
    ] {
        let expected = serde_json::Value::String(s.to_owned()).to_string();
        assert_eq!(super::json_string(s), expected, "{s:?}");
        let back: String = serde_json::from_str(&super::json_string(s)).unwrap();
        assert_eq!(back, s);
    }
}

/// What the one-pass read gives must be what the two passes give: same
/// kind, id and bytes forwarded, and nothing where they refuse.
fn assert_one_pass_agrees(bytes: &[u8]) {
    let one = super::single_in_one_pass(bytes);
    match super::single_in_two_passes(bytes) {
        Ok(Payload::Single(Ok(two))) => {
            let one = one.unwrap_or_else(|| panic!("one pass refused {bytes:?}"));
            assert_eq!(one.kind(), two.kind());
            assert_eq!(one.id(), two.id());
            assert_eq!(one.to_bytes(), two.to_bytes());
        }
        _ => assert!(one.is_none(), "one pass read {bytes:?}"),
    }
}

#[test]
fn one_pass_reads_valid_messages_and_leaves_the_rest_to_two_passes() {
    let cases: [&[u8]; 10] = [
        br#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"x","arguments":{"a":[1,2.50,"\u00e9"]}},"x-extra":{"k":null}}"#,
        br#" {"jsonrpc":"2.0","id":"a","result":{"content":[]}} "#,
        br#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#,
        // Not valid messages: answered with -32600 and their id.
        br#"{"jsonrpc":"2.0","id":{},"method":"x"}"#,
        br#"{"jsonrpc":"2.0","id":1,"method":"x","method":"y"}"#,
        br#"[]"#,
        // Not JSON: -32700.
        br#"{"jsonrpc":"2.0","id":1,"method":"x"} trailing"#,
        br#"{"jsonrpc":"2.0","id":1,"method":"x","params":{"a":}}"#,
        b"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"x\",\"params\":{\"a\":\"\xff\"}}",
        b"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"x\",\"x\xfe\":1}",
    ];
    for bytes in cases {
        assert_one_pass_agrees(bytes);
    }
    // Invalid UTF-8 anywhere, even in a member nobody reads, is not JSON.
    for bytes in &cases[8..] {
        assert!(Payload::parse(bytes).is_err(), "{bytes:?}");
    }
    assert!(matches!(
        Payload::parse(cases[3]),
        Ok(Payload::Single(Err(EnvelopeError { id: None, .. })))
    ));
}

mod one_pass_props {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// A valid request with one byte changed, dropped or cut short.
        #[test]
        fn agrees_with_two_passes(at in 0usize..200, byte in any::<u8>(), how in 0u8..3) {
            let mut bytes = br#"{"jsonrpc":"2.0","id":"r-1","method":"tools/call","params":{"name":"createLead","arguments":{"n":1e3,"s":"\u00e9\n","l":[true,null]}},"x":[]}"#.to_vec();
            let at = at % bytes.len();
            match how {
                0 => bytes[at] = byte,
                1 => { bytes.remove(at); }
                _ => bytes.truncate(at),
            }
            assert_one_pass_agrees(&bytes);
        }
    }
}
