//! The log PD: the only owner of the node's event log.
//!
//! At start it recovers the log from the disk (formatting a blank disk) and
//! notifies the governor that the log is ready; the governor asks for the
//! [`LogReply::Status`], prints it, and starts worknodes only after that.
//! (This PD prints only on failure: it outranks the governor, so a line of
//! its own could cut into the middle of one of the governor's.) Then it serves
//! [`LogRequest`]s from the governor, its only caller: `Append` and `Sync`
//! reply once the record's batch is written *and* flushed, so the governor
//! can acknowledge a worknode's event only when it is durable.
//!
//! The logic is `worknode-log`; this file is glue, plus a checkpoint every
//! [`CHECKPOINT_EVERY`] commits so recovery scans a bounded tail.

#![no_std]
#![no_main]

mod disk;

use heapless::Vec;
use sel4_microkit::{
    Channel, ChannelSet, Handler, Infallible, MessageInfo, debug_println, protection_domain,
};
use worknode_abi::ErrorCode;
use worknode_abi::log::{LogReply, LogRequest, LogResponse, MAX_RECORD};
use worknode_log::format::MAX_PAYLOAD;
use worknode_log::{Log, LogError};

use crate::disk::QueueDisk;

/// Channel ids generated from the rendered system.xml.
mod system {
    include!(concat!(env!("OUT_DIR"), "/system.rs"));
}

const GOVERNOR: Channel = Channel::new(system::channel::GOVERNOR);
const DRIVER: Channel = Channel::new(system::channel::BLK);
/// Batch buffer: the most one group commit writes at once.
const BATCH: usize = 16 * 1024;
/// Commits between checkpoints.
const CHECKPOINT_EVERY: u32 = 64;

struct LogPd {
    log: Log<QueueDisk, BATCH>,
    recovered: u64,
    commits: u32,
}

#[protection_domain]
fn init() -> LogPd {
    let mut disk = QueueDisk::from_system(DRIVER);
    let blank = matches!(worknode_log::read_superblock(&mut disk), Err(LogError::Unformatted));
    let (log, recovered) = if blank {
        let id =
            worknode_log::derive_log_id(&mut disk).unwrap_or_else(|e| panic!("cannot read the disk: {e:?}"));
        (Log::format(disk, id).unwrap_or_else(|e| panic!("format failed: {e:?}")), 0)
    } else {
        match Log::<QueueDisk, BATCH>::open(disk) {
            Ok((log, recovery)) => (log, recovery.last_seq),
            // Refuse to touch a disk we cannot account for: a person decides.
            Err(e) => panic!("the disk holds no usable log ({e:?}); inspect it with `worknode log inspect`"),
        }
    };
    GOVERNOR.notify();
    LogPd { log, recovered, commits: 0 }
}

impl LogPd {
    fn commit(&mut self) -> Result<u64, LogError> {
        let durable = self.log.commit()?;
        self.commits += 1;
        if self.commits % CHECKPOINT_EVERY == 0 {
            self.log.checkpoint()?;
        }
        Ok(durable)
    }

    fn serve(&mut self, request: LogRequest) -> LogResponse {
        let result = match request {
            LogRequest::Append { payload } => self
                .log
                .append(&payload)
                .and_then(|seq| self.commit().map(|durable| LogReply::Appended { seq, durable })),
            LogRequest::AppendLater { payload } => self
                .log
                .append(&payload)
                .map(|seq| LogReply::Appended { seq, durable: self.log.durable_seq() }),
            LogRequest::Sync => self.commit().map(|durable| LogReply::Synced { durable }),
            LogRequest::Read { seq } => {
                let mut buf = [0u8; MAX_PAYLOAD];
                self.log.read(seq, &mut buf).and_then(|header| {
                    let payload =
                        Vec::from_slice(&buf[..header.len as usize]).map_err(|_| LogError::TooLarge)?;
                    Ok(LogReply::Record { seq, payload })
                })
            }
            LogRequest::Status => Ok(LogReply::Status {
                last_seq: self.log.last_seq(),
                durable: self.log.durable_seq(),
                recovered: self.recovered,
                log_id: self.log.superblock().log_id,
            }),
        };
        result.map_err(|e| {
            debug_println!("log| request failed: {e:?}");
            ErrorCode::from(e)
        })
    }
}

impl Handler for LogPd {
    type Error = Infallible;

    fn protected(&mut self, channel: Channel, info: MessageInfo) -> Result<MessageInfo, Self::Error> {
        let response: LogResponse = if channel != GOVERNOR {
            Err(ErrorCode::Denied)
        } else {
            worknode_pd_ipc::receive::<LogRequest>(&info).and_then(|request| self.serve(request))
        };
        Ok(worknode_pd_ipc::reply(&response))
    }

    fn notified(&mut self, channels: ChannelSet) -> Result<(), Self::Error> {
        // The driver notifies once per batch of responses; the disk code
        // consumes responses as it waits, so a notification that arrives
        // after its response was taken finds nothing to do.
        if !channels.contains(DRIVER) {
            debug_println!("log| ignored notification on channels {}", channels.display());
        }
        Ok(())
    }
}

const _: () = assert!(MAX_RECORD <= MAX_PAYLOAD);
