//! The tidy checks: facts that the docs state about the code, checked against the code so they
//! cannot drift apart unnoticed (the idea of rust-analyzer's `xtask/src/tidy.rs`). A reader trusts
//! docs/configuration.md to list every key, docs/events.md every event a webhook may carry, and
//! docs/architecture.md's dependency list; a contributor opening any `.rs` file finds a `//!` that
//! says why it exists. Each check reads files (and `cargo metadata --offline`), never the network,
//! and reports every offending item by name with what to do about it.
//!
//! Run by `cargo xtask test` (the `tidy` test below is part of `cargo test --workspace`) and alone
//! by `cargo xtask tidy`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::{repo_root, say};

const SETTINGS: &str = "crates/server/src/settings.rs";
const CONFIGURATION_DOC: &str = "docs/configuration.md";
const EVENTS_DOC: &str = "docs/events.md";
const ARCHITECTURE_DOC: &str = "docs/architecture.md";
/// Where the `.rs` files that must open with a module doc live.
const SOURCE_ROOTS: &[&str] = &["crates", "xtask", "fuzz"];
/// Directories under those roots that hold no source of ours.
const SKIPPED_DIRS: &[&str] = &["target", "node_modules"];
const DEPENDENCIES_START: &str = "<!-- tidy:dependencies -->";
const DEPENDENCIES_END: &str = "<!-- /tidy:dependencies -->";

/// `cargo xtask tidy`.
pub(crate) fn run(args: &[String]) -> Result<(), String> {
    if let Some(unknown) = args.first() {
        return Err(format!("unknown option {unknown:?} for `cargo xtask tidy`"));
    }
    let problems = problems(&repo_root());
    if problems.is_empty() {
        say("tidy: the docs and the code agree");
        return Ok(());
    }
    for problem in &problems {
        eprintln!("tidy: {problem}");
    }
    Err(format!("{} tidy problem(s)", problems.len()))
}

/// Every problem the checks find in the repository at `root`, one sentence each.
pub(crate) fn problems(root: &Path) -> Vec<String> {
    let mut problems = Vec::new();
    let mut check = |result: Result<Vec<String>, String>| match result {
        Ok(found) => problems.extend(found),
        Err(cannot) => problems.push(cannot),
    };
    check(read(root, SETTINGS).and_then(|settings| {
        let documented = read(root, CONFIGURATION_DOC)?;
        Ok(configuration_problems(&settings, &documented))
    }));
    check(sources(root).and_then(|sources| {
        let catalogue = read(root, EVENTS_DOC)?;
        let library: Vec<(String, String)> = sources
            .iter()
            .filter(|(path, _)| is_library_source(path))
            .cloned()
            .collect();
        let mut found = event_problems(&library, &catalogue);
        found.extend(
            sources
                .iter()
                .filter_map(|(path, text)| module_doc_problem(path, text)),
        );
        Ok(found)
    }));
    check(workspace_dependencies(root).and_then(|graph| {
        let architecture = read(root, ARCHITECTURE_DOC)?;
        Ok(dependency_problems(&graph, &architecture))
    }));
    problems
}

// --- Configuration keys ---------------------------------------------------------------------

/// Keys `settings.rs` reads that docs/configuration.md does not document, and documented keys it
/// does not read.
fn configuration_problems(settings: &str, documented: &str) -> Vec<String> {
    let read = match settings_keys(settings) {
        Ok(keys) => keys,
        Err(cannot) => return vec![cannot],
    };
    let documented = documented_keys(documented);
    let mut problems = Vec::new();
    for key in read.difference(&documented) {
        problems.push(format!(
            "{CONFIGURATION_DOC} does not document the configuration key `{key}` ({SETTINGS} reads \
             it): add a row with its default and meaning to its section's table"
        ));
    }
    for key in documented.difference(&read) {
        problems.push(format!(
            "{CONFIGURATION_DOC} documents `{key}`, which {SETTINGS} does not read: remove or \
             rename its row"
        ));
    }
    problems
}

/// The dotted keys `Settings` deserialises: each field of `Settings` is a section, each field of
/// a section's struct a key (a field whose type is another struct of the file nests further).
fn settings_keys(source: &str) -> Result<BTreeSet<String>, String> {
    let mut keys = BTreeSet::new();
    collect_keys(source, "Settings", "", &mut keys, 0)?;
    if keys.is_empty() {
        return Err(format!(
            "{SETTINGS}: tidy found no configuration keys in `struct Settings`"
        ));
    }
    Ok(keys)
}

fn collect_keys(
    source: &str,
    name: &str,
    prefix: &str,
    keys: &mut BTreeSet<String>,
    depth: usize,
) -> Result<(), String> {
    if depth > 4 {
        return Err(format!(
            "{SETTINGS}: `{name}` nests deeper than tidy follows"
        ));
    }
    let body = struct_body(source, name)
        .ok_or_else(|| format!("{SETTINGS}: tidy cannot find `struct {name}`"))?;
    for line in body.lines().map(str::trim) {
        if line.starts_with("#[serde(") && (line.contains("rename") || line.contains("flatten")) {
            return Err(format!(
                "{SETTINGS}: `struct {name}` uses `{line}`, which the tidy check does not \
                 follow: teach xtask/src/tidy.rs to read it"
            ));
        }
        let Some((field, field_type)) = field(line) else {
            continue;
        };
        let key = if prefix.is_empty() {
            field.to_owned()
        } else {
            format!("{prefix}.{field}")
        };
        if struct_body(source, field_type).is_some() {
            collect_keys(source, field_type, &key, keys, depth + 1)?;
        } else if prefix.is_empty() {
            return Err(format!(
                "{SETTINGS}: the section `{field}` has the type `{field_type}`, which is not a \
                 struct of that file"
            ));
        } else {
            keys.insert(key);
        }
    }
    Ok(())
}

/// The text between the braces of `struct name { … }`.
fn struct_body<'a>(source: &'a str, name: &str) -> Option<&'a str> {
    let needle = format!("struct {name} {{");
    let start = source.find(&needle)? + needle.len();
    let end = source[start..].find("\n}")?;
    Some(&source[start..start + end])
}

/// `pub name: Type,` as (name, Type).
fn field(line: &str) -> Option<(&str, &str)> {
    let rest = line
        .strip_prefix("pub(crate) ")
        .or_else(|| line.strip_prefix("pub "))?;
    let (name, field_type) = rest.split_once(':')?;
    let field_type = field_type.trim().trim_end_matches(',').trim();
    let name = name.trim();
    name.chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        .then_some((name, field_type))
}

/// The keys in the first column of docs/configuration.md's tables: `` | `section.key` | … ``.
fn documented_keys(markdown: &str) -> BTreeSet<String> {
    markdown
        .lines()
        .filter_map(first_cell_code)
        .filter(|key| key.contains('.'))
        .map(str::to_owned)
        .collect()
}

/// The content of a table row's first cell when it is one code span: `` | `x` | … `` gives `x`.
fn first_cell_code(line: &str) -> Option<&str> {
    let cell = line.strip_prefix('|')?.split('|').next()?.trim();
    let code = cell.strip_prefix('`')?.strip_suffix('`')?;
    (!code.is_empty() && !code.contains('`')).then_some(code)
}

// --- Event types ----------------------------------------------------------------------------

/// Event types the code emits that docs/events.md's catalogue lacks, and catalogue rows no code
/// emits. `files` are the library sources as (path, text).
fn event_problems(files: &[(String, String)], catalogue: &str) -> Vec<String> {
    let (emitted, mut problems) = emitted_event_types(files);
    let Some(documented) = catalogue_types(catalogue) else {
        problems.push(format!(
            "{EVENTS_DOC} has no `## Catalogue` table: tidy reads the event types from it"
        ));
        return problems;
    };
    for (event_type, place) in &emitted {
        if !documented.contains(event_type) {
            problems.push(format!(
                "{EVENTS_DOC} does not list the event type `{event_type}` (emitted at {place}): \
                 add a row to its catalogue"
            ));
        }
    }
    for event_type in documented.difference(&emitted.keys().cloned().collect()) {
        problems.push(format!(
            "{EVENTS_DOC} lists the event type `{event_type}`, which no code emits: remove its \
             row, or fix its name"
        ));
    }
    if emitted.is_empty() {
        problems.push(
            "tidy found no event type in the code: the way events are recorded changed; update \
             `emitted_event_types` in xtask/src/tidy.rs"
                .to_owned(),
        );
    }
    problems
}

/// Every event type the code writes, with the first place that writes it. An event is written
/// as a `NewEvent` (its `event_type` field) or through a function with an
/// `event_type: &'static str` parameter (`user_event`, `token_event`, …). The type is a string
/// literal there, the parameter passed on (`event_type`), or a local bound by a `let` whose
/// literals are the candidates (`let action = match … { … => "user.deactivated", … };`).
fn emitted_event_types(files: &[(String, String)]) -> (BTreeMap<String, String>, Vec<String>) {
    let files: Vec<(&str, &str)> = files
        .iter()
        .map(|(path, text)| (path.as_str(), without_tests(text)))
        .collect();
    let mut writers = BTreeMap::new();
    for (_, text) in &files {
        writers.extend(event_writers(text));
    }
    let mut emitted = BTreeMap::new();
    let mut problems = Vec::new();
    for (path, text) in &files {
        let mut values = Vec::new();
        for (offset, _) in text.match_indices("event_type:") {
            let value = text[offset + "event_type:".len()..].trim_start();
            values.push((offset, leading_expression(value)));
        }
        for (name, &index) in &writers {
            for offset in calls(text, name) {
                let open = offset + name.len() + 1;
                if let Some(argument) = arguments(&text[open..]).into_iter().nth(index) {
                    values.push((offset, argument));
                }
            }
        }
        for (offset, value) in values {
            let place = format!("{path}:{}", line_of(text, offset));
            match event_type_value(text, offset, value) {
                EventTypeValue::Literals(literals) => {
                    for literal in literals {
                        emitted.entry(literal).or_insert_with(|| place.clone());
                    }
                }
                EventTypeValue::PassedOn | EventTypeValue::NotAValue => {}
                EventTypeValue::Unknown(expression) => problems.push(format!(
                    "{place}: tidy cannot tell which event type `{expression}` is: write the \
                     type as a string literal, or bind it with a `let` whose literals are the types"
                )),
            }
        }
    }
    (emitted, problems)
}

enum EventTypeValue {
    Literals(Vec<String>),
    /// A function's own `event_type` parameter, handed on: its callers are checked.
    PassedOn,
    /// A declaration (`event_type: &'static str`, `event_type: String`), not a value.
    NotAValue,
    Unknown(String),
}

fn event_type_value(text: &str, offset: usize, value: &str) -> EventTypeValue {
    let value = value.trim();
    if let Some(literal) = string_literal(value) {
        return EventTypeValue::Literals(vec![literal.to_owned()]);
    }
    let value = value.trim_start_matches('*');
    if value == "event_type" {
        return EventTypeValue::PassedOn;
    }
    let is_identifier = !value.is_empty()
        && value.starts_with(|c: char| c.is_ascii_lowercase() || c == '_')
        && value.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !is_identifier {
        return if value.starts_with('&') || value.starts_with(char::is_uppercase) {
            EventTypeValue::NotAValue
        } else {
            EventTypeValue::Unknown(value.to_owned())
        };
    }
    // The nearest `let value = …;` before the use.
    let needle = format!("let {value} =");
    let Some(start) = text[..offset].rfind(&needle) else {
        return EventTypeValue::Unknown(value.to_owned());
    };
    let statement = &text[start..];
    let statement = &statement[..statement.find(";\n").unwrap_or(statement.len())];
    let literals: Vec<String> = string_literals(statement)
        .into_iter()
        .filter(|literal| literal.contains('.'))
        .map(str::to_owned)
        .collect();
    if literals.is_empty() {
        EventTypeValue::Unknown(value.to_owned())
    } else {
        EventTypeValue::Literals(literals)
    }
}

/// Functions with an `event_type` parameter, and its position among their arguments.
fn event_writers(text: &str) -> BTreeMap<String, usize> {
    let mut writers = BTreeMap::new();
    for (offset, _) in text.match_indices("fn ") {
        let rest = &text[offset + 3..];
        let name_end = rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(rest.len());
        let name = &rest[..name_end];
        let Some(parameters) = rest[name_end..].strip_prefix('(') else {
            continue;
        };
        let position = arguments(parameters).iter().position(|parameter| {
            parameter
                .split_once(':')
                .is_some_and(|(name, _)| name.trim() == "event_type")
        });
        if let Some(position) = position {
            writers.insert(name.to_owned(), position);
        }
    }
    writers
}

/// Offsets of the calls `name(` in `text` (not its definition, not a longer name's call).
fn calls(text: &str, name: &str) -> Vec<usize> {
    text.match_indices(&format!("{name}("))
        .map(|(offset, _)| offset)
        .filter(|&offset| {
            let before = &text[..offset];
            let joined = before
                .chars()
                .next_back()
                .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_');
            !joined && !before.ends_with("fn ")
        })
        .collect()
}

/// The comma-separated arguments of the call whose `(` was just consumed, up to its `)`.
fn arguments(after_open: &str) -> Vec<&str> {
    let mut arguments = Vec::new();
    let mut depth = 0usize;
    let mut start = 0;
    let mut in_string = false;
    let mut escaped = false;
    for (index, c) in after_open.char_indices() {
        if in_string {
            match c {
                _ if escaped => escaped = false,
                '\\' => escaped = true,
                '"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match c {
            '"' => in_string = true,
            '(' | '[' | '{' | '<' => depth += 1,
            ')' | ']' | '}' | '>' if depth > 0 => depth -= 1,
            ')' => {
                let last = after_open[start..index].trim();
                if !last.is_empty() {
                    arguments.push(last);
                }
                return arguments;
            }
            ',' if depth == 0 => {
                arguments.push(after_open[start..index].trim());
                start = index + 1;
            }
            _ => {}
        }
    }
    arguments
}

/// The expression at the start of `text`, up to a top-level `,`, `}` or line end.
fn leading_expression(text: &str) -> &str {
    let end = text.find([',', '}', '\n', ')']).unwrap_or(text.len());
    text[..end].trim()
}

fn string_literal(text: &str) -> Option<&str> {
    let inner = text.strip_prefix('"')?.strip_suffix('"')?;
    (!inner.contains('"')).then_some(inner)
}

fn string_literals(text: &str) -> Vec<&str> {
    text.split('"').skip(1).step_by(2).collect()
}

/// The `` `code` `` spans of a Markdown text.
fn code_spans(text: &str) -> Vec<&str> {
    text.split('`').skip(1).step_by(2).collect()
}

/// The text before the file's unit-test module (`#[cfg(test)] mod …`), whose events are made up.
fn without_tests(text: &str) -> &str {
    text.find("#[cfg(test)]\nmod ")
        .map_or(text, |end| &text[..end])
}

fn line_of(text: &str, offset: usize) -> usize {
    text[..offset].matches('\n').count() + 1
}

/// The types in the first column of docs/events.md's `## Catalogue` table.
fn catalogue_types(markdown: &str) -> Option<BTreeSet<String>> {
    let start = markdown.find("\n## Catalogue")? + 1;
    let section = &markdown[start..];
    let section = &section[..section[2..]
        .find("\n## ")
        .map_or(section.len(), |end| end + 2)];
    Some(
        section
            .lines()
            .filter_map(first_cell_code)
            .map(str::to_owned)
            .collect(),
    )
}

/// A `.rs` file under a crate's `src/` (not its tests or examples), by its relative path.
fn is_library_source(path: &str) -> bool {
    let mut parts = path.split('/');
    parts.next() == Some("crates") && parts.nth(1) == Some("src")
}

// --- Module docs ----------------------------------------------------------------------------

/// A file that does not open with a `//!` module doc (a crate root may instead include its
/// README as its doc: `#![doc = include_str!("../README.md")]`).
fn module_doc_problem(path: &str, text: &str) -> Option<String> {
    let first = text.lines().next().unwrap_or_default();
    if first.starts_with("//!") || first.starts_with("#![doc = include_str!(") {
        return None;
    }
    Some(format!(
        "{path} does not open with a `//!` module doc: say in its first lines why the module \
         exists"
    ))
}

/// Every `.rs` file under the source roots as (path relative to `root`, text), sorted by path.
fn sources(root: &Path) -> Result<Vec<(String, String)>, String> {
    let mut files = Vec::new();
    let mut pending: Vec<PathBuf> = SOURCE_ROOTS.iter().map(|dir| root.join(dir)).collect();
    while let Some(dir) = pending.pop() {
        let entries = std::fs::read_dir(&dir).map_err(|err| format!("{}: {err}", dir.display()))?;
        for entry in entries {
            let entry = entry.map_err(|err| format!("{}: {err}", dir.display()))?;
            let path = entry.path();
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if path.is_dir() {
                if !name.starts_with('.') && !SKIPPED_DIRS.contains(&name.as_ref()) {
                    pending.push(path);
                }
            } else if name.ends_with(".rs") {
                files.push((relative(root, &path), read_path(&path)?));
            }
        }
    }
    files.sort();
    Ok(files)
}

// --- The dependency list --------------------------------------------------------------------

/// The workspace's crates and, for each, the workspace crates it depends on (normal and build
/// dependencies; dev-dependencies are the tests' business), by short name (`roster-store` is
/// `store`).
type Graph = BTreeMap<String, BTreeSet<String>>;

fn workspace_dependencies(root: &Path) -> Result<Graph, String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let output = Command::new(cargo)
        .current_dir(root)
        .args([
            "metadata",
            "--no-deps",
            "--format-version",
            "1",
            "--offline",
        ])
        .output()
        .map_err(|err| format!("cannot run cargo metadata: {err}"))?;
    if !output.status.success() {
        return Err(format!(
            "cargo metadata failed: {}",
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    metadata_graph(&String::from_utf8_lossy(&output.stdout))
}

fn metadata_graph(json: &str) -> Result<Graph, String> {
    let metadata: serde_json::Value =
        serde_json::from_str(json).map_err(|err| format!("cargo metadata: {err}"))?;
    let packages = metadata["packages"]
        .as_array()
        .ok_or("cargo metadata printed no packages")?;
    let members: BTreeSet<&str> = packages
        .iter()
        .filter_map(|package| package["name"].as_str())
        .collect();
    let mut graph = Graph::new();
    for package in packages {
        let Some(name) = package["name"].as_str() else {
            continue;
        };
        let dependencies = package["dependencies"].as_array().into_iter().flatten();
        let edges = graph.entry(short_name(name)).or_default();
        for dependency in dependencies {
            let Some(target) = dependency["name"].as_str() else {
                continue;
            };
            if members.contains(target) && dependency["kind"].as_str() != Some("dev") {
                edges.insert(short_name(target));
            }
        }
    }
    Ok(graph)
}

fn short_name(package: &str) -> String {
    package
        .strip_prefix("roster-")
        .unwrap_or(package)
        .to_owned()
}

/// How docs/architecture.md's dependency list differs from `graph`.
fn dependency_problems(graph: &Graph, architecture: &str) -> Vec<String> {
    let block = architecture
        .split_once(DEPENDENCIES_START)
        .and_then(|(_, rest)| rest.split_once(DEPENDENCIES_END))
        .map(|(block, _)| block);
    let Some(block) = block else {
        return vec![format!(
            "{ARCHITECTURE_DOC} has no dependency list between `{DEPENDENCIES_START}` and \
             `{DEPENDENCIES_END}`"
        )];
    };
    let (stated, named) = match stated_dependencies(block) {
        Ok(found) => found,
        Err(cannot) => return vec![format!("{ARCHITECTURE_DOC}'s dependency list: {cannot}")],
    };
    let actual: BTreeSet<(String, String)> = graph
        .iter()
        .flat_map(|(from, targets)| targets.iter().map(|to| (from.clone(), to.clone())))
        .collect();
    let mut problems = Vec::new();
    for (from, to) in actual.difference(&stated) {
        problems.push(format!(
            "{ARCHITECTURE_DOC}'s dependency list misses `{from} -> {to}`, which cargo metadata \
             shows: add it, or remove the dependency"
        ));
    }
    for (from, to) in stated.difference(&actual) {
        problems.push(format!(
            "{ARCHITECTURE_DOC}'s dependency list says `{from} -> {to}`, but cargo metadata shows \
             no such dependency: remove it from the list"
        ));
    }
    for crate_name in graph.keys().filter(|name| !named.contains(*name)) {
        problems.push(format!(
            "{ARCHITECTURE_DOC}'s dependency list does not name the crate `{crate_name}`"
        ));
    }
    for name in named.iter().filter(|name| !graph.contains_key(*name)) {
        problems.push(format!(
            "{ARCHITECTURE_DOC}'s dependency list names `{name}`, which is not a crate of the \
             workspace"
        ));
    }
    problems
}

type Edges = BTreeSet<(String, String)>;

/// The edges and crate names a dependency list states. Each code span is a chain of groups,
/// `a -> {b, c} -> d`, each group depending on the next; a code span without `->` names a crate.
fn stated_dependencies(block: &str) -> Result<(Edges, BTreeSet<String>), String> {
    let mut edges = BTreeSet::new();
    let mut named = BTreeSet::new();
    for span in code_spans(block) {
        let groups: Vec<Vec<String>> = span.split("->").map(group).collect::<Result<_, _>>()?;
        for group in &groups {
            named.extend(group.iter().cloned());
        }
        for pair in groups.windows(2) {
            for from in &pair[0] {
                for to in &pair[1] {
                    edges.insert((from.clone(), to.clone()));
                }
            }
        }
    }
    Ok((edges, named))
}

/// `name` or `{a, b}` as crate names.
fn group(text: &str) -> Result<Vec<String>, String> {
    let text = text.trim();
    let inner = match text.strip_prefix('{') {
        Some(rest) => rest
            .strip_suffix('}')
            .ok_or_else(|| format!("`{text}` opens a group it does not close"))?,
        None => text,
    };
    let names: Vec<String> = inner
        .split(',')
        .map(|name| name.trim().to_owned())
        .collect();
    match names.iter().find(|name| {
        name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
    }) {
        Some(bad) => Err(format!("`{text}` holds `{bad}`, which is not a crate name")),
        None => Ok(names),
    }
}

// --- Reading --------------------------------------------------------------------------------

fn read(root: &Path, relative: &str) -> Result<String, String> {
    read_path(&root.join(relative))
}

fn read_path(path: &Path) -> Result<String, String> {
    std::fs::read_to_string(path).map_err(|err| format!("cannot read {}: {err}", path.display()))
}

fn relative(root: &Path, path: &Path) -> String {
    path.strip_prefix(root)
        .unwrap_or(path)
        .display()
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The repository as it is: this is the check `cargo xtask test` runs.
    #[test]
    fn tidy() {
        let problems = problems(&repo_root());
        assert!(
            problems.is_empty(),
            "\n{} tidy problem(s):\n  {}\n",
            problems.len(),
            problems.join("\n  ")
        );
    }

    const SETTINGS_SOURCE: &str = "
pub struct Settings {
    #[serde(default)]
    pub server: ServerSettings,
    pub scim: ScimLimits,
}

pub struct ServerSettings {
    /// Address.
    pub bind: String,
    pub workers: Option<usize>,
}

pub struct ScimLimits {
    pub token_cache_secs: u64,
}
";

    #[test]
    fn configuration_keys_are_read_section_by_section() {
        let keys: Vec<String> = settings_keys(SETTINGS_SOURCE)
            .unwrap()
            .into_iter()
            .collect();
        assert_eq!(
            keys,
            ["scim.token_cache_secs", "server.bind", "server.workers"]
        );
    }

    #[test]
    fn an_undocumented_and_a_stale_configuration_key_are_named() {
        let documented = "
| key | default | meaning |
| --- | --- | --- |
| `server.bind` | `127.0.0.1:8080` | address |
| `server.workers` | CPUs | threads |
| `scim.max_page_size` | `1000` | gone |
";
        let problems = configuration_problems(SETTINGS_SOURCE, documented);
        assert_eq!(problems.len(), 2, "{problems:#?}");
        assert!(
            problems[0].contains("does not document the configuration key `scim.token_cache_secs`")
        );
        assert!(problems[1].contains("documents `scim.max_page_size`, which"));
    }

    #[test]
    fn a_serde_rename_is_refused_rather_than_misread() {
        let renamed = SETTINGS_SOURCE.replace(
            "    pub bind: String,",
            "    #[serde(rename = \"listen\")]\n    pub bind: String,",
        );
        let problems = configuration_problems(&renamed, "");
        assert!(problems[0].contains("rename"), "{problems:#?}");
    }

    const EVENTS_SOURCE: &str = r#"
pub(crate) fn user_event(conn: &mut DbConnection, actor: &Actor, event_type: &'static str, user: &User) -> StoreResult<()> {
    record_event(conn, NewEvent { event_type, actor })
}

fn deactivate() {
    user_event(conn, actor, "user.deactivated", &user)?;
    let action = match next {
        Lifecycle::Active => "user.reactivated",
        Lifecycle::Deprovisioned => "user.deprovisioned",
    };
    super::events::user_event(
        conn,
        actor,
        action,
        &changed,
    )?;
    record_event(conn, NewEvent { workspace_id, event_type: "webhook.disabled", actor });
}

#[cfg(test)]
mod tests {
    fn made_up() { user_event(conn, actor, "test.only", &user); }
}
"#;

    const CATALOGUE: &str = "
## Catalogue

| type | resource | when |
| --- | --- | --- |
| `user.deactivated` | user | |
| `user.reactivated` | user | |
| `user.deprovisioned` | user | |
| `webhook.disabled` | webhook | |

## Webhooks

| `not.a.type` | a later table |
";

    fn sources(text: &str) -> Vec<(String, String)> {
        vec![(
            "crates/store/src/models/user.rs".to_owned(),
            text.to_owned(),
        )]
    }

    #[test]
    fn event_types_come_from_literals_fields_and_let_bindings() {
        let (emitted, problems) = emitted_event_types(&sources(EVENTS_SOURCE));
        assert!(problems.is_empty(), "{problems:#?}");
        let types: Vec<&String> = emitted.keys().collect();
        assert_eq!(
            types,
            [
                "user.deactivated",
                "user.deprovisioned",
                "user.reactivated",
                "webhook.disabled"
            ]
        );
        assert_eq!(
            emitted["user.deactivated"],
            "crates/store/src/models/user.rs:7"
        );
        assert!(event_problems(&sources(EVENTS_SOURCE), CATALOGUE).is_empty());
    }

    #[test]
    fn an_undocumented_and_a_stale_event_type_are_named() {
        let source = EVENTS_SOURCE.replace("\"webhook.disabled\"", "\"webhook.paused\"");
        let problems = event_problems(&sources(&source), CATALOGUE);
        assert_eq!(problems.len(), 2, "{problems:#?}");
        assert!(problems[0].contains("does not list the event type `webhook.paused` (emitted at crates/store/src/models/user.rs:18)"));
        assert!(
            problems[1].contains("lists the event type `webhook.disabled`, which no code emits")
        );
    }

    #[test]
    fn an_event_type_tidy_cannot_read_is_a_problem() {
        let source = EVENTS_SOURCE.replace("\"user.deactivated\"", "kind.as_str()");
        let (_, problems) = emitted_event_types(&sources(&source));
        assert_eq!(problems.len(), 1, "{problems:#?}");
        assert!(problems[0].contains("cannot tell which event type `kind.as_str()` is"));
    }

    #[test]
    fn a_file_without_a_module_doc_is_named() {
        assert_eq!(module_doc_problem("a.rs", "//! Why.\nfn f() {}\n"), None);
        assert_eq!(
            module_doc_problem("lib.rs", "#![doc = include_str!(\"../README.md\")]\n"),
            None
        );
        for text in [
            "",
            "use std::io;\n",
            "#![allow(clippy::unwrap_used)]\n//! Late.\n",
        ] {
            let problem = module_doc_problem("crates/x/tests/y.rs", text).unwrap();
            assert!(
                problem.starts_with("crates/x/tests/y.rs does not open with"),
                "{problem}"
            );
        }
    }

    fn graph(edges: &[(&str, &[&str])]) -> Graph {
        edges
            .iter()
            .map(|(from, to)| {
                (
                    (*from).to_owned(),
                    to.iter().map(|name| (*name).to_owned()).collect(),
                )
            })
            .collect()
    }

    #[test]
    fn cargo_metadata_gives_the_workspace_edges_without_dev_dependencies() {
        let json = r#"{"packages": [
            {"name": "roster-server", "dependencies": [
                {"name": "roster-store", "kind": null}, {"name": "serde", "kind": null},
                {"name": "roster-webhooks", "kind": "dev"}]},
            {"name": "roster-store", "dependencies": []},
            {"name": "roster-webhooks", "dependencies": [{"name": "roster-store", "kind": "build"}]}
        ]}"#;
        assert_eq!(
            metadata_graph(json).unwrap(),
            graph(&[
                ("server", &["store"]),
                ("store", &[]),
                ("webhooks", &["store"])
            ])
        );
    }

    #[test]
    fn the_dependency_list_must_match_the_graph_edge_for_edge() {
        let doc = "
<!-- tidy:dependencies -->
- `server -> {scim, store} -> domain`
- `scim -> store`
- `domain` depends on no crate.
<!-- /tidy:dependencies -->
";
        let actual = graph(&[
            ("server", &["scim", "store"]),
            ("scim", &["store", "domain"]),
            ("store", &["domain"]),
            ("domain", &[]),
        ]);
        assert!(
            dependency_problems(&actual, doc).is_empty(),
            "{:#?}",
            dependency_problems(&actual, doc)
        );

        let drifted = graph(&[
            ("server", &["scim", "store", "webhooks"]),
            ("scim", &["domain"]),
            ("store", &["domain"]),
            ("domain", &[]),
            ("webhooks", &[]),
        ]);
        let problems = dependency_problems(&drifted, doc);
        assert_eq!(
            problems,
            [
                "docs/architecture.md's dependency list misses `server -> webhooks`, which cargo \
                 metadata shows: add it, or remove the dependency",
                "docs/architecture.md's dependency list says `scim -> store`, but cargo metadata \
                 shows no such dependency: remove it from the list",
                "docs/architecture.md's dependency list does not name the crate `webhooks`",
            ]
        );
        assert!(dependency_problems(&actual, "no list")[0].contains("has no dependency list"));
    }
}
