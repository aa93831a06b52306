//! `${VAR}` expansion: `${VAR}`, `${VAR:-default}`, `${file:PATH}` (a
//! secret file, see `secret_file`), and `$$` for a literal `$`. An unset
//! variable without a default is an error naming the field, so a missing
//! secret never silently becomes an empty token.

use std::collections::BTreeMap;
use std::path::Path;

use crate::schema::{Config, SESSION_KEY_VAR};
use crate::secret_file;

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
    /// `${file:PATH}` could not be opened or read.
    #[error("cannot read secret file {path}: {reason}")]
    FileUnreadable {
        /// The file, resolved against the config file's directory.
        path: String,
        /// The I/O error (never the content).
        reason: String,
    },
    /// `${file:PATH}` is larger than a secret can reasonably be.
    #[error("secret file {path} is larger than {limit} bytes")]
    FileTooLarge {
        /// The file, resolved against the config file's directory.
        path: String,
        /// The largest size accepted.
        limit: u64,
    },
    /// `${file:PATH}` is not UTF-8 text.
    #[error("secret file {path} is not UTF-8 text")]
    FileNotUtf8 {
        /// The file, resolved against the config file's directory.
        path: String,
    },
}

/// What `${…}` reads from: variables, and files relative to the config
/// file's directory.
pub(crate) struct Sources<'a> {
    env: &'a Env,
    base: &'a Path,
}

/// Expands one string. A file's content is taken verbatim (a `$` in a
/// secret is not a reference).
pub(crate) fn expand(input: &str, env: &Sources<'_>) -> Result<String, ExpandError> {
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
            if let Some(path) = body[..end].strip_prefix("file:") {
                if path.is_empty() {
                    return Err(ExpandError::Malformed(input.to_owned()));
                }
                out.push_str(&secret_file::read(env.base, path)?);
                rest = &body[end + 1..];
                continue;
            }
            let (name, default) = match body[..end].split_once(":-") {
                Some((n, d)) => (n, Some(d)),
                None => (&body[..end], None),
            };
            let valid =
                !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
            if !valid {
                return Err(ExpandError::Malformed(input.to_owned()));
            }
            match (env.env.get(name), default) {
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
    env: &Sources<'_>,
) -> Result<(), FieldError> {
    *value = expand(value, env).map_err(|e| (field(), e))?;
    Ok(())
}

fn expand_map(
    map: &mut BTreeMap<String, String>,
    prefix: &str,
    env: &Sources<'_>,
) -> Result<(), FieldError> {
    for (k, v) in map.iter_mut() {
        expand_in_place(v, || format!("{prefix}.{k}"), env)?;
    }
    Ok(())
}

/// Expands every field that may hold a secret or a path.
pub(crate) fn expand_config(config: &mut Config, env: &Env) -> Result<(), FieldError> {
    let base = config.base_dir.clone();
    let env = &Sources { env, base: &base };
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
    expand_in_place(
        &mut config.grant_store.url,
        || "grant_store.url".into(),
        env,
    )?;
    if let Some(u) = config.public_url.as_mut() {
        expand_in_place(u, || "public_url".into(), env)?;
    }
    if let Some(admin) = config.admin.as_mut() {
        expand_in_place(&mut admin.listen, || "admin.listen".into(), env)?;
        for (field, value) in [
            ("token", &mut admin.token),
            ("token_sha256", &mut admin.token_sha256),
        ] {
            if let Some(v) = value.as_mut() {
                expand_in_place(v, || format!("admin.{field}"), env)?;
            }
        }
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
        if let Some(o) = server.oauth.as_mut() {
            expand_in_place(&mut o.issuer, || format!("{p}.oauth.issuer"), env)?;
            for (field, value) in [("jwks_url", &mut o.jwks_url), ("key_file", &mut o.key_file)] {
                if let Some(v) = value.as_mut() {
                    expand_in_place(v, || format!("{p}.oauth.{field}"), env)?;
                }
            }
            for (i, a) in o.audience.iter_mut().enumerate() {
                expand_in_place(a, || format!("{p}.oauth.audience[{i}]"), env)?;
            }
        }
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
        None => config.sessions.key = env.env.get(SESSION_KEY_VAR).map(str::to_owned),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expansion_forms() {
        let vars = Env::from_pairs([("A", "x"), ("EMPTY", "")]);
        let env = Sources {
            env: &vars,
            base: Path::new("/nonexistent"),
        };
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

    #[test]
    fn file_references() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("tok"), "t$ken\n").unwrap();
        let vars = Env::from_pairs([("A", "x")]);
        let env = Sources {
            env: &vars,
            base: dir.path(),
        };
        assert_eq!(
            expand("Bearer ${file:tok}", &env).as_deref(),
            Ok("Bearer t$ken")
        );
        assert_eq!(
            expand("${A}:${file:tok}:$$", &env).as_deref(),
            Ok("x:t$ken:$")
        );
        assert_eq!(
            expand("${file:}", &env),
            Err(ExpandError::Malformed("${file:}".into()))
        );
        assert!(matches!(
            expand("${file:missing}", &env),
            Err(ExpandError::FileUnreadable { .. })
        ));
    }

    /// Every expanded field takes files, relative to the config file, and
    /// an error names the field and the path but not the content.
    #[test]
    fn files_in_config_fields() {
        let dir = tempfile::tempdir().unwrap();
        let key = "ab".repeat(32);
        for (name, content) in [
            ("tok", "grant-token-0123456789\n"),
            ("admin", "admin-token-0123456789\r\n"),
            ("hdr", "h-secret"),
            ("envv", "e-secret\n"),
            ("key", key.as_str()),
        ] {
            std::fs::write(dir.path().join(name), content).unwrap();
        }
        let yaml = r#"
servers:
  up:
    url: http://127.0.0.1:9/mcp
    headers: {X-Api-Key: "${file:hdr}"}
  local:
    command: [srv]
    env: {KEY: "${file:envv}"}
grants:
  - {name: g, token: "${file:tok}", server: up}
admin: {token: "${file:admin}"}
sessions: {key: "${file:key}"}
audit: none
"#;
        let path = dir.path().join("toolgate.yaml");
        let c = crate::parse(yaml, &path, &Env::from_pairs([])).unwrap();
        assert_eq!(c.servers["up"].headers["X-Api-Key"], "h-secret");
        assert_eq!(c.servers["local"].env["KEY"], "e-secret");
        assert_eq!(c.grants[0].token.as_deref(), Some("grant-token-0123456789"));
        let admin = c.admin.as_ref().and_then(|a| a.token.as_deref());
        assert_eq!(admin, Some("admin-token-0123456789"));
        assert_eq!(c.sessions.key.as_deref(), Some(key.as_str()));

        let missing = yaml.replace("${file:hdr}", "${file:gone/hdr}");
        let err = crate::parse(&missing, &path, &Env::from_pairs([]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("servers.up.headers.X-Api-Key"), "{err}");
        assert!(err.contains("gone/hdr"), "{err}");
    }
}
