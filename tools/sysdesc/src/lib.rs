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

/// A board Worknode builds images for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Board {
    /// Microkit's name for the board (`--board`).
    pub name: &'static str,
    /// The seL4 architecture, as `make ARCH=` spells it.
    pub arch: &'static str,
}

/// The boards `boards=` may name.
pub const BOARDS: &[Board] = &[
    Board { name: "qemu_virt_aarch64", arch: "aarch64" },
    Board { name: "qemu_virt_riscv64", arch: "riscv64" },
    Board { name: "x86_64_generic", arch: "x86_64" },
];

/// The profiles `profiles=` may name. `default` is what `make run` builds.
pub const PROFILES: &[&str] = &["default", "test", "bench", "bench-gate"];

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
/// the constants for `program` (the PD's `program_image` file name).
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
}
