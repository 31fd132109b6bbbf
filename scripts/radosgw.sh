#!/usr/bin/env bash
# Starts and stops a throw-away single-node Ceph cluster (one mon, one OSD on
# memstore, radosgw with the beast frontend) that serves S3 on 127.0.0.1, for
# the test suite.
#   scripts/radosgw.sh start DIR   create DIR, start the cluster, create a user
#                                  and the bucket, write DIR/env (source it)
#   scripts/radosgw.sh stop DIR    stop the daemons started in DIR, remove DIR
# All state (config, mon/osd data, keyring, logs, pid files, admin sockets)
# lives in DIR; nothing is written to /etc/ceph, /var/lib/ceph or /var/log/ceph.
# Cephx is off between the daemons, but radosgw still checks every S3 request's
# AWS SigV4 signature against the user's secret.
# CHATVAULT_RGW_MEMSTORE_MIB sizes the OSD's in-memory store (default 2048).
# radosgw frees the data of overwritten objects over 4 MiB only hours later,
# so runs that overwrite a lot (benchmarks) need more.
set -euo pipefail

readonly BUCKET=chatvault-test
readonly REGION=us-east-1          # radosgw takes the region from the request
readonly MARKER=.chatvault-radosgw # marks DIR as made by this script
readonly DEADLINE=40               # seconds that `start` may take at most
readonly EMPTY_SHA256=e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855

usage() {
  echo "usage: $0 start DIR | stop DIR" >&2
  exit 2
}

# --- process handling --------------------------------------------------------

# True if pid $1 is alive and is one of our daemons (its command line names
# DIR/ceph.conf), so a recycled pid is never signalled.
is_ours() {
  local pid=$1 cmdline
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  cmdline=$(tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline") || return 1
  [[ "$cmdline" == *" $DIR/ceph.conf "* ]]
}

# Stops the daemon whose pid is in DIR/pid/$1: SIGTERM, up to 2 s, SIGKILL.
stop_daemon() {
  local pidfile="$DIR/pid/$1" pid i
  [[ -f "$pidfile" ]] || return 0
  pid=$(<"$pidfile")
  if is_ours "$pid"; then
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 20; i++)); do
      is_ours "$pid" || break
      sleep 0.1
    done
    if is_ours "$pid"; then
      kill -KILL "$pid" 2>/dev/null || true
      for ((i = 0; i < 50; i++)); do
        is_ours "$pid" || break
        sleep 0.1
      done
    fi
  fi
  rm -f "$pidfile"
}

stop_all() {
  local d
  for d in rgw osd mon; do stop_daemon "$d"; done
}

any_running() {
  local f
  for f in "$DIR"/pid/*; do
    [[ -f "$f" ]] && is_ours "$(<"$f")" && return 0
  done
  return 1
}

# --- start -------------------------------------------------------------------

now() { date +%s.%N; }

# fail REASON [LOG|DAEMON]...: prints the reason and the tail of each log (a
# daemon name such as osd.0 stands for its DIR/log/osd.0.out and .log), then
# exits 1; the EXIT trap stops whatever was started. The logs stay in DIR for a
# closer look (`stop DIR` removes them).
fail() {
  local reason=$1 arg log logs=()
  shift
  trap - ERR
  for arg in "$@"; do
    if [[ "$arg" == */* ]]; then logs+=("$arg"); else logs+=("$DIR/log/$arg.out" "$DIR/log/$arg.log"); fi
  done
  echo "radosgw.sh: start failed: $reason" >&2
  for log in "${logs[@]}"; do
    [[ -s "$log" ]] || continue
    echo "---- last lines of $log" >&2
    tail -n 25 "$log" >&2
  done
  failed=1
  exit 1
}

# EXIT trap of `start`: on any failure (fail, set -e, a signal) stop the daemons.
on_exit() {
  local rc=$1
  ((rc != 0)) || return 0
  [[ -n "$failed" ]] || echo "radosgw.sh: start failed (exit status $rc)" >&2
  stop_all
  echo "radosgw.sh: stopped what was started; logs are in $DIR/log (remove with: $0 stop $DIR)" >&2
}

# A free TCP port on 127.0.0.1 below the ephemeral range, other than $1.
pick_port() {
  local p i
  for ((i = 0; i < 100; i++)); do
    p=$((20000 + RANDOM % 12000))
    [[ "$p" != "${1:-}" ]] || continue
    # Nothing listens there, and (if ss is installed) no socket uses it.
    (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null && continue
    [[ -z "$(ss -Htan "sport = :$p" 2>/dev/null)" ]] || continue
    echo "$p"
    return 0
  done
  return 1
}

# spawn PIDNAME CEPHNAME CMD...: runs a daemon in the foreground of a
# background job, its pid in DIR/pid/PIDNAME, its stdout+stderr in
# DIR/log/CEPHNAME.out (next to its log, DIR/log/CEPHNAME.log).
spawn() {
  local name=$1 cephname=$2
  shift 2
  "$@" -f -c "$DIR/ceph.conf" </dev/null >>"$DIR/log/$cephname.out" 2>&1 &
  echo $! >"$DIR/pid/$name"
  disown $! # no "Killed" job notices when a failed start kills it
}

alive() { is_ours "$(<"$DIR/pid/$1")"; }

time_left() { (($(date +%s) < start_s + DEADLINE)); }
# Seconds left until the deadline (at least 1), for `timeout`.
left() {
  local n=$((start_s + DEADLINE - $(date +%s)))
  echo $((n > 0 ? n : 1))
}

# Signed S3 request with curl's SigV4. s3 KEY SECRET METHOD PATH [curl args];
# prints the HTTP status, the body goes to DIR/tmp/resp.
s3() {
  local key=$1 secret=$2 method=$3 path=$4
  shift 4
  curl -sS --max-time 10 -o "$DIR/tmp/resp" -w '%{http_code}' \
    --aws-sigv4 "aws:amz:$REGION:s3" --user "$key:$secret" \
    -X "$method" "$@" "$endpoint$path" 2>>"$DIR/log/curl.err" || echo 000
}

start() {
  start_t=$(now)
  start_s=$(date +%s)
  "$(dirname "$0")/deps.sh" s3

  if [[ -e "$DIR" ]]; then
    [[ -d "$DIR" ]] || { echo "radosgw.sh: $DIR exists and is not a directory" >&2; exit 1; }
    DIR=$(cd "$DIR" && pwd -P)
    if [[ -e "$DIR/$MARKER" ]]; then
      if any_running; then
        echo "radosgw.sh: a cluster is already running in $DIR (run: $0 stop $DIR)" >&2
        exit 1
      fi
      find "$DIR" -mindepth 1 -delete
    elif [[ -n "$(ls -A "$DIR")" ]]; then
      echo "radosgw.sh: $DIR is not empty and was not made by this script" >&2
      exit 1
    fi
  else
    mkdir -p "$DIR"
    DIR=$(cd "$DIR" && pwd -P)
  fi
  touch "$DIR/$MARKER"
  mkdir -p "$DIR"/{log,pid,run,tmp,crash,mon.a,osd.0,rgw}
  failed=
  trap 'on_exit $?' EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
  trap 'fail "unexpected error (line $LINENO)"' ERR

  local mon_port rgw_port fsid osd_uuid osd_id key secret code i
  mon_port=$(pick_port) || fail "no free TCP port found"
  rgw_port=$(pick_port "$mon_port") || fail "no free TCP port found"
  endpoint="http://127.0.0.1:$rgw_port"
  fsid=$(cat /proc/sys/kernel/random/uuid)
  osd_uuid=$(cat /proc/sys/kernel/random/uuid)

  cat >"$DIR/ceph.conf" <<EOF
# Throw-away test cluster made by scripts/radosgw.sh; everything lives in $DIR.
[global]
fsid = $fsid
mon host = v2:127.0.0.1:$mon_port
public addr = 127.0.0.1
cluster addr = 127.0.0.1
# No cephx between the daemons; without it msgr2 cannot use its "secure" mode,
# so every connection must be "crc", or radosgw hangs for 300 s at the mon.
auth cluster required = none
auth service required = none
auth client required = none
ms bind msgr1 = false
ms client mode = crc
ms cluster mode = crc
ms service mode = crc
ms mon client mode = crc
ms mon cluster mode = crc
ms mon service mode = crc
# Keep every file inside DIR.
run dir = $DIR/run
admin socket = $DIR/run/\$name.asok
crash dir = $DIR/crash
keyring = $DIR/keyring
log file = $DIR/log/\$name.log
log to stderr = false
mon cluster log file = $DIR/log/cluster.log
# One OSD: one replica, no failure domain above the OSD, few PGs, no mgr.
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
osd pool default pg autoscale mode = off
osd crush chooseleaf type = 0
mon allow pool size one = true
mon warn on pool no redundancy = false

[mon]
mon data = $DIR/\$name
# Commit paxos proposals after 50 ms instead of 1 s: every map change during
# start-up (osd new, osd boot, each rgw pool) waits for one; ~15 s -> ~2 s.
paxos propose interval = 0.05
mon data avail warn = 1
mon data avail crit = 0

[osd]
osd data = $DIR/\$name
osd objectstore = memstore
memstore device bytes = $(( ${CHATVAULT_RGW_MEMSTORE_MIB:-2048} << 20 ))

[client]
admin socket = $DIR/run/\$name.\$pid.asok

[client.rgw]
rgw data = $DIR/rgw
rgw frontends = beast endpoint=127.0.0.1:$rgw_port
rgw thread pool size = 64
EOF

  # mon
  monmaptool --create --fsid "$fsid" --addv a "[v2:127.0.0.1:$mon_port]" "$DIR/monmap" \
    >"$DIR/log/mkfs.out" 2>&1 || fail "monmaptool failed" "$DIR/log/mkfs.out"
  ceph-authtool --create-keyring "$DIR/keyring" --gen-key -n mon. --cap mon 'allow *' \
    >>"$DIR/log/mkfs.out" 2>&1 || fail "ceph-authtool failed" "$DIR/log/mkfs.out"
  ceph-mon -c "$DIR/ceph.conf" --mkfs -i a --monmap "$DIR/monmap" --keyring "$DIR/keyring" \
    >>"$DIR/log/mkfs.out" 2>&1 || fail "ceph-mon --mkfs failed" "$DIR/log/mkfs.out" mon.a
  spawn mon mon.a ceph-mon -i a

  # osd
  osd_id=$(timeout "$(left)" ceph -c "$DIR/ceph.conf" osd new "$osd_uuid" 2>>"$DIR/log/mkfs.out") ||
    fail "the mon did not answer 'ceph osd new' (failed or timed out)" "$DIR/log/mkfs.out" mon.a
  [[ "$osd_id" == 0 ]] || fail "ceph osd new gave id '$osd_id', expected 0" "$DIR/log/mkfs.out"
  timeout "$(left)" ceph-osd -c "$DIR/ceph.conf" -i 0 --mkfs --osd-uuid "$osd_uuid" >>"$DIR/log/mkfs.out" 2>&1 ||
    fail "ceph-osd --mkfs failed" "$DIR/log/mkfs.out" osd.0
  spawn osd osd.0 ceph-osd -i 0

  # radosgw; it creates its pools, so it is ready only once the OSD is up.
  spawn rgw client.rgw radosgw -n client.rgw
  until [[ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$endpoint/" 2>/dev/null)" == 200 ]]; do
    alive mon || fail "ceph-mon exited" mon.a
    alive osd || fail "ceph-osd exited" osd.0
    alive rgw || fail "radosgw exited" client.rgw
    time_left || fail "radosgw did not answer on $endpoint within ${DEADLINE}s" \
      osd.0 client.rgw
    sleep 0.1
  done

  # S3 user with random keys, then the bucket, both checked with signed requests.
  key=$(od -An -tx1 -N10 /dev/urandom | tr -d ' \n' | tr a-f A-F)
  secret=$(head -c 30 /dev/urandom | base64 | tr '+/' 'AB')
  timeout "$(left)" radosgw-admin -c "$DIR/ceph.conf" user create --uid chatvault-test \
    --display-name "chatvault test" --access-key "$key" --secret-key "$secret" \
    >"$DIR/log/user-create.out" 2>&1 ||
    fail "radosgw-admin user create failed" "$DIR/log/user-create.out" client.admin

  code=$(s3 "$key" "$secret" PUT "/$BUCKET" -H "x-amz-content-sha256: $EMPTY_SHA256")
  [[ "$code" == 200 ]] || fail "creating bucket $BUCKET: HTTP $code" "$DIR/tmp/resp" "$DIR/log/curl.err" client.rgw

  local obj="/$BUCKET/radosgw-sh-check" body="$DIR/tmp/body" sha
  echo "radosgw.sh check $fsid" >"$body"
  sha=$(sha256sum "$body" | cut -d' ' -f1)
  code=$(s3 "$key" "$secret" PUT "$obj" -H "x-amz-content-sha256: $sha" --data-binary "@$body")
  [[ "$code" == 200 ]] || fail "signed PUT of a test object: HTTP $code" "$DIR/tmp/resp" "$DIR/log/curl.err" client.rgw
  code=$(s3 "$key" "$secret" GET "$obj" -H "x-amz-content-sha256: $EMPTY_SHA256")
  [[ "$code" == 200 ]] || fail "signed GET of the test object: HTTP $code" "$DIR/tmp/resp" client.rgw
  cmp -s "$body" "$DIR/tmp/resp" || fail "GET returned other bytes than were PUT" "$DIR/tmp/resp"
  # radosgw must check signatures: a wrong secret has to be refused.
  code=$(s3 "$key" "x$secret" GET "$obj" -H "x-amz-content-sha256: $EMPTY_SHA256")
  if [[ "$code" != 403 ]] || ! grep -q SignatureDoesNotMatch "$DIR/tmp/resp"; then
    fail "a request signed with a wrong secret got HTTP $code, not 403 SignatureDoesNotMatch" "$DIR/tmp/resp"
  fi
  code=$(s3 "$key" "$secret" DELETE "$obj" -H "x-amz-content-sha256: $EMPTY_SHA256")
  [[ "$code" == 204 ]] || fail "signed DELETE of the test object: HTTP $code" "$DIR/tmp/resp" client.rgw

  {
    printf 'export CHATVAULT_TEST_S3_ENDPOINT=%q\n' "$endpoint"
    printf 'export CHATVAULT_TEST_S3_BUCKET=%q\n' "$BUCKET"
    printf 'export CHATVAULT_TEST_S3_ACCESS_KEY=%q\n' "$key"
    printf 'export CHATVAULT_TEST_S3_SECRET_KEY=%q\n' "$secret"
    printf 'export CHATVAULT_TEST_S3_REGION=%q\n' "$REGION"
    printf 'export CHATVAULT_TEST_S3_DIR=%q\n' "$DIR"
  } >"$DIR/env"
  trap - ERR EXIT INT TERM
  echo "radosgw: $endpoint ready in $(awk -v a="$start_t" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }') s"
}

# --- stop --------------------------------------------------------------------

stop() {
  [[ -e "$DIR" ]] || return 0
  DIR=$(cd "$DIR" && pwd -P)
  if [[ ! -e "$DIR/$MARKER" ]]; then
    [[ -z "$(ls -A "$DIR")" ]] && { rmdir "$DIR"; return 0; }
    echo "radosgw.sh: $DIR was not made by this script; not touching it" >&2
    exit 1
  fi
  stop_all
  rm -rf "${DIR:?}"
}

[[ $# -eq 2 && -n "$2" ]] || usage
DIR=$2
case "$1" in
  start) start ;;
  stop) stop ;;
  *) usage ;;
esac
