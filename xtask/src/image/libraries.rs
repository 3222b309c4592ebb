//! Which shared libraries the binary loads in the runtime stage's root, and where they come from.
//!
//! `ldd` inside the root lists every library the loader would map (the binary's own needs and
//! theirs); each must resolve, and be a file some installed package owns (`dpkg-query -S`). The
//! libraries the binary links *directly* (`DT_NEEDED`, read with `readelf -d`) must moreover come
//! from the base system or from a package the stage names explicitly (its package lists, or what
//! it marked manually installed): a library that is only there because another package happens to
//! depend on it today disappears the day that dependency changes.

use std::collections::{BTreeMap, BTreeSet};

/// One line of `ldd`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Loaded {
    /// The soname (`libxml2.so.2`).
    pub(crate) name: String,
    /// Where the loader found it, `None` when it did not.
    pub(crate) path: Option<String>,
}

/// What is wrong with one library.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Finding {
    /// The loader cannot find it: the binary does not start.
    NotFound { name: String },
    /// Found, but no installed package owns the file.
    Unowned { name: String, path: String },
    /// Linked directly, but its package is neither in the base system nor named by the stage.
    Indirect { name: String, package: String },
}

impl std::fmt::Display for Finding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Finding::NotFound { name } => write!(
                f,
                "{name}: not found in the runtime root; add the package that provides it to \
                 deploy/packages/runtime.txt"
            ),
            Finding::Unowned { name, path } => {
                write!(f, "{name}: {path} belongs to no installed package")
            }
            Finding::Indirect { name, package } => write!(
                f,
                "{name}: the binary links it directly, but its package {package} is only \
                 installed as a dependency of another; name {package} in deploy/packages/runtime.txt"
            ),
        }
    }
}

/// Parses `ldd` output (the vDSO, which has no file, is left out).
pub(crate) fn parse_ldd(output: &str) -> Vec<Loaded> {
    output
        .lines()
        .filter_map(|line| {
            let line = line.trim();
            if line.is_empty() || line.starts_with("linux-vdso") || line.starts_with("linux-gate") {
                return None;
            }
            let (name, path) = match line.split_once(" => ") {
                Some((name, rest)) if rest.trim_start().starts_with("not found") => {
                    (name.trim(), None)
                }
                Some((name, rest)) => (name.trim(), rest.split_whitespace().next()),
                // The loader itself: `/lib64/ld-linux-x86-64.so.2 (0x...)`.
                None => {
                    let path = line.split_whitespace().next()?;
                    (path.rsplit('/').next().unwrap_or(path), Some(path))
                }
            };
            Some(Loaded {
                name: name.to_owned(),
                path: path.map(str::to_owned),
            })
        })
        .collect()
}

/// The `DT_NEEDED` sonames of `readelf -d` output.
pub(crate) fn parse_needed(readelf: &str) -> Vec<String> {
    readelf
        .lines()
        .filter(|line| line.contains("(NEEDED)"))
        .filter_map(|line| {
            let start = line.find('[')? + 1;
            let end = line[start..].find(']')? + start;
            Some(line[start..end].to_owned())
        })
        .collect()
}

/// Parses `path<TAB>package` lines (an empty package: owned by none).
pub(crate) fn parse_owners(output: &str) -> BTreeMap<String, String> {
    output
        .lines()
        .filter_map(|line| line.split_once('\t'))
        .map(|(path, package)| (path.to_owned(), package.trim().to_owned()))
        .collect()
}

/// Everything wrong with the libraries, in `ldd`'s order.
pub(crate) fn judge(
    loaded: &[Loaded],
    needed: &[String],
    owners: &BTreeMap<String, String>,
    base: &BTreeSet<String>,
    named: &BTreeSet<String>,
) -> Vec<Finding> {
    let mut findings = Vec::new();
    for library in loaded {
        let Some(path) = &library.path else {
            findings.push(Finding::NotFound {
                name: library.name.clone(),
            });
            continue;
        };
        let package = owners.get(path).map(String::as_str).unwrap_or_default();
        if package.is_empty() {
            findings.push(Finding::Unowned {
                name: library.name.clone(),
                path: path.clone(),
            });
        } else if needed.contains(&library.name)
            && !base.contains(package)
            && !named.contains(package)
        {
            findings.push(Finding::Indirect {
                name: library.name.clone(),
                package: package.to_owned(),
            });
        }
    }
    for name in needed {
        if !loaded.iter().any(|library| &library.name == name) {
            findings.push(Finding::NotFound { name: name.clone() });
        }
    }
    findings
}

#[cfg(test)]
mod tests {
    use super::*;

    const LDD: &str = "\tlinux-vdso.so.1 (0x00007ffd)\n\
        \tlibxmlsec1.so.1 => not found\n\
        \tlibssl.so.3 => /lib/x86_64-linux-gnu/libssl.so.3 (0x00007f15)\n\
        \tlibpq.so.5 => /lib/x86_64-linux-gnu/libpq.so.5 (0x00007f16)\n\
        \tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x00007f17)\n\
        \t/lib64/ld-linux-x86-64.so.2 (0x00007f18)\n\
        \tlibicuuc.so.72 => /lib/x86_64-linux-gnu/libicuuc.so.72 (0x00007f19)\n";

    #[test]
    fn reads_ldd_readelf_and_owner_lines() {
        let loaded = parse_ldd(LDD);
        assert_eq!(loaded.len(), 6);
        assert_eq!(
            loaded[0],
            Loaded {
                name: "libxmlsec1.so.1".to_owned(),
                path: None
            }
        );
        assert_eq!(loaded[4].name, "ld-linux-x86-64.so.2");
        assert_eq!(
            loaded[4].path.as_deref(),
            Some("/lib64/ld-linux-x86-64.so.2")
        );
        let readelf = " 0x0000000000000001 (NEEDED)             Shared library: [libssl.so.3]\n \
                       0x000000000000000c (INIT)               0x4d000\n \
                       0x0000000000000001 (NEEDED)             Shared library: [libc.so.6]\n";
        assert_eq!(parse_needed(readelf), ["libssl.so.3", "libc.so.6"]);
        let owners = parse_owners("/lib/a.so\tlibssl3\n/lib/b.so\t\n");
        assert_eq!(owners["/lib/a.so"], "libssl3");
        assert_eq!(owners["/lib/b.so"], "");
    }

    #[test]
    fn each_library_is_found_owned_and_direct_ones_are_named() {
        let set = |names: &[&str]| names.iter().map(|n| (*n).to_owned()).collect();
        let base: BTreeSet<String> = set(&["libc6"]);
        let owners: BTreeMap<String, String> = [
            ("/lib/x86_64-linux-gnu/libssl.so.3", "libssl3"),
            ("/lib/x86_64-linux-gnu/libpq.so.5", "libpq5"),
            ("/lib/x86_64-linux-gnu/libc.so.6", "libc6"),
            ("/lib64/ld-linux-x86-64.so.2", "libc6"),
            ("/lib/x86_64-linux-gnu/libicuuc.so.72", "libicu72"),
        ]
        .into_iter()
        .map(|(path, package)| (path.to_owned(), package.to_owned()))
        .collect();
        let needed: Vec<String> = ["libxmlsec1.so.1", "libssl.so.3", "libpq.so.5", "libc.so.6"]
            .map(str::to_owned)
            .to_vec();
        let loaded = parse_ldd(LDD);

        // The image: xmlsec missing, OpenSSL only there through libpq5.
        assert_eq!(
            judge(&loaded, &needed, &owners, &base, &set(&["libpq5"])),
            [
                Finding::NotFound {
                    name: "libxmlsec1.so.1".to_owned()
                },
                Finding::Indirect {
                    name: "libssl.so.3".to_owned(),
                    package: "libssl3".to_owned()
                },
            ]
        );
        // Every library found and every direct one named: nothing to say. libicu72 comes in
        // through libxml2, which is fine: the binary does not link it.
        let found: Vec<Loaded> = loaded
            .iter()
            .cloned()
            .map(|mut library| {
                library
                    .path
                    .get_or_insert_with(|| "/lib/xmlsec.so".to_owned());
                library
            })
            .collect();
        let mut owners_with_xmlsec = owners.clone();
        owners_with_xmlsec.insert("/lib/xmlsec.so".to_owned(), "libxmlsec1".to_owned());
        assert_eq!(
            judge(
                &found,
                &needed,
                &owners_with_xmlsec,
                &base,
                &set(&["libpq5", "libssl3", "libxmlsec1"])
            ),
            []
        );
        // A stray file that no package owns.
        assert_eq!(
            judge(
                &found,
                &needed,
                &owners,
                &base,
                &set(&["libpq5", "libssl3", "libxmlsec1"])
            ),
            [Finding::Unowned {
                name: "libxmlsec1.so.1".to_owned(),
                path: "/lib/xmlsec.so".to_owned()
            }]
        );
        // A direct need ldd does not even list.
        let mut more = needed.clone();
        more.push("libgone.so.1".to_owned());
        assert!(judge(
            &found,
            &more,
            &owners_with_xmlsec,
            &base,
            &set(&["libpq5", "libssl3", "libxmlsec1"])
        )
        .contains(&Finding::NotFound {
            name: "libgone.so.1".to_owned()
        }));
    }
}
