//! Canonical JSON (what the hashes cover) and redaction of secrets.

use std::cell::RefCell;

use serde_json::Value;
use sha2::{Digest, Sha256};
use zeroize::Zeroize;

/// What a redacted value is replaced with.
pub const REDACTED: &str = "[REDACTED]";

/// Canonical JSON (RFC 8785-like): object keys sorted by UTF-16 code units,
/// no insignificant whitespace, strings escaped as JSON.stringify does,
/// numbers as serde_json prints them. The same value gives the same text
/// whatever its key order.
pub fn canonical_json(v: &Value) -> String {
    // Sized for a typical call's arguments: grown from empty, the text was
    // reallocated four or five times.
    let mut out = String::with_capacity(256);
    write_canonical(v, &mut out);
    out
}

pub(crate) fn write_canonical(v: &Value, out: &mut String) {
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => write_number(n, out),
        Value::String(s) => write_string(s, out),
        Value::Array(items) => write_list(('[', ']'), items, out, write_canonical),
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_by(|a, b| a.0.encode_utf16().cmp(b.0.encode_utf16()));
            write_list(('{', '}'), entries, out, |(k, val), out| {
                write_string(k, out);
                out.push(':');
                write_canonical(val, out);
            });
        }
    }
}

/// A JSON string as RFC 8785 (and serde_json) escapes it: `\" \\ \b \f \n
/// \r \t`, other control characters as lowercase `\u00xx`, the rest verbatim.
///
/// Copies the runs between escapes whole: every record's dozen strings pass
/// through here on the audit writer's hot path (a char-by-char version was
/// 4-5% of the writer's profile).
pub(crate) fn write_string(s: &str, out: &mut String) {
    out.push('"');
    let plain = |b: &u8| *b >= 0x20 && *b != b'"' && *b != b'\\';
    // Most strings need no escape at all. A fold (no early exit) lets the
    // compiler test many bytes at a time.
    if s.as_bytes().iter().fold(true, |ok, b| ok & plain(b)) {
        out.push_str(s);
        out.push('"');
        return;
    }
    let mut run = 0;
    for (i, b) in s.as_bytes().iter().enumerate() {
        if plain(b) {
            continue;
        }
        let escape = match *b {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            0x08 => "\\b",
            0x0c => "\\f",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            _ => "",
        };
        // Escaped bytes are ASCII, so `run..i` ends on a char boundary.
        out.push_str(&s[run..i]);
        if escape.is_empty() {
            push_unicode_escape(*b, out);
        } else {
            out.push_str(escape);
        }
        run = i + 1;
    }
    out.push_str(&s[run..]);
    out.push('"');
}

/// A list of strings as a canonical JSON array.
pub(crate) fn string_array(items: &[String]) -> String {
    // Enough unless a string needs escapes: two quotes and a comma each.
    let mut out = String::with_capacity(2 + items.iter().map(|s| s.len() + 3).sum::<usize>());
    write_string_array(items, &mut out);
    out
}

/// Appends a list of strings as a canonical JSON array.
pub(crate) fn write_string_array(items: &[String], out: &mut String) {
    write_list(('[', ']'), items, out, |s, out| write_string(s, out));
}

/// `open item,item,… close`, each item written by `each`.
fn write_list<T>(
    (open, close): (char, char),
    items: impl IntoIterator<Item = T>,
    out: &mut String,
    mut each: impl FnMut(T, &mut String),
) {
    out.push(open);
    for (i, item) in items.into_iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        each(item, out);
    }
    out.push(close);
}

fn push_unicode_escape(b: u8, out: &mut String) {
    out.push_str("\\u00");
    push_hex(b, out);
}

/// Appends `b` as two lowercase hex digits.
fn push_hex(b: u8, out: &mut String) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push(char::from(HEX[usize::from(b >> 4)]));
    out.push(char::from(HEX[usize::from(b & 0xf)]));
}

/// Appends a number as it displays (no intermediate `String`).
pub(crate) fn write_number(n: impl std::fmt::Display, out: &mut String) {
    use std::fmt::Write as _;
    let _ = write!(out, "{n}");
}

/// Appends an integer in decimal: what [`write_number`] writes, without
/// the formatting machinery (three of them in every record's hash).
pub(crate) fn write_integer(n: impl itoa::Integer, out: &mut String) {
    out.push_str(itoa::Buffer::new().format(n));
}

/// Hex SHA-256 of [`canonical_json`].
pub fn arguments_sha256(v: &Value) -> String {
    sha256_of(|out| write_canonical(v, out))
}

/// A scratch buffer this large or larger is not kept for the next hash.
const SCRATCH_KEEP: usize = 64 * 1024;

thread_local! {
    /// [`sha256_of`]'s buffer, one per thread.
    static SCRATCH: RefCell<String> = const { RefCell::new(String::new()) };
}

/// Hex SHA-256 of the text `write` appends to an empty buffer. The buffer
/// is kept per thread and reused: every call's arguments digest (on the
/// runtime) and every record's hash (on the audit writer) was a `String`
/// grown from empty and thrown away, four or five reallocations each.
/// It is zeroed after each hash: the arguments digest writes a call's
/// arguments unredacted, and they must not outlive the call in a buffer
/// kept for the thread's life.
pub(crate) fn sha256_of(write: impl FnOnce(&mut String)) -> String {
    let mut write = Some(write);
    // `try_with`: a thread's locals may be gone while it exits;
    // `try_borrow_mut`: `write` may hash something itself. Either way the
    // text gets a buffer of its own (and `write` was not taken).
    let reused = SCRATCH.try_with(|cell| {
        let mut text = cell.try_borrow_mut().ok()?;
        let hex = hash_in(&mut text, write.take()?);
        if text.capacity() >= SCRATCH_KEEP {
            // One large argument must not pin its buffer for good.
            *text = String::new();
        }
        Some(hex)
    });
    match reused {
        Ok(Some(hex)) => hex,
        _ => hash_in(&mut String::new(), |text| {
            if let Some(write) = write.take() {
                write(text);
            }
        }),
    }
}

/// Clears `text`, lets `write` fill it, hashes it, and zeroes it.
fn hash_in(text: &mut String, write: impl FnOnce(&mut String)) -> String {
    text.clear();
    write(text);
    let hex = sha256_hex(text.as_bytes());
    text.zeroize();
    hex
}

fn sha256_hex(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    let mut out = String::with_capacity(64);
    for b in digest {
        push_hex(b, &mut out);
    }
    out
}

/// `v` with the value of every object key, at any depth, that contains one of
/// `key_patterns` (case-insensitively) replaced by `"[REDACTED]"`. An empty
/// pattern matches every key.
pub fn redact(v: &Value, key_patterns: &[String]) -> Value {
    let patterns: Vec<String> = key_patterns.iter().map(|p| p.to_lowercase()).collect();
    redact_with(v, &patterns)
}

fn redact_with(v: &Value, patterns: &[String]) -> Value {
    match v {
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, val)| {
                    let key = k.to_lowercase();
                    let secret = patterns.iter().any(|p| key.contains(p.as_str()));
                    let val = if secret {
                        Value::from(REDACTED)
                    } else {
                        redact_with(val, patterns)
                    };
                    (k.clone(), val)
                })
                .collect(),
        ),
        Value::Array(items) => {
            Value::Array(items.iter().map(|i| redact_with(i, patterns)).collect())
        }
        other => other.clone(),
    }
}

/// The default key patterns: password, passwd, secret, token, authorization,
/// api_key, apikey, private_key, cookie, session.
pub fn default_redact_keys() -> Vec<String> {
    [
        "password",
        "passwd",
        "secret",
        "token",
        "authorization",
        "api_key",
        "apikey",
        "private_key",
        "cookie",
        "session",
    ]
    .map(String::from)
    .to_vec()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn integers_are_written_as_they_display() {
        let mut out = String::new();
        write_integer(i64::MIN, &mut out);
        write_integer(0_i64, &mut out);
        write_integer(-7_i64, &mut out);
        write_integer(u64::MAX, &mut out);
        let shown = format!("{}{}{}{}", i64::MIN, 0, -7, u64::MAX);
        assert_eq!(out, shown);
    }

    #[test]
    fn key_order_does_not_change_the_text_or_hash() {
        let a: Value =
            serde_json::from_str(r#"{"b":1,"a":{"y":[1,{"q":2,"p":1}],"x":null}}"#).unwrap();
        let b: Value =
            serde_json::from_str(r#"{"a":{"x":null,"y":[1,{"p":1,"q":2}]},"b":1}"#).unwrap();
        assert_eq!(
            canonical_json(&a),
            r#"{"a":{"x":null,"y":[1,{"p":1,"q":2}]},"b":1}"#
        );
        assert_eq!(canonical_json(&a), canonical_json(&b));
        assert_eq!(arguments_sha256(&a), arguments_sha256(&b));
        assert_ne!(arguments_sha256(&a), arguments_sha256(&json!({"b": 2})));
    }

    #[test]
    fn the_reused_buffer_hashes_each_text_alone() {
        // Known digests (sha256sum): a hash never sees the text before it,
        // and one taken while writing another gets a buffer of its own.
        let abc = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
        let empty = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
        assert_eq!(sha256_of(|t| t.push_str("abc")), abc);
        assert_eq!(sha256_of(|_| {}), empty);
        assert_eq!(sha256_of(|t| t.push_str("abc")), abc);
        let mut inner = String::new();
        let outer = sha256_of(|t| {
            t.push_str("ab");
            inner = sha256_of(|u| u.push_str("abc"));
            t.push('c');
        });
        assert_eq!((outer.as_str(), inner.as_str()), (abc, abc));
        // `"abc"` with its quotes, as canonical JSON writes the string.
        assert_eq!(
            arguments_sha256(&json!("abc")),
            "6cc43f858fbb763301637b5af970e2a46b46f461f27e5a0f41e009c59b827b25"
        );
    }

    #[test]
    fn a_small_buffer_is_kept_and_a_large_one_dropped() {
        let scratch = || SCRATCH.with(|c| c.borrow().capacity());
        sha256_of(|t| t.push_str("secret"));
        let kept = scratch();
        assert!(kept >= 6, "a small buffer is kept ({kept})");
        // (That it is zeroed is zeroize's; reading the spare capacity to
        // check would take `unsafe`, which this crate forbids.)
        sha256_of(|t| t.push_str(&"x".repeat(SCRATCH_KEEP + 1)));
        assert_eq!(scratch(), 0, "a buffer that grew past the limit is dropped");
    }

    #[test]
    fn keys_sort_by_utf16_code_units() {
        // U+1F600 is D83D DE00 in UTF-16, so it sorts before U+FF61, unlike
        // by code point or in UTF-8.
        let v = json!({"\u{ff61}": 1, "\u{1f600}": 2, "a": 3, "\u{e9}": 4});
        assert_eq!(
            canonical_json(&v),
            "{\"a\":3,\"\u{e9}\":4,\"\u{1f600}\":2,\"\u{ff61}\":1}"
        );
    }

    #[test]
    fn strings_and_numbers() {
        let v = json!([
            "\"\\\u{8}\u{c}\n\r\t\u{1}\u{7f}/é😀",
            1,
            -0.5,
            1e300,
            18_446_744_073_709_551_615_u64,
            true
        ]);
        assert_eq!(
            canonical_json(&v),
            "[\"\\\"\\\\\\b\\f\\n\\r\\t\\u0001\u{7f}/é😀\",1,-0.5,1e+300,18446744073709551615,true]"
        );
        assert_eq!(
            arguments_sha256(&json!({})),
            "44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"
        );
    }

    #[test]
    fn escapes_strings_as_serde_json_does() {
        let all: String = (0u32..0x80)
            .filter_map(char::from_u32)
            .chain("é😀\u{2028}".chars())
            .collect();
        let mut out = String::new();
        write_string(&all, &mut out);
        assert_eq!(out, serde_json::to_string(&all).unwrap());
        // Escapes at either end, between multi-byte runs, or none at all.
        for s in ["", "plain é", "\"a\u{1}b\\", "é\n😀\t", "\u{1f}x\u{1f}"] {
            let mut out = String::from("prefix");
            write_string(s, &mut out);
            assert_eq!(out, format!("prefix{}", serde_json::to_string(s).unwrap()));
        }
    }

    #[test]
    fn redacts_nested_keys_case_insensitively() {
        let v = json!({
            "user": "ada",
            "DB_Password": "hunter2",
            "nested": {"apiKey": "k", "list": [{"Authorization": "Bearer x", "ok": 1}]},
            "token": {"deep": "value"},
        });
        let r = redact(&v, &default_redact_keys());
        assert_eq!(
            r,
            json!({
                "user": "ada",
                "DB_Password": "[REDACTED]",
                "nested": {"apiKey": "[REDACTED]", "list": [{"Authorization": "[REDACTED]", "ok": 1}]},
                "token": "[REDACTED]",
            })
        );
        assert_eq!(
            redact(&json!([{"X": 1}]), &["x".into()]),
            json!([{"X": "[REDACTED]"}])
        );
        assert_eq!(
            redact(&json!("password"), &default_redact_keys()),
            json!("password")
        );
    }
}
