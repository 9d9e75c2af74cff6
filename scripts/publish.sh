#!/usr/bin/env bash
# Publishes tsbench's comparison for this host: every scenario on every target this host
# offers, with both images (the lean image and the Debian one, TARGET@debian), one `tsbench run`
# per scenario (its rounds interleave every target, so drift hits all alike), into
#   docs/results/<host>-<date>/runs/<scenario>/results.json   each scenario's samples
#                              report.html    the page from all of them (summary on top; tsbench verify checks it)
#                              summary.md     the same summary as Markdown, plus how each scenario was made
#                              publication.env  the settings, fixed at the start and kept for a continuation
# then verifies the page and the results. CI (.ci/run) runs `tsbench verify` on every committed
# docs/results/*/report.html, so a published page can never disagree with its samples.
#
# A publication is resumable: on the 2-vCPU project machine it takes longer than one sitting
# (docs/results/README.md: measured round times), so the script runs the scenarios not yet
# complete and stops cleanly at PUBLISH_MINUTES; run it again with the same PUBLISH_OUT and it
# goes on with the settings the directory records. Each sitting writes the page from the
# scenarios complete so far; summary.md names those still to run.
#
# Publication settings (fixed in publication.env when a publication starts):
#   PUBLISH_RUNS=3        measured rounds of every scenario (every target once per round)
#   PUBLISH_WARMUP=1      warmup rounds, not recorded
#   PUBLISH_SCENARIOS     default: every scenario `tsbench scenarios` lists
#   PUBLISH_TARGETS       default: every target `tsbench targets` says is available, lean then @debian
# Per sitting:
#   PUBLISH_OUT           default: docs/results/<short hostname>-<UTC date>; an existing one is continued
#   PUBLISH_MINUTES=0     start no scenario after this many minutes of the sitting (0: no limit)
#   PUBLISH_MAX_LOAD=0.25 the quiet-host check: 1-minute load average per CPU at most this
#   PUBLISH_WAIT=300      seconds a check waits for the load to fall to that before it refuses
#   PUBLISH_ALLOW_BUSY=1  publish anyway on a busy host (summary.md then says it was busy)
# Quiet-host checks before anything runs and again before each scenario (each waits up to PUBLISH_WAIT for
# the load to settle): the load average above, no
# other live tsbench run (/run/tsbench/<pid>-<start>/ of a live process), at least 2 GiB
# MemAvailable; each scenario's check is recorded in summary.md. The seed is tsbench's default.
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

max_load=${PUBLISH_MAX_LOAD:-0.25}
minutes=${PUBLISH_MINUTES:-0}
wait_s=${PUBLISH_WAIT:-300}
host=$(hostname -s)
date=$(date -u +%F)
out=${PUBLISH_OUT:-docs/results/$host-$date}

# --- the quiet-host check: before anything of tsbench runs (probing the targets loads the host) -------
# Sets $quiet to the host's state in words; exits 2 on a busy host unless PUBLISH_ALLOW_BUSY=1. A load above
# the bound is waited out first, up to PUBLISH_WAIT seconds: the 1-minute average decays for a minute or two
# after the probes and after each scenario's own run.
check_quiet() {
  local cpus load per_cpu avail_kib others pid d busy=() waited=0
  cpus=$(nproc)
  while [ "$waited" -lt "$wait_s" ] && awk -v l="$(cut -d' ' -f1 /proc/loadavg)" -v c="$cpus" -v m="$max_load" 'BEGIN { exit !(l / c > m) }'; do
    sleep 5
    waited=$((waited + 5))
  done
  load=$(cut -d' ' -f1 /proc/loadavg)
  per_cpu=$(awk -v l="$load" -v c="$cpus" 'BEGIN { printf "%.2f", l / c }')
  avail_kib=$(awk '/^MemAvailable:/ { print $2 }' /proc/meminfo)
  others=0
  for d in /run/tsbench/*-*/; do
    [ -d "$d" ] || continue
    pid=$(basename "$d" | cut -d- -f1)
    [ "$pid" != "$$" ] && kill -0 "$pid" 2>/dev/null && others=$((others + 1))
  done
  awk -v p="$per_cpu" -v m="$max_load" 'BEGIN { exit !(p > m) }' && busy+=("load average $load on $cpus CPUs ($per_cpu per CPU > $max_load)")
  [ "$others" -gt 0 ] && busy+=("$others other tsbench run(s) alive")
  [ "$avail_kib" -lt 2097152 ] && busy+=("MemAvailable $((avail_kib / 1024)) MiB < 2048 MiB")
  quiet="quiet: load average $load on $cpus CPUs ($per_cpu per CPU ≤ $max_load), no other tsbench run, MemAvailable $((avail_kib / 1024)) MiB"
  if [ "${#busy[@]}" -gt 0 ]; then
    quiet="NOT quiet: $(printf '%s; ' "${busy[@]}" | sed 's/; $//')"
    if [ "${PUBLISH_ALLOW_BUSY:-0}" != 1 ]; then
      say "$quiet; wait for a quiet host, or set PUBLISH_ALLOW_BUSY=1 (summary.md then says so); what is complete in $out stays"
      exit 2
    fi
    say "$quiet (PUBLISH_ALLOW_BUSY=1: going on)"
  fi
}

# Whether a results file is a finished run's (not one interrupted, whose samples stop short).
complete() { [ -s "$1" ] && node -e 'process.exit(JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")).complete === true ? 0 : 1)' "$1"; }

names() { node -e 'let s="";process.stdin.on("data",(d)=>(s+=d)).on("end",()=>{for(const x of JSON.parse(s))if(x.available!==false)console.log(x.name)})'; }

settings=$out/publication.env
if [ -e "$settings" ]; then
  # shellcheck source=/dev/null # written below, by this script
  . "$settings"
  say "continuing $out (its settings: $runs rounds after $warmup warmup; every scenario already complete is kept)"
else
  check_quiet
  runs=${PUBLISH_RUNS:-3}
  warmup=${PUBLISH_WARMUP:-1}
  if [ -n "${PUBLISH_SCENARIOS:-}" ]; then scenarios=${PUBLISH_SCENARIOS//,/ }; else scenarios=$(tsbench scenarios --json | names | paste -sd' ' -); fi
  if [ -n "${PUBLISH_TARGETS:-}" ]; then
    targets=$PUBLISH_TARGETS
  else
    lean=$(tsbench targets --json | names)
    debian=$(tsbench targets --image debian --json | names | grep '@debian' || true)
    targets=$(printf '%s\n%s\n' "$lean" "$debian" | awk 'NF && !seen[$0]++' | paste -sd, - | sed 's/,*$//')
  fi
  started=$(date -u +%FT%TZ)
  mkdir -p "$out"
  printf 'scenarios=%q\ntargets=%q\nruns=%q\nwarmup=%q\nstarted=%q\n' "$scenarios" "$targets" "$runs" "$warmup" "$started" >"$settings"
  say "$out: $scenarios on $targets, $runs rounds after $warmup warmup"
fi

# --- the runs: each scenario not yet complete, one `tsbench run` each ------------------------------
tsbench clean >/dev/null # what killed runs left (never a live run's)
sitting=$(date +%s)
code=0
for s in $scenarios; do
  dir=$out/runs/$s
  complete "$dir/results.json" && continue
  if [ "$minutes" -gt 0 ] && [ $(($(date +%s) - sitting)) -ge $((minutes * 60)) ]; then
    say "PUBLISH_MINUTES=$minutes reached: $s and what follows it are left for the next sitting"
    break
  fi
  check_quiet
  rm -rf "$dir"
  mkdir -p "$dir"
  start=$(date +%s)
  rc=0
  tsbench run "$s" --targets "$targets" --runs "$runs" --warmup "$warmup" --out "$dir" || rc=$?
  took=$(($(date +%s) - start))
  if [ "$rc" -eq 130 ] || ! complete "$dir/results.json"; then
    rm -rf "$dir" # an interrupted scenario is run again whole next time
    say "$s did not finish (exit $rc): nothing of it is kept"
    exit "$([ "$rc" -eq 0 ] && echo 1 || echo "$rc")"
  fi
  [ "$rc" -eq 0 ] || { say "$s: tsbench run exited $rc: a target failed; the page lists it with its reason"; code=$rc; }
  rm -f "$dir/results.csv" "$dir/report.html"
  printf -- '- `%s`: `tsbench run %s --targets %s --runs %s --warmup %s`, %s (UTC), took %d min %d s; host before it: %s\n' \
    "$s" "$s" "$targets" "$runs" "$warmup" "$(date -u -d "@$start" +'%F %H:%M')" $((took / 60)) $((took % 60)) "$quiet" >"$dir/made.md"
done

# --- the page and the summary, from every scenario complete so far (paths relative to the directory) ---
files=()
left=()
for s in $scenarios; do
  if complete "$out/runs/$s/results.json"; then files+=("runs/$s/results.json"); else left+=("$s"); fi
done
if [ "${#files[@]}" -eq 0 ]; then
  say "no scenario is complete yet in $out"
  exit 1
fi
rm -f "$out/report.html" "$out/summary.md"
(cd "$out" && tsbench report "${files[@]}" -o report.html >/dev/null && tsbench report "${files[@]}" --format md -o summary.md >/dev/null)
{
  printf '\n## How this was made\n\n'
  printf '`scripts/publish.sh` on %s, started %s: every scenario one `tsbench run` of every target (%s), %s rounds after %s warmup, rounds interleaving the targets.\n\n' \
    "$host" "$started" "$targets" "$runs" "$warmup"
  for s in $scenarios; do [ -e "$out/runs/$s/made.md" ] && cat "$out/runs/$s/made.md"; done
  if [ "${#left[@]}" -gt 0 ]; then
    printf '\n**Partial publication**: %s of %s scenarios are complete; not yet run: %s. `PUBLISH_OUT=%s scripts/publish.sh` goes on with the same settings.\n' \
      "${#files[@]}" "$(wc -w <<<"$scenarios")" "${left[*]}" "${out#"$root/"}"
  fi
  printf '\n`tsbench verify report.html` recomputes every figure and verdict of the page from the samples it embeds.\n'
} >>"$out/summary.md"
tsbench verify "$out/report.html"
for f in "${files[@]}"; do tsbench verify "$out/$f"; done
if [ "${#left[@]}" -gt 0 ]; then
  say "$out: ${#files[@]} scenario(s) complete, still to run: ${left[*]} (run scripts/publish.sh again with PUBLISH_OUT=$out)"
  exit 3
fi
say "published $out"
exit "$code"
