#!/usr/bin/env bash
# Prometheus's own checker on what the service exports and on the alerting rules (Debian's prometheus
# package provides promtool; scripts/bootstrap installs it). Missing promtool is a failure, not a skip.
#   promtool.sh metrics EXPOSITION_SAMPLE_BIN RULES_FILE
#     `promtool check metrics` on the exposition, and every macp_auth_ metric the rules use is in it.
#   promtool.sh rules RULES_FILE RULES_TEST_FILE
#     `promtool check rules`, then `promtool test rules`.
set -euo pipefail

if ! command -v promtool >/dev/null; then
  echo "promtool not found: install Debian's prometheus package (scripts/bootstrap does)" >&2
  exit 1
fi

case "${1:-}" in
  metrics)
    exposition=$("$2")
    # promtool reads stdin; a parse error or a lint problem (a counter without _total, …) exits non-zero.
    promtool check metrics <<<"$exposition"
    missing=0
    for family in $(grep -o 'macp_auth_[a-z_]*' "$3" | sort -u); do
      if ! grep -q "^# TYPE ${family} " <<<"$exposition"; then
        echo "$3 uses $family, which the service does not export" >&2
        missing=1
      fi
    done
    [ "$missing" = 0 ]
    echo "promtool check metrics: OK ($(grep -c '^# TYPE ' <<<"$exposition") families)"
    ;;
  rules)
    promtool check rules "$2"
    promtool test rules "$3"
    ;;
  *)
    echo "usage: $0 metrics EXPOSITION_SAMPLE_BIN RULES_FILE | rules RULES_FILE RULES_TEST_FILE" >&2
    exit 2
    ;;
esac
