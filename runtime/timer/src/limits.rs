//! Every capacity and bound of the timer, in one place.

/// Clients one timer PD serves (its channels, the interrupt excluded).
pub const MAX_CLIENTS: usize = 8;
/// Timeouts each client may have armed at once, numbered `0..SLOTS`.
pub const SLOTS: usize = 4;
/// The shortest period a periodic timeout may have: 100 µs. A shorter one
/// would let one client keep the timer PD (a high-priority PD) busy
/// answering interrupts; rejected alternative: no floor, and a budget on
/// the timer PD, which would delay every other client's timeouts instead.
pub const MIN_PERIOD_NS: u64 = 100_000;
/// The latest a timeout may be set: about 292 years. Bounds every sum of
/// a reading and a delay far below `u64::MAX`.
pub const MAX_DELAY_NS: u64 = 1 << 63 >> 1;

const _: () = assert!(MAX_CLIENTS <= 62, "a client is a Microkit channel");
const _: () = assert!(MIN_PERIOD_NS > 0, "a zero period would fire forever");
const _: () = assert!(SLOTS == worknode_abi::timer::TIMER_SLOTS, "the Fired reply carries every slot");
