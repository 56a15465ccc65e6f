"""The .deb that scripts/package makes (SPEC §11): lintian accepts it without errors, it holds the binary, the
hardened unit, the /etc/default conffile, /etc/macp-auth-service/ at 0750, the docs and the man page, and
`systemd-analyze security` rates the unit 2.0 or lower. Needs lintian and systemd (scripts/bootstrap installs
them); without them it fails. The binary from the package makes a key set, as an operator's first step.
"""

import os
import re
import shutil
import subprocess
import tempfile
import unittest
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BUILD_DIR = Path(os.environ.get("MACP_BUILD_DIR", ROOT / "build"))
UNIT = "lib/systemd/system/macp-auth-service.service"


def run(*args, **kwargs):
    return subprocess.run(args, capture_output=True, text=True, timeout=240, **kwargs)


def tool(name):
    path = shutil.which(name, path=os.environ.get("PATH", "") + ":/usr/sbin:/usr/bin")
    if path is None:
        raise AssertionError(f"{name} is not installed (scripts/bootstrap installs it)")
    return path


class DebPackage(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        env = {**os.environ, "MACP_PACKAGE_NO_BUILD": "1", "BUILD_DIR": str(BUILD_DIR)}
        made = run(str(ROOT / "scripts/package"), env=env, cwd=ROOT)
        if made.returncode != 0:
            raise AssertionError(f"scripts/package failed:\n{made.stdout}\n{made.stderr}")
        cls.deb = Path(made.stdout.strip().splitlines()[-1])
        if not cls.deb.is_absolute():
            cls.deb = ROOT / cls.deb
        cls.tmp = Path(tempfile.mkdtemp(prefix="macp-deb-"))
        cls.root = cls.tmp / "root"
        extracted = run(tool("dpkg-deb"), "-x", str(cls.deb), str(cls.root))
        assert extracted.returncode == 0, extracted.stderr
        cls.control = cls.tmp / "DEBIAN"
        info = run(tool("dpkg-deb"), "-e", str(cls.deb), str(cls.control))
        assert info.returncode == 0, info.stderr

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def contents(self):
        listing = run(tool("dpkg-deb"), "-c", str(self.deb))
        self.assertEqual(listing.returncode, 0, listing.stderr)
        entries = {}
        for line in listing.stdout.splitlines():
            mode, owner, _size, _date, _time, name = line.split(None, 5)
            entries[name.removeprefix("./").rstrip("/")] = (mode, owner)
        return entries

    def test_lintian_reports_no_error(self):
        checked = run(tool("lintian"), "--fail-on", "error", str(self.deb))
        errors = [line for line in checked.stdout.splitlines() if line.startswith("E:")]
        self.assertEqual(errors, [], checked.stdout)
        self.assertEqual(checked.returncode, 0, checked.stdout + checked.stderr)
        print(checked.stdout or "lintian: no tags")

    def test_holds_binary_unit_conffile_private_directory_docs_and_man_page(self):
        entries = self.contents()
        self.assertEqual(entries["usr/bin/macp-auth-service"], ("-rwxr-xr-x", "root/root"))
        self.assertEqual(entries[UNIT][0], "-rw-r--r--")
        self.assertEqual(entries["etc/default/macp-auth-service"][0], "-rw-r--r--")
        self.assertEqual(entries["etc/macp-auth-service"][0], "drwxr-x---")
        for doc in ("copyright", "changelog.gz", "README.md.gz", "operations.md.gz", "configuration.md.gz"):
            self.assertIn(f"usr/share/doc/macp-auth-service/{doc}", entries)
        self.assertIn("usr/share/man/man8/macp-auth-service.8.gz", entries)
        self.assertEqual((self.control / "conffiles").read_text().split(), ["/etc/default/macp-auth-service"])
        control = (self.control / "control").read_text()
        depends = re.search(r"^Depends: (.*)$", control, re.M).group(1)
        for needed in ("libssl3", "libstdc++6", "adduser", "procps"):
            self.assertIn(needed, depends)

    def test_postinst_makes_the_system_user_and_owns_the_directory_through_statoverride(self):
        postinst = (self.control / "postinst").read_text()
        self.assertIn("adduser --system", postinst)
        self.assertIn("dpkg-statoverride --update --add macp-auth-service macp-auth-service 0750 /etc/macp-auth-service",
                      postinst)
        for script in ("postinst", "prerm", "postrm"):
            checked = run("sh", "-n", str(self.control / script))
            self.assertEqual(checked.returncode, 0, checked.stderr)

    def test_unit_runs_as_its_own_user_reloads_on_hup_and_reads_etc_default(self):
        unit = (self.root / UNIT).read_text()
        service = dict(re.findall(r"^(\w+)=(.*)$", unit, re.M))
        self.assertEqual(service["User"], "macp-auth-service")
        self.assertEqual(service["ExecStart"], "/usr/bin/macp-auth-service")
        self.assertEqual(service["ExecReload"], "/bin/kill -HUP $MAINPID")
        self.assertEqual(service["EnvironmentFile"], "/etc/default/macp-auth-service")
        default = (self.root / "etc/default/macp-auth-service").read_text()
        self.assertIn("MACP_AUTH_SIGNING_KEYS_FILE=/etc/macp-auth-service/keys.json", default)

    def test_systemd_analyze_security_rates_the_unit_2_or_lower(self):
        analyze = tool("systemd-analyze")
        unit = self.root / UNIT
        rated = run(analyze, "security", "--offline=true", "--threshold=20", "--no-pager", str(unit))
        # Offline, systemd-analyze prints what it does not understand in the unit on stderr ("Unknown key").
        self.assertEqual(rated.stderr.strip(), "", "systemd-analyze found problems in the unit")
        exposure = re.search(r"Overall exposure level for macp-auth-service\.service: (\d+\.\d)", rated.stdout)
        self.assertIsNotNone(exposure, rated.stdout)
        print(f"systemd-analyze security: exposure {exposure.group(1)}")
        self.assertLessEqual(float(exposure.group(1)), 2.0)
        self.assertEqual(rated.returncode, 0, rated.stdout)

    def test_man_page_renders_without_warnings(self):
        page = self.root / "usr/share/man/man8/macp-auth-service.8.gz"
        shown = run(tool("man"), "--warnings", "-l", str(page), env={**os.environ, "MANWIDTH": "100"})
        self.assertEqual(shown.returncode, 0, shown.stderr)
        self.assertEqual(shown.stderr.strip(), "")
        for text in ("keys rotate", "clients add", "healthcheck", "/etc/default/macp-auth-service"):
            self.assertIn(text, shown.stdout)

    def test_packaged_binary_makes_a_private_key_set(self):
        keys = self.tmp / "keys.json"
        made = run(str(self.root / "usr/bin/macp-auth-service"), "keys", "init", "--file", str(keys),
                   env={"PATH": "/usr/bin:/bin"})
        self.assertEqual(made.returncode, 0, made.stderr)
        self.assertEqual(keys.stat().st_mode & 0o777, 0o600)


if __name__ == "__main__":
    unittest.main()
