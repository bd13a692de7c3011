#!/usr/bin/env bash
# Runs every test: unit, integration, property (proptest), doc tests, the
# examples' own tests, each benchmark once in test mode, and the loom model
# checks of the concurrent code (built with --cfg loom in its own target dir;
# each model prints how many interleavings it explored).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo test --workspace --all-targets
cargo test --workspace --doc
RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=3 \
    cargo test -p runtime --release --lib --target-dir target/loom loom -- --nocapture
