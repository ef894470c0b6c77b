//! Generates the protocol fuzzer's tables (`src/fuzz/protocol.rs` includes them) from the protocol
//! XML that the wayland crates in the dependency graph ship: wayland.xml from `wayland-client`,
//! every stable, staging and unstable XML of `wayland-protocols` 0.32, `wayland-protocols-wlr` 0.3
//! and, when the graph has it, `wayland-protocols-misc` 0.3.
//!
//! The crates' source directories come from `cargo metadata` (through the `CARGO` this script is
//! run with). For each interface the output holds a `wayland_backend::protocol::Interface` (with
//! its C `wl_interface`, which libwayland-client needs when wayland-backend runs on the system
//! library) and the metadata the fuzzer draws requests from: argument kinds, nullability, the
//! interface of object and new_id arguments, enums with their entries, `since`, destructors. An
//! interface defined by two XMLs (two versions of one protocol) is taken from the one with the
//! higher version. Signatures are built as wayland-scanner builds them for clients: an untyped
//! new_id (wl_registry.bind) is a string, a uint and a new_id.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Crates whose XML is read: (name, version prefix, required).
const CRATES: &[(&str, &str, bool)] = &[
    ("wayland-client", "0.31.", true),
    ("wayland-protocols", "0.32.", true),
    ("wayland-protocols-wlr", "0.3.", true),
    ("wayland-protocols-misc", "0.3.", false),
];

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Int,
    Uint,
    Fixed,
    Str,
    Object,
    NewId,
    UntypedNewId,
    Array,
    Fd,
}

struct Arg {
    name: String,
    kind: Kind,
    allow_null: bool,
    interface: Option<String>,
    /// (interface, enum) the argument's `enum` attribute names.
    enumeration: Option<(String, String)>,
}

struct Msg {
    name: String,
    since: u32,
    destructor: bool,
    args: Vec<Arg>,
}

struct Enum {
    name: String,
    bitfield: bool,
    values: Vec<u32>,
}

struct Iface {
    name: String,
    version: u32,
    requests: Vec<Msg>,
    events: Vec<Msg>,
    enums: Vec<Enum>,
    source: String,
}

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    let manifest_dir = PathBuf::from(env("CARGO_MANIFEST_DIR"));
    let workspace_lock = manifest_dir.join("../../Cargo.lock");
    if workspace_lock.exists() {
        println!("cargo:rerun-if-changed={}", workspace_lock.display());
    }

    let dirs = crate_dirs(&manifest_dir);
    let mut files = Vec::new();
    for dir in &dirs {
        collect_xml(dir, &mut files);
    }
    files.sort();

    let mut interfaces: Vec<Iface> = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file)
            .unwrap_or_else(|e| panic!("reading {}: {e}", file.display()));
        for iface in parse_protocol(&text, file) {
            match interfaces.iter_mut().find(|i| i.name == iface.name) {
                Some(existing) if existing.version >= iface.version => {}
                Some(existing) => *existing = iface,
                None => interfaces.push(iface),
            }
        }
    }
    interfaces.sort_by(|a, b| a.name.cmp(&b.name));

    let out = PathBuf::from(env("OUT_DIR")).join("fuzz_protocols.rs");
    std::fs::write(&out, generate(&interfaces))
        .unwrap_or_else(|e| panic!("writing {}: {e}", out.display()));
}

fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| panic!("{name} is not set"))
}

/// The source directories of [`CRATES`], from `cargo metadata` of this package's workspace.
fn crate_dirs(manifest_dir: &Path) -> Vec<PathBuf> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let output = Command::new(&cargo)
        .args([
            "metadata",
            "--format-version",
            "1",
            "--offline",
            // Only the packages of the platform being built are downloaded before a build
            // script runs; without the filter, offline metadata asks for every platform's.
            "--filter-platform",
        ])
        .arg(std::env::var("TARGET").expect("cargo sets TARGET for build scripts"))
        .arg("--manifest-path")
        .arg(manifest_dir.join("Cargo.toml"))
        .output()
        .unwrap_or_else(|e| panic!("running {cargo} metadata: {e}"));
    if !output.status.success() {
        panic!(
            "{cargo} metadata failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let metadata: serde_json::Value =
        serde_json::from_slice(&output.stdout).expect("cargo metadata printed JSON");
    let packages = metadata["packages"]
        .as_array()
        .expect("cargo metadata lists packages");

    let mut dirs = Vec::new();
    for &(name, prefix, required) in CRATES {
        let best = packages
            .iter()
            .filter(|p| p["name"] == name)
            .filter_map(|p| {
                let version = p["version"].as_str()?;
                let manifest = p["manifest_path"].as_str()?;
                version
                    .starts_with(prefix)
                    .then(|| (version_key(version), PathBuf::from(manifest)))
            })
            .max_by(|a, b| a.0.cmp(&b.0));
        match best {
            Some((_, manifest)) => {
                let dir = manifest.parent().expect("a manifest has a directory");
                dirs.push(dir.to_path_buf());
            }
            None if required => panic!("cargo metadata does not list {name} {prefix}x"),
            None => {}
        }
    }
    dirs
}

fn version_key(version: &str) -> Vec<u64> {
    version
        .split(['.', '-', '+'])
        .map(|part| part.parse().unwrap_or(0))
        .collect()
}

fn collect_xml(dir: &Path, files: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name();
        if path.is_dir() {
            if name != "tests" && name != "target" && name != ".git" {
                collect_xml(&path, files);
            }
        } else if path.extension().is_some_and(|e| e == "xml") {
            files.push(path);
        }
    }
}

fn parse_protocol(text: &str, file: &Path) -> Vec<Iface> {
    let doc = roxmltree::Document::parse_with_options(
        text,
        roxmltree::ParsingOptions {
            allow_dtd: true,
            ..Default::default()
        },
    )
    .unwrap_or_else(|e| panic!("parsing {}: {e}", file.display()));
    let root = doc.root_element();
    if root.tag_name().name() != "protocol" {
        return Vec::new();
    }
    let source = file
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    root.children()
        .filter(|n| n.has_tag_name("interface"))
        .map(|node| {
            let name = node.attribute("name").unwrap_or_default().to_string();
            let version = node
                .attribute("version")
                .and_then(|v| v.parse().ok())
                .unwrap_or(1);
            let messages = |tag: &str| {
                node.children()
                    .filter(|n| n.has_tag_name(tag))
                    .map(|m| parse_message(m, &name))
                    .collect()
            };
            let enums = node
                .children()
                .filter(|n| n.has_tag_name("enum"))
                .map(|e| Enum {
                    name: e.attribute("name").unwrap_or_default().to_string(),
                    bitfield: e.attribute("bitfield") == Some("true"),
                    values: e
                        .children()
                        .filter(|n| n.has_tag_name("entry"))
                        .filter_map(|entry| parse_value(entry.attribute("value")?))
                        .collect(),
                })
                .collect();
            Iface {
                requests: messages("request"),
                events: messages("event"),
                enums,
                name,
                version,
                source: source.clone(),
            }
        })
        .collect()
}

fn parse_value(text: &str) -> Option<u32> {
    let text = text.trim();
    if let Some(hex) = text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
        u32::from_str_radix(hex, 16).ok()
    } else if let Some(negative) = text.strip_prefix('-') {
        negative.parse::<i64>().ok().map(|v| (-v) as u32)
    } else {
        text.parse().ok()
    }
}

fn parse_message(node: roxmltree::Node, interface: &str) -> Msg {
    let args = node
        .children()
        .filter(|n| n.has_tag_name("arg"))
        .map(|a| {
            let target = a.attribute("interface").map(str::to_string);
            let kind = match a.attribute("type").unwrap_or_default() {
                "int" => Kind::Int,
                "uint" => Kind::Uint,
                "fixed" => Kind::Fixed,
                "string" => Kind::Str,
                "object" => Kind::Object,
                "new_id" if target.is_some() => Kind::NewId,
                "new_id" => Kind::UntypedNewId,
                "array" => Kind::Array,
                "fd" => Kind::Fd,
                other => panic!("unknown argument type {other} in {interface}"),
            };
            let enumeration = a.attribute("enum").map(|e| match e.split_once('.') {
                Some((iface, name)) => (iface.to_string(), name.to_string()),
                None => (interface.to_string(), e.to_string()),
            });
            Arg {
                name: a.attribute("name").unwrap_or_default().to_string(),
                kind,
                allow_null: a.attribute("allow-null") == Some("true"),
                interface: target,
                enumeration,
            }
        })
        .collect();
    Msg {
        name: node.attribute("name").unwrap_or_default().to_string(),
        since: node
            .attribute("since")
            .and_then(|v| v.parse().ok())
            .unwrap_or(1),
        destructor: node.attribute("type") == Some("destructor"),
        args,
    }
}

/// Writes the tables: `INTERFACES` (one `InterfaceMeta` per interface, sorted by name) and
/// `ENUMS`; the types they use are defined by the including module.
fn generate(interfaces: &[Iface]) -> String {
    let index: HashMap<&str, usize> = interfaces
        .iter()
        .enumerate()
        .map(|(i, iface)| (iface.name.as_str(), i))
        .collect();
    let mut enum_index: BTreeMap<(String, String), usize> = BTreeMap::new();
    let mut enums = String::new();
    for iface in interfaces {
        for e in &iface.enums {
            let values: Vec<String> = e.values.iter().map(|v| format!("{v:#x}")).collect();
            let _ = writeln!(
                enums,
                "    EnumMeta {{ name: \"{}.{}\", bitfield: {}, values: &[{}] }},",
                iface.name,
                e.name,
                e.bitfield,
                values.join(", ")
            );
            enum_index.insert((iface.name.clone(), e.name.clone()), enum_index.len());
        }
    }

    let mut out = String::new();
    let _ = writeln!(
        out,
        "// Generated by compositor/test-client/build.rs from the protocol XML of the wayland crates."
    );
    let _ = writeln!(
        out,
        "struct SyncWrapper<T>(T);\nunsafe impl<T> Sync for SyncWrapper<T> {{}}\n\
         static NO_TYPES: SyncWrapper<[*const wl_interface; 1]> = SyncWrapper([std::ptr::null()]);\n"
    );

    for (i, iface) in interfaces.iter().enumerate() {
        // The Rust description wayland-backend checks messages against.
        let rust_messages = |list: &[Msg]| -> String {
            let mut s = String::from("&[");
            for m in list {
                let mut signature = Vec::new();
                let mut arg_interfaces = Vec::new();
                let mut child = "None".to_string();
                for a in &m.args {
                    let null = if a.allow_null { "Yes" } else { "No" };
                    match a.kind {
                        Kind::Int => signature.push("ArgumentType::Int".to_string()),
                        Kind::Uint => signature.push("ArgumentType::Uint".to_string()),
                        Kind::Fixed => signature.push("ArgumentType::Fixed".to_string()),
                        Kind::Array => signature.push("ArgumentType::Array".to_string()),
                        Kind::Fd => signature.push("ArgumentType::Fd".to_string()),
                        Kind::Str => {
                            signature.push(format!("ArgumentType::Str(AllowNull::{null})"))
                        }
                        Kind::Object => {
                            signature.push(format!("ArgumentType::Object(AllowNull::{null})"));
                            arg_interfaces.push(
                                match a.interface.as_deref().and_then(|n| index.get(n)) {
                                    Some(t) => format!("&I{t}"),
                                    None => "&ANONYMOUS_INTERFACE".to_string(),
                                },
                            );
                        }
                        Kind::NewId => {
                            signature.push("ArgumentType::NewId".to_string());
                            if let Some(t) = a.interface.as_deref().and_then(|n| index.get(n)) {
                                if child == "None" {
                                    child = format!("Some(&I{t})");
                                }
                            }
                        }
                        Kind::UntypedNewId => {
                            signature.push("ArgumentType::Str(AllowNull::No)".to_string());
                            signature.push("ArgumentType::Uint".to_string());
                            signature.push("ArgumentType::NewId".to_string());
                        }
                    }
                }
                let _ = write!(
                    s,
                    "MessageDesc {{ name: \"{}\", signature: &[{}], since: {}, is_destructor: {}, \
                     child_interface: {}, arg_interfaces: &[{}] }}, ",
                    m.name,
                    signature.join(", "),
                    m.since,
                    m.destructor,
                    child,
                    arg_interfaces.join(", ")
                );
            }
            s.push(']');
            s
        };
        let _ = writeln!(
            out,
            "pub static I{i}: Interface = Interface {{ name: \"{}\", version: {}, requests: {}, \
             events: {}, c_ptr: Some(&C{i}) }};",
            iface.name,
            iface.version,
            rust_messages(&iface.requests),
            rust_messages(&iface.events)
        );

        // The C description libwayland-client marshals and parses with.
        for (which, list) in [("R", &iface.requests), ("E", &iface.events)] {
            for (m_index, m) in list.iter().enumerate() {
                let types: Vec<String> = m
                    .args
                    .iter()
                    .flat_map(|a| match a.kind {
                        Kind::Object | Kind::NewId => {
                            vec![match a.interface.as_deref().and_then(|n| index.get(n)) {
                                Some(t) => format!("&C{t} as *const wl_interface"),
                                None => "std::ptr::null()".to_string(),
                            }]
                        }
                        Kind::UntypedNewId => vec!["std::ptr::null()".to_string(); 3],
                        _ => vec!["std::ptr::null()".to_string()],
                    })
                    .collect();
                if !types.is_empty() {
                    let _ = writeln!(
                        out,
                        "static T{i}{which}{m_index}: SyncWrapper<[*const wl_interface; {}]> = \
                         SyncWrapper([{}]);",
                        types.len(),
                        types.join(", ")
                    );
                }
            }
            if list.is_empty() {
                continue;
            }
            let mut messages = Vec::new();
            for (m_index, m) in list.iter().enumerate() {
                let mut signature = if m.since > 1 {
                    m.since.to_string()
                } else {
                    String::new()
                };
                for a in &m.args {
                    if a.allow_null && matches!(a.kind, Kind::Str | Kind::Object) {
                        signature.push('?');
                    }
                    signature.push_str(match a.kind {
                        Kind::Int => "i",
                        Kind::Uint => "u",
                        Kind::Fixed => "f",
                        Kind::Str => "s",
                        Kind::Object => "o",
                        Kind::NewId => "n",
                        Kind::UntypedNewId => "sun",
                        Kind::Array => "a",
                        Kind::Fd => "h",
                    });
                }
                let types = if m.args.is_empty() {
                    "NO_TYPES.0.as_ptr()".to_string()
                } else {
                    format!("T{i}{which}{m_index}.0.as_ptr()")
                };
                messages.push(format!(
                    "wl_message {{ name: c\"{}\".as_ptr(), signature: c\"{signature}\".as_ptr(), \
                     types: {types} }}",
                    m.name
                ));
            }
            let _ = writeln!(
                out,
                "static C{i}{which}: SyncWrapper<[wl_message; {}]> = SyncWrapper([{}]);",
                messages.len(),
                messages.join(", ")
            );
        }
        let pointer = |which: &str, list: &[Msg]| {
            if list.is_empty() {
                "std::ptr::null()".to_string()
            } else {
                format!("C{i}{which}.0.as_ptr()")
            }
        };
        let _ = writeln!(
            out,
            "static C{i}: wl_interface = wl_interface {{ name: c\"{}\".as_ptr(), version: {}, \
             request_count: {}, requests: {}, event_count: {}, events: {} }};",
            iface.name,
            iface.version,
            iface.requests.len(),
            pointer("R", &iface.requests),
            iface.events.len(),
            pointer("E", &iface.events)
        );

        // What the fuzzer draws from.
        let meta_messages = |list: &[Msg]| -> String {
            let mut s = String::from("&[");
            for m in list {
                let args: Vec<String> = m
                    .args
                    .iter()
                    .map(|a| {
                        let kind = match a.kind {
                            Kind::Int => "Int",
                            Kind::Uint => "Uint",
                            Kind::Fixed => "Fixed",
                            Kind::Str => "Str",
                            Kind::Object => "Object",
                            Kind::NewId => "NewId",
                            Kind::UntypedNewId => "UntypedNewId",
                            Kind::Array => "Array",
                            Kind::Fd => "Fd",
                        };
                        let target = match a.interface.as_deref().and_then(|n| index.get(n)) {
                            Some(t) => format!("Some({t})"),
                            None => "None".to_string(),
                        };
                        let enumeration =
                            match a.enumeration.as_ref().and_then(|k| enum_index.get(k)) {
                                Some(e) => format!("Some({e})"),
                                None => "None".to_string(),
                            };
                        format!(
                            "ArgMeta {{ name: \"{}\", kind: ArgKind::{kind}, allow_null: {}, \
                             interface: {target}, enumeration: {enumeration} }}",
                            a.name, a.allow_null
                        )
                    })
                    .collect();
                let _ = write!(
                    s,
                    "MessageMeta {{ name: \"{}\", since: {}, destructor: {}, args: &[{}] }}, ",
                    m.name,
                    m.since,
                    m.destructor,
                    args.join(", ")
                );
            }
            s.push(']');
            s
        };
        let _ = writeln!(
            out,
            "static M{i}: InterfaceMeta = InterfaceMeta {{ name: \"{}\", version: {}, \
             interface: &I{i}, source: \"{}\", requests: {}, events: {} }};\n",
            iface.name,
            iface.version,
            iface.source,
            meta_messages(&iface.requests),
            meta_messages(&iface.events)
        );
    }

    let all: Vec<String> = (0..interfaces.len()).map(|i| format!("&M{i}")).collect();
    let _ = writeln!(
        out,
        "/// Every interface, sorted by name.\npub static INTERFACES: &[&InterfaceMeta] = &[{}];\n",
        all.join(", ")
    );
    let _ = writeln!(
        out,
        "/// Every enum, in the order of `INTERFACES`.\npub static ENUMS: &[EnumMeta] = &[\n{enums}];"
    );
    out
}
