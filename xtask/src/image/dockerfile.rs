//! Reads the runtime stage (the last `FROM`) of `deploy/Dockerfile` into what the image check
//! replays: the Debian release to debootstrap, each `RUN` with the shell, environment, working
//! directory, user and bind mounts it would have, where the binary is copied, and the container's
//! configuration (`ENV`, `WORKDIR`, `USER`, `HEALTHCHECK`, `ENTRYPOINT`, `CMD`).
//!
//! Only what the stage uses is understood. Anything else (`ADD`, `ARG`, a `COPY` from the build
//! context, cache or secret mounts, a `RUN` after the binary is copied in) is refused by name,
//! so the check never replays a stage other than the one written.

/// One instruction with its continuation lines joined.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Instruction {
    /// 1-based line of the keyword.
    pub(crate) line: usize,
    /// Upper case.
    pub(crate) keyword: String,
    pub(crate) args: String,
}

/// A `--mount=type=bind` flag: (source in the build context, target in the stage).
pub(crate) type Mount = (String, String);

/// A `RUN` as the builder would run it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Run {
    pub(crate) line: usize,
    pub(crate) argv: Vec<String>,
    pub(crate) mounts: Vec<Mount>,
    pub(crate) env: Vec<(String, String)>,
    pub(crate) workdir: String,
    /// `uid[:gid]`, `None` for root.
    pub(crate) user: Option<String>,
}

/// The runtime stage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RuntimeStage {
    pub(crate) image: String,
    /// The Debian release of `debian:<release>[-slim]`.
    pub(crate) release: String,
    pub(crate) runs: Vec<Run>,
    /// Where `COPY --from=<stage>` puts the binary.
    pub(crate) binary: String,
    /// The container's environment (every `ENV`, in order).
    pub(crate) env: Vec<(String, String)>,
    pub(crate) workdir: String,
    pub(crate) user: Option<String>,
    pub(crate) healthcheck: Option<Vec<String>>,
    pub(crate) entrypoint: Vec<String>,
    pub(crate) cmd: Vec<String>,
}

impl RuntimeStage {
    /// The packages lists (`deploy/packages/*.txt`) the stage's `RUN`s bind-mount.
    pub(crate) fn package_lists(&self) -> Vec<&str> {
        self.runs
            .iter()
            .flat_map(|run| &run.mounts)
            .map(|(source, _)| source.as_str())
            .filter(|source| source.starts_with("deploy/packages/"))
            .collect()
    }
}

const DEFAULT_SHELL: &[&str] = &["/bin/sh", "-c"];
/// Docker's `PATH` when the image sets none.
pub(crate) const DEFAULT_PATH: &str =
    "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Splits a Dockerfile into instructions: comments and blank lines dropped, continuation lines
/// (a trailing `\`) joined the way the builder joins them, comments between them skipped.
pub(crate) fn instructions(text: &str) -> Vec<Instruction> {
    let mut found = Vec::new();
    let mut current: Option<Instruction> = None;
    for (index, raw) in text.lines().enumerate() {
        let trimmed = raw.trim();
        if current.is_none() && (trimmed.is_empty() || trimmed.starts_with('#')) {
            continue;
        }
        if current.is_some() && (trimmed.is_empty() || trimmed.starts_with('#')) {
            continue;
        }
        let (body, continues) = match raw.trim_end().strip_suffix('\\') {
            Some(body) => (body, true),
            None => (raw.trim_end(), false),
        };
        match current.as_mut() {
            Some(instruction) => instruction.args.push_str(body),
            None => {
                let body = body.trim_start();
                let (keyword, args) = body.split_once(char::is_whitespace).unwrap_or((body, ""));
                current = Some(Instruction {
                    line: index + 1,
                    keyword: keyword.to_ascii_uppercase(),
                    args: args.trim_start().to_owned(),
                });
            }
        }
        if !continues {
            found.extend(current.take());
        }
    }
    found.extend(current);
    for instruction in &mut found {
        instruction.args = instruction.args.trim().to_owned();
    }
    found
}

/// Reads the last stage of `text`.
pub(crate) fn runtime_stage(text: &str) -> Result<RuntimeStage, String> {
    let all = instructions(text);
    let start = all
        .iter()
        .rposition(|i| i.keyword == "FROM")
        .ok_or("the Dockerfile has no FROM")?;
    let from = &all[start];
    let image = from
        .args
        .split_whitespace()
        .find(|word| !word.starts_with("--"))
        .unwrap_or_default()
        .to_owned();
    let release = debian_release(&image).ok_or_else(|| {
        format!(
            "line {}: the runtime stage starts from {image:?}; the image check debootstraps \
             debian:<release>[-slim] images only",
            from.line
        )
    })?;

    let mut stage = RuntimeStage {
        image,
        release,
        runs: Vec::new(),
        binary: String::new(),
        env: Vec::new(),
        workdir: "/".to_owned(),
        user: None,
        healthcheck: None,
        entrypoint: Vec::new(),
        cmd: Vec::new(),
    };
    let mut shell: Vec<String> = DEFAULT_SHELL.iter().map(|s| (*s).to_owned()).collect();
    for instruction in &all[start + 1..] {
        let line = instruction.line;
        let args = instruction.args.as_str();
        let at = |message: String| format!("deploy/Dockerfile line {line}: {message}");
        match instruction.keyword.as_str() {
            "RUN" => {
                if !stage.binary.is_empty() {
                    return Err(at(
                        "a RUN after the binary is copied in is not replayed by \
                                   the image check; install packages before the COPY"
                            .to_owned(),
                    ));
                }
                let (mounts, command) = run_flags(args).map_err(at)?;
                let argv = command_argv(command, &shell).map_err(at)?;
                stage.runs.push(Run {
                    line,
                    argv,
                    mounts,
                    env: stage.env.clone(),
                    workdir: stage.workdir.clone(),
                    user: stage.user.clone(),
                });
            }
            "SHELL" => shell = json_array(args).ok_or_else(|| at(format!("SHELL {args}")))?,
            "ENV" => {
                for (key, value) in env_pairs(args).map_err(at)? {
                    stage.env.retain(|(existing, _)| *existing != key);
                    stage.env.push((key, value));
                }
            }
            "WORKDIR" => {
                if !args.starts_with('/') {
                    return Err(at(format!("WORKDIR {args} is not absolute")));
                }
                stage.workdir = args.to_owned();
            }
            "USER" => {
                let numeric = args
                    .split(':')
                    .all(|part| !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit()));
                if !numeric {
                    return Err(at(format!("USER {args} is not numeric (uid[:gid])")));
                }
                stage.user = Some(args.to_owned());
            }
            "COPY" => stage.binary = copied_binary(args).map_err(at)?,
            "HEALTHCHECK" => stage.healthcheck = healthcheck(args, &shell).map_err(at)?,
            "ENTRYPOINT" => stage.entrypoint = command_argv(args, &shell).map_err(at)?,
            "CMD" => stage.cmd = command_argv(args, &shell).map_err(at)?,
            // No effect on the root filesystem or on how the container runs here.
            "LABEL" | "EXPOSE" | "STOPSIGNAL" | "VOLUME" | "MAINTAINER" => {}
            other => {
                return Err(at(format!(
                    "{other} is not understood by the image check (xtask/src/image/dockerfile.rs)"
                )))
            }
        }
    }
    if stage.binary.is_empty() {
        return Err("the runtime stage does not COPY --from the builder".to_owned());
    }
    if stage.entrypoint.is_empty() && stage.cmd.is_empty() {
        return Err("the runtime stage has neither ENTRYPOINT nor CMD".to_owned());
    }
    Ok(stage)
}

/// `bookworm` of `debian:bookworm-slim` (also `docker.io/library/debian:bookworm`).
pub(crate) fn debian_release(image: &str) -> Option<String> {
    let image = image
        .strip_prefix("docker.io/library/")
        .unwrap_or(image)
        .split('@')
        .next()?;
    let tag = image.strip_prefix("debian:")?;
    let release = tag.strip_suffix("-slim").unwrap_or(tag);
    let valid = !release.is_empty() && release.bytes().all(|b| b.is_ascii_lowercase());
    valid.then(|| release.to_owned())
}

/// Splits `RUN` flags from its command; only bind mounts are understood.
fn run_flags(args: &str) -> Result<(Vec<Mount>, &str), String> {
    let mut mounts = Vec::new();
    let mut rest = args.trim_start();
    while let Some(flag_and_more) = rest.strip_prefix("--") {
        let end = flag_and_more
            .find(char::is_whitespace)
            .unwrap_or(flag_and_more.len());
        let flag = &flag_and_more[..end];
        rest = flag_and_more[end..].trim_start();
        let Some(options) = flag.strip_prefix("mount=") else {
            return Err(format!("RUN --{flag} is not understood by the image check"));
        };
        let mut kind = "bind";
        let (mut source, mut target) = (None, None);
        for option in options.split(',') {
            let (key, value) = option.split_once('=').unwrap_or((option, ""));
            match key {
                "type" => kind = value,
                "source" | "src" => source = Some(value.trim_start_matches("./").to_owned()),
                "target" | "dst" | "destination" => target = Some(value.to_owned()),
                "readonly" | "ro" | "rw" | "readwrite" => {}
                other => return Err(format!("RUN --mount option {other:?} is not understood")),
            }
        }
        match (kind, source, target) {
            ("bind", Some(source), Some(target)) => mounts.push((source, target)),
            (kind, _, _) => {
                return Err(format!(
                    "RUN --mount=type={kind} (or one without source and target) is not replayed"
                ))
            }
        }
    }
    Ok((mounts, rest))
}

/// A command in exec form (a JSON array) or shell form (run by `shell`).
fn command_argv(args: &str, shell: &[String]) -> Result<Vec<String>, String> {
    if args.trim_start().starts_with('[') {
        return json_array(args).ok_or_else(|| format!("not a JSON array: {args}"));
    }
    let mut argv = shell.to_vec();
    argv.push(args.to_owned());
    Ok(argv)
}

/// `HEALTHCHECK [--option=value]... CMD command` or `HEALTHCHECK NONE`.
fn healthcheck(args: &str, shell: &[String]) -> Result<Option<Vec<String>>, String> {
    let mut rest = args.trim_start();
    while rest.starts_with("--") {
        let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
        rest = rest[end..].trim_start();
    }
    if rest.eq_ignore_ascii_case("NONE") {
        return Ok(None);
    }
    let command = rest
        .strip_prefix("CMD")
        .ok_or_else(|| format!("HEALTHCHECK {args}: expected CMD or NONE"))?;
    command_argv(command.trim_start(), shell).map(Some)
}

/// The destination of `COPY --from=<stage> <source> <destination>`.
fn copied_binary(args: &str) -> Result<String, String> {
    let words: Vec<&str> = args.split_whitespace().collect();
    if !words.iter().any(|word| word.starts_with("--from=")) {
        return Err(format!(
            "COPY {args}: only the binary, COPY --from the builder, is replayed"
        ));
    }
    let paths: Vec<&str> = words
        .iter()
        .copied()
        .filter(|word| !word.starts_with("--"))
        .collect();
    match paths.as_slice() {
        [source, destination] if destination.ends_with('/') => Ok(format!(
            "{destination}{}",
            source.rsplit('/').next().unwrap_or(source)
        )),
        [_, destination] => Ok((*destination).to_owned()),
        _ => Err(format!(
            "COPY {args}: expected one source and a destination"
        )),
    }
}

/// `KEY=value KEY2="a value"`, or the legacy `KEY value`.
fn env_pairs(args: &str) -> Result<Vec<(String, String)>, String> {
    let first = args.split_whitespace().next().unwrap_or_default();
    if !first.contains('=') {
        let value = args[first.len()..].trim();
        return Ok(vec![(first.to_owned(), value.to_owned())]);
    }
    let mut pairs = Vec::new();
    let mut chars = args.chars().peekable();
    loop {
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        if chars.peek().is_none() {
            return Ok(pairs);
        }
        let key: String = std::iter::from_fn(|| chars.next_if(|c| *c != '=')).collect();
        if chars.next() != Some('=') || key.trim().is_empty() || key.contains(char::is_whitespace) {
            return Err(format!("ENV {args}: expected KEY=value pairs"));
        }
        let mut value = String::new();
        let mut quote = None;
        while let Some(c) = chars.next() {
            match (c, quote) {
                ('"' | '\'', None) => quote = Some(c),
                (c, Some(open)) if c == open => quote = None,
                ('\\', _) => value.extend(chars.next()),
                (c, None) if c.is_whitespace() => break,
                (c, _) => value.push(c),
            }
        }
        if value.contains('$') {
            return Err(format!(
                "ENV {key}: variable substitution is not replayed by the image check"
            ));
        }
        pairs.push((key, value));
    }
}

/// A JSON array of strings (`["a", "b"]`), as exec forms and `SHELL` use.
fn json_array(text: &str) -> Option<Vec<String>> {
    let inner = text.trim().strip_prefix('[')?.strip_suffix(']')?;
    let mut items = Vec::new();
    let mut chars = inner.chars().peekable();
    loop {
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        match chars.next() {
            None if items.is_empty() => return Some(items),
            Some('"') => {}
            _ => return None,
        }
        let mut item = String::new();
        loop {
            match chars.next()? {
                '"' => break,
                '\\' => match chars.next()? {
                    'n' => item.push('\n'),
                    't' => item.push('\t'),
                    c @ ('"' | '\\' | '/') => item.push(c),
                    _ => return None,
                },
                c => item.push(c),
            }
        }
        items.push(item);
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        match chars.next() {
            None => return Some(items),
            Some(',') => {}
            Some(_) => return None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOCKERFILE: &str = r#"# syntax=docker/dockerfile:1
FROM rust:1-bookworm AS builder
RUN apt-get update
COPY crates ./crates

# runtime
FROM debian:bookworm-slim
LABEL a="b" \
      c="d"
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
RUN --mount=type=bind,source=deploy/packages/runtime.txt,target=/tmp/runtime.txt \
    apt-get update \
    # a comment between continuation lines
    && sed -e 's/#.*//' /tmp/runtime.txt | xargs apt-get install -y \
    && install -d -o 10001 /var/lib/roster
COPY --from=builder /out/roster /usr/local/bin/roster
ENV ROSTER__SERVER__BIND=0.0.0.0:8080 \
    ROSTER__LOG__FORMAT=json
ENV QUOTED="a b"
WORKDIR /var/lib/roster
USER 10001:10001
EXPOSE 8080
HEALTHCHECK --interval=15s --timeout=10s \
    CMD ["/usr/local/bin/roster", "healthcheck"]
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/roster"]
CMD ["serve"]
"#;

    #[test]
    fn reads_the_runtime_stage_as_the_builder_would_run_it() {
        let stage = runtime_stage(DOCKERFILE).unwrap();
        assert_eq!(stage.image, "debian:bookworm-slim");
        assert_eq!(stage.release, "bookworm");
        assert_eq!(stage.runs.len(), 1);
        let run = &stage.runs[0];
        assert_eq!(run.line, 11);
        assert_eq!(
            run.mounts,
            [(
                "deploy/packages/runtime.txt".to_owned(),
                "/tmp/runtime.txt".to_owned()
            )]
        );
        assert_eq!(&run.argv[..3], ["/bin/bash", "-o", "pipefail"]);
        assert_eq!(run.argv[3], "-c");
        assert_eq!(
            run.argv[4],
            "apt-get update     && sed -e 's/#.*//' /tmp/runtime.txt | xargs apt-get install -y     \
             && install -d -o 10001 /var/lib/roster"
        );
        assert_eq!((run.workdir.as_str(), run.user.as_deref()), ("/", None));
        assert_eq!(stage.binary, "/usr/local/bin/roster");
        assert_eq!(
            stage.env,
            [
                ("ROSTER__SERVER__BIND".to_owned(), "0.0.0.0:8080".to_owned()),
                ("ROSTER__LOG__FORMAT".to_owned(), "json".to_owned()),
                ("QUOTED".to_owned(), "a b".to_owned()),
            ]
        );
        assert_eq!(stage.workdir, "/var/lib/roster");
        assert_eq!(stage.user.as_deref(), Some("10001:10001"));
        assert_eq!(
            stage.healthcheck.unwrap(),
            ["/usr/local/bin/roster", "healthcheck"]
        );
        assert_eq!(stage.entrypoint, ["/usr/local/bin/roster"]);
        assert_eq!(stage.cmd, ["serve"]);
        assert_eq!(
            runtime_stage(DOCKERFILE).unwrap().package_lists(),
            ["deploy/packages/runtime.txt"]
        );
    }

    #[test]
    fn refuses_what_it_would_not_replay_faithfully() {
        let base = "FROM debian:bookworm-slim\n";
        let tail = "COPY --from=b /out/roster /usr/local/bin/\nCMD [\"serve\"]\n";
        for (body, why) in [
            ("RUN --mount=type=cache,target=/x true\n", "type=cache"),
            ("RUN --network=none true\n", "--network=none"),
            ("COPY roster.toml /etc/\n", "only the binary"),
            ("ARG VERSION\n", "ARG is not understood"),
            ("USER roster\n", "not numeric"),
            ("ENV A=$B\n", "substitution"),
            ("WORKDIR data\n", "not absolute"),
        ] {
            let err = runtime_stage(&format!("{base}{body}{tail}")).unwrap_err();
            assert!(err.contains(why), "{body}: {err}");
        }
        let late_run = format!("{base}{tail}RUN true\n");
        assert!(runtime_stage(&late_run)
            .unwrap_err()
            .contains("after the binary"));
        for image in [
            "alpine:3.20",
            "ubuntu:24.04",
            "debian",
            "gcr.io/distroless/cc",
        ] {
            let err = runtime_stage(&format!("FROM {image}\n{tail}")).unwrap_err();
            assert!(err.contains("debian:<release>"), "{image}: {err}");
        }
        let copied = runtime_stage(&format!("{base}{tail}")).unwrap();
        assert_eq!(copied.binary, "/usr/local/bin/roster");
        assert_eq!(copied.healthcheck, None);
    }

    #[test]
    fn names_the_debian_release_of_an_image() {
        for (image, release) in [
            ("debian:bookworm-slim", Some("bookworm")),
            ("debian:trixie", Some("trixie")),
            ("docker.io/library/debian:bookworm-slim", Some("bookworm")),
            ("debian:12-slim", None),
            ("rust:1-bookworm", None),
            ("debian", None),
        ] {
            assert_eq!(debian_release(image).as_deref(), release, "{image}");
        }
    }

    #[test]
    fn parses_exec_forms_and_env_pairs() {
        assert_eq!(
            json_array(r#"["/bin/bash", "-o", "pipefail", "-c"]"#).unwrap(),
            ["/bin/bash", "-o", "pipefail", "-c"]
        );
        assert_eq!(
            json_array(r#"["a \"b\"", "c\\d"]"#).unwrap(),
            ["a \"b\"", "c\\d"]
        );
        assert_eq!(json_array("[]").unwrap(), Vec::<String>::new());
        assert_eq!(json_array(r#"["a" "b"]"#), None);
        assert_eq!(json_array("serve"), None);
        assert_eq!(
            env_pairs(r#"A=1 B="two words" C=x\ y"#).unwrap(),
            [
                ("A".to_owned(), "1".to_owned()),
                ("B".to_owned(), "two words".to_owned()),
                ("C".to_owned(), "x y".to_owned()),
            ]
        );
        assert_eq!(
            env_pairs("LEGACY some value").unwrap(),
            [("LEGACY".to_owned(), "some value".to_owned())]
        );
    }
}
