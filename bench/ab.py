#!/usr/bin/env python3
"""Side-by-side A/B of two or more builds of the service under one load, alternating.

    python3 bench/ab.py --scenario jwks --conns 64 --rounds 3 --duration 4 OLD_BINARY NEW_BINARY

Each round starts every binary in turn (fresh process, pinned key) and loads it
with wrk exactly as bench/load.py does; the report gives each run and the
medians. Only loopback; a benchmark, never a test.
"""

import argparse
import statistics

import load


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scenario", choices=sorted(load.SCENARIOS), default="jwks")
    ap.add_argument("--conns", type=int, default=64)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--duration", type=int, default=4, help="seconds of wrk per run")
    ap.add_argument("binaries", nargs="+")
    args = ap.parse_args()

    key, _, path, body = load.SCENARIOS[args.scenario]
    rows = {b: [] for b in args.binaries}
    for _ in range(args.rounds):
        for binary in args.binaries:
            row = load.measure_fresh(binary, key, None, path, args.conns, args.duration, body)
            rows[binary].append(row)
            print(f"{binary}: {row['rps']:.0f} req/s, {row['cpu_us_per_req']:.1f} CPU us/req, "
                  f"p99 {row['p99_ms']:.2f} ms", flush=True)
    for binary, runs in rows.items():
        med = {k: statistics.median(r[k] for r in runs) for k in ("rps", "cpu_us_per_req", "p99_ms")}
        print(f"median {binary}: {med['rps']:.0f} req/s, {med['cpu_us_per_req']:.1f} CPU us/req, "
              f"p99 {med['p99_ms']:.2f} ms")


if __name__ == "__main__":
    main()
