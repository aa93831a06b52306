//! Id and progress-token mapping between a client and the upstream.

use serde_json::value::RawValue;
use toolgate_mcp::{Id, Message, RawObject};

use super::UpstreamError;

/// What the gateway must remember to put back on the way down.
#[derive(Clone, Debug)]
pub(crate) struct Originals {
    /// The client's request id.
    pub(crate) id: Id,
    /// The client's progress token, when it asked for progress.
    pub(crate) progress_token: Option<Id>,
}

/// Gives a request the upstream id `upstream_id`; a progress token, if any,
/// becomes the same number (unique among the connection's requests).
pub(crate) fn map_request(msg: &mut Message, upstream_id: u64) -> Result<Originals, UpstreamError> {
    let (id, progress_token) = msg
        .remap_request(upstream_id)
        .map_err(|e| UpstreamError::Protocol(e.to_string()))?;
    Ok(Originals { id, progress_token })
}

/// Replaces one member of a notification's params with the client's value.
pub(crate) fn restore_param(msg: &mut Message, key: &str, original: &Id) {
    if let Ok(mut params) = RawObject::parse(msg.params())
        && let Ok(raw) = RawValue::from_string(original.as_json().to_owned())
    {
        params.set(key, raw);
        msg.set_params(Some(params.into_raw()));
    }
}

/// The upstream id a notification refers to: `progressToken` for progress,
/// `requestId` for cancellation, `_meta.subscriptionId` for 2026-07-28
/// subscription notifications.
pub(crate) fn related_upstream_id(msg: &Message) -> Option<(u64, RelatedBy)> {
    let view = msg.params_view().ok()?;
    let as_u64 = |raw: &RawValue| Id::from_json(raw.get()).and_then(|id| id.as_u64());
    match msg.method() {
        Some("notifications/progress") => {
            let id = as_u64(view.progress_token.as_deref()?)?;
            Some((id, RelatedBy::ProgressToken))
        }
        Some("notifications/cancelled") => {
            let id = as_u64(view.request_id.as_deref()?)?;
            Some((id, RelatedBy::RequestId))
        }
        _ => {
            let params = RawObject::parse(msg.params()).ok()?;
            let meta = RawObject::parse(params.get("_meta")).ok()?;
            let id = as_u64(meta.get("io.modelcontextprotocol/subscriptionId")?)?;
            Some((id, RelatedBy::SubscriptionId))
        }
    }
}

/// How a notification names its request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum RelatedBy {
    /// `params.progressToken`.
    ProgressToken,
    /// `params.requestId`.
    RequestId,
    /// `params._meta["io.modelcontextprotocol/subscriptionId"]`.
    SubscriptionId,
}

/// Puts the client's values back into a related notification.
pub(crate) fn restore_related(msg: &mut Message, by: RelatedBy, originals: &Originals) {
    match by {
        RelatedBy::ProgressToken => {
            if let Some(token) = &originals.progress_token {
                restore_param(msg, "progressToken", token);
            }
        }
        RelatedBy::RequestId => restore_param(msg, "requestId", &originals.id),
        RelatedBy::SubscriptionId => {
            if let Ok(mut params) = RawObject::parse(msg.params()) {
                let id = originals.id.as_json().to_owned();
                let edited = params.edit_object("_meta", |meta| {
                    if let Ok(raw) = RawValue::from_string(id) {
                        meta.set("io.modelcontextprotocol/subscriptionId", raw);
                    }
                });
                if edited.is_ok() {
                    msg.set_params(Some(params.into_raw()));
                }
            }
        }
    }
}

/// A `notifications/cancelled` for an upstream request.
pub(crate) fn cancelled(upstream_id: u64, reason: Option<&str>) -> Message {
    let mut params = serde_json::json!({ "requestId": upstream_id });
    if let Some(r) = reason {
        params["reason"] = r.into();
    }
    Message::notification(
        "notifications/cancelled",
        Some(toolgate_mcp::message::to_raw(&params)),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(text: &str) -> Message {
        Message::parse_text(text).unwrap()
    }

    #[test]
    fn request_ids_and_tokens_are_mapped_and_restored() {
        let mut m = msg(
            r#"{"jsonrpc":"2.0","id":"c1","method":"tools/call","params":{"name":"x","_meta":{"progressToken":"tok","other":1}}}"#,
        );
        let orig = map_request(&mut m, 42).unwrap();
        assert_eq!(orig.id.as_json(), "\"c1\"");
        assert_eq!(orig.progress_token.as_ref().unwrap().as_json(), "\"tok\"");
        assert_eq!(
            String::from_utf8(m.to_bytes()).unwrap(),
            r#"{"jsonrpc":"2.0","id":42,"method":"tools/call","params":{"name":"x","_meta":{"progressToken":42,"other":1}}}"#
        );
        let mut p = msg(
            r#"{"jsonrpc":"2.0","method":"notifications/progress","params":{"progressToken":42,"progress":1}}"#,
        );
        let (id, by) = related_upstream_id(&p).unwrap();
        assert_eq!((id, by), (42, RelatedBy::ProgressToken));
        restore_related(&mut p, by, &orig);
        assert_eq!(
            String::from_utf8(p.to_bytes()).unwrap(),
            r#"{"jsonrpc":"2.0","method":"notifications/progress","params":{"progressToken":"tok","progress":1}}"#
        );
    }

    #[test]
    fn requests_without_progress_keep_params_bytes() {
        let text = r#"{"jsonrpc":"2.0","id":5,"method":"tools/list","params":{ "cursor" : "a" }}"#;
        let mut m = msg(text);
        let orig = map_request(&mut m, 1).unwrap();
        assert!(orig.progress_token.is_none());
        assert_eq!(m.params().unwrap().get(), r#"{ "cursor" : "a" }"#);
    }

    #[test]
    fn subscription_notifications_are_related() {
        let mut n = msg(
            r#"{"jsonrpc":"2.0","method":"notifications/tools/list_changed","params":{"_meta":{"io.modelcontextprotocol/subscriptionId":9}}}"#,
        );
        let (id, by) = related_upstream_id(&n).unwrap();
        assert_eq!((id, by), (9, RelatedBy::SubscriptionId));
        let orig = Originals {
            id: Id::from_string("L"),
            progress_token: None,
        };
        restore_related(&mut n, by, &orig);
        assert!(
            String::from_utf8(n.to_bytes())
                .unwrap()
                .contains(r#""io.modelcontextprotocol/subscriptionId":"L""#)
        );
        let plain = msg(
            r#"{"jsonrpc":"2.0","method":"notifications/message","params":{"level":"info","data":"x"}}"#,
        );
        assert!(related_upstream_id(&plain).is_none());
    }
}
