//! Test support for the functions' tests (feature `proptest`): property-test
//! strategies for the event parsers (any JSON value, and a real event with one part
//! replaced by any JSON or removed), and a registry entry ([`registry_entry`]).

use proptest::prelude::*;
use serde_json::Value;

/// Any JSON value, up to a few levels deep.
pub fn arb_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("JSON numbers are finite", |f| f.is_finite())
            .prop_map(Value::from),
        ".{0,24}".prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 64, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(".{0,16}", inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Every JSON pointer in `value` ("" is the whole value).
pub fn pointers(value: &Value) -> Vec<String> {
    let mut out = vec![String::new()];
    let escape = |k: &str| k.replace('~', "~0").replace('/', "~1");
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                out.extend(
                    pointers(v)
                        .into_iter()
                        .map(|p| format!("/{}{p}", escape(k))),
                );
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                out.extend(pointers(v).into_iter().map(|p| format!("/{i}{p}")));
            }
        }
        _ => {}
    }
    out
}

/// `event` with the value at one of its pointers replaced by any JSON, or removed.
pub fn mutated(event: Value) -> impl Strategy<Value = Value> {
    let paths = pointers(&event);
    (prop::sample::select(paths), arb_json(), any::<bool>()).prop_map(
        move |(path, replacement, remove)| {
            let mut out = event.clone();
            let (parent, key) = path.rsplit_once('/').unwrap_or(("", ""));
            let key = key.replace("~1", "/").replace("~0", "~");
            match (remove, out.pointer_mut(parent)) {
                (true, Some(Value::Object(map))) if !path.is_empty() => {
                    map.remove(&key);
                }
                _ => {
                    if let Some(slot) = out.pointer_mut(&path) {
                        *slot = replacement;
                    }
                }
            }
            out
        },
    )
}

/// A registry entry as a container's stack (base name `cm`, environment `dev`)
/// writes it: group `cm-asg-dev-<name>`, metric `cm-dev-<name>`, threshold 20.
pub fn registry_entry(name: &str, region: &str) -> crate::registry::Entry {
    crate::registry::Entry {
        name: name.into(),
        region: region.into(),
        asg: format!("cm-asg-dev-{name}"),
        metric: format!("cm-dev-{name}"),
        threshold: 20.0,
    }
}
