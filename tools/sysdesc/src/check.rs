//! The topology rules that make the governor an unbypassable gate.
//!
//! Microkit's own tool checks what seL4 needs (priorities of protected calls,
//! an acyclic call graph, id ranges). These rules add what Worknode's
//! authority model needs, and run before any PD is compiled:
//!
//! 1. there is exactly one PD named `governor`, and it is not nested;
//! 2. every PD nested in the governor (a *governed* PD: worknodes, test
//!    drills) has channels to the governor only, so every action it takes
//!    reaches the governor or nothing;
//! 3. every governed PD is a direct child of the governor (so the governor
//!    receives its faults and can stop it), has exactly one channel to it,
//!    may call it (`pp` on the child's end), and runs at a strictly lower
//!    priority;
//! 4. the governor never calls into a governed PD (it must not block on a
//!    PD it supervises);
//! 5. channel ids are below 62 and unique within each PD.

use crate::Error;
use crate::model::System;

/// The name the governor PD must have.
pub const GOVERNOR: &str = "governor";

/// Microkit channel ids are 0..=61.
pub const MAX_CHANNEL_ID: usize = 61;

/// Checks `system` against Worknode's rules, returning every violation.
pub fn check(system: &System) -> Result<(), Vec<Error>> {
    let mut errors = Vec::new();
    let governors: Vec<usize> = (0..system.pds.len()).filter(|&i| system.pds[i].name == GOVERNOR).collect();
    let governor = match governors.as_slice() {
        [g] => Some(*g),
        [] => {
            errors.push(Error::new("there is no protection domain named 'governor'"));
            None
        }
        _ => None, // the parser already refuses duplicate names
    };
    if let Some(g) = governor {
        let pd = &system.pds[g];
        if pd.parent.is_some() {
            errors.push(Error::at(pd.line, "the governor must not be nested in another PD"));
        }
        check_governed(system, g, &mut errors);
    }
    check_channel_ids(system, &mut errors);
    if errors.is_empty() { Ok(()) } else { Err(errors) }
}

fn check_governed(system: &System, governor: usize, errors: &mut Vec<Error>) {
    let gov = &system.pds[governor];
    for (index, pd) in system.pds.iter().enumerate() {
        if !system.is_descendant(index, governor) {
            continue;
        }
        let name = &pd.name;
        if pd.parent != Some(governor) {
            errors.push(Error::at(
                pd.line,
                format!("'{name}' is governed but not a direct child of the governor"),
            ));
        }
        if pd.priority >= gov.priority {
            errors.push(Error::at(
                pd.line,
                format!("'{name}' (priority {}) must run below the governor ({})", pd.priority, gov.priority),
            ));
        }
        let mut to_governor = 0;
        for (mine, theirs) in system.channels_of(index) {
            let peer = &system.pds[theirs.pd].name;
            if theirs.pd != governor {
                errors.push(Error::at(
                    pd.line,
                    format!("'{name}' has a channel to '{peer}': governed PDs may only talk to the governor"),
                ));
                continue;
            }
            to_governor += 1;
            if !mine.pp {
                errors.push(Error::at(
                    pd.line,
                    format!("'{name}' must be able to call the governor (pp=\"true\")"),
                ));
            }
            if theirs.pp {
                errors.push(Error::at(pd.line, format!("the governor must not call into '{name}'")));
            }
        }
        if to_governor != 1 {
            errors.push(Error::at(
                pd.line,
                format!("'{name}' needs exactly one channel to the governor, has {to_governor}"),
            ));
        }
    }
}

fn check_channel_ids(system: &System, errors: &mut Vec<Error>) {
    for (index, pd) in system.pds.iter().enumerate() {
        let mut seen: Vec<usize> = Vec::new();
        for (mine, _) in system.channels_of(index) {
            if mine.id > MAX_CHANNEL_ID {
                errors.push(Error::at(
                    pd.line,
                    format!("'{}': channel id {} is above {MAX_CHANNEL_ID}", pd.name, mine.id),
                ));
            }
            if seen.contains(&mine.id) {
                errors
                    .push(Error::at(pd.line, format!("'{}': channel id {} is used twice", pd.name, mine.id)));
            }
            seen.push(mine.id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn system(body: &str) -> System {
        System::parse(&format!("<system>{body}</system>")).unwrap()
    }

    const GOOD: &str = r#"
      <protection_domain name="governor" priority="100">
        <program_image path="governor.elf"/>
        <protection_domain name="w0" id="0" priority="10"><program_image path="worknode.elf"/></protection_domain>
      </protection_domain>
      <protection_domain name="log" priority="150"><program_image path="log.elf"/></protection_domain>
      <channel><end pd="governor" id="1"/><end pd="w0" id="0" pp="true"/></channel>
      <channel><end pd="governor" id="2" pp="true"/><end pd="log" id="0"/></channel>"#;

    fn messages(body: &str) -> Vec<String> {
        check(&system(body)).unwrap_err().into_iter().map(|e| e.message).collect()
    }

    #[test]
    fn good_system_passes() {
        check(&system(GOOD)).unwrap();
    }

    #[test]
    fn a_worknode_channel_around_the_governor_is_refused() {
        let body =
            format!(r#"{GOOD}<channel><end pd="w0" id="1" pp="true"/><end pd="log" id="1"/></channel>"#);
        assert!(messages(&body).iter().any(|m| m.contains("has a channel to 'log'")));
    }

    #[test]
    fn priority_inversion_and_missing_pp_are_refused() {
        let body = GOOD
            .replace(r#"priority="10""#, r#"priority="100""#)
            .replace(r#" pp="true"/><end pd="log""#, r#"/><end pd="log""#);
        let found = messages(&body);
        assert!(found.iter().any(|m| m.contains("must run below the governor")), "{found:?}");
    }

    #[test]
    fn governor_calling_a_worknode_is_refused() {
        let body = GOOD.replace(r#"<end pd="governor" id="1"/>"#, r#"<end pd="governor" id="1" pp="true"/>"#);
        assert!(messages(&body).iter().any(|m| m.contains("must not call into 'w0'")));
        let body = GOOD.replace(r#"<end pd="w0" id="0" pp="true"/>"#, r#"<end pd="w0" id="0"/>"#);
        assert!(messages(&body).iter().any(|m| m.contains("must be able to call")));
    }

    #[test]
    fn grandchildren_and_missing_channels_are_refused() {
        let body = GOOD.replace(
            r#"<program_image path="worknode.elf"/></protection_domain>"#,
            r#"<program_image path="worknode.elf"/><protection_domain name="deep" id="0" priority="5"><program_image path="worknode.elf"/></protection_domain></protection_domain>"#,
        );
        let found = messages(&body);
        assert!(found.iter().any(|m| m.contains("'deep' is governed but not a direct child")), "{found:?}");
        assert!(found.iter().any(|m| m.contains("'deep' needs exactly one channel")), "{found:?}");
    }

    #[test]
    fn duplicate_and_out_of_range_ids_are_refused() {
        let dup = GOOD.replace(r#"<end pd="governor" id="2""#, r#"<end pd="governor" id="1""#);
        assert!(messages(&dup).iter().any(|m| m.contains("channel id 1 is used twice")));
        let far = GOOD.replace(r#"<end pd="governor" id="2""#, r#"<end pd="governor" id="62""#);
        assert!(messages(&far).iter().any(|m| m.contains("channel id 62 is above 61")));
    }

    #[test]
    fn governor_is_required_and_top_level() {
        let none = GOOD.replace("\"governor\"", "\"boss\"");
        assert!(messages(&none).iter().any(|m| m.contains("no protection domain named 'governor'")));
    }
}
