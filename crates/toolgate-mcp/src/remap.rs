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
        let progress_token = self
            .params_view()
            .map_err(|e| RemapError::Params(e.to_string()))?
            .progress_token();
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
        RawObject::parse(self.result_raw())
            .ok()
            .and_then(|r| r.get_as::<bool>("isError"))
            .unwrap_or(false)
    }
}
