#!/usr/bin/env python3
"""Mint latency while the key set file reloads, against the same service not reloading (SPEC §7, issue 10).

    python3 bench/reload_latency.py --rounds 6 --window 8 build/macp-auth-service

One service process on a large key set file: an ES256 signer, plus retired RSA keys (one of 16384 bits,
whose check takes long, more with --big-keys, and 60 of 4096 bits), about 200 KiB of the file's 256 KiB. wrk
mints at a steady, moderate rate (connections that pause DELAY_MS after each response, far from
saturation), in windows of `--window` seconds, interleaved per round:

  idle    nothing else runs;
  reload  the file is rewritten and SIGHUP sent, again as soon as each reload's log line arrives: reloads
          back to back (or one every --reload-every seconds). The file alternates between two versions, as a rotation changes it: they differ in
          one activation time and in one fresh key (of --fresh-alg, a "next" key), each version holding a
          fresh key the other lacks. The service keeps the keys of its last good load and takes a member
          that is unchanged but for its macp_activates_at as checked then, so each reload checks exactly
          one key, the fresh one (parsed into a key and probed); every other key is still read, digested
          and made a signer, but not checked again. Only a load that finds every key new checks them all
          (the start, and the one reload this script uses to find the reload thread): what `keys list`
          costs on the file;
  burner  no reload, but a plain CPU-bound process spins beside the service for the whole window, the
          CPU a reload thread takes, without anything in the service: what CPU contention alone does;
  reload-idleprio  as reload, with the service's reload thread set to SCHED_IDLE for the window: it then
          takes only CPU nothing else wants. A tail that goes away with it was CPU contention; a pause of
          the I/O threads (a lock held across the load, a stop) would stay.

For each window: p50, p99 and max latency from wrk. For the reload windows: how many reloads happened
(the `keys reloaded` log lines, and macp_auth_reloads_total{file="keys"} from GET /metrics) and how long
each took, from SIGHUP to its log line. Keys are generated once and cached under --cache (openssl
genpkey for 16384 bits, which takes minutes; `macp-auth-service keygen` for the rest, the two fresh keys
included). Loopback only; a benchmark, never a test.
"""

import argparse
import base64
import json
import os
import queue
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import load

SIGNER_ACTIVATES_AT = 1_000_000_000  # 2001: the signer; the RSA keys activate before it and are retired
FRESH_ACTIVATES_AT = 4_000_000_000  # 2096: the fresh keys are "next", published and never signing, as `keys rotate` adds


def log(msg):
    print(f"[reload-bench] {msg}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------- keys

def b64url_uint(value):
    """RFC 7518's Base64urlUInt: the big-endian octets of `value`, no leading zeros."""
    raw = value.to_bytes(max(1, (value.bit_length() + 7) // 8), "big")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def rsa_pem_to_jwk(pem_path, kid):
    """A private RSA JWK from a PEM, read from `openssl pkey -text` (nothing of it is printed)."""
    text = subprocess.run(["openssl", "pkey", "-in", str(pem_path), "-noout", "-text"],
                          capture_output=True, text=True, check=True).stdout
    members = {"modulus": "n", "publicExponent": "e", "privateExponent": "d", "prime1": "p", "prime2": "q",
               "exponent1": "dp", "exponent2": "dq", "coefficient": "qi"}
    hex_of, current = {}, None
    for line in text.splitlines():
        m = re.match(r"^(\w+):\s*(.*)$", line)
        if m:
            current = m.group(1)
            if current == "publicExponent":  # "publicExponent: 65537 (0x10001)"
                hex_of[current] = format(int(m.group(2).split()[0]), "x")
                current = None
            continue
        if current in members:
            hex_of[current] = hex_of.get(current, "") + line.strip().replace(":", "")
    jwk = {"kty": "RSA", "kid": kid, "alg": "RS256", "use": "sig"}
    for field, member in members.items():
        jwk[member] = b64url_uint(int(hex_of[field], 16))
    return jwk


def cached_rsa16384(cache, i, bits):
    pem = cache / f"rsa{bits}-{i}.pem"
    if not pem.exists():
        log(f"generating RSA {bits} key {i} with openssl genpkey (minutes; cached in {cache})")
        tmp = cache / f"rsa{bits}-{i}.pem.tmp"
        subprocess.run(["openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt", f"rsa_keygen_bits:{bits}",
                        "-out", str(tmp)], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        tmp.rename(pem)
    return rsa_pem_to_jwk(pem, f"big-rsa{bits}-{i}")


def cached_keygen(binary, cache, name, args):
    path = cache / f"{name}.jwk.json"
    if not path.exists():
        subprocess.run([binary, "keygen", "--kid", name, "--out", str(path)] + args, check=True,
                       stdout=subprocess.DEVNULL)
    return json.loads(path.read_text())


def key_file_members(args):
    cache = args.cache
    cache.mkdir(parents=True, exist_ok=True)
    members = []
    for i in range(args.big_keys):
        jwk = cached_rsa16384(cache, i + 1, args.big_bits)
        jwk["macp_activates_at"] = 1000 + i
        members.append(jwk)
    for i in range(args.rsa4096_keys):
        jwk = cached_keygen(args.binary, cache, f"rsa4096-{i + 1}", ["--alg", "RS256", "--bits", "4096"])
        jwk["macp_activates_at"] = 100_000 + i
        members.append(jwk)
    signer = cached_keygen(args.binary, cache, "signer-es256", ["--alg", "ES256"])
    signer["macp_activates_at"] = SIGNER_ACTIVATES_AT
    return members + [signer]


def fresh_keys(args):
    """The two keys the versions take turns at holding: one per version, so each reload has one new key."""
    options = ["--alg", "ES256"] if args.fresh_alg == "ES256" else ["--alg", "RS256", "--bits", "2048"]
    keys = []
    for variant in (0, 1):
        jwk = cached_keygen(args.binary, args.cache, f"fresh-{args.fresh_alg.lower()}-{variant}", options)
        jwk["macp_activates_at"] = FRESH_ACTIVATES_AT
        keys.append(jwk)
    return keys


class KeyFile:
    """The key file and which of its two versions it holds: in version v the oldest key activates at 1000 + v
    and the last key is fresh[v]. Each flip() writes the other version, across windows too, so that every
    reload finds one key it has not checked."""

    def __init__(self, path, members, fresh):
        self.path, self.members, self.fresh = path, members, fresh
        self.variant = 0
        self.size = self.write()

    def keys(self):
        return self.members + [self.fresh[self.variant]]

    def write(self, reordered=False):
        """Atomically. `reordered`: every member's items in reverse order, a text the service has checked no key of."""
        self.members[0]["macp_activates_at"] = 1000 + self.variant
        keys = self.keys()
        if reordered:
            keys = [{name: m[name] for name in reversed(list(m))} for m in keys]
        text = json.dumps({"keys": keys})
        tmp = f"{self.path}.tmp"
        with open(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as f:
            f.write(text)
        os.replace(tmp, self.path)
        return len(text)

    def flip(self, reordered=False):
        self.variant ^= 1
        self.write(reordered)


# ---------------------------------------------------------------- the service's log and metrics

class LogReader:
    """Reads the service's stdout on a thread; `keys reloaded` lines go to a queue with their arrival time."""

    def __init__(self, stream):
        self.reloads = queue.Queue()
        self.thread = threading.Thread(target=self._run, args=(stream,), daemon=True)
        self.thread.start()

    def _run(self, stream):
        for line in stream:
            if "keys reloaded:" in line:
                self.reloads.put(time.perf_counter())


def reloads_total(port):
    status, body = load.http_get(port, "/metrics")
    if status != 200:
        raise RuntimeError(f"/metrics answered {status}")
    out = {}
    for line in body.decode().splitlines():
        m = re.match(r'^macp_auth_reloads_total\{(.*)\} (\S+)$', line)
        if m and 'file="keys"' in m.group(1):
            out[re.search(r'result="(\w+)"', m.group(1)).group(1)] = float(m.group(2))
    return out


# ---------------------------------------------------------------- what runs beside a window

class Reloads:
    """Reloads one after another: rewrite the file (the other version), SIGHUP, wait for the log line, again;
    back to back, or one every `every` seconds (counted from one SIGHUP to the next)."""

    def __init__(self, svc, reader, key_file, every=0.0, all_new=False):
        self.svc, self.reader, self.key_file, self.every, self.all_new = svc, reader, key_file, every, all_new
        self.durations_ms = []
        self.stop_flag = threading.Event()
        self.error = None
        self.thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop_flag.set()
        self.thread.join(timeout=120)

    def _run(self):
        try:
            while not self.stop_flag.is_set():
                # --all-new: every other version has each member's items reversed, so no member's digest is
                # the last load's and every key is checked again, as when a file is replaced wholesale.
                self.key_file.flip(reordered=self.all_new and len(self.durations_ms) % 2 == 0)
                sent = time.perf_counter()
                os.kill(self.svc.pid, signal.SIGHUP)
                arrived = self.reader.reloads.get(timeout=60)
                self.durations_ms.append((arrived - sent) * 1e3)
                if self.every > 0:
                    self.stop_flag.wait(max(0.0, sent + self.every - time.perf_counter()))
        except Exception as e:  # reported by the window
            self.error = e


def reload_thread(svc, reader, key_file):
    """The service's reload thread: the one whose CPU time grows over one reload while nothing else runs. That
    reload reads the file reordered, so it checks every key (a reload of keys checked before would take too
    little CPU to tell its thread by); a second one puts the file's own keys back among the checked ones."""
    def per_thread():
        out = {}
        for tid in os.listdir(f"/proc/{svc.pid}/task"):
            try:
                out[tid] = load.cpu_ticks(f"{svc.pid}/task/{tid}")
            except OSError:
                pass
        return out
    before = per_thread()
    key_file.write(reordered=True)
    os.kill(svc.pid, signal.SIGHUP)
    reader.reloads.get(timeout=60)
    after = per_thread()
    key_file.write()
    os.kill(svc.pid, signal.SIGHUP)
    reader.reloads.get(timeout=60)
    return int(max(after, key=lambda t: after[t] - before.get(t, 0)))


class IdlePriority:
    """The reload thread at SCHED_IDLE for the window (back at SCHED_OTHER after): it then runs only on a
    core nothing else wants. If the reload windows' tail comes from CPU contention, it goes; a pause of
    the I/O threads (a lock, a stop of the world) would stay whatever the reload thread's priority."""

    def __init__(self, tid, inner):
        self.tid, self.inner = tid, inner

    def __enter__(self):
        os.sched_setscheduler(self.tid, os.SCHED_IDLE, os.sched_param(0))
        self.inner.__enter__()
        return self.inner

    def __exit__(self, *exc):
        self.inner.__exit__(*exc)
        os.sched_setscheduler(self.tid, os.SCHED_OTHER, os.sched_param(0))


class Burner:
    """A plain CPU-bound process (no I/O, no service code) for the length of the window."""

    def __enter__(self):
        self.proc = subprocess.Popen([sys.executable, "-c", "while True: pass"])
        return self

    def __exit__(self, *exc):
        self.proc.kill()
        self.proc.wait()


class Nothing:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        pass


# ---------------------------------------------------------------- windows

def window(svc, args, beside):
    _, _, path, body = load.SCENARIOS["mint-es256"]
    with beside:
        time.sleep(0.2)  # the first reload (or the burner) is under way when the load starts
        row = load.measure_load(svc, path, args.conns, args.window, body, 1)
    if row["errors"] or row["non_2xx"]:
        raise SystemExit(f"{row['errors']} errors, {row['non_2xx']} non-2xx in a window")
    return row


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("binary")
    ap.add_argument("--rounds", type=int, default=6)
    ap.add_argument("--window", type=int, default=8, help="seconds of wrk per window")
    ap.add_argument("--conns", type=int, default=8)
    ap.add_argument("--delay-ms", type=int, default=10, help="pause of each connection after a response")
    ap.add_argument("--big-keys", type=int, default=1, help="retired RSA keys of --big-bits in the file")
    ap.add_argument("--big-bits", type=int, default=16384)
    ap.add_argument("--rsa4096-keys", type=int, default=60, help="retired RSA 4096 keys in the file")
    ap.add_argument("--fresh-alg", choices=["ES256", "RS256"], default="ES256",
                    help="the type of the one key each reload checks (RS256: 2048 bits)")
    ap.add_argument("--reload-every", type=float, default=0.0,
                    help="seconds from one SIGHUP to the next in the reload windows (0: back to back)")
    ap.add_argument("--all-new", action="store_true",
                    help="every reload finds every key new (its text changed) and checks them all")
    ap.add_argument("--no-burner", action="store_true", help="only the idle and reload windows")
    ap.add_argument("--no-idle-priority", action="store_true",
                    help="leave out the reload windows with the reload thread at SCHED_IDLE")
    ap.add_argument("--cache", type=Path, default=Path("build/reload-bench-keys"))
    ap.add_argument("--json", type=Path, help="write every window's numbers here")
    args = ap.parse_args()
    args.binary = str(Path(args.binary).resolve())

    members = key_file_members(args)
    fresh = fresh_keys(args)
    variants = ["idle", "reload"] + ([] if args.no_burner else ["burner"]) + \
        ([] if args.no_idle_priority else ["reload-idleprio"])
    with tempfile.TemporaryDirectory(prefix="macp-reload-bench-") as directory:
        key_path = os.path.join(directory, "keys.json")
        key_file = KeyFile(key_path, members, fresh)
        kinds = {}
        for m in key_file.keys():
            kind = m.get("crv") or f"RSA {len(base64.urlsafe_b64decode(m['n'] + '==')) * 8}"
            kinds[kind] = kinds.get(kind, 0) + 1
        listed = subprocess.run([args.binary, "keys", "list", "--file", key_path, "--json"], check=True,
                                capture_output=True, text=True, env={"PATH": os.environ.get("PATH", "")}).stdout
        states = [k["state"] for k in json.loads(listed)["keys"]]
        log(f"key file: {key_file.size} bytes, {len(key_file.keys())} keys ({kinds}); states: "
            f"{ {s: states.count(s) for s in set(states)} }")

        os.environ["DELAY_MS"] = str(args.delay_ms)
        svc = load.Service(args.binary, None, {"MACP_AUTH_SIGNING_KEYS_FILE": key_path,
                                               # only SIGHUP reloads: the poll would add reloads of its own
                                               "MACP_AUTH_KEYS_RELOAD_SECONDS": "3600"})
        reader = LogReader(svc.proc.stdout)
        rows = {v: [] for v in variants}
        reload_ms = {}
        try:
            load.check_endpoint(svc, "mint-es256")
            tid = reload_thread(svc, reader, key_file)  # two reloads, before the counts start
            start_counts = reloads_total(svc.port)
            for r in range(args.rounds):
                for v in variants:
                    if v == "reload":
                        beside = Reloads(svc, reader, key_file, args.reload_every, args.all_new)
                    elif v == "reload-idleprio":
                        reloads = Reloads(svc, reader, key_file, args.reload_every, args.all_new)
                        beside = IdlePriority(tid, reloads)
                    else:
                        beside = Burner() if v == "burner" else Nothing()
                    before = reloads_total(svc.port).get("success", 0)
                    row = window(svc, args, beside)
                    row["reloads_metric"] = reloads_total(svc.port).get("success", 0) - before
                    reloads = beside.inner if v == "reload-idleprio" else beside
                    if isinstance(reloads, Reloads):
                        if reloads.error:
                            raise SystemExit(f"reload loop failed: {reloads.error!r}")
                        row["reloads_logged"] = len(reloads.durations_ms)
                        row["reload_ms"] = reloads.durations_ms
                        reload_ms.setdefault(v, []).extend(reloads.durations_ms)
                    rows[v].append(row)
                    extra = (f", {row['reloads_logged']} reloads logged / {row['reloads_metric']:.0f} counted, "
                             f"median {statistics.median(row['reload_ms']):.0f} ms each"
                             if "reload_ms" in row else f", {row['reloads_metric']:.0f} reloads counted")
                    print(f"round {r + 1} {v:6}: {row['rps']:.0f} req/s, p50 {row['p50_ms']:.3f} ms, "
                          f"p99 {row['p99_ms']:.3f} ms, max {row['max_ms']:.1f} ms, "
                          f"{row['cpu_us_per_req']:.0f} service CPU us/req{extra}", flush=True)
            end_counts = reloads_total(svc.port)
        finally:
            svc.stop()

    failures = end_counts.get("failure", 0) - start_counts.get("failure", 0)
    med = {v: {k: statistics.median(x[k] for x in rows[v]) for k in ("rps", "p50_ms", "p99_ms", "max_ms")}
           for v in variants}
    print()
    for v in variants:
        print(f"median {v:6}: {med[v]['rps']:.0f} req/s, p50 {med[v]['p50_ms']:.3f} ms, "
              f"p99 {med[v]['p99_ms']:.3f} ms, max {med[v]['max_ms']:.1f} ms")
    for v in variants[1:]:
        diffs = [b["p99_ms"] - a["p99_ms"] for a, b in zip(rows["idle"], rows[v])]
        print(f"p99 {v} - idle, per round: {', '.join(f'{d:+.3f}' for d in diffs)} ms; "
              f"median {statistics.median(diffs):+.3f} ms; difference of medians "
              f"{med[v]['p99_ms'] - med['idle']['p99_ms']:+.3f} ms")
    logged = sum(len(d) for d in reload_ms.values())
    print(f"reloads: {logged} logged, "
          f"{end_counts.get('success', 0) - start_counts.get('success', 0):.0f} counted by "
          f"macp_auth_reloads_total{{file=\"keys\",result=\"success\"}}, {failures:.0f} failed")
    for v, d in reload_ms.items():
        print(f"  {v}: {len(d)} reloads, SIGHUP -> log line median {statistics.median(d):.0f} ms "
              f"(min {min(d):.0f}, max {max(d):.0f})")
    if args.json:
        args.json.write_text(json.dumps({"args": {k: str(v) for k, v in vars(args).items()}, "windows": rows,
                                         "medians": med}, indent=2) + "\n")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
