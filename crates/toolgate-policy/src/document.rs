//! The policy document's top level, and the ordered rule maps.

use std::collections::HashSet;
use std::fmt;
use std::marker::PhantomData;

use serde::Deserialize;
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};

use crate::de::parse_str;
use crate::error::Invalid;
use crate::glob::{Glob, is_glob};
use crate::limit::Limit;
use crate::rule::{OtherRule, ToolRule};

/// The document as written (validated and compiled while read).
#[derive(Deserialize)]
#[serde(deny_unknown_fields, expecting = "a policy document (a map)")]
pub(crate) struct Document {
    #[serde(rename = "$schema")]
    _schema: Option<String>,
    #[serde(rename = "description")]
    _description: Option<String>,
    #[serde(rename = "version")]
    _version: Version,
    pub(crate) default: DefaultVerdict,
    #[serde(default)]
    pub(crate) hide: HideList,
    pub(crate) all_tools: Option<AllTools>,
    #[serde(default)]
    pub(crate) tools: RuleMap<ToolRule>,
    pub(crate) resources: Option<Section>,
    pub(crate) prompts: Option<Section>,
}

/// `default`: the verdict for what no rule names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum DefaultVerdict {
    Allow,
    Deny,
}

/// `all_tools`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields, expecting = "a map with \"limits\"")]
pub(crate) struct AllTools {
    #[serde(default)]
    pub(crate) limits: Vec<Limit>,
}

/// `resources` or `prompts`.
#[derive(Deserialize)]
#[serde(
    deny_unknown_fields,
    expecting = "a map with \"default\" and \"rules\""
)]
pub(crate) struct Section {
    pub(crate) default: Option<DefaultVerdict>,
    #[serde(default)]
    pub(crate) rules: RuleMap<OtherRule>,
}

/// `version`: `"1"` (the integer `1` is accepted too, for YAML's sake).
struct Version;

impl<'de> Deserialize<'de> for Version {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(VersionVisitor)
    }
}

struct VersionVisitor;

impl Visitor<'_> for VersionVisitor {
    type Value = Version;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("version \"1\"")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Version, E> {
        if v == "1" {
            Ok(Version)
        } else {
            Err(Invalid::here(format!(
                "unsupported version {v:?} (only \"1\" is supported)"
            ))
            .into_de())
        }
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Version, E> {
        self.visit_str(&v.to_string())
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Version, E> {
        self.visit_str(&v.to_string())
    }
}

/// A key of a rule map or an entry of `hide`, with its pattern if a glob.
pub(crate) struct Key {
    pub(crate) name: String,
    pub(crate) glob: Option<Glob>,
}

fn parse_key(text: &str) -> Result<Key, String> {
    if text.is_empty() {
        return Err("a name or pattern cannot be empty".to_owned());
    }
    let glob = if is_glob(text) {
        Some(Glob::new(text)?)
    } else {
        None
    };
    Ok(Key {
        name: text.to_owned(),
        glob,
    })
}

/// `hide`: names and globs, or `"*"` for every tool.
#[derive(Default)]
pub(crate) struct HideList {
    pub(crate) keys: Vec<Key>,
}

impl<'de> Deserialize<'de> for HideList {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(HideVisitor)
    }
}

struct HideVisitor;

struct HideEntry(Key);

impl<'de> Deserialize<'de> for HideEntry {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        parse_str(deserializer, "a tool name or pattern", |s| {
            parse_key(s).map(HideEntry)
        })
    }
}

impl<'de> Visitor<'de> for HideVisitor {
    type Value = HideList;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a list of tool names and patterns, or \"*\"")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<HideList, E> {
        if v == "*" {
            Ok(HideList {
                keys: vec![Key {
                    name: v.to_owned(),
                    glob: Glob::new(v).ok(),
                }],
            })
        } else {
            Err(Invalid::here(format!(
                "hide is a list of names and patterns, or \"*\"; not the string {v:?}"
            ))
            .into_de())
        }
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<HideList, A::Error> {
        let mut keys = Vec::new();
        while let Some(HideEntry(key)) = seq.next_element()? {
            keys.push(key);
        }
        Ok(HideList { keys })
    }
}

/// A map of rules in file order (the order breaks ties between globs).
pub(crate) struct RuleMap<R> {
    pub(crate) entries: Vec<(Key, R)>,
}

impl<R> Default for RuleMap<R> {
    fn default() -> Self {
        RuleMap {
            entries: Vec::new(),
        }
    }
}

impl<'de, R: Deserialize<'de>> Deserialize<'de> for RuleMap<R> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(RuleMapVisitor(PhantomData))
    }
}

struct RuleMapVisitor<R>(PhantomData<fn() -> R>);

impl<'de, R: Deserialize<'de>> Visitor<'de> for RuleMapVisitor<R> {
    type Value = RuleMap<R>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a map of names (or patterns) to rules")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RuleMap<R>, A::Error> {
        let mut seen = HashSet::new();
        let mut entries = Vec::new();
        while let Some(key) = map.next_key_seed(KeySeed { seen: &seen })? {
            let rule = map.next_value()?;
            seen.insert(key.name.clone());
            entries.push((key, rule));
        }
        Ok(RuleMap { entries })
    }
}

/// Reads a rule key, failing at the key on a duplicate or a bad pattern.
struct KeySeed<'s> {
    seen: &'s HashSet<String>,
}

impl<'de> DeserializeSeed<'de> for KeySeed<'_> {
    type Value = Key;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Key, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl Visitor<'_> for KeySeed<'_> {
    type Value = Key;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a name or pattern")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Key, E> {
        // The error's path already ends with the key.
        if self.seen.contains(v) {
            return Err(Invalid::here(format!("duplicate key {v:?}")).into_de());
        }
        parse_key(v).map_err(|m| Invalid::here(m).into_de())
    }
}
