//! Path-condition operators: load-time checks of their values and their
//! evaluation against what a path found.

use std::cmp::Ordering;

use serde::Deserialize;
use serde_json::{Number, Value};

use crate::facts::EvalError;
use crate::path::Found;

/// Compiled regexes may not exceed this size (the `regex` crate's measure).
const REGEX_SIZE_LIMIT: usize = 1 << 20;

/// An operator as written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum OpName {
    Eq,
    Neq,
    In,
    NotIn,
    Lt,
    Lte,
    Gt,
    Gte,
    Contains,
    StartsWith,
    EndsWith,
    Regex,
    Exists,
    LenGt,
    LenLt,
}

impl OpName {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            OpName::Eq => "eq",
            OpName::Neq => "neq",
            OpName::In => "in",
            OpName::NotIn => "not_in",
            OpName::Lt => "lt",
            OpName::Lte => "lte",
            OpName::Gt => "gt",
            OpName::Gte => "gte",
            OpName::Contains => "contains",
            OpName::StartsWith => "starts_with",
            OpName::EndsWith => "ends_with",
            OpName::Regex => "regex",
            OpName::Exists => "exists",
            OpName::LenGt => "len_gt",
            OpName::LenLt => "len_lt",
        }
    }
}

/// An operator with its compiled value.
#[derive(Debug, Clone)]
pub(crate) enum Op {
    Eq(Value),
    Neq(Value),
    In(Vec<Value>),
    NotIn(Vec<Value>),
    Compare(OpName, Num),
    Contains(Value),
    StartsWith(String),
    EndsWith(String),
    Regex(regex::Regex),
    Exists(bool),
    LenGt(u64),
    LenLt(u64),
}

/// A number, compared exactly when both sides are integers.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Num {
    Int(i128),
    Float(f64),
}

impl Num {
    pub(crate) fn from_json(n: &Number) -> Num {
        match (n.as_i64(), n.as_u64()) {
            (Some(i), _) => Num::Int(i128::from(i)),
            (None, Some(u)) => Num::Int(i128::from(u)),
            (None, None) => Num::Float(n.as_f64().unwrap_or(f64::NAN)),
        }
    }

    /// Reads a numeric string ("15000", "-2", "99.5", "1e3"); `None` for
    /// anything else, including "inf" and "NaN".
    pub(crate) fn parse(text: &str) -> Option<Num> {
        if text.is_empty()
            || !text
                .bytes()
                .all(|b| b.is_ascii_digit() || b"+-.eE".contains(&b))
        {
            return None;
        }
        if let Ok(i) = text.parse::<i128>() {
            return Some(Num::Int(i));
        }
        text.parse::<f64>()
            .ok()
            .filter(|f| f.is_finite())
            .map(Num::Float)
    }

    fn compare(self, other: Num) -> Option<Ordering> {
        match (self, other) {
            (Num::Int(a), Num::Int(b)) => Some(a.cmp(&b)),
            (a, b) => a.as_f64().partial_cmp(&b.as_f64()),
        }
    }

    fn as_f64(self) -> f64 {
        match self {
            // Precision loss beyond 2^53 only matters against a float.
            Num::Int(i) => i as f64,
            Num::Float(f) => f,
        }
    }
}

/// JSON equality, with numbers compared numerically (`1 == 1.0`).
pub(crate) fn json_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            Num::from_json(x).compare(Num::from_json(y)) == Some(Ordering::Equal)
        }
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(x, y)| json_eq(x, y))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| json_eq(v, w)))
        }
        (a, b) => a == b,
    }
}

fn found_eq(found: Found<'_>, value: &Value) -> bool {
    match found {
        Found::Absent => false,
        Found::Str(s) => value.as_str() == Some(s),
        Found::Json(j) => json_eq(j, value),
    }
}

fn kind(found: Found<'_>) -> &'static str {
    match found {
        Found::Absent | Found::Json(Value::Null) => "null",
        Found::Str(_) | Found::Json(Value::String(_)) => "a string",
        Found::Json(Value::Number(_)) => "a number",
        Found::Json(Value::Bool(_)) => "a boolean",
        Found::Json(Value::Array(_)) => "an array",
        Found::Json(Value::Object(_)) => "an object",
    }
}

fn as_str(found: Found<'_>) -> Option<&str> {
    match found {
        Found::Str(s) => Some(s),
        Found::Json(Value::String(s)) => Some(s),
        Found::Absent | Found::Json(_) => None,
    }
}

impl Op {
    /// Checks an operator's value at load time and compiles it.
    pub(crate) fn compile(name: OpName, value: Option<Value>) -> Result<Op, String> {
        let op = name.as_str();
        let value = match (name, value) {
            (OpName::Exists, None) => return Ok(Op::Exists(true)),
            (_, None) => return Err(format!("{op:?} needs a value")),
            (_, Some(Value::Null)) => {
                return Err(format!(
                    "{op:?} cannot compare with null (null counts as absent: use \"exists\")"
                ));
            }
            (_, Some(value)) => value,
        };
        let expected = match name {
            OpName::Eq | OpName::Neq | OpName::Contains => None,
            OpName::In | OpName::NotIn => (!value.is_array()).then_some("an array value"),
            OpName::Lt | OpName::Lte | OpName::Gt | OpName::Gte => {
                (!value.is_number()).then_some("a number value")
            }
            OpName::StartsWith | OpName::EndsWith | OpName::Regex => {
                (!value.is_string()).then_some("a string value")
            }
            OpName::Exists => (!value.is_boolean()).then_some("true or false"),
            OpName::LenGt | OpName::LenLt => value
                .as_u64()
                .is_none()
                .then_some("a non-negative integer value"),
        };
        if let Some(what) = expected {
            return Err(format!("{op:?} needs {what}, not {value}"));
        }
        Ok(match (name, value) {
            (OpName::Eq, v) => Op::Eq(v),
            (OpName::Neq, v) => Op::Neq(v),
            (OpName::Contains, v) => Op::Contains(v),
            (OpName::In, Value::Array(items)) => Op::In(items),
            (OpName::NotIn, Value::Array(items)) => Op::NotIn(items),
            (OpName::Lt | OpName::Lte | OpName::Gt | OpName::Gte, Value::Number(n)) => {
                Op::Compare(name, Num::from_json(&n))
            }
            (OpName::StartsWith, Value::String(s)) => Op::StartsWith(s),
            (OpName::EndsWith, Value::String(s)) => Op::EndsWith(s),
            (OpName::Regex, Value::String(s)) => Op::Regex(compile_regex(&s)?),
            (OpName::Exists, Value::Bool(b)) => Op::Exists(b),
            (OpName::LenGt, v) => Op::LenGt(v.as_u64().unwrap_or_default()),
            (OpName::LenLt, v) => Op::LenLt(v.as_u64().unwrap_or_default()),
            // The checks above leave no other combination.
            (_, v) => return Err(format!("{op:?} cannot take {v}")),
        })
    }

    /// Evaluates against what the path found; `path` names it in errors.
    pub(crate) fn eval(&self, found: Found<'_>, path: &str) -> Result<bool, EvalError> {
        if let Op::Exists(want) = self {
            return Ok(!matches!(found, Found::Absent) == *want);
        }
        if matches!(found, Found::Absent) {
            return Ok(false);
        }
        let wrong = |op: &str, needs: &str| {
            EvalError(format!(
                "{path} is {}, and {op:?} needs {needs}",
                kind(found)
            ))
        };
        Ok(match self {
            Op::Eq(v) => found_eq(found, v),
            Op::Neq(v) => !found_eq(found, v),
            Op::In(items) => items.iter().any(|v| found_eq(found, v)),
            Op::NotIn(items) => !items.iter().any(|v| found_eq(found, v)),
            Op::Compare(name, limit) => {
                let n = match found {
                    Found::Json(Value::Number(n)) => Num::from_json(n),
                    _ => as_str(found)
                        .and_then(Num::parse)
                        .ok_or_else(|| wrong(name.as_str(), "a number or a numeric string"))?,
                };
                let ord = n.compare(*limit);
                match name {
                    OpName::Lt => ord == Some(Ordering::Less),
                    OpName::Lte => matches!(ord, Some(Ordering::Less | Ordering::Equal)),
                    OpName::Gt => ord == Some(Ordering::Greater),
                    _ => matches!(ord, Some(Ordering::Greater | Ordering::Equal)),
                }
            }
            Op::Contains(v) => match (found, v) {
                (Found::Json(Value::Array(items)), v) => items.iter().any(|i| json_eq(i, v)),
                (_, Value::String(needle)) => as_str(found)
                    .ok_or_else(|| wrong("contains", "a string or an array"))?
                    .contains(needle.as_str()),
                _ => return Err(wrong("contains", "an array (the value is not a string)")),
            },
            Op::StartsWith(p) => as_str(found)
                .ok_or_else(|| wrong("starts_with", "a string"))?
                .starts_with(p.as_str()),
            Op::EndsWith(p) => as_str(found)
                .ok_or_else(|| wrong("ends_with", "a string"))?
                .ends_with(p.as_str()),
            Op::Regex(re) => re.is_match(as_str(found).ok_or_else(|| wrong("regex", "a string"))?),
            Op::LenGt(n) => {
                length(found).ok_or_else(|| wrong("len_gt", "a string, array or object"))? > *n
            }
            Op::LenLt(n) => {
                length(found).ok_or_else(|| wrong("len_lt", "a string, array or object"))? < *n
            }
            Op::Exists(_) => false,
        })
    }
}

/// Characters of a string, items of an array, members of an object.
fn length(found: Found<'_>) -> Option<u64> {
    let n = match found {
        Found::Json(Value::Array(a)) => a.len(),
        Found::Json(Value::Object(o)) => o.len(),
        _ => as_str(found)?.chars().count(),
    };
    u64::try_from(n).ok()
}

fn compile_regex(pattern: &str) -> Result<regex::Regex, String> {
    regex::RegexBuilder::new(pattern)
        .size_limit(REGEX_SIZE_LIMIT)
        .build()
        .map_err(|e| {
            // The syntax error's Display is a multi-line diagram; its last
            // line says what is wrong.
            let text = e.to_string();
            let last = text
                .lines()
                .rev()
                .find(|l| !l.trim().is_empty())
                .unwrap_or("");
            format!(
                "invalid regex {pattern:?}: {}",
                last.trim().trim_start_matches("error: ")
            )
        })
}
