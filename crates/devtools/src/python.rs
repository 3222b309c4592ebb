//! Python virtual environments for the checks written in Python (scim2-tester, the deployment
//! validators): created under `target/`, installed from pinned requirement files, and reused until
//! the requirement file changes.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::{run_checked, say};

/// A venv named `name` under `target/` with `requirements` installed; returns its python.
pub fn venv(root: &Path, name: &str, requirements: &Path) -> Result<PathBuf, String> {
    if Command::new("python3").arg("--version").output().is_err() {
        return Err("python3 is needed for this check".to_owned());
    }
    let venv = root.join("target").join(name);
    let python = venv.join("bin").join("python");
    let stamp = venv.join("requirements.installed");
    let wanted = std::fs::read_to_string(requirements)
        .map_err(|err| format!("{}: {err}", requirements.display()))?;
    if std::fs::read_to_string(&stamp).ok().as_deref() == Some(wanted.as_str()) && python.exists() {
        return Ok(python);
    }
    say(&format!(
        "installing {} into target/{name} (pip, pinned versions)",
        requirements.display()
    ));
    run_checked(Command::new("python3").args(["-m", "venv"]).arg(&venv))?;
    run_checked(
        Command::new(&python)
            .args([
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                "-r",
            ])
            .arg(requirements),
    )?;
    std::fs::write(&stamp, wanted).map_err(|err| format!("{}: {err}", stamp.display()))?;
    Ok(python)
}
