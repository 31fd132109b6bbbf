#!/usr/bin/env bash
# S3 throughput: chatvault's S3Backend against curl, on one radosgw started
# for the run, 16 MiB objects, single and parallel, PUT and GET; medians of
# several runs. Prints a Markdown table for docs/benchmarks.md.
#   bench/s3_bench.sh [objects] [runs] [threads]
set -euo pipefail
cd "$(dirname "$0")/.."
objects=${1:-16}
runs=${2:-5}
par=${3:-4}
size_mib=16

scripts/build.sh >/dev/null
dir=$(mktemp -d /tmp/chatvault-bench-rgw.XXXXXX); rmdir "$dir"
work=$(mktemp -d /tmp/chatvault-bench.XXXXXX)
shm=$(mktemp -d /dev/shm/chatvault-bench.XXXXXX)
trap 'scripts/radosgw.sh stop "$dir" || true; rm -rf "$work" "$shm"' EXIT
# Each run overwrites the same objects; radosgw frees the old data hours
# later, so give the in-memory OSD room for all of it.
CHATVAULT_RGW_MEMSTORE_MIB=12288 scripts/radosgw.sh start "$dir" >&2
# shellcheck disable=SC1091
source "$dir/env"

head -c $((size_mib << 20)) /dev/urandom >"$work/obj"
sha=$(sha256sum "$work/obj" | cut -d' ' -f1)
sigv4=(--aws-sigv4 "aws:amz:$CHATVAULT_TEST_S3_REGION:s3"
       --user "$CHATVAULT_TEST_S3_ACCESS_KEY:$CHATVAULT_TEST_S3_SECRET_KEY")
base="$CHATVAULT_TEST_S3_ENDPOINT/$CHATVAULT_TEST_S3_BUCKET/curlbench"

# curl_hashing_put THREADS: MiB/s of one run doing what S3Backend does for
# each object: SHA-256 and MD5 of the body, then a signed PUT with both.
curl_hashing_put() {
  local threads=$1 start end t
  start=$(date +%s.%N)
  for ((t = 0; t < threads; t++)); do
    (
      for ((i = t; i < objects; i += threads)); do
        osha=$(sha256sum "$work/obj" | cut -d' ' -f1)
        omd5=$(openssl dgst -md5 -binary "$work/obj" | base64)
        curl -sSf "${sigv4[@]}" -H "x-amz-content-sha256: $osha" \
          -H "Content-MD5: $omd5" -T "$work/obj" "$base/obj-$i" -o /dev/null
      done
    ) &
  done
  wait
  end=$(date +%s.%N)
  awk -v n="$objects" -v m="$size_mib" -v s="$start" -v e="$end" \
    'BEGIN { printf "%.1f", n * m / (e - s) }'
}

# curl_memory_get THREADS: MiB/s of one run doing what S3Backend::Load does:
# download each object into memory (a file in tmpfs).
curl_memory_get() {
  local threads=$1 start end t
  mkdir -p "$shm"
  start=$(date +%s.%N)
  for ((t = 0; t < threads; t++)); do
    (
      args=()
      for ((i = t; i < objects; i += threads)); do
        args+=("$base/obj-$i" -o "$shm/obj-$i")
      done
      curl -sSf "${sigv4[@]}" -H "x-amz-content-sha256: e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" "${args[@]}"
    ) &
  done
  wait
  end=$(date +%s.%N)
  rm -f "$shm"/obj-*
  awk -v n="$objects" -v m="$size_mib" -v s="$start" -v e="$end" \
    'BEGIN { printf "%.1f", n * m / (e - s) }'
}

# curl_run put|get THREADS: MiB/s of one run moving $objects objects, curl
# alone: the body's SHA-256 precomputed, no Content-MD5, and one process per
# thread, each handling its share over one connection. The transfer ceiling.
curl_run() {
  local op=$1 threads=$2 start end t
  start=$(date +%s.%N)
  for ((t = 0; t < threads; t++)); do
    (
      args=()
      for ((i = t; i < objects; i += threads)); do
        if [[ $op == put ]]; then
          args+=(-T "$work/obj" "$base/obj-$i" -o /dev/null)
        else
          args+=("$base/obj-$i" -o /dev/null)
        fi
      done
      if [[ $op == put ]]; then
        curl -sSf "${sigv4[@]}" -H "x-amz-content-sha256: $sha" "${args[@]}"
      else
        curl -sSf "${sigv4[@]}" -H "x-amz-content-sha256: e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" "${args[@]}"
      fi
    ) &
  done
  wait
  end=$(date +%s.%N)
  awk -v n="$objects" -v m="$size_mib" -v s="$start" -v e="$end" \
    'BEGIN { printf "%.1f", n * m / (e - s) }'
}

median() { sort -g | awk '{a[NR]=$1} END {printf "%.1f", a[int((NR+1)/2)]}'; }

echo "| op | threads | chatvault MiB/s | curl doing the same MiB/s | ratio | curl alone MiB/s | ratio | chatvault runs | curl doing the same runs | curl alone runs |"
echo "|---|---|---|---|---|---|---|---|---|---|"
for op in put get; do
  for threads in 1 "$par"; do
    ours=$(build/bench/s3_bench --op "$op" --objects "$objects" --size-mib "$size_mib" \
             --threads "$threads" --runs "$runs")
    ours_median=$(awk '{print $3}' <<<"$ours")
    ours_runs=$(cut -d' ' -f4- <<<"$ours")
    [[ $op == get ]] && curl_run put "$par" >/dev/null  # objects to read
    curl_runs=(); hash_runs=()
    for ((r = 0; r < runs; r++)); do
      curl_runs+=("$(curl_run "$op" "$threads")")
      if [[ $op == put ]]; then
        hash_runs+=("$(curl_hashing_put "$threads")")
      else
        hash_runs+=("$(curl_memory_get "$threads")")
      fi
    done
    curl_median=$(printf '%s\n' "${curl_runs[@]}" | median)
    hash_median=$(printf '%s\n' "${hash_runs[@]}" | median)
    hash_ratio=$(awk -v a="$ours_median" -v b="$hash_median" 'BEGIN { printf "%.2f", a / b }')
    hash_list=$(printf '%s ' "${hash_runs[@]}")
    ratio=$(awk -v a="$ours_median" -v b="$curl_median" 'BEGIN { printf "%.2f", a / b }')
    printf "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n" "$op" "$threads" \
      "$ours_median" "$hash_median" "$hash_ratio" "$curl_median" "$ratio" \
      "$ours_runs" "$hash_list" "$(printf '%s ' "${curl_runs[@]}")"
  done
done
