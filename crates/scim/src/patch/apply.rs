//! Applying operations to a resource: paths, value filters, multi-valued attributes, the
//! enterprise extension, and the all-or-nothing rule.

use super::*;

pub(super) fn apply_all<'a>(
    resource: &mut Value,
    ops: impl Iterator<Item = (usize, &'a PatchOperation)>,
    user: bool,
) -> Result<bool, PatchError> {
    let Value::Object(original) = &*resource else {
        fail!(InvalidValue, "the resource is not a JSON object");
    };
    let mut work = original.clone();
    for (i, op) in ops {
        apply_op(&mut work, op, user).map_err(|e| at(i, e))?;
    }
    if work == *original {
        return Ok(false);
    }
    *resource = Value::Object(work);
    Ok(true)
}

pub(super) fn apply_op(
    root: &mut Object,
    op: &PatchOperation,
    user: bool,
) -> Result<(), PatchError> {
    check_shape(op)?;
    let value = op.value.clone().unwrap_or_default();
    match (&op.path, op.op) {
        (Some(path), Remove) => remove(root, path, op.value.as_ref(), user),
        (Some(path), kind) => set(root, path, value, kind, user, None),
        (None, kind) => match value {
            Value::Object(map) => set_keys(root, None, map, kind, user),
            _ => fail!(
                InvalidValue,
                "an operation without a path needs an object value"
            ),
        },
    }
}

/// Path-less add/replace: each key is an attribute path (`name.givenName`, URN-qualified, or a
/// whole schema URN whose object is merged); `inside` is that schema (an extension, or the
/// user's core schema, whose keys are the resource's own attributes).
pub(super) fn set_keys(
    root: &mut Object,
    inside: Option<&str>,
    map: Object,
    kind: PatchOpKind,
    user: bool,
) -> Result<(), PatchError> {
    for (key, value) in map {
        let path = parse_path(&key).map_err(|e| InvalidPath(format!("key `{key}`: {e}")))?;
        set(root, &path, value, kind, user, inside)?;
    }
    Ok(())
}

/// Where a path points once its schema URN is resolved.
pub(super) enum Target {
    /// The user's whole core schema (`urn:…:core:2.0:User`): its attributes are the resource's.
    Core,
    /// A whole extension object (its key in the resource).
    Schema(String),
    /// An attribute of the resource (None) or of an extension object.
    Attr(Option<String>),
}

pub(super) fn resolve(root: &Object, path: &AttrPath, user: bool) -> Result<Target, PatchError> {
    let whole = path.value_filter.is_none() && path.sub_attr.is_none();
    Ok(match &path.schema {
        Some(schema) if whole && names_schema(root, schema, &path.attr) => {
            let full = format!("{schema}:{}", path.attr);
            if user && full.eq_ignore_ascii_case(USER_CORE) {
                return Ok(Target::Core);
            }
            if is_in(CORE_SCHEMAS, &full) {
                fail!(InvalidPath, "name the attributes of `{full}` without it");
            }
            Target::Schema(ext_key(root, &full))
        }
        Some(schema) if is_in(CORE_SCHEMAS, schema) => Target::Attr(None),
        Some(schema) => Target::Attr(Some(ext_key(root, schema))),
        None if user
            && is_in(ENTERPRISE_ONLY, &path.attr)
            && find_key(root, &path.attr).is_none() =>
        {
            Target::Attr(Some(ext_key(root, ENTERPRISE)))
        }
        None => Target::Attr(None),
    })
}

/// Whether `schema:attr` is a whole schema URN rather than an attribute in one: a known one (in
/// any case), one the resource lists or holds, or of the form `...:<version>:<Type>`.
pub(super) fn names_schema(root: &Object, schema: &str, attr: &str) -> bool {
    let full = format!("{schema}:{attr}");
    let version = schema.rsplit(':').next().unwrap_or_default();
    let listed = get_ci(root, "schemas").and_then(Value::as_array);
    listed.is_some_and(|l| l.iter().any(|s| eq_str(s, &full)))
        || full.eq_ignore_ascii_case(ENTERPRISE)
        || is_in(CORE_SCHEMAS, &full)
        || get_ci(root, &full).is_some_and(Value::is_object)
        || (version.starts_with(|c: char| c.is_ascii_digit())
            && version.chars().all(|c| c.is_ascii_digit() || c == '.')
            && attr.starts_with(|c: char| c.is_ascii_uppercase()))
}

pub(super) fn ext_key(root: &Object, urn: &str) -> String {
    let canonical = if urn.eq_ignore_ascii_case(ENTERPRISE) {
        ENTERPRISE
    } else {
        urn
    };
    find_key(root, urn).unwrap_or_else(|| canonical.to_string())
}

/// add/replace of `path`; `inside` is the schema (an extension, or the user's core schema) whose
/// object a path-less key came from.
pub(super) fn set(
    root: &mut Object,
    path: &AttrPath,
    value: Value,
    kind: PatchOpKind,
    user: bool,
    inside: Option<&str>,
) -> Result<(), PatchError> {
    let nested = inside.is_some();
    // Keys under the core schema are the resource's own attributes, as if sent without it.
    let inside = inside.filter(|schema| !schema.eq_ignore_ascii_case(USER_CORE));
    let ext = match (resolve(root, path, user)?, inside) {
        (Target::Core | Target::Schema(_), _) if nested => {
            fail!(InvalidPath, "`{path}` cannot be nested")
        }
        (Target::Core, _) => match value {
            Value::Object(map) => return set_keys(root, Some(USER_CORE), map, kind, user),
            _ => fail!(InvalidValue, "`{path}` needs an object value"),
        },
        (Target::Schema(ext), _) => {
            match value {
                Value::Null => drop(root.remove(&ext)),
                Value::Object(map) => set_keys(root, Some(&ext), map, kind, user)?,
                _ => fail!(InvalidValue, "`{path}` needs an object value"),
            }
            finish_ext(root, &ext);
            return Ok(());
        }
        (Target::Attr(_), Some(inside)) => inside.to_string(),
        (Target::Attr(Some(ext)), None) => ext,
        (Target::Attr(None), None) if is_in(READ_ONLY, &path.attr) => {
            let whole = path.value_filter.is_none() && path.sub_attr.is_none();
            if whole && get_ci(root, &path.attr) == Some(&value) {
                return Ok(()); // e.g. Okta's rename, which repeats the unchanged id
            }
            fail!(Mutability, "`{path}` is read-only");
        }
        (Target::Attr(None), None) => return set_attr(root, path, value, kind, false),
    };
    let in_enterprise = ext.eq_ignore_ascii_case(ENTERPRISE);
    match root
        .entry(ext.clone())
        .or_insert_with(|| Value::Object(Object::new()))
    {
        Value::Object(container) => set_attr(container, path, value, kind, in_enterprise)?,
        _ => fail!(InvalidPath, "`{ext}` is not an object"),
    }
    finish_ext(root, &ext);
    Ok(())
}

/// Drops an emptied extension object; lists a non-empty one in `schemas`.
pub(super) fn finish_ext(root: &mut Object, ext: &str) {
    match root.get(ext) {
        Some(Value::Object(m)) if m.is_empty() => drop(root.remove(ext)),
        Some(Value::Object(_)) => {
            let key = key_for(root, "schemas");
            if let Some(Value::Array(schemas)) = root.get_mut(&key) {
                if !schemas.iter().any(|s| eq_str(s, ext)) {
                    schemas.push(ext.into());
                }
            }
        }
        _ => {}
    }
}

/// add/replace of one attribute path inside `obj` (the resource or an extension object).
pub(super) fn set_attr(
    obj: &mut Object,
    path: &AttrPath,
    value: Value,
    kind: PatchOpKind,
    in_enterprise: bool,
) -> Result<(), PatchError> {
    let name = path.attr.as_str();
    let is_manager = in_enterprise && name.eq_ignore_ascii_case("manager");
    let value = check_value(name, path.sub_attr.as_deref(), value, !in_enterprise)?;
    if value.is_null() {
        return remove_attr(obj, path, None, is_manager);
    }
    if let Some(filter) = &path.value_filter {
        return set_filtered(obj, path, filter, value);
    }
    let key = key_for(obj, name);
    let multi = is_in(MULTI_VALUED, name) || matches!(obj.get(&key), Some(Value::Array(_)));
    if let Some(sub) = &path.sub_attr {
        if !obj.contains_key(&key) {
            if !multi && (is_in(STRINGS, name) || name.eq_ignore_ascii_case("active")) {
                fail!(InvalidPath, "`{name}` has no sub-attributes");
            }
            let empty = if multi {
                Value::Array(Vec::new())
            } else {
                Value::Object(Object::new())
            };
            obj.insert(key.clone(), empty);
        }
        match obj.get_mut(&key) {
            Some(Value::Array(list)) if list.is_empty() => list.push(element_with(sub, value)),
            Some(Value::Array(list)) => {
                for m in list.iter_mut().filter_map(Value::as_object_mut) {
                    set_key(m, sub, value.clone());
                }
            }
            Some(Value::Object(m)) => set_key(m, sub, value),
            _ => fail!(InvalidPath, "`{name}` has no sub-attributes"),
        }
        return tidy(obj, &key, is_manager);
    }
    if multi || value.is_array() {
        let mut list = match (kind, obj.remove(&key)) {
            (Add, Some(Value::Array(list))) => list,
            _ => Vec::new(),
        };
        let touched = add_elements(&mut list, elements(name, value)?);
        normalize_primary(&mut list, &touched)?;
        if !list.is_empty() {
            obj.insert(key, Value::Array(list));
        }
        return Ok(());
    }
    match (obj.get_mut(&key), value) {
        // A manager is one reference: replace it whole, never keep another person's displayName.
        (Some(existing @ Value::Object(_)), new @ Value::Object(_)) if !is_manager => {
            merge(existing, new)
        }
        (_, Value::Object(new)) => {
            drop(obj.insert(key.clone(), Value::Object(canonical_keys(new))))
        }
        (_, value) => drop(obj.insert(key.clone(), value)),
    }
    tidy(obj, &key, is_manager)
}

/// Type checks and coercions for a value headed to `name[.sub]`; JSON null passes through.
pub(super) fn check_value(
    name: &str,
    sub: Option<&str>,
    value: Value,
    core: bool,
) -> Result<Value, PatchError> {
    let leaf = sub.unwrap_or(name);
    if value.is_null() {
        Ok(value)
    } else if !core && sub.is_none() && name.eq_ignore_ascii_case("manager") {
        normalize_manager(value)
    } else if (core && sub.is_none() && name.eq_ignore_ascii_case("active"))
        || leaf.eq_ignore_ascii_case("primary")
    {
        coerce_bool(leaf, value)
    } else if sub.is_none() && name.eq_ignore_ascii_case("name") && !value.is_object() {
        fail!(InvalidValue, "`name` must be an object")
    } else if is_in(STRINGS, leaf) && !value.is_string() {
        fail!(InvalidValue, "`{leaf}` must be a string")
    } else {
        Ok(value)
    }
}

/// JSON booleans, and "true"/"false" in any case (Entra's default job sends `"active":"False"`).
pub(super) fn coerce_bool(name: &str, value: Value) -> Result<Value, PatchError> {
    match value.as_str().map(str::to_ascii_lowercase).as_deref() {
        _ if value.is_boolean() => Ok(value),
        Some("true") => Ok(Value::Bool(true)),
        Some("false") => Ok(Value::Bool(false)),
        _ => fail!(InvalidValue, "`{name}` must be true or false, not {value}"),
    }
}

/// A bare id, `{"value": id}` or `[{"value": id}]` (old Entra) -> `{"value": id}`; empty -> null.
pub(super) fn normalize_manager(value: Value) -> Result<Value, PatchError> {
    let value = match value {
        Value::Array(list) if list.len() <= 1 && !list.iter().any(Value::is_array) => {
            list.into_iter().next().unwrap_or_default()
        }
        other => other,
    };
    let manager = match value {
        Value::String(id) => Object::from_iter([("value".to_string(), Value::String(id))]),
        Value::Object(m) => canonical_keys(m),
        Value::Null => return Ok(Value::Null),
        _ => fail!(InvalidValue, "`manager` must be an id or {{\"value\": id}}"),
    };
    match manager.get("value") {
        Some(Value::String(id)) if !id.trim().is_empty() => Ok(Value::Object(manager)),
        None | Some(Value::Null | Value::String(_)) => Ok(Value::Null),
        Some(_) => fail!(InvalidValue, "`manager.value` must be a string"),
    }
}

/// After a change to `key`: empty objects and arrays are removed, as is a manager without a value.
pub(super) fn tidy(obj: &mut Object, key: &str, is_manager: bool) -> Result<(), PatchError> {
    let empty = match obj.get(key) {
        Some(Value::Object(m)) if is_manager => get_ci(m, "value")
            .and_then(Value::as_str)
            .is_none_or(|v| v.trim().is_empty()),
        Some(Value::Object(m)) => m.is_empty(),
        Some(Value::Array(list)) => list.is_empty(),
        _ => false,
    };
    if empty {
        obj.remove(key);
    }
    Ok(())
}

/// add/replace through `attr[filter]` or `attr[filter].sub`: update the matching elements, or
/// create the element the filter describes when none matches (Entra's first work email).
pub(super) fn set_filtered(
    obj: &mut Object,
    path: &AttrPath,
    filter: &Filter,
    value: Value,
) -> Result<(), PatchError> {
    let name = path.attr.as_str();
    if is_in(KNOWN_ATTRIBUTES, name) && !is_in(MULTI_VALUED, name) {
        fail!(InvalidPath, "`{name}` is not multi-valued");
    }
    if path.sub_attr.is_none() && !value.is_object() {
        fail!(InvalidValue, "`{path}` needs an object value");
    }
    let Value::Array(list) = obj
        .entry(key_for(obj, name))
        .or_insert_with(|| Value::Array(Vec::new()))
    else {
        fail!(InvalidPath, "`{name}` is not multi-valued");
    };
    let mut touched = Vec::new();
    for (i, element) in list.iter().enumerate() {
        if filter.matches(element) {
            touched.push(i);
        }
    }
    if touched.is_empty() {
        let Some(created) = synthesize(filter, 0) else {
            fail!(NoTarget, "no `{name}` value matches `{filter}`");
        };
        list.push(Value::Object(created));
        touched.push(list.len() - 1);
    }
    for &i in &touched {
        match (&path.sub_attr, list.get_mut(i)) {
            (Some(sub), Some(Value::Object(m))) => set_key(m, sub, value.clone()),
            (None, Some(element)) => merge(element, value.clone()),
            _ => {}
        }
    }
    normalize_primary(list, &touched)
}

/// The element described by a filter made only of `attr eq value` joined with `and`.
pub(super) fn synthesize(filter: &Filter, depth: usize) -> Option<Object> {
    match filter {
        _ if depth > MAX_FILTER_DEPTH => None,
        Filter::And(l, r) => {
            let mut left = synthesize(l, depth + 1)?;
            for (k, v) in synthesize(r, depth + 1)? {
                if left.insert(k, v.clone()).is_some_and(|old| old != v) {
                    return None;
                }
            }
            Some(left)
        }
        Filter::Compare {
            path,
            op: CompareOp::Eq,
            value,
        } if path.schema.is_none() && path.value_filter.is_none() && path.sub_attr.is_none() => {
            let value = match value {
                CompValue::Str(s) => Value::String(s.clone()),
                CompValue::Num(n) => Value::Number(n.clone()),
                CompValue::Bool(b) => Value::Bool(*b),
                CompValue::Null => return None,
            };
            let value = check_value(&path.attr, None, value, false).ok()?;
            Some(Object::from_iter([(canonical(&path.attr), value)]))
        }
        _ => None,
    }
}

pub(super) fn remove(
    root: &mut Object,
    path: &AttrPath,
    value: Option<&Value>,
    user: bool,
) -> Result<(), PatchError> {
    match resolve(root, path, user)? {
        Target::Core => fail!(
            InvalidPath,
            "`{path}` is the whole resource; name its attributes"
        ),
        Target::Schema(ext) => drop(root.remove(&ext)),
        Target::Attr(None) if is_in(READ_ONLY, &path.attr) => {
            fail!(Mutability, "`{path}` is read-only")
        }
        Target::Attr(None) => remove_attr(root, path, value, false)?,
        Target::Attr(Some(ext)) => {
            let is_manager =
                ext.eq_ignore_ascii_case(ENTERPRISE) && path.attr.eq_ignore_ascii_case("manager");
            if let Some(Value::Object(container)) = root.get_mut(&ext) {
                remove_attr(container, path, value, is_manager)?;
            }
            finish_ext(root, &ext);
        }
    }
    Ok(())
}

/// Removes `path` from `obj`; removing something absent or matching nothing is a success (IdPs
/// retry). With a `value`, a multi-valued attribute loses only the listed elements.
pub(super) fn remove_attr(
    obj: &mut Object,
    path: &AttrPath,
    value: Option<&Value>,
    is_manager: bool,
) -> Result<(), PatchError> {
    let Some(key) = find_key(obj, &path.attr) else {
        return Ok(());
    };
    let value = value.filter(|v| !v.is_null());
    let sub = path.sub_attr.as_deref();
    match (&path.value_filter, sub, obj.get_mut(&key)) {
        (Some(filter), _, Some(Value::Array(list))) => {
            let mut kept = Vec::with_capacity(list.len());
            for mut element in std::mem::take(list) {
                if !filter.matches(&element) {
                    kept.push(element);
                } else if let (Some(sub), Some(m)) = (sub, element.as_object_mut()) {
                    remove_key(m, sub);
                    kept.push(element);
                }
            }
            *list = kept;
        }
        (Some(_), _, _) => {}
        (None, Some(sub), Some(Value::Object(m))) => remove_key(m, sub),
        (None, Some(sub), Some(Value::Array(list))) => {
            for m in list.iter_mut().filter_map(Value::as_object_mut) {
                remove_key(m, sub);
            }
        }
        (None, Some(_), _) => {}
        (None, None, Some(Value::Array(list))) if value.is_some() => {
            let gone = elements(&path.attr, value.cloned().unwrap_or_default())?;
            list.retain(|e| !gone.iter().any(|g| same_element(e, g)));
        }
        (None, None, _) => drop(obj.remove(&key)),
    }
    tidy(obj, &key, is_manager)
}

/// The elements an add/replace/remove value stands for: an array, or one object; bare strings
/// of known multi-valued attributes become `{"value": s}`.
pub(super) fn elements(name: &str, value: Value) -> Result<Vec<Value>, PatchError> {
    let known = is_in(MULTI_VALUED, name);
    let list = match value {
        Value::Array(list) => list,
        other => vec![other],
    };
    let element = |e: Value| match e {
        Value::Object(m) => Ok(Value::Object(canonical_keys(m))),
        Value::String(_) if known => Ok(element_with("value", e)),
        _ if known => fail!(InvalidValue, "`{name}` values must be objects, not {e}"),
        _ => Ok(e),
    };
    list.into_iter().map(element).collect()
}

/// Adds elements not already present and merges the others; returns the indices touched.
pub(super) fn add_elements(list: &mut Vec<Value>, new: Vec<Value>) -> Vec<usize> {
    let mut touched = Vec::new();
    for element in new {
        match list.iter_mut().position(|e| same_element(e, &element)) {
            Some(i) => {
                if let Some(existing) = list.get_mut(i) {
                    merge(existing, element);
                }
                touched.push(i);
            }
            None => {
                list.push(element);
                touched.push(list.len() - 1);
            }
        }
    }
    touched
}

pub(super) fn element_with(sub: &str, value: Value) -> Value {
    Value::Object(Object::from_iter([(canonical(sub), value)]))
}

/// Two elements are the same value when `value` and `type` agree (case-insensitively); elements
/// without a `value` (addresses) must be equal.
pub(super) fn same_element(a: &Value, b: &Value) -> bool {
    let loose_eq = |x: Option<&Value>, y: Option<&Value>| match (x, y) {
        (Some(Value::String(x)), Some(Value::String(y))) => x.to_lowercase() == y.to_lowercase(),
        _ => x == y,
    };
    match (a, b) {
        (Value::Object(x), Value::Object(y))
            if get_ci(x, "value").is_some() || get_ci(y, "value").is_some() =>
        {
            loose_eq(get_ci(x, "value"), get_ci(y, "value"))
                && loose_eq(get_ci(x, "type"), get_ci(y, "type"))
        }
        _ => a == b,
    }
}

/// Merges an object's keys into `target` (null values remove keys); anything else replaces it.
pub(super) fn merge(target: &mut Value, value: Value) {
    match (target, value) {
        (Value::Object(t), Value::Object(v)) => v.into_iter().for_each(|(k, v)| set_key(t, &k, v)),
        (target, value) => *target = value,
    }
}

/// At most one element is primary: the first touched element marked primary wins (RFC 7643 §2.4).
pub(super) fn normalize_primary(list: &mut [Value], touched: &[usize]) -> Result<(), PatchError> {
    for &i in touched {
        let Some(m) = list.get_mut(i).and_then(Value::as_object_mut) else {
            continue;
        };
        if let Some(key) = find_key(m, "primary") {
            match m.remove(&key).unwrap_or_default() {
                Value::Null => {}
                flag => drop(m.insert(key, coerce_bool("primary", flag)?)),
            }
        }
    }
    let is_primary =
        |e: &Value| e.as_object().and_then(|m| get_ci(m, "primary")) == Some(&Value::Bool(true));
    let winner = touched
        .iter()
        .copied()
        .find(|&i| list.get(i).is_some_and(is_primary));
    for (i, element) in list.iter_mut().enumerate() {
        let demote = winner.is_some_and(|w| w != i) && is_primary(element);
        if let (true, Some(m)) = (demote, element.as_object_mut()) {
            set_key(m, "primary", Value::Bool(false));
        }
    }
    Ok(())
}
