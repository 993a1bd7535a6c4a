#!/usr/bin/env bash
# Builds one libFuzzer target and runs it at nice 19 for SECONDS (default 600) of wall time.
# Usage: Fuzz/run.sh FuzzCBOR|FuzzCOSE|FuzzEnvelope|FuzzVerify [SECONDS] [extra libFuzzer flags...]
# Corpus: Fuzz/corpus-work/TARGET (kept between runs); seeds: Protocol/vectors (*.cbor, signed/**/*.cose).
# Crashes, leaks, timeouts and OOMs: Fuzz/corpus-work/artifacts/TARGET/ (crash-*, leak-*, timeout-*, oom-*).
set -euo pipefail

target=${1:?usage: run.sh FuzzCBOR|FuzzCOSE|FuzzEnvelope|FuzzVerify [SECONDS] [libFuzzer flags...]}
seconds=${2:-600}
shift $(( $# >= 2 ? 2 : 1 ))
case "$target" in
    FuzzCBOR|FuzzCOSE|FuzzEnvelope|FuzzVerify) ;;
    *) echo "run.sh: unknown target '$target' (FuzzCBOR, FuzzCOSE, FuzzEnvelope, FuzzVerify)" >&2; exit 2 ;;
esac

fuzz=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$fuzz")
work="$fuzz/corpus-work"
corpus="$work/$target"
seeds="$work/seeds"
artifacts="$work/artifacts/$target"
mkdir -p "$corpus" "$artifacts"
rm -rf "$seeds" && mkdir -p "$seeds"
find "$root/Protocol/vectors" -name '*.cbor' -exec cp {} "$seeds/" \;
find "$root/Protocol/vectors/signed" -name '*.cose' | while read -r f; do
    cp "$f" "$seeds/$(basename "$(dirname "$f")")-$(basename "$f")"
done

echo "== building $target (release, -sanitize=fuzzer,address)"
nice -n 19 swift build --package-path "$fuzz" --scratch-path "$fuzz/.build" -c release \
    -Xswiftc -sanitize=fuzzer,address -Xswiftc -parse-as-library --product "$target" 2>&1 \
    | grep -v "Cannot export local symbol '__asan_extra_spill_area'"
binary="$fuzz/.build/release/$target"

log="$work/$target.log"
echo "== running $target for ${seconds}s (log: $log, seeds: $(ls "$seeds" | wc -l) files, corpus: $(ls "$corpus" | wc -l) files)"
start=$(date +%s)
status=0
# bash's `times` gives the CPU time (user, system) of all finished children; the difference around
# the fuzzer's run is the fuzzer's own, without the build.
times_file="$work/$target.times"
cpu_seconds() { awk 'END { t = 0; for (i = 1; i <= 2; i++) { split($i, p, "m"); t += p[1] * 60 + p[2] } printf "%.1f", t }' "$times_file"; }
times >"$times_file"   # not in $(...): a subshell's `times` does not see this shell's children
cpu_before=$(cpu_seconds)
SWIFT_BACKTRACE=enable=no nice -n 19 "$binary" "$corpus" "$seeds" \
    -max_len=262144 -rss_limit_mb=2048 -timeout=10 -max_total_time="$seconds" \
    -artifact_prefix="$artifacts/" -print_final_stats=1 "$@" >"$log" 2>&1 || status=$?
end=$(date +%s)
times >"$times_file"
cpu_after=$(cpu_seconds)
cpu=$(awk -v a="$cpu_after" -v b="$cpu_before" 'BEGIN { printf "%.1f", a - b }')

echo "== $target finished with status $status after $((end - start)) s wall"
echo "   CPU time of the fuzzer (user + system): ${cpu} s"
grep -E '^Done [0-9]+ runs' "$log" || true
grep -E '#[0-9]+\s+(DONE|pulse|NEW|REDUCE|INITED)' "$log" | tail -1 || true
grep -E '^stat::' "$log" || true
echo "   corpus: $(ls "$corpus" | wc -l) files, $(du -sh "$corpus" | cut -f1)"
if [ "$status" -ne 0 ]; then
    echo "   FAILURE: see $log and $artifacts/"; grep -E 'ERROR|Fatal error|deadly signal|SUMMARY|Test unit written' "$log" | head -20
    ls -la "$artifacts"
fi
exit "$status"
