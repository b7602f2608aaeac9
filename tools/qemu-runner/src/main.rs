//! `worknode-qemu-runner`: boots a Worknode image under QEMU.
//!
//! - `run`: replaces itself with QEMU, serial console on the terminal
//!   (`make run`; quit with Ctrl-A x);
//! - `test`: boots headless, checks the console against the system
//!   description (see [`boot`]), always stops QEMU, and ends with one summary
//!   line: `arch=... boot_s=... pds_ready=N faulted=N result=pass|fail`; on
//!   the test profile it then runs the principal's console session (see
//!   [`console`]) and checks its witnesses in the disk's audit trail,
//!   adding `allowed=N denied=N audited=N halted=N controls=N`;
//! - `crash`: kills QEMU at random moments while events are recorded and
//!   checks each reboot recovers every acknowledged event (see [`crash`]),
//!   then verifies the disk's hash chain; last line
//!   `arch=... kills=N acked=N recovered=N lost=N read_back=N result=pass|fail`;
//! - `bench`: boots the bench-profile image and times its phases on the
//!   host; last line `log_vs_raw=<ratio>` (see pds/log-bench);
//! - `bench-gate`: boots the bench-gate image counting instructions and
//!   reads the guest's own timings; last line `gate_vs_ppc=<ratio>` (see
//!   pds/gate-bench).

mod bench;
mod boot;
mod console;
mod crash;
mod disk;
mod gate_bench;
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
#[command(name = "worknode-qemu-runner", about = "Boot Worknode images under QEMU")]
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
    /// Time the log benchmark's phases (bench-profile image).
    Bench(BenchRun),
    /// Time a gated action against a raw call (bench-gate-profile image).
    BenchGate(BenchRun),
    /// Kill QEMU at random moments while events are recorded; check that
    /// every reboot recovers every acknowledged event.
    Crash {
        #[command(flatten)]
        target: Target,
        /// How many times to kill QEMU.
        #[arg(long, default_value_t = 5)]
        kills: u32,
        /// Seed for the kill moments (printed, so a run can be repeated).
        #[arg(long)]
        seed: Option<u64>,
        /// Seconds each boot may take to recover and acknowledge an event.
        #[arg(long, default_value_t = 60)]
        timeout: u64,
        /// Directory for the console transcripts (one per boot).
        #[arg(long)]
        transcripts: PathBuf,
    },
}

/// What every benchmark run takes.
#[derive(Args)]
struct BenchRun {
    #[command(flatten)]
    target: Target,
    /// Seconds the whole benchmark may take.
    #[arg(long, default_value_t = 300)]
    timeout: u64,
    /// Where to write the console transcript.
    #[arg(long)]
    transcript: PathBuf,
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
    /// The node's persistent disk image (raw); created as 64 MiB of zeros
    /// (a sparse file) if it does not exist.
    #[arg(long)]
    disk: Option<PathBuf>,
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
        if let Some(disk) = &self.disk {
            disk::ensure(disk, disk::NEW_DISK_BYTES)?;
        }
        let inputs = Inputs { image: &self.image, kernel: &self.kernel, disk: self.disk.as_deref() };
        let machine = Machine::load(&self.machines, &self.arch, &inputs)?;
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
        Command::Bench(run) => bench(&run.target, Duration::from_secs(run.timeout), &run.transcript),
        Command::BenchGate(run) => bench_gate(&run.target, Duration::from_secs(run.timeout), &run.transcript),
        Command::Crash { target, kills, seed, timeout, transcripts } => {
            crash_test(&target, kills, seed, Duration::from_secs(timeout), &transcripts)
        }
    };
    match result {
        Ok(true) => ExitCode::SUCCESS,
        // The summary line already said why; it stays the last line.
        Ok(false) => ExitCode::FAILURE,
        Err(message) => {
            eprintln!("worknode-qemu-runner: {message}");
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
    // The principal's console session runs on systems with a console, a
    // spinner to halt and a prober to grant to (the test profile).
    let governor = system.pd_index("governor");
    let has_child =
        |name: &str| governor.is_some_and(|g| system.children_of(g).any(|c| system.pds[c].name == name));
    let session_runs = system.pd_index("serial").is_some() && has_child("spinner") && has_child("prober");
    let mut session = session_runs.then(console::Session::new);
    let machine = target.machine()?;
    let mut qemu = Qemu::spawn(&machine, transcript)?;
    let deadline = qemu.started + timeout;
    let mut verdict = loop {
        match qemu.next(deadline) {
            Next::Line(line) => {
                println!("  | {line}");
                if let Some(failed) = session.as_mut().and_then(|s| s.observe(&line)) {
                    break failed;
                }
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
    if let (Verdict::Pass, Some(session)) = (&verdict, session.as_mut()) {
        verdict = console_session(&mut qemu, session, deadline)?;
    }
    drop(qemu);
    // What the session saw decided must be in the audit trail on the disk.
    if let (Verdict::Pass, Some(session), Some(disk)) = (&verdict, session.as_mut(), &target.disk)
        && let Err(why) = session.check_audit(&audit_export(disk)?)
    {
        verdict = Verdict::Fail(why);
    }
    let (result, reason) = match &verdict {
        Verdict::Pass => ("pass", String::new()),
        Verdict::Fail(why) => ("fail", format!(" reason={why:?} transcript={}", transcript.display())),
        Verdict::Pending => unreachable!("the loop only ends on a verdict"),
    };
    let console = session.map_or(String::new(), |s| {
        format!(
            " allowed={} denied={} audited={} halted={} controls={}",
            s.allowed, s.denied, s.audited, s.halted, s.controls
        )
    });
    println!(
        "arch={} boot_s={boot_s:.2} pds_ready={} faulted={}{console} result={result}{reason}",
        target.arch,
        check.pds_ready(),
        check.faulted()
    );
    Ok(verdict == Verdict::Pass)
}

/// Types the principal's commands and judges the governor's answers.
fn console_session(
    qemu: &mut Qemu,
    session: &mut console::Session,
    deadline: std::time::Instant,
) -> Result<Verdict, String> {
    let mut step = session.step("");
    loop {
        match step {
            console::Step::Type(command) => {
                println!("  > {command}");
                qemu.send(&command)?;
            }
            console::Step::Done(verdict) => return Ok(verdict),
            console::Step::Wait => {}
        }
        step = match qemu.next(deadline) {
            Next::Line(line) => {
                println!("  | {line}");
                match session.observe(&line) {
                    Some(failed) => console::Step::Done(failed),
                    None => session.step(&line),
                }
            }
            Next::Closed => return Ok(Verdict::Fail("QEMU exited during the console session".into())),
            Next::TimedOut => return Ok(Verdict::Fail("timed out in the console session".into())),
        };
    }
}

/// The longest wait after the first acknowledgement before a kill.
const KILL_WINDOW: Duration = Duration::from_millis(1500);

/// Boots `kills + 1` times on one disk, killing all but the last boot at a
/// random moment after its first acknowledged event.
fn crash_test(
    target: &Target,
    kills: u32,
    seed: Option<u64>,
    timeout: Duration,
    transcripts: &Path,
) -> Result<bool, String> {
    let disk = target.disk.as_deref().ok_or("the crash test needs --disk")?;
    let seed = seed.unwrap_or_else(|| {
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(1, |d| d.as_nanos() as u64)
    });
    println!("crash test: {kills} kills, seed {seed} (repeat with --seed {seed})");
    std::fs::create_dir_all(transcripts)
        .map_err(|e| format!("cannot create {}: {e}", transcripts.display()))?;
    let machine = target.machine()?;
    let mut delays = crash::Delays::new(seed);
    let mut ledger = crash::Ledger::default();
    let mut failure = None;
    'boots: for boot in 0..=kills {
        let transcript = transcripts.join(format!("boot-{boot}.log"));
        let mut qemu = Qemu::spawn(&machine, &transcript)?;
        let deadline = qemu.started + timeout;
        let mut kill_at = None;
        let before = ledger.boots;
        loop {
            if kill_at.is_some_and(|at| std::time::Instant::now() >= at) {
                break;
            }
            let wait = kill_at.map_or(deadline, |at: std::time::Instant| at.min(deadline));
            match qemu.next(wait) {
                Next::Line(line) => {
                    let parsed = crash::classify(&line);
                    if let Err(why) = ledger.note(&parsed) {
                        failure = Some(format!("boot {boot}: {why}"));
                        break 'boots;
                    }
                    if let crash::LogLine::Recovered(n) = parsed {
                        println!(
                            "  boot {boot}: recovered last_seq={n} (acknowledged so far: {})",
                            ledger.acked
                        );
                    }
                    // The last boot ends once recovery was reported and,
                    // if there was anything to read, read back.
                    let settled =
                        matches!(parsed, crash::LogLine::Recovered(0) | crash::LogLine::ReadBack(_));
                    if boot == kills && settled {
                        break;
                    }
                    if matches!(parsed, crash::LogLine::Acked(_))
                        && kill_at.is_none()
                        && ledger.boots > before
                    {
                        kill_at = Some(std::time::Instant::now() + delays.next(KILL_WINDOW));
                    }
                }
                Next::Closed => {
                    failure = Some(format!("boot {boot}: QEMU exited; see {}", transcript.display()));
                    break 'boots;
                }
                Next::TimedOut if kill_at.is_some() => break,
                Next::TimedOut => {
                    failure = Some(format!("boot {boot}: timed out; see {}", transcript.display()));
                    break 'boots;
                }
            }
        }
        drop(qemu); // SIGKILL
        if boot < kills {
            println!("  boot {boot}: killed, highest acknowledged seq={}", ledger.acked);
        }
    }
    let verified = match failure {
        Some(_) => false,
        None => verify_disk(disk)?,
    };
    // Every boot after the first starts from a non-empty log and must read
    // its last event back.
    let expected_reads = ledger.boots.saturating_sub(1);
    if ledger.read_back < expected_reads && failure.is_none() {
        failure =
            Some(format!("only {} of {expected_reads} reboots read their last event back", ledger.read_back));
    }
    if ledger.lost > 0 && failure.is_none() {
        failure = Some(format!("{} acknowledged events were not recovered", ledger.lost));
    }
    if !verified && failure.is_none() {
        failure = Some("`worknode log verify` rejected the disk".into());
    }
    let (result, reason) = match &failure {
        None => ("pass", String::new()),
        Some(why) => ("fail", format!(" reason={why:?}")),
    };
    println!(
        "arch={} kills={kills} acked={} recovered={} lost={} read_back={} result={result}{reason}",
        target.arch, ledger.acked, ledger.recovered, ledger.lost, ledger.read_back
    );
    Ok(failure.is_none())
}

/// Runs the `worknode` CLI (next to this binary) with `args` and the disk.
fn worknode_cli(args: &[&str], disk: &Path) -> Result<std::process::Output, String> {
    let me = std::env::current_exe().map_err(|e| format!("cannot locate myself: {e}"))?;
    let cli = me.with_file_name("worknode");
    std::process::Command::new(&cli)
        .args(args)
        .arg(disk)
        .output()
        .map_err(|e| format!("cannot run {}: {e} (build it: cargo build -p worknode-cli)", cli.display()))
}

/// Runs `worknode log verify` and `worknode audit verify` on the disk: the
/// chain holds, and every audit record decodes.
fn verify_disk(disk: &Path) -> Result<bool, String> {
    let mut ok = true;
    for what in ["log", "audit"] {
        let output = worknode_cli(&[what, "verify"], disk)?;
        print!("  {}", String::from_utf8_lossy(&output.stdout));
        eprint!("{}", String::from_utf8_lossy(&output.stderr));
        ok &= output.status.success();
    }
    Ok(ok)
}

/// The disk's audit trail as JSON Lines (`worknode audit export`), after
/// checking its chain (`worknode audit verify`).
fn audit_export(disk: &Path) -> Result<String, String> {
    if !verify_disk(disk)? {
        return Err(format!("the audit trail on {} does not verify", disk.display()));
    }
    let output = worknode_cli(&["audit", "export"], disk)?;
    if !output.status.success() {
        return Err(format!("worknode audit export failed: {}", String::from_utf8_lossy(&output.stderr)));
    }
    String::from_utf8(output.stdout).map_err(|e| format!("audit export is not UTF-8: {e}"))
}

/// Boots `machine` and hands each console line to `judge` until it has a
/// result. Trouble on the console, QEMU exiting or the timeout end the run
/// with an error. QEMU is stopped on return.
fn read_bench<T>(
    machine: &Machine,
    timeout: Duration,
    transcript: &Path,
    mut judge: impl FnMut(&str) -> Result<Option<T>, String>,
) -> Result<T, String> {
    let mut qemu = Qemu::spawn(machine, transcript)?;
    let deadline = qemu.started + timeout;
    loop {
        match qemu.next(deadline) {
            Next::Line(line) => {
                if let Some(alarm) = ["panicked", "MON|ERROR", "seL4(CPU"].iter().find(|a| line.contains(*a))
                {
                    return Err(format!("console reported trouble ({alarm}): {line}"));
                }
                if let Some(result) = judge(&line)? {
                    return Ok(result);
                }
            }
            Next::Closed => return Err("QEMU exited before the benchmark finished".into()),
            Next::TimedOut => return Err(format!("benchmark did not finish in {}s", timeout.as_secs())),
        }
    }
}

/// Boots the bench image and times `bench| <phase> begin|end` markers.
fn bench(target: &Target, timeout: Duration, transcript: &Path) -> Result<bool, String> {
    let machine = target.machine()?;
    let mut marks = bench::Marks::default();
    let report = read_bench(&machine, timeout, transcript, |line| {
        if let Some(mark) = bench::marker(line) {
            println!("  | {mark}");
        }
        Ok(marks.note(line, std::time::Instant::now()))
    })?;
    println!("arch={} {report}", target.arch);
    println!("log_vs_raw={:.2}", report.ratio());
    Ok(true)
}

/// Boots the bench-gate image with instruction counting and reads the
/// guest's timings of both phases.
fn bench_gate(target: &Target, timeout: Duration, transcript: &Path) -> Result<bool, String> {
    let mut machine = target.machine()?;
    // One nanosecond of guest time per instruction: the guest's clocks
    // count instructions, whatever the host's load. `-rtc clock=vm` puts
    // the RTC (riscv64's clock, the goldfish RTC) on that time too; by
    // default it reads the host's.
    machine.args.extend(["-icount", "shift=0", "-rtc", "clock=vm"].map(String::from));
    let mut results = gate_bench::Results::default();
    read_bench(&machine, timeout, transcript, |line| {
        if line.starts_with("gate_bench| ") {
            println!("  | {line}");
        }
        match results.note(line) {
            gate_bench::Seen::Nothing => Ok(None),
            gate_bench::Seen::Failed(why) => Err(format!("the benchmark failed: {why}")),
            gate_bench::Seen::Done => Ok(Some(())),
        }
    })?;
    let ratio = results.ratio().ok_or("the benchmark finished without both phases")?;
    println!("arch={} {results}", target.arch);
    println!("gate_vs_ppc={ratio:.2}");
    Ok(true)
}
