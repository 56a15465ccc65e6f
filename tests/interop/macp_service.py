"""Runs the real macp-auth-service for Python tests: PORT=0, the port from the first
log line, SIGTERM at the end with exit 0, and no key material or token in its output."""

import json
import os
import re
import signal
import subprocess
import threading
import time
import urllib.request

READY_LINE = re.compile(r"^\[auth-service\] listening on port (\d+)$")
PRIVATE_MEMBERS = ("d", "p", "q", "dp", "dq", "qi")

# Loopback only, never through a proxy.
os.environ["no_proxy"] = os.environ["NO_PROXY"] = "127.0.0.1,localhost"

_minted_tokens = set()


def remember_token(token):
    _minted_tokens.add(token)


def binary():
    path = os.environ.get("MACP_AUTH_BIN")
    if not path:
        raise RuntimeError("MACP_AUTH_BIN must name the macp-auth-service binary")
    return path


def private_values(jwk_text):
    try:
        jwk = json.loads(jwk_text)
    except ValueError:
        return re.findall(r"[A-Za-z0-9_-]{16,}", jwk_text)
    if not isinstance(jwk, dict):
        return []
    return [jwk[m] for m in PRIVATE_MEMBERS if isinstance(jwk.get(m), str) and jwk[m]]


def assert_no_secrets(output, secrets, tokens):
    for secret in secrets:
        if len(secret) >= 8:
            assert secret not in output, "the output contains private key material"
            assert secret[:16] not in output or len(secret) < 16, "the output contains the start of private key material"
    for token in tokens:
        assert token not in output, "the output contains a minted token"
        assert token.split(".")[2] not in output, "the output contains a minted token's signature"


class Service:
    """One running instance. Use as a context manager: it stops (SIGTERM, exit 0) on exit."""

    def __init__(self, env=None, timeout=10.0):
        self.env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PORT": "0"}
        self.env.update(env or {})
        self.proc = subprocess.Popen(
            [binary()], env=self.env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        self.stdout_lines = []
        self.stderr_text = ""
        self._lines_ready = threading.Condition()
        self._readers = [
            threading.Thread(target=self._read_stdout, daemon=True),
            threading.Thread(target=self._read_stderr, daemon=True),
        ]
        for r in self._readers:
            r.start()
        try:
            self.port = self._wait_ready(timeout)
        except Exception:
            self.proc.kill()
            self.proc.wait()
            self._close_pipes()
            raise

    def _close_pipes(self):
        for r in self._readers:
            r.join(timeout=5)
        self.proc.stdout.close()
        self.proc.stderr.close()

    def _read_stdout(self):
        for raw in self.proc.stdout:
            with self._lines_ready:
                self.stdout_lines.append(raw.decode("utf-8", "replace").rstrip("\n"))
                self._lines_ready.notify_all()
        with self._lines_ready:
            self._lines_ready.notify_all()

    def _read_stderr(self):
        for raw in self.proc.stderr:
            self.stderr_text += raw.decode("utf-8", "replace")

    def _wait_ready(self, timeout):
        deadline = time.monotonic() + timeout
        with self._lines_ready:
            while len(self.stdout_lines) < 5:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"the service exited ({self.proc.returncode}) before it was ready: {self.stderr_text}")
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError("the service did not start")
                self._lines_ready.wait(min(left, 0.1))
            match = READY_LINE.match(self.stdout_lines[0])
            if not match:
                raise RuntimeError(f"unexpected first line: {self.stdout_lines[0]!r}")
            port = int(match.group(1))
        # Ready once it answers (its signal handlers are in place by then).
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as res:
                    if res.status == 200:
                        return port
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError("the service never answered /healthz")
            time.sleep(0.02)

    def url(self, path):
        return f"http://127.0.0.1:{self.port}{path}"

    def mint(self, body):
        req = urllib.request.Request(
            self.url("/tokens"),
            data=json.dumps(body).encode(),
            headers={"content-type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(req, timeout=10) as res:
            answer = json.loads(res.read())
        remember_token(answer["token"])
        return answer["token"]

    def jwks(self):
        with urllib.request.urlopen(self.url("/.well-known/jwks.json"), timeout=10) as res:
            return json.loads(res.read())

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(timeout=10)
        self._close_pipes()
        output = "\n".join(self.stdout_lines) + "\n" + self.stderr_text
        assert_no_secrets(output, private_values(self.env.get("MACP_AUTH_SIGNING_KEY_JSON", "")), _minted_tokens)
        assert code == 0, f"exit code {code} after SIGTERM; stderr: {self.stderr_text}"

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        try:
            self.stop()
        except Exception:
            if exc_type is None:
                raise
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
        return False

