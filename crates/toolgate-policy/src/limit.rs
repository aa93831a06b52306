//! Limits: which counter a call charges, under which key, and how much.
//! Counting itself is the counter store's job.

use std::cell::RefCell;
use std::collections::HashMap;

use serde::{Deserialize, Deserializer};
use serde_json::Value;

use crate::de::{checked_map, parse_str};
use crate::decision::LimitCheck;
use crate::duration::{Window, WindowText};
use crate::error::Invalid;
use crate::facts::{EvalError, Facts};
use crate::ops::Num;
use crate::path::{Found, PathExpr};

/// What a counter's key is made of besides its name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Scope {
    /// One count per grant (PolicyLayer's only scope).
    #[default]
    Grant,
    /// One count per MCP session (per grant for calls without a session).
    Session,
    /// One count per configured server.
    Server,
    /// One count per tool (resource URI, prompt name).
    Tool,
    /// One count for everyone.
    Global,
}

impl Scope {
    fn as_str(self) -> &'static str {
        match self {
            Scope::Grant => "grant",
            Scope::Session => "session",
            Scope::Server => "server",
            Scope::Tool => "tool",
            Scope::Global => "global",
        }
    }
}

/// `mode`: how the window moves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
enum Mode {
    #[default]
    Fixed,
    Sliding,
}

/// A compiled limit.
#[derive(Debug)]
pub(crate) struct Limit {
    pub(crate) counter: String,
    window: Window,
    max: u64,
    scope: Scope,
    increment: u64,
    increment_from: Option<PathExpr>,
    /// JSON Pointer of this limit (set when its rule is placed).
    pub(crate) rule: String,
}

/// What must match between definitions of one counter.
#[derive(Debug, Clone, PartialEq)]
struct Shape {
    window: Window,
    max: u64,
    scope: Scope,
}

thread_local! {
    /// Counters defined so far in the document being loaded, so a conflicting
    /// redefinition fails at its own position. Only set during a load.
    static COUNTERS: RefCell<Option<HashMap<String, Shape>>> = const { RefCell::new(None) };
}

/// Tracks counter definitions for the duration of one load.
pub(crate) struct CounterScope(());

impl CounterScope {
    pub(crate) fn enter() -> CounterScope {
        COUNTERS.with(|c| *c.borrow_mut() = Some(HashMap::new()));
        CounterScope(())
    }
}

impl Drop for CounterScope {
    fn drop(&mut self) {
        COUNTERS.with(|c| *c.borrow_mut() = None);
    }
}

fn register(counter: &str, shape: Shape) -> Result<(), Invalid> {
    COUNTERS.with(|c| {
        let mut guard = c.borrow_mut();
        let Some(known) = guard.as_mut() else {
            return Ok(());
        };
        match known.get(counter) {
            Some(first) if *first != shape => Err(Invalid::at(
                "counter",
                format!(
                    "counter {counter:?} is defined elsewhere with window {}{}, max {}, scope {}; \
                     every definition of a shared counter needs the same window, mode, max and scope",
                    first.window.label,
                    if first.window.sliding { " (sliding)" } else { "" },
                    first.max,
                    first.scope.as_str(),
                ),
            )),
            Some(_) => Ok(()),
            None => {
                known.insert(counter.to_owned(), shape);
                Ok(())
            }
        }
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLimit {
    counter: CounterName,
    window: WindowText,
    max: u64,
    #[serde(default)]
    scope: Scope,
    #[serde(default)]
    mode: Mode,
    increment: Option<u64>,
    increment_from: Option<PathExpr>,
}

struct CounterName(String);

impl<'de> Deserialize<'de> for CounterName {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        parse_str(deserializer, "a counter name", |s| {
            if s.is_empty() {
                Err("a counter name cannot be empty".to_owned())
            } else if s.contains('|') {
                Err(format!("counter name {s:?} cannot contain \"|\""))
            } else {
                Ok(CounterName(s.to_owned()))
            }
        })
    }
}

impl<'de> Deserialize<'de> for Limit {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        checked_map(deserializer, "a limit object", check)
    }
}

fn check(raw: RawLimit) -> Result<Limit, Invalid> {
    if raw.max == 0 {
        return Err(Invalid::at("max", "max must be at least 1"));
    }
    if raw.increment == Some(0) {
        return Err(Invalid::at("increment", "increment must be at least 1"));
    }
    let window = Window {
        length: raw.window.0.length,
        sliding: raw.mode == Mode::Sliding,
        label: raw.window.0.label,
    };
    let shape = Shape {
        window: window.clone(),
        max: raw.max,
        scope: raw.scope,
    };
    register(&raw.counter.0, shape)?;
    Ok(Limit {
        counter: raw.counter.0,
        window,
        max: raw.max,
        scope: raw.scope,
        increment: raw.increment.unwrap_or(1),
        increment_from: raw.increment_from,
        rule: String::new(),
    })
}

impl Limit {
    /// What this call charges. `target` is the tool name, resource URI or
    /// prompt name, and `kind` its scope label (`tool`, `resource`, `prompt`).
    pub(crate) fn check(
        &self,
        facts: &Facts<'_>,
        kind: &str,
        target: &str,
    ) -> Result<LimitCheck, EvalError> {
        let mut key = String::with_capacity(self.counter.len() + 32);
        key.push_str(&self.counter);
        let (label, value) = match (self.scope, facts.session()) {
            (Scope::Grant, _) | (Scope::Session, None) => ("grant", Some(facts.grant())),
            (Scope::Session, Some(session)) => ("session", Some(session)),
            (Scope::Server, _) => ("server", Some(facts.server())),
            (Scope::Tool, _) => (kind, Some(target)),
            (Scope::Global, _) => ("global", None),
        };
        key.push('|');
        key.push_str(label);
        if let Some(value) = value {
            key.push('=');
            key.push_str(value);
        }
        Ok(LimitCheck {
            rule: self.rule.clone(),
            counter: self.counter.clone(),
            key,
            max: self.max,
            amount: self.amount(facts)?,
            window: self.window.clone(),
        })
    }

    /// `increment_from`'s value (rounded up), or `increment` when the
    /// argument is absent.
    fn amount(&self, facts: &Facts<'_>) -> Result<u64, EvalError> {
        let Some(path) = &self.increment_from else {
            return Ok(self.increment);
        };
        let found = path.resolve(facts)?;
        let number = match found {
            Found::Absent => return Ok(self.increment),
            Found::Json(Value::Number(n)) => Some(Num::from_json(n)),
            Found::Json(Value::String(s)) => Num::parse(s),
            Found::Str(s) => Num::parse(s),
            Found::Json(_) => None,
        };
        let amount = match number {
            Some(Num::Int(i)) => u64::try_from(i).ok(),
            Some(Num::Float(f)) if f >= 0.0 && f.ceil() < 18_446_744_073_709_551_616.0 => {
                // In range and non-negative: the cast cannot truncate.
                #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
                Some(f.ceil() as u64)
            }
            Some(Num::Float(_)) | None => None,
        };
        amount.ok_or_else(|| {
            let shown = match found {
                Found::Json(v) => v.to_string(),
                Found::Str(s) => format!("{s:?}"),
                Found::Absent => String::new(),
            };
            EvalError(format!(
                "{} is {shown}; increment_from needs a non-negative number or numeric string",
                path.text()
            ))
        })
    }
}
