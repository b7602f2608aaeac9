//! Every console line a PD prints starts with that PD's name in
//! `system.xml` (`<name>| `): the console reader takes lines printed into
//! each other apart by those starts (`serial::Reassembler`), so a PD that
//! printed under another name (the disk driver's `virtio-blk| `, when
//! the PD is `blk`) had its lines cut at a start inside them, and a line
//! it cut could not be put back together.

use std::path::{Path, PathBuf};

use worknode_sysdesc::model::System;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The binaries a crate builds (`[[bin]] name = "..."`).
fn bins(manifest: &str) -> Vec<String> {
    manifest
        .split("[[bin]]")
        .skip(1)
        .filter_map(|section| {
            let line = section.lines().find(|l| l.trim_start().starts_with("name"))?;
            Some(line.split('"').nth(1)?.to_string())
        })
        .collect()
}

/// The `.rs` files under `dir`.
fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap().map(Result::unwrap) {
        let path = entry.path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The name each console line printed in `text` starts with: the
/// `<name>` of a literal `"<name>| ..."` right after `println!(`.
fn printed_names(text: &str) -> Vec<String> {
    text.match_indices("println!(")
        .filter_map(|(at, m)| {
            let rest = text[at + m.len()..].trim_start().strip_prefix('"')?;
            let (name, _) = rest.split_once("| ")?;
            name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-').then(|| name.to_string())
        })
        .collect()
}

#[test]
fn every_pd_prints_under_its_own_name() {
    let root = root();
    let system = System::parse(&std::fs::read_to_string(root.join("system.xml")).unwrap()).unwrap();
    let mut checked = 0;
    for group in ["pds", "drivers"] {
        for entry in std::fs::read_dir(root.join(group)).unwrap().map(Result::unwrap) {
            let Ok(manifest) = std::fs::read_to_string(entry.path().join("Cargo.toml")) else { continue };
            let programs: Vec<String> = bins(&manifest).iter().map(|b| format!("{b}.elf")).collect();
            let names: Vec<&str> = system
                .pds
                .iter()
                .filter(|pd| programs.contains(&pd.program))
                .map(|pd| pd.name.as_str())
                .collect();
            let mut files = Vec::new();
            sources(&entry.path().join("src"), &mut files);
            for file in files {
                for printed in printed_names(&std::fs::read_to_string(&file).unwrap()) {
                    assert!(
                        names.contains(&printed.as_str()),
                        "{}: prints lines as `{printed}| `, but the PDs running it are {names:?}",
                        file.display()
                    );
                    checked += 1;
                }
            }
        }
    }
    assert!(
        checked >= 10,
        "found only {checked} console lines: is the scan still looking in the right places?"
    );
}

#[test]
fn a_misnamed_line_is_found() {
    let text = "debug_println!(\n    \"virtio-blk| {} sectors\", n);\ndebug_println!(\"{x}\");";
    assert_eq!(printed_names(text), ["virtio-blk"]);
}
