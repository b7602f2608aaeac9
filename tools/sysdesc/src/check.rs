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
//! 5. channel ids are below 62 and unique within each PD;
//! 6. a governed PD holds no interrupt (`<irq>`), no I/O ports
//!    (`<ioport>`), no virtual machine, and is told no region's physical
//!    address (`<setvar region_paddr>`, what DMA needs): no way to a device;
//! 7. a governed PD maps no memory region at a fixed physical address
//!    (device registers, DMA memory);
//! 8. a governed PD maps no memory region that another PD maps: it shares
//!    no memory with anyone, so everything it does reaches others through
//!    the governor's gate;
//! 9. no other PD maps a region the governor maps, with two exceptions,
//!    each shared with exactly one PD outside the governor:
//!    - a device region (fixed physical address) the governor maps
//!      read-only. That is the lease clock: the timer driver owns the
//!      device (its comparator), and the governor reads the counter
//!      without a call. A writer could move the clock's registers, so the
//!      one writer is a driver in the trusted list, never a worknode and
//!      never two PDs;
//!    - a region of ordinary memory (no fixed physical address): the two
//!      ends of one queue, the governor's Strong events to the Raft PD.
//!      The governor reaches such memory only by copies, checks what it
//!      copied out before using it (`worknode_netq::messages`), and keeps
//!      nothing of its own there; a second sharer could read or forge the
//!      first one's messages, so there is one.
//!
//! Rejected: a list of the regions governed PDs may not map (the disk's,
//! the clock's). A list is only as good as the last time someone updated
//! it; these rules name what a region is (shared, or a device), so a new
//! device or a new shared ring is covered the day it is declared.

use crate::Error;
use crate::model::{Device, System};

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
    if let Some(g) = governor {
        check_memory(system, g, &mut errors);
    }
    if errors.is_empty() { Ok(()) } else { Err(errors) }
}

/// Rules 6 to 9: no governed PD reaches a device or shares memory, and the
/// governor's memory is its own.
fn check_memory(system: &System, governor: usize, errors: &mut Vec<Error>) {
    let mappers = |region: &str| -> Vec<usize> {
        (0..system.pds.len()).filter(|&i| system.pds[i].maps.iter().any(|m| m.mr == region)).collect()
    };
    for (index, pd) in system.pds.iter().enumerate() {
        let name = &pd.name;
        if system.is_descendant(index, governor) {
            for (device, line) in &pd.devices {
                let what = match device {
                    Device::Irq => "an interrupt (<irq>)".to_string(),
                    Device::IoPort => "I/O ports (<ioport>)".to_string(),
                    Device::VirtualMachine => "a virtual machine".to_string(),
                    Device::RegionPaddr(region) => {
                        format!("the physical address of '{region}' (setvar region_paddr)")
                    }
                };
                errors.push(Error::at(*line, format!("'{name}' is governed and may not hold {what}")));
            }
            for crate::model::Map { mr: region, line, .. } in &pd.maps {
                if system.region(region).is_some_and(|r| r.phys_addr.is_some()) {
                    errors.push(Error::at(
                        *line,
                        format!("'{name}' is governed and may not map '{region}', device memory at a fixed address"),
                    ));
                }
                for other in mappers(region).into_iter().filter(|&o| o != index) {
                    errors.push(Error::at(
                        *line,
                        format!(
                            "'{name}' is governed and may not map '{region}', which '{}' maps too",
                            system.pds[other].name
                        ),
                    ));
                }
            }
        }
    }
    for map in &system.pds[governor].maps {
        let region = &map.mr;
        let others: Vec<usize> = mappers(region)
            .into_iter()
            .filter(|&o| o != governor && !system.is_descendant(o, governor))
            .collect();
        let device = system.region(region).is_some_and(|r| r.phys_addr.is_some());
        // Rule 9's exceptions: one driver owns the device, the governor
        // reads it; or the governor and one PD are the ends of a queue.
        if others.len() == 1 && (if device { !map.writable } else { true }) {
            continue;
        }
        for other in others {
            let pd = &system.pds[other];
            let why = if device && map.writable {
                " (the governor may share a device only by mapping it read-only)"
            } else {
                ""
            };
            errors.push(Error::at(
                pd.line,
                format!("'{}' maps '{region}', which is the governor's alone{why}", pd.name),
            ));
        }
    }
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

    /// Issue 11, finding 1: the checker looked only at channels, so a
    /// governed PD given the disk's shared memory, a device, an interrupt,
    /// I/O ports or a region's physical address passed. Each rule is tried
    /// on the real system.xml, in every profile and on every board.
    #[test]
    fn every_way_around_the_gate_is_refused_in_every_profile() {
        let template =
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../system.xml")).unwrap();
        let worknode = r#"<program_image path="worknode.elf" />"#;
        assert_eq!(template.matches(worknode).count(), 2, "worknode0 and worknode1 run worknode.elf");
        let into_worknode0 = |extra: &str| {
            template.replacen(
                worknode,
                &format!(
                    "{worknode}
{extra}"
                ),
                1,
            )
        };
        let cases: [(&str, &str); 7] = [
            (r#"<map mr="blk_queue" vaddr="0x5000000" perms="rw" />"#, "which 'blk' maps too"),
            (r#"<map mr="blk_data" vaddr="0x5000000" perms="r" />"#, "which 'blk' maps too"),
            (
                r#"<map mr="uart_regs" vaddr="0x5000000" perms="rw" boards="qemu_virt_aarch64" /><map mr="clock_regs" vaddr="0x5000000" perms="rw" boards="qemu_virt_riscv64 x86_64_generic" />"#,
                "device memory at a fixed address",
            ),
            (
                r#"<irq irq="40" id="5" boards="qemu_virt_aarch64 qemu_virt_riscv64" /><irq pin="9" vector="45" id="5" boards="x86_64_generic" />"#,
                "may not hold an interrupt",
            ),
            (r#"<ioport id="5" addr="0x60" size="1" />"#, "may not hold I/O ports"),
            (r#"<setvar symbol="p" region_paddr="blk_data" />"#, "the physical address of 'blk_data'"),
            ("", ""),
        ];
        for (extra, expected) in cases {
            let text = into_worknode0(extra);
            for board in crate::BOARDS {
                for profile in crate::PROFILES {
                    let result = crate::render::render(&text, board.name, profile);
                    if extra.is_empty() {
                        assert!(
                            result.is_ok(),
                            "[{} {profile}] the real description passes: {result:?}",
                            board.name
                        );
                        continue;
                    }
                    let errors =
                        result.expect_err(&format!("[{} {profile}] {extra} must be refused", board.name));
                    assert!(
                        errors.iter().any(|e| e.message.contains(expected)),
                        "[{} {profile}] {extra}: {errors:?}",
                        board.name
                    );
                }
            }
        }
        // The governor's memory is its own: a driver mapping its clock.
        let text = template.replacen(
            r#"<program_image path="serial.elf" />"#,
            r#"<program_image path="serial.elf" /><map mr="clock_regs" vaddr="0x5000000" perms="rw" boards="qemu_virt_riscv64 x86_64_generic" />"#,
            1,
        );
        for profile in crate::PROFILES {
            let errors = crate::render::render(&text, "x86_64_generic", profile).unwrap_err();
            assert!(
                errors
                    .iter()
                    .any(|e| e.message.contains("'serial' maps 'clock_regs', which is the governor's alone"))
            );
        }
    }

    #[test]
    fn the_governor_shares_its_clock_only_read_only_and_with_one_driver() {
        let template =
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../system.xml")).unwrap();
        let governor_map = r#"<map mr="clock_regs" vaddr="0x4000000" perms="r""#;
        assert!(template.contains(governor_map), "system.xml's governor reads its clock read-only");
        let writable =
            template.replacen(governor_map, r#"<map mr="clock_regs" vaddr="0x4000000" perms="rw""#, 1);
        for board in ["qemu_virt_riscv64", "x86_64_generic"] {
            assert!(
                crate::render::render(&template, board, "test").is_ok(),
                "{board}: the real description passes"
            );
            let errors = crate::render::render(&writable, board, "test").unwrap_err();
            assert!(
                errors.iter().any(|e| e.message.contains("'timer' maps 'clock_regs'")
                    && e.message.contains("only by mapping it read-only")),
                "{board}: {errors:?}"
            );
        }
    }

    #[test]
    fn the_governor_shares_a_queue_with_one_pd_only() {
        let queue = r#"<memory_region name="q" size="0x8000"/>"#;
        let map = r#"<map mr="q" vaddr="0x3600000" perms="rw"/>"#;
        let gov = r#"<program_image path="governor.elf"/>"#;
        let log = r#"<program_image path="log.elf"/>"#;
        let shared = GOOD.replacen(gov, &format!("{gov}{map}"), 1).replacen(log, &format!("{log}{map}"), 1);
        check(&system(&format!("{queue}{shared}"))).unwrap();
        let third = format!(
            r#"{queue}{shared}<protection_domain name="raft" priority="102"><program_image path="raft.elf"/>{map}</protection_domain>"#
        );
        let errors = messages(&third);
        assert!(
            errors.iter().any(|m| m.contains("'raft' maps 'q', which is the governor's alone")),
            "{errors:?}"
        );
        assert!(
            errors.iter().any(|m| m.contains("'log' maps 'q', which is the governor's alone")),
            "{errors:?}"
        );
    }

    #[test]
    fn a_virtual_machine_in_a_governed_pd_is_refused() {
        let body = GOOD.replace(
            r#"<program_image path="worknode.elf"/>"#,
            r#"<program_image path="worknode.elf"/><virtual_machine name="vm" priority="5"><vcpu id="0"/></virtual_machine>"#,
        );
        assert!(messages(&body).iter().any(|m| m.contains("may not hold a virtual machine")));
    }

    #[test]
    fn governor_is_required_and_top_level() {
        let none = GOOD.replace("\"governor\"", "\"boss\"");
        assert!(messages(&none).iter().any(|m| m.contains("no protection domain named 'governor'")));
    }
}
