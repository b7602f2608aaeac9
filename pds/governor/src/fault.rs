//! One-line descriptions of child faults, the same on every architecture.
//!
//! `sel4::Fault`'s `Debug` output prints the raw bitfield, which differs per
//! architecture and is hard to read; the console (and the tests reading it)
//! get `kind addr=.. ip=..` instead.

use core::fmt;

use sel4::Fault;

/// Displays a fault as `vm-fault addr=0x10 ip=0x2134a0` and the like.
pub struct Describe<'a>(pub &'a Fault);

impl fmt::Display for Describe<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Fault::VmFault(fault) => {
                let raw = fault.inner();
                write!(f, "vm-fault addr={:#x} ip={:#x}", raw.get_Addr(), raw.get_IP())
            }
            Fault::CapFault(fault) => {
                let raw = fault.inner();
                write!(f, "cap-fault addr={:#x} ip={:#x}", raw.get_Addr(), raw.get_IP())
            }
            Fault::UserException(fault) => {
                let raw = fault.inner();
                write!(f, "user-exception number={} ip={:#x}", raw.get_Number(), raw.get_FaultIP())
            }
            Fault::UnknownSyscall(fault) => {
                let raw = fault.inner();
                write!(f, "unknown-syscall ip={:#x}", raw.get_FaultIP())
            }
            other => write!(f, "{other:?}"),
        }
    }
}
