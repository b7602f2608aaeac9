//! The test disks' block backend: an NBD server the runner owns, with a
//! volatile write cache that a power cut can lose.
//!
//! QEMU's raw file backend keeps every completed write across a SIGKILL
//! (the host's page cache has it), so a crash test on it cannot tell a log
//! that flushes before it acknowledges from one that does not. Served from
//! here instead, over a Unix socket (`nbd+unix:///?socket=...`), a disk
//! behaves as a real one does at a power cut:
//!
//! - a write lands in the cache: reads see it, the image file does not;
//! - a flush (`NBD_CMD_FLUSH`, which QEMU sends for the guest's
//!   `VIRTIO_BLK_T_FLUSH`) writes the cache to the image file;
//! - at the kill, [`PowerCut`] decides each cached sector's fate, seeded:
//!   it reaches the file, it is lost, or it is torn (a prefix of the new
//!   bytes over the old), the storage fault model of docs/log-format.md.
//!
//! The server speaks the fixed newstyle handshake with `NBD_OPT_GO` (and
//! `NBD_OPT_EXPORT_NAME`), refuses structured replies and meta contexts
//! (QEMU then uses simple replies), advertises flush and nothing else
//! (no FUA, no trim, no write-zeroes: every durability QEMU asks for is a
//! flush), and serves one client: the QEMU it was started for. It counts
//! the writes it was sent, so a test can show a disk was left untouched.
//! Rejected: `qemu-nbd` (qemu-utils is gone from a machine that installs
//! QEMU 7.2, and it has no volatile cache to cut), and QEMU's own
//! `cache=unsafe` plus a kill (it keeps writes in the host's page cache,
//! which a SIGKILL does not lose).

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, Read, Write};
use std::os::unix::fs::FileExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

const SECTOR: u64 = 512;
const NBDMAGIC: u64 = 0x4e42_444d_4147_4943;
const IHAVEOPT: u64 = 0x4948_4156_454f_5054;
const REPLY_MAGIC: u64 = 0x0003_e889_0455_65a9;
const REQUEST_MAGIC: u32 = 0x2560_9513;
const SIMPLE_REPLY_MAGIC: u32 = 0x6744_6698;
const FLAG_FIXED_NEWSTYLE: u16 = 1;
const FLAG_NO_ZEROES: u16 = 2;
const FLAG_HAS_FLAGS: u16 = 1;
const FLAG_SEND_FLUSH: u16 = 4;
const OPT_EXPORT_NAME: u32 = 1;
const OPT_ABORT: u32 = 2;
const OPT_INFO: u32 = 6;
const OPT_GO: u32 = 7;
const REP_ACK: u32 = 1;
const REP_INFO: u32 = 3;
const REP_ERR_UNSUP: u32 = (1 << 31) + 1;
const INFO_EXPORT: u16 = 0;
const CMD_READ: u16 = 0;
const CMD_WRITE: u16 = 1;
const CMD_DISC: u16 = 2;
const CMD_FLUSH: u16 = 3;
const EIO: u32 = 5;
const EINVAL: u32 = 22;
/// The largest request served (QEMU's is 32 MiB).
const MAX_REQUEST: u32 = 32 << 20;

/// The disk: the image file (what survives), and the sectors written but
/// not flushed (what a power cut may lose).
struct Disk {
    file: File,
    size: u64,
    cache: BTreeMap<u64, Vec<u8>>,
    writes: u64,
    flushes: u64,
}

impl Disk {
    fn sector(&self, index: u64) -> io::Result<Vec<u8>> {
        if let Some(cached) = self.cache.get(&index) {
            return Ok(cached.clone());
        }
        let mut buf = vec![0; SECTOR as usize];
        self.file.read_exact_at(&mut buf, index * SECTOR)?;
        Ok(buf)
    }

    fn read(&self, offset: u64, out: &mut [u8]) -> io::Result<()> {
        let mut done = 0;
        while done < out.len() {
            let at = offset + done as u64;
            let sector = self.sector(at / SECTOR)?;
            let within = (at % SECTOR) as usize;
            let n = (SECTOR as usize - within).min(out.len() - done);
            out[done..done + n].copy_from_slice(&sector[within..within + n]);
            done += n;
        }
        Ok(())
    }

    fn write(&mut self, offset: u64, data: &[u8]) -> io::Result<()> {
        let mut done = 0;
        while done < data.len() {
            let at = offset + done as u64;
            let index = at / SECTOR;
            let mut sector = self.sector(index)?;
            let within = (at % SECTOR) as usize;
            let n = (SECTOR as usize - within).min(data.len() - done);
            sector[within..within + n].copy_from_slice(&data[done..done + n]);
            self.cache.insert(index, sector);
            done += n;
        }
        Ok(())
    }

    fn flush(&mut self) -> io::Result<()> {
        for (index, sector) in std::mem::take(&mut self.cache) {
            self.file.write_all_at(&sector, index * SECTOR)?;
        }
        self.file.sync_data()
    }
}

/// What a power cut did to the cache.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PowerCut {
    /// Cached sectors that reached the file whole.
    pub kept: u64,
    /// Cached sectors that were lost.
    pub lost: u64,
    /// Cached sectors torn: part new, part old.
    pub torn: u64,
}

/// A served disk; see the module documentation.
pub struct Server {
    disk: Arc<Mutex<Disk>>,
    socket: PathBuf,
    thread: Option<JoinHandle<()>>,
}

impl Server {
    /// Serves `image` (a raw disk image, which must exist) on a Unix socket
    /// at `socket`, for one client.
    pub fn start(image: &Path, socket: &Path) -> Result<Server, String> {
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(image)
            .map_err(|e| format!("cannot open {}: {e}", image.display()))?;
        let size = file.metadata().map_err(|e| format!("cannot stat {}: {e}", image.display()))?.len();
        if size == 0 || size % SECTOR != 0 {
            return Err(format!("{}: {size} bytes is not a whole number of sectors", image.display()));
        }
        let _ = std::fs::remove_file(socket);
        let listener =
            UnixListener::bind(socket).map_err(|e| format!("cannot listen on {}: {e}", socket.display()))?;
        let disk = Arc::new(Mutex::new(Disk { file, size, cache: BTreeMap::new(), writes: 0, flushes: 0 }));
        let served = disk.clone();
        let thread = std::thread::spawn(move || {
            if let Ok((stream, _)) = listener.accept() {
                // A client that goes away (QEMU killed) ends the session;
                // nothing else is wrong then.
                let _ = serve(stream, &served);
            }
        });
        Ok(Server { disk, socket: socket.to_path_buf(), thread: Some(thread) })
    }

    /// What QEMU's `-drive file=` takes.
    pub fn uri(&self) -> String {
        format!("nbd+unix:///?socket={}", self.socket.display())
    }

    /// Writes the client sent so far.
    pub fn writes(&self) -> u64 {
        self.disk.lock().map_or(0, |d| d.writes)
    }

    /// The power goes: every cached sector is kept, lost or torn, as
    /// `random` decides (`random(3)` in 0..3). Call once QEMU is gone.
    pub fn power_cut(mut self, mut random: impl FnMut(u64) -> u64) -> Result<PowerCut, String> {
        self.join();
        let mut disk = self.disk.lock().map_err(|_| "the disk's lock is poisoned")?;
        let mut cut = PowerCut::default();
        for (index, sector) in std::mem::take(&mut disk.cache) {
            let at = index * SECTOR;
            let result = match random(3) {
                0 => {
                    cut.lost += 1;
                    Ok(())
                }
                1 => {
                    cut.kept += 1;
                    disk.file.write_all_at(&sector, at)
                }
                _ => {
                    cut.torn += 1;
                    let prefix = random(SECTOR) as usize;
                    disk.file.write_all_at(&sector[..prefix], at)
                }
            };
            result.map_err(|e| format!("cannot write the disk image: {e}"))?;
        }
        disk.file.sync_data().map_err(|e| format!("cannot sync the disk image: {e}"))?;
        Ok(cut)
    }

    fn join(&mut self) {
        // The client closed (QEMU exited or was killed); unblock an accept
        // that never happened by connecting once ourselves.
        if let Some(thread) = self.thread.take() {
            if !thread.is_finished() {
                let _ = UnixStream::connect(&self.socket);
            }
            let _ = thread.join();
        }
        let _ = std::fs::remove_file(&self.socket);
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.join();
    }
}

fn read_u16(s: &mut impl Read) -> io::Result<u16> {
    let mut b = [0; 2];
    s.read_exact(&mut b)?;
    Ok(u16::from_be_bytes(b))
}

fn read_u32(s: &mut impl Read) -> io::Result<u32> {
    let mut b = [0; 4];
    s.read_exact(&mut b)?;
    Ok(u32::from_be_bytes(b))
}

fn read_u64(s: &mut impl Read) -> io::Result<u64> {
    let mut b = [0; 8];
    s.read_exact(&mut b)?;
    Ok(u64::from_be_bytes(b))
}

fn option_reply(s: &mut impl Write, option: u32, kind: u32, data: &[u8]) -> io::Result<()> {
    let mut out = Vec::with_capacity(20 + data.len());
    out.extend_from_slice(&REPLY_MAGIC.to_be_bytes());
    out.extend_from_slice(&option.to_be_bytes());
    out.extend_from_slice(&kind.to_be_bytes());
    out.extend_from_slice(&(data.len() as u32).to_be_bytes());
    out.extend_from_slice(data);
    s.write_all(&out)
}

fn invalid(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what.to_string())
}

/// One client: the handshake, then requests until it disconnects.
fn serve(mut s: UnixStream, disk: &Mutex<Disk>) -> io::Result<()> {
    let size = disk.lock().map_err(|_| invalid("lock"))?.size;
    let flags = FLAG_HAS_FLAGS | FLAG_SEND_FLUSH;
    let mut hello = Vec::new();
    hello.extend_from_slice(&NBDMAGIC.to_be_bytes());
    hello.extend_from_slice(&IHAVEOPT.to_be_bytes());
    hello.extend_from_slice(&(FLAG_FIXED_NEWSTYLE | FLAG_NO_ZEROES).to_be_bytes());
    s.write_all(&hello)?;
    let client_flags = read_u32(&mut s)?;
    let no_zeroes = client_flags & u32::from(FLAG_NO_ZEROES) != 0;
    // Options, until one starts the transmission. Bounded by the client:
    // each option is a message it sends.
    loop {
        if read_u64(&mut s)? != IHAVEOPT {
            return Err(invalid("option without IHAVEOPT"));
        }
        let option = read_u32(&mut s)?;
        let len = read_u32(&mut s)?;
        if len > 4096 {
            return Err(invalid("option too long"));
        }
        let mut data = vec![0; len as usize];
        s.read_exact(&mut data)?;
        match option {
            OPT_EXPORT_NAME => {
                let mut reply = Vec::new();
                reply.extend_from_slice(&size.to_be_bytes());
                reply.extend_from_slice(&flags.to_be_bytes());
                if !no_zeroes {
                    reply.extend_from_slice(&[0; 124]);
                }
                s.write_all(&reply)?;
                break;
            }
            OPT_GO | OPT_INFO => {
                let mut info = Vec::new();
                info.extend_from_slice(&INFO_EXPORT.to_be_bytes());
                info.extend_from_slice(&size.to_be_bytes());
                info.extend_from_slice(&flags.to_be_bytes());
                option_reply(&mut s, option, REP_INFO, &info)?;
                option_reply(&mut s, option, REP_ACK, &[])?;
                if option == OPT_GO {
                    break;
                }
            }
            OPT_ABORT => {
                option_reply(&mut s, option, REP_ACK, &[])?;
                return Ok(());
            }
            _ => option_reply(&mut s, option, REP_ERR_UNSUP, &[])?,
        }
    }
    // Transmission. Bounded by the client, as above.
    loop {
        if read_u32(&mut s)? != REQUEST_MAGIC {
            return Err(invalid("request without its magic"));
        }
        let _flags = read_u16(&mut s)?;
        let kind = read_u16(&mut s)?;
        let handle = read_u64(&mut s)?;
        let offset = read_u64(&mut s)?;
        let len = read_u32(&mut s)?;
        let in_range =
            len <= MAX_REQUEST && offset.checked_add(u64::from(len)).is_some_and(|end| end <= size);
        let mut payload = Vec::new();
        if kind == CMD_WRITE {
            if len > MAX_REQUEST {
                return Err(invalid("write too long"));
            }
            payload.resize(len as usize, 0);
            s.read_exact(&mut payload)?;
        }
        let mut disk = disk.lock().map_err(|_| invalid("lock"))?;
        let (error, data) = match kind {
            CMD_READ if in_range => {
                let mut out = vec![0; len as usize];
                match disk.read(offset, &mut out) {
                    Ok(()) => (0, out),
                    Err(_) => (EIO, Vec::new()),
                }
            }
            CMD_WRITE if in_range => {
                disk.writes += 1;
                (if disk.write(offset, &payload).is_ok() { 0 } else { EIO }, Vec::new())
            }
            CMD_FLUSH => {
                disk.flushes += 1;
                (if disk.flush().is_ok() { 0 } else { EIO }, Vec::new())
            }
            CMD_DISC => return Ok(()),
            _ => (EINVAL, Vec::new()),
        };
        drop(disk);
        let mut reply = Vec::with_capacity(16 + data.len());
        reply.extend_from_slice(&SIMPLE_REPLY_MAGIC.to_be_bytes());
        reply.extend_from_slice(&error.to_be_bytes());
        reply.extend_from_slice(&handle.to_be_bytes());
        reply.extend_from_slice(&data);
        s.write_all(&reply)?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A minimal NBD client: the handshake with GO, then simple requests.
    struct Client(UnixStream);

    impl Client {
        fn connect(socket: &Path) -> Client {
            let mut s = UnixStream::connect(socket).unwrap();
            assert_eq!(read_u64(&mut s).unwrap(), NBDMAGIC);
            assert_eq!(read_u64(&mut s).unwrap(), IHAVEOPT);
            assert_eq!(read_u16(&mut s).unwrap(), FLAG_FIXED_NEWSTYLE | FLAG_NO_ZEROES);
            s.write_all(&3u32.to_be_bytes()).unwrap();
            // Structured replies: refused.
            let mut opt = Vec::new();
            opt.extend_from_slice(&IHAVEOPT.to_be_bytes());
            opt.extend_from_slice(&8u32.to_be_bytes());
            opt.extend_from_slice(&0u32.to_be_bytes());
            s.write_all(&opt).unwrap();
            assert_eq!(read_u64(&mut s).unwrap(), REPLY_MAGIC);
            assert_eq!((read_u32(&mut s).unwrap(), read_u32(&mut s).unwrap()), (8, REP_ERR_UNSUP));
            assert_eq!(read_u32(&mut s).unwrap(), 0);
            // GO, export "".
            let mut go = Vec::new();
            go.extend_from_slice(&IHAVEOPT.to_be_bytes());
            go.extend_from_slice(&OPT_GO.to_be_bytes());
            go.extend_from_slice(&6u32.to_be_bytes());
            go.extend_from_slice(&[0, 0, 0, 0, 0, 0]);
            s.write_all(&go).unwrap();
            loop {
                assert_eq!(read_u64(&mut s).unwrap(), REPLY_MAGIC);
                assert_eq!(read_u32(&mut s).unwrap(), OPT_GO);
                let kind = read_u32(&mut s).unwrap();
                let len = read_u32(&mut s).unwrap();
                let mut data = vec![0; len as usize];
                s.read_exact(&mut data).unwrap();
                if kind == REP_ACK {
                    break;
                }
                assert_eq!(kind, REP_INFO);
                assert_eq!(u16::from_be_bytes([data[10], data[11]]), FLAG_HAS_FLAGS | FLAG_SEND_FLUSH);
            }
            Client(s)
        }

        fn request(&mut self, kind: u16, offset: u64, data: &[u8], read: u32) -> (u32, Vec<u8>) {
            let mut r = Vec::new();
            r.extend_from_slice(&REQUEST_MAGIC.to_be_bytes());
            r.extend_from_slice(&0u16.to_be_bytes());
            r.extend_from_slice(&kind.to_be_bytes());
            r.extend_from_slice(&7u64.to_be_bytes());
            r.extend_from_slice(&offset.to_be_bytes());
            r.extend_from_slice(&(if kind == CMD_WRITE { data.len() as u32 } else { read }).to_be_bytes());
            r.extend_from_slice(data);
            self.0.write_all(&r).unwrap();
            assert_eq!(read_u32(&mut self.0).unwrap(), SIMPLE_REPLY_MAGIC);
            let error = read_u32(&mut self.0).unwrap();
            assert_eq!(read_u64(&mut self.0).unwrap(), 7);
            let mut out = vec![0; if kind == CMD_READ && error == 0 { read as usize } else { 0 }];
            self.0.read_exact(&mut out).unwrap();
            (error, out)
        }
    }

    fn setup(name: &str) -> (PathBuf, PathBuf) {
        let dir = std::env::temp_dir().join(format!("wq-nbd-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let image = dir.join("disk.img");
        std::fs::write(&image, vec![0u8; 64 * 512]).unwrap();
        (image, dir.join("nbd.sock"))
    }

    #[test]
    fn writes_are_volatile_until_flushed_and_a_power_cut_decides_the_rest() {
        let (image, socket) = setup("cut");
        let server = Server::start(&image, &socket).unwrap();
        let mut c = Client::connect(&socket);
        assert_eq!(c.request(CMD_WRITE, 512, &[1; 1024], 0).0, 0);
        assert_eq!(c.request(CMD_READ, 512, &[], 1024), (0, vec![1; 1024]), "reads see the cache");
        assert_eq!(std::fs::read(&image).unwrap()[512..1536], [0; 1024], "the file does not");
        assert_eq!(c.request(CMD_FLUSH, 0, &[], 0).0, 0);
        assert_eq!(std::fs::read(&image).unwrap()[512..1536], [1; 1024], "a flush makes it durable");
        // Unaligned, unflushed, then the power goes: lost, kept or torn.
        assert_eq!(c.request(CMD_WRITE, 4000, &[2; 3000], 0).0, 0);
        assert_eq!(c.request(CMD_READ, 4000, &[], 3000).1, vec![2; 3000]);
        assert_eq!(c.request(CMD_READ, 32 * 1024, &[], 1).0, EINVAL, "past the end");
        assert_eq!(server.writes(), 2);
        drop(c);
        // Fates in turn: lost, kept, torn (at 100 bytes), lost, ...
        let mut fates = 0;
        let cut = server.power_cut(|n| {
            if n != 3 {
                return 100;
            }
            fates += 1;
            (fates - 1) % 3
        });
        let cut = cut.unwrap();
        assert_eq!(cut.kept + cut.lost + cut.torn, 7, "the 3000 bytes spanned 7 sectors");
        assert!(cut.kept > 0 && cut.lost > 0 && cut.torn > 0, "{cut:?}");
        let after = std::fs::read(&image).unwrap();
        assert_eq!(after[512..1536], [1; 1024], "flushed data survives any cut");
        assert!(after[3584..7168].contains(&2) && after[3584..7168].contains(&0));
    }

    #[test]
    fn an_unused_server_stops_and_counts_nothing() {
        let (image, socket) = setup("idle");
        let server = Server::start(&image, &socket).unwrap();
        assert!(server.uri().starts_with("nbd+unix:///?socket="));
        assert_eq!(server.writes(), 0);
        assert_eq!(server.power_cut(|_| 0).unwrap(), PowerCut::default());
        assert!(!socket.exists());
        assert!(Server::start(&image.with_extension("missing"), &socket).is_err());
    }
}
