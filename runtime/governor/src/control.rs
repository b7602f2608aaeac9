//! The principal's console commands: their syntax and parser.
//!
//! One command per line, words separated by spaces:
//!
//! ```text
//! help                                        this list
//! list                                        worknodes, stage, standing, capabilities
//! grant   <worknode> <actions> <first>[-<last>] <lease-ms>
//! revoke  <cap>
//! suspend <worknode>
//! resume  <worknode>
//! halt    <worknode>
//! ```
//!
//! `<actions>` is a comma-separated list of `record`, `log`, `read`, `send`,
//! `delegate`. A grant is made under the worknode's boot intent and lasts
//! `<lease-ms>` milliseconds from now. The parser is strict: unknown words,
//! missing or extra arguments and out-of-range numbers are errors naming
//! the problem, and nothing happens.

use worknode_abi::audit::Control;
use worknode_authority::{Actions, CapId, Resources};

/// Each command's syntax and what it does, for `help` and for errors.
pub const HELP: [&str; 7] = [
    "help                                      this list",
    "list                                      worknodes: stage, standing, capabilities",
    "grant <worknode> <actions> <first>[-<last>] <lease-ms>   actions: record,log,read,send,delegate",
    "revoke <cap>                              revoke a capability and all delegated from it",
    "suspend <worknode>                        stop it until resumed",
    "resume <worknode>                         let a suspended worknode run again",
    "halt <worknode>                           stop it for good",
];

/// A parsed command; worknodes are named as in `system.xml`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Command<'a> {
    /// Print the commands.
    Help,
    /// Print every worknode, its stage, standing and capabilities.
    List,
    /// Grant a capability.
    Grant {
        /// The worknode.
        worknode: &'a str,
        /// The action kinds.
        actions: Actions,
        /// The resources.
        resources: Resources,
        /// Lease length in milliseconds.
        lease_ms: u64,
    },
    /// Revoke a capability and everything delegated from it.
    Revoke {
        /// The capability.
        cap: CapId,
    },
    /// Stop a worknode until resumed; its actions are denied meanwhile.
    Suspend {
        /// The worknode.
        worknode: &'a str,
    },
    /// Let a suspended worknode run again.
    Resume {
        /// The worknode.
        worknode: &'a str,
    },
    /// Stop a worknode for good.
    Halt {
        /// The worknode.
        worknode: &'a str,
    },
}

impl Command<'_> {
    /// The control in audit records; `None` for what changes nothing.
    pub fn control(&self) -> Option<Control> {
        match self {
            Command::Help | Command::List => None,
            Command::Grant { .. } => Some(Control::Grant),
            Command::Revoke { .. } => Some(Control::Revoke),
            Command::Halt { .. } => Some(Control::Halt),
            Command::Suspend { .. } => Some(Control::Suspend),
            Command::Resume { .. } => Some(Control::Resume),
        }
    }
}

/// Why a line is not a command.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ParseError {
    /// Nothing but spaces.
    Empty,
    /// The first word is not a command.
    UnknownCommand,
    /// Too few words for the command.
    MissingArgument(&'static str),
    /// More words than the command takes.
    ExtraArgument,
    /// An action name that does not exist.
    UnknownAction,
    /// A number that does not parse or is out of range.
    BadNumber(&'static str),
    /// A resource range whose first is after its last.
    BadRange,
}

impl ParseError {
    /// A one-line explanation for the console.
    pub fn message(self) -> &'static str {
        match self {
            ParseError::Empty => "empty line",
            ParseError::UnknownCommand => "unknown command",
            ParseError::MissingArgument(what) => what,
            ParseError::ExtraArgument => "too many arguments",
            ParseError::UnknownAction => "unknown action (record, log, read, send, delegate)",
            ParseError::BadNumber(what) => what,
            ParseError::BadRange => "resource range runs backwards",
        }
    }
}

/// Parses one line.
pub fn parse(line: &str) -> Result<Command<'_>, ParseError> {
    let mut words = line.split(' ').filter(|w| !w.is_empty());
    let verb = words.next().ok_or(ParseError::Empty)?;
    let mut next = |what: &'static str| words.next().ok_or(ParseError::MissingArgument(what));
    let command = match verb {
        "help" => Command::Help,
        "list" => Command::List,
        "grant" => {
            let worknode = next("grant: missing worknode")?;
            let actions = parse_actions(next("grant: missing actions")?)?;
            let resources = parse_range(next("grant: missing resources")?)?;
            let lease_ms = next("grant: missing lease (ms)")?
                .parse()
                .map_err(|_| ParseError::BadNumber("grant: lease must be milliseconds"))?;
            Command::Grant { worknode, actions, resources, lease_ms }
        }
        "revoke" => Command::Revoke {
            cap: next("revoke: missing capability")?
                .parse()
                .map_err(|_| ParseError::BadNumber("revoke: capability must be a number"))?,
        },
        "suspend" => Command::Suspend { worknode: next("suspend: missing worknode")? },
        "resume" => Command::Resume { worknode: next("resume: missing worknode")? },
        "halt" => Command::Halt { worknode: next("halt: missing worknode")? },
        _ => return Err(ParseError::UnknownCommand),
    };
    if words.next().is_some() {
        return Err(ParseError::ExtraArgument);
    }
    Ok(command)
}

fn parse_actions(list: &str) -> Result<Actions, ParseError> {
    let mut actions = Actions::NONE;
    for name in list.split(',') {
        actions = actions.with(Actions::from_name(name).ok_or(ParseError::UnknownAction)?);
    }
    Ok(actions)
}

fn parse_range(range: &str) -> Result<Resources, ParseError> {
    let number = |s: &str| {
        s.parse::<u32>().map_err(|_| ParseError::BadNumber("resources: first[-last], 0 to 4294967295"))
    };
    let (first, last) = match range.split_once('-') {
        Some((a, b)) => (number(a)?, number(b)?),
        None => {
            let r = number(range)?;
            (r, r)
        }
    };
    if first > last {
        return Err(ParseError::BadRange);
    }
    Ok(Resources { first, last })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_command_parses() {
        assert_eq!(parse("list"), Ok(Command::List));
        assert_eq!(parse("help"), Ok(Command::Help));
        assert_eq!(
            parse("grant  worknode0 record,log 3-9 1500"),
            Ok(Command::Grant {
                worknode: "worknode0",
                actions: Actions::RECORD.with(Actions::LOG),
                resources: Resources { first: 3, last: 9 },
                lease_ms: 1500
            })
        );
        assert_eq!(
            parse("grant w send 7 1"),
            Ok(Command::Grant {
                worknode: "w",
                actions: Actions::SEND,
                resources: Resources::one(7),
                lease_ms: 1
            })
        );
        assert_eq!(parse("revoke 12"), Ok(Command::Revoke { cap: 12 }));
        assert_eq!(parse("suspend a"), Ok(Command::Suspend { worknode: "a" }));
        assert_eq!(parse("resume a"), Ok(Command::Resume { worknode: "a" }));
        assert_eq!(parse("halt a "), Ok(Command::Halt { worknode: "a" }));
    }

    #[test]
    fn bad_lines_say_what_is_wrong() {
        assert_eq!(parse("   "), Err(ParseError::Empty));
        assert_eq!(parse("reboot"), Err(ParseError::UnknownCommand));
        assert_eq!(parse("halt"), Err(ParseError::MissingArgument("halt: missing worknode")));
        assert_eq!(parse("halt a b"), Err(ParseError::ExtraArgument));
        assert_eq!(parse("grant a fly 1 1"), Err(ParseError::UnknownAction));
        assert_eq!(parse("grant a record, 1 1"), Err(ParseError::UnknownAction));
        assert_eq!(parse("grant a record 9-3 1"), Err(ParseError::BadRange));
        assert!(matches!(parse("grant a record 1 -5"), Err(ParseError::BadNumber(_))));
        assert!(matches!(parse("grant a record 4294967296 5"), Err(ParseError::BadNumber(_))));
        assert!(matches!(parse("revoke x"), Err(ParseError::BadNumber(_))));
        assert_eq!(parse("grant a record 1").unwrap_err().message(), "grant: missing lease (ms)");
    }
}
