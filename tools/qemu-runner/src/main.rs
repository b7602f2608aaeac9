//! `worknode-qemu-runner`: boots a Worknode image under QEMU.
//!
//! - `run`: replaces itself with QEMU, serial console on the terminal
//!   (`make run`; quit with Ctrl-A x);
//! - `test`: boots headless, checks the console against the system
//!   description (see [`boot`]), always stops QEMU, and ends with one summary
//!   line: `arch=... boot_s=... pds_ready=N faulted=N result=pass|fail`; on
//!   the test profile, in the same boot, it then runs the principal's
//!   console session (see [`console`]: leases, a clock jump, halts, a
//!   flood) and checks its witnesses in the disk's audit trail, and boots
//!   once more on a disk of random bytes, which must be refused and left
//!   untouched while the console works;
//! - `crash`: cuts the power at random moments while events are recorded
//!   and checks each reboot recovers every acknowledged record (see
//!   [`crash`]), then verifies the disk's hash chain and compares every
//!   acknowledged record still kept; last line
//!   `arch=... kills=N acked=N recovered=N lost=N read_back=N compared=N result=pass|fail`;
//! - `bench`: boots the bench-profile image and times its phases on the
//!   host; last line `log_vs_raw=<ratio>` (see pds/log-bench);
//! - `bench-gate`: boots the bench-gate image counting instructions and
//!   reads the guest's own timings; last line `gate_vs_ppc=<ratio>` (see
//!   pds/gate-bench).
//!
//! - `net`: boots the nodes of the net profile on the runner's switch
//!   ([`switch`]) and runs the network test (see [`net_test`]); last line
//!   `arch=.. nodes=N sent=N delivered=N duplicated=0 reordered=0 ... result=pass|fail`;
//! - `bench-net`: boots two nodes of the bench-net profile counting
//!   instructions and compares messages through the streams with raw
//!   frames (`net_bench`); last line `stream_vs_raw=<ratio>`.
//! - `cluster`: boots N nodes on the switch, node 0's console on this
//!   terminal and the others' in files (`make cluster`).
//!
//! Test disks (`test`, `crash`) are served to QEMU by the runner itself
//! ([`nbd`]), so a power cut loses what a real one loses; `run` and the
//! benchmarks give QEMU the image file.

mod bench;
mod boot;
mod cluster_bench;
mod cluster_test;
mod console;
mod crash;
mod disk;
mod gate_bench;
mod lan;
mod machine;
mod nbd;
mod net_bench;
mod net_test;
mod serial;
mod switch;
mod ticker;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use worknode_abi::markers;
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
        /// Seconds each boot may take.
        #[arg(long, default_value_t = 120)]
        timeout: u64,
        /// Where to write the console transcript (the refused disk's boot
        /// goes next to it).
        #[arg(long)]
        transcript: PathBuf,
    },
    /// Time the log benchmark's phases (bench-profile image).
    Bench(BenchRun),
    /// Time a gated action against a raw call (bench-gate-profile image).
    BenchGate(BenchRun),
    /// Cut the power at random moments while events are recorded; check
    /// that every reboot recovers every acknowledged record.
    Crash {
        #[command(flatten)]
        target: Target,
        /// How many times to cut the power.
        #[arg(long, default_value_t = 5)]
        kills: u32,
        /// Seed for the kill moments and the power cuts (printed, so a run
        /// can be repeated).
        #[arg(long)]
        seed: Option<u64>,
        /// Seconds each boot may take to recover and acknowledge an event.
        #[arg(long, default_value_t = 60)]
        timeout: u64,
        /// Directory for the console transcripts (one per boot).
        #[arg(long)]
        transcripts: PathBuf,
        /// The image is built to lose acknowledged records (`make
        /// bite-check`): pass only if the test sees a loss.
        #[arg(long)]
        expect_loss: bool,
    },
    /// Boot the nodes on the switch and test the network between them.
    Net {
        #[command(flatten)]
        lan: LanRun,
        /// Seconds each phase may take.
        #[arg(long, default_value_t = 300)]
        timeout: u64,
    },
    /// Boot the cluster-profile nodes on the switch; kill, partition and
    /// wipe them while they replicate; check they agree.
    ClusterTest {
        #[command(flatten)]
        lan: LanRun,
        /// Seconds each phase may take.
        #[arg(long, default_value_t = 300)]
        timeout: u64,
        /// The image is built to lose acknowledged proposals (`make
        /// bite-check-cluster`): pass only if the test sees a loss.
        #[arg(long)]
        expect_loss: bool,
    },
    /// Strong events on three nodes against Local ones (cluster-profile
    /// image; `make bench-cluster`).
    BenchCluster {
        #[command(flatten)]
        lan: LanRun,
        /// Seconds the run may take.
        #[arg(long, default_value_t = 300)]
        timeout: u64,
    },
    /// Time messages through the streams against raw frames between two
    /// nodes (bench-net-profile image).
    BenchNet {
        #[command(flatten)]
        lan: LanRun,
        /// Seconds the whole benchmark may take.
        #[arg(long, default_value_t = 300)]
        timeout: u64,
    },
    /// Boot N nodes on the switch: node 0's console here, the others' in
    /// files (stop: Ctrl-C, or a line with Ctrl-A x).
    Cluster {
        #[command(flatten)]
        lan: LanRun,
        /// How many nodes.
        #[arg(long, default_value_t = 3)]
        nodes: usize,
    },
}

/// What every run of several nodes on the switch takes.
#[derive(Args)]
struct LanRun {
    #[command(flatten)]
    target: Target,
    /// The rendered system description (its network names the nodes).
    #[arg(long)]
    system: PathBuf,
    /// Directory for each node's disk and console transcripts.
    #[arg(long)]
    dir: PathBuf,
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
    /// The node's disk image (raw); created as zeros (a sparse file) of
    /// `--disk-kib` KiB if it does not exist.
    #[arg(long)]
    disk: Option<PathBuf>,
    /// The size of a disk image created here, in KiB (64 MiB by default).
    #[arg(long, default_value_t = 64 * 1024)]
    disk_kib: u64,
    /// Boot this ISO (`make iso`, x86_64) instead of the kernel and image
    /// directly; `--image` still names the image inside it (its console
    /// lines come from the description beside it).
    #[arg(long)]
    iso: Option<PathBuf>,
}

impl Target {
    /// The machine, its disk given to QEMU as `disk` (a path or the NBD
    /// server's address), run with `env`.
    fn machine(&self, disk: Option<&str>, env: Vec<(String, String)>) -> Result<Machine, String> {
        self.machine_on(disk, None, env)
    }

    /// The machine with a NIC on the switch: `nic` is (netdev options, MAC).
    fn machine_on(
        &self,
        disk: Option<&str>,
        nic: Option<(&str, &str)>,
        env: Vec<(String, String)>,
    ) -> Result<Machine, String> {
        if !self.image.is_file() {
            return Err(format!(
                "no image at {}: build it with `make image ARCH={}`",
                self.image.display(),
                self.arch
            ));
        }
        if let Some(iso) = &self.iso {
            if self.arch != "x86_64" {
                return Err(format!("an ISO boots x86_64 only, not {}", self.arch));
            }
            if !iso.is_file() {
                return Err(format!("no ISO at {}: build it with `make iso ARCH=x86_64`", iso.display()));
            }
        }
        let inputs = Inputs { image: &self.image, kernel: &self.kernel, disk, nic, iso: self.iso.as_deref() };
        let mut machine = Machine::load(&self.machines, &self.arch, &inputs)?;
        machine.env = env;
        machine.line_starts = self.line_starts()?;
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

    /// How the image's console lines start: each PD's `<name>| `, the
    /// governor's echo and the monitor's `MON|`. The PDs are those of the
    /// system description built beside the image (`worknode.system` for
    /// `worknode.img`); an image without one gets its lines as they come.
    fn line_starts(&self) -> Result<Vec<String>, String> {
        let path = self.image.with_extension("system");
        let Ok(text) = std::fs::read_to_string(&path) else { return Ok(Vec::new()) };
        let system = System::parse(&text).map_err(|e| format!("{}: {e}", path.display()))?;
        let mut starts: Vec<String> = system.pds.iter().map(|pd| format!("{}| ", pd.name)).collect();
        starts.extend([markers::ECHO.to_string(), "MON|".to_string()]);
        Ok(starts)
    }

    /// The disk image, created if absent.
    fn disk(&self) -> Result<&Path, String> {
        let disk = self.disk.as_deref().ok_or("this needs --disk")?;
        disk::ensure(disk, self.disk_kib << 10)?;
        Ok(disk)
    }
}

/// A booted node: QEMU, and the runner's server of its disk.
struct Node {
    qemu: Qemu,
    disk: nbd::Server,
}

impl Node {
    /// Boots `target` on the disk image `disk`, served by the runner.
    fn boot(
        target: &Target,
        disk: &Path,
        transcript: &Path,
        env: Vec<(String, String)>,
    ) -> Result<Node, String> {
        static SOCKETS: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = SOCKETS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        // Unix socket paths are short (108 bytes): the temporary directory.
        let socket = std::env::temp_dir().join(format!("worknode-nbd-{}-{n}.sock", std::process::id()));
        let server = nbd::Server::start(disk, &socket)?;
        let machine = target.machine(Some(&server.uri()), env)?;
        let qemu = Qemu::spawn(&machine, transcript)?;
        Ok(Node { qemu, disk: server })
    }

    /// The power goes: QEMU dies at once, and each sector written but not
    /// flushed reaches the disk, is lost or is torn, as `random` says.
    fn power_cut(self, random: &mut crash::Random) -> Result<nbd::PowerCut, String> {
        drop(self.qemu);
        self.disk.power_cut(|n| random.below(n))
    }
}

/// The host's wall clock as QEMU sees it, movable during a run: QEMU runs
/// with libfaketime (Debian: faketime), which offsets `CLOCK_REALTIME` by
/// what a file says and leaves the monotonic clocks alone. A lease clock
/// that follows the host's wall clock (a goldfish RTC on QEMU's default
/// `-rtc clock=host`) jumps with it; a monotonic one does not.
struct WallClock {
    file: PathBuf,
    library: PathBuf,
}

impl WallClock {
    const LIBRARIES: [&str; 2] = [
        "/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1",
        "/usr/lib/aarch64-linux-gnu/faketime/libfaketimeMT.so.1",
    ];

    fn new(dir: &Path) -> Result<WallClock, String> {
        let library = Self::LIBRARIES.iter().map(PathBuf::from).find(|p| p.is_file()).ok_or(
            "libfaketime not found (the console test moves QEMU's wall clock): apt-get install faketime",
        )?;
        let file = dir.join("wall-clock.offset");
        std::fs::write(&file, "+0\n").map_err(|e| format!("cannot write {}: {e}", file.display()))?;
        Ok(WallClock { file, library })
    }

    fn env(&self) -> Vec<(String, String)> {
        [
            ("LD_PRELOAD", self.library.display().to_string()),
            ("FAKETIME_TIMESTAMP_FILE", self.file.display().to_string()),
            ("FAKETIME_CACHE_DURATION", "1".into()),
            ("FAKETIME_DONT_FAKE_MONOTONIC", "1".into()),
        ]
        .map(|(k, v)| (k.to_string(), v))
        .to_vec()
    }

    /// Moves the wall clock `seconds` ahead of the host's.
    fn jump(&self, seconds: u64) -> Result<(), String> {
        std::fs::write(&self.file, format!("+{seconds}\n")).map_err(|e| format!("cannot move the clock: {e}"))
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
        Command::Crash { target, kills, seed, timeout, transcripts, expect_loss } => {
            crash_test(&target, kills, seed, Duration::from_secs(timeout), &transcripts, expect_loss)
        }
        Command::Net { lan, timeout } => {
            net_test::run(&lan.target, &lan.system, &lan.dir, Duration::from_secs(timeout))
        }
        Command::ClusterTest { lan, timeout, expect_loss } => {
            cluster_test::run(&lan.target, &lan.system, &lan.dir, Duration::from_secs(timeout), expect_loss)
        }
        Command::BenchCluster { lan, timeout } => {
            cluster_bench::run(&lan.target, &lan.system, &lan.dir, Duration::from_secs(timeout))
        }
        Command::BenchNet { lan, timeout } => {
            net_bench::run(&lan.target, &lan.system, &lan.dir, Duration::from_secs(timeout))
        }
        Command::Cluster { lan, nodes } => cluster(&lan.target, &lan.system, &lan.dir, nodes).map(|()| true),
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

/// `make cluster`: node 0's console on this terminal (lines typed go to
/// it), the others' in `<dir>/node<K>/serial.log`. Ctrl-C stops every
/// node (they share the terminal's process group); so does a line holding
/// Ctrl-A x, QEMU's own quit keys, or the end of input.
fn cluster(target: &Target, system: &Path, dir: &Path, nodes: usize) -> Result<(), String> {
    let network = lan::network(system)?;
    let mut lan = lan::Lan::new(target, network, nodes, dir, false)?;
    for k in 0..nodes {
        lan.boot(k)?;
    }
    println!(
        "cluster: {nodes} nodes; node 0's console follows, the others' are in {}/node<K>/serial.log; quit: Ctrl-C or Ctrl-A x",
        dir.display()
    );
    let (typed, lines) = std::sync::mpsc::channel::<String>();
    std::thread::spawn(move || {
        for line in std::io::stdin().lines() {
            let Ok(line) = line else { break };
            if typed.send(line).is_err() {
                break;
            }
        }
    });
    loop {
        match lines.try_recv() {
            Ok(line) if line.contains("\u{1}x") => return Ok(()),
            Ok(line) => {
                if let Some(qemu) = lan.nodes[0].as_mut() {
                    qemu.send(&line)?;
                }
            }
            Err(std::sync::mpsc::TryRecvError::Disconnected) => return Ok(()),
            Err(std::sync::mpsc::TryRecvError::Empty) => {}
        }
        if let Some((k, line)) = lan.next_line(std::time::Instant::now() + Duration::from_millis(20)) {
            if k == 0 {
                println!("{line}");
            } else if line == "qemu: exited" {
                println!("[node {k} stopped]");
            }
        }
        if lan.nodes.iter().all(Option::is_none) {
            return Ok(());
        }
    }
}

fn run(target: &Target) -> Result<(), String> {
    use std::os::unix::process::CommandExt;
    let disk = target.disk()?.display().to_string();
    let machine = target.machine(Some(&disk), Vec::new())?;
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
    // The principal's console session runs on systems with a console and
    // the test worknodes it drives (the test profile).
    let governor = system.pd_index("governor");
    let has_child =
        |name: &str| governor.is_some_and(|g| system.children_of(g).any(|c| system.pds[c].name == name));
    let session_runs =
        system.pd_index("serial").is_some() && ["spinner", "prober", "flooder"].iter().all(|c| has_child(c));
    let mut session = session_runs.then(console::Session::new);
    let dir = transcript.parent().unwrap_or(Path::new("."));
    let clock = WallClock::new(dir)?;
    let disk = target.disk()?;
    let mut node = Node::boot(target, disk, transcript, if session_runs { clock.env() } else { Vec::new() })?;
    let deadline = node.qemu.started + timeout;
    let mut verdict = loop {
        match node.qemu.next(deadline) {
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
    let boot_s = node.qemu.started.elapsed().as_secs_f64();
    if let (Verdict::Pass, Some(session)) = (&verdict, session.as_mut()) {
        let deadline = node.qemu.started + 3 * timeout;
        verdict = console_session(&mut node.qemu, session, deadline, &clock)?;
    }
    let timed = std::sync::Arc::clone(&node.qemu.timed);
    let cut = node.power_cut(&mut crash::Random::new(11))?;
    // What the session saw decided must be in the audit trail on the disk.
    if let (Verdict::Pass, Some(session)) = (&verdict, session.as_mut())
        && let Err(why) = session.check_audit(&audit_export(disk)?)
    {
        verdict = Verdict::Fail(why);
    }
    // The timer's test: the ticker's line, judged by the guest's clock and
    // the host's.
    let mut timer = String::new();
    if let (Verdict::Pass, Some(_)) = (&verdict, system.pd_index("ticker")) {
        match ticker::check(&timed.lock().expect("no panics while held")) {
            Ok((t, host)) => {
                timer = format!(
                    " timer_ticks={} timer_guest_ms={:.1} timer_host_ms={:.1} oneshots={} oneshot_early={} oneshot_worst_late_us={}",
                    t.ticks,
                    t.elapsed_us as f64 / 1000.0,
                    host.as_secs_f64() * 1000.0,
                    t.one_shots,
                    t.early,
                    t.worst_late_us
                )
            }
            Err(why) => verdict = Verdict::Fail(why),
        }
    }
    let mut refused = String::new();
    if let (Verdict::Pass, true) = (&verdict, session_runs) {
        let random_disk = dir.join("random-disk.img");
        verdict = refused_disk(target, &random_disk, &dir.join("serial-random-disk.log"), timeout)?;
        refused = " refused_disk=untouched".into();
    }
    let (result, reason) = match &verdict {
        Verdict::Pass => ("pass", String::new()),
        Verdict::Fail(why) => ("fail", format!(" reason={why:?} transcript={}", transcript.display())),
        Verdict::Pending => unreachable!("the loop only ends on a verdict"),
    };
    let console = session.map_or(String::new(), |s| {
        format!(
            " allowed={} denied={} audited={} halted={} controls={} clock_step={} flood_requests={} \
             flood_records={} halted_under_flood={}",
            s.allowed,
            s.denied,
            s.audited,
            s.halted,
            s.controls,
            u8::from(s.clock_step),
            s.flood_requests,
            s.flood_records,
            u8::from(s.halted_under_flood)
        )
    });
    println!(
        "arch={} boot_s={boot_s:.2} pds_ready={} faulted={}{console}{timer} unflushed_at_cut={}{refused} result={result}{reason}",
        target.arch,
        check.pds_ready(),
        check.faulted(),
        cut.kept + cut.lost + cut.torn
    );
    Ok(verdict == Verdict::Pass)
}

/// Types the principal's commands and judges the governor's answers.
fn console_session(
    qemu: &mut Qemu,
    session: &mut console::Session,
    deadline: std::time::Instant,
    clock: &WallClock,
) -> Result<Verdict, String> {
    let mut step = session.step("");
    loop {
        match step {
            console::Step::Type(command) => {
                println!("  > {command}");
                qemu.send(&command)?;
            }
            console::Step::JumpClock => {
                println!("  > (the host's wall clock jumps an hour ahead)");
                clock.jump(3600)?;
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

/// Issue 11, finding 12: boots on a disk of random bytes, which the log PD
/// must refuse and leave as it was, saying so once; the console must still
/// list and halt (the halt without its record).
fn refused_disk(
    target: &Target,
    disk: &Path,
    transcript: &Path,
    timeout: Duration,
) -> Result<Verdict, String> {
    let mut random = crash::Random::new(0xD15C);
    let bytes: Vec<u8> =
        (0..disk::NEW_DISK_BYTES / 8).flat_map(|_| random.below(u64::MAX).to_le_bytes()).collect();
    std::fs::write(disk, &bytes).map_err(|e| format!("cannot write {}: {e}", disk.display()))?;
    println!("  refused disk: booting on {} MiB of random bytes", bytes.len() >> 20);
    let node = Node::boot(target, disk, transcript, Vec::new())?;
    let mut qemu = node.qemu;
    let deadline = qemu.started + timeout;
    let mut said = 0;
    let mut listed = false;
    let verdict = loop {
        match qemu.next(deadline) {
            Next::Line(line) => {
                println!("  | {line}");
                if let Some(alarm) = boot::alarm(&line) {
                    break Verdict::Fail(alarm);
                }
                if line.starts_with(markers::LOG_REFUSED) {
                    said += 1;
                    if said > 1 {
                        break Verdict::Fail("the refusal was said twice".into());
                    }
                    qemu.send("list")?;
                } else if line.starts_with("governor| log: the disk holds no usable log") {
                    listed = true;
                    qemu.send("halt worknode0")?;
                } else if line.starts_with("governor| principal: halted worknode0;") {
                    break if listed && line.contains(markers::RECORD_MISSING) {
                        Verdict::Pass
                    } else {
                        Verdict::Fail(format!("unexpected answer to the halt: {line}"))
                    };
                }
            }
            Next::Closed => break Verdict::Fail("QEMU exited on the refused disk".into()),
            Next::TimedOut => break Verdict::Fail("timed out on the refused disk".into()),
        }
    };
    let writes = node.disk.writes();
    drop(qemu);
    drop(node.disk);
    let after = std::fs::read(disk).map_err(|e| format!("cannot read {}: {e}", disk.display()))?;
    if verdict == Verdict::Pass && (writes != 0 || after != bytes) {
        return Ok(Verdict::Fail(format!("the refused disk was written ({writes} writes)")));
    }
    let _ = std::fs::remove_file(disk);
    Ok(verdict)
}

/// The longest wait after the first acknowledgement before a kill.
const KILL_WINDOW: Duration = Duration::from_millis(1500);

/// Boots `kills + 1` times on one disk, cutting the power in all but the
/// last boot at a random moment after its first acknowledged event.
fn crash_test(
    target: &Target,
    kills: u32,
    seed: Option<u64>,
    timeout: Duration,
    transcripts: &Path,
    expect_loss: bool,
) -> Result<bool, String> {
    let disk = target.disk()?;
    let seed = seed.unwrap_or_else(|| {
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(1, |d| d.as_nanos() as u64)
    });
    println!(
        "crash test: {kills} power cuts, seed {seed} (repeat with --seed {seed}), {} KiB disk",
        target.disk_kib
    );
    std::fs::create_dir_all(transcripts)
        .map_err(|e| format!("cannot create {}: {e}", transcripts.display()))?;
    let mut random = crash::Random::new(seed);
    let mut ledger = crash::Ledger::default();
    let mut failure = None;
    'boots: for boot in 0..=kills {
        let transcript = transcripts.join(format!("boot-{boot}.log"));
        let mut node = Node::boot(target, disk, &transcript, Vec::new())?;
        let deadline = node.qemu.started + timeout;
        let mut kill_at = None;
        let before = ledger.boots;
        loop {
            if kill_at.is_some_and(|at| std::time::Instant::now() >= at) {
                break;
            }
            let wait = kill_at.map_or(deadline, |at: std::time::Instant| at.min(deadline));
            match node.qemu.next(wait) {
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
                    let event = matches!(&parsed, crash::LogLine::Acked(a) if a.kind == "record");
                    if event && kill_at.is_none() && ledger.boots > before {
                        kill_at = Some(std::time::Instant::now() + random.next(KILL_WINDOW));
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
        let cut = node.power_cut(&mut random)?;
        if boot < kills {
            println!(
                "  boot {boot}: power cut, highest acknowledged seq={}; of {} sectors not flushed, {} lost, {} torn",
                ledger.acked,
                cut.kept + cut.lost + cut.torn,
                cut.lost,
                cut.torn
            );
        }
    }
    let mut compared = 0;
    if failure.is_none() {
        match verify_disk(disk)? {
            false => {
                failure = Some("`worknode log verify` or `worknode audit verify` rejected the disk".into())
            }
            true => match worknode_cli(&["audit", "export"], disk).and_then(|o| {
                String::from_utf8(o.stdout).map_err(|e| format!("audit export is not UTF-8: {e}"))
            }) {
                Ok(export) => match ledger.compare(&export) {
                    Ok(n) => compared = n,
                    Err(why) if !expect_loss => failure = Some(why),
                    Err(why) => println!("  {why}"),
                },
                Err(why) => failure = Some(why),
            },
        }
    }
    // Every boot after the first starts from a non-empty log and must read
    // its last record back.
    let expected_reads = ledger.boots.saturating_sub(1);
    if ledger.read_back < expected_reads && failure.is_none() {
        failure = Some(format!(
            "only {} of {expected_reads} reboots read their last record back",
            ledger.read_back
        ));
    }
    if expect_loss {
        // The bite check: a log that acknowledges before its flush must be
        // caught losing acknowledged records.
        failure = match (failure, ledger.lost) {
            (Some(why), 0) => Some(format!("expected acknowledged records to be lost, saw none ({why})")),
            (None, 0) => {
                Some("expected acknowledged records to be lost (a log that does not flush), saw none".into())
            }
            (Some(why), lost) => {
                println!("  as expected: {lost} acknowledged records lost ({why})");
                None
            }
            (None, lost) => {
                println!("  as expected: {lost} acknowledged records lost");
                None
            }
        };
    } else if ledger.lost > 0 && failure.is_none() {
        failure = Some(format!("{} acknowledged records were not recovered", ledger.lost));
    }
    let (result, reason) = match &failure {
        None => ("pass", String::new()),
        Some(why) => ("fail", format!(" reason={why:?}")),
    };
    println!(
        "arch={} kills={kills} acked={} recovered={} lost={} read_back={} compared={compared} result={result}{reason}",
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

/// Boots the bench image and times `log_bench| <phase> begin|end` markers.
fn bench(target: &Target, timeout: Duration, transcript: &Path) -> Result<bool, String> {
    let disk = target.disk()?.display().to_string();
    let machine = target.machine(Some(&disk), Vec::new())?;
    let mut marks = bench::Marks::default();
    let report = read_bench(&machine, timeout, transcript, |line| {
        if bench::marker(line) {
            println!("  | {line}");
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
    let disk = target.disk()?.display().to_string();
    let mut machine = target.machine(Some(&disk), Vec::new())?;
    // One nanosecond of guest time per instruction: the guest's clocks
    // count instructions, whatever the host's load (the RTC too: every
    // machine file puts it on QEMU's virtual clock).
    machine.args.extend(["-icount", "shift=0"].map(String::from));
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
