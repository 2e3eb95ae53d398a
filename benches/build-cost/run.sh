#!/usr/bin/env bash
# The clean-build cost of a small consumer crate, once on stamina (default features) and once on
# backon 1.6, one after the other on the same machine: tokio with `macros` and `rt-multi-thread`,
# serde with `derive`, thiserror, and one retrying `async fn`. Each build starts from an empty
# target directory (the registry's sources are reused: no download is timed) and writes
# `cargo build --timings` next to it. Usage: benches/build-cost/run.sh [RUNS] (default 2; the
# lower time of each is kept, as BENCHMARKS.md reports).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
runs="${1:-2}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

consumer() { # name, dependency line, body
    mkdir -p "$work/$1/src"
    cat >"$work/$1/Cargo.toml" <<TOML
[package]
name = "consumer-$1"
version = "0.0.0"
edition = "2024"
publish = false

[dependencies]
$2
tokio = { version = "1", features = ["macros", "rt-multi-thread", "time"] }
serde = { version = "1", features = ["derive"] }
thiserror = "2"

[workspace]
TOML
    printf '%s\n' "$3" >"$work/$1/src/main.rs"
}

common='#[derive(Debug, thiserror::Error)]
#[error("flaky")]
struct Flaky;

#[derive(serde::Deserialize)]
#[allow(dead_code)]
struct Config { url: String }'

consumer stamina "stamina = { path = \"$root/stamina\" }" "$common

#[stamina::retry(on = Flaky, attempts = 3)]
async fn fetch(n: u32) -> Result<u32, Flaky> {
    if n == 0 { Err(Flaky) } else { Ok(n) }
}

#[tokio::main]
async fn main() { println!(\"{:?}\", fetch(1).await); }"

consumer backon 'backon = "1.6"' "$common
use backon::{ExponentialBuilder, Retryable};

async fn fetch(n: u32) -> Result<u32, Flaky> {
    if n == 0 { Err(Flaky) } else { Ok(n) }
}

#[tokio::main]
async fn main() {
    let r = (|| fetch(1)).retry(ExponentialBuilder::default().with_max_times(2)).await;
    println!(\"{r:?}\");
}"

for name in backon stamina; do
    (cd "$work/$name" && cargo generate-lockfile -q && cargo fetch -q)
done
declare -A best
for run in $(seq "$runs"); do
    for name in backon stamina; do
        rm -rf "$work/$name/target"
        start=$(date +%s.%N)
        (cd "$work/$name" && CARGO_INCREMENTAL=0 cargo build -q --timings >/dev/null 2>&1)
        secs=$(echo "$(date +%s.%N) - $start" | bc)
        printf 'run %d: %-8s %5.1f s\n' "$run" "$name" "$secs"
        cp "$work/$name/target/cargo-timings/cargo-timing.html" "$here/timings-$name.html" 2>/dev/null || true
        if [[ -z "${best[$name]:-}" ]] || (( $(echo "$secs < ${best[$name]}" | bc) )); then
            best[$name]=$secs
        fi
    done
done
printf 'clean build: stamina %.1f s, backon %.1f s: %.2fx\n' \
    "${best[stamina]}" "${best[backon]}" "$(echo "${best[stamina]} / ${best[backon]}" | bc -l)"
