//! Bitrix24-style list filters.
//!
//! A filter is a JSON object encoded as a string, as the Bitrix24 MCP tools
//! take it: `{"STATUS_ID":"NEW"}`. A key may carry Bitrix24's operator
//! prefix: none or `=` (equals), `!` (not equal), `%` (case-insensitive
//! substring), `>`, `>=`, `<`, `<=` (numeric when both sides are numbers,
//! otherwise string order, which is chronological for ISO timestamps). An
//! array value means "any of". Multi-fields (PHONE, EMAIL) match on any of
//! their values.

use serde_json::Value;

use crate::store::Record;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Op {
    Eq,
    NotEq,
    Like,
    Gt,
    Ge,
    Lt,
    Le,
}

/// Operator prefixes, longest first so `>=` wins over `>`.
const PREFIXES: [(&str, Op); 7] = [
    (">=", Op::Ge),
    ("<=", Op::Le),
    ("!", Op::NotEq),
    ("%", Op::Like),
    (">", Op::Gt),
    ("<", Op::Lt),
    ("=", Op::Eq),
];

#[derive(Debug)]
struct Condition {
    field: String,
    op: Op,
    values: Vec<String>,
}

/// A parsed filter: all conditions must hold.
#[derive(Debug, Default)]
pub(crate) struct Filter {
    conditions: Vec<Condition>,
}

impl Filter {
    /// Parses the `filter` argument; absent or blank means "everything".
    /// The error says what is wrong, for the caller to show to the model.
    pub(crate) fn parse(text: Option<&str>) -> Result<Filter, String> {
        let text = match text.map(str::trim) {
            None | Some("") => return Ok(Filter::default()),
            Some(t) => t,
        };
        let value: Value = serde_json::from_str(text)
            .map_err(|e| format!("filter is not valid JSON ({e}); expected an object such as {{\"STATUS_ID\":\"NEW\"}}"))?;
        let Value::Object(map) = value else {
            return Err("filter must be a JSON object such as {\"STATUS_ID\":\"NEW\"}".to_string());
        };
        let mut conditions = Vec::with_capacity(map.len());
        for (key, value) in map {
            conditions.push(condition(&key, &value)?);
        }
        Ok(Filter { conditions })
    }

    /// True if `record` satisfies every condition.
    pub(crate) fn matches(&self, record: &Record) -> bool {
        self.conditions.iter().all(|c| c.matches(record))
    }
}

fn condition(key: &str, value: &Value) -> Result<Condition, String> {
    let (op, field) = PREFIXES
        .iter()
        .find_map(|(prefix, op)| key.strip_prefix(prefix).map(|rest| (*op, rest)))
        .unwrap_or((Op::Eq, key));
    if field.is_empty() {
        return Err(format!("filter key {key:?} names no field"));
    }
    let values = match value {
        Value::Array(items) => items.iter().map(scalar).collect::<Option<Vec<_>>>(),
        other => scalar(other).map(|v| vec![v]),
    }
    .ok_or_else(|| format!("filter value for {key:?} must be a string, number or boolean"))?;
    Ok(Condition {
        // Bitrix24 field names are upper case; accept `status_id` too.
        field: field.to_ascii_uppercase(),
        op,
        values,
    })
}

fn scalar(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Null | Value::Array(_) | Value::Object(_) => None,
    }
}

impl Condition {
    fn matches(&self, record: &Record) -> bool {
        let actual = field_values(record.get(&self.field));
        let hit = |op: Op| {
            self.values
                .iter()
                .any(|wanted| actual.iter().any(|a| compare(op, a, wanted)))
        };
        match self.op {
            // "Equal to none of", so a missing field also passes.
            Op::NotEq => !hit(Op::Eq),
            Op::Eq | Op::Like | Op::Gt | Op::Ge | Op::Lt | Op::Le => hit(self.op),
        }
    }
}

/// The comparable values of a field: a scalar, or each VALUE of a multi-field.
fn field_values(field: Option<&Value>) -> Vec<String> {
    match field {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(|item| scalar(item.get("VALUE").unwrap_or(item)))
            .collect(),
        Some(other) => scalar(other).into_iter().collect(),
    }
}

fn compare(op: Op, actual: &str, wanted: &str) -> bool {
    let ordering = || match (actual.parse::<f64>(), wanted.parse::<f64>()) {
        (Ok(a), Ok(w)) => a.partial_cmp(&w),
        _ => Some(actual.cmp(wanted)),
    };
    match op {
        Op::Eq => actual == wanted,
        // Handled by `Condition::matches` as the negation of `Eq`.
        Op::NotEq => actual != wanted,
        Op::Like => actual.to_lowercase().contains(&wanted.to_lowercase()),
        Op::Gt => ordering().is_some_and(|o| o.is_gt()),
        Op::Ge => ordering().is_some_and(|o| o.is_ge()),
        Op::Lt => ordering().is_some_and(|o| o.is_lt()),
        Op::Le => ordering().is_some_and(|o| o.is_le()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn lead() -> Record {
        crate::store::record(json!({
            "ID": "7", "TITLE": "Acme Corp: 40 seats", "STATUS_ID": "NEW",
            "OPPORTUNITY": "12000.00", "DATE_CREATE": "2026-01-10T10:00:00+00:00",
            "EMAIL": [{"ID": "3", "VALUE": "ops@acme.example", "VALUE_TYPE": "WORK"}],
        }))
    }

    #[test]
    fn conditions_match_like_bitrix24() {
        let cases = [
            (r#"{"STATUS_ID":"NEW"}"#, true),
            (r#"{"STATUS_ID":"JUNK"}"#, false),
            (r#"{"status_id":"NEW"}"#, true),
            (r#"{"STATUS_ID":["JUNK","NEW"]}"#, true),
            (r#"{"!STATUS_ID":["JUNK","NEW"]}"#, false),
            (r#"{"!STATUS_ID":"JUNK"}"#, true),
            (r#"{"%TITLE":"acme"}"#, true),
            (r#"{"TITLE":"acme"}"#, false),
            (r#"{">OPPORTUNITY":9000}"#, true),
            (r#"{">=OPPORTUNITY":"12000"}"#, true),
            (r#"{"<OPPORTUNITY":"12000"}"#, false),
            (r#"{">=DATE_CREATE":"2026-01-11"}"#, false),
            (r#"{"EMAIL":"ops@acme.example"}"#, true),
            (r#"{"ID":7}"#, true),
            (r#"{"MISSING":"x"}"#, false),
            (r#"{"!MISSING":"x"}"#, true),
            (r#"{"STATUS_ID":"NEW","%TITLE":"globex"}"#, false),
            ("", true),
            ("  {}  ", true),
        ];
        for (text, expected) in cases {
            let filter = Filter::parse(Some(text)).unwrap();
            assert_eq!(filter.matches(&lead()), expected, "{text}");
        }
    }

    #[test]
    fn malformed_filters_are_explained() {
        let cases = [
            ("{STATUS_ID:NEW}", "not valid JSON"),
            ("[\"NEW\"]", "must be a JSON object"),
            (
                r#"{"STATUS_ID":{"a":1}}"#,
                "must be a string, number or boolean",
            ),
            (r#"{"%":"x"}"#, "names no field"),
        ];
        for (text, expected) in cases {
            let err = Filter::parse(Some(text)).unwrap_err();
            assert!(err.contains(expected), "{text}: {err}");
        }
    }
}
