//! An event's decoded fields: a few named values, kept as a list sorted by name.
//!
//! Most events carry none to seven fields. A `BTreeMap` allocates a node for eleven
//! entries on its first insert (over 600 bytes), which made the fields most of what a
//! held event costs. A sorted `Vec` holds seven in under 400. Lookups are binary
//! searches, iteration is in name order as before, and the JSON is the same object.

use super::Value;
use serde::de::Deserializer;
use serde::ser::{SerializeMap, Serializer};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Clone, Default, PartialEq)]
pub struct Fields(Vec<(String, Value)>);

type Entry = (String, Value);
type Pair<'a> = (&'a String, &'a Value);

impl Fields {
    pub fn new() -> Fields {
        Fields(Vec::new())
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    fn find(&self, name: &str) -> Result<usize, usize> {
        self.0.binary_search_by(|(k, _)| k.as_str().cmp(name))
    }

    pub fn get(&self, name: &str) -> Option<&Value> {
        self.find(name).ok().map(|i| &self.0[i].1)
    }

    pub fn contains_key(&self, name: &str) -> bool {
        self.find(name).is_ok()
    }

    /// Sets `name`, returning the value it replaces (as a map's insert does).
    pub fn insert(&mut self, name: String, v: Value) -> Option<Value> {
        match self.find(&name) {
            Ok(i) => Some(std::mem::replace(&mut self.0[i].1, v)),
            Err(i) => {
                // Exact size: events are held by the hundred thousand, and a doubling
                // Vec would leave up to half of each one's fields unused.
                self.0.reserve_exact(1);
                self.0.insert(i, (name, v));
                None
            }
        }
    }

    pub fn remove(&mut self, name: &str) -> Option<Value> {
        self.find(name).ok().map(|i| self.0.remove(i).1)
    }

    /// Keeps the fields `keep` says yes to.
    pub fn retain(&mut self, mut keep: impl FnMut(&String, &mut Value) -> bool) {
        self.0.retain_mut(|(k, v)| keep(k, v));
    }

    /// Name and value, in name order.
    pub fn iter(&self) -> impl Iterator<Item = Pair<'_>> {
        self.0.iter().map(|(k, v)| (k, v))
    }

    pub fn keys(&self) -> impl Iterator<Item = &String> {
        self.0.iter().map(|(k, _)| k)
    }

    pub fn values(&self) -> impl Iterator<Item = &Value> {
        self.0.iter().map(|(_, v)| v)
    }
}

/// Shown as the map it stands for, as before.
impl std::fmt::Debug for Fields {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

impl std::ops::Index<&str> for Fields {
    type Output = Value;

    /// Panics when the field is missing, like a map's index.
    fn index(&self, name: &str) -> &Value {
        self.get(name)
            .unwrap_or_else(|| panic!("no field `{name}`"))
    }
}

impl Extend<Entry> for Fields {
    fn extend<I: IntoIterator<Item = Entry>>(&mut self, iter: I) {
        iter.into_iter().for_each(|(k, v)| {
            self.insert(k, v);
        });
    }
}

impl FromIterator<Entry> for Fields {
    fn from_iter<I: IntoIterator<Item = Entry>>(iter: I) -> Fields {
        let mut f = Fields::new();
        f.extend(iter);
        f
    }
}

impl IntoIterator for Fields {
    type Item = Entry;
    type IntoIter = std::vec::IntoIter<Entry>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

impl<'a> IntoIterator for &'a Fields {
    type Item = Pair<'a>;
    type IntoIter = std::iter::Map<std::slice::Iter<'a, Entry>, fn(&'a Entry) -> Pair<'a>>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.iter().map(|(k, v)| (k, v))
    }
}

impl Serialize for Fields {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(self.0.len()))?;
        for (k, v) in &self.0 {
            m.serialize_entry(k, v)?;
        }
        m.end()
    }
}

impl<'de> Deserialize<'de> for Fields {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Fields, D::Error> {
        // A map keeps the last of repeated names, as a map did before.
        let m = BTreeMap::<String, Value>::deserialize(d)?;
        Ok(Fields(m.into_iter().collect()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn behaves_like_the_map_it_replaces() {
        let mut f = Fields::new();
        let mut m = BTreeMap::new();
        for (k, v) in [("b", 1), ("a", 2), ("c", 3), ("a", 4), ("", 5)] {
            let v = Value::Int(v);
            assert_eq!(f.insert(k.into(), v.clone()), m.insert(k.to_string(), v));
        }
        assert!(f.iter().eq(m.iter()));
        assert_eq!(f.remove("b"), m.remove("b"));
        assert_eq!(f.remove("zz"), m.remove("zz"));
        assert!(f.iter().eq(m.iter()));
        assert_eq!((f.get("a"), f.contains_key("q")), (m.get("a"), false));
        let json = serde_json::to_string(&f).unwrap();
        assert_eq!(json, serde_json::to_string(&m).unwrap());
        assert_eq!(serde_json::from_str::<Fields>(&json).unwrap(), f);
        assert_eq!(format!("{f:?}"), format!("{m:?}"));
    }
}
