//! Conditions of `require`, `deny_if` and `approval_if`: a path, an
//! operator and a value, or a CEL expression.

use serde::{Deserialize, Deserializer};
use serde_json::Value;

use crate::cel::CelExpr;
use crate::de::{checked_map, parse_str};
use crate::error::Invalid;
use crate::facts::{EvalError, Facts};
use crate::ops::{Op, OpName};
use crate::path::PathExpr;

/// What a condition tests.
#[derive(Debug)]
enum Test {
    Path {
        path: PathExpr,
        op: Op,
        name: OpName,
    },
    Expr(CelExpr),
}

/// A compiled condition.
#[derive(Debug)]
pub(crate) struct Condition {
    test: Test,
    /// `message`: what the agent is told when this condition denies.
    pub(crate) message: Option<String>,
    /// Human text, e.g. `args.amount gt 10000`, or the expression.
    pub(crate) text: String,
    /// JSON Pointer of this condition (set when the rule is placed).
    pub(crate) rule: String,
}

impl Condition {
    /// PolicyLayer-style id within its list: `args.amount-gt`; `None` for an
    /// expression (which is identified by its index).
    pub(crate) fn natural_id(&self) -> Option<String> {
        match &self.test {
            Test::Path { path, name, .. } => Some(format!("{}-{}", path.text(), name.as_str())),
            Test::Expr(_) => None,
        }
    }

    /// Whether the condition holds for this call.
    pub(crate) fn holds(&self, facts: &Facts<'_>) -> Result<bool, EvalError> {
        match &self.test {
            Test::Path { path, op, .. } => op.eval(path.resolve(facts)?, path.text()),
            Test::Expr(expr) => expr.eval(facts),
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCondition {
    path: Option<PathExpr>,
    op: Option<OpName>,
    /// `None` when missing, `Some(Null)` for an explicit null.
    #[serde(default, deserialize_with = "present")]
    value: Option<Value>,
    expr: Option<CelExpr>,
    message: Option<String>,
}

impl<'de> Deserialize<'de> for Condition {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        checked_map(deserializer, "a condition object", check)
    }
}

fn present<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Value>, D::Error> {
    Value::deserialize(deserializer).map(Some)
}

fn check(raw: RawCondition) -> Result<Condition, Invalid> {
    let RawCondition {
        path,
        op,
        value,
        expr,
        message,
    } = raw;
    match (path, op, expr) {
        (None, None, Some(expr)) if value.is_none() => Ok(Condition {
            text: expr.source().to_owned(),
            test: Test::Expr(expr),
            message,
            rule: String::new(),
        }),
        (Some(_), _, Some(_)) | (_, Some(_), Some(_)) | (None, None, Some(_)) => Err(Invalid::at(
            "expr",
            "a condition has either \"expr\" or \"path\", \"op\" and \"value\", not both",
        )),
        (Some(path), Some(name), None) => {
            let text = describe(&path, name, value.as_ref());
            let op = Op::compile(name, value).map_err(|m| Invalid::at("value", m))?;
            Ok(Condition {
                test: Test::Path { path, op, name },
                message,
                text,
                rule: String::new(),
            })
        }
        (Some(_), None, None) => Err(Invalid::here("a condition with \"path\" needs \"op\"")),
        (None, Some(_), None) => Err(Invalid::here("a condition with \"op\" needs \"path\"")),
        (None, None, None) => Err(Invalid::here(
            "a condition needs \"path\" and \"op\" (and usually \"value\"), or \"expr\"",
        )),
    }
}

/// `args.amount gt 10000`, `args.reason exists`, `args.debug is absent`.
fn describe(path: &PathExpr, op: OpName, value: Option<&Value>) -> String {
    let path = path.text();
    match (op, value) {
        (OpName::Exists, None | Some(Value::Bool(true))) => format!("{path} exists"),
        (OpName::Exists, Some(Value::Bool(false))) => format!("{path} is absent"),
        (op, Some(value)) => format!("{path} {} {value}", op.as_str()),
        (op, None) => format!("{path} {}", op.as_str()),
    }
}

impl<'de> Deserialize<'de> for PathExpr {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        parse_str(deserializer, "a path like \"args.amount\"", PathExpr::parse)
    }
}

impl<'de> Deserialize<'de> for CelExpr {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        parse_str(deserializer, "a CEL expression", CelExpr::compile)
    }
}
