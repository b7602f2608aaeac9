//! Renders `system.xml` into the plain Microkit description for one board and
//! profile.
//!
//! Rendering works on the text, not on a re-serialised tree: elements that
//! are filtered out and the `boards=` / `profiles=` attributes are cut out of
//! the original, so comments and layout survive and the output diffs cleanly
//! against the source.

use std::ops::Range;

use crate::model::{System, line_of};
use crate::{BOARDS, Error, PROFILES, check};

/// The attribute that limits an element to some boards.
pub const BOARDS_ATTR: &str = "boards";
/// The attribute that limits an element to some profiles.
pub const PROFILES_ATTR: &str = "profiles";

/// Renders `template` for `board` and `profile`, then parses and checks the
/// result. Returns the rendered text.
pub fn render(template: &str, board: &str, profile: &str) -> Result<String, Vec<Error>> {
    if !BOARDS.iter().any(|b| b.name == board) {
        return Err(vec![Error::new(format!("unknown board '{board}' (known: {})", board_names()))]);
    }
    if !PROFILES.contains(&profile) {
        return Err(vec![Error::new(format!(
            "unknown profile '{profile}' (known: {})",
            PROFILES.join(", ")
        ))]);
    }
    let text = filter(template, board, profile).map_err(|e| vec![e])?;
    let system = System::parse(&text).map_err(|e| vec![e])?;
    check::check(&system)?;
    Ok(text)
}

/// Renders the template for every board and profile and checks each result.
pub fn check_all(template: &str) -> Result<(), Vec<Error>> {
    let mut errors = Vec::new();
    for board in BOARDS {
        for profile in PROFILES {
            if let Err(found) = render(template, board.name, profile) {
                errors.extend(found.into_iter().map(|mut e| {
                    e.message = format!("[{} {profile}] {}", board.name, e.message);
                    e
                }));
            }
        }
    }
    if errors.is_empty() { Ok(()) } else { Err(errors) }
}

fn board_names() -> String {
    BOARDS.iter().map(|b| b.name).collect::<Vec<_>>().join(", ")
}

fn filter(template: &str, board: &str, profile: &str) -> Result<String, Error> {
    let doc =
        roxmltree::Document::parse(template).map_err(|e| Error::new(format!("not well-formed XML: {e}")))?;
    let mut cuts: Vec<Range<usize>> = Vec::new();
    let mut dropped: Vec<Range<usize>> = Vec::new();
    for node in doc.descendants().filter(|n| n.is_element()) {
        if dropped.iter().any(|d| d.contains(&node.range().start)) {
            continue;
        }
        let mut keep = true;
        for attr in node.attributes() {
            let (allowed, selected) = match attr.name() {
                BOARDS_ATTR => (BOARDS.iter().map(|b| b.name).collect::<Vec<_>>(), board),
                PROFILES_ATTR => (PROFILES.to_vec(), profile),
                _ => continue,
            };
            let listed: Vec<&str> = attr.value().split_whitespace().collect();
            if listed.is_empty() {
                return Err(Error::at(line_of(&doc, node), format!("'{}' lists nothing", attr.name())));
            }
            if let Some(unknown) = listed.iter().find(|name| !allowed.contains(name)) {
                return Err(Error::at(
                    line_of(&doc, node),
                    format!("'{}' names unknown '{unknown}' (known: {})", attr.name(), allowed.join(", ")),
                ));
            }
            keep &= listed.contains(&selected);
            cuts.push(with_leading_space(template, attr.range()));
        }
        if !keep {
            let whole = whole_lines(template, node.range());
            dropped.push(whole.clone());
            cuts.push(whole);
        }
    }
    // Attribute cuts inside dropped elements are subsumed by the element cut.
    cuts.retain(|c| !dropped.iter().any(|d| d != c && d.start <= c.start && c.end <= d.end));
    cuts.sort_by_key(|c| c.start);
    let mut out = String::with_capacity(template.len());
    let mut at = 0;
    for cut in cuts {
        out.push_str(&template[at..cut.start]);
        at = cut.end;
    }
    out.push_str(&template[at..]);
    Ok(out)
}

/// Extends an attribute's range over the whitespace before it.
fn with_leading_space(text: &str, range: Range<usize>) -> Range<usize> {
    let start = text[..range.start].trim_end_matches([' ', '\t', '\n', '\r']).len();
    start..range.end
}

/// Extends an element's range to whole lines when it stands on lines of its
/// own, so a dropped element leaves no blank line behind.
fn whole_lines(text: &str, range: Range<usize>) -> Range<usize> {
    let before = &text[..range.start];
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let after = &text[range.end..];
    let line_end = after.find('\n').map_or(text.len(), |i| range.end + i + 1);
    let alone = before[line_start..].trim().is_empty() && text[range.end..line_end].trim().is_empty();
    if alone { line_start..line_end } else { range }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEMPLATE: &str = r#"<?xml version="1.0"?>
<system>
  <!-- the gate -->
  <protection_domain name="governor" priority="100">
    <program_image path="governor.elf"/>
    <protection_domain name="w0" id="1" priority="10">
      <program_image path="worknode.elf"/>
    </protection_domain>
    <protection_domain name="drill" id="2" priority="10" profiles="test">
      <program_image path="drill.elf"/>
    </protection_domain>
  </protection_domain>
  <memory_region name="mmio" size="0x1000" boards="qemu_virt_aarch64 qemu_virt_riscv64"/>
  <channel>
    <end pd="governor" id="1"/>
    <end pd="w0" id="0" pp="true"/>
  </channel>
  <channel profiles="test">
    <end pd="governor" id="2"/>
    <end pd="drill" id="0" pp="true"/>
  </channel>
</system>
"#;

    #[test]
    fn default_profile_drops_test_elements_and_keeps_layout() {
        let out = render(TEMPLATE, "qemu_virt_aarch64", "default").unwrap();
        assert!(!out.contains("drill"), "{out}");
        assert!(!out.contains("profiles="), "{out}");
        assert!(!out.contains("boards="), "{out}");
        assert!(out.contains("<!-- the gate -->"));
        assert!(out.contains("<memory_region name=\"mmio\" size=\"0x1000\"/>"), "{out}");
        assert!(!out.contains("\n\n"), "no blank lines left behind:\n{out}");
    }

    #[test]
    fn test_profile_keeps_test_elements() {
        let out = render(TEMPLATE, "qemu_virt_riscv64", "test").unwrap();
        assert!(out.contains("<protection_domain name=\"drill\" id=\"2\" priority=\"10\">"), "{out}");
        assert_eq!(out.matches("<channel>").count(), 2);
    }

    #[test]
    fn board_filter_drops_elements_for_other_boards() {
        let out = render(TEMPLATE, "x86_64_generic", "default").unwrap();
        assert!(!out.contains("mmio"), "{out}");
        assert_eq!(System::parse(&out).unwrap().pds.len(), 2);
    }

    #[test]
    fn every_board_and_profile_checks() {
        check_all(TEMPLATE).unwrap();
    }

    #[test]
    fn unknown_names_are_errors() {
        let err = render(TEMPLATE, "pc99", "default").unwrap_err();
        assert!(err[0].message.contains("unknown board 'pc99'"), "{err:?}");
        let err = render(TEMPLATE, "x86_64_generic", "prod").unwrap_err();
        assert!(err[0].message.contains("unknown profile 'prod'"), "{err:?}");
        let typo = TEMPLATE.replace("profiles=\"test\"", "profiles=\"tset\"");
        let err = render(&typo, "x86_64_generic", "default").unwrap_err();
        assert!(err[0].message.contains("unknown 'tset'"), "{err:?}");
        assert_eq!(err[0].line, Some(9));
        let empty = TEMPLATE.replace("profiles=\"test\"", "profiles=\"\"");
        assert!(
            render(&empty, "x86_64_generic", "default").unwrap_err()[0].message.contains("lists nothing")
        );
    }
}
