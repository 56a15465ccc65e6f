#!/bin/sh
# Writes macp-auth-service(8), gzipped, from the binary's own --help texts (help2man, Debian's package):
# the overview from `--help`, then one section per command from `<command> --help`.
# Usage: manpage.sh BINARY OUT.8.gz
set -eu
bin=$1
out=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# The first word of each line in the block that follows a heading ("commands:", "verbs:") of a --help text.
listed() { sed -n "/^$1:\$/,/^\$/s/^  \([a-z-]*\) .*/\1/p"; }
section() {
  echo ".SS $*"
  echo '.nf'
  # roff: a leading dot or quote would be a request, a backslash an escape.
  "$bin" "$@" --help | sed -e 's/\\/\\e/g' -e "s/^\([.']\)/\\\\\&\1/"
  echo '.fi'
}

{
  echo '[COMMANDS]'
  for command in $("$bin" --help | listed commands); do
    section "$command"
    for verb in $("$bin" "$command" --help | listed verbs); do
      section "$command" "$verb"
    done
  done
  echo '[FILES]'
  echo '.TP'
  echo '.I /etc/default/macp-auth-service'
  echo 'the environment of macp-auth-service.service'
  echo '.TP'
  echo '.I /etc/macp-auth-service/'
  echo 'the key set and the clients file, readable by the service'"'"'s user only'
  echo '[SEE ALSO]'
  echo '/usr/share/doc/macp-auth-service/ (operations.md.gz, configuration.md.gz, api.md.gz)'
} > "$work/commands.h2m"

# A fixed date keeps the page the same from build to build.
SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-1796198400} help2man --no-info --section=8 \
  --name='mints short-lived MACP agent JWTs and publishes the JWKS' \
  --include="$work/commands.h2m" --output="$work/page.8" "$bin"
gzip -n -9 -c "$work/page.8" > "$out"
