//! A QEMU process whose serial console we read line by line.
//!
//! QEMU runs with the guest's serial port on its standard output. A thread
//! turns that into lines (and copies them to a transcript file); the caller
//! waits for lines with a deadline. Dropping [`Qemu`] kills the process, so
//! no test path can leave a QEMU behind, whether it passes, fails, times out
//! or panics.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use crate::machine::Machine;

/// What waiting for the next line produced.
#[derive(Debug, PartialEq, Eq)]
pub enum Next {
    /// A complete line, without its line ending.
    Line(String),
    /// QEMU closed its output (it exited).
    Closed,
    /// The deadline passed first.
    TimedOut,
}

/// A running QEMU.
pub struct Qemu {
    child: Child,
    /// The guest's serial input.
    input: Option<std::process::ChildStdin>,
    lines: Receiver<String>,
    /// When the process was started.
    pub started: Instant,
    /// Console lines holding one of [`TIMED`], with when they arrived
    /// (since `started`): the host's view of the guest's timing.
    pub timed: Arc<Mutex<Vec<(Duration, String)>>>,
}

/// Markers whose lines [`Qemu::timed`] keeps with their arrival time.
pub const TIMED: &[&str] = &["ticker| "];

impl Qemu {
    /// Starts `machine` headless, with the serial console on a pipe, and
    /// copies every console line to `transcript`.
    pub fn spawn(machine: &Machine, transcript: &Path) -> Result<Qemu, String> {
        let mut log = std::fs::File::create(transcript)
            .map_err(|e| format!("cannot create {}: {e}", transcript.display()))?;
        let mut child = Command::new(&machine.program)
            .args(&machine.args)
            .envs(machine.env.iter().map(|(k, v)| (k, v)))
            .args(["-display", "none", "-monitor", "none", "-serial", "stdio", "-no-reboot"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", machine.program))?;
        let started = Instant::now();
        let input = child.stdin.take();
        let (tx, lines) = mpsc::channel();
        let stdout = child.stdout.take().expect("stdout is piped");
        let stderr = child.stderr.take().expect("stderr is piped");
        let tx_err = tx.clone();
        let timed = Arc::new(Mutex::new(Vec::new()));
        let keep = Arc::clone(&timed);
        thread::spawn(move || {
            for line in read_lines(stdout) {
                let _ = writeln!(log, "{line}");
                if TIMED.iter().any(|m| line.contains(m)) {
                    keep.lock().expect("no panics while held").push((started.elapsed(), line.clone()));
                }
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        thread::spawn(move || {
            for line in read_lines(stderr) {
                if tx_err.send(format!("qemu: {line}")).is_err() {
                    break;
                }
            }
        });
        Ok(Qemu { child, input, lines, started, timed })
    }

    /// Types `line` on the guest's serial console, ending it with CR as a
    /// terminal would.
    pub fn send(&mut self, line: &str) -> Result<(), String> {
        let input = self.input.as_mut().ok_or("the console input is closed")?;
        input
            .write_all(line.as_bytes())
            .and_then(|()| input.write_all(b"\r"))
            .and_then(|()| input.flush())
            .map_err(|e| format!("cannot type on the console: {e}"))
    }

    /// The next console line, or why there is none before `deadline`.
    pub fn next(&mut self, deadline: Instant) -> Next {
        let left = deadline.saturating_duration_since(Instant::now());
        match self.lines.recv_timeout(left) {
            Ok(line) => Next::Line(line),
            Err(RecvTimeoutError::Timeout) => Next::TimedOut,
            Err(RecvTimeoutError::Disconnected) => Next::Closed,
        }
    }
}

impl Drop for Qemu {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Splits a byte stream into lines; bytes that are not UTF-8 are replaced,
/// carriage returns dropped. Guest output is untrusted and need not be text.
fn read_lines(stream: impl Read) -> impl Iterator<Item = String> {
    BufReader::new(stream).split(b'\n').map_while(Result::ok).map(|bytes| {
        let text = String::from_utf8_lossy(&bytes);
        text.trim_end_matches('\r').to_string()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shell(script: &str) -> Machine {
        // `sh -c script` ignores the QEMU console arguments appended after it.
        Machine { program: "sh".into(), args: vec!["-c".into(), script.into()], env: Vec::new() }
    }

    #[test]
    fn lines_arrive_in_order_then_closed() {
        let dir = std::env::temp_dir().join(format!("wq-serial-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let transcript = dir.join("serial.log");
        let mut qemu = Qemu::spawn(&shell("printf 'one\\r\\ntwo\\n\\377three\\n'"), &transcript).unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        assert_eq!(qemu.next(deadline), Next::Line("one".into()));
        assert_eq!(qemu.next(deadline), Next::Line("two".into()));
        assert_eq!(qemu.next(deadline), Next::Line("\u{fffd}three".into()));
        assert_eq!(qemu.next(deadline), Next::Closed);
        drop(qemu);
        assert_eq!(std::fs::read_to_string(&transcript).unwrap(), "one\ntwo\n\u{fffd}three\n");
    }

    #[test]
    fn a_silent_process_times_out_and_is_killed_on_drop() {
        let dir = std::env::temp_dir().join(format!("wq-silent-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut qemu = Qemu::spawn(&shell("sleep 30"), &dir.join("serial.log")).unwrap();
        let pid = qemu.child.id();
        assert_eq!(qemu.next(Instant::now() + Duration::from_millis(200)), Next::TimedOut);
        drop(qemu);
        let alive = Path::new(&format!("/proc/{pid}")).exists()
            && !std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default().contains(") Z");
        assert!(!alive, "the process was killed and reaped");
    }
}
