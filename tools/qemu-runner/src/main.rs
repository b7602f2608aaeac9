//! `worknode-qemu`: boots a Worknode image under QEMU.
//!
//! - `run`: replaces itself with QEMU, serial console on the terminal
//!   (`make run`; quit with Ctrl-A x);
//! - `test`: boots headless, checks the console against the system
//!   description (see [`boot`]), always stops QEMU, and ends with one summary
//!   line: `arch=... boot_s=... pds_ready=N faulted=N result=pass|fail`.

mod boot;
mod machine;
mod serial;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use worknode_sysdesc::model::System;

use crate::boot::{BootCheck, Expected, Verdict};
use crate::machine::{Inputs, Machine};
use crate::serial::{Next, Qemu};

#[derive(Parser)]
#[command(name = "worknode-qemu", about = "Boot Worknode images under QEMU")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Boot with the serial console on this terminal (quit: Ctrl-A x).
    Run(Target),
    /// Boot headless and check that the system comes up as described.
    Test {
        #[command(flatten)]
        target: Target,
        /// The rendered system description the image was built from.
        #[arg(long)]
        system: PathBuf,
        /// Seconds to wait for the system to come up.
        #[arg(long, default_value_t = 120)]
        timeout: u64,
        /// Where to write the console transcript.
        #[arg(long)]
        transcript: PathBuf,
    },
}

#[derive(Args)]
struct Target {
    /// aarch64, riscv64 or x86_64.
    #[arg(long)]
    arch: String,
    /// The Microkit system image.
    #[arg(long)]
    image: PathBuf,
    /// The seL4 kernel ELF from the SDK (used by x86_64).
    #[arg(long)]
    kernel: PathBuf,
    /// The directory with the `<arch>.args` machine files.
    #[arg(long, default_value = "qemu")]
    machines: PathBuf,
}

impl Target {
    fn machine(&self) -> Result<Machine, String> {
        if !self.image.is_file() {
            return Err(format!(
                "no image at {}: build it with `make image ARCH={}`",
                self.image.display(),
                self.arch
            ));
        }
        let machine =
            Machine::load(&self.machines, &self.arch, &Inputs { image: &self.image, kernel: &self.kernel })?;
        let found = std::env::var_os("PATH")
            .is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join(&machine.program).is_file()));
        if !found {
            return Err(format!(
                "{} not found: install the Debian package {} (apt-get install --no-install-recommends {})",
                machine.program,
                Machine::package(&self.arch),
                Machine::package(&self.arch)
            ));
        }
        Ok(machine)
    }
}

fn main() -> ExitCode {
    let result = match Cli::parse().command {
        Command::Run(target) => run(&target).map(|()| true),
        Command::Test { target, system, timeout, transcript } => {
            test(&target, &system, Duration::from_secs(timeout), &transcript)
        }
    };
    match result {
        Ok(true) => ExitCode::SUCCESS,
        // The summary line already said why; it stays the last line.
        Ok(false) => ExitCode::FAILURE,
        Err(message) => {
            eprintln!("worknode-qemu: {message}");
            ExitCode::FAILURE
        }
    }
}

fn run(target: &Target) -> Result<(), String> {
    use std::os::unix::process::CommandExt;
    let machine = target.machine()?;
    let error = std::process::Command::new(&machine.program)
        .args(&machine.args)
        .args(["-nographic", "-serial", "mon:stdio"])
        .exec();
    Err(format!("cannot start {}: {error}", machine.program))
}

/// Returns whether the system passed; `Err` only when the test could not run.
fn test(target: &Target, system: &Path, timeout: Duration, transcript: &Path) -> Result<bool, String> {
    let text =
        std::fs::read_to_string(system).map_err(|e| format!("cannot read {}: {e}", system.display()))?;
    let system = System::parse(&text).map_err(|e| format!("{}: {e}", system.display()))?;
    let mut check = BootCheck::new(Expected::from_system(&system)?);
    let machine = target.machine()?;
    let mut qemu = Qemu::spawn(&machine, transcript)?;
    let deadline = qemu.started + timeout;
    let verdict = loop {
        match qemu.next(deadline) {
            Next::Line(line) => {
                println!("  | {line}");
                match check.feed(&line) {
                    Verdict::Pending => {}
                    done => break done,
                }
            }
            Next::Closed => break Verdict::Fail("QEMU exited before the system came up".into()),
            Next::TimedOut => break Verdict::Fail(format!("timed out after {}s", timeout.as_secs())),
        }
    };
    let boot_s = qemu.started.elapsed().as_secs_f64();
    drop(qemu);
    let (result, reason) = match &verdict {
        Verdict::Pass => ("pass", String::new()),
        Verdict::Fail(why) => ("fail", format!(" reason={why:?} transcript={}", transcript.display())),
        Verdict::Pending => unreachable!("the loop only ends on a verdict"),
    };
    println!(
        "arch={} boot_s={boot_s:.2} pds_ready={} faulted={} result={result}{reason}",
        target.arch,
        check.pds_ready(),
        check.faulted()
    );
    Ok(verdict == Verdict::Pass)
}
