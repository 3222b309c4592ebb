//! The image check: does the container image of `deploy/Dockerfile` run? Without a container
//! daemon. `cargo xtask test` runs it after the deployment file checks; `cargo xtask image` runs
//! it alone.
//!
//! **Why.** The image once could not start at all: SSO had added libxml2 and xmlsec to the
//! binary's libraries, the runtime stage still installed libpq5 only, and every static check
//! passed. Only running the binary where the image's packages are, and nothing else, shows that.
//!
//! **How.** The runtime stage is read from the Dockerfile (`dockerfile.rs`); its Debian release is
//! debootstrapped and its `RUN`s replayed in a chroot, the package lists they bind-mount
//! included, and cached (`rootfs.rs`). The freshly built `roster` goes where the stage's
//! `COPY --from` puts it. Then, as the container would run it (its `ENV`, `WORKDIR`, `USER`, a
//! `roster.toml` in the working directory pointing at SQLite there):
//! 1. every library `ldd` lists resolves in the root and belongs to an installed package, and the
//!    ones the binary links directly come from the base system or a package the stage names
//!    (`libraries.rs`);
//! 2. the CLI creates a workspace and a SAML connection from an IdP metadata document;
//! 3. `ENTRYPOINT` + `CMD` (`roster serve`) becomes ready: the image's `HEALTHCHECK` command exits
//!    0 and `/readyz` answers 200;
//! 4. a SAML Response signed by that IdP (the bench's stand-in, `crates/sso/examples/
//!    sign_assertions.rs`) signs a user in, and one signed with another key is refused as
//!    `signature_invalid`: libxml2, xmlsec and its OpenSSL backend load *and* work;
//! 5. SIGTERM stops the server cleanly, after which the `HEALTHCHECK` command exits 1.
//!
//! Needs root (debootstrap, chroot) and, the first time per release and package list, the Debian
//! mirror. It fails with the reason otherwise; `ROSTER_SKIP_IMAGE_CHECK=1` skips it explicitly.

mod dockerfile;
mod libraries;
mod rootfs;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::{cargo_target_dir, repo_root, run_checked, say, system};
use dockerfile::RuntimeStage;
use rootfs::{in_root, inside, Root};
use roster_devtools::http::{round_trip, Request, Response};
use roster_devtools::json_field;

/// The workspace and email domain of the check's sign-in.
const WORKSPACE: &str = "image-check";
const DOMAIN: &str = "bench.example.com";
/// Where the check's own files go inside the root.
const SCRATCH: &str = "/tmp/roster-image-check";
/// How long `roster serve` may take to become ready in the root.
const READY_WITHIN: Duration = Duration::from_secs(60);

/// `cargo xtask image [--dockerfile PATH] [--binary PATH]`.
pub(crate) fn run(args: &[String]) -> Result<(), String> {
    let mut options = Options::default();
    let mut rest = args.iter();
    while let Some(arg) = rest.next() {
        let mut value = |name: &str| {
            rest.next()
                .map(PathBuf::from)
                .ok_or_else(|| format!("{name} needs a path"))
        };
        match arg.as_str() {
            "--dockerfile" => options.dockerfile = Some(value("--dockerfile")?),
            "--binary" => options.binary = Some(value("--binary")?),
            other => return Err(format!("unknown option {other:?} for `cargo xtask image`")),
        }
    }
    let (passed, failed) = check(&options)?;
    eprintln!("{passed} passed, {failed} failed");
    if failed > 0 {
        return Err("the image check failed".to_owned());
    }
    Ok(())
}

#[derive(Debug, Default)]
pub(crate) struct Options {
    /// Another Dockerfile than deploy/Dockerfile (its mounts still resolve in this repository).
    pub(crate) dockerfile: Option<PathBuf>,
    /// A prebuilt binary (a release build, say) instead of the debug build.
    pub(crate) binary: Option<PathBuf>,
}

/// Runs the check; returns (passed, failed) checks. Infrastructure failures (no root, no mirror,
/// a RUN that fails) are errors.
pub(crate) fn check(options: &Options) -> Result<(u64, u64), String> {
    if std::env::var(rootfs::SKIP_VARIABLE).is_ok_and(|v| v == "1") {
        say(&format!(
            "image check SKIPPED: {}=1 is set; the container image is not verified",
            rootfs::SKIP_VARIABLE
        ));
        return Ok((0, 0));
    }
    if !system::is_root() {
        return Err(format!(
            "the image check needs root (debootstrap and chroot); run as root, or skip it \
             explicitly with {}=1",
            rootfs::SKIP_VARIABLE
        ));
    }
    let started = Instant::now();
    system::ensure(system::IMAGE_CHECK)?;
    let repo = repo_root();
    let dockerfile = options
        .dockerfile
        .clone()
        .unwrap_or_else(|| repo.join("deploy").join("Dockerfile"));
    let text = std::fs::read_to_string(&dockerfile)
        .map_err(|err| format!("{}: {err}", dockerfile.display()))?;
    let stage = dockerfile::runtime_stage(&text)?;
    let (binary, signer) = build(options)?;

    let cache = cargo_target_dir().join("image-check");
    let root = rootfs::prepare(&stage, &repo, &cache)?;
    say(&format!(
        "image check: root ready after {:.0?}",
        started.elapsed()
    ));
    let mut checks = Checks::default();
    install_binary(&root, &stage, &binary)?;
    checks.record(
        "libraries: every one resolves in the root, direct ones from named packages",
        check_libraries(&root, &stage, &repo),
    );
    let work = cache.join("work");
    let _ = std::fs::remove_dir_all(&work);
    std::fs::create_dir_all(&work).map_err(|err| format!("{}: {err}", work.display()))?;
    run_container(&root, &stage, &signer, &work, &mut checks)?;
    say(&format!(
        "image check: {} passed, {} failed in {:.0?}",
        checks.passed,
        checks.failed,
        started.elapsed()
    ));
    Ok((checks.passed, checks.failed))
}

/// Builds (or finds) the binary and the stand-in IdP that signs the check's SAML Responses. The
/// whole workspace's binaries and examples, as `cargo test --workspace` builds them (same
/// features, so after the tests this is a no-op).
fn build(options: &Options) -> Result<(PathBuf, PathBuf), String> {
    say("image check: building roster and the stand-in SAML IdP (debug; nothing to do after the tests)");
    run_checked(Command::new("cargo").current_dir(repo_root()).args([
        "build",
        "--workspace",
        "--locked",
        "--quiet",
        "--bins",
        "--examples",
    ]))?;
    let debug = cargo_target_dir().join("debug");
    let binary = options
        .binary
        .clone()
        .unwrap_or_else(|| debug.join("roster"));
    Ok((binary, debug.join("examples").join("sign_assertions")))
}

/// Puts the binary where the stage's `COPY --from` does, and empties the working directory (the
/// image ships it empty; the last run left a database there).
fn install_binary(root: &Root, stage: &RuntimeStage, binary: &Path) -> Result<(), String> {
    let target = inside(&root.dir, &stage.binary);
    let _ = std::fs::remove_file(&target);
    if let Some(parent) = target.parent() {
        std::fs::create_dir_all(parent).map_err(|err| format!("{}: {err}", parent.display()))?;
    }
    // A hard link when target/ holds both (no 200 MB copy), else a copy.
    if std::fs::hard_link(binary, &target).is_err() {
        std::fs::copy(binary, &target).map_err(|err| {
            format!(
                "copying {} to {}: {err}",
                binary.display(),
                target.display()
            )
        })?;
    }
    let workdir = inside(&root.dir, &stage.workdir);
    if let Ok(entries) = std::fs::read_dir(&workdir) {
        for entry in entries.flatten() {
            let path = entry.path();
            let removed = if path.is_dir() {
                std::fs::remove_dir_all(&path)
            } else {
                std::fs::remove_file(&path)
            };
            removed.map_err(|err| format!("{}: {err}", path.display()))?;
        }
    }
    let scratch = inside(&root.dir, SCRATCH);
    let _ = std::fs::remove_dir_all(&scratch);
    std::fs::create_dir_all(&scratch).map_err(|err| format!("{}: {err}", scratch.display()))
}

/// Check 1: `ldd` in the root, `readelf -d` of the binary, `dpkg-query -S` for the owners.
fn check_libraries(root: &Root, stage: &RuntimeStage, repo: &Path) -> Result<(), String> {
    let ldd_output = Command::new("chroot")
        .arg(&root.dir)
        .args(["ldd", &stage.binary])
        .env_clear()
        .env("PATH", dockerfile::DEFAULT_PATH)
        .output()
        .map_err(|err| format!("cannot run ldd in the root: {err}"))?;
    // ldd exits 1 when a library is missing, and says which on stdout.
    let loaded = libraries::parse_ldd(&String::from_utf8_lossy(&ldd_output.stdout));
    if loaded.is_empty() {
        return Err(format!(
            "ldd in the root listed nothing: {}",
            String::from_utf8_lossy(&ldd_output.stderr).trim()
        ));
    }
    let needed = libraries::parse_needed(&capture(
        Command::new("readelf")
            .args(["-d", "--wide"])
            .arg(inside(&root.dir, &stage.binary)),
    )?);
    let paths: Vec<&str> = loaded.iter().filter_map(|l| l.path.as_deref()).collect();
    // dpkg knows a file by the path its package ships it at: with /usr merged, /lib/x/libc.so.6
    // (libc6) or /usr/lib/x/libssl.so.3 (libssl3), so the path as ldd printed it is tried, then
    // resolved, then with only its directory resolved.
    let mut owners_argv = vec![
        "sh",
        "-c",
        "for f; do p=''; \
           for c in \"$f\" \"$(realpath \"$f\")\" \"$(realpath \"$(dirname \"$f\")\")/$(basename \"$f\")\"; do \
             p=$(dpkg-query -S \"$c\" 2>/dev/null | head -n 1 | cut -d: -f1); [ -n \"$p\" ] && break; \
           done; printf '%s\\t%s\\n' \"$f\" \"$p\"; done",
        "sh",
    ];
    owners_argv.extend(paths);
    let owners = libraries::parse_owners(&capture(&mut in_root(
        &root.dir,
        None,
        "/",
        &[],
        &owners_argv,
    ))?);

    let base: BTreeSet<String> = root.base_packages.iter().cloned().collect();
    let installed: BTreeSet<String> = capture(&mut in_root(
        &root.dir,
        None,
        "/",
        &[],
        &["dpkg-query", "-W", "-f=${Package} ${db:Status-Status}\\n"],
    ))?
    .lines()
    .filter_map(|line| line.strip_suffix(" installed"))
    .map(str::to_owned)
    .collect();
    let manual: BTreeSet<String> = capture(&mut in_root(
        &root.dir,
        None,
        "/",
        &[],
        &["apt-mark", "showmanual"],
    ))?
    .lines()
    .map(str::to_owned)
    .collect();
    let mut named: BTreeSet<String> = manual.difference(&base).cloned().collect();
    let mut problems = Vec::new();
    for list in stage.package_lists() {
        let text =
            std::fs::read_to_string(repo.join(list)).map_err(|err| format!("{list}: {err}"))?;
        for name in system::package_names(&text) {
            if !installed.contains(name) {
                problems.push(format!(
                    "{name}: named in {list} but not installed by the runtime stage"
                ));
            }
            named.insert(name.to_owned());
        }
    }
    problems.extend(
        libraries::judge(&loaded, &needed, &owners, &base, &named)
            .iter()
            .map(ToString::to_string),
    );
    let direct_beyond_base: Vec<String> = loaded
        .iter()
        .filter(|library| needed.contains(&library.name))
        .filter_map(|library| {
            let package = owners.get(library.path.as_deref()?)?;
            (!base.contains(package)).then(|| format!("{} ({package})", library.name))
        })
        .collect();
    say(&format!(
        "image check: {} libraries load, {} linked directly; those beyond the base system: {}",
        loaded.len(),
        needed.len(),
        direct_beyond_base.join(", ")
    ));
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("\n"))
    }
}

/// Checks 2–5: the container's commands, as `docker run` would run them, in the root.
fn run_container(
    root: &Root,
    stage: &RuntimeStage,
    signer: &Path,
    work: &Path,
    checks: &mut Checks,
) -> Result<(), String> {
    let addr = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|addr| addr.to_string())
        .map_err(|err| format!("no free port: {err}"))?;
    // The image's environment, then what `docker run -e` adds: the bind address (its
    // 0.0.0.0:8080 would collide with whatever else this host runs; the chroot shares its
    // network). The rest comes from a roster.toml in the working directory, as the image's
    // documentation suggests for mounted configuration.
    let mut env = stage.env.clone();
    env.retain(|(key, _)| key != "ROSTER__SERVER__BIND");
    env.push(("ROSTER__SERVER__BIND".to_owned(), addr.clone()));
    let config = format!(
        "# Written by the image check (xtask/src/image.rs).\n[server]\npublic_url = \
         \"http://{addr}\"\n\n[database]\nurl = \"sqlite://{}/roster.db\"\n",
        stage.workdir.trim_end_matches('/')
    );
    let config_path = inside(&root.dir, &stage.workdir).join("roster.toml");
    std::fs::write(&config_path, config)
        .map_err(|err| format!("{}: {err}", config_path.display()))?;
    let container = Container {
        root: &root.dir,
        stage,
        env: &env,
    };

    // 2. The CLI in the image: a workspace, and a SAML connection from IdP metadata.
    let idp = work.join("idp");
    run_checked(Command::new(signer).arg("metadata").arg(&idp))?;
    let metadata = format!("{SCRATCH}/idp-metadata.xml");
    std::fs::copy(idp.join("metadata.xml"), inside(&root.dir, &metadata))
        .map_err(|err| format!("copying the IdP metadata into the root: {err}"))?;
    // The data key first, made by the image's own CLI as an operator makes it: the SAML
    // connection's keys are sealed with it.
    let created = container
        .cli(&["data-key", "generate"])
        .and_then(|key| {
            let mut config = std::fs::OpenOptions::new()
                .append(true)
                .open(&config_path)
                .map_err(|err| format!("{}: {err}", config_path.display()))?;
            std::io::Write::write_all(
                &mut config,
                format!("\n[security]\ndata_key = \"{key}\"\n").as_bytes(),
            )
            .map_err(|err| format!("{}: {err}", config_path.display()))
        })
        .and_then(|_| container.cli(&["migrate"]))
        .and_then(|_| container.cli(&["workspace", "create", WORKSPACE, "--domain", DOMAIN]))
        .and_then(|_| {
            container.cli(&[
                "connection",
                "create",
                "--workspace",
                WORKSPACE,
                "--name",
                "stand-in",
                "--kind",
                "saml",
                "--allow-idp-initiated",
                "--idp-metadata-file",
                &metadata,
            ])
        })
        .and_then(|connection| {
            let api_key = container.cli(&["api-key", "create", "--workspace", WORKSPACE])?;
            Ok((connection, api_key))
        });
    let created = checks.record_value(
        "CLI: a data key, a workspace, a SAML connection from IdP metadata, an API key",
        created,
    );

    // 3. ENTRYPOINT + CMD, until the HEALTHCHECK command and /readyz say it is ready.
    let log = work.join("serve.log");
    let mut server = container.start(&log)?;
    let ready = container.wait_ready(&mut server, &addr, &log);
    let ready = ready.and_then(|()| {
        let response = http(&addr, Request::get("/readyz".to_owned()))?;
        let body = String::from_utf8_lossy(&response.body);
        if response.status == 200 && body.contains("\"database\":\"ok\"") {
            Ok(())
        } else {
            Err(format!("/readyz answered {}: {body}", response.status))
        }
    });
    let is_ready = ready.is_ok();
    checks.record(
        "serve: the HEALTHCHECK command exits 0 and /readyz answers 200",
        ready,
    );

    // 4. SAML sign-in through xmlsec in the root: a good signature in, a forged one out.
    if let (Some((connection, api_key)), true) = (created, is_ready) {
        checks.record(
            "SAML: a signed Response signs in, a forged signature is refused (xmlsec works)",
            saml_sign_in(&addr, signer, work, &connection, &api_key),
        );
    } else {
        checks.record(
            "SAML: a signed Response signs in, a forged signature is refused (xmlsec works)",
            Err("not tried: the CLI or the server failed above".to_owned()),
        );
    }

    // 5. SIGTERM: a clean stop, then the HEALTHCHECK command reports it.
    checks.record(
        "stop: exit 0 on SIGTERM, then the HEALTHCHECK command exits 1",
        server
            .stop()
            .and_then(|()| container.healthcheck_fails(&log)),
    );
    Ok(())
}

/// Posts a Response the stand-in IdP signed, then one signed by another key; reads the login log.
fn saml_sign_in(
    addr: &str,
    signer: &Path,
    work: &Path,
    connection: &str,
    api_key: &str,
) -> Result<(), String> {
    let acs_url =
        json_field(connection, "acs_url").ok_or_else(|| format!("no acs_url in {connection}"))?;
    let audience = json_field(connection, "sp_entity_id")
        .ok_or_else(|| format!("no sp_entity_id in {connection}"))?;
    let path = acs_url
        .strip_prefix(&format!("http://{addr}"))
        .ok_or_else(|| format!("{acs_url} is not on {addr}"))?
        .to_owned();
    let signed = |idp: &Path| -> Result<String, String> {
        run_checked(
            Command::new(signer)
                .arg("responses")
                .arg(idp)
                .args([&acs_url, &audience, "1", "1"]),
        )?;
        let text = std::fs::read_to_string(idp.join("responses.txt"))
            .map_err(|err| format!("the stand-in IdP's response: {err}"))?;
        Ok(text.trim().to_owned())
    };

    let genuine = http(
        addr,
        Request::form(path.clone(), signed(&work.join("idp"))?),
    )?;
    if !matches!(genuine.status, 302 | 303) {
        return Err(format!(
            "the IdP's signed Response was refused ({}): {}",
            genuine.status,
            String::from_utf8_lossy(&genuine.body)
        ));
    }
    let forger = work.join("forger");
    run_checked(Command::new(signer).arg("metadata").arg(&forger))?;
    let forged = http(addr, Request::form(path, signed(&forger)?))?;
    if forged.status != 400 {
        return Err(format!(
            "a Response signed with another key answered {}",
            forged.status
        ));
    }
    let events = http(
        addr,
        Request::get("/api/v1/admin/login-events".to_owned())
            .with_authorization(format!("Bearer {api_key}")),
    )?;
    let body = String::from_utf8_lossy(&events.body).into_owned();
    // Newest first: the forged Response's refusal, then the sign-in.
    let refused = body.find("\"reason\":\"signature_invalid\"");
    let signed_in = body.find("\"outcome\":\"success\"");
    if events.status == 200 && matches!((refused, signed_in), (Some(r), Some(s)) if r < s) {
        Ok(())
    } else {
        Err(format!(
            "the login log does not show a sign-in then a signature_invalid refusal ({}): {body}",
            events.status
        ))
    }
}

/// The container: the root, the stage's configuration and the run's environment.
struct Container<'a> {
    root: &'a Path,
    stage: &'a RuntimeStage,
    env: &'a [(String, String)],
}

impl Container<'_> {
    /// `docker run IMAGE ARGS...`: the ENTRYPOINT with `args` instead of CMD.
    fn command(&self, args: &[&str]) -> Command {
        let mut argv: Vec<&str> = self.stage.entrypoint.iter().map(String::as_str).collect();
        argv.extend_from_slice(args);
        in_root(
            self.root,
            self.stage.user.as_deref(),
            &self.stage.workdir,
            self.env,
            &argv,
        )
    }

    fn cli(&self, args: &[&str]) -> Result<String, String> {
        let output = self
            .command(args)
            .output()
            .map_err(|err| format!("cannot run chroot: {err}"))?;
        if output.status.success() {
            return Ok(String::from_utf8_lossy(&output.stdout).trim().to_owned());
        }
        Err(format!(
            "`roster {}` in the root failed ({}): {}",
            args.join(" "),
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        ))
    }

    /// `docker run IMAGE`: ENTRYPOINT + CMD, its output in `log`.
    fn start(&self, log: &Path) -> Result<Serving, String> {
        let cmd: Vec<&str> = self.stage.cmd.iter().map(String::as_str).collect();
        let file = std::fs::File::create(log).map_err(|err| format!("{}: {err}", log.display()))?;
        let stderr = file
            .try_clone()
            .map_err(|err| format!("{}: {err}", log.display()))?;
        let child = self
            .command(&cmd)
            .stdout(file)
            .stderr(stderr)
            .spawn()
            .map_err(|err| format!("cannot start the container's command: {err}"))?;
        Ok(Serving { child: Some(child) })
    }

    /// The image's HEALTHCHECK command, as Docker runs it (in the container, its environment).
    fn healthcheck(&self) -> Result<std::process::Output, String> {
        let argv: Vec<&str> = self
            .stage
            .healthcheck
            .as_ref()
            .ok_or("the runtime stage has no HEALTHCHECK")?
            .iter()
            .map(String::as_str)
            .collect();
        in_root(
            self.root,
            self.stage.user.as_deref(),
            &self.stage.workdir,
            self.env,
            &argv,
        )
        .output()
        .map_err(|err| format!("cannot run the HEALTHCHECK command: {err}"))
    }

    /// Polls the HEALTHCHECK command (`/readyz`, when the stage has none) until it succeeds.
    fn wait_ready(&self, server: &mut Serving, addr: &str, log: &Path) -> Result<(), String> {
        let deadline = Instant::now() + READY_WITHIN;
        loop {
            if let Some(status) = server.exited() {
                return Err(format!(
                    "roster serve exited ({status}) in the root; its output ends with:\n{}",
                    rootfs::tail(log, 15)
                ));
            }
            let said = match self.stage.healthcheck {
                Some(_) => {
                    let output = self.healthcheck()?;
                    if output.status.success() {
                        return Ok(());
                    }
                    String::from_utf8_lossy(&output.stderr).trim().to_owned()
                }
                None => match http(addr, Request::get("/readyz".to_owned())) {
                    Ok(response) if response.status == 200 => {
                        return Err(
                            "serve is ready, but the runtime stage has no HEALTHCHECK".to_owned()
                        )
                    }
                    Ok(response) => format!("/readyz answered {}", response.status),
                    Err(err) => err,
                },
            };
            if Instant::now() > deadline {
                return Err(format!("not ready within {READY_WITHIN:?}: {said}"));
            }
            std::thread::sleep(Duration::from_millis(250));
        }
    }

    fn healthcheck_fails(&self, log: &Path) -> Result<(), String> {
        let output = self.healthcheck()?;
        let said = String::from_utf8_lossy(&output.stderr).trim().to_owned();
        match output.status.code() {
            Some(1) if said.contains("not ready") => {
                say(&format!(
                    "image check: after the stop, the HEALTHCHECK command said: {said}"
                ));
                Ok(())
            }
            _ => Err(format!(
                "the HEALTHCHECK command exited {} after the stop: {said} (serve's log: {})",
                output.status,
                log.display()
            )),
        }
    }
}

/// The running `roster serve`, killed if the check ends before stopping it.
struct Serving {
    child: Option<Child>,
}

impl Serving {
    fn exited(&mut self) -> Option<std::process::ExitStatus> {
        self.child.as_mut()?.try_wait().ok().flatten()
    }

    /// SIGTERM, then waits for a clean exit (Roster drains for up to 30 s).
    fn stop(&mut self) -> Result<(), String> {
        let mut child = self.child.take().ok_or("the server was stopped already")?;
        if let Some(status) = child.try_wait().map_err(|err| err.to_string())? {
            return Err(format!("roster serve had exited already ({status})"));
        }
        run_checked(Command::new("kill").args(["-TERM", &child.id().to_string()]))?;
        let deadline = Instant::now() + Duration::from_secs(40);
        loop {
            if let Some(status) = child.try_wait().map_err(|err| err.to_string())? {
                return if status.success() {
                    Ok(())
                } else {
                    Err(format!("roster serve exited with {status} on SIGTERM"))
                };
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                return Err("roster serve did not stop within 40 s of SIGTERM".to_owned());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Serving {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// The results, one line each as they come.
#[derive(Debug, Default)]
struct Checks {
    passed: u64,
    failed: u64,
}

impl Checks {
    fn record(&mut self, name: &str, result: Result<(), String>) {
        self.record_value(name, result);
    }

    fn record_value<T>(&mut self, name: &str, result: Result<T, String>) -> Option<T> {
        match result {
            Ok(value) => {
                self.passed += 1;
                say(&format!("image check: ok   {name}"));
                Some(value)
            }
            Err(reason) => {
                self.failed += 1;
                say(&format!("image check: FAIL {name}"));
                for line in reason.lines() {
                    say(&format!("image check:      {line}"));
                }
                None
            }
        }
    }
}

/// One request on a fresh connection (`Connection: close` is not needed: the response is read
/// by its length).
fn http(addr: &str, request: Request) -> Result<Response, String> {
    let mut stream =
        std::net::TcpStream::connect(addr).map_err(|err| format!("connect {addr}: {err}"))?;
    let _ = stream.set_read_timeout(Some(Duration::from_secs(30)));
    round_trip(&mut stream, &request.encode(addr, ""))
        .map(|parsed| parsed.response)
        .map_err(|err| format!("{addr}: {err}"))
}

/// Runs a command and returns its trimmed stdout, failing with its stderr.
fn capture(command: &mut Command) -> Result<String, String> {
    let output = command
        .stdin(Stdio::null())
        .output()
        .map_err(|err| format!("cannot run {command:?}: {err}"))?;
    if output.status.success() {
        Ok(String::from_utf8_lossy(&output.stdout).trim().to_owned())
    } else {
        Err(format!(
            "{command:?} failed ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        ))
    }
}
