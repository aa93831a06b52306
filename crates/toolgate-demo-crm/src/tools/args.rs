//! Typed access to a `tools/call`'s arguments.
//!
//! Every accessor checks the JSON type the input schema promises and the
//! value rules the CRM enforces, and says precisely what is wrong: the text
//! goes back to the model, which should be able to fix its call from it.

use serde_json::{Map, Value};

use super::ToolError;
use crate::filter::Filter;

/// The arguments object of one call. `null` counts as absent.
#[derive(Debug)]
pub(crate) struct Args<'a>(&'a Map<String, Value>);

fn invalid(what: String) -> ToolError {
    ToolError::InvalidArguments(what)
}

fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

impl<'a> Args<'a> {
    /// Wraps an arguments object.
    pub(crate) fn new(map: &'a Map<String, Value>) -> Args<'a> {
        Args(map)
    }

    fn present(&self, key: &str) -> Option<&'a Value> {
        self.0.get(key).filter(|v| !v.is_null())
    }

    /// True if any of `keys` is given, to reject updates that change nothing.
    pub(crate) fn any(&self, keys: &[&str]) -> bool {
        keys.iter().any(|k| self.present(k).is_some())
    }

    /// An optional string, possibly empty.
    pub(crate) fn text(&self, key: &str) -> Result<Option<&'a str>, ToolError> {
        match self.present(key) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(other) => Err(invalid(format!(
                "{key} must be a string, got {}",
                type_name(other)
            ))),
        }
    }

    /// An optional string that must not be blank when given.
    pub(crate) fn word(&self, key: &str) -> Result<Option<&'a str>, ToolError> {
        match self.text(key)? {
            Some(s) if s.trim().is_empty() => Err(invalid(format!("{key} must not be empty"))),
            other => Ok(other.map(str::trim)),
        }
    }

    /// A required, non-blank string.
    pub(crate) fn required(&self, key: &str) -> Result<&'a str, ToolError> {
        self.word(key)?
            .ok_or_else(|| invalid(format!("{key} is required")))
    }

    /// An optional record ID: a numeric string such as "12".
    pub(crate) fn opt_id(&self, key: &str) -> Result<Option<&'a str>, ToolError> {
        let Some(id) = self.word(key)? else {
            return Ok(None);
        };
        // 18 digits keep IDs within i64, as Bitrix24 stores them.
        if id.len() > 18 || !id.bytes().all(|b| b.is_ascii_digit()) {
            return Err(invalid(format!(
                "{key} must be a numeric ID such as \"1\", got {id:?}"
            )));
        }
        Ok(Some(id))
    }

    /// A required record ID.
    pub(crate) fn id(&self, key: &str) -> Result<&'a str, ToolError> {
        self.opt_id(key)?
            .ok_or_else(|| invalid(format!("{key} is required")))
    }

    /// An optional code from a fixed set, e.g. a priority "1" | "2" | "3".
    pub(crate) fn choice(
        &self,
        key: &str,
        allowed: &[&str],
        meaning: &str,
    ) -> Result<Option<&'a str>, ToolError> {
        match self.word(key)? {
            Some(v) if !allowed.contains(&v) => {
                Err(invalid(format!("{key} must be {meaning}, got {v:?}")))
            }
            other => Ok(other),
        }
    }

    /// An optional boolean.
    pub(crate) fn flag(&self, key: &str) -> Result<Option<bool>, ToolError> {
        match self.present(key) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(other) => Err(invalid(format!(
                "{key} must be a boolean, got {}",
                type_name(other)
            ))),
        }
    }

    /// An optional e-mail address, checked for a plausible shape.
    pub(crate) fn email(&self, key: &str) -> Result<Option<&'a str>, ToolError> {
        let Some(email) = self.word(key)? else {
            return Ok(None);
        };
        let plausible = email.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty()
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
        }) && !email.contains(char::is_whitespace);
        if !plausible {
            return Err(invalid(format!(
                "{key} must be an e-mail address such as name@example.com, got {email:?}"
            )));
        }
        Ok(Some(email))
    }

    /// An optional phone number: digits with the usual punctuation.
    pub(crate) fn phone(&self, key: &str) -> Result<Option<&'a str>, ToolError> {
        let Some(phone) = self.word(key)? else {
            return Ok(None);
        };
        let allowed = phone
            .chars()
            .all(|c| c.is_ascii_digit() || " +-().".contains(c));
        let digits = phone.chars().filter(char::is_ascii_digit).count();
        if !allowed || !(3..=20).contains(&digits) {
            return Err(invalid(format!(
                "{key} must be a phone number such as +1 415 555 0100, got {phone:?}"
            )));
        }
        Ok(Some(phone))
    }

    /// The optional `filter` argument, parsed.
    pub(crate) fn filter(&self) -> Result<Filter, ToolError> {
        Filter::parse(self.text("filter")?).map_err(invalid)
    }
}
