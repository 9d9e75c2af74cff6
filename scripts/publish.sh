#!/usr/bin/env bash
# Publishes tsbench's comparison for this host: every scenario on every target this host
# offers, with both images (the lean image and the Debian one, TARGET@debian), in ONE
# `tsbench run` (rounds interleave every target, so drift hits all alike), into
#   docs/results/<host>-<date>/results.json   the samples (what everything else is computed from)
#                              report.html    the page (summary on top; tsbench verify checks it)
#                              summary.md     the same summary as Markdown, plus how it was made
# then verifies the page and the results. CI (.ci/run) runs `tsbench verify` on every committed
# docs/results/*/report.html, so a published page can never disagree with its samples.
#
# Publication settings (each overridable by the environment, for a reduced trial run):
#   PUBLISH_RUNS=10       measured rounds of every scenario (every target once per round)
#   PUBLISH_WARMUP=1      warmup rounds, not recorded
#   PUBLISH_SCENARIOS     default: every scenario `tsbench scenarios` lists
#   PUBLISH_TARGETS       default: every target `tsbench targets` says is available, lean then @debian
#   PUBLISH_OUT           default: docs/results/<short hostname>-<UTC date>
#   PUBLISH_MAX_LOAD=0.25 the quiet-host check: 1-minute load average per CPU at most this
#   PUBLISH_ALLOW_BUSY=1  publish anyway on a busy host (summary.md then says it was busy)
# Quiet-host checks before anything runs: the load average above, no other live tsbench run
# (/run/tsbench/<pid>-<start>/ of a live process), at least 2 GiB MemAvailable; the figures
# are recorded in summary.md. The run's seed is tsbench's default (recorded in results.json).
#
# Duration: on the 2-vCPU project machine one round of every scenario on its 14 available
# targets takes several minutes (the TCG VMs dominate: each boots per sample, io runs four 3 s fio
# jobs, density starts 4 VMs at once), so the default 10 + 1 rounds take tens of minutes;
# docs/results/README.md records measured times.
#
# Why a script and not a `tsbench publish` command: publishing is a composition of commands that
# exist (targets, scenarios, run, report, verify) plus host checks and a directory convention; a
# script keeps the CLI's surface unchanged and lets the lead read exactly what was run.
set -euo pipefail
cd "$(dirname "$0")/.."

root=$PWD
tsbench() { node "$root/dist/cli/main.js" "$@"; }
say() { printf 'publish: %s\n' "$*" >&2; }

[ -x dist/cli/main.js ] || { say "dist/cli/main.js not found: run npm run build first"; exit 2; }

runs=${PUBLISH_RUNS:-10}
warmup=${PUBLISH_WARMUP:-1}
max_load=${PUBLISH_MAX_LOAD:-0.25}
host=$(hostname -s)
date=$(date -u +%F)
out=${PUBLISH_OUT:-docs/results/$host-$date}

# --- quiet-host checks, before anything of tsbench runs (probing the targets loads the host) -------
cpus=$(nproc)
load=$(cut -d' ' -f1 /proc/loadavg)
per_cpu=$(awk -v l="$load" -v c="$cpus" 'BEGIN { printf "%.2f", l / c }')
avail_kib=$(awk '/^MemAvailable:/ { print $2 }' /proc/meminfo)
others=0
for d in /run/tsbench/*-*/; do
  [ -d "$d" ] || continue
  pid=$(basename "$d" | cut -d- -f1)
  [ "$pid" != "$$" ] && kill -0 "$pid" 2>/dev/null && others=$((others + 1))
done
busy=()
awk -v p="$per_cpu" -v m="$max_load" 'BEGIN { exit !(p > m) }' && busy+=("load average $load on $cpus CPUs ($per_cpu per CPU > $max_load)")
[ "$others" -gt 0 ] && busy+=("$others other tsbench run(s) alive")
[ "$avail_kib" -lt 2097152 ] && busy+=("MemAvailable $((avail_kib / 1024)) MiB < 2048 MiB")
quiet="quiet: load average $load on $cpus CPUs ($per_cpu per CPU ≤ $max_load), no other tsbench run, MemAvailable $((avail_kib / 1024)) MiB"
if [ "${#busy[@]}" -gt 0 ]; then
  quiet="NOT quiet: $(printf '%s; ' "${busy[@]}" | sed 's/; $//')"
  if [ "${PUBLISH_ALLOW_BUSY:-0}" != 1 ]; then
    say "$quiet; wait for a quiet host, or set PUBLISH_ALLOW_BUSY=1 (summary.md then says so)"
    exit 2
  fi
  say "$quiet (PUBLISH_ALLOW_BUSY=1: going on)"
fi

names() { node -e 'let s="";process.stdin.on("data",(d)=>(s+=d)).on("end",()=>{for(const x of JSON.parse(s))if(x.available!==false)console.log(x.name)})'; }
if [ -n "${PUBLISH_SCENARIOS:-}" ]; then scenarios=${PUBLISH_SCENARIOS//,/ }; else scenarios=$(tsbench scenarios --json | names | paste -sd' ' -); fi
if [ -n "${PUBLISH_TARGETS:-}" ]; then
  targets=$PUBLISH_TARGETS
else
  lean=$(tsbench targets --json | names)
  debian=$(tsbench targets --image debian --json | names | grep '@debian' || true)
  targets=$(printf '%s\n%s\n' "$lean" "$debian" | awk 'NF && !seen[$0]++' | paste -sd, -)
fi

if [ -e "$out/results.json" ]; then say "$out/results.json exists: remove it or set PUBLISH_OUT"; exit 2; fi
mkdir -p "$out"
say "$out: $scenarios on $targets, $runs rounds after $warmup warmup"

# --- the run -----------------------------------------------------------------------------------
tsbench clean >/dev/null # what killed runs left (never a live run's)
start=$(date +%s)
code=0
# shellcheck disable=SC2086 # the scenarios are separate words
tsbench run $scenarios --targets "$targets" --runs "$runs" --warmup "$warmup" --out "$out" || code=$?
took=$(($(date +%s) - start))
if [ ! -s "$out/results.json" ]; then say "the run wrote no results (exit $code)"; exit 1; fi
[ "$code" -eq 0 ] || say "tsbench run exited $code: a target failed; the page lists it with its reason"

# The page and the summary from the saved file, with paths relative to the directory.
rm -f "$out/results.csv" "$out/report.html"
(cd "$out" && tsbench report results.json -o report.html >/dev/null && tsbench report results.json --format md -o summary.md >/dev/null)
cat >>"$out/summary.md" <<EOF

## How this was made

\`scripts/publish.sh\` on $host, $date (UTC): \`tsbench run $scenarios --targets $targets --runs $runs --warmup $warmup\`,
one run whose rounds interleave every target. It took $((took / 60)) min $((took % 60)) s. Host before the run: $quiet.
\`tsbench verify report.html\` recomputes every figure and verdict of the page from the samples in results.json.
EOF
tsbench verify "$out/report.html"
tsbench verify "$out/results.json"
say "published $out in $((took / 60)) min $((took % 60)) s"
exit "$code"
