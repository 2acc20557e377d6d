#!/usr/bin/env bash
# Runs the fuzz targets of fuzz/ (cargo-fuzz + libFuzzer on the nightly toolchain), one after
# the other, each for FUZZ_SECONDS (default 600) on one core.
#
#   cargo install cargo-fuzz            # once
#   scripts/fuzz.sh                     # every target, 10 minutes each
#   FUZZ_SECONDS=60 scripts/fuzz.sh feed_parse html_extract
#
# Seeds come from tests/data (and from ../shared/fixtures when it exists, for development).
# A crash is saved under fuzz/artifacts/<target>/; once fixed, copy the input to
# tests/data/regressions/<target>/ so that `cargo test` (tests/regressions.rs) replays it.
# All targets are built first and then run as plain binaries, so editing the crate while a
# long run goes on does not trigger a rebuild in the middle of it. Per target, the figures
# (seconds, executions, corpus size, crashes) are appended to fuzz/target/summary.txt.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root/fuzz"
seconds="${FUZZ_SECONDS:-600}"
if [ "$#" -gt 0 ]; then targets=("$@"); else targets=(feed_parse html_extract config_toml query_compile); fi
shared="$root/../shared/fixtures"

seed() { # seed <target> <files...>: copies seed files into the target's corpus
  local target="$1"; shift
  mkdir -p "corpus/$target"
  for f in "$@"; do
    [ -f "$f" ] || continue
    case "$f" in
      *.gz) gzip -dc "$f" > "corpus/$target/seed-$(basename "$f" .gz)" 2>/dev/null || true ;;
      *) cp "$f" "corpus/$target/seed-$(echo "$f" | md5sum | cut -c1-12)-$(basename "$f")" ;;
    esac
  done
}

for target in "${targets[@]}"; do cargo +nightly fuzz build "$target"; done
host="$(rustc +nightly -vV | sed -n 's/^host: //p')"
mkdir -p target
for target in "${targets[@]}"; do
  case "$target" in
    feed_parse)
      seed "$target" "$root"/tests/data/feeds/* "$root"/tests/data/regressions/feed_parse/*
      [ -d "$shared" ] && seed "$target" $(find "$shared/feeds-real" "$shared/charset-matrix" "$shared/feedparser-conformance" -type f \( -name '*.xml' -o -name '*.rss' -o -name '*.atom' -o -name '*.json' \) | head -2000)
      max_len=65536 ;;
    html_extract)
      seed "$target" "$root"/tests/data/extract/* "$root"/tests/data/regressions/html_extract/*
      [ -d "$shared" ] && seed "$target" $(find "$shared/readability-pages" "$shared/articles" -type f \( -name '*.html' -o -name '*.gz' \))
      max_len=131072 ;;
    config_toml)
      seed "$target" "$root/config.example.toml" "$root"/rules.d/* "$root"/tests/data/regressions/config_toml/*
      max_len=16384 ;;
    query_compile)
      seed "$target" "$root"/tests/data/regressions/query_compile/*
      # The queries written in the example configuration and rules.d, one file each.
      grep -hE "^[[:space:]]*(query|says)[[:space:]]*=[[:space:]]*'" "$root/config.example.toml" "$root"/rules.d/*.toml |
        sed -E "s/^[^']*'(.*)'[[:space:]]*$/\\1/" | while IFS= read -r query; do
          printf '%s' "$query" > "corpus/$target/seed-$(printf '%s' "$query" | md5sum | cut -c1-12)"
        done
      for query in 'peace AND talks' '"peace talks" NEAR/5 Rutte' 'title:(truce OR ceasefire) AND NOT rumour*' \
        '/sec(retary)?[- ]general/' 'tag:nato OR url:nato.int' 'переговор* AND (мир OR перемир*)'; do
        printf '%s' "$query" > "corpus/$target/seed-$(printf '%s' "$query" | md5sum | cut -c1-12)"
      done
      max_len=4096 ;;
    *) echo "unknown target $target" >&2; exit 64 ;;
  esac
  mkdir -p "artifacts/$target"
  echo "== $target: ${seconds}s"
  start=$(date +%s)
  status=0
  "target/$host/release/$target" "corpus/$target" \
    -artifact_prefix="artifacts/$target/" -max_total_time="$seconds" -max_len="$max_len" \
    -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 > "target/$target.log" 2>&1 || status=$?
  elapsed=$(( $(date +%s) - start ))
  grep -E '^(#[0-9]+.*(pulse|DONE)|stat::|INFO: (Seed|Loaded)|==[0-9]+== ERROR|SUMMARY)' "target/$target.log" | tail -n 12 || true
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "target/$target.log" | tail -n 1)
  crashes=$(find "artifacts/$target" -type f | wc -l)
  corpus=$(find "corpus/$target" -type f | wc -l)
  line="$target seconds=$elapsed execs=${execs:-?} corpus=$corpus artifacts=$crashes exit=$status"
  echo "$line" | tee -a target/summary.txt
done
