//! `system.xml` is the one description of a Worknode system. This crate reads it.
//!
//! The file is a Microkit system description with two additions, both removed
//! before the Microkit tool sees it:
//!
//! - `boards="qemu_virt_aarch64 ..."` on any element keeps that element only
//!   when rendering for one of the listed boards (device regions, interrupts);
//! - `profiles="test"` keeps it only in the listed build profiles (`default`
//!   when none is asked for), so test-only PDs never reach a production image.
//!
//! [`render`] produces the plain Microkit description for one board and
//! profile, [`check`] enforces the rules that make the governor an
//! unbypassable gate, and [`codegen`] turns the rendered description into the
//! channel constants a PD is compiled with, so channel ids are written down
//! exactly once.
//!
//! Rejected alternatives: one hand-kept description per board (they drift);
//! Microkit's `setvar_id` for channel ids (it patches one symbol per channel,
//! so the governor could not learn how many children it has without a fixed
//! list of symbol names written in two places).

pub mod check;
pub mod codegen;
pub mod model;
pub mod render;

use std::fmt;

/// A board Worknode builds images for, and the device models its drivers
/// must speak. Drivers choose their code by these models (cfgs set by
/// [`build_script`]), never by `target_arch`: an architecture is not a
/// board.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Board {
    /// Microkit's name for the board (`--board`).
    pub name: &'static str,
    /// The seL4 architecture, as `make ARCH=` spells it.
    pub arch: &'static str,
    /// The console UART: `pl011`, `ns16550-mmio` or `ns16550-ioport`.
    pub uart: &'static str,
    /// The governor's lease clock: `generic-timer` (the ARM counter),
    /// `goldfish-rtc` or `hpet`.
    pub clock: &'static str,
    /// How the virtio devices are reached: `mmio` or `pci`.
    pub virtio: &'static str,
}

/// The boards `boards=` may name.
pub const BOARDS: &[Board] = &[
    Board {
        name: "qemu_virt_aarch64",
        arch: "aarch64",
        uart: "pl011",
        clock: "generic-timer",
        virtio: "mmio",
    },
    Board {
        name: "qemu_virt_riscv64",
        arch: "riscv64",
        uart: "ns16550-mmio",
        clock: "goldfish-rtc",
        virtio: "mmio",
    },
    Board { name: "x86_64_generic", arch: "x86_64", uart: "ns16550-ioport", clock: "hpet", virtio: "pci" },
];

/// The profiles `profiles=` may name. `default` is what `make run` builds.
pub const PROFILES: &[&str] = &["default", "test", "bench", "bench-gate", "net", "bench-net", "cluster"];

/// A problem in a system description, with the line it was found on when
/// there is one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Error {
    /// 1-based line in the file, when known.
    pub line: Option<u32>,
    /// What is wrong, in words a user can act on.
    pub message: String,
}

impl Error {
    pub(crate) fn new(message: impl Into<String>) -> Self {
        Error { line: None, message: message.into() }
    }

    pub(crate) fn at(line: u32, message: impl Into<String>) -> Self {
        Error { line: Some(line), message: message.into() }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "line {line}: {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

impl std::error::Error for Error {}

/// For a PD's `build.rs`: reads the rendered description named by the
/// `WORKNODE_SDF` environment variable and writes `$OUT_DIR/system.rs` with
/// the constants for `program` (the PD's `program_image` file name); then
/// [`board_cfg`].
///
/// The Makefile sets `WORKNODE_SDF`; building a PD crate without it fails
/// with a message that says so.
pub fn build_script(program: &str) {
    println!("cargo::rerun-if-env-changed=WORKNODE_SDF");
    let Some(path) = std::env::var_os("WORKNODE_SDF") else {
        panic!("WORKNODE_SDF is not set: build the PDs with `make image`, which renders system.xml first");
    };
    let path = std::path::PathBuf::from(path);
    println!("cargo::rerun-if-changed={}", path.display());
    let text =
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let system = model::System::parse(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let source = codegen::pd_config(&system, program, &path.display().to_string())
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let out = std::path::PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    std::fs::write(out.join("system.rs"), source).expect("OUT_DIR is writable");
    board_cfg();
}

/// For a driver's `build.rs`: sets the cfgs that select code per board and
/// device model, from the board named by `WORKNODE_BOARD` (the Makefile
/// sets it): `board = "<name>"`, `uart = ".."`, `clock = ".."` and
/// `virtio = ".."` (see [`Board`]). An unknown board fails the build.
pub fn board_cfg() {
    println!("cargo::rerun-if-env-changed=WORKNODE_BOARD");
    for (key, values) in cfg_values() {
        let quoted: Vec<String> = values.iter().map(|v| format!("{v:?}")).collect();
        println!("cargo::rustc-check-cfg=cfg({key}, values({}))", quoted.join(", "));
    }
    let Some(name) = std::env::var_os("WORKNODE_BOARD") else {
        panic!("WORKNODE_BOARD is not set: build the PDs with `make image`, which names the board");
    };
    let name = name.to_string_lossy();
    let board = BOARDS.iter().find(|b| b.name == name).unwrap_or_else(|| {
        let known: Vec<&str> = BOARDS.iter().map(|b| b.name).collect();
        panic!("unknown board '{name}' in WORKNODE_BOARD (known: {})", known.join(", "))
    });
    for (key, value) in board_cfgs(board) {
        println!("cargo::rustc-cfg={key}={value:?}");
    }
}

/// The cfgs a board sets.
fn board_cfgs(board: &Board) -> [(&'static str, &'static str); 4] {
    [("board", board.name), ("uart", board.uart), ("clock", board.clock), ("virtio", board.virtio)]
}

/// Every value each cfg can take, for `rustc-check-cfg`.
fn cfg_values() -> Vec<(&'static str, Vec<&'static str>)> {
    let mut out: Vec<(&'static str, Vec<&'static str>)> = Vec::new();
    for board in BOARDS {
        for (key, value) in board_cfgs(board) {
            match out.iter_mut().find(|(k, _)| *k == key) {
                Some((_, values)) if !values.contains(&value) => values.push(value),
                Some(_) => {}
                None => out.push((key, vec![value])),
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_board_sets_every_cfg_to_a_declared_value() {
        let values = cfg_values();
        for board in BOARDS {
            for (key, value) in board_cfgs(board) {
                let declared = values.iter().find(|(k, _)| *k == key).map(|(_, v)| v);
                assert!(declared.is_some_and(|v| v.contains(&value)), "{}: {key}={value}", board.name);
            }
        }
        assert_eq!(values.iter().find(|(k, _)| *k == "virtio").unwrap().1, ["mmio", "pci"]);
    }
}
