//! Every command shown in README.md and docs/*.md (the lines of their `sh` blocks) is run by CI:
//! scripts/doc-commands.sh lists each one with the short form it runs, or names the part of CI
//! that runs it. This test keeps the list and the documents in step, and keeps each short form
//! honest: it must contain the shown command's words, in order.

use std::path::{Path, PathBuf};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("compositor/ sits in the repository")
        .to_path_buf()
}

/// The commands of every `sh` block, one per line, comments and blank lines dropped.
fn shown_commands(markdown: &str) -> Vec<String> {
    let mut commands = Vec::new();
    let mut in_sh = false;
    let mut in_other = false;
    for line in markdown.lines() {
        let trimmed = line.trim();
        if let Some(lang) = trimmed.strip_prefix("```") {
            if in_sh || in_other {
                (in_sh, in_other) = (false, false);
            } else if lang == "sh" {
                in_sh = true;
            } else {
                in_other = true;
            }
            continue;
        }
        if !in_sh {
            continue;
        }
        let command = trimmed.split(" #").next().unwrap_or("").trim();
        if !command.is_empty() && !command.starts_with('#') {
            commands.push(normalise(command));
        }
    }
    commands
}

fn normalise(command: &str) -> String {
    command.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Shell words of one line: whitespace outside quotes separates, quotes are removed.
fn words(line: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut quote = None;
    let mut in_word = false;
    for c in line.chars() {
        match (quote, c) {
            (None, '\'' | '"') => {
                quote = Some(c);
                in_word = true;
            }
            (Some(q), c) if c == q => quote = None,
            (None, c) if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            (_, c) => {
                word.push(c);
                in_word = true;
            }
        }
    }
    if in_word {
        words.push(word);
    }
    words
}

struct Entry {
    doc: String,
    /// The words run, or None when another part of CI runs the command.
    run: Option<Vec<String>>,
}

/// The `shown`, `shown_background` and `elsewhere` lines of doc-commands.sh, continuation lines
/// joined.
fn listed(script: &str) -> Vec<Entry> {
    let joined = script.replace("\\\n", " ");
    joined
        .lines()
        .filter_map(|line| {
            let words = words(line.trim());
            let (verb, doc) = (words.first()?, words.get(1)?);
            match verb.as_str() {
                "elsewhere" => Some(Entry {
                    doc: normalise(doc),
                    run: None,
                }),
                "shown" | "shown_background" => {
                    let dash = words.iter().position(|w| w == "--")?;
                    Some(Entry {
                        doc: normalise(doc),
                        run: Some(words[dash + 1..].to_vec()),
                    })
                }
                _ => None,
            }
        })
        .collect()
}

/// Does `run` contain the words of `doc` in order? `[--opt]` in the docs is optional, and a
/// path in the docs may be run under a temporary directory (`shots` as `$work/shots`).
fn runs_as_shown(doc: &str, run: &[String]) -> bool {
    let mut rest = run.iter();
    words(doc).into_iter().all(|word| {
        let word = word.as_str();
        let (word, optional) = match word.strip_prefix('[').and_then(|w| w.strip_suffix(']')) {
            Some(inner) => (inner, true),
            None => (word, false),
        };
        let matches = |r: &String| r == word || r.ends_with(&format!("/{word}"));
        if optional {
            let mut probe = rest.clone();
            if probe.any(matches) {
                rest = probe;
            }
            true
        } else {
            rest.any(matches)
        }
    })
}

#[test]
fn every_shown_command_is_run_by_ci() {
    let root = repo();
    let mut documents = vec![root.join("README.md")];
    let mut docs: Vec<PathBuf> = std::fs::read_dir(root.join("docs"))
        .expect("docs/")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "md"))
        .collect();
    docs.sort();
    documents.extend(docs);
    let script = std::fs::read_to_string(root.join("scripts/doc-commands.sh"))
        .expect("scripts/doc-commands.sh");
    let entries = listed(&script);
    let mut missing = Vec::new();
    let mut total = 0;
    for document in &documents {
        let text = std::fs::read_to_string(document).expect("readable");
        for command in shown_commands(&text) {
            total += 1;
            if !entries.iter().any(|e| e.doc == command) {
                missing.push(format!("{}: {command}", document.display()));
            }
        }
    }
    assert!(
        missing.is_empty(),
        "commands shown but not run by CI (add them to scripts/doc-commands.sh):\n{}",
        missing.join("\n")
    );
    assert!(
        total >= 10,
        "only {total} commands found: is the parser broken?"
    );
    for entry in &entries {
        if let Some(run) = &entry.run {
            assert!(
                runs_as_shown(&entry.doc, run),
                "doc-commands.sh runs `{}` for `{}`: the shown words are not all there",
                run.join(" "),
                entry.doc
            );
        }
    }
}

#[test]
fn the_checker_catches_drift() {
    let doc = "just demo --screenshot-dir shots";
    let run = |s: &str| words(s);
    assert!(runs_as_shown(
        doc,
        &run("just demo --screenshot-dir \"$work/shots\" --duration 5")
    ));
    assert!(!runs_as_shown(doc, &run("just demo --duration 5")));
    assert!(runs_as_shown(
        "tandem-compositor msg gpus [--json]",
        &run("tandem-compositor msg gpus")
    ));
    assert!(!runs_as_shown(
        "tandem-compositor msg gpus",
        &run("tandem-compositor msg windows")
    ));
    let markdown = "text\n```sh\njust demo   # main\n# a comment\n\n```\n```json\n{}\n```\n";
    assert_eq!(shown_commands(markdown), vec!["just demo".to_string()]);
}
