//! The principal's console test: after a test-profile boot, type commands
//! at the serial console and check what the governor does.
//!
//! The script: halt the `spinner` worknode (which spins forever and
//! answers nothing), then see the `recorder` record again (the rest keep
//! working); grant a lease and revoke it; `list` shows the spinner halted.
//! Each step waits for its answer line before the next command is typed.

use crate::boot::Verdict;

/// What the session wants next.
#[derive(Debug, PartialEq, Eq)]
pub enum Step {
    /// Type this line.
    Type(String),
    /// Keep reading.
    Wait,
    /// The verdict.
    Done(Verdict),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Stage {
    Spinning,
    Halting,
    RestWorks,
    Granting,
    Revoking,
    Listing,
    Finished,
}

/// See the module documentation.
#[derive(Debug)]
pub struct Session {
    stage: Stage,
    cap: Option<u32>,
    /// Principal controls the governor carried out.
    pub controls: u32,
    /// Worknodes halted.
    pub halted: u32,
}

impl Session {
    /// A session that starts once the spinner says it spins.
    pub fn new() -> Session {
        Session { stage: Stage::Spinning, cap: None, controls: 0, halted: 0 }
    }

    /// Whether a line already seen during boot shows the spinner spinning.
    pub fn boot_line(&mut self, line: &str) {
        if self.stage == Stage::Spinning && line == "spinner| spinning forever" {
            self.stage = Stage::Halting;
        }
    }

    /// The first step once boot passed.
    pub fn start(&self) -> Step {
        match self.stage {
            Stage::Halting => Step::Type("halt spinner".into()),
            _ => Step::Wait,
        }
    }

    /// Judges one console line.
    pub fn feed(&mut self, line: &str) -> Step {
        if line.starts_with("governor| principal: refused")
            || line.starts_with("governor| principal: not done")
        {
            return Step::Done(Verdict::Fail(format!("the governor refused a command: {line}")));
        }
        match self.stage {
            Stage::Spinning if line == "spinner| spinning forever" => {
                self.stage = Stage::Halting;
                Step::Type("halt spinner".into())
            }
            Stage::Halting if line == "governor| principal: halted spinner" => {
                self.controls += 1;
                self.halted += 1;
                self.stage = Stage::RestWorks;
                Step::Wait
            }
            Stage::RestWorks if line.starts_with("governor| recorded recorder seq=") => {
                self.stage = Stage::Granting;
                Step::Type("grant worknode0 send 5-9 60000".into())
            }
            Stage::Granting => match line.strip_prefix("governor| principal: granted cap ").map(str::parse) {
                Some(Ok(cap)) => {
                    self.controls += 1;
                    self.cap = Some(cap);
                    self.stage = Stage::Revoking;
                    Step::Type(format!("revoke {cap}"))
                }
                _ => Step::Wait,
            },
            Stage::Revoking if line == "governor| principal: revoked 1 capabilities" => {
                self.controls += 1;
                self.stage = Stage::Listing;
                Step::Type("list".into())
            }
            Stage::Listing if line.starts_with("governor| spinner #") => {
                if line.ends_with(", Halted") {
                    self.stage = Stage::Finished;
                    Step::Done(Verdict::Pass)
                } else {
                    Step::Done(Verdict::Fail(format!("list does not show the spinner halted: {line}")))
                }
            }
            _ => Step::Wait,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_script_runs_in_order() {
        let mut s = Session::new();
        s.boot_line("spinner| spinning forever");
        assert_eq!(s.start(), Step::Type("halt spinner".into()));
        assert_eq!(s.feed("governor| recorded recorder seq=5"), Step::Wait, "too early: not halted yet");
        assert_eq!(s.feed("governor| principal: halted spinner"), Step::Wait);
        assert_eq!(
            s.feed("governor| recorded recorder seq=9"),
            Step::Type("grant worknode0 send 5-9 60000".into())
        );
        assert_eq!(s.feed("governor| principal: granted cap 12"), Step::Type("revoke 12".into()));
        assert_eq!(s.feed("governor| principal: revoked 1 capabilities"), Step::Type("list".into()));
        assert_eq!(s.feed("governor| worknode0 #0: Ready, Running"), Step::Wait);
        assert_eq!(s.feed("governor| spinner #4: Ready, Halted"), Step::Done(Verdict::Pass));
        assert_eq!((s.controls, s.halted), (3, 1));
    }

    #[test]
    fn a_refusal_or_a_running_spinner_fails() {
        let mut s = Session::new();
        assert_eq!(s.feed("spinner| spinning forever"), Step::Type("halt spinner".into()));
        assert!(matches!(
            s.feed("governor| principal: refused: UnknownWorknode"),
            Step::Done(Verdict::Fail(_))
        ));
        let mut s = Session { stage: Stage::Listing, cap: None, controls: 0, halted: 0 };
        assert!(matches!(s.feed("governor| spinner #4: Ready, Running"), Step::Done(Verdict::Fail(_))));
    }
}
