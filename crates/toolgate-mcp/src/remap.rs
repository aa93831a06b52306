//! The two edits the forward path makes to a `tools/call` besides passing
//! it on: renumbering a request for the upstream, and reading whether a
//! tool result is an error. Here so the gateway and the envelope benchmark
//! run the same code.

use crate::edit::RawObject;
use crate::message::{Id, Message};

/// Why a request could not be renumbered.
#[derive(Debug, thiserror::Error)]
pub enum RemapError {
    /// A notification has no id to replace.
    #[error("request without id")]
    NoId,
    /// `params` could not be read.
    #[error("invalid params: {0}")]
    Params(String),
    /// `params` or its `_meta` is not an object to edit.
    #[error("{0}")]
    Edit(String),
}

impl Message {
    /// Gives a request the id `upstream_id`; a progress token, if any,
    /// becomes the same number. Returns the client's id and progress token.
    pub fn remap_request(&mut self, upstream_id: u64) -> Result<(Id, Option<Id>), RemapError> {
        let id = self.id().cloned().ok_or(RemapError::NoId)?;
        // Nearly no request carries a progress token, and its params were
        // already read for policy: text that cannot spell the key (not even
        // with a `\u` escape) is not parsed again.
        let may_have_token = self
            .params()
            .is_some_and(|p| RawObject::may_hold(p.get(), "progressToken"));
        let progress_token = if may_have_token {
            self.params_view()
                .map_err(|e| RemapError::Params(e.to_string()))?
                .progress_token()
        } else {
            None
        };
        if progress_token.is_some() {
            let mut params =
                RawObject::parse(self.params()).map_err(|e| RemapError::Edit(e.to_string()))?;
            params
                .edit_object("_meta", |meta| {
                    meta.set_value("progressToken", &upstream_id)
                })
                .map_err(|e| RemapError::Edit(e.to_string()))?;
            self.set_params(Some(params.into_raw()));
        }
        self.set_id(Some(Id::from_u64(upstream_id)));
        Ok((id, progress_token))
    }

    /// Whether the result is a tool result with `isError: true`.
    pub fn result_is_error(&self) -> bool {
        // Asked of every tool result, and the key is nearly always absent:
        // text that cannot spell it (not even with a `\u` escape) is not
        // parsed.
        let Some(text) = self.result_raw().map(|r| r.get()) else {
            return false;
        };
        if !RawObject::may_hold(text, "isError") {
            return false;
        }
        RawObject::parse(self.result_raw())
            .ok()
            .and_then(|r| r.get_as::<bool>("isError"))
            .unwrap_or(false)
    }
}

#[cfg(test)]
mod tests {
    use crate::message::{Id, Message, Payload};

    fn request(text: &str) -> Message {
        match Payload::parse(text.as_bytes()).expect("valid JSON") {
            Payload::Single(m) => m.expect("valid message"),
            Payload::Batch(_) => panic!("unexpected batch"),
        }
    }

    #[test]
    fn a_progress_token_becomes_the_upstream_id_however_its_key_is_written() {
        for key in ["progressToken", r"progress\u0054oken"] {
            let text = format!(
                r#"{{"jsonrpc":"2.0","id":"c1","method":"tools/call","params":{{"name":"t","_meta":{{"{key}":"p9"}}}}}}"#
            );
            let mut m = request(&text);
            let (id, token) = m.remap_request(42).expect("remapped");
            assert_eq!(id.as_json(), r#""c1""#, "{key}");
            assert_eq!(token.as_ref().map(Id::as_json), Some(r#""p9""#), "{key}");
            assert_eq!(m.id().map(Id::as_json), Some("42"));
            let view = m.params_view().expect("params");
            assert_eq!(
                view.progress_token().as_ref().map(Id::as_json),
                Some("42"),
                "{key}"
            );
        }
    }

    #[test]
    fn is_error_is_read_however_it_is_written() {
        let cases = [
            (r#"{"content":[],"isError":true}"#, true),
            (r#"{"content":[],"is\u0045rror":true}"#, true),
            (r#"{"content":[],"isError":false}"#, false),
            (r#"{"content":[{"type":"text","text":"isError"}]}"#, false),
            (r#"{"content":[]}"#, false),
        ];
        for (result, expected) in cases {
            let m = request(&format!(r#"{{"jsonrpc":"2.0","id":1,"result":{result}}}"#));
            assert_eq!(m.result_is_error(), expected, "{result}");
        }
    }

    #[test]
    fn params_without_a_progress_token_pass_byte_for_byte() {
        let params = r#"{"name":"t","arguments":{"note":"progress later", "n": 1}}"#;
        let mut m = request(&format!(
            r#"{{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{params}}}"#
        ));
        let (id, token) = m.remap_request(3).expect("remapped");
        assert_eq!((id.as_json(), token), ("7", None));
        assert_eq!(m.params().map(|p| p.get()), Some(params));
        assert_eq!(m.id().map(Id::as_json), Some("3"));
    }
}
