//! The JSON-RPC 2.0 envelope, parsed just enough to route and authorize.
//!
//! A proxy must forward what it does not understand, so a [`Message`] keeps
//! `params`, `result`, `error` and any unknown top-level member as raw JSON
//! text ([`RawValue`]) and writes them back byte for byte. Only the envelope
//! (`jsonrpc`, `id`, `method`) is interpreted here.

use std::borrow::Cow;
use std::fmt;

use serde::de::{Deserializer, IgnoredAny, MapAccess, Visitor};
use serde_json::value::RawValue;

/// A JSON-RPC id (or progress token) exactly as it appeared on the wire: a
/// JSON string or number, kept as its JSON text so it can be echoed unchanged
/// and used as a map key.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Id(Box<str>);

impl Id {
    /// An integer id, as the gateway mints them for upstream requests.
    pub fn from_u64(n: u64) -> Self {
        Id(n.to_string().into_boxed_str())
    }

    /// A string id (the value is JSON-escaped here).
    pub fn from_string(s: &str) -> Self {
        Id(json_string(s).into_boxed_str())
    }

    /// Wraps JSON text that is already a valid JSON string or number.
    /// Returns `None` for anything else (objects, arrays, booleans, null).
    pub fn from_json(raw: &str) -> Option<Self> {
        let raw = raw.trim();
        let first = raw.as_bytes().first()?;
        let ok = match first {
            b'"' => serde_json::from_str::<String>(raw).is_ok(),
            b'-' | b'0'..=b'9' => serde_json::from_str::<serde_json::Number>(raw).is_ok(),
            _ => false,
        };
        ok.then(|| Id(raw.into()))
    }

    /// The id's JSON text, e.g. `7` or `"abc"`.
    pub fn as_json(&self) -> &str {
        &self.0
    }

    /// The id as an unsigned integer, when it is one.
    pub fn as_u64(&self) -> Option<u64> {
        self.0.parse().ok()
    }

    /// The id as a JSON value.
    pub fn to_value(&self) -> serde_json::Value {
        serde_json::from_str(&self.0).unwrap_or(serde_json::Value::Null)
    }
}

impl fmt::Debug for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Display for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What a message is, by the JSON-RPC rules.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Has a `method` and an `id`: expects a response.
    Request,
    /// Has a `method` and no `id`.
    Notification,
    /// Has an `id` and a `result` or an `error`.
    Response,
}

/// One JSON-RPC message with its payload kept raw.
#[derive(Clone, Debug)]
pub struct Message {
    kind: Kind,
    id: Option<Id>,
    method: Option<Box<str>>,
    params: Option<Box<RawValue>>,
    result: Option<Box<RawValue>>,
    error: Option<Box<RawValue>>,
    /// Unknown top-level members, forwarded as they came.
    extra: Vec<(Box<str>, Box<RawValue>)>,
}

/// Why a JSON value is not a valid JSON-RPC message. Answered with -32600.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid JSON-RPC message: {reason}")]
pub struct EnvelopeError {
    /// What is wrong, readable by a person.
    pub reason: String,
    /// The id, when one could be read, so the error can answer it.
    pub id: Option<Id>,
}

/// A request body: one message, or a JSON-RPC batch.
#[derive(Debug)]
pub enum Payload {
    /// A single JSON object.
    Single(Result<Message, EnvelopeError>),
    /// A JSON array; each element is judged on its own.
    Batch(Vec<Result<Message, EnvelopeError>>),
}

/// The body is not JSON at all (answered with -32700).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ParseError(String);

impl Payload {
    /// Parses a request or response body. Invalid JSON is a [`ParseError`];
    /// valid JSON that is not a JSON-RPC message is an [`EnvelopeError`]
    /// inside the payload, so the caller can answer it with its id.
    pub fn parse(bytes: &[u8]) -> Result<Payload, ParseError> {
        let first = bytes.iter().find(|b| !b.is_ascii_whitespace()).copied();
        match first {
            Some(b'[') => {
                let items: Vec<Box<RawValue>> =
                    serde_json::from_slice(bytes).map_err(|e| ParseError(e.to_string()))?;
                Ok(Payload::Batch(
                    items.iter().map(|raw| Message::from_raw(raw)).collect(),
                ))
            }
            _ => {
                // Every call passes here twice (its request and its
                // answer): reading the envelope straight from the body
                // saves a pass over the text and a copy of it. A read that
                // succeeds has also checked that the whole body is JSON;
                // one that fails takes the two-pass way, which tells a body
                // that is not JSON (-32700) from a message that is not
                // valid (-32600) as before.
                if let Some(message) = single_in_one_pass(bytes) {
                    return Ok(Payload::Single(Ok(message)));
                }
                single_in_two_passes(bytes)
            }
        }
    }
}

/// Checks that the body is JSON, then reads the envelope from it.
fn single_in_two_passes(bytes: &[u8]) -> Result<Payload, ParseError> {
    let raw: Box<RawValue> =
        serde_json::from_slice(bytes).map_err(|e| ParseError(e.to_string()))?;
    Ok(Payload::Single(Message::from_raw(&raw)))
}

/// A valid message read in one pass, or `None` when the body is not one:
/// not UTF-8, not JSON, not an object, or not a valid envelope. `str`, not
/// bytes: serde_json checks UTF-8 only in the strings it decodes, and a
/// body must be UTF-8 throughout to be JSON.
fn single_in_one_pass(bytes: &[u8]) -> Option<Message> {
    let text = std::str::from_utf8(bytes).ok()?;
    serde_json::from_str::<Fields<'_>>(text)
        .ok()?
        .validate()
        .ok()
}

impl Message {
    /// Parses one message from JSON text that is known to be valid JSON.
    pub fn from_raw(raw: &RawValue) -> Result<Message, EnvelopeError> {
        Self::parse_text(raw.get())
    }

    /// Parses one message from JSON text (a line of stdio, an SSE `data`).
    pub fn parse_text(text: &str) -> Result<Message, EnvelopeError> {
        let fields: Fields<'_> = match serde_json::from_str(text) {
            Ok(f) => f,
            Err(e) => {
                return Err(EnvelopeError {
                    reason: format!("not a JSON object: {e}"),
                    id: None,
                });
            }
        };
        fields.validate()
    }

    /// A request with the given id, method and raw params.
    pub fn request(id: Id, method: &str, params: Option<Box<RawValue>>) -> Message {
        Message {
            kind: Kind::Request,
            id: Some(id),
            method: Some(method.into()),
            params,
            result: None,
            error: None,
            extra: Vec::new(),
        }
    }

    /// A notification with the given method and raw params.
    pub fn notification(method: &str, params: Option<Box<RawValue>>) -> Message {
        Message {
            kind: Kind::Notification,
            id: None,
            method: Some(method.into()),
            params,
            result: None,
            error: None,
            extra: Vec::new(),
        }
    }

    /// A successful response.
    pub fn result(id: Id, result: Box<RawValue>) -> Message {
        Message {
            kind: Kind::Response,
            id: Some(id),
            method: None,
            params: None,
            result: Some(result),
            error: None,
            extra: Vec::new(),
        }
    }

    /// An error response. `id` is `None` when the request's id is unknown
    /// (it is then written as `null`, as JSON-RPC requires).
    pub fn error(id: Option<Id>, error: &ErrorObject) -> Message {
        Message {
            kind: Kind::Response,
            id,
            method: None,
            params: None,
            result: None,
            error: Some(to_raw(error)),
            extra: Vec::new(),
        }
    }

    /// Request, notification or response.
    pub fn kind(&self) -> Kind {
        self.kind
    }

    /// The id, for requests and responses.
    pub fn id(&self) -> Option<&Id> {
        self.id.as_ref()
    }

    /// The method, for requests and notifications.
    pub fn method(&self) -> Option<&str> {
        self.method.as_deref()
    }

    /// The raw `params`, if any.
    pub fn params(&self) -> Option<&RawValue> {
        self.params.as_deref()
    }

    /// The raw `result` of a successful response.
    pub fn result_raw(&self) -> Option<&RawValue> {
        self.result.as_deref()
    }

    /// The raw `error` of a failed response.
    pub fn error_raw(&self) -> Option<&RawValue> {
        self.error.as_deref()
    }

    /// Replaces the id (the gateway maps ids between its two sides).
    pub fn set_id(&mut self, id: Option<Id>) {
        self.id = id;
    }

    /// Replaces the raw params.
    pub fn set_params(&mut self, params: Option<Box<RawValue>>) {
        self.params = params;
    }

    /// Replaces the raw result.
    pub fn set_result(&mut self, result: Box<RawValue>) {
        self.result = Some(result);
    }

    /// Reads the parts of `params` that routing and policy need.
    pub fn params_view(&self) -> Result<ParamsView, serde_json::Error> {
        match &self.params {
            Some(raw) => serde_json::from_str(raw.get()),
            None => Ok(ParamsView::default()),
        }
    }

    /// Reads the `error` member of a response, if it is well formed.
    pub fn error_object(&self) -> Option<ErrorObject> {
        self.error
            .as_ref()
            .and_then(|raw| serde_json::from_str(raw.get()).ok())
    }

    /// Serializes the message as compact JSON.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.size_hint());
        self.write_to(&mut out);
        out
    }

    /// Serializes the message as one stdio line: no newline inside, one at
    /// the end. Raw members may hold newlines as insignificant whitespace
    /// (JSON strings cannot contain raw newlines), so those become spaces.
    pub fn to_line(&self) -> Vec<u8> {
        let mut out = self.to_bytes();
        for b in out.iter_mut() {
            if *b == b'\n' || *b == b'\r' {
                *b = b' ';
            }
        }
        out.push(b'\n');
        out
    }

    fn size_hint(&self) -> usize {
        let raw = |r: &Option<Box<RawValue>>| r.as_ref().map_or(0, |r| r.get().len() + 12);
        32 + raw(&self.params)
            + raw(&self.result)
            + raw(&self.error)
            + self.method.as_ref().map_or(0, |m| m.len())
    }

    fn write_to(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(br#"{"jsonrpc":"2.0""#);
        match (&self.id, self.kind) {
            (Some(id), _) => member(out, "id", id.as_json()),
            (None, Kind::Response) => member(out, "id", "null"),
            (None, _) => {}
        }
        if let Some(method) = &self.method {
            member(out, "method", &json_string(method));
        }
        for (name, value) in [
            ("params", &self.params),
            ("result", &self.result),
            ("error", &self.error),
        ] {
            if let Some(v) = value {
                member(out, name, v.get());
            }
        }
        for (name, value) in &self.extra {
            member(out, &json_string(name), value.get());
        }
        out.push(b'}');
    }
}

fn member(out: &mut Vec<u8>, name: &str, value: &str) {
    out.push(b',');
    if name.starts_with('"') {
        out.extend_from_slice(name.as_bytes());
    } else {
        out.push(b'"');
        out.extend_from_slice(name.as_bytes());
        out.push(b'"');
    }
    out.push(b':');
    out.extend_from_slice(value.as_bytes());
}

/// Escapes a string as JSON text.
pub fn json_string(s: &str) -> String {
    // Straight from the `&str` (a `Value` would copy it first and then go
    // through `Display`). Writing a string into memory cannot fail.
    serde_json::to_string(s).unwrap_or_else(|_| String::from("\"\""))
}

/// Serializes any value into raw JSON. Serialization of the plain data types
/// used here cannot fail; if it ever did, `null` is safer than a panic.
pub fn to_raw<T: serde::Serialize + ?Sized>(value: &T) -> Box<RawValue> {
    serde_json::value::to_raw_value(value).unwrap_or_else(|_| null_raw())
}

fn null_raw() -> Box<RawValue> {
    RawValue::NULL.to_owned()
}

/// A JSON-RPC error object.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ErrorObject {
    /// The error code.
    pub code: i64,
    /// A short description for people.
    pub message: String,
    /// Optional structured detail.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub data: Option<serde_json::Value>,
}

impl ErrorObject {
    /// An error object without data.
    pub fn new(code: i64, message: impl Into<String>) -> Self {
        ErrorObject {
            code,
            message: message.into(),
            data: None,
        }
    }

    /// Adds structured data.
    pub fn with_data(mut self, data: serde_json::Value) -> Self {
        self.data = Some(data);
        self
    }
}

/// The members of `params` that the gateway reads. Everything else stays
/// in the raw params and is forwarded untouched.
#[derive(Debug, Default, serde::Deserialize)]
pub struct ParamsView {
    /// `tools/call`, `prompts/get`: the tool or prompt name.
    #[serde(default)]
    pub name: Option<String>,
    /// `resources/read`, `resources/subscribe`: the resource URI.
    #[serde(default)]
    pub uri: Option<String>,
    /// `tools/call`, `prompts/get`: the arguments, raw.
    #[serde(default)]
    pub arguments: Option<Box<RawValue>>,
    /// `initialize`: the requested protocol version.
    #[serde(default, rename = "protocolVersion")]
    pub protocol_version: Option<String>,
    /// `notifications/cancelled`: the id of the cancelled request.
    #[serde(default, rename = "requestId")]
    pub request_id: Option<Box<RawValue>>,
    /// `notifications/progress`: the token the progress belongs to.
    #[serde(default, rename = "progressToken")]
    pub progress_token: Option<Box<RawValue>>,
    /// Request metadata.
    #[serde(default, rename = "_meta")]
    pub meta: Option<MetaView>,
}

/// The members of `params._meta` that the gateway reads.
#[derive(Debug, Default, serde::Deserialize)]
pub struct MetaView {
    /// The token under which the client wants progress notifications.
    #[serde(default, rename = "progressToken")]
    pub progress_token: Option<Box<RawValue>>,
    /// 2026-07-28: the protocol version of a stateless request.
    #[serde(default, rename = "io.modelcontextprotocol/protocolVersion")]
    pub protocol_version: Option<String>,
}

impl ParamsView {
    /// The progress token of a request, if it asked for progress.
    pub fn progress_token(&self) -> Option<Id> {
        self.meta
            .as_ref()
            .and_then(|m| m.progress_token.as_ref())
            .and_then(|raw| Id::from_json(raw.get()))
    }

    /// The stateless protocol version carried in `_meta`, if any.
    pub fn meta_protocol_version(&self) -> Option<&str> {
        self.meta
            .as_ref()
            .and_then(|m| m.protocol_version.as_deref())
    }
}

// === Envelope deserialization ===

/// The envelope as read, before validation, so that an invalid message can
/// still be answered with its own id. What validation only looks at (member
/// names, `jsonrpc`, `id`, `method`) is borrowed from the text, not copied:
/// every message through the gateway is read here, twice per call.
#[derive(Default)]
struct Fields<'a> {
    jsonrpc: Option<&'a RawValue>,
    id: Option<&'a RawValue>,
    method: Option<&'a RawValue>,
    params: Option<Box<RawValue>>,
    result: Option<Box<RawValue>>,
    error: Option<Box<RawValue>>,
    extra: Vec<(Box<str>, Box<RawValue>)>,
    duplicate: Option<String>,
}

impl<'de> serde::Deserialize<'de> for Fields<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_map(FieldsVisitor)
    }
}

struct FieldsVisitor;

impl<'de> Visitor<'de> for FieldsVisitor {
    type Value = Fields<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON-RPC message object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Fields<'de>, A::Error> {
        let mut f = Fields::default();
        while let Some(Name(key)) = map.next_key::<Name<'de>>()? {
            let dup = &mut f.duplicate;
            match &*key {
                "jsonrpc" => fill(&mut map, &mut f.jsonrpc, &key, dup)?,
                "id" => fill(&mut map, &mut f.id, &key, dup)?,
                "method" => fill(&mut map, &mut f.method, &key, dup)?,
                "params" => fill(&mut map, &mut f.params, &key, dup)?,
                "result" => fill(&mut map, &mut f.result, &key, dup)?,
                "error" => fill(&mut map, &mut f.error, &key, dup)?,
                _ => {
                    if f.extra.iter().any(|(k, _)| **k == *key) {
                        dup.get_or_insert(key.into_owned());
                        map.next_value::<IgnoredAny>()?;
                    } else {
                        let v: Box<RawValue> = map.next_value()?;
                        f.extra.push((key.into_owned().into_boxed_str(), v));
                    }
                }
            }
        }
        Ok(f)
    }
}

/// Reads a member's value into `slot`; a second one is ignored and the
/// member named as a duplicate. A second `method` or `params` could make
/// the gateway judge one thing and the upstream run another: validation
/// refuses the message.
fn fill<'de, A: MapAccess<'de>, T: serde::Deserialize<'de>>(
    map: &mut A,
    slot: &mut Option<T>,
    key: &str,
    duplicate: &mut Option<String>,
) -> Result<(), A::Error> {
    if slot.is_some() {
        duplicate.get_or_insert_with(|| key.to_owned());
        map.next_value::<IgnoredAny>()?;
    } else {
        *slot = Some(map.next_value()?);
    }
    Ok(())
}

/// A member name: borrowed from the text unless it holds an escape.
struct Name<'a>(Cow<'a, str>);

impl<'de> serde::Deserialize<'de> for Name<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_str(NameVisitor)
    }
}

struct NameVisitor;

impl<'de> Visitor<'de> for NameVisitor {
    type Value = Name<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a member name")
    }

    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Name<'de>, E> {
        Ok(Name(Cow::Borrowed(v)))
    }

    fn visit_str<E>(self, v: &str) -> Result<Name<'de>, E> {
        Ok(Name(Cow::Owned(v.to_owned())))
    }

    fn visit_string<E>(self, v: String) -> Result<Name<'de>, E> {
        Ok(Name(Cow::Owned(v)))
    }
}

/// A JSON string's value without copying it when it has no escape; `None`
/// when `raw` is not a string.
fn string_value(raw: &RawValue) -> Option<Cow<'_, str>> {
    let text = raw.get();
    match text.strip_prefix('"').and_then(|t| t.strip_suffix('"')) {
        Some(inner) if !inner.contains('\\') => Some(Cow::Borrowed(inner)),
        _ => serde_json::from_str::<String>(text).ok().map(Cow::Owned),
    }
}

impl Fields<'_> {
    fn validate(self) -> Result<Message, EnvelopeError> {
        let id = match self.id {
            Some(raw) if raw.get() == "null" => None,
            Some(raw) => match Id::from_json(raw.get()) {
                Some(id) => Some(id),
                None => return Err(invalid("id must be a string or a number", None)),
            },
            None => None,
        };
        let fail = |reason: &str| Err(invalid(reason, id.clone()));
        if let Some(key) = &self.duplicate {
            return fail(&format!("duplicate member \"{key}\""));
        }
        // A value that is not a string is compared as written (`2.0`).
        let jsonrpc = self
            .jsonrpc
            .map(|raw| string_value(raw).unwrap_or(Cow::Borrowed(raw.get())));
        if jsonrpc.as_deref() != Some("2.0") {
            return fail("\"jsonrpc\" must be \"2.0\"");
        }
        let method = match self.method {
            Some(raw) => match string_value(raw) {
                Some(m) => Some(Box::<str>::from(m)),
                None => return fail("\"method\" must be a string"),
            },
            None => None,
        };
        if let Some(p) = &self.params
            && !matches!(p.get().as_bytes().first(), Some(b'{' | b'['))
        {
            return fail("\"params\" must be an object or an array");
        }
        let kind = match (&method, &self.id, &self.result, &self.error) {
            (Some(_), Some(_), None, None) if id.is_some() => Kind::Request,
            (Some(_), Some(_), None, None) => return fail("a request id must not be null"),
            (Some(_), None, None, None) => Kind::Notification,
            (None, Some(_), Some(_), None) if id.is_some() => Kind::Response,
            (None, Some(_), None, Some(_)) => Kind::Response,
            (None, _, Some(_), Some(_)) => {
                return fail("a response has a result or an error, not both");
            }
            _ => return fail("not a request, notification or response"),
        };
        Ok(Message {
            kind,
            id,
            method,
            params: self.params,
            result: self.result,
            error: self.error,
            extra: self.extra,
        })
    }
}

fn invalid(reason: &str, id: Option<Id>) -> EnvelopeError {
    EnvelopeError {
        reason: reason.to_owned(),
        id,
    }
}

#[cfg(test)]
mod tests;
