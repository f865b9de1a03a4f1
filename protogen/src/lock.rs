//! `protogen.lock`: the number and proto name of every (message, vendor
//! member), and the names of nested messages, so regenerating never renumbers.
//!
//! New members get the next free number; members that disappear become
//! `reserved` (and get their number back if they return); nested message
//! names stay pinned to their key.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::model::Product;
use crate::text::snake_case;

/// The key under which protoc compares field names for JSON/camel-case
/// conflicts: lower case, underscores dropped (`vpc_end_point` == `vpc_endpoint`).
fn fold(name: &str) -> String {
    name.chars()
        .filter(|c| *c != '_')
        .flat_map(char::to_lowercase)
        .collect()
}

/// The whole lock.
#[derive(Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Lock {
    /// By proto package.
    #[serde(default)]
    pub packages: BTreeMap<String, PackageLock>,
}

/// One package (product-version).
#[derive(Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct PackageLock {
    /// By message key (see [`crate::model::Message::key`]).
    #[serde(default)]
    pub messages: BTreeMap<String, MessageLock>,
}

/// `[number, proto name]` of one member.
pub type Slot = (u32, String);

/// One message.
#[derive(Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct MessageLock {
    /// The message name when it differs from the key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Live members by vendor name.
    #[serde(default)]
    pub fields: BTreeMap<String, Slot>,
    /// Removed members by vendor name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub reserved: BTreeMap<String, Slot>,
}

impl Lock {
    /// Parses a lock file.
    pub fn parse(text: &str) -> Result<Self, toml::de::Error> {
        toml::from_str(text)
    }

    /// The lock file text.
    pub fn render(&self) -> String {
        let body = toml::to_string(self).expect("the lock serializes");
        format!(
            "# protogen.lock: stable proto field numbers and names of generated messages.\n\
             # Written by cloudgate protogen (--lock); review changes like code, never renumber.\n\
             # fields.<VendorName> = [number, \"proto_name\"]; reserved: removed members.\n\n{body}"
        )
    }

    /// Names and numbers every message and field of `p`, recording new ones.
    pub fn assign(&mut self, p: &mut Product) {
        let plock = self.packages.entry(p.package()).or_default();
        // Message names: pinned ones first, then new ones around them.
        let mut taken: BTreeSet<String> = plock
            .messages
            .iter()
            .map(|(k, m)| m.name.clone().unwrap_or_else(|| k.clone()))
            .collect();
        // The service's name is not available to messages (Tencent vpc has a `Vpc` struct).
        taken.insert(p.service_name.clone());
        for m in &mut p.messages {
            if let Some(entry) = plock.messages.get(&m.key) {
                let name = entry.name.clone().unwrap_or_else(|| m.key.clone());
                if name != p.service_name {
                    m.name = name;
                }
            }
        }
        for m in &mut p.messages {
            if !m.name.is_empty() {
                continue;
            }
            if m.suggested_name == p.service_name {
                m.suggested_name.push_str("Message");
            }
            let mut name = m.suggested_name.clone();
            let mut n = 2;
            while taken.contains(&name) {
                name = format!("{}{n}", m.suggested_name);
                n += 1;
            }
            taken.insert(name.clone());
            m.name = name;
        }
        for m in &mut p.messages {
            let entry = plock.messages.entry(m.key.clone()).or_default();
            entry.name = (m.name != m.key).then(|| m.name.clone());
            let present: BTreeSet<&str> = m.fields.iter().map(|f| f.vendor_name.as_str()).collect();
            // Members that came back get their old slot.
            let returning: Vec<String> = entry
                .reserved
                .keys()
                .filter(|k| present.contains(k.as_str()))
                .cloned()
                .collect();
            for k in returning {
                let slot = entry.reserved.remove(&k).unwrap();
                entry.fields.insert(k, slot);
            }
            // Members that left become reserved.
            let gone: Vec<String> = entry
                .fields
                .keys()
                .filter(|k| !present.contains(k.as_str()))
                .cloned()
                .collect();
            for k in gone {
                let slot = entry.fields.remove(&k).unwrap();
                entry.reserved.insert(k, slot);
            }
            let mut numbers: BTreeSet<u32> = entry
                .fields
                .values()
                .chain(entry.reserved.values())
                .map(|s| s.0)
                .collect();
            let mut names: BTreeSet<String> = BTreeSet::new();
            for s in entry.fields.values().chain(entry.reserved.values()) {
                names.insert(fold(&s.1));
            }
            for f in &mut m.fields {
                if let Some((num, name)) = entry.fields.get(&f.vendor_name) {
                    f.number = *num;
                    f.name = name.clone();
                    continue;
                }
                let mut number = numbers.last().map_or(1, |n| n + 1);
                if (19000..=19999).contains(&number) {
                    number = 20000;
                }
                numbers.insert(number);
                let mut base = snake_case(&f.vendor_name);
                if base == "descriptor" {
                    // buf's FIELD_NO_DESCRIPTOR: it would shadow the generated accessor.
                    base = "vendor_descriptor".into();
                }
                let mut name = base.clone();
                let mut n = 2;
                while names.contains(&fold(&name)) {
                    name = format!("{base}{n}");
                    n += 1;
                }
                names.insert(fold(&name));
                f.number = number;
                f.name = name.clone();
                entry.fields.insert(f.vendor_name.clone(), (number, name));
            }
            m.reserved = entry.reserved.values().cloned().collect();
            m.reserved.sort();
        }
    }
}
