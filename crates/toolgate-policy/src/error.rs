//! Load errors: which file, where in it, which value, and what is wrong.
//!
//! Validation runs inside `Deserialize` impls, so the parser's own position
//! and `serde_path_to_error`'s path are those of the offending value. A check
//! that needs several fields of one object (an operator and its value, say)
//! runs when that object is complete; it names the field with an [`Invalid`]
//! whose path suffix travels inside the error message between NUL markers,
//! and is moved back onto the path here.

use serde::de;
use serde_path_to_error::Segment;

/// A policy that failed to load.
///
/// Displays as `{source}:{line}:{column}: {path}: {message}`, e.g.
/// `policy.json:4:31: tools.createLead.limits[0].window: unknown window "minnute"`.
/// `line` and `column` are 1-based and mark where the parser detected the
/// problem: for a JSON value, its last character; for a YAML value, its first.
/// `path` is the offending value's place in the document (`(root)` for the
/// document itself).
#[derive(Debug, thiserror::Error)]
#[error("{source_name}:{line}:{column}: {path}: {message}")]
pub struct PolicyError {
    /// The name the caller gave the text, usually its file path.
    pub source_name: String,
    /// 1-based line.
    pub line: usize,
    /// 1-based column (in characters).
    pub column: usize,
    /// Where the offending value is, like `tools.createLead.limits[0].window`.
    pub path: String,
    /// What is wrong with it.
    pub message: String,
}

/// Wraps the path suffix and message of an [`Invalid`] inside a serde message.
const MARK: char = '\u{0}';

/// A validation failure raised inside a `Deserialize` impl.
#[derive(Debug)]
pub(crate) struct Invalid {
    /// Path below the value being deserialized, in [`push_key`] style (`.value`).
    at: String,
    message: String,
}

impl Invalid {
    /// A failure of the value being deserialized itself.
    pub(crate) fn here(message: impl Into<String>) -> Self {
        Invalid {
            at: String::new(),
            message: message.into(),
        }
    }

    /// A failure of one member (`field`) of the object being deserialized.
    pub(crate) fn at(field: &str, message: impl Into<String>) -> Self {
        let mut at = String::new();
        push_key(&mut at, field);
        Invalid {
            at,
            message: message.into(),
        }
    }

    /// Converts into the deserializer's error type, keeping the suffix.
    pub(crate) fn into_de<E: de::Error>(self) -> E {
        E::custom(format_args!(
            "{MARK}{}{MARK}{}{MARK}",
            self.at, self.message
        ))
    }
}

/// Appends a map key to a path: `.key` when it is a plain word, else `["key"]`.
pub(crate) fn push_key(path: &mut String, key: &str) {
    let plain = !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '$'));
    if plain {
        path.push('.');
        path.push_str(key);
    } else {
        path.push('[');
        path.push_str(&serde_json::Value::from(key).to_string());
        path.push(']');
    }
}

/// Renders a path for [`PolicyError::path`], without the leading dot.
fn render(segments: &[&Segment]) -> String {
    let mut out = String::new();
    for segment in segments {
        match segment {
            Segment::Seq { index } => out.push_str(&format!("[{index}]")),
            Segment::Map { key } => push_key(&mut out, key),
            Segment::Enum { variant } => push_key(&mut out, variant),
            Segment::Unknown => out.push_str(".?"),
        }
    }
    out
}

/// Renders a path the way yaml_serde prefixes its messages, to strip it.
fn render_yaml_style(segments: &[&Segment]) -> String {
    let mut out = String::new();
    for segment in segments {
        match segment {
            Segment::Seq { index } => out.push_str(&format!("[{index}]")),
            Segment::Map { key } | Segment::Enum { variant: key } => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(key);
            }
            Segment::Unknown => out.push_str(".?"),
        }
    }
    out
}

/// Builds the error from the parser's message, moving an [`Invalid`]'s
/// suffix onto the path.
fn finish(source: &str, line: usize, column: usize, base: String, text: &str) -> PolicyError {
    let (mut path, message) = match split_marked(text) {
        Some((at, message)) => (base + at, message.to_owned()),
        None => (base, text.to_owned()),
    };
    if let Some(rest) = path.strip_prefix('.') {
        path = rest.to_owned();
    }
    if path.is_empty() {
        path = "(root)".to_owned();
    }
    PolicyError {
        source_name: source.to_owned(),
        line: line.max(1),
        column: column.max(1),
        path,
        message,
    }
}

fn split_marked(text: &str) -> Option<(&str, &str)> {
    let mut parts = text.split(MARK);
    parts.next()?;
    let at = parts.next()?;
    let message = parts.next()?;
    Some((at, message))
}

/// The path without trailing unknown segments (a syntax error between
/// members has no key yet).
fn known(path: &serde_path_to_error::Path) -> Vec<&Segment> {
    let mut segments: Vec<&Segment> = path.iter().collect();
    while matches!(segments.last(), Some(Segment::Unknown)) {
        segments.pop();
    }
    segments
}

/// Converts a serde_json failure (syntax or validation).
pub(crate) fn from_json(
    err: serde_path_to_error::Error<serde_json::Error>,
    source: &str,
) -> PolicyError {
    let segments = known(err.path());
    let base = render(&segments);
    json_error(err.inner(), source, base)
}

/// Converts a serde_json failure found after the document (trailing text).
pub(crate) fn json_error(inner: &serde_json::Error, source: &str, base: String) -> PolicyError {
    let text = inner.to_string();
    let suffix = format!(" at line {} column {}", inner.line(), inner.column());
    let text = text.strip_suffix(&suffix).unwrap_or(&text);
    finish(source, inner.line(), inner.column(), base, text)
}

/// Converts a yaml_serde failure (syntax or validation).
pub(crate) fn from_yaml(
    err: serde_path_to_error::Error<yaml_serde::Error>,
    source: &str,
) -> PolicyError {
    let segments = known(err.path());
    let base = render(&segments);
    let inner = err.inner();
    let location = inner.location();
    let mut text = inner.to_string();
    if let Some(l) = &location {
        // The position is in the error's own fields; drop it from the text
        // (libyaml's syntax errors have it mid-sentence).
        let at = format!(" at line {} column {}", l.line(), l.column());
        text = text.replacen(&at, "", 1);
    }
    // yaml_serde prefixes the path of the innermost container it was
    // deserializing; that is an ancestor of (or equal to) our path.
    for len in (1..=segments.len()).rev() {
        let prefix = format!("{}: ", render_yaml_style(&segments[..len]));
        if let Some(rest) = text.strip_prefix(&prefix) {
            text = rest.to_owned();
            break;
        }
    }
    let (line, column) = location.map_or((1, 1), |l| (l.line(), l.column()));
    finish(source, line, column, base, &text)
}
