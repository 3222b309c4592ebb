//! Case-insensitive attribute names: lookups keep an existing key's spelling, new keys get the
//! canonical one (shared with request parsing in `crate::names`).

use super::*;

/// Whether `name` is one of the whitespace-separated words of `list`, case-insensitively.
pub(super) fn is_in(list: &str, name: &str) -> bool {
    list.split_whitespace()
        .any(|x| x.eq_ignore_ascii_case(name))
}

pub(super) fn eq_str(value: &Value, s: &str) -> bool {
    value.as_str().is_some_and(|v| v.eq_ignore_ascii_case(s))
}

pub(super) fn canonical(name: &str) -> String {
    crate::names::canonical(name)
}

pub(super) fn canonical_keys(map: Object) -> Object {
    map.into_iter().map(|(k, v)| (canonical(&k), v)).collect()
}

pub(super) fn find_key(obj: &Object, name: &str) -> Option<String> {
    obj.keys().find(|k| k.eq_ignore_ascii_case(name)).cloned()
}

/// The key to write `name` under: the existing spelling, else the canonical one.
pub(super) fn key_for(obj: &Object, name: &str) -> String {
    find_key(obj, name).unwrap_or_else(|| canonical(name))
}

pub(super) fn get_ci<'a>(obj: &'a Object, name: &str) -> Option<&'a Value> {
    obj.get(name).or_else(|| {
        obj.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    })
}

/// Sets `name` in `obj` keeping an existing key's spelling; null removes it.
pub(super) fn set_key(obj: &mut Object, name: &str, value: Value) {
    match value {
        Value::Null => remove_key(obj, name),
        value => drop(obj.insert(key_for(obj, name), value)),
    }
}

pub(super) fn remove_key(obj: &mut Object, name: &str) {
    if let Some(key) = find_key(obj, name) {
        obj.remove(&key);
    }
}
