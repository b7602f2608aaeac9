//! Every capacity of the authority tables, in one place.
//!
//! Sized for the largest governor: Microkit allows 63 PDs, so at most 62
//! governed children, each with a boot task and a boot grant, and room
//! left for the principal's grants.

/// Principals known to the governor.
pub const MAX_PRINCIPALS: usize = 4;
/// Intents, live or revoked.
pub const MAX_INTENTS: usize = 16;
/// Tasks: a boot task for each of up to 62 children, and two spare.
pub const MAX_TASKS: usize = 64;
/// Capabilities, dead ones (tombstones) included: a boot grant for each of
/// up to 62 children, and 66 more for the principal's grants.
pub const MAX_CAPS: usize = 128;

/// Children a governor may have (Microkit: 63 PDs at most, one is the
/// governor); the governor's own limit names the same number.
pub const MAX_GOVERNED: usize = 62;

const _: () = assert!(MAX_TASKS >= MAX_GOVERNED, "every child has a boot task");
const _: () =
    assert!(MAX_CAPS >= 2 * MAX_GOVERNED, "every child has a boot grant, and as many are left to grant");
