#!/usr/bin/env bash
# The movie views against their two yardsticks, in one run, with wrk: every scenario as a
# ratio to the trivial route (GET /health/api-reference, no host call) and to a metadata
# read (GET /metadata/m0..m99, one SQLite statement), plus p50/p90/p99. docs/performance.md
# records its figures.
#
#   tests/benches/wrk/views.sh [URL] [CONNECTIONS] [SECONDS]     (http://127.0.0.1:3000 16 8)
#
# Start the app with rate limits off (SPIN_VARIABLE_WRITE_RATE_LIMIT=0
# SPIN_VARIABLE_VIEW_RATE_LIMIT=0 spin up ...) and seed movies m0..m99 first (metadata and a
# rating each; docs/performance.md shows how).
set -euo pipefail

url=${1:-http://127.0.0.1:3000}
connections=${2:-16}
seconds=${3:-8}
threads=$((connections < 2 ? 1 : 2))
script="$(dirname "$0")/movies.lua"

command -v wrk > /dev/null || { echo "views.sh: wrk is not installed (apt-get install wrk)" >&2; exit 1; }
status=$(curl -s -o /dev/null -w '%{http_code}' "$url/metadata/m99" || true)
[ "$status" = 200 ] || { echo "views.sh: $url/metadata/m99 answered $status: seed m0..m99 first" >&2; exit 1; }

# One wrk run; prints "rate p50 p90 p99" (requests/s, milliseconds).
measure() {
  wrk -t"$threads" -c"$connections" -d"${seconds}s" --latency "$@" | awk '
    function ms(v) {
      if (v ~ /us$/) return substr(v, 1, length(v) - 2) / 1000
      if (v ~ /ms$/) return substr(v, 1, length(v) - 2) + 0
      if (v ~ /s$/) return substr(v, 1, length(v) - 1) * 1000
      return v
    }
    $1 == "50%" { p50 = ms($2) } $1 == "90%" { p90 = ms($2) } $1 == "99%" { p99 = ms($2) }
    $1 == "Requests/sec:" { rate = $2 }
    END { printf "%s %s %s %s\n", rate, p50, p90, p99 }'
}

# Every scenario goes through the same script, so the client's own cost (wrk runs on the same
# machine) is the same in each, yardsticks included.
read -r trivial t50 t90 t99 < <(PATHS=/health/api-reference measure -s "$script" "$url")
read -r metadata m50 m90 m99 < <(MOVIES=100 PATHS=/metadata/m%d measure -s "$script" "$url")

row() { # name rate p50 p90 p99
  awk -v name="$1" -v rate="$2" -v p50="$3" -v p90="$4" -v p99="$5" -v t="$trivial" -v m="$metadata" \
    'BEGIN { printf "%-34s %9.0f %9.2f %9.2f %8.2f %8.2f %8.2f\n", name, rate, rate / t, rate / m, p50, p90, p99 }'
}

echo "$connections connections, $seconds s per scenario, $url"
printf '%-34s %9s %9s %9s %8s %8s %8s\n' scenario 'req/s' 'x trivial' 'x md read' 'p50 ms' 'p90 ms' 'p99 ms'
row "trivial route" "$trivial" "$t50" "$t90" "$t99"
row "metadata read" "$metadata" "$m50" "$m90" "$m99"
for scenario in "memory hit:1:cached" "100 movies, cached:100:cached" \
    "forced miss (no-cache):100:miss" "90% hits:100:mixed"; do
  IFS=: read -r name movies mode <<< "$scenario"
  read -r rate p50 p90 p99 < <(MOVIES=$movies MODE=$mode measure -s "$script" "$url")
  row "movie, $name" "$rate" "$p50" "$p90" "$p99"
done
