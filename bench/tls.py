#!/usr/bin/env python3
"""TLS cost, side by side (SPEC §10): CPU per RS256 mint over kept-alive TLS against plain HTTP, and
handshakes per second, full and resumed, against `openssl s_server` on the same certificate.

    python3 bench/tls.py --binary build/macp-auth-service --rounds 3 --duration 4 --conns 16

Rounds alternate plain and TLS (fresh processes, the pinned RS256 key of bench/keys); wrk drives both
(it speaks https without verifying). `openssl s_time` drives the handshakes, with server CPU read from
/proc. A throwaway CA and an EC P-256 server certificate are made with the openssl CLI. Only loopback;
a benchmark, never a test: the ratios and medians are what to read on a noisy machine.
"""

import argparse
import re
import shutil
import signal
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import load


def make_certificate(where):
    def openssl(*args):
        subprocess.run(["openssl", *args], check=True, capture_output=True)
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout",
            f"{where}/ca.key", "-out", f"{where}/ca.crt", "-days", "2", "-subj", "/CN=bench CA")
    openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout",
            f"{where}/server.key", "-out", f"{where}/server.csr", "-subj", "/CN=localhost")
    Path(f"{where}/server.ext").write_text("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
    openssl("x509", "-req", "-in", f"{where}/server.csr", "-CA", f"{where}/ca.crt", "-CAkey", f"{where}/ca.key",
            "-CAcreateserial", "-days", "1", "-out", f"{where}/server.crt", "-extfile", f"{where}/server.ext")
    Path(f"{where}/server.key").chmod(0o600)
    return f"{where}/server.crt", f"{where}/server.key"


def s_time(port, seconds, reuse, version):
    """Connections per second `openssl s_time` makes (one client process): each a handshake (full, or resumed
    with the first connection's session) and one GET /healthz, which also reads TLS 1.3's tickets."""
    cmd = ["openssl", "s_time", "-connect", f"{load.HOST}:{port}", "-time", str(seconds), f"-{version}",
           "-reuse" if reuse else "-new", "-www", "/healthz"]
    started = time.monotonic()
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds * 4 + 30).stdout
    real = time.monotonic() - started  # s_time's own "real seconds" is rounded to whole seconds
    m = re.search(r"(\d+) connections in [\d.]+ real seconds, (\d+) bytes read per connection", out)
    if not m or int(m.group(2)) == 0:
        raise RuntimeError("s_time printed no summary, or read nothing:\n" + out)
    return int(m.group(1)), real


class SServer:
    """`openssl s_server` on the same certificate: the reference handshake rate."""

    def __init__(self, cert, key, where):
        self.port = load.free_port()
        Path(f"{where}/healthz").write_text('{"ok":true}')  # -WWW serves files from its directory
        self.proc = subprocess.Popen(["openssl", "s_server", "-accept", f"{load.HOST}:{self.port}", "-cert", cert,
                                      "-key", key, "-WWW", "-quiet"], cwd=where,
                                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(0.3)
        self.pid = self.proc.pid

    def cpu_ticks(self):
        return load.cpu_ticks(self.pid)

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(timeout=10)


def handshakes(server, seconds, reuse, version):
    before = server.cpu_ticks()
    n, real = s_time(server.port, seconds, reuse, version)
    cpu_s = (server.cpu_ticks() - before) / load.TICKS_PER_SECOND
    return {"per_s": n / real, "server_cpu_us": cpu_s * 1e6 / max(1, n)}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--binary", default="build/macp-auth-service")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--duration", type=int, default=4, help="seconds of wrk, and of s_time, per run")
    ap.add_argument("--conns", type=int, default=16)
    args = ap.parse_args()

    where = tempfile.mkdtemp(prefix="macp-bench-tls-")
    try:
        cert, key = make_certificate(where)
        tls_env = {"MACP_AUTH_TLS_CERT_FILE": cert, "MACP_AUTH_TLS_KEY_FILE": key}
        key_name, _, path, body = load.SCENARIOS["mint-rs256"]
        mint = {"http": [], "https": []}
        kinds = [(v, k) for v in ("tls1_3", "tls1_2") for k in ("full", "resumed")]
        shakes = {(who, kind): [] for who in ("ours", "s_server") for kind in kinds}
        for round_no in range(args.rounds):
            for scheme in ("http", "https"):
                env = tls_env if scheme == "https" else None
                row = load.measure_fresh(args.binary, key_name, env, path, args.conns, args.duration, body, scheme,
                                         label=scheme)
                mint[scheme].append(row)
                print(f"round {round_no + 1} mint over {scheme}: {row['rps']:.0f} req/s, "
                      f"{row['cpu_us_per_req']:.1f} CPU us/mint", flush=True)
            for who in ("ours", "s_server"):
                server = load.Service(args.binary, key_name, tls_env) if who == "ours" else SServer(cert, key, where)
                try:
                    for kind in kinds:
                        r = handshakes(server, args.duration, kind[1] == "resumed", kind[0])
                        shakes[(who, kind)].append(r)
                        print(f"round {round_no + 1} {who} {' '.join(kind)} handshakes: {r['per_s']:.0f}/s, "
                              f"server {r['server_cpu_us']:.0f} CPU us each", flush=True)
                finally:
                    server.stop()
        med = {s: statistics.median(r["cpu_us_per_req"] for r in rows) for s, rows in mint.items()}
        print(f"\nmedian CPU per RS256 mint, {args.conns} kept-alive connections: http {med['http']:.1f} us, "
              f"https {med['https']:.1f} us, ratio {med['https'] / med['http']:.3f}")
        for kind in kinds:
            ours = statistics.median(r["per_s"] for r in shakes[("ours", kind)])
            ref = statistics.median(r["per_s"] for r in shakes[("s_server", kind)])
            ours_cpu = statistics.median(r["server_cpu_us"] for r in shakes[("ours", kind)])
            ref_cpu = statistics.median(r["server_cpu_us"] for r in shakes[("s_server", kind)])
            print(f"median {' '.join(kind)} handshakes/s (one s_time client): ours {ours:.0f}, s_server {ref:.0f} "
                  f"(ratio {ours / ref:.2f}); server CPU us each: ours {ours_cpu:.0f}, s_server {ref_cpu:.0f}")
    finally:
        shutil.rmtree(where, ignore_errors=True)


if __name__ == "__main__":
    main()
