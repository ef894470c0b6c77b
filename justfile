# Tandem: multi-GPU texture layer for smithay compositors.

set shell := ["bash", "-euo", "pipefail", "-c"]

export CARGO_TERM_COLOR := "never"

# List the recipes.
default:
    @just --list

# Install the system packages (Debian/Ubuntu; Mesa 24+ from bookworm-backports on Debian 12).
deps:
    bash scripts/deps.sh

# Build everything.
build:
    cargo build --workspace --all-targets

# Run the compositor's embedded default: nested if a display exists, otherwise headless with two software GPUs and demo clients.
demo *ARGS: deps
    cargo run --release -p tandem-compositor -- demo {{ARGS}}

# The whole suite: formatting, clippy, and every test on software GPUs.
test: deps
    cargo fmt --all -- --check
    cargo clippy --workspace --all-targets -- -D warnings
    bash scripts/test.sh

# VRAM-per-window stress test: Tandem against smithay's stock import, in one run (figures and plot in stress-out/).
stress *ARGS: deps
    cargo run -p tandem-compositor -- stress --compare --out stress-out {{ARGS}}

# Criterion benchmarks: copy paths against memcpy, 64-window frames, cleanup cost.
bench *ARGS: deps
    cargo bench --bench copy_paths --bench frame --bench cleanup {{ARGS}}

# Long runs of the property tests (buffer layouts, damage clipping, slot keys) and 1000 SIGKILLed clients.
fuzz: deps
    PROPTEST_CASES=200000 cargo test --lib -- shm_layouts clipping_any slot_keys
    KILL_CYCLES=1000 cargo test -p tandem-compositor --test hostile -- clients_killed
