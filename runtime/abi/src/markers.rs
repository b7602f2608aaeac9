//! The console lines other programs read: the governor's account of what
//! it decided and did, and the lines the test worknodes print through it.
//!
//! The console is an interface like the ABI: `tools/qemu-runner` reads it
//! to judge a boot, a console session and a crash, and people read it.
//! Every fixed part of those lines is written here once; the governor and
//! the governed PDs print with these, the runner matches with these.
//! Each worknode's own lines reach the console as `<name>| <text>`, the
//! text escaped (`worknode_governor::console`), so a worknode cannot print
//! a line that starts like one of the governor's.

/// Every line the governor writes starts with this.
pub const GOVERNOR: &str = "governor| ";
/// `governor| supervising <N> children`
pub const SUPERVISING: &str = "governor| supervising ";
/// `governor| waiting for the log`
pub const WAITING_FOR_LOG: &str = "governor| waiting for the log";
/// `governor| log ready: recovered last_seq=<N> log_id=<hex>`
pub const LOG_READY: &str = "governor| log ready: recovered last_seq=";
/// `governor| the disk holds no usable log (<error>): ...`, said once.
pub const LOG_REFUSED: &str = "governor| the disk holds no usable log (";
/// `governor| last event seq=<N> from <who> (<len> bytes, <outcome>)`
pub const LAST_EVENT: &str = "governor| last event seq=";
/// `governor| started <worknode>; audit seq=<N>`
pub const STARTED: &str = "governor| started ";
/// `governor| hello from <worknode>, welcomed as #<i>; audit seq=<N>`
pub const HELLO: &str = "governor| hello from ";
/// `governor| <worknode> is ready; audit seq=<N>`
pub const IS_READY: &str = " is ready; audit seq=";
/// `governor| boot complete children=<C> ready=<R> faulted=<F> halted=<H>`
pub const BOOT_COMPLETE: &str = "governor| boot complete ";
/// `governor| child <worknode> faulted: <fault>; audit seq=<N>`
pub const CHILD: &str = "governor| child ";
/// What follows the worknode's name in a fault line.
pub const FAULTED: &str = " faulted: ";
/// `governor| recorded <worknode> seq=<N>`
pub const RECORDED: &str = "governor| recorded ";
/// `governor| denied <worknode>: <reason> (<action> on <resource>), audit seq=<N>`
pub const DENIED: &str = "governor| denied ";
/// `principal> <line>`: the governor echoes each command line.
pub const ECHO: &str = "principal> ";
/// `governor| principal: <answer>`
pub const PRINCIPAL: &str = "governor| principal: ";
/// An answer that names the audit record of what it reports.
pub const AUDIT_SEQ: &str = "audit seq=";
/// A stop taken without its record (the log could not take it).
pub const RECORD_MISSING: &str = "audit record missing";
/// A control that did nothing: `governor| principal: not done: ...`.
pub const NOT_DONE: &str = "governor| principal: not done";
/// A control refused: `governor| principal: refused: ...`.
pub const REFUSED: &str = "governor| principal: refused";
/// `governor| the log refused an audit record: <error>; ...`
pub const LOG_FAILED: &str = "governor| the log refused an audit record: ";

/// A worknode's `Ready` was acknowledged (printed by the worknode).
pub const READY_ACKNOWLEDGED: &str = "start received, ready acknowledged";
/// A worknode's `started` event is durable: `... as event <N>`.
pub const STARTED_EVENT: &str = "recorded 'started' as event ";

/// Lines that mean something went wrong in any PD or the kernel.
pub const ALARMS: [&str; 4] = ["panicked", "MON|ERROR", "seL4(CPU", "abort"];
