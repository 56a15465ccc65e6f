#!/usr/bin/env python3
"""CPU per ES256 mint with callers on against open minting, the same binary side by side, alternating.

    python3 bench/policy_cost.py --rounds 3 --duration 4 build/macp-auth-service

"callers on": a clients file of 1000 clients (the caller is one of them, by bearer secret), a policy with
ceilings, a rate high enough never to refuse (the bucket is still taken per request), and the audit log
to a file. Metrics are on in both (they cannot be turned off). Loopback only; a benchmark, never a test.
"""

import argparse
import hashlib
import json
import os
import secrets
import statistics
import tempfile

import load


def clients_file(directory):
    """1000 clients; returns (path, the bearer secret of client 500)."""
    clients, ours = [], None
    for i in range(1000):
        secret = "macp_" + secrets.token_urlsafe(32)
        if i == 500:
            ours = secret
        clients.append({
            "id": f"client-{i}",
            "secrets_sha256": [hashlib.sha256(secret.encode()).hexdigest()],
            "senders": ["agent://*"],
            "scopes": {"can_start_sessions": True, "allowed_modes": ["macp.mode.decision.v1", "macp.mode.*"],
                       "max_open_sessions": 5, "other_scopes": True},
            "rate": {"per_second": 1000000, "burst": 1000000},
        })
    path = os.path.join(directory, "clients.json")
    with open(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as f:
        json.dump({"clients": clients}, f)
    return path, ours


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--duration", type=int, default=4, help="seconds of wrk per run")
    ap.add_argument("--conns", type=int, default=64)
    ap.add_argument("binary")
    args = ap.parse_args()

    _, _, path, body = load.SCENARIOS["mint-es256"]
    with tempfile.TemporaryDirectory() as directory:
        clients, secret = clients_file(directory)
        variants = {
            "open": ({}, ""),
            "callers": ({"MACP_AUTH_CLIENTS_FILE": clients,
                         "MACP_AUTH_AUDIT_LOG": os.path.join(directory, "audit.log")}, f"Bearer {secret}"),
        }
        rows = {name: [] for name in variants}
        for _ in range(args.rounds):
            for name, (env, authorization) in variants.items():
                os.environ["AUTHORIZATION"] = authorization
                svc = load.Service(args.binary, "es256", env)
                try:
                    row = load.measure_load(svc, path, args.conns, args.duration, body, 1)
                finally:
                    svc.stop()
                if row["errors"] or row["non_2xx"]:
                    raise SystemExit(f"{name}: {row['errors']} errors, {row['non_2xx']} non-2xx")
                rows[name].append(row)
                print(f"{name}: {row['rps']:.0f} req/s, {row['cpu_us_per_req']:.1f} CPU us/req", flush=True)
        medians = {name: statistics.median(r["cpu_us_per_req"] for r in runs) for name, runs in rows.items()}
        ratios = [c["cpu_us_per_req"] / o["cpu_us_per_req"] for o, c in zip(rows["open"], rows["callers"])]
        print(f"median CPU us/req: open {medians['open']:.1f}, callers {medians['callers']:.1f}; "
              f"per-round ratios {', '.join(f'{r:.3f}' for r in ratios)}; median ratio {statistics.median(ratios):.3f}")


if __name__ == "__main__":
    main()
