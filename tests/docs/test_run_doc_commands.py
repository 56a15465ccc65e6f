"""The docs runner itself must be able to fail: a page whose commands break must fail the test."""

import json
import os
import subprocess
import sys
import tempfile
import textwrap
import unittest
from pathlib import Path

RUNNER = Path(__file__).resolve().with_name("run_doc_commands.py")


def run_page(markdown):
    with tempfile.TemporaryDirectory() as tmp:
        page = Path(tmp) / "page.md"
        page.write_text(textwrap.dedent(markdown))
        r = subprocess.run([sys.executable, str(RUNNER), str(page)], capture_output=True, text=True, timeout=120,
                           env=os.environ)
        return r.returncode, r.stdout + r.stderr


class RunDocCommands(unittest.TestCase):
    def test_a_page_that_works_passes_and_carries_state_between_blocks(self):
        code, out = run_page("""
            ```sh server
            scripts/dev --issuer docs-test
            ```

            ```sh
            export TOKEN_URL=http://localhost:3200/tokens
            ```

            ```sh
            curl -sS -X POST "$TOKEN_URL" -H 'content-type: application/json' -d '{"sender":"a"}' | jq -e .token
            macp-auth-service healthcheck
            ```

            ```sh exit=2
            macp-auth-service keygen --bits 1
            ```

            ```sh no-run
            exit 1
            ```

            ```text
            not a command
            ```
            """)
        self.assertEqual(code, 0, out)
        self.assertIn("ran 4 blocks, skipped 1", out)

    def test_a_failing_command_fails_the_page_and_names_the_block(self):
        code, out = run_page("""
            ```sh
            true
            ```

            ```sh
            echo before
            false
            echo after
            ```
            """)
        self.assertEqual(code, 1, out)
        self.assertIn("FAILED in the block at page.md:6", out)
        self.assertNotIn("after", out.split("---", 1)[1])

    def test_a_failing_pipeline_fails(self):
        code, out = run_page("""
            ```sh
            curl -sS http://127.0.0.1:1/ | cat
            ```
            """)
        self.assertEqual(code, 1, out)

    def test_the_wrong_exit_status_fails(self):
        code, out = run_page("""
            ```sh exit=1
            macp-auth-service --version
            ```
            """)
        self.assertEqual(code, 1, out)
        self.assertIn("expected exit status 1, got 0", out)

    def test_a_server_block_that_never_listens_fails(self):
        code, out = run_page("""
            ```sh server
            macp-auth-service --port abc
            ```
            """)
        self.assertEqual(code, 1, out)
        self.assertIn("the service exited", out)

    def test_a_server_on_another_port_than_the_docs_port_fails(self):
        code, out = run_page("""
            ```sh server
            macp-auth-service --port 0
            ```
            """)
        self.assertEqual(code, 1, out)
        self.assertIn("did not listen on PORT", out)

    def test_an_unknown_attribute_is_an_error_not_a_skip(self):
        code, out = run_page("""
            ```sh norun
            true
            ```
            """)
        self.assertNotEqual(code, 0, out)
        self.assertIn("unknown code block attribute 'norun'", out)

    def test_private_key_members_are_masked_in_the_failure_output(self):
        code, out = run_page("""
            ```sh
            macp-auth-service keygen --alg ES256 --out key.json
            cat key.json
            false
            ```
            """)
        self.assertEqual(code, 1, out)
        self.assertIn('"d":"…masked…"', out)
        self.assertNotRegex(out, r'"d":"[A-Za-z0-9_-]{43}"')


if __name__ == "__main__":
    unittest.main()
