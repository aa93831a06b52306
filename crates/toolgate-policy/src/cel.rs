//! CEL conditions (`{"expr": "…"}`), compiled at load with cel-rust and
//! evaluated against the call.
//!
//! Variables: `args` (map), `grant` {name}, `server` {name}, `tool` {name},
//! `prompt` {name}, `session` {id}, `principal` {sub, claims}, `uri`
//! (string, or null outside `resources/read`), `now` (int, Unix seconds).
//! Members that do not apply to a call are absent (test them with `has()`);
//! `principal.claims` is `{}` when there are no claims.

use std::collections::HashMap;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, LazyLock};
use std::time::UNIX_EPOCH;

use cel::common::ast::{EntryExpr, Expr, IdedExpr};
use cel::objects::{Key, Map};
use cel::{Env, Program, Value};

use crate::facts::{EvalError, Facts};

/// Longest expression accepted. cel-rust's parser and interpreter recurse
/// on the syntax tree, so this, with [`MAX_NESTING`], bounds their stack use
/// (a 2 MiB thread handles well over twice the depth this allows).
const MAX_EXPR_LEN: usize = 1024;
/// Deepest bracket nesting accepted.
const MAX_NESTING: usize = 32;

/// The variables an expression may use.
const VARIABLES: &[&str] = &[
    "args",
    "grant",
    "server",
    "tool",
    "prompt",
    "session",
    "principal",
    "uri",
    "now",
];
/// CEL's type names, which parse as identifiers (`type(x) == string`).
const TYPE_NAMES: &[&str] = &[
    "int",
    "uint",
    "double",
    "bool",
    "string",
    "bytes",
    "list",
    "map",
    "null_type",
    "type",
    "dyn",
];

/// The standard library plus the strings extension (`lowerAscii`, `split` …).
static ENV: LazyLock<Arc<Env>> = LazyLock::new(|| {
    let mut env = Env::stdlib();
    // Registering a built-in extension on a fresh environment cannot
    // conflict; if it ever did, expressions using it fail to compile.
    let _ = env.add_extension(cel::extensions::strings);
    Arc::new(env)
});

/// A compiled CEL expression.
#[derive(Debug)]
pub(crate) struct CelExpr {
    program: Program,
    source: String,
}

impl CelExpr {
    /// Compiles an expression; the error gives the position of a syntax error
    /// within the expression.
    pub(crate) fn compile(source: &str) -> Result<CelExpr, String> {
        precheck(source)?;
        // cel-rust is third-party code running on policy text: a panic in it
        // must be a load error, not a crashed gateway.
        let compiled = catch_unwind(AssertUnwindSafe(|| ENV.compile(source)))
            .map_err(|_| "the CEL parser failed on this expression".to_owned())?;
        let program = compiled.map_err(|errors| match errors.errors.first() {
            Some(e) if e.msg.contains("Recursion limit") || e.msg.contains("OtherError") => {
                "invalid CEL expression: nested too deeply".to_owned()
            }
            Some(e) => format!(
                "invalid CEL expression: {} (at {}:{} of the expression)",
                e.msg, e.pos.0, e.pos.1
            ),
            None => "invalid CEL expression".to_owned(),
        })?;
        check_names(program.expression(), &mut Vec::new())?;
        Ok(CelExpr {
            program,
            source: source.to_owned(),
        })
    }

    /// The expression as written.
    pub(crate) fn source(&self) -> &str {
        &self.source
    }

    /// Evaluates to a bool; anything else is an error.
    pub(crate) fn eval(&self, facts: &Facts<'_>) -> Result<bool, EvalError> {
        let context = match facts.cel.get_or_init(|| activation(facts)) {
            Ok(context) => context,
            Err(e) => return Err(e.clone()),
        };
        match catch_unwind(AssertUnwindSafe(|| self.program.execute(context))) {
            Ok(Ok(Value::Bool(b))) => Ok(b),
            Ok(Ok(other)) => Err(EvalError(format!(
                "the expression returned {}, not a bool",
                other.type_of()
            ))),
            Ok(Err(e)) => Err(EvalError(format!("the expression failed: {e}"))),
            Err(_) => Err(EvalError("the CEL interpreter failed".to_owned())),
        }
    }
}

/// Rejects expressions too long or too deeply nested for the parser's stack.
fn precheck(source: &str) -> Result<(), String> {
    if source.len() > MAX_EXPR_LEN {
        return Err(format!(
            "CEL expression is {} bytes long; the limit is {MAX_EXPR_LEN}",
            source.len()
        ));
    }
    let (mut depth, mut deepest) = (0usize, 0usize);
    let mut quote: Option<char> = None;
    let mut escaped = false;
    for c in source.chars() {
        match (quote, c) {
            (Some(_), _) if escaped => escaped = false,
            (Some(_), '\\') => escaped = true,
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '\'' | '"') => quote = Some(c),
            (None, '(' | '[' | '{') => {
                depth += 1;
                deepest = deepest.max(depth);
            }
            (None, ')' | ']' | '}') => depth = depth.saturating_sub(1),
            (None, _) => {}
        }
    }
    if deepest > MAX_NESTING {
        return Err(format!(
            "CEL expression nests brackets {deepest} deep; the limit is {MAX_NESTING}"
        ));
    }
    Ok(())
}

/// Catches misspelt variables at load rather than failing closed later.
fn check_names(expr: &IdedExpr, bound: &mut Vec<String>) -> Result<(), String> {
    match &expr.expr {
        Expr::Ident(name) => {
            let known = VARIABLES.contains(&name.as_str()) || TYPE_NAMES.contains(&name.as_str());
            // `@…` names are the accumulators macros introduce.
            if known || name.starts_with('@') || bound.contains(name) {
                Ok(())
            } else {
                Err(format!(
                    "unknown variable {name:?} in CEL expression (expected one of {})",
                    VARIABLES.join(", ")
                ))
            }
        }
        Expr::Call(call) => {
            if let Some(target) = &call.target {
                check_names(target, bound)?;
            }
            call.args.iter().try_for_each(|a| check_names(a, bound))
        }
        Expr::Comprehension(c) => {
            check_names(&c.iter_range, bound)?;
            let before = bound.len();
            bound.push(c.iter_var.clone());
            bound.extend(c.iter_var2.clone());
            bound.push(c.accu_var.clone());
            let inner = [&c.accu_init, &c.loop_cond, &c.loop_step, &c.result];
            let result = inner.into_iter().try_for_each(|e| check_names(e, bound));
            bound.truncate(before);
            result
        }
        Expr::List(list) => list.elements.iter().try_for_each(|e| check_names(e, bound)),
        Expr::Map(map) => map.entries.iter().try_for_each(|e| match &e.expr {
            EntryExpr::MapEntry(entry) => {
                check_names(&entry.key, bound)?;
                check_names(&entry.value, bound)
            }
            EntryExpr::StructField(field) => check_names(&field.value, bound),
        }),
        Expr::Struct(s) => s.entries.iter().try_for_each(|e| match &e.expr {
            EntryExpr::MapEntry(entry) => check_names(&entry.value, bound),
            EntryExpr::StructField(field) => check_names(&field.value, bound),
        }),
        Expr::Select(select) => check_names(&select.operand, bound),
        Expr::Literal(_) | Expr::Unspecified => Ok(()),
    }
}

/// Builds the variables for one call (once, shared by its expressions).
fn activation(facts: &Facts<'_>) -> Result<cel::Context<'static, 'static>, EvalError> {
    let mut context = cel::Context::with_env(Arc::clone(&ENV));
    let args = match facts.args()? {
        None | Some(serde_json::Value::Null) => object([]),
        Some(args) => to_cel(args),
    };
    context.add_variable_from_value("args", args);
    context.add_variable_from_value("grant", object([("name", text(facts.grant()))]));
    context.add_variable_from_value("server", object([("name", text(facts.server()))]));
    context.add_variable_from_value("tool", named("name", facts.tool()));
    context.add_variable_from_value("prompt", named("name", facts.prompt()));
    context.add_variable_from_value("session", named("id", facts.session()));
    let mut principal = HashMap::new();
    if let Some(sub) = facts.subject() {
        principal.insert(key("sub"), text(sub));
    }
    // `{}` rather than absent, so `has(principal.claims.x)` works without
    // a separate `has(principal.claims)`.
    let claims = facts.claims().map_or_else(|| object([]), to_cel);
    principal.insert(key("claims"), claims);
    context.add_variable_from_value(
        "principal",
        Value::Map(Map {
            map: Arc::new(principal),
        }),
    );
    context.add_variable_from_value("uri", facts.uri().map_or(Value::Null, text));
    let now = match facts.now().duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
        Err(e) => -i64::try_from(e.duration().as_secs()).unwrap_or(i64::MAX),
    };
    context.add_variable_from_value("now", Value::Int(now));
    Ok(context)
}

fn key(name: &str) -> Key {
    Key::String(Arc::new(name.to_owned()))
}

fn text(s: &str) -> Value {
    Value::String(Arc::new(s.to_owned()))
}

fn object<const N: usize>(members: [(&str, Value); N]) -> Value {
    let map = members.into_iter().map(|(k, v)| (key(k), v)).collect();
    Value::Map(Map { map: Arc::new(map) })
}

/// `{member: value}`, or `{}` when there is no value.
fn named(member: &str, value: Option<&str>) -> Value {
    match value {
        Some(v) => object([(member, text(v))]),
        None => object([]),
    }
}

/// JSON to CEL: integers become `int` (or `uint` above `i64::MAX`) so they
/// compare with integer literals; other numbers become `double`.
fn to_cel(value: &serde_json::Value) -> Value {
    match value {
        serde_json::Value::Null => Value::Null,
        serde_json::Value::Bool(b) => Value::Bool(*b),
        serde_json::Value::Number(n) => match (n.as_i64(), n.as_u64()) {
            (Some(i), _) => Value::Int(i),
            (None, Some(u)) => Value::UInt(u),
            (None, None) => Value::Float(n.as_f64().unwrap_or(f64::NAN)),
        },
        serde_json::Value::String(s) => text(s),
        serde_json::Value::Array(items) => {
            Value::List(Arc::new(items.iter().map(to_cel).collect()))
        }
        serde_json::Value::Object(members) => {
            let map = members.iter().map(|(k, v)| (key(k), to_cel(v))).collect();
            Value::Map(Map { map: Arc::new(map) })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compile_errors() {
        let err = |s: &str| CelExpr::compile(s).err().unwrap_or_default();
        assert!(err("args.amount > ").contains("(at 1:15 of the expression)"));
        assert!(err("arg.amount > 1").contains("unknown variable \"arg\""));
        assert!(err(&"(".repeat(40)).contains("nests brackets 40 deep"));
        assert!(err(&"1+".repeat(600)).contains("the limit is 1024"));
        assert!(CelExpr::compile("args.items.all(i, i.qty > 0)").is_ok());
        assert!(CelExpr::compile("type(args.x) == string").is_ok());
        assert!(CelExpr::compile("'(' + \"[\" == ')'").is_ok());
    }
}
