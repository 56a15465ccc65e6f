#!/usr/bin/env python3
"""The reference pages must mirror the code's single sources of truth:

- docs/api.md's error table lists exactly the rows of src/api/errors.cpp, in its order;
- docs/configuration.md names every variable src/config/config.cpp reads, and its
  "### <command>" section documents every option that command's --help lists (a verb's
  options, as `keys rotate`'s, in its command's section).
"""

import os
import re
import subprocess
import sys
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[2]
COMMANDS = ["serve", "keygen", "keys", "keys init", "keys rotate", "keys list", "keys revoke", "jwks", "verify",
            "healthcheck", "clients"]


def error_table_in_code():
    text = (PROJECT / "src/api/errors.cpp").read_text()
    return [(int(status), message) for status, message in re.findall(r'MACP_ERROR\((\d{3}), "([^"]+)"\)', text)]


def error_table_in_docs():
    text = (PROJECT / "docs/api.md").read_text()
    section = text.split("\n## Errors", 1)
    if len(section) != 2:
        raise SystemExit("docs/api.md has no '## Errors' section")
    body = section[1].split("\n## ", 1)[0]
    return [(int(status), message) for status, message in re.findall(r"^\| (\d{3}) \| `([^`]+)` \|", body, re.M)]


def variables_in_code():
    text = (PROJECT / "src/config/config.cpp").read_text()
    return sorted(set(re.findall(r'"(PORT|MACP_AUTH_[A-Z_]+)"', text)))


def options_of_binary(binary):
    options = {}
    for command in COMMANDS:
        out = subprocess.run([binary, *command.split(), "--help"], capture_output=True, text=True, check=True).stdout
        options[command] = [o for o in re.findall(r"^  (--[a-z][a-z-]*)", out, re.M) if o != "--version"]
    return options


def main():
    problems = []

    code_errors, doc_errors = error_table_in_code(), error_table_in_docs()
    if not code_errors:
        problems.append("found no MACP_ERROR rows in src/api/errors.cpp")
    if code_errors != doc_errors:
        for row in code_errors:
            if row not in doc_errors:
                problems.append(f"docs/api.md's error table lacks {row}")
        for row in doc_errors:
            if row not in code_errors:
                problems.append(f"docs/api.md's error table has {row}, which src/api/errors.cpp does not")
        if sorted(code_errors) == sorted(doc_errors):
            problems.append("docs/api.md's error table is not in src/api/errors.cpp's order")

    configuration = (PROJECT / "docs/configuration.md").read_text()
    variables = variables_in_code()
    if len(variables) < 8:
        problems.append(f"found only {variables} in src/config/config.cpp")
    for variable in variables:
        if f"`{variable}`" not in configuration:
            problems.append(f"docs/configuration.md does not name `{variable}`")

    binary = os.environ.get("MACP_AUTH_BIN")
    if not binary:
        raise SystemExit("MACP_AUTH_BIN must point at the built macp-auth-service")
    for command, options in options_of_binary(binary).items():
        name = command.split()[0]
        section = section_of(configuration, name)
        if not section:
            problems.append(f"docs/configuration.md has no '### {name}' section")
        for option in options:
            if not re.search(rf"`{re.escape(option)}\b", section):
                problems.append(f"docs/configuration.md's {name} section does not document `{option}` ({command})")
    for option in ("--help", "--version"):
        if f"`{option}`" not in configuration:
            problems.append(f"docs/configuration.md does not mention `{option}`")

    for p in problems:
        print(p)
    print(f"{len(code_errors)} error rows, {len(variables)} variables, {len(COMMANDS)} commands checked: "
          f"{'OK' if not problems else f'{len(problems)} problem(s)'}")
    return 1 if problems else 0


def section_of(page, command):
    """The text of the '### <command>' section of a page, or ''."""
    m = re.search(rf"^### `?{command}`?[^\n]*$(.*?)(?=^##|\Z)", page, re.M | re.S)
    return m.group(1) if m else ""


if __name__ == "__main__":
    sys.exit(main())
