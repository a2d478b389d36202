//! docs/configuration.md against the configuration types: every key the gateway's and the
//! server's file accept has a row in the page, and every row names a key they accept.
//!
//! The accepted keys are read from the types themselves: serde's derived `Deserialize` hands the
//! deserializer the list of a struct's field names (`deserialize_struct(name, fields, ..)`), so a
//! recording deserializer walks `GatewayFile` and `ServerFile` field by field, nested tables and
//! arrays of tables included. A field added to a config struct shows up here without anyone
//! touching this test. The one value serde cannot describe that way is `route[].psk`, an untagged
//! enum (`"gba"` or an inline table): its table's keys are checked by loading files that use them.

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::forward_to_deserialize_any;
use simbridge_cli::config::{GatewayConfig, GatewayFile, ServerFile};
use std::cell::RefCell;
use std::collections::BTreeSet;

type Keys = RefCell<BTreeSet<String>>;

/// Feeds a derived `Deserialize` with plausible values and records every field path it asks for.
struct Recorder<'a> {
    path: String,
    keys: &'a Keys,
}

impl<'de> Deserializer<'de> for Recorder<'_> {
    type Error = de::value::Error;

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        // A table: not a key of its own, its fields are.
        self.keys.borrow_mut().remove(&self.path);
        visitor.visit_map(Fields {
            fields,
            next: 0,
            prefix: self.path,
            keys: self.keys,
        })
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        visitor.visit_some(self)
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        visitor.visit_seq(One(Some(self)))
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_bool<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        visitor.visit_bool(true)
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        visitor.visit_map(Fields {
            fields: &[],
            next: 0,
            prefix: self.path,
            keys: self.keys,
        })
    }

    /// Numbers, strings, paths and the untagged `psk`: a small number where one fits, else a
    /// string (`"gba"` satisfies `psk`).
    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        visitor.visit_str("gba")
    }

    fn deserialize_u8<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Self::Error> {
        v.visit_u64(1)
    }
    fn deserialize_u16<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Self::Error> {
        v.visit_u64(1)
    }
    fn deserialize_u32<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Self::Error> {
        v.visit_u64(1)
    }
    fn deserialize_u64<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Self::Error> {
        v.visit_u64(1)
    }
    fn deserialize_i64<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Self::Error> {
        v.visit_i64(1)
    }
    fn deserialize_f64<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Self::Error> {
        v.visit_f64(1.0)
    }

    forward_to_deserialize_any! {
        i8 i16 i32 i128 u128 f32 char str string bytes byte_buf unit unit_struct
        tuple tuple_struct enum identifier ignored_any
    }
}

/// A table's fields as map entries; each key is recorded, each value recorded in turn.
struct Fields<'a> {
    fields: &'static [&'static str],
    next: usize,
    prefix: String,
    keys: &'a Keys,
}

impl Fields<'_> {
    fn path(&self, field: &str) -> String {
        if self.prefix.is_empty() {
            field.to_string()
        } else {
            format!("{}.{field}", self.prefix)
        }
    }
}

impl<'de> MapAccess<'de> for Fields<'_> {
    type Error = de::value::Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, Self::Error> {
        let Some(field) = self.fields.get(self.next) else {
            return Ok(None);
        };
        self.keys.borrow_mut().insert(self.path(field));
        seed.deserialize(de::value::StrDeserializer::new(field))
            .map(Some)
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(
        &mut self,
        seed: V,
    ) -> Result<V::Value, Self::Error> {
        let field = self.fields[self.next];
        self.next += 1;
        seed.deserialize(Recorder {
            path: self.path(field),
            keys: self.keys,
        })
    }
}

/// An array of one element, whose fields are recorded under `path[]`.
struct One<'a>(Option<Recorder<'a>>);

impl<'de> SeqAccess<'de> for One<'_> {
    type Error = de::value::Error;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, Self::Error> {
        match self.0.take() {
            Some(r) => {
                let keys = r.keys;
                let path = format!("{}[]", r.path);
                let value = seed.deserialize(Recorder {
                    path: path.clone(),
                    keys,
                })?;
                // An array of tables (`route`) is a prefix, not a key; an array of plain values
                // (`suites`) is one key.
                let mut k = keys.borrow_mut();
                if k.iter().any(|x| x.starts_with(&format!("{path}."))) {
                    k.remove(&r.path);
                }
                Ok(Some(value))
            }
            None => Ok(None),
        }
    }
}

/// Every key `T` accepts, as dotted paths (`route[].listen`).
fn accepted<T: for<'de> serde::Deserialize<'de>>() -> BTreeSet<String> {
    let keys = Keys::default();
    T::deserialize(Recorder {
        path: String::new(),
        keys: &keys,
    })
    .expect("the recorder satisfies every field");
    keys.into_inner()
}

/// The keys in the first column of the table under `heading` in docs/configuration.md.
fn documented(heading: &str) -> BTreeSet<String> {
    let doc = include_str!("../docs/configuration.md");
    let start = doc
        .find(heading)
        .unwrap_or_else(|| panic!("{heading:?} in docs/configuration.md"));
    let section = &doc[start + heading.len()..];
    let section = &section[..section.find("\n## ").unwrap_or(section.len())];
    section
        .lines()
        .filter_map(|l| l.strip_prefix("| `"))
        .filter_map(|l| l.split_once('`').map(|(k, _)| k.to_string()))
        .collect()
}

/// Keys only an inline `psk` table has (serde sees `psk` as one untagged value).
const PSK_TABLE: [&str; 2] = ["route[].psk.identity", "route[].psk.key_file"];

#[test]
fn every_gateway_key_is_documented_and_every_documented_key_exists() {
    let code = accepted::<GatewayFile>();
    let doc = documented("## Gateway (`simbridge bridge --config FILE`)");
    assert!(
        code.contains("route[].listen") && code.contains("session.mtu"),
        "{code:?}"
    );
    let undocumented: Vec<_> = code.difference(&doc).collect();
    assert!(
        undocumented.is_empty(),
        "gateway keys missing from docs/configuration.md: {undocumented:?}"
    );
    let unknown: Vec<_> = doc
        .difference(&code)
        .filter(|k| !PSK_TABLE.contains(&k.as_str()))
        .collect();
    assert!(
        unknown.is_empty(),
        "documented but not accepted: {unknown:?}"
    );
    for k in PSK_TABLE {
        assert!(doc.contains(k), "{k} documented");
    }
}

#[test]
fn every_server_key_is_documented_and_every_documented_key_exists() {
    let code = accepted::<ServerFile>();
    let doc = documented("## Server (`simbridge server --config FILE`)");
    assert!(
        code.contains("keys.static[].key_file") && code.contains("metrics.listen"),
        "{code:?}"
    );
    assert_eq!(
        code.difference(&doc).collect::<Vec<_>>(),
        Vec::<&String>::new(),
        "server keys missing from docs/configuration.md"
    );
    assert_eq!(
        doc.difference(&code).collect::<Vec<_>>(),
        Vec::<&String>::new(),
        "documented but not accepted by the server"
    );
}

#[test]
fn the_inline_psk_table_takes_the_documented_keys() {
    let dir = tempfile::tempdir().expect("tempdir");
    let key = dir.path().join("k.hex");
    std::fs::write(&key, "000102030405060708090a0b0c0d0e0f\n").expect("key");
    let file = |psk: &str| {
        let p = dir.path().join("gw.toml");
        std::fs::write(
            &p,
            format!(
                "state_dir = \"{}\"\n[[route]]\nlisten = \"127.0.0.1:5683\"\nupstream = \"127.0.0.1:5684\"\npsk = {psk}\n",
                dir.path().display()
            ),
        )
        .expect("write");
        p
    };
    let ok = file(&format!(
        "{{ identity = \"dev1\", key_file = \"{}\" }}",
        key.display()
    ));
    let cfg = GatewayConfig::load(&ok).expect("identity and key_file are accepted");
    assert_eq!(
        cfg.routes[0].static_psk.as_ref().map(|(i, _)| i.clone()),
        Some(b"dev1".to_vec())
    );
}

#[test]
fn the_shipped_example_files_use_only_accepted_keys_and_the_server_keeps_state() {
    let gw: GatewayFile =
        toml::from_str(include_str!("../dist/simbridge.toml")).expect("dist/simbridge.toml");
    assert!(!gw.route.is_empty());
    let srv: ServerFile =
        toml::from_str(include_str!("../dist/server.toml")).expect("dist/server.toml");
    // Without state_dir a restart loses every session (and there is no status socket).
    assert_eq!(
        srv.state_dir.as_deref(),
        Some(std::path::Path::new("/var/lib/simbridge-server")),
        "the server unit's StateDirectory"
    );
    let unit = include_str!("../dist/simbridge-server.service");
    assert!(unit.contains("StateDirectory=simbridge-server\n"));
}
