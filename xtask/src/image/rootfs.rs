//! The runtime stage's root filesystem without a container daemon: `debootstrap --variant=minbase`
//! of the stage's Debian release (what `debian:<release>-slim` is built from), then each `RUN` of
//! the stage replayed in it with `chroot`, bind-mounted files copied to their targets first.
//!
//! Cached under `target/image-check/<release>-<key>/`, where the key covers the release, the
//! mirror, every `RUN` (command, environment, user, working directory) and the content of every
//! file it mounts, so a changed package list or `RUN` builds a fresh root and anything else reuses
//! the last one without touching the network. A root is used only once its `ready` stamp is
//! written; older roots are deleted.

use std::fmt::Write as _;
use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use super::dockerfile::{Run, RuntimeStage, DEFAULT_PATH};
use crate::say;

/// Bump when the way a root is made changes, so cached roots are rebuilt.
const FORMAT: &str = "roster-image-check-1";
/// Where Debian lives unless `ROSTER_IMAGE_CHECK_MIRROR` says otherwise.
pub(crate) const DEFAULT_MIRROR: &str = "http://deb.debian.org/debian";
/// The variable that names another Debian mirror.
pub(crate) const MIRROR_VARIABLE: &str = "ROSTER_IMAGE_CHECK_MIRROR";
/// The variable that skips the whole image check, explicitly.
pub(crate) const SKIP_VARIABLE: &str = "ROSTER_SKIP_IMAGE_CHECK";

/// A prepared root: the stage's filesystem and what the base system held before its `RUN`s.
pub(crate) struct Root {
    pub(crate) dir: PathBuf,
    /// Every package debootstrap installed (the `-slim` base image's packages).
    pub(crate) base_packages: Vec<String>,
}

/// The cached root of `stage`, made if needed.
pub(crate) fn prepare(stage: &RuntimeStage, repo: &Path, cache: &Path) -> Result<Root, String> {
    let mirror = std::env::var(MIRROR_VARIABLE).unwrap_or_else(|_| DEFAULT_MIRROR.to_owned());
    let key = cache_key(stage, repo, &mirror)?;
    let home = cache.join(format!("{}-{key:016x}", stage.release));
    let dir = home.join("rootfs");
    let base_list = home.join("base-packages.txt");
    let ready = home.join("ready");
    if ready.is_file() {
        say(&format!(
            "image check: reusing the {} root in {} (same release, RUNs and package lists)",
            stage.release,
            home.display()
        ));
        return Ok(Root {
            dir,
            base_packages: read_lines(&base_list)?,
        });
    }
    probe_mirror(&mirror, &stage.release)?;
    remove_other_roots(cache, &home)?;
    if home.exists() {
        remove_root(&home)?;
    }
    std::fs::create_dir_all(&home).map_err(|err| format!("{}: {err}", home.display()))?;
    say(&format!(
        "image check: debootstrap --variant=minbase {} from {mirror} (the {} base; about a minute, once)",
        stage.release, stage.image
    ));
    let log = home.join("debootstrap.log");
    let status = Command::new("debootstrap")
        .args(["--variant=minbase", &stage.release])
        .arg(&dir)
        .arg(&mirror)
        .stdin(Stdio::null())
        .stdout(log_file(&log)?)
        .stderr(log_file(&log)?)
        .status()
        .map_err(|err| format!("cannot run debootstrap: {err}"))?;
    if !status.success() {
        return Err(format!(
            "debootstrap of {} from {mirror} failed ({status}); its log ({}) ends with:\n{}\n{}",
            stage.release,
            log.display(),
            tail(&log, 15),
            network_hint(&mirror)
        ));
    }
    let base = super::capture(&mut in_root(
        &dir,
        None,
        "/",
        &[],
        &["dpkg-query", "-W", "-f=${Package}\\n"],
    ))?;
    std::fs::write(&base_list, &base).map_err(|err| format!("{}: {err}", base_list.display()))?;

    let run_log = home.join("run.log");
    for run in &stage.runs {
        say(&format!(
            "image check: replaying the RUN of deploy/Dockerfile line {} in the root",
            run.line
        ));
        replay(run, repo, &dir, &run_log)?;
    }
    std::fs::write(&ready, FORMAT).map_err(|err| format!("{}: {err}", ready.display()))?;
    Ok(Root {
        dir,
        base_packages: base.lines().map(str::to_owned).collect(),
    })
}

/// A command run inside `root` the way a container runs it: as `user` (numeric `uid[:gid]`,
/// root when `None`), in `workdir`, with exactly `env` (plus Docker's default `PATH` unless `env`
/// sets one).
pub(crate) fn in_root(
    root: &Path,
    user: Option<&str>,
    workdir: &str,
    env: &[(String, String)],
    argv: &[&str],
) -> Command {
    let mut command = Command::new("chroot");
    if let Some(user) = user {
        command.arg(format!("--userspec={user}"));
    }
    command
        .arg(root)
        .args(["/usr/bin/env", "-i", "-C", workdir])
        .env_clear()
        .env("PATH", DEFAULT_PATH)
        .stdin(Stdio::null());
    if !env.iter().any(|(key, _)| key == "PATH") {
        command.arg(format!("PATH={DEFAULT_PATH}"));
    }
    let home = if user.is_some() { "/" } else { "/root" };
    command.arg(format!("HOME={home}"));
    for (key, value) in env {
        command.arg(format!("{key}={value}"));
    }
    command.args(argv);
    command
}

/// Runs one `RUN` in the root, with its bind-mounted files in place for its duration.
fn replay(run: &Run, repo: &Path, root: &Path, log: &Path) -> Result<(), String> {
    let mut placed = Vec::new();
    for (source, target) in &run.mounts {
        let from = repo.join(source);
        let to = inside(root, target);
        if let Some(parent) = to.parent() {
            std::fs::create_dir_all(parent)
                .map_err(|err| format!("{}: {err}", parent.display()))?;
        }
        std::fs::copy(&from, &to).map_err(|err| {
            format!(
                "RUN --mount source {source} (Dockerfile line {}): {err}",
                run.line
            )
        })?;
        placed.push(to);
    }
    let argv: Vec<&str> = run.argv.iter().map(String::as_str).collect();
    let status = in_root(root, run.user.as_deref(), &run.workdir, &run.env, &argv)
        .stdout(log_file(log)?)
        .stderr(log_file(log)?)
        .status()
        .map_err(|err| format!("cannot run chroot: {err}"));
    for path in placed {
        let _ = std::fs::remove_file(path);
    }
    let status = status?;
    if status.success() {
        return Ok(());
    }
    let mirror = std::env::var(MIRROR_VARIABLE).unwrap_or_else(|_| DEFAULT_MIRROR.to_owned());
    Err(format!(
        "the RUN of deploy/Dockerfile line {} failed in the {} root ({status}); the log ({}) ends \
         with:\n{}\n(when it could not download packages: {})",
        run.line,
        root.display(),
        log.display(),
        tail(log, 20),
        network_hint(&mirror)
    ))
}

/// `path` (absolute inside the root) on the host.
pub(crate) fn inside(root: &Path, path: &str) -> PathBuf {
    root.join(path.trim_start_matches('/'))
}

/// The cache key: FNV-1a (stable across Rust versions, unlike `DefaultHasher`) over everything
/// that decides the root's content.
fn cache_key(stage: &RuntimeStage, repo: &Path, mirror: &str) -> Result<u64, String> {
    let mut text = format!("{FORMAT}\n{}\n{}\n{mirror}\n", stage.image, stage.release);
    for run in &stage.runs {
        let _ = writeln!(
            text,
            "RUN {:?} {:?} {:?} {:?}",
            run.argv, run.env, run.workdir, run.user
        );
        for (source, target) in &run.mounts {
            let content = std::fs::read_to_string(repo.join(source)).map_err(|err| {
                format!("{source} (mounted by Dockerfile line {}): {err}", run.line)
            })?;
            let _ = writeln!(text, "MOUNT {source} {target}\n{content}");
        }
    }
    Ok(fnv1a(text.as_bytes()))
}

fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(*byte)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// Deletes cached roots other than `keep` (a changed list or RUN leaves the old one behind).
fn remove_other_roots(cache: &Path, keep: &Path) -> Result<(), String> {
    let Ok(entries) = std::fs::read_dir(cache) else {
        return Ok(());
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path != keep && path.join("rootfs").is_dir() {
            say(&format!(
                "image check: removing the outdated root {}",
                path.display()
            ));
            remove_root(&path)?;
        }
    }
    Ok(())
}

/// Deletes a cached root. debootstrap mounts /proc and /sys inside the root while it configures
/// packages; an interrupted run can leave them mounted, and deleting through a mount would reach
/// the host's. So anything still mounted below `dir` is unmounted first, and a root that stays
/// mounted is left alone with an error.
fn remove_root(dir: &Path) -> Result<(), String> {
    let mounts = std::fs::read_to_string("/proc/self/mounts").unwrap_or_default();
    let below = mounts_below(&mounts, dir);
    for mount_point in below.iter().rev() {
        say(&format!(
            "image check: unmounting {mount_point} left by an interrupted debootstrap"
        ));
        let _ = Command::new("umount")
            .arg("--lazy")
            .arg(mount_point)
            .status();
    }
    let mounts = std::fs::read_to_string("/proc/self/mounts").unwrap_or_default();
    if !mounts_below(&mounts, dir).is_empty() {
        return Err(format!(
            "{} still has file systems mounted below it; unmount them, then delete it",
            dir.display()
        ));
    }
    std::fs::remove_dir_all(dir).map_err(|err| format!("{}: {err}", dir.display()))
}

/// The mount points of a `/proc/self/mounts` text at or below `dir`, in mount order.
fn mounts_below(mounts: &str, dir: &Path) -> Vec<String> {
    let prefix = dir.to_string_lossy();
    let prefix = prefix.trim_end_matches('/');
    mounts
        .lines()
        .filter_map(|line| line.split_whitespace().nth(1))
        // /proc/self/mounts escapes spaces and the like as octal (`\040`).
        .map(|point| point.replace("\\040", " "))
        .filter(|point| point == prefix || point.starts_with(&format!("{prefix}/")))
        .collect()
}

/// Fails fast, and clearly, when the mirror cannot be reached: asks an `http://` mirror for the
/// release's `Release` file (other schemes are left to debootstrap).
fn probe_mirror(mirror: &str, release: &str) -> Result<(), String> {
    let Some(rest) = mirror.strip_prefix("http://") else {
        return Ok(());
    };
    let (host_port, base) = rest.split_once('/').unwrap_or((rest, ""));
    let (host, port) = match host_port.rsplit_once(':') {
        Some((host, port)) => (host, port.parse::<u16>().unwrap_or(80)),
        None => (host_port, 80),
    };
    let path = format!("/{}/dists/{release}/Release", base.trim_matches('/')).replace("//", "/");
    let unreachable = |why: String| {
        format!(
            "the Debian mirror {mirror} is unreachable: {why}\n{}",
            network_hint(mirror)
        )
    };
    let addr = (host, port)
        .to_socket_addrs()
        .map_err(|err| unreachable(format!("cannot resolve {host}: {err}")))?
        .next()
        .ok_or_else(|| unreachable(format!("{host} has no address")))?;
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(10))
        .map_err(|err| unreachable(format!("cannot connect to {addr}: {err}")))?;
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    write!(
        stream,
        "HEAD {path} HTTP/1.1\r\nHost: {host_port}\r\nConnection: close\r\n\r\n"
    )
    .map_err(|err| unreachable(err.to_string()))?;
    let mut head = String::new();
    let _ = stream.take(4096).read_to_string(&mut head);
    let status = head.split_whitespace().nth(1).unwrap_or_default();
    if status.starts_with('2') || status.starts_with('3') {
        Ok(())
    } else {
        Err(unreachable(format!(
            "HEAD {path} answered {:?}",
            head.lines().next().unwrap_or("nothing")
        )))
    }
}

fn network_hint(mirror: &str) -> String {
    format!(
        "The image check debootstraps the runtime stage's Debian release from {mirror} once (then \
         caches it under target/image-check/). Fix the network, or set {MIRROR_VARIABLE} to a \
         reachable mirror, or skip the check explicitly with {SKIP_VARIABLE}=1."
    )
}

fn log_file(path: &Path) -> Result<std::fs::File, String> {
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|err| format!("{}: {err}", path.display()))
}

fn read_lines(path: &Path) -> Result<Vec<String>, String> {
    Ok(std::fs::read_to_string(path)
        .map_err(|err| format!("{}: {err}", path.display()))?
        .lines()
        .map(str::to_owned)
        .collect())
}

/// The last `lines` lines of a log file.
pub(crate) fn tail(path: &Path, lines: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..]
        .iter()
        .map(|line| format!("    {line}"))
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cache_key_is_stable_and_follows_the_mounted_lists() {
        assert_eq!(fnv1a(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a(b"a"), 0xaf63_dc4c_8601_ec8c);
        let dir = std::env::temp_dir().join(format!("xtask-image-key-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("deploy")).unwrap();
        std::fs::write(dir.join("deploy/list.txt"), "libpq5\n").unwrap();
        let stage = super::super::dockerfile::runtime_stage(
            "FROM debian:bookworm-slim\nRUN --mount=type=bind,source=deploy/list.txt,target=/l \
             xargs apt-get install < /l\nCOPY --from=b /r /r\nCMD [\"serve\"]\n",
        )
        .unwrap();
        let first = cache_key(&stage, &dir, DEFAULT_MIRROR).unwrap();
        assert_eq!(first, cache_key(&stage, &dir, DEFAULT_MIRROR).unwrap());
        assert_ne!(
            first,
            cache_key(&stage, &dir, "http://mirror.test/debian").unwrap()
        );
        std::fs::write(dir.join("deploy/list.txt"), "libpq5\nlibxml2\n").unwrap();
        assert_ne!(first, cache_key(&stage, &dir, DEFAULT_MIRROR).unwrap());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn finds_the_mounts_left_below_a_root() {
        let mounts = "proc /proc proc rw 0 0\n\
                      proc /t/image-check/b-1/rootfs/proc proc rw 0 0\n\
                      sysfs /t/image-check/b-1/rootfs/sys sysfs rw 0 0\n\
                      proc /t/image-check/b-10/rootfs/proc proc rw 0 0\n";
        assert_eq!(
            mounts_below(mounts, Path::new("/t/image-check/b-1")),
            [
                "/t/image-check/b-1/rootfs/proc",
                "/t/image-check/b-1/rootfs/sys"
            ]
        );
        assert!(mounts_below(mounts, Path::new("/t/other")).is_empty());
    }

    #[test]
    fn commands_run_as_the_container_would() {
        let env = [("ROSTER__LOG__FORMAT".to_owned(), "json".to_owned())];
        let command = in_root(
            Path::new("/r"),
            Some("10001:10001"),
            "/var/lib/roster",
            &env,
            &["/usr/local/bin/roster", "serve"],
        );
        let args: Vec<_> = command.get_args().map(|a| a.to_string_lossy()).collect();
        assert_eq!(
            args,
            [
                "--userspec=10001:10001",
                "/r",
                "/usr/bin/env",
                "-i",
                "-C",
                "/var/lib/roster",
                &format!("PATH={DEFAULT_PATH}"),
                "HOME=/",
                "ROSTER__LOG__FORMAT=json",
                "/usr/local/bin/roster",
                "serve",
            ]
        );
    }
}
