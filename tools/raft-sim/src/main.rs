//! `worknode-raft-sim`: runs seeds of the cluster simulator and prints a summary.
//!
//! ```text
//! worknode-raft-sim [--seeds N] [--from S] [--seed S] [--threads T]
//!          [--broken VARIANT] [--lying-fsync] [--verbose]
//! ```
//!
//! The last line is always `seeds=N violations=V ops=O ...`. A failing seed
//! prints the command that replays it alone. Exit status 1 if any seed
//! found a violation, 2 on a bad argument.

use std::process::ExitCode;

use worknode_raft::Broken;
use worknode_raft_sim::{Options, run_seeds};

const USAGE: &str = "usage: worknode-raft-sim [--seeds N] [--from S] [--seed S] [--threads T] [--broken VARIANT] [--lying-fsync] [--verbose]
  VARIANT: vote-twice, vote-ignores-log, commit-without-quorum, append-ignores-prev-term, read-without-quorum";

struct Args {
    from: u64,
    seeds: u64,
    threads: usize,
    broken: Broken,
    broken_name: Option<String>,
    lying_fsync: bool,
    verbose: bool,
}

fn parse_broken(name: &str) -> Option<Broken> {
    let mut b = Broken::default();
    match name {
        "vote-twice" => b.vote_twice = true,
        "vote-ignores-log" => b.vote_ignores_log = true,
        "commit-without-quorum" => b.commit_without_quorum = true,
        "append-ignores-prev-term" => b.append_ignores_prev_term = true,
        "read-without-quorum" => b.read_without_quorum = true,
        _ => return None,
    }
    Some(b)
}

fn parse(mut argv: impl Iterator<Item = String>) -> Result<Args, String> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut args = Args {
        from: 0,
        seeds: 500,
        threads,
        broken: Broken::default(),
        broken_name: None,
        lying_fsync: false,
        verbose: false,
    };
    let number = |flag: &str, value: Option<String>| -> Result<u64, String> {
        let value = value.ok_or_else(|| format!("{flag} needs a value"))?;
        value.parse().map_err(|_| format!("{flag}: '{value}' is not a non-negative integer"))
    };
    while let Some(arg) = argv.next() {
        match arg.as_str() {
            "--seeds" => args.seeds = number("--seeds", argv.next())?,
            "--from" => args.from = number("--from", argv.next())?,
            "--seed" => {
                args.from = number("--seed", argv.next())?;
                args.seeds = 1;
            }
            "--threads" => args.threads = number("--threads", argv.next())?.max(1) as usize,
            "--broken" => {
                let name = argv.next().ok_or("--broken needs a variant")?;
                args.broken =
                    parse_broken(&name).ok_or_else(|| format!("--broken: unknown variant '{name}'"))?;
                args.broken_name = Some(name);
            }
            "--lying-fsync" => args.lying_fsync = true,
            "--verbose" | "-v" => args.verbose = true,
            "--help" | "-h" => return Err(String::new()),
            other => return Err(format!("unknown argument '{other}'")),
        }
    }
    Ok(args)
}

fn main() -> ExitCode {
    let args = match parse(std::env::args().skip(1)) {
        Ok(args) => args,
        Err(why) => {
            if !why.is_empty() {
                eprintln!("worknode-raft-sim: {why}");
            }
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    let outcomes = run_seeds(args.from, args.seeds, args.threads, |seed| Options {
        broken: args.broken,
        lying_fsync: args.lying_fsync,
        ..Options::new(seed)
    });
    let mut extra = String::new();
    if let Some(name) = &args.broken_name {
        extra.push_str(&format!(" --broken {name}"));
    }
    if args.lying_fsync {
        extra.push_str(" --lying-fsync");
    }
    let mut totals = worknode_raft_sim::cluster::Counters::default();
    let mut failed = 0u64;
    for o in &outcomes {
        let c = o.counters;
        totals.ops += c.ops;
        totals.timeouts += c.timeouts;
        totals.messages += c.messages;
        totals.dropped += c.dropped;
        totals.garbage += c.garbage;
        totals.crashes += c.crashes;
        totals.torn += c.torn;
        totals.snapshots += c.snapshots;
        totals.chunks += c.chunks;
        totals.conf_changes += c.conf_changes;
        totals.leaders += c.leaders;
        totals.refused += c.refused;
        totals.reclaimed += c.reclaimed;
        totals.held += c.held;
        if args.verbose {
            println!("seed={} ops={} {:?}", o.seed, c.ops, o.profile);
        }
        if !o.violations.is_empty() {
            failed += 1;
            for v in &o.violations {
                println!("seed {}: VIOLATION {}: {}", o.seed, v.property, v.detail);
            }
            println!("  replay: cargo run --release -p worknode-raft-sim -- --seed {}{extra}", o.seed);
        }
    }
    println!(
        "seeds={} violations={} ops={} timeouts={} messages={} dropped={} garbage={} crashes={} torn_writes={} snapshots={} chunks={} conf_changes={} leaders={} refused_restarts={} reclaimed_logs={} held_compactions={}",
        outcomes.len(),
        failed,
        totals.ops,
        totals.timeouts,
        totals.messages,
        totals.dropped,
        totals.garbage,
        totals.crashes,
        totals.torn,
        totals.snapshots,
        totals.chunks,
        totals.conf_changes,
        totals.leaders,
        totals.refused,
        totals.reclaimed,
        totals.held
    );
    if failed > 0 { ExitCode::FAILURE } else { ExitCode::SUCCESS }
}
