//! System packages the build and the tests need, installed with apt-get when missing.
//!
//! As root (CI, containers, fresh machines) missing packages are installed; otherwise the exact
//! command is printed and the step fails, so nothing happens behind the operator's back. The
//! build's packages are listed once, in `deploy/packages/build.txt`, which the Dockerfile's
//! builder stage installs too.

use std::process::Command;

use crate::{run_checked, say};

/// Debian packages: a list in the format of `deploy/packages/*.txt` (names separated by
/// whitespace, `#` to the end of a line a comment; the Dockerfile reads it with `sed | xargs`),
/// or names.
#[derive(Debug, Clone, Copy)]
pub enum Packages {
    List(&'static str),
    Names(&'static [&'static str]),
}

impl Packages {
    pub fn names(self) -> Vec<&'static str> {
        match self {
            Packages::List(list) => package_names(list),
            Packages::Names(names) => names.to_vec(),
        }
    }
}

impl From<&'static [&'static str]> for Packages {
    fn from(names: &'static [&'static str]) -> Self {
        Packages::Names(names)
    }
}

/// The names of a package list in the `deploy/packages/*.txt` format.
pub fn package_names(list: &str) -> Vec<&str> {
    list.lines()
        .flat_map(|line| {
            line.split('#')
                .next()
                .unwrap_or_default()
                .split_whitespace()
        })
        .collect()
}

/// What building Roster needs, listed once for this and the Dockerfile's builder stage:
/// `pkg-config`, the PostgreSQL client library for diesel's `pq-sys`, OpenSSL, and for samael's
/// XML signatures libxmlsec1 and libxml2 with libclang for its bindgen build script. SQLite is
/// compiled in (bundled).
pub const BUILD: Packages = Packages::List(include_str!("../../../deploy/packages/build.txt"));

/// What `cargo xtask test` needs on top: a PostgreSQL server to start a throwaway cluster.
pub const TEST: Packages = Packages::Names(&["postgresql"]);

/// What the image check (`image.rs`) needs: debootstrap with Debian's archive keys (present on
/// Debian, not on Ubuntu) to build the runtime stage's root, and readelf (binutils) to read which
/// libraries the binary links directly.
pub const IMAGE_CHECK: Packages =
    Packages::Names(&["debootstrap", "debian-archive-keyring", "binutils"]);

fn is_installed(package: &str) -> bool {
    Command::new("dpkg-query")
        .args(["-W", "-f=${Status}", package])
        .output()
        .map(|out| String::from_utf8_lossy(&out.stdout).contains("install ok installed"))
        .unwrap_or(false)
}

pub fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|out| String::from_utf8_lossy(&out.stdout).trim() == "0")
        .unwrap_or(false)
}

/// Makes sure every package of `packages` is installed.
pub fn ensure(packages: impl Into<Packages>) -> Result<(), String> {
    let packages: Packages = packages.into();
    if Command::new("dpkg-query")
        .arg("--version")
        .output()
        .is_err()
    {
        say("not a Debian-like system (no dpkg-query): skipping the system package check");
        return Ok(());
    }
    let missing: Vec<&str> = packages
        .names()
        .into_iter()
        .filter(|p| !is_installed(p))
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    let install = format!(
        "apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends {}",
        missing.join(" ")
    );
    if !is_root() {
        return Err(format!(
            "missing system packages: {}. Install them with:\n  sudo sh -c '{install}'",
            missing.join(" ")
        ));
    }
    say(&format!(
        "installing missing system packages: {}",
        missing.join(" ")
    ));
    run_checked(Command::new("sh").args(["-c", &install]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn package_lists_read_like_the_dockerfile_reads_them() {
        let list =
            "# heading\npkg-config   # why\n\n  libpq-dev libssl-dev\n#gone\nlibxml2#tight\n";
        assert_eq!(
            package_names(list),
            ["pkg-config", "libpq-dev", "libssl-dev", "libxml2"]
        );
        assert!(BUILD.names().contains(&"libxmlsec1-dev"));
    }
}
