#!/usr/bin/env python3
"""Load benchmark of the real binary against its physical ceilings, all in one run.

Per round: OpenSSL's CPU cost per sign (`openssl speed`, one core); our service
under wrk (POST /tokens RS256 and ES256 with pinned keys, GET JWKS, GET healthz)
at each connection count, a fresh process per measurement so its peak RSS
belongs to that load; nginx serving the same JWKS bytes with as many workers as
our service has threads; exec -> first 200 on /healthz. Ratios are taken within
a round and the report gives their median over rounds.

Only loopback addresses are used. Python standard library only.
"""

import argparse
import http.client
import json
import os
import platform
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
HOST = "127.0.0.1"
TICKS_PER_SECOND = os.sysconf("SC_CLK_TCK")

# name -> (key file, method, path, POST body file)
SCENARIOS = {
    "mint-rs256": ("rs256", "POST", "/tokens", BENCH_DIR / "request_body.json"),
    "mint-es256": ("es256", "POST", "/tokens", BENCH_DIR / "request_body.json"),
    "jwks": ("rs256", "GET", "/.well-known/jwks.json", None),
    "healthz": ("rs256", "GET", "/healthz", None),
}


def log(msg):
    print(f"[bench] {msg}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------- /proc readers

def cpu_ticks(pid):
    """utime + stime of the whole process (all threads), in clock ticks."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # fields 14 and 15 of proc(5), counted after "pid (comm)"


def status_field(pid, name):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(name + ":"):
                return int(line.split()[1])
    raise KeyError(name)


def context_switches(pid):
    """(voluntary, involuntary) context switches summed over the process's threads: the times
    they blocked (for us, an idle epoll_wait) and the times the kernel preempted them."""
    vol = invol = 0
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            vol += status_field(f"{pid}/task/{tid}", "voluntary_ctxt_switches")
            invol += status_field(f"{pid}/task/{tid}", "nonvoluntary_ctxt_switches")
        except (OSError, KeyError):
            pass
    return vol, invol


def children_of(pid):
    kids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    if int(f.read().rsplit(")", 1)[1].split()[1]) == pid:
                        kids.append(int(entry))
            except OSError:
                pass
    return kids


def machine():
    model = "unknown"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return {
        "nproc": os.cpu_count(),
        "cpu_model": model,
        "kernel": platform.release(),
        "mem_total_kib": status_meminfo("MemTotal"),
        "openssl": subprocess.run(["openssl", "version"], capture_output=True, text=True).stdout.strip(),
        "wrk": subprocess.run(["wrk", "--version"], capture_output=True, text=True).stdout.splitlines()[0].strip(),
        "nginx": subprocess.run(["nginx", "-v"], capture_output=True, text=True).stderr.strip(),
    }


def status_meminfo(name):
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith(name + ":"):
                return int(line.split()[1])
    return 0


def loadavg():
    with open("/proc/loadavg") as f:
        return float(f.read().split()[0])


# ---------------------------------------------------------------- processes

def stop_process(proc, sig):
    """Sends `sig`, waits up to 15 s for the process to end, then kills it."""
    if proc.poll() is None:
        proc.send_signal(sig)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


class Service:
    """The real binary on a free loopback port with a pinned key (`key_name` None: `extra_env` names the
    key, as MACP_AUTH_SIGNING_KEYS_FILE)."""

    def __init__(self, binary, key_name, extra_env=None):
        env = {k: v for k, v in os.environ.items() if not k.startswith("MACP_AUTH_") and k != "PORT"}
        env.update(PORT="0", MACP_AUTH_BIND_ADDR=HOST)
        if key_name:
            env["MACP_AUTH_SIGNING_KEY_JSON"] = (BENCH_DIR / "keys" / f"{key_name}.jwk.json").read_text().strip()
        env.update(extra_env or {})
        self.started = time.perf_counter()
        self.proc = subprocess.Popen([binary], env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        first = self.proc.stdout.readline()
        m = re.search(r"listening on port (\d+)", first)
        if not m:
            self.stop()
            raise RuntimeError(f"service did not start: {first!r}")
        self.port = int(m.group(1))
        self.pid = self.proc.pid

    def stop(self):
        stop_process(self.proc, signal.SIGTERM)
        self.proc.stdout.close()
        if self.proc.returncode not in (0, -signal.SIGTERM):
            raise RuntimeError(f"service exited with {self.proc.returncode}")

    def cpu_ticks(self):
        return cpu_ticks(self.pid)

    def peak_rss_kib(self):
        return status_field(self.pid, "VmHWM")

    def threads(self):
        return status_field(self.pid, "Threads")

    def switches(self):
        return context_switches(self.pid)


def free_port():
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


class Nginx:
    """Debian's nginx serving one file, tuned as a static server should be."""

    def __init__(self, body, workers):
        self.dir = Path(tempfile.mkdtemp(prefix="macp-bench-nginx-"))
        self.dir.chmod(0o755)
        www = self.dir / "www" / ".well-known"
        www.mkdir(parents=True)
        (www / "jwks.json").write_bytes(body)
        for p in (self.dir / "www", www, www / "jwks.json"):
            p.chmod(0o755 if p.is_dir() else 0o644)
        self.port = free_port()
        user = "user nobody nogroup;" if os.geteuid() == 0 else ""
        conf = f"""
{user}
worker_processes {workers};
daemon off;
pid {self.dir}/nginx.pid;
error_log {self.dir}/error.log warn;
events {{ worker_connections 4096; }}
http {{
  access_log off;
  sendfile on;
  tcp_nodelay on;
  keepalive_requests 1000000;
  keepalive_timeout 60s;
  open_file_cache max=16 inactive=60s;
  client_body_temp_path {self.dir}/tmp;
  proxy_temp_path {self.dir}/tmp;
  fastcgi_temp_path {self.dir}/tmp;
  uwsgi_temp_path {self.dir}/tmp;
  scgi_temp_path {self.dir}/tmp;
  types {{ }}
  default_type application/json;
  server {{
    listen {HOST}:{self.port};
    root {self.dir}/www;
  }}
}}
"""
        (self.dir / "nginx.conf").write_text(conf)
        self.proc = subprocess.Popen(["nginx", "-p", str(self.dir), "-c", str(self.dir / "nginx.conf")],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while True:
            try:
                status, got = http_get(self.port, "/.well-known/jwks.json")
                if status == 200 and got == body:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline or self.proc.poll() is not None:
                self.stop()
                raise RuntimeError("nginx did not start; see " + str(self.dir / "error.log"))
            time.sleep(0.02)
        self.pids = [self.proc.pid] + children_of(self.proc.pid)

    def stop(self):
        stop_process(self.proc, signal.SIGQUIT)  # nginx's graceful stop
        shutil.rmtree(self.dir, ignore_errors=True)

    def cpu_ticks(self):
        return sum(cpu_ticks(p) for p in self.pids)

    def peak_rss_kib(self):
        return sum(status_field(p, "VmHWM") for p in self.pids)

    def switches(self):
        per_pid = [context_switches(p) for p in self.pids]
        return sum(v for v, _ in per_pid), sum(i for _, i in per_pid)


class Redis:
    """Debian's redis-server on a free loopback port, no persistence (the shared rate limiter's buckets)."""

    def __init__(self):
        self.port = free_port()
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", HOST, "--save", "", "--appendonly", "no",
             "--daemonize", "no", "--loglevel", "warning", "--logfile", ""],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while True:
            try:
                with socket.create_connection((HOST, self.port), timeout=1) as s:
                    s.sendall(b"PING\r\n")
                    if s.recv(16).startswith(b"+PONG"):
                        break
            except OSError:
                pass
            if time.monotonic() > deadline or self.proc.poll() is not None:
                stop_process(self.proc, signal.SIGKILL)
                raise RuntimeError(f"redis-server did not answer PING on port {self.port}")
            time.sleep(0.02)
        self.pid = self.proc.pid

    def url(self):
        return f"redis://{HOST}:{self.port}"

    def script_calls(self):
        """How many scripts (EVALSHA, EVAL) it has run: proof that a service used it."""
        with socket.create_connection((HOST, self.port), timeout=5) as s:
            s.sendall(b"INFO commandstats\r\n")
            data = b""
            while b"\r\n" not in data:
                data += s.recv(65536)
            header, _, body = data.partition(b"\r\n")  # a bulk string: $<length>\r\n<text>\r\n
            while len(body) < int(header[1:]) + 2:
                body += s.recv(65536)
        return sum(int(m) for m in re.findall(rb"^cmdstat_eval(?:sha)?:calls=(\d+)", body, re.M))

    def stop(self):
        stop_process(self.proc, signal.SIGTERM)

    def cpu_ticks(self):
        return cpu_ticks(self.pid)


def http_get(port, path, method="GET", body=None):
    conn = http.client.HTTPConnection(HOST, port, timeout=5)
    try:
        headers = {"content-type": "application/json"} if body is not None else {}
        conn.request(method, path, body=body, headers=headers)
        res = conn.getresponse()
        return res.status, res.read()
    finally:
        conn.close()


# ---------------------------------------------------------------- measurements

def run_wrk(port, path, conns, duration, body_file, wrk_threads, scheme="http"):
    threads = max(1, min(wrk_threads, conns))
    env = dict(os.environ, BODY_FILE=str(body_file) if body_file else "")
    cmd = ["wrk", f"-t{threads}", f"-c{conns}", f"-d{duration}s", "--timeout", "10s",
           "-s", str(BENCH_DIR / "wrk_report.lua"), f"{scheme}://{HOST}:{port}{path}"]
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True).stdout
    for line in out.splitlines():
        if line.startswith("WRK_JSON "):
            return json.loads(line[len("WRK_JSON "):])
    raise RuntimeError("wrk printed no summary:\n" + out)


def measure_fresh(binary, key, env, path, conns, duration, body_file, scheme="http", label=None):
    """A fresh process of `binary` under one wrk run (one wrk thread), stopped after; a run with a failed or
    non-2xx request is no measurement, so it ends the benchmark."""
    svc = Service(binary, key, env)
    try:
        row = measure_load(svc, path, conns, duration, body_file, 1, scheme)
    finally:
        svc.stop()
    if row["errors"] or row["non_2xx"]:
        raise SystemExit(f"{label or binary}: {row['errors']} errors, {row['non_2xx']} non-2xx")
    return row


def measure_load(server, path, conns, duration, body_file, wrk_threads, scheme="http"):
    before, (vol_before, invol_before) = server.cpu_ticks(), server.switches()
    w = run_wrk(server.port, path, conns, duration, body_file, wrk_threads, scheme)
    cpu_s = (server.cpu_ticks() - before) / TICKS_PER_SECOND
    vol, invol = server.switches()
    n = max(1, w["requests"])
    errors = w["connect_errors"] + w["read_errors"] + w["write_errors"] + w["timeouts"]
    return {
        "conns": conns,
        "requests": w["requests"],
        "rps": w["requests"] / (w["duration_us"] / 1e6),
        "p50_ms": w["p50_us"] / 1e3,
        "p99_ms": w["p99_us"] / 1e3,
        "mean_ms": w["mean_us"] / 1e3,
        "max_ms": w["max_us"] / 1e3,
        "cpu_us_per_req": cpu_s * 1e6 / n,
        "sleeps_per_req": (vol - vol_before) / n,
        "preempted_per_req": (invol - invol_before) / n,
        "peak_rss_kib": server.peak_rss_kib(),
        "errors": errors,
        "non_2xx": w["status_errors"],
    }


SIGN_ALG = {"mint-rs256": "rsa2048", "mint-es256": "ecdsap256"}


def openssl_sign_cpu_us(alg, seconds):
    """CPU (user) microseconds per sign on one core, as `openssl speed` measures it."""
    out = subprocess.run(["openssl", "speed", "-mr", "-seconds", str(seconds), alg],
                         capture_output=True, text=True, check=True).stdout
    tag, bits = {"rsa2048": ("+F2", "2048"), "ecdsap256": ("+F4", "256")}[alg]
    for line in out.splitlines():
        parts = line.split(":")
        if parts[0] == tag and parts[2] == bits:
            return 1e6 / float(parts[3])
    raise RuntimeError("could not read openssl speed output:\n" + out)


def startup_ms(binary, samples):
    """exec -> first 200 on /healthz, pinned RSA key."""
    times = []
    for _ in range(samples):
        svc = Service(binary, "rs256")
        status, _ = http_get(svc.port, "/healthz")
        elapsed = (time.perf_counter() - svc.started) * 1e3
        svc.stop()
        if status != 200:
            raise RuntimeError(f"/healthz answered {status}")
        times.append(elapsed)
    return statistics.median(times)


def check_endpoint(svc, scenario):
    _, method, path, body_file = SCENARIOS[scenario]
    body = body_file.read_bytes() if body_file else None
    status, got = http_get(svc.port, path, method, body)
    if status != 200:
        raise RuntimeError(f"{scenario}: {method} {path} answered {status}: {got[:200]!r}")
    return got


def measure_ours(args, scenario, conns):
    key, _method, path, body_file = SCENARIOS[scenario]
    svc = Service(args.binary, key)
    try:
        check_endpoint(svc, scenario)
        row = measure_load(svc, path, conns, args.duration, body_file, args.wrk_threads)
        row["threads"] = svc.threads()
    finally:
        svc.stop()
    return row


def measure_nginx(args, body, workers, conns):
    ngx = Nginx(body, workers)
    try:
        return measure_load(ngx, "/.well-known/jwks.json", conns, args.duration, None, args.wrk_threads)
    finally:
        ngx.stop()


def one_round(args, round_no):
    """Each ratio's two sides are measured next to each other in time: the machine is shared."""
    result = {"loadavg_start": loadavg(), "ours": {name: [] for name in SCENARIOS}, "nginx": []}

    def note(name, row):
        log(f"round {round_no}: {name} c={row['conns']}: {row['rps']:.0f} req/s, p99 {row['p99_ms']:.2f} ms, "
            f"{row['cpu_us_per_req']:.1f} us CPU/req")

    # The sign ceiling brackets every mint load: openssl speed right before and right after it
    # (each run serves as the next load's "before"), and the load is compared with their mean.
    samples = {alg: [] for alg in SIGN_ALG.values()}
    for scenario, alg in SIGN_ALG.items():
        log(f"round {round_no}: openssl speed {alg}")
        before = openssl_sign_cpu_us(alg, args.openssl_seconds)
        samples[alg].append(before)
        for conns in args.conns:
            row = measure_ours(args, scenario, conns)
            after = openssl_sign_cpu_us(alg, args.openssl_seconds)
            samples[alg].append(after)
            row["ceiling_cpu_us"] = (before + after) / 2
            row["cpu_vs_ceiling"] = row["cpu_us_per_req"] / row["ceiling_cpu_us"]
            result["ours"][scenario].append(row)
            note(scenario, row)
            before = after
    result["openssl_samples"] = samples
    result["openssl"] = {f"{alg}_cpu_us": statistics.median(v) for alg, v in samples.items()}
    result["openssl"].update({f"{alg}_sign_per_s": 1e6 / statistics.median(v) for alg, v in samples.items()})

    # The static-file ceiling: nginx right after our JWKS at each connection count, same bytes.
    svc = Service(args.binary, SCENARIOS["jwks"][0])
    try:
        jwks_body = check_endpoint(svc, "jwks")
        threads = svc.threads()
    finally:
        svc.stop()
    result["service_threads"] = threads
    for conns in args.conns:
        ours = measure_ours(args, "jwks", conns)
        note("jwks", ours)
        ngx = measure_nginx(args, jwks_body, threads, conns)
        note("nginx", ngx)
        ours["rps_vs_nginx"] = ours["rps"] / ngx["rps"]
        ours["cpu_vs_nginx"] = ours["cpu_us_per_req"] / ngx["cpu_us_per_req"]
        result["ours"]["jwks"].append(ours)
        result["nginx"].append(ngx)
        result["ours"]["healthz"].append(measure_ours(args, "healthz", conns))
        note("healthz", result["ours"]["healthz"][-1])
    result["startup_ms"] = startup_ms(args.binary, args.startup_samples)
    result["loadavg_end"] = loadavg()
    return result


# ---------------------------------------------------------------- summary

def ratios(r, headline_conns):
    """The targets of issue #4, computed inside one round."""
    def at(rows, conns):
        return next(x for x in rows if x["conns"] == conns)
    o = r["ours"]
    h = headline_conns
    out = {
        "rs256_cpu_vs_openssl": at(o["mint-rs256"], h)["cpu_vs_ceiling"],
        "es256_cpu_vs_openssl": at(o["mint-es256"], h)["cpu_vs_ceiling"],
        "jwks_rps_vs_nginx": at(o["jwks"], h)["rps_vs_nginx"],
        "startup_ms": r["startup_ms"],
    }
    top = max(x["conns"] for x in r["nginx"])
    out[f"peak_rss_mib_at_{top}"] = max(at(rows, top)["peak_rss_kib"] for rows in o.values()) / 1024
    for name, rows in list(o.items()) + [("nginx", r["nginx"])]:
        row = at(rows, h)
        out[f"{name}_p99_vs_little"] = row["p99_ms"] / (h / row["rps"] * 1e3)
    return out


def median_rows(rounds, pick):
    """Median of every numeric field over rounds, row by row (same connection counts in every round)."""
    per_round = [pick(r) for r in rounds]
    rows = []
    for i, first in enumerate(per_round[0]):
        row = {}
        for k, v in first.items():
            vals = [rr[i][k] for rr in per_round]
            if k in ("errors", "non_2xx"):
                row[k] = max(vals)  # any error in any round counts
            elif k in ("conns", "threads"):
                row[k] = first[k]
            else:
                row[k] = statistics.median(vals)
        rows.append(row)
    return rows


def summarize(rounds, headline_conns):
    ratio_rounds = [ratios(r, headline_conns) for r in rounds]
    return {
        "openssl": {k: statistics.median(r["openssl"][k] for r in rounds) for k in rounds[0]["openssl"]},
        "ours": {s: median_rows(rounds, lambda r, s=s: r["ours"][s]) for s in rounds[0]["ours"]},
        "nginx": median_rows(rounds, lambda r: r["nginx"]),
        "ratios": {k: statistics.median(rr[k] for rr in ratio_rounds) for k in ratio_rounds[0]},
        "ratios_per_round": ratio_rounds,
        "service_threads": rounds[0]["service_threads"],
    }


def markdown(summary, meta):
    s = summary
    o = s["openssl"]
    lines = [
        f"Machine: {meta['machine']['nproc']} × {meta['machine']['cpu_model']}, Linux {meta['machine']['kernel']}; "
        f"{meta['machine']['openssl']}; {meta['machine']['wrk']}; {meta['machine']['nginx']}.",
        f"Rounds: {meta['rounds']}, {meta['duration']} s per load point, wrk threads ≤ {meta['wrk_threads']}; "
        f"service threads: {s['service_threads']}; load average at start of rounds: "
        f"{', '.join(f'{x:.1f}' for x in meta['loadavg'])}. All figures are medians over rounds.",
        "",
        f"Ceilings (`openssl speed`, one core, median of the runs that bracket each mint load): rsa2048 sign "
        f"{o['rsa2048_cpu_us']:.1f} µs CPU ({o['rsa2048_sign_per_s']:.0f}/s); ecdsap256 sign {o['ecdsap256_cpu_us']:.1f} "
        f"µs CPU ({o['ecdsap256_sign_per_s']:.0f}/s). \"CPU vs ceiling\" divides each load's CPU per request by the mean "
        f"of the two runs right before and after it; JWKS is compared with nginx measured right after it.",
        "",
        "| load | conns | req/s | p50 ms | p99 ms | CPU µs/req | CPU vs ceiling | sleeps/req | preempted/req | peak RSS MiB | errors | non-2xx |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    series = list(s["ours"].items()) + [("nginx jwks (ceiling)", s["nginx"])]
    for name, rows in series:
        for x in rows:
            if "cpu_vs_ceiling" in x:
                vs = f"{x['cpu_vs_ceiling']:.2f}× sign"
            elif "rps_vs_nginx" in x:
                vs = f"{x['rps_vs_nginx']:.2f}× nginx req/s, {x['cpu_vs_nginx']:.2f}× its CPU"
            else:
                vs = ""
            lines.append(f"| {name} | {x['conns']} | {x['rps']:.0f} | {x['p50_ms']:.2f} | {x['p99_ms']:.2f} | "
                         f"{x['cpu_us_per_req']:.1f} | {vs} | {x['sleeps_per_req']:.2f} | {x['preempted_per_req']:.3f} | "
                         f"{x['peak_rss_kib'] / 1024:.1f} | {x['errors']} | "
                         f"{x['non_2xx']} |")
    r = s["ratios"]
    h = meta["headline_conns"]
    top = max(meta["conns"])
    lines += [
        "",
        "| target | measured (median of per-round ratios) | goal | met |",
        "|---|---:|---:|:-:|",
        f"| RS256 server CPU per mint / OpenSSL rsa2048 sign (c={h}) | {r['rs256_cpu_vs_openssl']:.2f}× | ≤ 1.10× | "
        f"{'yes' if r['rs256_cpu_vs_openssl'] <= 1.10 else 'no'} |",
        f"| ES256 server CPU per mint / OpenSSL ecdsap256 sign (c={h}) | {r['es256_cpu_vs_openssl']:.2f}× | ≤ 2.0× | "
        f"{'yes' if r['es256_cpu_vs_openssl'] <= 2.0 else 'no'} |",
        f"| JWKS GET req/s / nginx static file (c={h}) | {r['jwks_rps_vs_nginx']:.2f}× | ≥ 1.0× | "
        f"{'yes' if r['jwks_rps_vs_nginx'] >= 1.0 else 'no'} |",
        f"| peak RSS at {top} connections (worst load) | {r[f'peak_rss_mib_at_{top}']:.1f} MiB | ≤ 16 MiB | "
        f"{'yes' if r[f'peak_rss_mib_at_{top}'] <= 16 else 'no'} |",
        f"| exec → first 200 on /healthz, pinned RSA key | {r['startup_ms']:.1f} ms | ≤ 50 ms | "
        f"{'yes' if r['startup_ms'] <= 50 else 'no'} |",
    ]
    for name in s["ours"]:
        v = r[f"{name}_p99_vs_little"]
        lines.append(f"| {name} p99 / Little's-law mean ({h}/throughput), c={h} | {v:.2f}× | ≤ 3× | "
                     f"{'yes' if v <= 3 else 'no'} |")
    lines.append(f"| (reference) nginx p99 / Little's-law mean, c={h} | {r['nginx_p99_vs_little']:.2f}× | | |")
    return "\n".join(lines) + "\n"


def micro_markdown(path):
    """Medians of the Google Benchmark repetitions, with our signing paths against the bare EVP sign."""
    data = json.loads(Path(path).read_text())
    med = {b["run_name"]: b for b in data["benchmarks"] if b.get("aggregate_name") == "median"}
    scale = {"ns": 1e-3, "us": 1.0, "ms": 1e3}
    cpu_us = {name: b["cpu_time"] * scale[b["time_unit"]] for name, b in med.items()}
    lines = ["| micro-benchmark (median of repetitions) | CPU µs | vs bare EVP sign |", "|---|---:|---:|"]
    for name, us in sorted(cpu_us.items()):  # interleaved repetitions report in random order
        vs = ""
        m = re.search(r"/es256:(\d)$", name)
        bare = f"BM_BareEvpSign/es256:{m.group(1)}" if m else None
        if bare and bare in cpu_us and name.startswith(("BM_JoseSign", "BM_SignCompact", "BM_Mint")):
            vs = f"{us / cpu_us[bare]:.3f}×"
        label = name.replace("/es256:0", " RS256").replace("/es256:1", " ES256").replace("/jwks:0", " /healthz") \
                    .replace("/jwks:1", " JWKS")
        lines.append(f"| {label} | {us:.2f} | {vs} |")
    return "\n".join(lines) + "\n"


def plot(summary, out_dir):
    """Throughput and p99 against connections, ours beside the ceilings (gnuplot)."""
    s = summary
    threads = s["service_threads"]
    o = s["openssl"]
    names = list(s["ours"])
    with open(out_dir / "plot.dat", "w") as f:
        f.write("# conns " + " ".join(f"{n}_rps" for n in names) + " nginx_rps rsa_ceiling_rps ecdsa_ceiling_rps "
                + " ".join(f"{n}_p99" for n in names) + " nginx_p99\n")
        for i, x in enumerate(s["nginx"]):
            ours = [s["ours"][n][i] for n in names]
            f.write(" ".join([str(x["conns"])] + [f"{r['rps']:.1f}" for r in ours] + [f"{x['rps']:.1f}"]
                             + [f"{o['rsa2048_sign_per_s'] * threads:.1f}", f"{o['ecdsap256_sign_per_s'] * threads:.1f}"]
                             + [f"{r['p99_ms']:.3f}" for r in ours] + [f"{x['p99_ms']:.3f}"]) + "\n")
    subprocess.run(["gnuplot", "-e", f"datafile='{out_dir / 'plot.dat'}'; outfile='{out_dir / 'load.png'}'; "
                                     f"threads={threads}", str(BENCH_DIR / "plot.gp")], check=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--binary")
    ap.add_argument("--out", required=True, type=Path)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--duration", type=int, default=5, help="seconds of wrk per load point")
    ap.add_argument("--conns", type=lambda v: [int(c) for c in v.split(",")], default=[1, 8, 64, 256])
    ap.add_argument("--headline-conns", type=int, default=64)
    ap.add_argument("--wrk-threads", type=int, default=1)
    ap.add_argument("--openssl-seconds", type=int, default=1, help="per openssl speed run (it signs, then verifies)")
    ap.add_argument("--startup-samples", type=int, default=10)
    ap.add_argument("--micro", type=Path, help="Google Benchmark JSON to add to the table")
    ap.add_argument("--from-results", type=Path, help="render the table and plot of an earlier results.json only")
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)

    if args.from_results:
        data = json.loads(args.from_results.read_text())
        table = markdown(data["summary"], data["meta"])
        if args.micro:
            table += "\n" + micro_markdown(args.micro)
        (args.out / "load.md").write_text(table)
        plot(data["summary"], args.out)
        print(table)
        return 0

    if not args.binary:
        ap.error("--binary is required unless --from-results is given")
    meta = {"machine": machine(), "rounds": args.rounds, "duration": args.duration, "conns": args.conns,
            "headline_conns": args.headline_conns, "wrk_threads": args.wrk_threads,
            "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    rounds = [one_round(args, i + 1) for i in range(args.rounds)]
    meta["loadavg"] = [r["loadavg_start"] for r in rounds]
    summary = summarize(rounds, args.headline_conns)
    (args.out / "results.json").write_text(json.dumps({"meta": meta, "summary": summary, "rounds": rounds},
                                                      indent=2) + "\n")
    table = markdown(summary, meta)
    if args.micro:
        table += "\n" + micro_markdown(args.micro)
    (args.out / "load.md").write_text(table)
    plot(summary, args.out)
    print(table)
    bad = [name for name, rows in list(summary["ours"].items()) + [("nginx", summary["nginx"])]
           for x in rows if x["errors"] or x["non_2xx"]]
    if bad:
        log("errors or non-2xx responses in: " + ", ".join(sorted(set(bad))))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
