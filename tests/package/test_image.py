"""The container image scripts/image builds (SPEC §11) from Debian's mirror alone: at most 60 MB, a non-root
user, HEALTHCHECK through `macp-auth-service healthcheck`, 0.0.0.0:3200; run by podman with a read-only root
filesystem, no capabilities and the key set mounted read-only, it serves the JWKS, reports healthy and exits 0
on SIGTERM. Needs mmdebstrap, buildah, podman and runc (scripts/bootstrap) and Debian's mirror; fails without.

This machine's quirks, not the image's: crun refuses its hybrid cgroup layout, so runc runs it, and podman's
default rlimits are above what the machine allows, so they are given.
"""

import json
import os
import shutil
import socket
import subprocess
import tempfile
import time
import unittest
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BUILD_DIR = Path(os.environ.get("MACP_BUILD_DIR", ROOT / "build"))
UID = 10001
RUN_FLAGS = ["--runtime", "runc", "--ulimit", "nofile=4096:4096", "--ulimit", "nproc=4096:4096"]


def run(*args, timeout=300, **kwargs):
    return subprocess.run(args, capture_output=True, text=True, timeout=timeout, **kwargs)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Image(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        for tool in ("mmdebstrap", "buildah", "podman", "runc"):
            if shutil.which(tool) is None:
                raise AssertionError(f"{tool} is not installed (scripts/bootstrap installs it)")
        started = time.monotonic()
        env = {**os.environ, "MACP_PACKAGE_NO_BUILD": "1", "BUILD_DIR": str(BUILD_DIR)}
        built = run(str(ROOT / "scripts/image"), env=env, cwd=ROOT)
        if built.returncode != 0:
            raise AssertionError(f"scripts/image failed:\n{built.stdout}\n{built.stderr}")
        print(f"scripts/image: {time.monotonic() - started:.1f} s")
        cls.tag = built.stdout.strip().splitlines()[-1]
        inspected = run("podman", "image", "inspect", cls.tag)
        assert inspected.returncode == 0, inspected.stderr
        (cls.image,) = json.loads(inspected.stdout)

    def test_at_most_60_mb(self):
        size_mb = self.image["Size"] / 1e6
        print(f"image size: {size_mb:.1f} MB")
        self.assertLessEqual(size_mb, 60)

    def test_non_root_healthcheck_and_all_interfaces(self):
        config = self.image["Config"]
        self.assertEqual(config["User"], f"{UID}:{UID}")
        self.assertEqual(config["Entrypoint"], ["/usr/bin/macp-auth-service"])
        self.assertIn("MACP_AUTH_BIND_ADDR=0.0.0.0", config["Env"])
        self.assertIn("PORT=3200", config["Env"])
        self.assertIn("3200/tcp", config["ExposedPorts"])
        self.assertEqual(self.image["Healthcheck"]["Test"], ["CMD", "/usr/bin/macp-auth-service", "healthcheck"])

    def test_runs_read_only_without_capabilities_and_stops_cleanly(self):
        keys_dir = Path(tempfile.mkdtemp(prefix="macp-image-keys-"))
        name = f"macp-image-test-{os.getpid()}"
        try:
            made = run(str(BUILD_DIR / "macp-auth-service"), "keys", "init", "--file", str(keys_dir / "keys.json"),
                       "--alg", "ES256", "--kid", "image-1", env={"PATH": "/usr/bin:/bin"})
            self.assertEqual(made.returncode, 0, made.stderr)
            os.chown(keys_dir, UID, UID)
            os.chown(keys_dir / "keys.json", UID, UID)
            port = free_port()
            started = run("podman", "run", *RUN_FLAGS, "-d", "--name", name, "--read-only", "--cap-drop=ALL",
                          "--security-opt=no-new-privileges", "-p", f"127.0.0.1:{port}:3200",
                          "-v", f"{keys_dir}:/etc/macp-auth-service:ro",
                          "-e", "MACP_AUTH_SIGNING_KEYS_FILE=/etc/macp-auth-service/keys.json", self.tag)
            self.assertEqual(started.returncode, 0, started.stderr)
            jwks = None
            deadline = time.monotonic() + 20
            while jwks is None and time.monotonic() < deadline:
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}/.well-known/jwks.json", timeout=2) as res:
                        jwks = json.load(res)
                except OSError:
                    time.sleep(0.2)
            self.assertIsNotNone(jwks, run("podman", "logs", name).stderr)
            self.assertEqual([k["kid"] for k in jwks["keys"]], ["image-1"])
            health = run("podman", "healthcheck", "run", name)
            self.assertEqual(health.returncode, 0, health.stdout + health.stderr)
            top = run("podman", "top", name, "user")
            self.assertEqual(top.stdout.split()[1:], ["macp-auth-service"])
            state = json.loads(run("podman", "inspect", name).stdout)[0]
            self.assertTrue(state["HostConfig"]["ReadonlyRootfs"])
            stopped = run("podman", "stop", "-t", "15", name)
            self.assertEqual(stopped.returncode, 0, stopped.stderr)
            state = json.loads(run("podman", "inspect", name).stdout)[0]
            self.assertEqual(state["State"]["ExitCode"], 0)
            self.assertIn("[auth-service] stopped", run("podman", "logs", name).stdout)
        finally:
            run("podman", "rm", "-f", name)
            shutil.rmtree(keys_dir, ignore_errors=True)


if __name__ == "__main__":
    unittest.main()
