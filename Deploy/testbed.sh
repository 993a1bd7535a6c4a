#!/usr/bin/env bash
# testbed.sh: three parleyd nodes on loopback for trying Parley by hand.
#
#   Deploy/testbed.sh [--dir DIR] [--bin DIR] [--port N] [--smoke]
#
# Starts US-NRRC and RU-NRRC (participants) and HCOC-CC (a hub, the regime's central contact point)
# with a test PKI made by Certs/make-test-pki.sh. US-NRRC reaches RU-NRRC directly; RU-NRRC reaches
# US-NRRC through the hub; both reach the hub directly. Prints the commands to send a notification
# and watch it arrive, then runs until Ctrl-C (or SIGTERM), which stops all three nodes.
#
#   --dir DIR   keep the PKI, configurations, stores, sockets and logs in DIR (reused when run again:
#               the PKI and stores stay). Default: a new directory under /tmp, removed at the end.
#               Unix socket paths are limited to 107 bytes: keep DIR short.
#   --bin DIR   where parleyd and parley are (default: .build/release, else .build/debug, else PATH).
#   --port N    peer listeners on N, N+1, N+2 (default 18441).
#   --smoke     no waiting for Ctrl-C: send one notification from US-NRRC to RU-NRRC and HCOC-CC and
#               one from RU-NRRC to US-NRRC (through the hub), check every delivery is receipted
#               within 60 s, stop, exit 0 (1 on failure). For CI and a quick check of a build.
set -euo pipefail

REPO=$(cd "$(dirname "$0")/.." && pwd)
dir=""
bin=""
port=18441
smoke=false
die() { echo "testbed: $*" >&2; exit 1; }
while [ $# -gt 0 ]; do
    case "$1" in
        --dir) [ $# -ge 2 ] || die "--dir needs a directory"; dir=$2; shift 2 ;;
        --bin) [ $# -ge 2 ] || die "--bin needs a directory"; bin=$2; shift 2 ;;
        --port) [ $# -ge 2 ] || die "--port needs a number"; port=$2; shift 2 ;;
        --smoke) smoke=true; shift ;;
        -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
        *) die "unknown argument $1 (see --help)" ;;
    esac
done
case "$port" in ''|*[!0-9]*) die "--port must be a number, not '$port'" ;; esac
if [ "$port" -lt 1024 ] || [ "$port" -gt 65533 ]; then die "--port must be between 1024 and 65533"; fi

if [ -z "$bin" ]; then
    for candidate in "$REPO/.build/release" "$REPO/.build/debug"; do
        if [ -x "$candidate/parleyd" ] && [ -x "$candidate/parley" ]; then bin=$candidate; break; fi
    done
fi
if [ -n "$bin" ]; then
    PARLEYD=$bin/parleyd
    PARLEY=$bin/parley
else
    PARLEYD=$(command -v parleyd) || die "no parleyd: build it (swift build -c release) or give --bin DIR"
    PARLEY=$(command -v parley) || die "no parley: build it (swift build -c release) or give --bin DIR"
fi
[ -x "$PARLEYD" ] || die "$PARLEYD is not executable; build it (swift build -c release) or give --bin DIR"
[ -x "$PARLEY" ] || die "$PARLEY is not executable; build it (swift build -c release) or give --bin DIR"

remove=false
if [ -z "$dir" ]; then
    dir=$(mktemp -d /tmp/parley-testbed.XXXXXX)
    remove=true
else
    mkdir -p "$dir"
    dir=$(cd "$dir" && pwd)
fi

NODES=(US-NRRC RU-NRRC HCOC-CC)
declare -A PORT=([US-NRRC]=$port [RU-NRRC]=$((port + 1)) [HCOC-CC]=$((port + 2)))
pids=()

# shellcheck disable=SC2317  # invoked by the EXIT trap
stop() {
    trap - INT TERM EXIT
    if [ "${#pids[@]}" -gt 0 ]; then
        echo "testbed: stopping the nodes"
        kill -TERM "${pids[@]}" 2>/dev/null || true
        wait "${pids[@]}" 2>/dev/null || true
    fi
    if $remove; then rm -rf "$dir"; else echo "testbed: state kept in $dir"; fi
}
trap stop EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

if [ ! -f "$dir/pki/trust/anchors.pem" ]; then
    echo "testbed: making a test PKI for ${NODES[*]} in $dir/pki"
    bash "$REPO/Certs/make-test-pki.sh" "$dir/pki" "${NODES[@]}" >"$dir/pki.log" 2>&1 ||
        die "Certs/make-test-pki.sh failed; see $dir/pki.log"
fi

# config ID PEERS-JSON EXTRA-JSON
config() {
    local id=$1 peers=$2 extra=$3 base="$dir/pki/participants/$1"
    mkdir -p "$dir/data/$id"
    cat >"$dir/$id.json" <<EOF
{
  "participant": "$id",
  "signing": {"key": "$base/signing.key", "chain": "$base/signing-chain.pem"},
  "tls": {"key": "$base/tls.key", "chain": "$base/tls-chain.pem"},
  "trust": {"anchors": "$dir/pki/trust/anchors.pem", "crls": ["$dir/pki/trust/crls.pem"]},
  "listen": {"host": "127.0.0.1", "port": ${PORT[$id]}},
  "admin": {"socket": "$dir/$id.sock"},
  "dataDirectory": "$dir/data/$id",
  "peers": $peers,
  $extra
  "retry": {"initialSeconds": 1, "maximumIntervalSeconds": 10, "giveUpAfterSeconds": 86400}
}
EOF
}
url() { echo "{\"url\": \"https://127.0.0.1:${PORT[$1]}\"}"; }
config US-NRRC "{\"RU-NRRC\": $(url RU-NRRC), \"HCOC-CC\": $(url HCOC-CC)}" '"acceptForwardedFrom": ["HCOC-CC"],'
config RU-NRRC "{\"US-NRRC\": {\"via\": \"HCOC-CC\"}, \"HCOC-CC\": $(url HCOC-CC)}" '"acceptForwardedFrom": ["HCOC-CC"],'
config HCOC-CC "{\"US-NRRC\": $(url US-NRRC), \"RU-NRRC\": $(url RU-NRRC)}" '"hub": {"enabled": true},'

for id in "${NODES[@]}"; do
    "$PARLEYD" --config "$dir/$id.json" --check-config >/dev/null ||
        die "$dir/$id.json does not validate: $("$PARLEYD" --config "$dir/$id.json" --check-config)"
done
for id in "${NODES[@]}"; do
    "$PARLEYD" --config "$dir/$id.json" >>"$dir/$id.log" 2>&1 &
    pids+=($!)
done

# Ready when each admin socket answers and each peer port accepts connections.
for id in "${NODES[@]}"; do
    for _ in $(seq 1 300); do
        if "$PARLEY" outbox --socket "$dir/$id.sock" --json >/dev/null 2>&1 &&
            (exec 3<>"/dev/tcp/127.0.0.1/${PORT[$id]}") 2>/dev/null; then
            continue 2
        fi
        for pid in "${pids[@]}"; do
            kill -0 "$pid" 2>/dev/null || die "a node exited at start-up; see $dir/*.log"
        done
        sleep 0.1
    done
    die "$id did not start within 30 s; see $dir/$id.log"
done

start=$(date -u -d '+3 days' +%Y-%m-%dT%H:00:00Z)
end=$(date -u -d '+3 days 4 hours' +%Y-%m-%dT%H:00:00Z)
cat >"$dir/prelaunch.json" <<EOF
{"type": "pre-launch", "recipients": ["RU-NRRC", "HCOC-CC"],
 "body": {"class": "space-launch-vehicle", "window-start": "$start", "window-end": "$end",
          "launch-area": {"circle": {"center": {"lat": 28.573469, "lon": -80.65107}, "radius-m": 5000}},
          "impact-areas": [{"polygon": [{"lat": 30.0, "lon": -60.0}, {"lat": 30.0, "lon": -58.0}, {"lat": 28.0, "lon": -58.0}]}],
          "azimuth": 90.5, "designator": "SLV-7 flight 12"},
 "remarks": {"lang": "en", "text": "Testbed launch notification."}}
EOF

sed 's/"recipients": \["RU-NRRC", "HCOC-CC"\]/"recipients": ["US-NRRC"]/' "$dir/prelaunch.json" >"$dir/reply.json"

if $smoke; then
    first=$("$PARLEY" send --socket "$dir/US-NRRC.sock" --document "$dir/prelaunch.json" 2>>"$dir/send.log")
    second=$("$PARLEY" send --socket "$dir/RU-NRRC.sock" --document "$dir/reply.json" 2>>"$dir/send.log")
    first=${first%%$'\n'*}
    second=${second%%$'\n'*}
    echo "testbed: sent $first (US-NRRC → RU-NRRC, HCOC-CC) and $second (RU-NRRC → US-NRRC through HCOC-CC)"
    for _ in $(seq 1 600); do
        us=$("$PARLEY" outbox --socket "$dir/US-NRRC.sock" --state delivered --json)
        ru=$("$PARLEY" outbox --socket "$dir/RU-NRRC.sock" --state delivered --json)
        if [ "$(grep -o '"state":"delivered"' <<<"$us" | wc -l)" -eq 2 ] &&
            [ "$(grep -o '"state":"delivered"' <<<"$ru" | wc -l)" -eq 1 ]; then
            echo "testbed: smoke test passed: 3 deliveries receipted (one through the hub)"
            exit 0
        fi
        sleep 0.1
    done
    echo "testbed: smoke test FAILED: not every delivery receipted within 60 s" >&2
    "$PARLEY" outbox --socket "$dir/US-NRRC.sock" >&2 || true
    "$PARLEY" outbox --socket "$dir/RU-NRRC.sock" >&2 || true
    exit 1
fi

cat <<EOF

Parley testbed running in $dir
  US-NRRC  https://127.0.0.1:${PORT[US-NRRC]}  admin $dir/US-NRRC.sock  log $dir/US-NRRC.log
  RU-NRRC  https://127.0.0.1:${PORT[RU-NRRC]}  admin $dir/RU-NRRC.sock  log $dir/RU-NRRC.log
  HCOC-CC  https://127.0.0.1:${PORT[HCOC-CC]}  admin $dir/HCOC-CC.sock  log $dir/HCOC-CC.log  (hub)
US-NRRC reaches RU-NRRC directly; RU-NRRC reaches US-NRRC through HCOC-CC.

Send a pre-launch notification from US-NRRC to RU-NRRC and HCOC-CC:
  $PARLEY send --socket $dir/US-NRRC.sock --document $dir/prelaunch.json
Watch it arrive and its receipts come back:
  tail -f $dir/RU-NRRC.log
  $PARLEY inbox --socket $dir/RU-NRRC.sock
  $PARLEY outbox --socket $dir/US-NRRC.sock
  $PARLEY show --socket $dir/US-NRRC.sock ID
Send one from RU-NRRC to US-NRRC (delivered through the hub):
  $PARLEY send --socket $dir/RU-NRRC.sock --document $dir/reply.json
  $PARLEY inbox --socket $dir/US-NRRC.sock

Ctrl-C stops all three nodes$($remove && echo " and removes $dir").
EOF

# Runs until a node stops or Ctrl-C.
wait -n "${pids[@]}" || true
echo "testbed: a node stopped; see $dir/*.log" >&2
exit 1
