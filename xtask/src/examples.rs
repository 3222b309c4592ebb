//! The example products of `examples/` (a Node product on openid-client, a Python product on
//! Authlib), which `cargo xtask test` runs end to end through Roster
//! (`crates/server/tests/example_products`): their packages come from the npm registry and PyPI,
//! pinned by `examples/node/package-lock.json` and `examples/python/requirements.txt`.

use std::path::PathBuf;

use crate::node::{self, npm_ci};
use crate::{python, repo_root};

/// The environment variable that tells the end-to-end test which Python has the Python
/// product's packages.
pub(crate) const PYTHON_ENV: &str = "ROSTER_EXAMPLES_PYTHON";

/// Installs what the example products need when it is missing or stale: `npm ci` in
/// `examples/node`, and a venv `target/examples-python-venv` with
/// `examples/python/requirements.txt`. Returns that venv's python.
pub(crate) fn prepare() -> Result<PathBuf, String> {
    let examples = repo_root().join("examples");
    node::require("the Node example product (examples/node)")?;
    npm_ci(&examples.join("node"), "openid-client")?;
    python::venv(
        &repo_root(),
        "examples-python-venv",
        &examples.join("python").join("requirements.txt"),
    )
}
