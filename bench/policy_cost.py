#!/usr/bin/env python3
"""CPU per ES256 mint with callers on against open minting, and what Redis buckets add to a mint's latency;
the same binary side by side, alternating.

    python3 bench/policy_cost.py --rounds 3 --duration 4 build/macp-auth-service

"callers": a clients file of 1000 clients (the caller is one of them, by bearer secret), a policy with
ceilings and the audit log to a file (issue 11's measurement); "callers+rate" the same with a rate high
enough never to refuse, so the bucket is still taken per request (SPEC §9's rate limit + audit + metrics);
"callers+redis" that with the buckets in a redis-server this script starts. Metrics are on in all (they
cannot be turned off). Each round loads every variant at --conns for CPU per mint, then the
in-process and the Redis buckets at --latency-conns (1: no queueing) for p50/p99. Loopback only; a
benchmark, never a test.
"""

import argparse
import hashlib
import json
import os
import random
import secrets
import statistics
import tempfile

import load


def clients_file(directory, rate=True):
    """1000 clients, each with a rate when `rate`; returns (path, the bearer secret of client 500)."""
    clients, ours = [], None
    for i in range(1000):
        secret = "macp_" + secrets.token_urlsafe(32)
        if i == 500:
            ours = secret
        client = {
            "id": f"client-{i}",
            "secrets_sha256": [hashlib.sha256(secret.encode()).hexdigest()],
            "senders": ["agent://*"],
            "scopes": {"can_start_sessions": True, "allowed_modes": ["macp.mode.decision.v1", "macp.mode.*"],
                       "max_open_sessions": 5, "other_scopes": True},
        }
        if rate:
            client["rate"] = {"per_second": 1000000, "burst": 1000000}
        clients.append(client)
    path = os.path.join(directory, "clients-rate.json" if rate else "clients.json")
    with open(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as f:
        json.dump({"clients": clients}, f)
    return path, ours


def run(args, svc_env, authorization, path, body, conns, redis=None):
    """One fresh service under wrk; the row, plus redis-server's CPU per request when it is given."""
    os.environ["AUTHORIZATION"] = authorization
    svc = load.Service(args.binary, "es256", svc_env)
    try:
        redis_before = (redis.cpu_ticks(), redis.script_calls()) if redis else None
        row = load.measure_load(svc, path, conns, args.duration, body, 1)
        if redis:
            redis_s = (redis.cpu_ticks() - redis_before[0]) / load.TICKS_PER_SECOND
            row["redis_cpu_us_per_req"] = redis_s * 1e6 / max(1, row["requests"])
            if redis.script_calls() - redis_before[1] < row["requests"]:
                raise SystemExit("the service did not take its buckets from Redis")
    finally:
        svc.stop()
    if row["errors"] or row["non_2xx"]:
        raise SystemExit(f"{row['errors']} errors, {row['non_2xx']} non-2xx")
    return row


def median(rows, key):
    return statistics.median(r[key] for r in rows)


def median_interval(values, resamples=10000, seed=1):
    """A 95 % percentile-bootstrap interval for the median of `values`: how far the second decimal can be trusted."""
    rng = random.Random(seed)
    medians = sorted(statistics.median(rng.choices(values, k=len(values))) for _ in range(resamples))
    return medians[int(0.025 * resamples)], medians[int(0.975 * resamples) - 1]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--duration", type=int, default=4, help="seconds of wrk per run")
    ap.add_argument("--conns", type=int, default=64)
    ap.add_argument("--latency-conns", type=int, default=1,
                    help="connections of the latency runs (in-process against Redis buckets)")
    ap.add_argument("--no-redis", action="store_true", help="open and callers only (a build without the Redis limiter)")
    ap.add_argument("--only", help="comma-separated variants to run besides open (callers, callers+rate, callers+redis): "
                                   "more rounds of one comparison in the same time")
    ap.add_argument("binary")
    args = ap.parse_args()

    _, _, path, body = load.SCENARIOS["mint-es256"]
    needs_redis = not args.no_redis and (not args.only or "callers+redis" in args.only.split(","))
    redis = load.Redis() if needs_redis else None
    try:
        with tempfile.TemporaryDirectory() as directory:
            audit = {"MACP_AUTH_AUDIT_LOG": os.path.join(directory, "audit.log")}
            clients, secret = clients_file(directory, rate=False)
            rated, rated_secret = clients_file(directory, rate=True)
            callers = {"MACP_AUTH_CLIENTS_FILE": clients, **audit}
            with_rate = {"MACP_AUTH_CLIENTS_FILE": rated, **audit}
            variants = {"open": ({}, ""), "callers": (callers, f"Bearer {secret}"),
                        "callers+rate": (with_rate, f"Bearer {rated_secret}")}
            if redis:
                variants["callers+redis"] = ({**with_rate, "MACP_AUTH_RATE_LIMIT_REDIS_URL": redis.url()},
                                             f"Bearer {rated_secret}")
            if args.only:
                wanted = {"open", *args.only.split(",")}
                if not wanted <= set(variants):
                    raise SystemExit(f"--only: unknown variant among {sorted(wanted - set(variants))}")
                variants = {name: value for name, value in variants.items() if name in wanted}
            rows = {name: [] for name in variants}
            latency = {name: [] for name in ("callers+rate", "callers+redis")} if redis and not args.only else {}
            for round_no in range(1, args.rounds + 1):
                for name, (env, authorization) in variants.items():
                    row = run(args, env, authorization, path, body, args.conns, redis if "redis" in name else None)
                    rows[name].append(row)
                    extra = f" + redis-server {row['redis_cpu_us_per_req']:.1f}" if "redis" in name else ""
                    print(f"round {round_no} {name} c={args.conns}: {row['rps']:.0f} req/s, "
                          f"{row['cpu_us_per_req']:.1f}{extra} CPU us/req", flush=True)
                for name in latency:
                    env, authorization = variants[name]
                    row = run(args, env, authorization, path, body, args.latency_conns, redis if "redis" in name else None)
                    latency[name].append(row)
                    print(f"round {round_no} {name} c={args.latency_conns}: p50 {row['p50_ms'] * 1e3:.0f} us, "
                          f"p99 {row['p99_ms'] * 1e3:.0f} us", flush=True)
    finally:
        if redis:
            redis.stop()

    cpu = {name: median(runs, "cpu_us_per_req") for name, runs in rows.items()}
    print(f"median service CPU us/req (c={args.conns}): " + ", ".join(f"{n} {v:.1f}" for n, v in cpu.items())
          + (f"; redis-server {median(rows['callers+redis'], 'redis_cpu_us_per_req'):.1f} more with Redis" if "callers+redis" in rows else ""))
    for name in [n for n in rows if n != "open"]:
        ratios = [c["cpu_us_per_req"] / o["cpu_us_per_req"] for o, c in zip(rows["open"], rows[name])]
        low, high = median_interval(ratios)
        print(f"{name} / open per round: {', '.join(f'{r:.3f}' for r in ratios)}; median {statistics.median(ratios):.3f}"
              f" (95 % bootstrap interval {low:.3f}-{high:.3f})")
    for key in ("p50_ms", "p99_ms") if latency else ():
        local, shared = (median(latency[n], key) * 1e3 for n in ("callers+rate", "callers+redis"))
        print(f"median {key[:3]} (c={args.latency_conns}): in process {local:.0f} us, Redis {shared:.0f} us, "
              f"added {shared - local:+.0f} us")


if __name__ == "__main__":
    main()
