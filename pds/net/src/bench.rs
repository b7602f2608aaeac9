//! `make bench-net`'s raw phase (feature `bench`, bench-net profile only):
//! before the stack starts, node 0 sends [`FRAMES`] frames of 1,514 bytes
//! straight to node 1's MAC through the same device (the rings, the
//! driver, the switch), and node 1 counts and times them with the
//! timer's clock. Then both start the stack as usual, and the bench-net
//! client (pds/netbench) times messages through the streams between the
//! same two nodes, so the runner can compare the two in one run.
//!
//! Frames carry an IEEE local experimental ethertype (0x88B5), so nothing
//! else takes them for its own; their first 8 payload bytes are their
//! number, [`END`] marking the end. The receiver ends at the end marker or
//! at [`FRAMES`] frames, whichever comes first; frames the driver drops
//! for want of a free buffer are simply not counted. Lines:
//! `net| bench raw sent=N ns=T` (node 0) and
//! `net| bench raw received=N bytes=B ns=T` (node 1, from the first frame
//! to the last).

use sel4_microkit::debug_println;
use smoltcp::phy::{Device, RxToken, TxToken};
use smoltcp::time::Instant;

use crate::device::QueueDevice;

/// Frames node 0 sends.
pub const FRAMES: u64 = 20_000;
/// Each frame's length: a full Ethernet frame without FCS.
pub const FRAME_LEN: usize = 1514;
/// End markers sent after the frames (several: one may be dropped).
const ENDS: u64 = 16;
/// The number an end marker carries.
const END: u64 = u64::MAX;
const ETHERTYPE: [u8; 2] = [0x88, 0xB5];
/// Frames moved per activation at most (bounded work; the driver's
/// notification brings the next activation).
const BATCH: usize = 256;

/// Where the raw phase is.
#[derive(Default)]
pub struct Raw {
    sent: u64,
    received: u64,
    first_ns: Option<u64>,
    last_ns: u64,
    done: bool,
}

impl Raw {
    /// Moves the phase on; `true` once it is over for this node (node 0
    /// sends, node 1 receives, any other node has no part in it).
    pub fn run(&mut self, me: u8, mac: [u8; 6], device: &mut QueueDevice, now_ns: u64) -> bool {
        if self.done {
            return true;
        }
        match me {
            0 => self.send(mac, device, now_ns),
            1 => self.receive(device, now_ns),
            _ => self.done = true,
        }
        self.done
    }

    fn send(&mut self, mac: [u8; 6], device: &mut QueueDevice, now_ns: u64) {
        let first = *self.first_ns.get_or_insert(now_ns);
        let mut peer = mac;
        peer[5] = 1;
        for _ in 0..BATCH {
            if self.sent == FRAMES + ENDS {
                self.done = true;
                debug_println!("net| bench raw sent={FRAMES} ns={}", now_ns.saturating_sub(first));
                return;
            }
            let Some(token) = device.transmit(Instant::ZERO) else { return };
            let number = if self.sent < FRAMES { self.sent } else { END };
            token.consume(FRAME_LEN, |frame| {
                frame[..6].copy_from_slice(&peer);
                frame[6..12].copy_from_slice(&mac);
                frame[12..14].copy_from_slice(&ETHERTYPE);
                frame[14..22].copy_from_slice(&number.to_le_bytes());
            });
            self.sent += 1;
        }
    }

    fn receive(&mut self, device: &mut QueueDevice, now_ns: u64) {
        for _ in 0..BATCH {
            let Some((token, _)) = device.receive(Instant::ZERO) else { return };
            let number = token.consume(|frame| match frame.get(12..22) {
                Some(head) if head[..2] == ETHERTYPE && frame.len() == FRAME_LEN => {
                    Some(u64::from_le_bytes(head[2..].try_into().expect("8 bytes")))
                }
                _ => None,
            });
            match number {
                None => {}
                Some(END) => {
                    self.finish();
                    return;
                }
                Some(_) => {
                    self.first_ns.get_or_insert(now_ns);
                    self.last_ns = now_ns;
                    self.received += 1;
                    if self.received == FRAMES {
                        self.finish();
                        return;
                    }
                }
            }
        }
    }

    fn finish(&mut self) {
        self.done = true;
        let ns = self.last_ns.saturating_sub(self.first_ns.unwrap_or(self.last_ns));
        debug_println!(
            "net| bench raw received={} bytes={} ns={ns}",
            self.received,
            self.received * FRAME_LEN as u64
        );
    }
}
