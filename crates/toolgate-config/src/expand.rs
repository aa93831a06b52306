//! `${VAR}` expansion: `${VAR}`, `${VAR:-default}`, and `$$` for a literal
//! `$`. An unset variable without a default is an error naming the field,
//! so a missing secret never silently becomes an empty token.

use std::collections::BTreeMap;

use crate::schema::{Config, SESSION_KEY_VAR};

/// Where `${VAR}` values come from. Injected so tests never mutate the
/// process environment.
pub struct Env {
    vars: BTreeMap<String, String>,
}

impl Env {
    /// The process environment, plus `TOOLGATE_EXE`: the path of the running
    /// binary, so a config can launch the bundled demo server
    /// (`command: ["${TOOLGATE_EXE}", "demo", "crm"]`).
    pub fn process() -> Env {
        let mut vars: BTreeMap<String, String> = std::env::vars().collect();
        if let Ok(exe) = std::env::current_exe() {
            vars.entry("TOOLGATE_EXE".into())
                .or_insert_with(|| exe.to_string_lossy().into_owned());
        }
        Env { vars }
    }

    /// A fixed set of variables.
    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Env {
        Env {
            vars: pairs
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect(),
        }
    }

    fn get(&self, name: &str) -> Option<&str> {
        self.vars.get(name).map(String::as_str)
    }
}

/// Why a value could not be expanded.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum ExpandError {
    /// `${NAME}` with `NAME` unset and no default.
    #[error("environment variable {0} is not set (use ${{{0}:-default}} for a default)")]
    Unset(String),
    /// `${` without a closing `}`, or an empty or invalid name.
    #[error("malformed variable reference in {0:?}")]
    Malformed(String),
}

/// Expands one string.
pub(crate) fn expand(input: &str, env: &Env) -> Result<String, ExpandError> {
    let mut out = String::with_capacity(input.len());
    let mut rest = input;
    while let Some(pos) = rest.find('$') {
        out.push_str(&rest[..pos]);
        let after = &rest[pos + 1..];
        if let Some(tail) = after.strip_prefix('$') {
            out.push('$');
            rest = tail;
        } else if let Some(body) = after.strip_prefix('{') {
            let end = body
                .find('}')
                .ok_or_else(|| ExpandError::Malformed(input.to_owned()))?;
            let (name, default) = match body[..end].split_once(":-") {
                Some((n, d)) => (n, Some(d)),
                None => (&body[..end], None),
            };
            let valid =
                !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
            if !valid {
                return Err(ExpandError::Malformed(input.to_owned()));
            }
            match (env.get(name), default) {
                (Some(v), _) => out.push_str(v),
                (None, Some(d)) => out.push_str(d),
                (None, None) => return Err(ExpandError::Unset(name.to_owned())),
            }
            rest = &body[end + 1..];
        } else {
            out.push('$');
            rest = after;
        }
    }
    out.push_str(rest);
    Ok(out)
}

type FieldError = (String, ExpandError);

fn expand_in_place(
    value: &mut String,
    field: impl FnOnce() -> String,
    env: &Env,
) -> Result<(), FieldError> {
    *value = expand(value, env).map_err(|e| (field(), e))?;
    Ok(())
}

fn expand_map(
    map: &mut BTreeMap<String, String>,
    prefix: &str,
    env: &Env,
) -> Result<(), FieldError> {
    for (k, v) in map.iter_mut() {
        expand_in_place(v, || format!("{prefix}.{k}"), env)?;
    }
    Ok(())
}

/// Expands every field that may hold a secret or a path.
pub(crate) fn expand_config(config: &mut Config, env: &Env) -> Result<(), FieldError> {
    expand_in_place(&mut config.listen, || "listen".into(), env)?;
    expand_in_place(&mut config.audit.sink, || "audit.sink".into(), env)?;
    expand_in_place(&mut config.limits.store, || "limits.store".into(), env)?;
    if let Some(j) = config.audit.jsonl.as_mut() {
        expand_in_place(j, || "audit.jsonl".into(), env)?;
    }
    if let Some(t) = config.telemetry.as_mut() {
        expand_in_place(
            &mut t.otlp_endpoint,
            || "telemetry.otlp_endpoint".into(),
            env,
        )?;
    }
    if let Some(admin) = config.admin.as_mut() {
        expand_in_place(&mut admin.listen, || "admin.listen".into(), env)?;
    }
    for (name, server) in config.servers.iter_mut() {
        let p = format!("servers.{name}");
        if let Some(cmd) = server.command.as_mut() {
            for (i, arg) in cmd.iter_mut().enumerate() {
                expand_in_place(arg, || format!("{p}.command[{i}]"), env)?;
            }
        }
        expand_map(&mut server.env, &format!("{p}.env"), env)?;
        if let Some(cwd) = server.cwd.as_mut() {
            expand_in_place(cwd, || format!("{p}.cwd"), env)?;
        }
        if let Some(url) = server.url.as_mut() {
            expand_in_place(url, || format!("{p}.url"), env)?;
        }
        expand_map(&mut server.headers, &format!("{p}.headers"), env)?;
    }
    for (i, grant) in config.grants.iter_mut().enumerate() {
        for (field, value) in [
            ("token", &mut grant.token),
            ("token_sha256", &mut grant.token_sha256),
        ] {
            if let Some(v) = value.as_mut() {
                expand_in_place(v, || format!("grants[{i}].{field}"), env)?;
            }
        }
    }
    expand_map(&mut config.policies, "policies", env)?;
    // The session key may also come from the environment, so a fleet can
    // share one secret without writing it into every replica's file.
    match config.sessions.key.as_mut() {
        Some(key) => expand_in_place(key, || "sessions.key".into(), env)?,
        None => config.sessions.key = env.get(SESSION_KEY_VAR).map(str::to_owned),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expansion_forms() {
        let env = Env::from_pairs([("A", "x"), ("EMPTY", "")]);
        let cases = [
            ("plain", "plain"),
            ("${A}", "x"),
            ("pre-${A}-post", "pre-x-post"),
            ("${EMPTY}", ""),
            ("${MISSING:-dflt}", "dflt"),
            ("${A:-dflt}", "x"),
            ("$$A and $A", "$A and $A"),
            ("cost: 5$", "cost: 5$"),
        ];
        for (input, want) in cases {
            assert_eq!(expand(input, &env).as_deref(), Ok(want), "{input}");
        }
        assert_eq!(
            expand("${MISSING}", &env),
            Err(ExpandError::Unset("MISSING".into()))
        );
        assert_eq!(
            expand("${A", &env),
            Err(ExpandError::Malformed("${A".into()))
        );
        assert_eq!(
            expand("${}", &env),
            Err(ExpandError::Malformed("${}".into()))
        );
        assert_eq!(
            expand("${A-B}", &env),
            Err(ExpandError::Malformed("${A-B}".into()))
        );
    }
}
