#!/usr/bin/env bash
# `make fuzz`: builds the cargo-fuzz targets once, runs each for FUZZ_SECONDS (default 60) and
# prints, per target, the runs, execs/s, coverage reached, new corpus entries and crashes.
#
#   FUZZ_SECONDS=300 make fuzz              # longer
#   FUZZ_TARGETS="money jsonrpc" make fuzz  # some targets only
#   FUZZ_SANITIZER=address make fuzz        # AddressSanitizer (slower; default none: every
#                                           # PaySystem crate forbids unsafe code)
#
# Seeds are in fuzz/corpus/<target>/ and the words of each format in fuzz/dict/<target>.dict
# (both kept in git); what the fuzzer learns goes to a working corpus under the fuzz target dir,
# so later runs start from it. A crash stops its target and is written to
# fuzz/artifacts/<target>/; reproduce it with
#   cargo fuzz run <target> fuzz/artifacts/<target>/<file>
# and, once fixed, keep it as a `fuzz_regression_*` unit test in the crate that owns the parser.
# Exits non-zero when any target crashed.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
cd "$here"

seconds="${FUZZ_SECONDS:-60}"
sanitizer="${FUZZ_SANITIZER:-none}"
target_dir="${FUZZ_TARGET_DIR:-$HOME/.cache/paysys/fuzz-target}"
targets="${FUZZ_TARGETS:-jsonrpc money mobiltek_callback teleaudio_callback netopia_ipn mocopay_notification}"
# cargo-fuzz passes -Z flags (sanitizers, -Zbuild-std); the machine has only a stable toolchain.
export RUSTC_BOOTSTRAP=1

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "fuzz: installing cargo-fuzz"
    cargo install cargo-fuzz --locked
fi

build=(--sanitizer "$sanitizer" --target-dir "$target_dir")
echo "fuzz: building ($sanitizer sanitizer, target dir $target_dir)"
cargo fuzz build "${build[@]}"

logs="$target_dir/fuzz-logs"
mkdir -p "$logs"
summary=()
crashed=0
for t in $targets; do
    work="$target_dir/corpus/$t"
    mkdir -p "$work" "artifacts/$t"
    log="$logs/$t.log"
    echo "fuzz: $t for ${seconds}s (log $log)"
    dict=()
    if [ -f "dict/$t.dict" ]; then dict=(-dict="dict/$t.dict"); fi
    status=0
    started=$SECONDS
    cargo fuzz run "${build[@]}" "$t" "$work" "corpus/$t" -- \
        -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
        "${dict[@]}" >"$log" 2>&1 || status=$?
    # The log may hold the crashing input's bytes: read it as text (-a).
    ran=$(grep -a -o 'Done [0-9]* runs in [0-9]* second' "$log" | tail -1 | cut -d' ' -f5 || true)
    ran=${ran:-$((SECONDS - started))}
    runs=$(grep -a '^stat::number_of_executed_units:' "$log" | tail -1 | tr -dc 0-9 || true)
    speed=$(grep -a '^stat::average_exec_per_sec:' "$log" | tail -1 | tr -dc 0-9 || true)
    added=$(grep -a '^stat::new_units_added:' "$log" | tail -1 | tr -dc 0-9 || true)
    cov=$(grep -a -o 'cov: [0-9]*' "$log" | tail -1 | cut -d' ' -f2 || true)
    feat=$(grep -a -o 'ft: [0-9]*' "$log" | tail -1 | cut -d' ' -f2 || true)
    artifact=$(grep -a 'Test unit written to ' "$log" | tail -1 | sed 's/.*Test unit written to //' || true)
    if [ "$status" -ne 0 ] || [ -n "$artifact" ]; then
        crashed=1
        result="CRASH ${artifact:-exit $status}"
        grep -a -m1 -A2 -E "panicked at|ERROR: libFuzzer|SUMMARY" "$log" | sed 's/^/    /' || true
    else
        result="no crash"
    fi
    summary+=("$(printf '%-22s ran %4ss %12s runs %8s exec/s  cov %5s  ft %6s  +%s corpus  %s' \
        "$t" "$ran" "${runs:-?}" "${speed:-?}" "${cov:-?}" "${feat:-?}" "${added:-?}" "$result")")
done

echo
echo "fuzz: summary"
printf '  %s\n' "${summary[@]}"
exit "$crashed"
