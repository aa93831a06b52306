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

/// The variables an expression may use, each with how a call's value of
/// it is built.
const VARIABLES: &[(&str, Builder)] = &[
    ("args", args),
    ("grant", |f| Ok(object([("name", text(f.grant()))]))),
    ("server", |f| Ok(object([("name", text(f.server()))]))),
    ("tool", |f| Ok(named("name", f.tool()))),
    ("prompt", |f| Ok(named("name", f.prompt()))),
    ("session", |f| Ok(named("id", f.session()))),
    ("principal", |f| Ok(principal(f))),
    ("uri", |f| Ok(f.uri().map_or(Value::Null, text))),
    ("now", |f| Ok(Value::Int(unix_seconds(f.now())))),
];

/// Builds one variable's value for a call.
type Builder = fn(&Facts<'_>) -> Result<Value, EvalError>;

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
    /// The [`VARIABLES`] it reads, one bit each: only those are built.
    reads: u16,
}

/// The CEL variables of one call, built as expressions first need them
/// (converting the arguments or the claims to CEL values, and every map
/// the other variables are, is most of an evaluation's cost).
#[derive(Default)]
pub(crate) struct Activation {
    context: Option<cel::Context<'static, 'static>>,
    built: u16,
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
        let mut reads = 0;
        check_names(program.expression(), &mut Vec::new(), &mut reads)?;
        Ok(CelExpr {
            program,
            source: source.to_owned(),
            reads,
        })
    }

    /// The expression as written.
    pub(crate) fn source(&self) -> &str {
        &self.source
    }

    /// Evaluates to a bool; anything else is an error.
    pub(crate) fn eval(&self, facts: &Facts<'_>) -> Result<bool, EvalError> {
        let mut activation = facts.cel.borrow_mut();
        let context = activation.with(self.reads, facts)?;
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

impl Activation {
    /// The context with (at least) the variables in `reads` bound.
    fn with(
        &mut self,
        reads: u16,
        facts: &Facts<'_>,
    ) -> Result<&cel::Context<'static, 'static>, EvalError> {
        let context = self
            .context
            .get_or_insert_with(|| cel::Context::with_env(Arc::clone(&ENV)));
        for (i, (name, build)) in VARIABLES.iter().enumerate() {
            let bit = 1 << i;
            if reads & bit != 0 && self.built & bit == 0 {
                context.add_variable_from_value(*name, build(facts)?);
                self.built |= bit;
            }
        }
        Ok(context)
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
/// Also records in `reads` which [`VARIABLES`] the expression uses.
fn check_names(expr: &IdedExpr, bound: &mut Vec<String>, reads: &mut u16) -> Result<(), String> {
    match &expr.expr {
        Expr::Ident(name) => {
            let variable = VARIABLES.iter().position(|(v, _)| v == name);
            let local = bound.contains(name);
            if let (Some(i), false) = (variable, local) {
                *reads |= 1 << i;
            }
            let known = variable.is_some() || TYPE_NAMES.contains(&name.as_str());
            // `@…` names are the accumulators macros introduce.
            if known || name.starts_with('@') || local {
                Ok(())
            } else {
                Err(format!(
                    "unknown variable {name:?} in CEL expression (expected one of {})",
                    VARIABLES
                        .iter()
                        .map(|(v, _)| *v)
                        .collect::<Vec<_>>()
                        .join(", ")
                ))
            }
        }
        Expr::Call(call) => {
            if let Some(target) = &call.target {
                check_names(target, bound, reads)?;
            }
            call.args
                .iter()
                .try_for_each(|a| check_names(a, bound, reads))
        }
        Expr::Comprehension(c) => {
            // The range and the initial value are evaluated outside the
            // loop's scope; the rest inside it.
            check_names(&c.iter_range, bound, reads)?;
            check_names(&c.accu_init, bound, reads)?;
            let before = bound.len();
            bound.push(c.iter_var.clone());
            bound.extend(c.iter_var2.clone());
            bound.push(c.accu_var.clone());
            let inner = [&c.loop_cond, &c.loop_step, &c.result];
            let result = inner
                .into_iter()
                .try_for_each(|e| check_names(e, bound, reads));
            bound.truncate(before);
            result
        }
        Expr::List(list) => list
            .elements
            .iter()
            .try_for_each(|e| check_names(e, bound, reads)),
        Expr::Map(map) => map.entries.iter().try_for_each(|e| match &e.expr {
            EntryExpr::MapEntry(entry) => {
                check_names(&entry.key, bound, reads)?;
                check_names(&entry.value, bound, reads)
            }
            EntryExpr::StructField(field) => check_names(&field.value, bound, reads),
        }),
        Expr::Struct(s) => s.entries.iter().try_for_each(|e| match &e.expr {
            EntryExpr::MapEntry(entry) => check_names(&entry.value, bound, reads),
            EntryExpr::StructField(field) => check_names(&field.value, bound, reads),
        }),
        Expr::Select(select) => check_names(&select.operand, bound, reads),
        Expr::Literal(_) | Expr::Unspecified => Ok(()),
    }
}

fn args(facts: &Facts<'_>) -> Result<Value, EvalError> {
    Ok(match facts.args()? {
        None | Some(serde_json::Value::Null) => object([]),
        Some(args) => to_cel(args),
    })
}

fn principal(facts: &Facts<'_>) -> Value {
    let mut principal = HashMap::new();
    if let Some(sub) = facts.subject() {
        principal.insert(key("sub"), text(sub));
    }
    // `{}` rather than absent, so `has(principal.claims.x)` works without a
    // separate `has(principal.claims)`.
    let claims = facts.claims().map_or_else(|| object([]), to_cel);
    principal.insert(key("claims"), claims);
    Value::Map(Map {
        map: Arc::new(principal),
    })
}

fn unix_seconds(t: std::time::SystemTime) -> i64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
        Err(e) => -i64::try_from(e.duration().as_secs()).unwrap_or(i64::MAX),
    }
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

    #[test]
    fn an_expression_reads_only_the_variables_it_names() {
        let reads = |s: &str| CelExpr::compile(s).map(|e| e.reads);
        assert_eq!(reads("args.a > 1 && grant.name == 'x'"), Ok(0b11));
        assert_eq!(reads("now > 0 || uri == null"), Ok(1 << 8 | 1 << 7));
        // A macro's own variable is not the global of that name.
        assert_eq!(reads("[1, 2].exists(tool, tool > 1)"), Ok(0));
        assert_eq!(reads("args.xs.exists(tool, tool > 1)"), Ok(1));
    }
}
