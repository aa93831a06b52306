//! What one evaluation knows about the call: the target, the principal,
//! the time, and the arguments, parsed only if a condition or limit asks.

use std::cell::{OnceCell, RefCell};
use std::time::SystemTime;

use serde_json::Value;
use serde_json::value::RawValue;

use crate::decision::{Call, Principal};

/// A condition or limit that could not be evaluated (the call fails closed).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct EvalError(pub(crate) String);

/// The call being evaluated, and lazily computed views of it.
pub(crate) struct Facts<'a> {
    call: &'a Call<'a>,
    principal: &'a Principal<'a>,
    now: SystemTime,
    args: OnceCell<Result<Option<Value>, EvalError>>,
    /// The CEL variables, built as expressions need them and reused.
    pub(crate) cel: RefCell<crate::cel::Activation>,
}

impl<'a> Facts<'a> {
    pub(crate) fn new(call: &'a Call<'a>, principal: &'a Principal<'a>, now: SystemTime) -> Self {
        Facts {
            call,
            principal,
            now,
            args: OnceCell::new(),
            cel: RefCell::default(),
        }
    }

    fn raw_args(&self) -> Option<&'a RawValue> {
        match *self.call {
            Call::Tool { arguments, .. } | Call::Prompt { arguments, .. } => arguments,
            Call::Resource { .. } => None,
        }
    }

    /// The call's arguments, parsed on first use; `None` when there are none.
    pub(crate) fn args(&self) -> Result<Option<&Value>, EvalError> {
        let parsed = self.args.get_or_init(|| match self.raw_args() {
            None => Ok(None),
            Some(raw) => serde_json::from_str(raw.get())
                .map(Some)
                .map_err(|e| EvalError(format!("the arguments could not be parsed: {e}"))),
        });
        match parsed {
            Ok(value) => Ok(value.as_ref()),
            Err(e) => Err(e.clone()),
        }
    }

    pub(crate) fn grant(&self) -> &'a str {
        self.principal.grant
    }

    pub(crate) fn server(&self) -> &'a str {
        self.principal.server
    }

    pub(crate) fn session(&self) -> Option<&'a str> {
        self.principal.session
    }

    pub(crate) fn subject(&self) -> Option<&'a str> {
        self.principal.subject
    }

    pub(crate) fn claims(&self) -> Option<&'a Value> {
        self.principal.claims
    }

    pub(crate) fn now(&self) -> SystemTime {
        self.now
    }

    pub(crate) fn tool(&self) -> Option<&'a str> {
        match *self.call {
            Call::Tool { name, .. } => Some(name),
            Call::Resource { .. } | Call::Prompt { .. } => None,
        }
    }

    pub(crate) fn prompt(&self) -> Option<&'a str> {
        match *self.call {
            Call::Prompt { name, .. } => Some(name),
            Call::Tool { .. } | Call::Resource { .. } => None,
        }
    }

    pub(crate) fn uri(&self) -> Option<&'a str> {
        match *self.call {
            Call::Resource { uri } => Some(uri),
            Call::Tool { .. } | Call::Prompt { .. } => None,
        }
    }
}
