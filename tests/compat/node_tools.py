"""Resend's Node clients for the compatibility tests, installed from the npm registry, never by hand.

Resend's latest CLI (resend-cli 2.21) and MCP server (resend-mcp 2.22) need Node 22 or newer (on
an older Node, npm quietly resolves an old CLI without `contacts imports`). So everything comes
from the registry, whatever Node or npm the machine has:

1. Node 22 itself: the `node-<os>-<arch>` package (its tarball holds `package/bin/node`),
2. npm: the `npm` package, run by that Node,
3. the clients: `npm ci` of tests/compat/node/package-lock.json (exact versions, integrity hashes).

Each tarball's integrity is checked against the registry's metadata. Everything lands in
`<repo>/.compat/` (gitignored) and is reused while the lock file and versions stay the same.
`python -m tests.compat.node_tools` does the same from a shell (CI can warm the cache with it)."""

from __future__ import annotations

import base64
import fcntl
import hashlib
import json
import os
import platform
import shutil
import subprocess
import sys
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[2]
CACHE = REPO / ".compat"
LOCK_DIR = Path(__file__).resolve().parent / "node"
NODE_VERSION = "22.12.0"
NPM_VERSION = "10.9.2"  # the npm that ships with Node 22.12
DEFAULT_REGISTRY = "https://registry.npmjs.org"


class RegistryUnreachable(RuntimeError):
    """The npm registry cannot be reached at all (the only reason the compat tests skip)."""


@dataclass(frozen=True)
class NodeTools:
    node: Path  # Node 22
    modules: Path  # node_modules with resend, resend-cli, resend-mcp
    bin_dir: Path  # the directory of `node`, to put first on PATH

    @property
    def cli(self) -> list[str]:
        return [str(self.node), str(self.modules / "resend-cli" / "dist" / "cli.cjs")]

    @property
    def mcp(self) -> list[str]:
        return [str(self.node), str(self.modules / "resend-mcp" / "dist" / "index.js")]

    def version(self, package: str) -> str:
        return json.loads((self.modules / package / "package.json").read_text())["version"]


def registry() -> str:
    return (os.environ.get("npm_config_registry") or os.environ.get("NPM_CONFIG_REGISTRY") or DEFAULT_REGISTRY).rstrip("/")


def _platform_package() -> str:
    system = {"linux": "linux", "darwin": "darwin"}.get(sys.platform)
    arch = {"x86_64": "x64", "amd64": "x64", "aarch64": "arm64", "arm64": "arm64"}.get(platform.machine().lower())
    if not system or not arch:
        raise RuntimeError(f"no Node package on the npm registry for {sys.platform}/{platform.machine()}")
    return f"node-{system}-{arch}"


def _metadata(client: httpx.Client, package: str, version: str) -> dict:
    url = f"{registry()}/{package}/{version}"
    try:
        resp = client.get(url)
    except (httpx.ConnectError, httpx.ConnectTimeout, httpx.ReadTimeout) as e:
        raise RegistryUnreachable(f"the npm registry {registry()} is unreachable: {e}") from e
    resp.raise_for_status()
    return resp.json()["dist"]


def _fetch_tarball(client: httpx.Client, package: str, version: str, into: Path) -> Path:
    """Download and unpack a package's tarball into `into` (its `package/` directory), integrity checked."""
    dist = _metadata(client, package, version)
    algo, _, expected = dist["integrity"].partition("-")
    digest = hashlib.new(algo)
    with tempfile.TemporaryDirectory(dir=CACHE) as tmp:
        tgz = Path(tmp) / "p.tgz"
        with client.stream("GET", dist["tarball"]) as resp, tgz.open("wb") as f:
            resp.raise_for_status()
            for chunk in resp.iter_bytes(1 << 20):
                digest.update(chunk)
                f.write(chunk)
        if base64.b64encode(digest.digest()).decode() != expected:
            raise RuntimeError(f"{package}@{version}: the tarball does not match the registry's integrity hash")
        staging = Path(tmp) / "out"
        with tarfile.open(tgz) as tar:
            tar.extractall(staging, filter="data")  # no absolute paths or links out of the directory
        if into.exists():
            shutil.rmtree(into)
        shutil.move(str(staging), str(into))
    return into / "package"


def _stamp() -> str:
    lock = (LOCK_DIR / "package-lock.json").read_bytes()
    return hashlib.sha256(lock + f"{NODE_VERSION} {NPM_VERSION} {registry()}".encode()).hexdigest()


def ensure(log=print) -> NodeTools:
    """Install (or reuse) Node 22, npm and Resend's Node clients under .compat/. Raises
    RegistryUnreachable when the registry cannot be reached; any other failure is an error.
    One process at a time: the suite's workers (`make test`, pytest-xdist) may all ask at once on a
    fresh clone, and one's `npm ci` must not have its folder removed by another's."""
    CACHE.mkdir(exist_ok=True)
    with (CACHE / ".lock").open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            return _ensure(log)
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _ensure(log) -> NodeTools:
    node_dir, npm_dir, work = CACHE / f"node-{NODE_VERSION}", CACHE / f"npm-{NPM_VERSION}", CACHE / "clients"
    node = node_dir / "package" / "bin" / "node"
    tools = NodeTools(node=node, modules=work / "node_modules", bin_dir=node.parent)
    stamp = work / ".installed"
    if stamp.exists() and stamp.read_text() == _stamp() and node.exists():
        return tools
    with httpx.Client(timeout=httpx.Timeout(60, connect=15), follow_redirects=True) as client:
        if not node.exists():
            log(f"compat: fetching Node {NODE_VERSION} ({_platform_package()}) from {registry()}")
            _fetch_tarball(client, _platform_package(), NODE_VERSION, node_dir)
        npm_cli = npm_dir / "package" / "bin" / "npm-cli.js"
        if not npm_cli.exists():
            log(f"compat: fetching npm {NPM_VERSION}")
            _fetch_tarball(client, "npm", NPM_VERSION, npm_dir)
    if work.exists():
        shutil.rmtree(work)
    work.mkdir()
    for name in ("package.json", "package-lock.json"):
        shutil.copy(LOCK_DIR / name, work / name)
    log("compat: npm ci (resend, resend-cli, resend-mcp)")
    env = {
        **os.environ,
        "PATH": f"{tools.bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
        "npm_config_registry": registry(),
        "npm_config_cache": str(CACHE / "npm-cache"),
        "npm_config_update_notifier": "false",
        "npm_config_fund": "false",
        "npm_config_audit": "false",
    }
    done = subprocess.run(
        [str(node), str(npm_cli), "ci", "--ignore-scripts", "--no-audit", "--no-fund"],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    if done.returncode != 0:
        if any(s in done.stderr for s in ("ENOTFOUND", "ECONNREFUSED", "ETIMEDOUT", "EAI_AGAIN")):
            raise RegistryUnreachable(f"npm could not reach {registry()}: {done.stderr[-500:]}")
        raise RuntimeError(f"npm ci failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
    stamp.write_text(_stamp())
    return tools


if __name__ == "__main__":
    t = ensure()
    print(
        f"node {subprocess.run([str(t.node), '--version'], capture_output=True, text=True).stdout.strip()}; "
        + ", ".join(f"{p} {t.version(p)}" for p in ("resend", "resend-cli", "resend-mcp"))
    )
