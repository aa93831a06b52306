//! Glob patterns for tool names, resource URIs and prompt names.
//!
//! `*` matches any run of characters (including `/` and the empty run), `?`
//! exactly one character, `[abc]`, `[a-z]` one character of a set and
//! `[!abc]` (or `[^abc]`) one character outside it. There are no escapes: a
//! literal `*`, `?` or `[` is written as a one-character set, `[*]`.

use foldhash::HashMap;

/// One compiled pattern element.
#[derive(Debug, Clone)]
enum Token {
    Literal(char),
    /// `?`
    One,
    /// `*`
    Any,
    Set {
        negated: bool,
        ranges: Vec<(char, char)>,
    },
}

impl Token {
    fn matches(&self, c: char) -> bool {
        match self {
            Token::Literal(l) => *l == c,
            Token::One => true,
            Token::Any => false,
            Token::Set { negated, ranges } => {
                ranges.iter().any(|&(lo, hi)| lo <= c && c <= hi) != *negated
            }
        }
    }
}

/// A compiled glob.
#[derive(Debug, Clone)]
pub(crate) struct Glob {
    tokens: Vec<Token>,
    /// How many characters are literal: the precedence among matching globs.
    literals: usize,
}

/// Whether a rule key is a glob rather than an exact name.
pub(crate) fn is_glob(text: &str) -> bool {
    text.contains(['*', '?', '['])
}

impl Glob {
    /// Compiles a pattern; the error says what is wrong with it.
    pub(crate) fn new(pattern: &str) -> Result<Glob, String> {
        let mut tokens = Vec::new();
        let mut chars = pattern.chars();
        while let Some(c) = chars.next() {
            tokens.push(match c {
                '*' => Token::Any,
                '?' => Token::One,
                '[' => parse_set(&mut chars, pattern)?,
                c => Token::Literal(c),
            });
        }
        let literals = tokens
            .iter()
            .filter(|t| matches!(t, Token::Literal(_)))
            .count();
        Ok(Glob { tokens, literals })
    }

    /// Number of literal (non-wildcard) characters.
    pub(crate) fn literals(&self) -> usize {
        self.literals
    }

    /// Whether `text` matches the whole pattern.
    ///
    /// Iterative matching with one backtrack point (the last `*`): linear in
    /// practice, `O(pattern × text)` at worst, never exponential.
    pub(crate) fn matches(&self, text: &str) -> bool {
        let (mut p, mut t) = (0usize, 0usize);
        let mut star: Option<(usize, usize)> = None;
        loop {
            let c = text[t..].chars().next();
            match (self.tokens.get(p), c) {
                (Some(Token::Any), _) => {
                    star = Some((p, t));
                    p += 1;
                }
                (Some(token), Some(c)) if token.matches(c) => {
                    p += 1;
                    t += c.len_utf8();
                }
                (None, None) => return true,
                _ => match star {
                    Some((sp, st)) => match text[st..].chars().next() {
                        Some(skipped) => {
                            let st = st + skipped.len_utf8();
                            star = Some((sp, st));
                            p = sp + 1;
                            t = st;
                        }
                        None => return false,
                    },
                    None => return false,
                },
            }
        }
    }
}

fn parse_set(chars: &mut std::str::Chars<'_>, pattern: &str) -> Result<Token, String> {
    let mut negated = false;
    let mut ranges = Vec::new();
    let mut first = true;
    loop {
        let c = chars
            .next()
            .ok_or_else(|| format!("unclosed \"[\" in pattern {pattern:?}"))?;
        match c {
            '!' | '^' if first && !negated => {
                negated = true;
                continue;
            }
            ']' if ranges.is_empty() => {
                return Err(format!("empty \"[]\" in pattern {pattern:?}"));
            }
            ']' => return Ok(Token::Set { negated, ranges }),
            _ => {}
        }
        first = false;
        let mut ahead = chars.clone();
        if let (Some('-'), Some(hi)) = (ahead.next(), ahead.next())
            && hi != ']'
        {
            if hi < c {
                return Err(format!("bad range {c}-{hi} in pattern {pattern:?}"));
            }
            ranges.push((c, hi));
            *chars = ahead;
        } else {
            ranges.push((c, c));
        }
    }
}

/// Names and patterns, matched with the precedence rules keep: an exact key
/// wins; otherwise the matching glob with the most literal characters, and
/// among those the first in file order.
#[derive(Debug, Default)]
pub(crate) struct KeyMatcher {
    exact: HashMap<String, usize>,
    /// Sorted by precedence, so the first match wins.
    globs: Vec<(Glob, usize)>,
}

impl KeyMatcher {
    /// Builds from keys in file order (with their compiled patterns, if
    /// globs); `find` returns positions in that order.
    pub(crate) fn new(keys: impl IntoIterator<Item = (String, Option<Glob>)>) -> Self {
        let mut matcher = KeyMatcher::default();
        for (index, (key, glob)) in keys.into_iter().enumerate() {
            match glob {
                Some(glob) => matcher.globs.push((glob, index)),
                None => {
                    matcher.exact.entry(key).or_insert(index);
                }
            }
        }
        // A stable sort keeps file order among equally specific globs.
        matcher
            .globs
            .sort_by_key(|(glob, _)| std::cmp::Reverse(glob.literals()));
        matcher
    }

    /// The index of the key that governs `name`, if any.
    pub(crate) fn find(&self, name: &str) -> Option<usize> {
        if let Some(&index) = self.exact.get(name) {
            return Some(index);
        }
        self.globs
            .iter()
            .find(|(glob, _)| glob.matches(name))
            .map(|&(_, index)| index)
    }

    /// How many keys are globs.
    pub(crate) fn glob_count(&self) -> usize {
        self.globs.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(p: &str, t: &str) -> bool {
        Glob::new(p).map(|g| g.matches(t)).unwrap_or(false)
    }

    #[test]
    fn matching() {
        assert!(m("*", ""));
        assert!(m("*", "anything/at/all"));
        assert!(m("delete*", "deleteLead"));
        assert!(!m("delete*", "undelete"));
        assert!(m("*Lead", "getLead"));
        assert!(m("get*s", "getLeads"));
        assert!(!m("get*s", "getLead"));
        assert!(m("a*b*c", "aXbYbZc"));
        assert!(!m("a*b*c", "aXbYbZ"));
        assert!(m("get?ead", "getLead"));
        assert!(!m("get?ead", "getead"));
        assert!(m("[gs]et*", "setX"));
        assert!(!m("[!gs]et*", "setX"));
        assert!(m("[^gs]et*", "netX"));
        assert!(m("v[0-9]", "v7"));
        assert!(!m("v[0-9]", "vx"));
        assert!(m("a[*]", "a*"));
        assert!(!m("a[*]", "ab"));
        assert!(m("file:///docs/*", "file:///docs/a/b.md"));
        assert!(m("é*", "été"));
        assert!(m("x[-a]", "x-"));
    }

    #[test]
    fn bad_patterns() {
        assert!(Glob::new("a[bc").is_err());
        assert!(Glob::new("a[]").is_err());
        assert!(Glob::new("[z-a]").is_err());
        assert!(Glob::new("[!]").is_err());
    }

    #[test]
    fn precedence() {
        let keys = ["*", "get*", "*Lead", "getLead", "g*", "upd*", "*eal"];
        let matcher = KeyMatcher::new(keys.map(|k| {
            let glob = is_glob(k).then(|| Glob::new(k).ok()).flatten();
            (k.to_owned(), glob)
        }));
        assert_eq!(matcher.find("getLead"), Some(3));
        assert_eq!(matcher.find("getDeal"), Some(1));
        // "*Lead" has 4 literals, "get*" 3.
        assert_eq!(matcher.find("getXLead"), Some(2));
        // "upd*" and "*eal" both have 3; "upd*" comes first.
        assert_eq!(matcher.find("updateDeal"), Some(5));
        assert_eq!(matcher.find("updateLead"), Some(2));
        assert_eq!(matcher.find("gone"), Some(4));
        assert_eq!(matcher.find("other"), Some(0));
    }
}
