#!/usr/bin/env bash
# Checks the minimum Rust version the workspace states (`rust-version` in Cargo.toml): no locked
# dependency of any workspace crate declares a newer one, and the toolchain in use is not older.
# (An exact toolchain of that version is not fetched: the suite builds with the installed one.)
set -euo pipefail
cd "$(dirname "$0")/.."
cargo metadata --format-version 1 --locked | python3 -c '
import json, subprocess, sys

def version(text):
    return tuple(int(p) for p in (text.split("-")[0].split(".") + ["0", "0"])[:3])

meta = json.load(sys.stdin)
packages = {p["id"]: p for p in meta["packages"]}
members = set(meta["workspace_members"])
stated = {packages[m]["rust_version"] for m in members}
if len(stated) != 1 or None in stated:
    sys.exit(f"msrv: every workspace crate must state one rust-version, found {stated}")
stated = stated.pop()
# Everything the workspace crates reach, for every target (build, normal and dev dependencies).
nodes = {n["id"]: n for n in meta["resolve"]["nodes"]}
seen, todo = set(), list(members)
while todo:
    node = todo.pop()
    if node in seen:
        continue
    seen.add(node)
    todo.extend(dep["pkg"] for dep in nodes[node]["deps"])
needs = sorted(
    ((packages[p]["rust_version"], packages[p]["name"], packages[p]["version"])
     for p in seen - members if packages[p].get("rust_version")),
    key=lambda t: version(t[0]),
)
newest = needs[-1] if needs else ("0", "none", "")
rustc = subprocess.run(["rustc", "--version"], capture_output=True, text=True, check=True).stdout.split()[1]
print(f"msrv: stated {stated}; the most demanding dependency is {newest[1]} {newest[2]} (rust {newest[0]}); rustc {rustc}")
if version(newest[0]) > version(stated):
    sys.exit(f"msrv: {newest[1]} {newest[2]} needs rust {newest[0]}, newer than the stated {stated}")
if version(rustc) < version(stated):
    sys.exit(f"msrv: rustc {rustc} is older than the stated {stated}")
'
