//! `worknode`: the one command-line tool for Worknode users.
//!
//! `worknode system render|check|programs` turns `system.xml` into the
//! Microkit description for a board, checks it for every board and profile,
//! and lists the PD binaries a description needs. The Makefile runs `render`
//! and `programs` before every image build.
//!
//! `worknode log inspect|verify|export <image>` reads the event log on a
//! node's disk image (docs/log-format.md); `worknode audit verify|export
//! <image>` reads the governor's audit records in it (docs/authority.md).

mod audit_cmd;
mod log_cmd;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
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
}

/// A disk image to read.
#[derive(Args)]
struct Image {
    /// A raw disk image holding a Worknode log.
    image: PathBuf,
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
    Inspect(Image),
    /// Walk the hash chain from the first record; name the first bad record
    /// and why. Exits non-zero if acknowledged data is damaged.
    Verify(Image),
    /// Write every record as JSON Lines (format: docs/log-format.md).
    Export(Export),
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
        Command::Log(LogCommand::Inspect(Image { image })) => log_cmd::inspect(&image),
        Command::Log(LogCommand::Verify(Image { image })) => log_cmd::verify(&image),
        Command::Log(LogCommand::Export(Export { image, output })) => {
            log_cmd::export(&image, output.as_ref())
        }
        Command::Audit(AuditCommand::Verify(Image { image })) => audit_cmd::verify(&image),
        Command::Audit(AuditCommand::Export(Export { image, output })) => {
            audit_cmd::export(&image, output.as_ref())
        }
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
