//! Deserialization helpers that validate while parsing.
//!
//! A check must fail *inside* the deserializer's call for the value (in a
//! visitor), or yaml_serde attaches the position of an enclosing container
//! instead of the value's own.

use std::fmt;
use std::marker::PhantomData;

use serde::de::value::MapAccessDeserializer;
use serde::de::{self, Deserialize, Deserializer, MapAccess, Visitor};

use crate::error::Invalid;

/// Deserializes a string and converts it with `parse`, failing at the string.
pub(crate) fn parse_str<'de, D, T>(
    deserializer: D,
    expecting: &'static str,
    parse: fn(&str) -> Result<T, String>,
) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
{
    deserializer.deserialize_str(StrVisitor { expecting, parse })
}

struct StrVisitor<T> {
    expecting: &'static str,
    parse: fn(&str) -> Result<T, String>,
}

impl<T> Visitor<'_> for StrVisitor<T> {
    type Value = T;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.expecting)
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<T, E> {
        (self.parse)(v).map_err(|m| Invalid::here(m).into_de())
    }
}

/// Deserializes `R` (usually a derived struct) from a map, then checks and
/// converts it with `check` while the map is still being visited, so the
/// error carries the map's position.
pub(crate) fn checked_map<'de, D, R, T>(
    deserializer: D,
    expecting: &'static str,
    check: fn(R) -> Result<T, Invalid>,
) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    R: Deserialize<'de>,
{
    deserializer.deserialize_map(CheckedVisitor {
        expecting,
        check,
        raw: PhantomData,
    })
}

struct CheckedVisitor<R, T> {
    expecting: &'static str,
    check: fn(R) -> Result<T, Invalid>,
    raw: PhantomData<fn() -> R>,
}

impl<'de, R: Deserialize<'de>, T> Visitor<'de> for CheckedVisitor<R, T> {
    type Value = T;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.expecting)
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<T, A::Error> {
        let raw = R::deserialize(MapAccessDeserializer::new(map))?;
        (self.check)(raw).map_err(Invalid::into_de)
    }
}
