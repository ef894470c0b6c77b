# Tandem: multi-GPU texture layer for smithay compositors.
#
# Every recipe that builds uses one profile (cargo's dev profile, optimised in Cargo.toml) and one
# feature set (the whole workspace with its tests), so `just test`, `just demo`, `just stress` and
# `just install` compile the workspace once between them. Only `just bench` builds with the
# release profile.

set shell := ["bash", "-euo", "pipefail", "-c"]

export CARGO_TERM_COLOR := "never"

# Where the workspace's binaries land. Recipes run them from here rather than through `cargo run`,
# whose narrower feature set would rebuild smithay.
bin := env_var_or_default("CARGO_TARGET_DIR", justfile_directory() / "target") / "debug"

# List the recipes.
default:
    @just --list

# Install the system packages (Debian/Ubuntu; Mesa 24+ from bookworm-backports on Debian 12); --vm adds the VM test bed's.
deps *ARGS:
    bash scripts/deps.sh {{ARGS}}

# Build the workspace: the compositor, the test client, the tests.
build: deps
    cargo build --workspace --all-targets

# Put tandem-compositor and tandem-test-client on PATH (into $CARGO_HOME/bin, or DIR); --session [--prefix PREFIX] installs a display manager session instead (PREFIX/bin, PREFIX/share/wayland-sessions; default /usr/local).
install *ARGS: build
    bash scripts/install.sh "{{bin}}" {{ARGS}}

# Run the compositor's embedded default: nested if a display exists, otherwise headless with two software GPUs and demo clients.
demo *ARGS: build
    "{{bin}}/tandem-compositor" demo {{ARGS}}

# The whole suite: formatting, clippy, and every test on software GPUs.
test: deps
    cargo fmt --all -- --check
    cargo clippy --workspace --all-targets -- -D warnings
    RUSTDOCFLAGS="-D warnings" cargo doc --no-deps -p tandem
    bash scripts/test.sh

# The example compositor on the library (examples/headless_compositor.rs); ARGS as its --help says.
example *ARGS: build
    "{{bin}}/examples/headless_compositor" {{ARGS}}

# VRAM-per-window stress test: Tandem against smithay's stock import, in one run (figures and plot in stress-out/).
stress *ARGS: build
    "{{bin}}/tandem-compositor" stress --compare --out stress-out {{ARGS}}

# What a cross-GPU copy costs per frame, path by path, against memcpy; rewrites OUT (last stdout line: JSON).
copy-costs OUT="docs/copy-costs.md" *ARGS: build
    "{{bin}}/tandem-compositor" copy-costs --out "{{OUT}}" {{ARGS}}

# The Wayland conformance suite (WLCS) against the compositor, whole: passed/failed/skipped per group, then "N passed, N failed"; fails on any unexpected result.
conformance: build
    bash scripts/conformance.sh

# Criterion benchmarks (release build): copy paths against memcpy, cleanup cost; ARGS go to criterion.
bench *ARGS: deps
    cargo bench --bench copy_paths --bench cleanup -- {{ARGS}}

# Long runs of the property tests (buffer layouts, damage clipping, slot keys) and SIGKILLed clients.
fuzz CASES="200000" KILLS="1000": deps
    PROPTEST_CASES={{CASES}} cargo test --workspace --lib --bins --tests -- shm_layouts clipping_any slot_keys
    KILL_CYCLES={{KILLS}} cargo test --workspace --lib --bins --tests -- clients_killed

# Generic Wayland protocol fuzzer: SECONDS of random well-formed requests (from every global's protocol XML, several clients killed at random) against a headless compositor; fails on a crash or on client bytes left in the ledger.
fuzz-protocol SECONDS="60" *ARGS: build
    bash scripts/fuzz-protocol.sh {{SECONDS}} {{ARGS}}

# smithay 0.7's own multigpu against Tandem on real DRM devices in the VM (virgl + a 2d virtio-gpu): what a closed window leaves, dma-bufs per frame, copy time; figures in seed-compare-out/, last stdout line JSON.
seed-compare *ARGS: (deps "--vm") build
    bash tests/vm/seed-compare.sh --out seed-compare-out {{ARGS}}

# Boot Debian's 6.12 kernel under QEMU with real DRM/KMS devices and run COMMAND inside (see tests/vm/run.sh --help).
vm *ARGS: (deps "--vm")
    bash tests/vm/run.sh {{ARGS}}

# Every VM scenario: the TTY compositor on a real kernel, checked on host-side screenshots.
vm-test *SCENARIOS: (deps "--vm") build
    bash tests/vm/test.sh {{SCENARIOS}}

# A day, compressed: real clients through cycles of windows, lock, screens off and on, outputs added and removed, scale changed; fails when the ledger, RSS or open fds trend upward.
soak MINUTES="3": build
    bash scripts/soak.sh {{MINUTES}}

# Run every command README.md and docs/ show, in a short form (CI runs this).
doc-commands: deps
    bash scripts/doc-commands.sh
