#!/usr/bin/env bash
# By hand, not in CI (about 2 minutes, and it downloads Debian 12 from the Debian mirror): installs the .deb
# into a fresh minimal Debian 12 root (mmdebstrap), makes the key set as the service's user, then boots the
# root with systemd as PID 1 (systemd-nspawn --boot, its own network namespace) and there enables and starts
# the unit, checks it with `macp-auth-service healthcheck`, reloads it (SIGHUP) and stops it (SIGTERM).
# Needs root, mmdebstrap and systemd-container. Usage: tests/package/boot_check.sh [path/to.deb]
set -euo pipefail
cd "$(dirname "$0")/../.."
deb=$(realpath "${1:-$(ls build/package/macp-auth-service_*.deb | tail -n 1)}")
root=$(mktemp -d /tmp/macp-deb12-XXXXXX)
trap 'umount "$root/proc" 2>/dev/null || true; rm -rf "$root"' EXIT

# A fresh Debian 12 with systemd, then the package as an operator installs it (apt pulls its dependencies).
mmdebstrap --quiet --variant=minbase --include=systemd,systemd-sysv,dbus bookworm "$root" http://deb.debian.org/debian
cp "$deb" "$root/tmp/"
cp /etc/resolv.conf "$root/etc/resolv.conf"
mount -t proc proc "$root/proc"
chroot "$root" apt-get update -qq
DEBIAN_FRONTEND=noninteractive chroot "$root" apt-get install -y -qq --no-install-recommends "/tmp/$(basename "$deb")" >/dev/null
chroot "$root" runuser -u macp-auth-service -- macp-auth-service keys init --file /etc/macp-auth-service/keys.json
umount "$root/proc"

# Inside the booted container: what docs/operations.md tells an operator to do, then power off.
cat > "$root/usr/local/sbin/macp-boot-check" <<'SCRIPT'
#!/bin/sh
exec > /root/boot-check.log 2>&1
set -ex
systemctl enable --now macp-auth-service.service
sleep 2
systemctl is-active macp-auth-service.service
macp-auth-service healthcheck
test "$(ps -o user= -C macp-auth-service)" = macp-auth-service
systemctl reload macp-auth-service.service
sleep 1
journalctl -u macp-auth-service --no-pager | grep -q 'keys reloaded'
systemctl stop macp-auth-service.service
journalctl -u macp-auth-service --no-pager | grep -q 'stopped'
journalctl -u macp-auth-service --no-pager
echo BOOT-CHECK-PASSED
SCRIPT
chmod 755 "$root/usr/local/sbin/macp-boot-check"
cat > "$root/etc/systemd/system/macp-boot-check.service" <<'UNIT'
[Unit]
After=multi-user.target
[Service]
Type=oneshot
ExecStart=/usr/local/sbin/macp-boot-check
ExecStopPost=/bin/systemctl --no-block poweroff
[Install]
WantedBy=multi-user.target
UNIT
ln -s /etc/systemd/system/macp-boot-check.service "$root/etc/systemd/system/multi-user.target.wants/"
timeout 180 systemd-nspawn --quiet --directory="$root" --boot --private-network --register=no --keep-unit \
  >/dev/null 2>&1 || true
cat "$root/root/boot-check.log"
grep -q BOOT-CHECK-PASSED "$root/root/boot-check.log"
