#!/usr/bin/env bash
# Runs every test: unit, integration, property (proptest), doc tests, the
# examples' own tests, and each benchmark once in test mode.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo test --workspace --all-targets
cargo test --workspace --doc
