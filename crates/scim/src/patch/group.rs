//! Group PATCH: member operations become set operations (add, remove, remove-all, replace) and
//! never need the current member list; name changes go through the user-style engine.

use super::*;

/// Group PATCH: member operations become [`MemberChange`]s (in request order, each list
/// de-duplicated, empty adds and removes dropped); everything else (displayName, externalId, ...)
/// is applied to `resource` as [`apply_user_patch`] does, and the bool says whether it changed.
pub fn split_group_patch(
    resource: &mut Value,
    ops: &[PatchOperation],
) -> Result<(bool, Vec<MemberChange>), PatchError> {
    let mut rest = Vec::new();
    let mut changes = Vec::new();
    for (i, op) in ops.iter().enumerate() {
        split_one(i, op, &mut rest, &mut changes).map_err(|e| at(i, e))?;
    }
    let changed = apply_all(resource, rest.iter().map(|(i, op)| (*i, op)), false)?;
    Ok((changed, changes))
}

pub(super) fn split_one(
    index: usize,
    op: &PatchOperation,
    rest: &mut Vec<(usize, PatchOperation)>,
    changes: &mut Vec<MemberChange>,
) -> Result<(), PatchError> {
    check_shape(op)?;
    match (&op.path, &op.value) {
        (Some(path), _) if path.attr.eq_ignore_ascii_case("members") && !is_ext(path) => {
            if path.sub_attr.is_some() {
                fail!(InvalidPath, "`{path}` cannot be patched; patch `members`");
            }
            let filter = path.value_filter.as_deref();
            changes.extend(member_change(op.op, filter, op.value.as_ref())?);
        }
        (None, Some(Value::Object(value))) => {
            let (members, residual): (Object, Object) = value
                .clone()
                .into_iter()
                .partition(|(k, _)| k.eq_ignore_ascii_case("members"));
            for v in members.values() {
                changes.extend(member_change(op.op, None, Some(v))?);
            }
            if !residual.is_empty() {
                let value = Some(Value::Object(residual));
                rest.push((
                    index,
                    PatchOperation {
                        value,
                        ..op.clone()
                    },
                ));
            }
        }
        _ => rest.push((index, op.clone())),
    }
    Ok(())
}

/// Whether a path is qualified with a schema other than a core one.
pub(super) fn is_ext(path: &AttrPath) -> bool {
    path.schema
        .as_deref()
        .is_some_and(|s| !is_in(CORE_SCHEMAS, s))
}

pub(super) fn member_change(
    kind: PatchOpKind,
    filter: Option<&Filter>,
    value: Option<&Value>,
) -> Result<Option<MemberChange>, PatchError> {
    if let Some(filter) = filter {
        if kind != Remove {
            fail!(InvalidPath, "only remove takes a filter on `members`");
        }
        return Ok(Some(MemberChange::Remove(filter_member_ids(filter)?)));
    }
    let ids = match value {
        None | Some(Value::Null) => return Ok(Some(MemberChange::RemoveAll)),
        Some(value) => member_ids(value)?,
    };
    Ok(match kind {
        Replace => Some(MemberChange::Replace(ids)),
        _ if ids.is_empty() => None,
        Add => Some(MemberChange::Add(ids)),
        Remove => Some(MemberChange::Remove(ids)),
    })
}

/// `[{"value":"a"}, ...]`, `{"value":"a"}` or `"a"` (Microsoft's Postman collection).
pub(super) fn member_ids(value: &Value) -> Result<Vec<String>, PatchError> {
    let items = match value {
        Value::Array(list) => list.as_slice(),
        other => std::slice::from_ref(other),
    };
    collect_ids(items.iter().map(|item| match item {
        Value::Object(m) => get_ci(m, "value").and_then(Value::as_str),
        other => other.as_str(),
    }))
}

/// `members[value eq "a"]`, or several joined with `or`.
pub(super) fn filter_member_ids(filter: &Filter) -> Result<Vec<String>, PatchError> {
    let (mut ids, mut stack) = (Vec::new(), vec![filter]);
    while let Some(f) = stack.pop() {
        match f {
            Filter::Or(l, r) => stack.extend([&**r, &**l]),
            Filter::Compare {
                path,
                op: CompareOp::Eq,
                value,
            } if path.is("value", None) => ids.push(match value {
                CompValue::Str(s) if path.sub_attr.is_none() => Some(s.as_str()),
                _ => None,
            }),
            _ => fail!(
                InvalidPath,
                "unsupported members filter `{filter}`: use value eq \"id\""
            ),
        }
    }
    collect_ids(ids.into_iter())
}

/// Non-empty string ids, de-duplicated in order.
pub(super) fn collect_ids<'a>(
    ids: impl Iterator<Item = Option<&'a str>>,
) -> Result<Vec<String>, PatchError> {
    let (mut seen, mut out) = (HashSet::new(), Vec::new());
    for id in ids {
        match id {
            Some(id) if !id.trim().is_empty() => {
                if seen.insert(id) {
                    out.push(id.to_string());
                }
            }
            _ => fail!(InvalidValue, "member values must be non-empty strings"),
        }
    }
    Ok(out)
}
