//! `worknode`: the one command-line tool for Worknode users.
//!
//! `worknode system render|check|programs` turns `system.xml` into the
//! Microkit description for a board, checks it for every board and profile,
//! and lists the PD binaries a description needs. The Makefile runs `render`
//! and `programs` before every image build.
//!
//! `worknode log inspect|verify|export [--part raft] <image>` reads the
//! event log on a node's disk image, or its Raft log (docs/log-format.md); `worknode audit verify|export
//! <image>` reads the governor's audit records in it (docs/authority.md).
//! `worknode disk join <image> --cluster NAME --node K` prepares a
//! replaced disk for a node that rejoins its cluster (docs/cluster.md).

mod audit_cmd;
mod disk_cmd;
mod log_cmd;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use log_cmd::{Disk, PartName};
use worknode_sysdesc::model::System;
use worknode_sysdesc::{Error, render};

#[derive(Parser)]
#[command(name = "worknode", version, about = "Inspect and operate Worknode systems")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Work with the system description (system.xml).
    #[command(subcommand)]
    System(SystemCommand),
    /// Read the event log on a disk image (read-only).
    #[command(subcommand)]
    Log(LogCommand),
    /// Read the governor's audit trail on a disk image (read-only).
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Prepare a node's disk image.
    #[command(subcommand)]
    Disk(DiskCommand),
}

#[derive(Subcommand)]
enum DiskCommand {
    /// Prepare a new disk for a node that joins an existing cluster (a
    /// replaced disk): its Raft part becomes an empty Raft log of that
    /// node, which then waits for the leader instead of founding. Refuses
    /// a disk whose Raft part is not blank.
    Join {
        /// A raw disk image (create it first: truncate -s 64M disk.img).
        image: PathBuf,
        /// The cluster's name (system.xml's `cluster`).
        #[arg(long)]
        cluster: String,
        /// The node's number in the cluster (0 for the first).
        #[arg(long)]
        node: u16,
    },
}

/// A disk image to read.
#[derive(Args)]
struct Image {
    /// A raw disk image holding a Worknode log.
    image: PathBuf,
}

/// One log of a disk image to read.
#[derive(Args)]
struct LogImage {
    /// A raw disk image holding a Worknode log.
    image: PathBuf,
    /// Which log of the disk: the event log, or a cluster node's Raft log.
    #[arg(long, value_enum, default_value = "events")]
    part: PartName,
}

/// One log of a disk image to export, and where to.
#[derive(Args)]
struct LogExport {
    /// A raw disk image holding a Worknode log.
    image: PathBuf,
    /// Which log of the disk: the event log, or a cluster node's Raft log.
    #[arg(long, value_enum, default_value = "events")]
    part: PartName,
    /// Output file (standard output if absent).
    #[arg(short, long)]
    output: Option<PathBuf>,
}

/// A disk image to export, and where to.
#[derive(Args)]
struct Export {
    /// A raw disk image holding a Worknode log.
    image: PathBuf,
    /// Output file (standard output if absent).
    #[arg(short, long)]
    output: Option<PathBuf>,
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Walk the hash chain and decode every audit record; count decisions.
    /// Exits non-zero if the chain is damaged or an audit record is not.
    Verify(Image),
    /// Write every audit record as JSON Lines, decisions spelled out.
    Export(Export),
}

#[derive(Subcommand)]
enum LogCommand {
    /// Print the superblocks and a summary of the records.
    Inspect(LogImage),
    /// Walk the hash chain from the first record; name the first bad record
    /// and why. Exits non-zero if acknowledged data is damaged.
    Verify(LogImage),
    /// Write every record as JSON Lines (format: docs/log-format.md).
    Export(LogExport),
    /// List the cluster's Strong events the event log holds, one line each
    /// in log order (number, proposer, its sequence number, worknode,
    /// event), then a summary. Two nodes' lists agree line for line over
    /// the numbers both hold (docs/cluster.md).
    Replicated(Image),
}

#[derive(Subcommand)]
enum SystemCommand {
    /// Render the Microkit system description for one board and profile.
    Render {
        /// The template, usually system.xml.
        template: PathBuf,
        /// Microkit board name, e.g. qemu_virt_aarch64.
        #[arg(long)]
        board: String,
        /// Build profile: default, test, bench or bench-gate.
        #[arg(long, default_value = "default")]
        profile: String,
        /// Where to write the result (standard output if absent).
        #[arg(short, long)]
        output: Option<PathBuf>,
    },
    /// Check the description for every board and profile.
    Check {
        /// The template, usually system.xml.
        template: PathBuf,
    },
    /// List the program images a rendered description needs, one per line,
    /// without the `.elf` suffix (the PD binaries to build).
    Programs {
        /// A rendered description (the output of `render`).
        system: PathBuf,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli.command) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("worknode: {message}");
            ExitCode::FAILURE
        }
    }
}

fn run(command: Command) -> Result<(), String> {
    match command {
        Command::Log(LogCommand::Inspect(LogImage { image, part })) => {
            log_cmd::inspect(&Disk { path: &image, part })
        }
        Command::Log(LogCommand::Verify(LogImage { image, part })) => {
            log_cmd::verify(&Disk { path: &image, part })
        }
        Command::Log(LogCommand::Export(LogExport { image, part, output })) => {
            log_cmd::export(&Disk { path: &image, part }, output.as_ref())
        }
        Command::Log(LogCommand::Replicated(Image { image })) => {
            log_cmd::replicated(&Disk { path: &image, part: PartName::Events })
        }
        // The audit trail is in the event log only.
        Command::Audit(AuditCommand::Verify(Image { image })) => {
            audit_cmd::verify(&Disk { path: &image, part: PartName::Events })
        }
        Command::Audit(AuditCommand::Export(Export { image, output })) => {
            audit_cmd::export(&Disk { path: &image, part: PartName::Events }, output.as_ref())
        }
        Command::Disk(DiskCommand::Join { image, cluster, node }) => disk_cmd::join(&image, &cluster, node),
        Command::System(SystemCommand::Render { template, board, profile, output }) => {
            let text = read(&template)?;
            let rendered = render::render(&text, &board, &profile).map_err(|e| describe(&template, &e))?;
            match output {
                Some(path) => std::fs::write(&path, rendered)
                    .map_err(|e| format!("cannot write {}: {e}", path.display())),
                None => {
                    print!("{rendered}");
                    Ok(())
                }
            }
        }
        Command::System(SystemCommand::Check { template }) => {
            let text = read(&template)?;
            render::check_all(&text).map_err(|e| describe(&template, &e))?;
            println!("{}: ok for every board and profile", template.display());
            Ok(())
        }
        Command::System(SystemCommand::Programs { system }) => {
            let text = read(&system)?;
            let parsed = System::parse(&text).map_err(|e| describe(&system, &[e]))?;
            let mut programs: Vec<&str> = Vec::new();
            for pd in &parsed.pds {
                let name = pd.program.strip_suffix(".elf").ok_or_else(|| {
                    format!("{}: program image '{}' must be named <binary>.elf", system.display(), pd.program)
                })?;
                if !programs.contains(&name) {
                    programs.push(name);
                }
            }
            for name in programs {
                println!("{name}");
            }
            Ok(())
        }
    }
}

fn read(path: &std::path::Path) -> Result<String, String> {
    std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))
}

fn describe(path: &std::path::Path, errors: &[Error]) -> String {
    let lines: Vec<String> = errors.iter().map(|e| format!("{}: {e}", path.display())).collect();
    lines.join("\nworknode: ")
}
