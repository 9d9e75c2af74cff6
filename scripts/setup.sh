#!/usr/bin/env bash
# Sets up tsbench on a fresh Debian (bookworm) machine, as root. Idempotent:
# installs the Debian packages, the npm dependencies, builds, fetches the guest
# kernel, builds the lean guest kernel and the workload images, lean and Debian
# (all cached; a second run is quick).
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(
  build-essential      # cc for the static agent and launcher (glibc static libs come with libc6-dev)
  libseccomp-dev       # the launcher compiles the container's seccomp filter (static libseccomp.a)
  busybox-static       # the image's shell and core utilities
  cpio zstd            # packing the initramfs
  e2fsprogs            # mkfs.ext4 -d and resize2fs: the VMs' root disk, and their data disks
  mmdebstrap           # the Debian image (tsbench image build --image debian), from the host's apt sources
  fio sysbench stress-ng  # the workloads
  # the net scenario: iperf3 and sockperf, servers in every instance (both images carry them) and
  # clients on the host; nft for its nat network's DNAT and masquerade, inside the run's namespaces
  iperf3 sockperf nftables
  qemu-system-x86      # the kvm and tcg targets
  iproute2 procps kmod # ip, ps/pgrep, modinfo
  hyperfine            # the reference timings in docs/
  runc crun            # peer runtimes measured beside tsbench's container
  runsc                # gVisor (targets runsc, runsc-kvm): its Sentry and gofer run the same OCI bundle
  criu                 # runc-restore: runc checkpoint/restore (criu 3.17 fails its check on kernel 6.18; the test hosts' 6.1 runs it)
  # peer engines: docker's daemon (dockerd 20.10, its containerd) and CLI, and podman (4.3, runs runc
  # here). Installing starts no daemon where policy-rc.d forbids it (containers) or systemd is absent;
  # tsbench itself never starts or stops one: it uses DOCKER_HOST's, and the tests start a private one
  # (test/helpers/dockerd.ts) and stop it again
  docker.io podman
  chromium             # headless browser for the HTML report's tests
  # the lean guest kernel (tsbench kernel build): Debian's kernel source tarball, and what
  # kbuild needs beyond build-essential (Kconfig's parser, objtool's libelf, bc for timeconst)
  linux-source-6.1 bison flex libelf-dev bc
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q '^install ok installed$' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "setup: missing Debian packages: ${missing[*]}; run this script as root" >&2
    exit 2
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

npm ci --no-audit --no-fund
npm run build
node dist/cli/main.js kernel fetch
# The lean guest kernel, built from linux-source-6.1 unless cached: 5 min 23 s on a
# 2-core machine, 0.7 s when cached (docs/image.md, "The lean kernel").
node dist/cli/main.js kernel build
# Both workload images (--image all): the lean one in seconds, the Debian one with mmdebstrap
# in about 1.5 min from a warm apt cache (docs/image.md, "The Debian image"); both cached.
node dist/cli/main.js image build
