//! A QEMU process whose serial console we read line by line.
//!
//! QEMU runs with the guest's serial port on its standard output. A thread
//! turns that into lines (and copies them, as printed, to a transcript
//! file); the caller waits for lines with a deadline. Dropping [`Qemu`]
//! kills the process, so no test path can leave a QEMU behind, whether it
//! passes, fails, times out or panics.
//!
//! The console's output is the kernel's debug console, which every PD
//! writes a character per system call, so a PD that preempts another in
//! the middle of a line prints its own lines into it:
//! `ticker| sta` `governor| last event seq=786 ...` `rt`. The reader takes
//! such lines apart ([`Reassembler`]) before anyone judges them, with the
//! ways the system's lines start ([`Machine::line_starts`]). Rejected: a
//! console PD that all output goes through (sDDF's serial virtualiser):
//! one more shared region and channel per PD, and the kernel and the
//! monitor would still print around it.

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

/// Lines cut by others' lines and not yet finished, at most; beyond them
/// the oldest is passed on as it is (a line whose rest never came).
const MAX_CUT: usize = 8;

/// Puts back together the lines that other PDs' lines were printed into.
///
/// A PD prints into another's line only by preempting it, and the
/// preempted PD resumes only once the preempting one waits, so the cut
/// lines nest: the rest of the line cut last comes first. Each physical
/// line is split where a known line start occurs inside it; the pieces
/// before the last are lines cut short, the last piece a whole line, and
/// a physical line that does not begin like a line is the rest of the
/// line cut last. A line start found by its characters alone would not
/// do: in `elapsed_usgovernor| `, the `usgovernor` is the ticker's
/// `elapsed_us` cut by the governor.
#[derive(Debug)]
pub struct Reassembler {
    /// How the system's lines start (`<pd>| `, ...).
    starts: Vec<String>,
    /// Lines cut short, the one cut last at the end, each with when its
    /// first piece arrived.
    cut: Vec<(Duration, String)>,
}

impl Reassembler {
    /// A reassembler for lines that start with one of `starts`; with none
    /// it passes physical lines on as they are.
    pub fn new(starts: &[String]) -> Reassembler {
        Reassembler { starts: starts.iter().filter(|s| !s.is_empty()).cloned().collect(), cut: Vec::new() }
    }

    /// The first line start in `text` at or after `from`, as (position,
    /// length); of two at one position, the longer (`virtio-net| `
    /// over `net| `).
    fn next_start(&self, text: &str, from: usize) -> Option<(usize, usize)> {
        let tail = text.get(from..)?;
        self.starts
            .iter()
            .filter_map(|s| tail.find(s.as_str()).map(|at| (from + at, s.len())))
            .min_by_key(|&(at, len)| (at, std::cmp::Reverse(len)))
    }

    /// Takes one physical line that arrived at `at`; returns the whole
    /// lines it finishes, in the order they were finished, each with
    /// when its first piece arrived.
    pub fn push(&mut self, physical: &str, at: Duration) -> Vec<(Duration, String)> {
        let (physical, at) = self.rejoin_start(physical, at);
        let physical = physical.as_str();
        let mut done = Vec::new();
        let lead = self.next_start(physical, 0).filter(|&(pos, _)| pos == 0).map_or(0, |(_, len)| len);
        // The pieces: [0, p1), [p1, p2), ..., [pk, end). Bounded by the
        // line's length: each start found moves past itself.
        let mut bounds = vec![0];
        let mut from = lead;
        while let Some((pos, len)) = self.next_start(physical, from) {
            bounds.push(pos);
            from = pos + len;
        }
        let pieces: Vec<&str> = bounds
            .iter()
            .enumerate()
            .map(|(i, &start)| &physical[start..bounds.get(i + 1).copied().unwrap_or(physical.len())])
            .collect();
        let (first, rest) = pieces.split_first().expect("at least the piece at 0");
        let mut line = match self.cut.pop() {
            Some((when, mut cut)) if lead == 0 => {
                cut.push_str(first);
                (when, cut)
            }
            other => {
                self.cut.extend(other);
                (at, (*first).to_string())
            }
        };
        for piece in rest {
            self.cut_short(line, &mut done);
            line = (at, (*piece).to_string());
        }
        done.push(line);
        debug_assert!(self.cut.len() <= MAX_CUT);
        done
    }

    /// A line cut inside its own start (`tick` `governor| ...` `er| start`)
    /// left the start's head at the end of the line cut last; when
    /// `physical` begins with the start's tail, the head comes off that
    /// line and goes back in front of `physical`, with when it arrived if
    /// it was the whole cut line. Not a misreading of a line whose text
    /// runs on into `physical`: that text would hold a line start in its
    /// middle, which no line of the system does.
    fn rejoin_start(&mut self, physical: &str, at: Duration) -> (String, Duration) {
        let begins = self.next_start(physical, 0).is_some_and(|(pos, _)| pos == 0);
        let Some((when, top)) = self.cut.last_mut().filter(|_| !begins) else {
            return (physical.to_string(), at);
        };
        let head = self
            .starts
            .iter()
            .filter_map(|s| {
                (1..s.len()).rev().find(|&k| {
                    s.is_char_boundary(k) && top.ends_with(&s[..k]) && physical.starts_with(&s[k..])
                })
            })
            .max();
        let Some(k) = head else { return (physical.to_string(), at) };
        let mut joined = top.split_off(top.len() - k);
        joined.push_str(physical);
        let when = *when;
        if top.is_empty() {
            self.cut.pop();
            return (joined, when);
        }
        (joined, at)
    }

    /// Keeps `line` as cut short, passing the oldest on when too many are.
    fn cut_short(&mut self, line: (Duration, String), done: &mut Vec<(Duration, String)>) {
        if self.cut.len() == MAX_CUT {
            done.push(self.cut.remove(0));
        }
        self.cut.push(line);
    }

    /// The lines still cut short when the output ends, oldest first.
    pub fn finish(&mut self) -> Vec<(Duration, String)> {
        std::mem::take(&mut self.cut)
    }
}

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
        let mut reassembler = Reassembler::new(&machine.line_starts);
        thread::spawn(move || {
            let pass_on = |(at, line): (Duration, String)| {
                if TIMED.iter().any(|m| line.starts_with(m)) {
                    keep.lock().expect("no panics while held").push((at, line.clone()));
                }
                tx.send(line).is_ok()
            };
            for physical in read_lines(stdout) {
                let _ = writeln!(log, "{physical}");
                if !reassembler.push(&physical, started.elapsed()).into_iter().all(&pass_on) {
                    return;
                }
            }
            let _ = reassembler.finish().into_iter().all(&pass_on);
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
        Machine {
            program: "sh".into(),
            args: vec!["-c".into(), script.into()],
            env: Vec::new(),
            line_starts: Vec::new(),
        }
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

    fn starts() -> Vec<String> {
        // In priority order, lowest first, for the printing model.
        ["ticker| ", "governor| ", "net| ", "log| ", "nic| ", "blk| ", "principal> ", "MON|"]
            .map(String::from)
            .to_vec()
    }

    /// Feeds `physical` lines, one millisecond apart, and returns the
    /// whole lines with the millisecond their first piece arrived.
    fn reassemble(physical: &[&str]) -> Vec<(u64, String)> {
        let mut r = Reassembler::new(&starts());
        let mut out = Vec::new();
        for (ms, line) in (0..).zip(physical) {
            out.extend(r.push(line, Duration::from_millis(ms)));
        }
        out.extend(r.finish());
        out.into_iter().map(|(at, l)| (at.as_millis() as u64, l)).collect()
    }

    fn texts(lines: &[(u64, String)]) -> Vec<&str> {
        lines.iter().map(|(_, l)| l.as_str()).collect()
    }

    #[test]
    fn whole_lines_pass_as_they_are() {
        let physical = ["Booting all finished", "governor| a", "", "nic| mac 02", "principal> list"];
        assert_eq!(texts(&reassemble(&physical)), physical);
    }

    #[test]
    fn a_line_printed_into_another_is_taken_out() {
        // As seen on x86_64: the ticker cut by the governor, whose line
        // ended the physical line; the ticker's rest came after it.
        let got = reassemble(&[
            "ticker| stagovernor| last event seq=786 from recorder",
            "governor| started worknode0; audit seq=787",
            "rt",
        ]);
        assert_eq!(
            got,
            [
                (0, "governor| last event seq=786 from recorder".to_string()),
                (1, "governor| started worknode0; audit seq=787".to_string()),
                (0, "ticker| start".to_string()),
            ]
        );
        // Cut just before its line ending: the rest is an empty line.
        assert_eq!(texts(&reassemble(&["ticker| startlog| x", ""])), ["log| x", "ticker| start"]);
        // The name cannot be told by its characters: `usgovernor`.
        let got = reassemble(&["ticker| done elapsed_usgovernor| a", "=1000 early=0"]);
        assert_eq!(texts(&got), ["governor| a", "ticker| done elapsed_us=1000 early=0"]);
    }

    #[test]
    fn cuts_nest_and_the_last_cut_resumes_first() {
        // The ticker cut by the governor, the governor by the log.
        let got = reassemble(&["ticker| tigovernor| golog| whole", "vernor", "cker"]);
        assert_eq!(texts(&got), ["log| whole", "governor| governor", "ticker| ticker"]);
        // Twice in one line of the ticker's, by two lines of others'.
        let got = reassemble(&["ticker| a=1governor| x", "2 b=3log| y", "4"]);
        assert_eq!(texts(&got), ["governor| x", "log| y", "ticker| a=12 b=34"]);
        // The monitor's and the echo's lines are lines of their own.
        let got = reassemble(&["ticker| aMON|ERROR: fault", "principal> halt", "b"]);
        assert_eq!(texts(&got), ["MON|ERROR: fault", "principal> halt", "ticker| ab"]);
    }

    #[test]
    fn the_longer_start_wins_and_a_line_start_does_not_cut_itself() {
        let starts = ["net| ", "virtio-net| ", "governor| "].map(String::from);
        let mut r = Reassembler::new(&starts);
        assert_eq!(texts_of(r.push("virtio-net| rx", Duration::ZERO)), ["virtio-net| rx"]);
        assert_eq!(texts_of(r.push("net| node 0", Duration::ZERO)), ["net| node 0"]);
        assert_eq!(texts_of(r.push("governor| avirtio-net| b", Duration::ZERO)), ["virtio-net| b"]);
        assert_eq!(texts_of(r.push("c", Duration::ZERO)), ["governor| ac"]);
    }

    fn texts_of(lines: Vec<(Duration, String)>) -> Vec<String> {
        lines.into_iter().map(|(_, l)| l).collect()
    }

    #[test]
    fn a_line_cut_inside_its_own_start_is_put_back_together() {
        // As seen on x86_64 (a driver's line cut the ticker's in its name).
        let got = reassemble(&["tickgovernor| x", "er| start"]);
        assert_eq!(got, [(0, "governor| x".to_string()), (0, "ticker| start".to_string())]);
        // The governor's start cut too, inside a cut line of the ticker's.
        let got = reassemble(&["ticker| stagolog| x", "verblk| y", "nor| z", "rt"]);
        assert_eq!(texts(&got), ["log| x", "blk| y", "governor| z", "ticker| start"]);
    }

    /// A small deterministic generator for the printing model below.
    struct Rng(u64);
    impl Rng {
        fn below(&mut self, n: u64) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0 % n
        }
    }

    /// Prints a line of PD `pd` a character at a time, as the kernel's
    /// debug console does; before any character (and before the line
    /// ending) a PD of higher priority may preempt it and print lines of
    /// its own, up to `depth` deep.
    fn print(out: &mut String, lines: &mut Vec<String>, rng: &mut Rng, pd: usize, depth: u32) {
        // Texts as the system's lines have them: no line start inside.
        const WORDS: &[&str] =
            &["start", "done", "ticks=100", "elapsed_us=1000", "tick", "gov", "ver", "", " a"];
        let starts = starts();
        let mut line = starts[pd].clone();
        for _ in 0..rng.below(4) {
            line.push_str(WORDS[rng.below(WORDS.len() as u64) as usize]);
        }
        for ch in line.chars().map(Some).chain([None]) {
            // Later in `starts()` is higher priority.
            while depth > 0 && pd + 1 < starts.len() && rng.below(12) == 0 {
                let higher = pd + 1 + rng.below((starts.len() - pd - 1) as u64) as usize;
                print(out, lines, rng, higher, depth - 1);
            }
            out.extend(ch);
        }
        out.push('\n');
        lines.push(line);
    }

    #[test]
    fn lines_printed_into_each_other_by_priority_all_come_out_whole() {
        for seed in 1..2000_u64 {
            let mut rng = Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15));
            let (mut out, mut printed) = (String::new(), Vec::new());
            for _ in 0..6 {
                let pd = rng.below(starts().len() as u64) as usize;
                print(&mut out, &mut printed, &mut rng, pd, 3);
            }
            let physical: Vec<&str> = out.strip_suffix('\n').unwrap().split('\n').collect();
            let mut got: Vec<String> = reassemble(&physical).into_iter().map(|(_, l)| l).collect();
            got.sort();
            printed.sort();
            assert_eq!(got, printed, "seed {seed}: {physical:?}");
        }
    }

    #[test]
    fn cut_lines_are_bounded_and_none_is_lost() {
        let mut physical: Vec<String> = (0..MAX_CUT + 3).map(|i| format!("ticker| {i}")).collect();
        physical.push("governor| end".into());
        let joined = physical.concat();
        let got = reassemble(&[joined.as_str()]);
        assert_eq!(got.len(), MAX_CUT + 4, "every piece comes out once");
        assert_eq!(got[0].1, "ticker| 0", "the oldest cut line is passed on first");
        assert!(got.iter().any(|(_, l)| l == "governor| end"));
        // Without line starts, nothing is taken apart.
        let mut plain = Reassembler::new(&[]);
        assert_eq!(plain.push("ticker| agovernor| b", Duration::ZERO).len(), 1);
        assert!(plain.finish().is_empty());
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
