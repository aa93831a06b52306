//! Targeted edits of raw JSON objects: change one member, keep every other
//! member's bytes as they were.

use std::fmt;

use serde::de::{Deserializer, MapAccess, Visitor};
use serde_json::value::RawValue;

use crate::message::to_raw;

/// A JSON object whose members stay raw, in their original order.
#[derive(Clone, Debug, Default)]
pub struct RawObject(Vec<(String, Box<RawValue>)>);

/// The text is not a JSON object.
#[derive(Debug, thiserror::Error)]
#[error("expected a JSON object: {0}")]
pub struct NotAnObject(String);

impl RawObject {
    /// Whether JSON `text` could hold a member named `key`: false when the
    /// name appears nowhere, not even spelt with a `\u` escape. A cheap
    /// test that spares the hot path a parse for members that are nearly
    /// always absent.
    pub fn may_hold(text: &str, key: &str) -> bool {
        text.contains(key) || text.contains("\\u")
    }

    /// Parses an object; `None` gives an empty object.
    pub fn parse(raw: Option<&RawValue>) -> Result<RawObject, NotAnObject> {
        match raw {
            None => Ok(RawObject::default()),
            Some(r) => serde_json::from_str(r.get()).map_err(|e| NotAnObject(e.to_string())),
        }
    }

    /// A member's raw value.
    pub fn get(&self, key: &str) -> Option<&RawValue> {
        self.0.iter().find(|(k, _)| k == key).map(|(_, v)| &**v)
    }

    /// A member parsed as a type; `None` when absent or of another type.
    pub fn get_as<T: serde::de::DeserializeOwned>(&self, key: &str) -> Option<T> {
        self.get(key)
            .and_then(|v| serde_json::from_str(v.get()).ok())
    }

    /// Sets a member, replacing it in place or appending it.
    pub fn set(&mut self, key: &str, value: Box<RawValue>) {
        match self.0.iter_mut().find(|(k, _)| k == key) {
            Some(slot) => slot.1 = value,
            None => self.0.push((key.to_owned(), value)),
        }
    }

    /// Sets a member from any serializable value.
    pub fn set_value<T: serde::Serialize + ?Sized>(&mut self, key: &str, value: &T) {
        self.set(key, to_raw(value));
    }

    /// Sets a member only if it is absent.
    pub fn set_default(&mut self, key: &str, value: Box<RawValue>) {
        if self.get(key).is_none() {
            self.0.push((key.to_owned(), value));
        }
    }

    /// Removes a member, returning its value.
    pub fn remove(&mut self, key: &str) -> Option<Box<RawValue>> {
        let i = self.0.iter().position(|(k, _)| k == key)?;
        Some(self.0.remove(i).1)
    }

    /// The member names, in order.
    pub fn keys(&self) -> Vec<String> {
        self.0.iter().map(|(k, _)| k.clone()).collect()
    }

    /// True when the object has no members.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Edits the object stored under `key` (created when absent).
    pub fn edit_object(
        &mut self,
        key: &str,
        f: impl FnOnce(&mut RawObject),
    ) -> Result<(), NotAnObject> {
        let mut inner = RawObject::parse(self.get(key))?;
        f(&mut inner);
        self.set(key, inner.into_raw());
        Ok(())
    }

    /// Serializes the object.
    pub fn into_raw(self) -> Box<RawValue> {
        let mut out = String::with_capacity(
            2 + self
                .0
                .iter()
                .map(|(k, v)| k.len() + v.get().len() + 4)
                .sum::<usize>(),
        );
        out.push('{');
        for (i, (k, v)) in self.0.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push_str(&crate::message::json_string(k));
            out.push(':');
            out.push_str(v.get());
        }
        out.push('}');
        // Built from valid JSON pieces, so this always parses; fall back to
        // an empty object rather than panic.
        RawValue::from_string(out).unwrap_or_else(|_| to_raw(&serde_json::Map::new()))
    }
}

impl<'de> serde::Deserialize<'de> for RawObject {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RawObject;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawObject, A::Error> {
                let mut members: Vec<(String, Box<RawValue>)> = Vec::new();
                while let Some(key) = map.next_key::<String>()? {
                    let value: Box<RawValue> = map.next_value()?;
                    // Last one wins, as JavaScript's JSON.parse does.
                    members.retain(|(k, _)| *k != key);
                    members.push((key, value));
                }
                Ok(RawObject(members))
            }
        }
        d.deserialize_map(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(s: &str) -> Box<RawValue> {
        RawValue::from_string(s.to_owned()).unwrap()
    }

    #[test]
    fn edits_keep_other_members_verbatim() {
        let src = raw(
            r#"{"name":"t","arguments":{"b": 1,  "a":[ ]},"_meta":{"progressToken":"x","k":true}}"#,
        );
        let mut obj = RawObject::parse(Some(&src)).unwrap();
        obj.edit_object("_meta", |m| m.set_value("progressToken", &7))
            .unwrap();
        obj.set_default("name", raw("\"other\""));
        obj.set_default("resultType", raw("\"complete\""));
        assert_eq!(
            obj.into_raw().get(),
            r#"{"name":"t","arguments":{"b": 1,  "a":[ ]},"_meta":{"progressToken":7,"k":true},"resultType":"complete"}"#
        );
    }

    #[test]
    fn absent_objects_are_created_and_non_objects_refused() {
        let mut obj = RawObject::parse(None).unwrap();
        obj.edit_object("_meta", |m| m.set_value("a", "b")).unwrap();
        assert_eq!(obj.into_raw().get(), r#"{"_meta":{"a":"b"}}"#);
        assert!(RawObject::parse(Some(&raw("[1]"))).is_err());
        let mut bad = RawObject::parse(Some(&raw(r#"{"_meta":3}"#))).unwrap();
        assert!(bad.edit_object("_meta", |_| {}).is_err());
    }

    #[test]
    fn get_and_remove() {
        let mut obj = RawObject::parse(Some(&raw(r#"{"a":1,"b":"x"}"#))).unwrap();
        assert_eq!(obj.get_as::<u32>("a"), Some(1));
        assert_eq!(obj.get_as::<u32>("b"), None);
        assert_eq!(obj.remove("a").unwrap().get(), "1");
        assert!(obj.get("a").is_none());
    }
}
