#!/usr/bin/env python3
"""Runs every shell command a page of the docs shows, so the docs cannot drift from the binary.

    run_doc_commands.py [--show-output] PAGE.md [PAGE.md ...]

Each fenced block whose language is sh, bash or shell is a command a reader would type. The
blocks of one page run in order in one bash session (variables and the working directory carry
over, as they do for a reader following along), with `set -e -o pipefail`. What the info string
may add after the language:

    ```sh                 run it; every command must succeed
    ```sh server          the service in the foreground: started in the background, the test
                          waits for its "listening on port" line; the next server block (or the
                          end of the page) stops it with SIGTERM, as a reader's Ctrl-C would
    ```sh exit=N          run it in a subshell; it must end with exit status N
    ```sh no-pipefail     run it as an interactive shell would: a pipeline's status is its last
                          command's (the seed's `base64 -d` prints an unpadded payload, then exits 1)
    ```sh no-run          not run (installing packages, cloning, other programs, the test suite
                          itself); the text around it should say what it does

The session is a scratch directory that looks like a checkout after `scripts/bootstrap` and
`scripts/build`, which the test run has already done:
  - `build/macp-auth-service` is the binary under test (MACP_AUTH_BIN), and build/ is on PATH, so
    `macp-auth-service` works too;
  - `scripts/bootstrap` and `scripts/build` do nothing, and `scripts/dev` runs the binary, which is
    what the real one does after those two; no other script exists;
  - `node_modules/` is the project's, so the seed's `require('jose')` one-liners resolve;
  - PORT is set to a free loopback port, and every "3200" in a command is replaced by it, so
    `http://localhost:3200/...` reaches the instance the page started.

The service's log and each command's output go to a log file. On failure the tail of it is
printed with private JWK members masked: keys made by a page never reach the test output.
--show-output prints all of it (masked) on success too, to compare with what the page shows.
"""

import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

SHELL_LANGUAGES = {"sh", "bash", "shell"}
FENCE = re.compile(r"^(```+)\s*([\w-]*)\s*(.*)$")
DOCS_PORT = re.compile(r"\b3200\b")
PRIVATE_MEMBER = re.compile(r'("(?:d|p|q|dp|dq|qi)"\s*:\s*")[^"]*(")')
SERVER_START_TIMEOUT_SECONDS = 30
PAGE_TIMEOUT_SECONDS = 240


class Block:
    def __init__(self, page, line, text, mode, exit_code, pipefail=True):
        self.pipefail = pipefail
        self.page = page
        self.line = line
        self.text = text
        self.mode = mode  # "run", "server", "exit" or "no-run"
        self.exit_code = exit_code

    @property
    def where(self):
        return f"{self.page.name}:{self.line}"


def shell_blocks(page):
    """The page's shell blocks, in order. A typo in an attribute is an error, not a skipped block."""
    blocks = []
    lines = page.read_text(encoding="utf-8").splitlines()
    i = 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        fence, language, attributes = m.groups()
        start = i + 1
        i += 1
        while i < len(lines) and not lines[i].startswith(fence):
            i += 1
        if i == len(lines):
            raise SystemExit(f"{page.name}:{start}: the code block is never closed")
        body = "\n".join(lines[start:i])
        i += 1
        if language not in SHELL_LANGUAGES:
            continue
        mode, exit_code, pipefail = "run", 0, True
        for attribute in attributes.split():
            if attribute == "no-pipefail":
                pipefail = False
            elif attribute in ("server", "no-run"):
                mode = attribute
            elif re.fullmatch(r"exit=\d+", attribute):
                mode, exit_code = "exit", int(attribute.split("=")[1])
            else:
                raise SystemExit(f"{page.name}:{start}: unknown code block attribute {attribute!r}")
        blocks.append(Block(page, start, body, mode, exit_code, pipefail))
    return blocks


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def scratch_checkout(root, binary, project):
    (root / "build").mkdir()
    (root / "build" / "macp-auth-service").symlink_to(binary)
    scripts = root / "scripts"
    scripts.mkdir()
    stubs = {
        "bootstrap": "#!/bin/sh\n# The test run has bootstrapped already.\nexit 0\n",
        "build": "#!/bin/sh\n# The test run has built build/macp-auth-service already.\nexit 0\n",
        "dev": '#!/bin/sh\n# What scripts/dev does after bootstrap and build.\nexec "$(dirname "$0")/../build/macp-auth-service" "$@"\n',
    }
    for name, text in stubs.items():
        (scripts / name).write_text(text)
        (scripts / name).chmod(0o755)
    if (project / "node_modules").is_dir():
        (root / "node_modules").symlink_to(project / "node_modules")


PRELUDE = r"""
set -uo pipefail
set -m  # a server block gets its own process group, so stopping it stops everything it started
__server=""
__stop_server() {
  if [ -n "$__server" ]; then
    kill -TERM -- "-$__server" 2>/dev/null
    wait "$__server" 2>/dev/null
    __server=""
  fi
}
trap __stop_server EXIT
__step() { printf '%s\n' "$1" >> "$__progress"; printf '\n$ # %s\n' "$1"; }
__fail() { printf 'FAIL %s\n' "$1" >> "$__progress"; exit 1; }
__wait_listening() {  # $1: the server block's log
  for _ in $(seq 1 $((__server_timeout * 10))); do
    if grep -q "listening on port" "$1"; then
      grep -q "listening on port $PORT\$" "$1" || __fail "the service did not listen on PORT ($PORT): $(head -n 1 "$1")"
      return 0
    fi
    kill -0 "$__server" 2>/dev/null || __fail "the service exited: $(tail -n 3 "$1")"
    sleep 0.1
  done
  __fail "no 'listening on port' line within ${__server_timeout} s"
}
"""


def session_script(blocks, port):
    parts = [PRELUDE, f"__server_timeout={SERVER_START_TIMEOUT_SECONDS}\n"]
    for n, block in enumerate(blocks):
        if block.mode == "no-run":
            continue
        text = DOCS_PORT.sub(str(port), block.text)
        parts.append(f"__step {block.where!r}\n")
        if block.mode == "run":
            relax, restore = ("", "") if block.pipefail else ("set +o pipefail\n", "set -o pipefail\n")
            parts.append(f"{relax}set -e\n{text}\nset +e\n{restore}")
        elif block.mode == "exit":
            parts.append(f"( set -e\n{text}\n)\n__status=$?\n"
                         f'[ "$__status" -eq {block.exit_code} ] || '
                         f'__fail "expected exit status {block.exit_code}, got $__status"\n')
        else:
            log = f'"$__logs/server-{n}.log"'
            parts.append(f"__stop_server\n( set -e\n{text}\n) > {log} 2>&1 &\n__server=$!\n"
                         f'echo "$__server" > "$__logs/server.pgid"\n__wait_listening {log}\n')
    parts.append("__stop_server\nprintf 'DONE\\n' >> \"$__progress\"\n")
    return "".join(parts)


def stop_leftover_server(logs):
    """bash was killed before its EXIT trap ran: stop the server block it started, if any."""
    pgid_file = logs / "server.pgid"
    if pgid_file.exists():
        try:
            os.killpg(int(pgid_file.read_text()), 15)
        except (ProcessLookupError, ValueError):
            pass


def masked(text):
    return PRIVATE_MEMBER.sub(r"\1…masked…\2", text)


def run_page(page, binary, project, show_output=False):
    blocks = shell_blocks(page)
    runnable = [b for b in blocks if b.mode != "no-run"]
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="macp-docs-") as tmp:
        root = Path(tmp) / "checkout"
        root.mkdir()
        logs = Path(tmp) / "logs"
        logs.mkdir()
        scratch_checkout(root, binary, project)
        progress = Path(tmp) / "progress"
        progress.touch()
        script = Path(tmp) / "session.sh"
        script.write_text(session_script(blocks, port))

        env = {k: v for k, v in os.environ.items() if k != "PORT" and not k.startswith("MACP_AUTH_")}
        env.update({
            "PORT": str(port),
            "PATH": f"{root / 'build'}:{env.get('PATH', '/usr/bin:/bin')}",
            "NODE_PATH": env.get("NODE_PATH", str(project / "node_modules")),
            "__progress": str(progress),
            "__logs": str(logs),
        })
        output_path = Path(tmp) / "output.log"
        with open(output_path, "w") as output:
            try:
                code = subprocess.run(["bash", str(script)], cwd=root, env=env, stdout=output, stderr=subprocess.STDOUT,
                                      stdin=subprocess.DEVNULL, timeout=PAGE_TIMEOUT_SECONDS,
                                      start_new_session=True).returncode
            except subprocess.TimeoutExpired:
                code = f"timeout after {PAGE_TIMEOUT_SECONDS} s"
                stop_leftover_server(logs)
        steps = progress.read_text().splitlines()
        if code == 0 and steps[-1:] == ["DONE"]:
            print(f"{page.name}: ran {len(runnable)} blocks, skipped {len(blocks) - len(runnable)} (no-run), "
                  f"port {port}")
            for block in blocks:
                print(f"  {'skip' if block.mode == 'no-run' else 'ok  '} {block.where} {block.mode}")
            if show_output:
                print(masked(output_path.read_text(errors="replace")))
                for log in sorted(logs.glob("*.log")):
                    print(f"--- {log.name} ---\n{masked(log.read_text(errors='replace'))}")
            return True

        failures = [s for s in steps if s.startswith("FAIL ")]
        started = [s for s in steps if not s.startswith("FAIL ") and s != "DONE"]
        where = started[-1] if started else "(before the first block)"
        reason = failures[-1][5:] if failures else f"a command failed (bash exit status {code})"
        print(f"{page.name}: FAILED in the block at {where}: {reason}")
        print("--- the end of the session's output (private JWK members masked) ---")
        print(masked("\n".join(output_path.read_text(errors="replace").splitlines()[-60:])))
        for log in sorted(logs.glob("*.log")):
            print(f"--- {log.name} ---")
            print(masked("\n".join(log.read_text(errors="replace").splitlines()[-20:])))
        return False


def main(argv):
    show_output = "--show-output" in argv
    pages = [a for a in argv[1:] if a != "--show-output"]
    if not pages:
        raise SystemExit(__doc__)
    binary = Path(os.environ.get("MACP_AUTH_BIN", "")).resolve()
    if not binary.is_file():
        raise SystemExit("MACP_AUTH_BIN must point at the built macp-auth-service")
    if shutil.which("bash") is None:
        raise SystemExit("bash is required")
    project = Path(__file__).resolve().parents[2]
    results = [run_page(Path(p).resolve(), binary, project, show_output) for p in pages]
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
