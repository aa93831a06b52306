//! Condition paths: `args.amount`, `args.items[0].sku`, `args["odd key"]`,
//! `grant.name`, `server.name`, `tool.name`, `prompt.name`, `session.id`,
//! `principal.sub`, `principal.claims.<…>`, `uri`.

use serde_json::Value;

use crate::facts::{EvalError, Facts};

/// Where a path starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Root {
    Args,
    Grant,
    Server,
    Tool,
    Prompt,
    Session,
    Principal,
    Uri,
}

/// One step below the root.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Step {
    Key(String),
    Index(usize),
}

/// A compiled path.
#[derive(Debug, Clone)]
pub(crate) struct PathExpr {
    root: Root,
    steps: Vec<Step>,
    /// Canonical text, for rule ids and messages.
    text: String,
}

/// What a path points at in one call. JSON `null` counts as absent.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Found<'v> {
    Absent,
    Str(&'v str),
    Json(&'v Value),
}

const ROOTS: &str = "args, grant, server, tool, prompt, session, principal, uri";

impl PathExpr {
    /// Parses and validates a path.
    pub(crate) fn parse(text: &str) -> Result<PathExpr, String> {
        let root_len = text.find(['.', '[']).unwrap_or(text.len());
        let root = match &text[..root_len] {
            "args" => Root::Args,
            "grant" => Root::Grant,
            "server" => Root::Server,
            "tool" => Root::Tool,
            "prompt" => Root::Prompt,
            "session" => Root::Session,
            "principal" => Root::Principal,
            "uri" => Root::Uri,
            other => {
                return Err(format!(
                    "unknown path root {other:?} in {text:?} (expected one of {ROOTS})"
                ));
            }
        };
        let steps =
            parse_steps(&text[root_len..]).map_err(|m| format!("bad path {text:?}: {m}"))?;
        check_shape(root, &steps).map_err(|m| format!("bad path {text:?}: {m}"))?;
        let mut canonical = text[..root_len].to_owned();
        for step in &steps {
            match step {
                Step::Key(key) => crate::error::push_key(&mut canonical, key),
                Step::Index(i) => canonical.push_str(&format!("[{i}]")),
            }
        }
        Ok(PathExpr {
            root,
            steps,
            text: canonical,
        })
    }

    /// Canonical text (`args["odd key"]`, `args.items[0].sku`).
    pub(crate) fn text(&self) -> &str {
        &self.text
    }

    /// Looks the path up in a call.
    pub(crate) fn resolve<'v>(&self, facts: &'v Facts<'_>) -> Result<Found<'v>, EvalError> {
        let json = match self.root {
            Root::Args => facts.args()?,
            Root::Principal => match self.steps.first() {
                Some(Step::Key(k)) if k == "sub" => return Ok(found_str(facts.subject())),
                _ => return Ok(walk(facts.claims(), &self.steps[1..])),
            },
            Root::Grant => return Ok(Found::Str(facts.grant())),
            Root::Server => return Ok(Found::Str(facts.server())),
            Root::Tool => return Ok(found_str(facts.tool())),
            Root::Prompt => return Ok(found_str(facts.prompt())),
            Root::Session => return Ok(found_str(facts.session())),
            Root::Uri => return Ok(found_str(facts.uri())),
        };
        Ok(walk(json, &self.steps))
    }
}

fn found_str(value: Option<&str>) -> Found<'_> {
    value.map_or(Found::Absent, Found::Str)
}

fn walk<'v>(mut value: Option<&'v Value>, steps: &[Step]) -> Found<'v> {
    for step in steps {
        value = match (step, value) {
            (Step::Key(key), Some(Value::Object(map))) => map.get(key),
            (Step::Index(i), Some(Value::Array(items))) => items.get(*i),
            _ => None,
        };
    }
    match value {
        None | Some(Value::Null) => Found::Absent,
        Some(v) => Found::Json(v),
    }
}

fn parse_steps(mut rest: &str) -> Result<Vec<Step>, String> {
    let mut steps = Vec::new();
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix('.') {
            let len = after.find(['.', '[', ']', '"']).unwrap_or(after.len());
            let key = &after[..len];
            if key.is_empty() || key.contains(char::is_whitespace) {
                return Err("expected a name after \".\"".into());
            }
            steps.push(Step::Key(key.to_owned()));
            rest = &after[len..];
        } else if let Some(after) = rest.strip_prefix("[\"") {
            let (key, after) = quoted_key(after)?;
            steps.push(Step::Key(key));
            rest = after;
        } else if let Some(after) = rest.strip_prefix('[') {
            let end = after.find(']').ok_or("unclosed \"[\"")?;
            let index = after[..end]
                .parse()
                .map_err(|_| "expected an index or a quoted key in \"[]\"")?;
            steps.push(Step::Index(index));
            rest = &after[end + 1..];
        } else {
            return Err("expected \".\" or \"[\"".into());
        }
    }
    Ok(steps)
}

/// Reads `odd key"]` (after `["`): a JSON string body and the closing `"]`.
fn quoted_key(after: &str) -> Result<(String, &str), String> {
    let mut escaped = false;
    for (i, c) in after.char_indices() {
        match c {
            '\\' if !escaped => escaped = true,
            '"' if !escaped => {
                let key: String = serde_json::from_str(&format!("\"{}\"", &after[..i]))
                    .map_err(|_| "bad escape in quoted key")?;
                let rest = after[i + 1..]
                    .strip_prefix(']')
                    .ok_or("expected \"]\" after a quoted key")?;
                return Ok((key, rest));
            }
            _ => escaped = false,
        }
    }
    Err("unclosed quoted key".into())
}

fn check_shape(root: Root, steps: &[Step]) -> Result<(), &'static str> {
    let key = |i: usize| match steps.get(i) {
        Some(Step::Key(k)) => Some(k.as_str()),
        _ => None,
    };
    let one = |name: &str| steps.len() == 1 && key(0) == Some(name);
    let (ok, hint) = match root {
        Root::Args => (true, ""),
        Root::Grant | Root::Server | Root::Tool | Root::Prompt => {
            (one("name"), "only \".name\" is defined here")
        }
        Root::Session => (one("id"), "only \"session.id\" is defined"),
        Root::Principal => (
            one("sub") || key(0) == Some("claims"),
            "only \"principal.sub\" and \"principal.claims…\" are defined",
        ),
        Root::Uri => (steps.is_empty(), "\"uri\" is a string and has no members"),
    };
    if ok { Ok(()) } else { Err(hint) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_canonicalizes() {
        let t = |s: &str| PathExpr::parse(s).map(|p| p.text().to_owned());
        assert_eq!(t("args.amount"), Ok("args.amount".into()));
        assert_eq!(t("args.items[0].sku"), Ok("args.items[0].sku".into()));
        assert_eq!(t("args[\"odd key\"]"), Ok("args[\"odd key\"]".into()));
        assert_eq!(t("args[\"plain\"]"), Ok("args.plain".into()));
        assert_eq!(t("args[\"a\\\"b\"].c"), Ok("args[\"a\\\"b\"].c".into()));
        assert_eq!(t("args"), Ok("args".into()));
        assert_eq!(t("grant.name"), Ok("grant.name".into()));
        assert_eq!(
            t("principal.claims.groups[1]"),
            Ok("principal.claims.groups[1]".into())
        );
        assert_eq!(t("uri"), Ok("uri".into()));
        assert!(t("arg.amount").is_err());
        assert!(t("grant.id").is_err());
        assert!(t("args.").is_err());
        assert!(t("args[x]").is_err());
        assert!(t("args[1").is_err());
        assert!(t("args[\"x\"").is_err());
        assert!(t("uri.x").is_err());
        assert!(t("args.a b").is_err());
        assert!(t("").is_err());
    }
}
