#!/bin/sh
# Builds tsbench's small C programs into dist/bin. Called by `npm run build` after tsc.
# Each line: output name, source, extra flags. All are static so that the very same
# binary runs natively, as PID 1 of a container and as PID 1 of a VM.
set -eu
cd "$(dirname "$0")/.."
CC=${CC:-cc}
mkdir -p dist/bin
build() {
  out=dist/bin/$1; src=$2; shift 2
  # Rebuild only when a source (or the .h beside it) is newer than the binary.
  stale=0
  for f in "$src" "$@"; do
    for g in "$f" "${f%.c}.h"; do [ -f "$g" ] && [ "$g" -nt "$out" ] && stale=1; done
  done
  if [ ! -x "$out" ] || [ "$stale" = 1 ] || [ "$0" -nt "$out" ]; then
    $CC -O2 -Wall -Wextra -Werror -std=gnu11 -static -o "$out.tmp" "$src" "$@"
    mv -f "$out.tmp" "$out"
  fi
}
# The launcher's container mode compiles seccomp filters with libseccomp (Debian: libseccomp-dev,
# whose libseccomp.a links statically like glibc's).
if [ -f drivers/container/nsexec.c ] && ! printf '#include <seccomp.h>\n' | $CC -E - >/dev/null 2>&1; then
  echo "build-c: seccomp.h is missing: install libseccomp-dev (scripts/setup.sh lists it)" >&2
  exit 1
fi
for spec in "tsbench-launch drivers/launcher/launcher.c drivers/container/nsexec.c -lseccomp" "tsbench-agent drivers/agent/agent.c" \
  "tsbench-syscalls drivers/image/syscalls.c"; do
  set -- $spec
  [ -f "$2" ] && build "$@"
done
exit 0
