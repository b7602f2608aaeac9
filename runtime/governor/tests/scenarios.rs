//! The governor core in scripted scenarios: the boot, the principal's
//! controls, a failing, full or refused log, floods. Issue 11's findings
//! that live in the governor each have a test here (named in its doc).
//! Every scenario ends by checking its whole trace
//! (`worknode_governor::sim::check`): no effect before its record.

use worknode_abi::ErrorCode;
use worknode_abi::audit::{Actor, What};
use worknode_abi::frame;
use worknode_abi::governor::{Reply, Request, Response};
use worknode_abi::markers as m;
use worknode_authority::{Actions, Reason, Standing};
use worknode_governor::sim::{Effect, LOG, LogMode, NET, RAFT, SERIAL, SimWorld, check};
use worknode_governor::{ChildSpec, Config, Governor, LogState, LogStatus, Stage};

const SPECS: [ChildSpec; 3] = [
    ChildSpec { name: "worknode0", child_id: 0, channel: 1 },
    ChildSpec { name: "spinner", child_id: 4, channel: 5 },
    ChildSpec { name: "prober", child_id: 5, channel: 6 },
];

fn config() -> Config {
    Config {
        log: Some(LOG),
        serial: Some(SERIAL),
        net: Some(NET),
        raft: None,
        boot: Actions::LOG.with(Actions::RECORD),
        print_records: true,
    }
}

/// A governor of `specs`, started, with its log not yet ready.
fn held(specs: &[ChildSpec], status: Result<LogStatus, ErrorCode>) -> (Governor, SimWorld) {
    let mut g = Governor::new(specs, config()).unwrap();
    let mut w = SimWorld::new(status);
    g.init(&mut w);
    (g, w)
}

/// A governor whose log is ready and whose children have started.
fn started(specs: &[ChildSpec]) -> (Governor, SimWorld) {
    let (mut g, mut w) = held(specs, Ok(LogStatus { recovered: 0, log_id: 1 }));
    g.notified(&mut w, 1 << LOG, 1);
    (g, w)
}

fn call(g: &mut Governor, w: &mut SimWorld, who: &str, request: &Request<'_>, now: u64) -> Response {
    let spec = g.children().iter().find(|c| c.spec.name == who).unwrap().spec;
    let mut buf = [0u8; frame::MAX_FRAME_LEN];
    let len = frame::encode(request, &mut buf).unwrap();
    let response = g.call(w, spec.channel, Ok(&buf[..len]), now);
    let asked = worknode_governor::sim::asked(request);
    w.effects.push(Effect::Reply { channel: spec.channel, asked, response: response.clone() });
    response
}

/// Hello, then Ready.
fn greet(g: &mut Governor, w: &mut SimWorld, who: &str) {
    assert!(matches!(call(g, w, who, &Request::Hello, 2), Ok(Reply::Welcome { .. })));
    assert_eq!(call(g, w, who, &Request::Ready, 3), Ok(Reply::Ack));
}

fn type_line(g: &mut Governor, w: &mut SimWorld, line: &str, now: u64) {
    w.console.push_back(line.into());
    g.notified(w, 1 << SERIAL, now);
}

fn lines_with<'a>(w: &'a SimWorld, needle: &'a str) -> impl Iterator<Item = &'a str> + 'a {
    w.lines().filter(move |l| l.contains(needle))
}

fn record_to(resource: u32) -> Request<'static> {
    Request::RecordTo { resource, event: b"probe".as_slice().try_into().unwrap() }
}

fn end(w: &SimWorld) {
    check(&w.effects, &SPECS).unwrap_or_else(|e| panic!("{e}"));
}

#[test]
fn children_are_held_until_the_log_is_ready_then_each_start_is_recorded() {
    let (mut g, mut w) = held(&SPECS, Ok(LogStatus { recovered: 0, log_id: 9 }));
    assert!(SPECS.iter().all(|s| !w.runs(s.child_id)), "no thread runs before the log is ready");
    assert!(w.effects.iter().all(|e| !matches!(e, Effect::Appended { .. } | Effect::Start(_))));
    g.notified(&mut w, 1 << LOG, 5);
    assert_eq!(g.log_state(), LogState::Ready);
    for spec in SPECS {
        assert!(w.runs(spec.child_id));
        assert_eq!(g.children().get(g.children().by_name(spec.name).unwrap()).unwrap().stage, Stage::Started);
    }
    assert_eq!(lines_with(&w, m::STARTED).count(), 3);
    for spec in SPECS {
        greet(&mut g, &mut w, spec.name);
    }
    let summary: Vec<&str> = lines_with(&w, m::BOOT_COMPLETE).collect();
    assert_eq!(summary, ["governor| boot complete children=3 ready=3 faulted=0 halted=0"]);
    end(&w);
}

/// Issue 11, finding 5: "start" went out only once no child was still
/// undeclared, so one child that never said `Hello` held back all the
/// others, and halting it did not help.
#[test]
fn a_child_that_never_greets_holds_nobody_back_and_halting_it_completes_the_boot() {
    let (mut g, mut w) = started(&SPECS);
    assert!(matches!(call(&mut g, &mut w, "worknode0", &Request::Hello, 2), Ok(Reply::Welcome { .. })));
    assert!(w.effects.contains(&Effect::Notify(1)), "worknode0 is told to start at once");
    assert_eq!(call(&mut g, &mut w, "worknode0", &Request::Ready, 3), Ok(Reply::Ack));
    greet(&mut g, &mut w, "prober");
    assert_eq!(lines_with(&w, m::BOOT_COMPLETE).count(), 0, "the spinner never greeted");
    type_line(&mut g, &mut w, "halt spinner", 4);
    assert!(!w.runs(4));
    let summary: Vec<&str> = lines_with(&w, m::BOOT_COMPLETE).collect();
    assert_eq!(summary, ["governor| boot complete children=3 ready=2 faulted=0 halted=1"]);
    end(&w);
}

/// Issue 11, finding 6: the serial and the log bits in one notification;
/// the log's one "ready" was dropped and the boot hung.
#[test]
fn the_log_and_the_console_in_one_notification_are_both_handled() {
    let (mut g, mut w) = held(&SPECS, Ok(LogStatus { recovered: 0, log_id: 1 }));
    w.console.push_back("list".into());
    g.notified(&mut w, (1 << LOG) | (1 << SERIAL) | (1 << 5), 3);
    assert_eq!(g.log_state(), LogState::Ready);
    assert_eq!(lines_with(&w, m::LOG_READY).count(), 1);
    assert_eq!(
        lines_with(&w, "governor| spinner #1: Started, Running").count(),
        1,
        "the list was printed too"
    );
    end(&w);
}

/// Issue 11, finding 3: a control's change was made before its record was
/// written, so a failed write left the change live behind "not done".
#[test]
fn a_control_whose_record_cannot_be_written_changes_nothing() {
    let (mut g, mut w) = started(&SPECS);
    greet(&mut g, &mut w, "prober");
    let caps = g.gate().authority().caps().len();
    for mode in [LogMode::Failing(ErrorCode::Io), LogMode::Full] {
        w.mode = mode;
        type_line(&mut g, &mut w, "grant prober record 100 60000", 10);
        assert_eq!(g.gate().authority().caps().len(), caps, "{mode:?}: no capability was granted");
        w.mode = LogMode::Healthy;
        assert_eq!(call(&mut g, &mut w, "prober", &record_to(100), 11), Err(ErrorCode::Denied));
    }
    assert_eq!(lines_with(&w, m::NOT_DONE).count(), 2);
    assert_eq!(lines_with(&w, m::LOG_FAILED).count(), 2, "each new log error is said once");
    type_line(&mut g, &mut w, "grant prober record 100 60000", 12);
    assert!(matches!(call(&mut g, &mut w, "prober", &record_to(100), 13), Ok(Reply::Recorded { .. })));
    end(&w);
}

/// Issue 11, finding 2 (the governor's half): with the log full or
/// failing, every control said "not done" and the runaway kept running.
#[test]
fn the_principals_stop_is_never_blocked() {
    let (mut g, mut w) = started(&SPECS);
    greet(&mut g, &mut w, "worknode0");
    greet(&mut g, &mut w, "spinner");
    greet(&mut g, &mut w, "prober");
    // Full: the halt's record goes to the reserve.
    w.mode = LogMode::Full;
    type_line(&mut g, &mut w, "halt spinner", 20);
    assert!(!w.runs(4));
    let halted: Vec<&str> = lines_with(&w, "principal: halted spinner").collect();
    assert_eq!(halted.len(), 1);
    assert!(halted[0].contains(m::AUDIT_SEQ), "{halted:?}");
    // Failing: the stop happens, and the console says its record is missing.
    w.mode = LogMode::Failing(ErrorCode::Io);
    type_line(&mut g, &mut w, "suspend prober", 21);
    assert!(!w.runs(5));
    let suspended: Vec<&str> = lines_with(&w, "principal: suspended prober").collect();
    assert_eq!(suspended, ["governor| principal: suspended prober; audit record missing (io (E9))"]);
    assert_eq!(g.children().get(2).unwrap().standing, Standing::Suspended);
    // Resuming needs its record: refused while the log fails.
    type_line(&mut g, &mut w, "resume prober", 22);
    assert!(!w.runs(5));
    w.mode = LogMode::Healthy;
    type_line(&mut g, &mut w, "resume prober", 23);
    assert!(w.runs(5));
    end(&w);
}

#[test]
fn a_stop_before_the_log_is_ready_is_recorded_first_when_it_is() {
    let (mut g, mut w) = held(&SPECS, Ok(LogStatus { recovered: 0, log_id: 1 }));
    type_line(&mut g, &mut w, "halt spinner", 1);
    assert!(lines_with(&w, "principal: halted spinner; audit pending").next().is_some());
    g.notified(&mut w, 1 << LOG, 2);
    assert!(!w.runs(4), "a child halted before the boot never starts");
    let first = w.audit(1).unwrap();
    assert_eq!((first.actor, first.what), (Actor::Principal(1), What::Control(3)));
    assert_eq!(lines_with(&w, "wrote 1 of 1 stop records").count(), 1);
    end(&w);
}

/// Issue 11, finding 4: requests the roster refused, and notifications,
/// put unaudited, unlimited lines on the console, even after the worknode
/// lost its `log` capability.
#[test]
fn requests_out_of_turn_are_recorded_denials_and_notifications_print_nothing() {
    let (mut g, mut w) = started(&SPECS);
    assert_eq!(
        call(&mut g, &mut w, "prober", &record_to(2), 2),
        Err(ErrorCode::InvalidState),
        "before Hello"
    );
    greet(&mut g, &mut w, "prober");
    for _ in 0..5000 {
        assert_eq!(call(&mut g, &mut w, "prober", &Request::Hello, 3), Err(ErrorCode::InvalidState));
        g.notified(&mut w, 1 << 6, 3);
    }
    let denied: Vec<&str> = lines_with(&w, m::DENIED).collect();
    assert_eq!(denied.len(), 2, "{denied:?}");
    assert!(
        denied[1].starts_with("governor| denied prober: out-of-turn (hello on 2), audit seq="),
        "{denied:?}"
    );
    // Revoke its boot grant: its lines stop, and so does every line it causes.
    let boot_grant = g.gate().authority().caps_of(2).next().unwrap().id;
    type_line(&mut g, &mut w, &format!("revoke {boot_grant}"), 4);
    let before = w.lines().count();
    let line = Request::Log { text: "let me speak".try_into().unwrap() };
    for _ in 0..5000 {
        assert_eq!(call(&mut g, &mut w, "prober", &line, 5), Err(ErrorCode::Revoked));
    }
    let after: Vec<&str> = w.lines().skip(before).collect();
    assert_eq!(after.len(), 1, "one denial line, no worknode line: {after:?}");
    assert!(after[0].starts_with("governor| denied prober: revoked (log on 2)"), "{after:?}");
    type_line(&mut g, &mut w, "list", 6);
    assert_eq!(lines_with(&w, "5000 notifications from it ignored").count(), 1);
    end(&w);
}

/// What `make test-qemu`'s flood session does, on the host: a worknode
/// asking for what it may not have, as fast as it can.
#[test]
fn a_flooding_worknode_costs_one_record_per_thousand_requests_and_is_halted() {
    let (mut g, mut w) = started(&SPECS);
    greet(&mut g, &mut w, "prober");
    let floods = 150_000u32;
    for i in 0..floods {
        assert_eq!(call(&mut g, &mut w, "prober", &record_to(200), u64::from(i)), Err(ErrorCode::Denied));
    }
    type_line(&mut g, &mut w, "halt prober", 200_000);
    assert!(!w.runs(5));
    let denials: Vec<(u32, u64)> = (1..=w.records.len() as u64)
        .filter_map(|seq| w.audit(seq))
        .filter(|r| r.actor == Actor::Worknode("prober".try_into().unwrap()) && !r.allowed())
        .map(|r| (r.repeats, r.at))
        .collect();
    // A record with repeats > 0 counts that many; one with 0 is one.
    let stood_for: u64 = denials.iter().map(|&(repeats, _)| u64::from(repeats).max(1)).sum();
    assert_eq!(stood_for, u64::from(floods), "every refusal is accounted for before the halt");
    assert!(denials.len() <= 2 + floods as usize / 1000, "{} records", denials.len());
    assert_eq!(lines_with(&w, m::DENIED).count(), 1);
    end(&w);
}

/// Issue 11, finding 7 (the governor's half): 62 children did not fit the
/// boot policy (16 standings, 32 tasks), and expired grants filled the
/// table for good. Channel ids are 0..=61, so a governor with a log and a
/// console has room for 60 children; without them, for 62.
#[test]
fn sixty_children_and_endless_short_grants_fit() {
    let names: Vec<&'static str> =
        (0..62).map(|i| &*Box::leak(format!("c{i:02}").into_boxed_str())).collect();
    let sixty_two: Vec<ChildSpec> =
        (0..62).map(|i| ChildSpec { name: names[i], child_id: i, channel: i }).collect();
    let bare = Config { log: None, serial: None, net: None, ..config() };
    assert!(Governor::new(&sixty_two, bare).is_ok(), "62 children fit the tables");
    assert!(
        Governor::new(&sixty_two, config()).is_err(),
        "their channels would be the log's and the console's"
    );
    let specs: Vec<ChildSpec> =
        (0..60).map(|i| ChildSpec { name: names[i], child_id: i, channel: i + 1 }).collect();
    // Sixty children leave no channel for a network PD.
    let mut g = Governor::new(&specs, Config { net: None, ..config() }).unwrap();
    let mut w = SimWorld::new(Ok(LogStatus { recovered: 0, log_id: 1 }));
    g.init(&mut w);
    g.notified(&mut w, 1 << LOG, 1);
    assert!(specs.iter().all(|s| w.runs(s.child_id)));
    for round in 0..500u64 {
        let now = 10 + round * 10;
        type_line(&mut g, &mut w, "grant c59 send 7 5", now);
        assert!(lines_with(&w, m::REFUSED).next().is_none(), "grant {round} refused");
    }
    type_line(&mut g, &mut w, "list", 6000);
    assert!(lines_with(&w, "cap ").any(|l| l.contains("(expired)")), "dead capabilities show in list");
    check(&w.effects, &specs).unwrap_or_else(|e| panic!("{e}"));
}

/// Issue 11, finding 12 (the governor's half): a disk with no usable log
/// left the governor waiting forever, with nothing said.
#[test]
fn a_refused_log_is_said_once_and_the_console_still_works() {
    let (mut g, mut w) = held(&SPECS, Err(ErrorCode::InvalidState));
    g.notified(&mut w, 1 << LOG, 1);
    g.notified(&mut w, 1 << LOG, 2);
    let said: Vec<&str> = lines_with(&w, m::LOG_REFUSED).collect();
    assert_eq!(said.len(), 1);
    assert!(said[0].starts_with("governor| the disk holds no usable log (invalid-state (E3))"), "{said:?}");
    assert!(SPECS.iter().all(|s| !w.runs(s.child_id)), "no worknode starts");
    type_line(&mut g, &mut w, "list", 3);
    assert_eq!(lines_with(&w, "governor| worknode0 #0: Held, Running").count(), 1);
    type_line(&mut g, &mut w, "halt worknode0", 4);
    assert_eq!(
        lines_with(&w, "principal: halted").collect::<Vec<_>>(),
        ["governor| principal: halted worknode0; audit record missing (invalid-state (E3))"]
    );
    type_line(&mut g, &mut w, "grant prober record 100 100", 5);
    assert_eq!(lines_with(&w, m::NOT_DONE).count(), 1);
    end(&w);
}

/// On a node with a network the governor claims the event log for its
/// node before writing anything: another node's log (the claim `denied`)
/// is refused like a foreign disk, nothing is written, no worknode
/// starts; without a network there is nothing to claim.
#[test]
fn another_nodes_log_is_refused_before_anything_is_written() {
    let mut g = Governor::new(&SPECS, config()).unwrap();
    let mut w = SimWorld::new(Ok(LogStatus { recovered: 0, log_id: 1 }));
    w.claim = Err(ErrorCode::Denied);
    g.init(&mut w);
    g.notified(&mut w, 1 << LOG, 1);
    assert_eq!(w.claims, 1);
    let said: Vec<&str> = lines_with(&w, m::LOG_REFUSED).collect();
    assert_eq!(said.len(), 1, "{said:?}");
    assert!(said[0].contains("denied"), "{said:?}");
    assert!(w.records.is_empty(), "nothing written to another node's log");
    assert!(SPECS.iter().all(|s| !w.runs(s.child_id)), "no worknode starts");

    let (_, w) = started(&SPECS);
    assert_eq!(w.claims, 1, "claimed once, before the boot's records");
    assert!(!w.records.is_empty());
    let mut g = Governor::new(&SPECS, Config { net: None, ..config() }).unwrap();
    let mut w = SimWorld::new(Ok(LogStatus { recovered: 0, log_id: 1 }));
    g.init(&mut w);
    g.notified(&mut w, 1 << LOG, 1);
    assert_eq!(w.claims, 0, "no network: no node number to claim for");
    end(&w);
}

#[test]
fn a_fault_is_recorded_and_the_child_stays_down() {
    let (mut g, mut w) = started(&SPECS);
    greet(&mut g, &mut w, "worknode0");
    greet(&mut g, &mut w, "prober");
    assert!(matches!(call(&mut g, &mut w, "spinner", &Request::Hello, 2), Ok(Reply::Welcome { .. })));
    g.fault(&mut w, 4, "vm-fault addr=0x10 ip=0x200", 3);
    assert!(!w.runs(4));
    let line = lines_with(&w, m::CHILD).next().unwrap();
    assert!(
        line.starts_with("governor| child spinner faulted: vm-fault addr=0x10 ip=0x200; audit seq="),
        "{line}"
    );
    assert_eq!(
        lines_with(&w, m::BOOT_COMPLETE).next(),
        Some("governor| boot complete children=3 ready=2 faulted=1 halted=0")
    );
    end(&w);
}

#[test]
fn worknode_lines_are_escaped_and_printed_only_after_their_record() {
    let (mut g, mut w) = started(&SPECS);
    greet(&mut g, &mut w, "worknode0");
    let forged = Request::Log { text: "x\ngovernor| boot complete".try_into().unwrap() };
    assert_eq!(call(&mut g, &mut w, "worknode0", &forged, 4), Ok(Reply::Ack));
    assert!(w.lines().any(|l| l == "worknode0| x\\ngovernor| boot complete"));
    let event = Request::Record { event: b"e".as_slice().try_into().unwrap() };
    let Ok(Reply::Recorded { seq }) = call(&mut g, &mut w, "worknode0", &event, 5) else { panic!() };
    let record = w.audit(seq).unwrap();
    assert_eq!(
        (record.what, record.reason, record.payload.as_slice()),
        (What::Action(1), Reason::Allowed.code(), &b"e"[..])
    );
    end(&w);
}

#[test]
fn undecodable_calls_are_recorded_denials() {
    let (mut g, mut w) = started(&SPECS);
    for bytes in [&[][..], &[2, 0][..], &[1, 9][..]] {
        let response = g.call(&mut w, 1, Ok(bytes), 3);
        assert!(matches!(response, Err(ErrorCode::Malformed | ErrorCode::UnsupportedVersion)));
    }
    assert_eq!(g.call(&mut w, 1, Err(ErrorCode::Malformed), 3), Err(ErrorCode::Malformed));
    assert_eq!(lines_with(&w, "denied worknode0: malformed (a call on 0)").count(), 1);
    assert_eq!(g.call(&mut w, 33, Ok(&[1, 0]), 3), Err(ErrorCode::Denied), "not a child's channel");
    end(&w);
}

#[test]
fn help_and_bad_lines_answer_without_changing_anything() {
    let (mut g, mut w) = started(&SPECS);
    type_line(&mut g, &mut w, "help", 1);
    assert!(lines_with(&w, "grant <worknode> <actions>").next().is_some());
    type_line(&mut g, &mut w, "reboot", 2);
    type_line(&mut g, &mut w, "halt nobody", 3);
    type_line(&mut g, &mut w, "resume worknode0", 4);
    assert!(lines_with(&w, "unknown command (help lists the commands)").next().is_some());
    assert!(lines_with(&w, "refused: no worknode of that name").next().is_some());
    assert!(lines_with(&w, "refused: it is not suspended").next().is_some());
    assert!(
        w.effects.iter().filter(|e| matches!(e, Effect::Appended { .. })).count() == 3,
        "only the starts"
    );
    type_line(&mut g, &mut w, "list", 5);
    assert!(lines_with(&w, "cap 3: record,log on 0, forever (live)").next().is_some(), "actions by name");
    end(&w);
}

fn send(node: u8, worknode: u16, body: &'static [u8]) -> Request<'static> {
    Request::Send { node, worknode, body: body.try_into().unwrap() }
}

fn mail(version: u8, from: u16, to: u16, body: &[u8]) -> Vec<u8> {
    let mail = worknode_abi::governor::Mail { version, from, to, body: body.try_into().unwrap() };
    let mut buf = [0u8; 64];
    mail.encode(&mut buf).unwrap().to_vec()
}

/// Issue 12's ping, the governor's half: a send is the gate's `send` on
/// the node's resource, denied and recorded without a grant, refused
/// with nothing recorded while the node's stream is not open (and the
/// sender told when it opens), and recorded before the mail leaves.
#[test]
fn a_send_to_another_node_is_decided_recorded_then_handed_to_the_network() {
    let (mut g, mut w) = started(&SPECS);
    greet(&mut g, &mut w, "worknode0");
    let ping = send(2, 0, b"ping 1");
    assert_eq!(call(&mut g, &mut w, "worknode0", &ping, 10), Err(ErrorCode::Denied), "no grant yet");
    let denied = lines_with(&w, "denied worknode0: no-capability (send on 65538)").count();
    assert_eq!(denied, 1, "the denial is recorded and said");
    type_line(&mut g, &mut w, "grant worknode0 send 65537-65538 60000", 11);
    let records = w.records.len();
    assert_eq!(call(&mut g, &mut w, "worknode0", &ping, 12), Err(ErrorCode::InvalidState), "no stream yet");
    assert_eq!(w.records.len(), records, "nothing happened, nothing recorded");
    assert!(!w.effects.iter().any(|e| matches!(e, Effect::NetSend { .. })));
    // The stream opens: the network PD's news wakes the sender.
    w.net_open = 1 << 2;
    g.notified(&mut w, 1 << NET, 13);
    assert_eq!(w.effects.last(), Some(&Effect::Notify(1)), "worknode0 is told to try again");
    let Ok(Reply::Sent { seq }) = call(&mut g, &mut w, "worknode0", &ping, 14) else { panic!("sent") };
    let record = w.audit(seq).unwrap();
    assert_eq!((record.what, record.resource), (What::Action(Actions::SEND.0), 65538));
    assert_eq!(&*record.payload, b"ping 1");
    let sent = w.effects.iter().find_map(|e| match e {
        Effect::NetSend { node, mail } => Some((*node, mail.clone())),
        _ => None,
    });
    assert_eq!(sent, Some((2, mail(1, 0, 0, b"ping 1"))));
    // A node the grant does not cover, and this node (not a peer).
    assert_eq!(call(&mut g, &mut w, "worknode0", &send(3, 0, b"x"), 15), Err(ErrorCode::Denied));
    type_line(&mut g, &mut w, "grant worknode0 send 65536 60000", 16);
    assert_eq!(call(&mut g, &mut w, "worknode0", &send(0, 0, b"x"), 17), Err(ErrorCode::NotFound));
    // The network PD refuses after the record: the console says so.
    w.net_refuses = Some(ErrorCode::Exhausted);
    assert_eq!(call(&mut g, &mut w, "worknode0", &ping, 18), Err(ErrorCode::Exhausted));
    assert_eq!(lines_with(&w, "worknode0's send to node 2 (audit seq").count(), 1);
    end(&w);
}

/// Mail that arrives goes to its addressee's mailbox, in order; a full
/// mailbox leaves the rest in the network PD (nothing dropped); bad mail
/// and mail for no ready child is dropped and counted.
#[test]
fn mail_is_placed_in_order_held_while_a_mailbox_is_full_and_bad_mail_dropped() {
    use worknode_governor::limits::MAILBOX;
    let (mut g, mut w) = started(&SPECS);
    greet(&mut g, &mut w, "worknode0");
    greet(&mut g, &mut w, "prober");
    let total = MAILBOX + 3;
    for n in 0..total {
        w.net_inbox.push_back((1, mail(1, 4, 0, &[n as u8])));
    }
    g.notified(&mut w, 1 << NET, 10);
    assert_eq!(g.mail().len(0), MAILBOX);
    assert_eq!(w.net_inbox.len(), total - MAILBOX - 1, "one held, the rest left in the network PD");
    let mut got = Vec::new();
    for _ in 0..total + 1 {
        match call(&mut g, &mut w, "worknode0", &Request::Receive, 11) {
            Ok(Reply::Mail { node: 1, worknode: 4, body }) => got.push(body[0]),
            Ok(Reply::Empty) => break,
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(got, (0..total as u8).collect::<Vec<_>>(), "every message, once, in order");
    // Garbage, another version, an index that is no child, a child not ready.
    for bytes in [vec![0xFF, 0x01], mail(2, 0, 0, b"v2"), mail(1, 0, 40, b"nobody"), mail(1, 0, 1, b"held")] {
        w.net_inbox.push_back((2, bytes));
    }
    g.notified(&mut w, 1 << NET, 12);
    assert_eq!((g.mail().dropped, g.mail().len(0), g.mail().len(1)), (4, 0, 0));
    assert!(w.net_inbox.is_empty());
    // Out of turn: a child not ready may not receive.
    assert!(call(&mut g, &mut w, "spinner", &Request::Receive, 13).is_err());
    end(&w);
}

fn strong(event: &'static [u8]) -> Request<'static> {
    Request::RecordStrong { event: event.try_into().unwrap() }
}

/// A governor of a cluster node: a Raft PD on channel [`RAFT`].
fn cluster_node() -> (Governor, SimWorld) {
    let mut g = Governor::new(&SPECS, Config { raft: Some(RAFT), ..config() }).unwrap();
    let mut w = SimWorld::new(Ok(LogStatus { recovered: 0, log_id: 1 }));
    g.init(&mut w);
    g.notified(&mut w, 1 << LOG, 1);
    (g, w)
}

/// Issue 13's Strong records, the governor's half: decided and audited
/// on this node before the Raft PD sees them, answered `pending`, and the
/// outcome taken once the Raft PD says it committed; a node without Raft
/// refuses them, a denial proposes nothing.
#[test]
fn a_strong_event_is_audited_here_then_proposed_and_its_outcome_taken() {
    let (mut g, mut w) = cluster_node();
    greet(&mut g, &mut w, "worknode0");
    let Ok(Reply::Pending { ticket, seq }) = call(&mut g, &mut w, "worknode0", &strong(b"e1"), 10) else {
        panic!("pending")
    };
    let record = w.audit(seq).unwrap();
    assert_eq!(
        (record.what, record.resource, &*record.payload),
        (What::Action(Actions::RECORD.0), 0, &b"e1"[..])
    );
    let proposal = worknode_abi::strong::Proposal::decode(&w.strong_ring[0].1).unwrap();
    assert_eq!((proposal.worknode, proposal.ticket, &*proposal.event), (0, ticket, &b"e1"[..]));
    // Nothing is known yet: empty, and worknode0 waits for news.
    assert_eq!(call(&mut g, &mut w, "worknode0", &Request::Outcome, 11), Ok(Reply::Empty));
    w.raft_takes(1, false);
    g.notified(&mut w, 1 << RAFT, 12);
    assert_eq!(w.effects.last(), Some(&Effect::Notify(1)), "the waiting worknode hears of the news");
    assert_eq!(
        call(&mut g, &mut w, "worknode0", &Request::Outcome, 13),
        Ok(Reply::Empty),
        "taken, not committed"
    );
    w.raft_commits(42);
    g.notified(&mut w, 1 << RAFT, 14);
    assert_eq!(w.effects.last(), Some(&Effect::Notify(1)), "the outcome's worknode is told");
    assert_eq!(
        call(&mut g, &mut w, "worknode0", &Request::Outcome, 15),
        Ok(Reply::Committed { ticket, index: 42 })
    );
    assert_eq!(call(&mut g, &mut w, "worknode0", &Request::Outcome, 16), Ok(Reply::Empty), "taken once");
    assert_eq!(g.strong().committed, 1);
    // Another worknode's outcome is not this one's to take.
    greet(&mut g, &mut w, "prober");
    let Ok(Reply::Pending { ticket: t1, .. }) = call(&mut g, &mut w, "prober", &strong(b"e2"), 17) else {
        panic!("pending")
    };
    assert_ne!(t1, ticket, "tickets are unique");
    w.raft_takes(2, false);
    w.raft_commits(43);
    g.notified(&mut w, 1 << RAFT, 18);
    assert_eq!(call(&mut g, &mut w, "worknode0", &Request::Outcome, 19), Ok(Reply::Empty));
    assert_eq!(
        call(&mut g, &mut w, "prober", &Request::Outcome, 20),
        Ok(Reply::Committed { ticket: t1, index: 43 })
    );
    // Without a grant on another resource the gate still decides: a
    // worknode out of turn is denied and nothing is proposed.
    let proposals = w.effects.iter().filter(|e| matches!(e, Effect::Propose { .. })).count();
    assert_eq!(call(&mut g, &mut w, "spinner", &strong(b"early"), 21), Err(ErrorCode::InvalidState));
    assert_eq!(w.effects.iter().filter(|e| matches!(e, Effect::Propose { .. })).count(), proposals);
    end(&w);

    // A node in no cluster: not-found, nothing recorded.
    let (mut g, mut w) = started(&SPECS);
    greet(&mut g, &mut w, "worknode0");
    let records = w.records.len();
    assert_eq!(call(&mut g, &mut w, "worknode0", &strong(b"e"), 10), Err(ErrorCode::NotFound));
    assert_eq!(w.records.len(), records);
    end(&w);
}

/// A worknode's read of a Strong event: decided as `read` on its own
/// resource and audited before the Raft PD sees it, queued in order with
/// the proposals, and answered through `Outcome`. A worknode without
/// `read` is denied and nothing is asked; an answer naming an event's
/// ticket, or no ticket, settles nothing and is counted.
#[test]
fn a_read_of_a_strong_event_is_audited_then_asked_and_its_answer_taken() {
    use worknode_abi::governor::StrongRead;
    let boot = Actions::LOG.with(Actions::RECORD).with(Actions::READ);
    let mut g = Governor::new(&SPECS, Config { raft: Some(RAFT), boot, ..config() }).unwrap();
    let mut w = SimWorld::new(Ok(LogStatus { recovered: 0, log_id: 1 }));
    g.init(&mut w);
    g.notified(&mut w, 1 << LOG, 1);
    greet(&mut g, &mut w, "worknode0");
    let Ok(Reply::Pending { ticket: event, .. }) = call(&mut g, &mut w, "worknode0", &strong(b"e1"), 10)
    else {
        panic!("pending")
    };
    let read = Request::ReadStrong { number: 1 };
    let Ok(Reply::Pending { ticket, seq }) = call(&mut g, &mut w, "worknode0", &read, 11) else {
        panic!("pending")
    };
    assert_ne!(ticket, event, "reads and events share the tickets");
    let record = w.audit(seq).unwrap();
    assert_eq!(
        (record.what, record.resource, &*record.payload),
        (What::Action(Actions::READ.0), 0, &1u64.to_le_bytes()[..])
    );
    // Behind the proposal on the ring, marked as a read.
    assert_eq!((w.strong_ring[0].0, w.strong_ring[1].0), (0, worknode_abi::strong::READ));
    let request = worknode_abi::strong::ReadRequest::decode(&w.strong_ring[1].1).unwrap();
    assert_eq!((request.worknode, request.ticket, request.number), (0, ticket, 1));
    w.raft_takes(1, false);
    w.raft_takes(1, false);
    // A stray answer (no such ticket) and one naming the event's ticket:
    // dropped, counted, nothing settled.
    let stray = |ticket| {
        let answer = worknode_abi::strong::ReadAnswer {
            version: 1,
            worknode: 0,
            ticket,
            number: 1,
            count: 1,
            index: 1,
            found: worknode_abi::strong::ReadFound::Gone,
        };
        let mut buf = [0u8; worknode_abi::strong::MAX_READ_ANSWER];
        answer.encode(&mut buf).unwrap().to_vec()
    };
    w.strong_inbox.push_back((worknode_abi::strong::READ_ANSWER, stray(999)));
    w.strong_inbox.push_back((worknode_abi::strong::READ_ANSWER, stray(event)));
    w.strong_inbox.push_back((worknode_abi::strong::READ_ANSWER, vec![1, 0]));
    g.notified(&mut w, 1 << RAFT, 12);
    assert_eq!(g.strong().dropped, 3);
    assert_eq!(call(&mut g, &mut w, "worknode0", &Request::Outcome, 13), Ok(Reply::Empty));
    w.raft_commits(42);
    w.raft_answers(1, 42, Some(b"e1"));
    g.notified(&mut w, 1 << RAFT, 14);
    assert_eq!(
        call(&mut g, &mut w, "worknode0", &Request::Outcome, 15),
        Ok(Reply::Committed { ticket: event, index: 42 })
    );
    let found =
        StrongRead::Event { node: 1, seq: 2, worknode: 3, event: heapless::Vec::from_slice(b"e1").unwrap() };
    assert_eq!(
        call(&mut g, &mut w, "worknode0", &Request::Outcome, 16),
        Ok(Reply::Read { ticket, number: 1, count: 1, index: 42, found })
    );
    assert_eq!((g.strong().committed, g.strong().reads), (1, 1));
    end(&w);

    // Without `read` in its grants: denied, recorded, nothing asked.
    let (mut g, mut w) = cluster_node();
    greet(&mut g, &mut w, "worknode0");
    assert_eq!(call(&mut g, &mut w, "worknode0", &read, 10), Err(ErrorCode::Denied));
    assert!(w.strong_ring.is_empty());
    assert!(!w.effects.iter().any(|e| matches!(e, Effect::ReadAsked { .. })));
    end(&w);
}

/// Back-pressure: a full queue to the Raft PD, or a worknode holding its
/// share of pending events, is `exhausted` with nothing recorded, and the
/// worknode is told when there is room. A refused proposal is matched to
/// its ticket by order; an outcome naming no ticket held is dropped.
#[test]
fn strong_events_wait_for_room_and_refusals_and_strays_are_told_apart() {
    use worknode_governor::limits::STRONG_PER_WORKNODE;
    use worknode_governor::sim::STRONG_RING;
    let (mut g, mut w) = cluster_node();
    greet(&mut g, &mut w, "worknode0");
    let mut tickets = Vec::new();
    for k in 0..STRONG_PER_WORKNODE.min(STRONG_RING) {
        let Ok(Reply::Pending { ticket, .. }) =
            call(&mut g, &mut w, "worknode0", &strong(b"e"), 10 + k as u64)
        else {
            panic!("pending {k}")
        };
        tickets.push(ticket);
    }
    let records = w.records.len();
    assert_eq!(call(&mut g, &mut w, "worknode0", &strong(b"e"), 20), Err(ErrorCode::Exhausted));
    assert_eq!(w.records.len(), records, "a refusal for room records nothing");
    // The first is refused by the Raft PD, the second taken and committed.
    w.raft_takes(1, true);
    w.raft_takes(2, false);
    w.raft_commits(9);
    g.notified(&mut w, 1 << RAFT, 21);
    assert_eq!(w.effects.last(), Some(&Effect::Notify(1)), "the waiting worknode is told");
    assert_eq!(
        call(&mut g, &mut w, "worknode0", &Request::Outcome, 22),
        Ok(Reply::Failed { ticket: tickets[0], error: ErrorCode::Malformed })
    );
    assert_eq!(
        call(&mut g, &mut w, "worknode0", &Request::Outcome, 23),
        Ok(Reply::Committed { ticket: tickets[1], index: 9 })
    );
    assert!(
        matches!(call(&mut g, &mut w, "worknode0", &strong(b"e"), 24), Ok(Reply::Pending { .. })),
        "room again"
    );
    // An outcome for a ticket never proposed, and bytes that do not decode.
    let dropped = g.strong().dropped;
    let stray = worknode_abi::strong::Outcome { version: 1, worknode: 0, ticket: 999, index: 1 };
    let mut buf = [0u8; 32];
    w.strong_inbox.push_back((0, stray.encode(&mut buf).unwrap().to_vec()));
    w.strong_inbox.push_back((0, vec![7, 7]));
    g.notified(&mut w, 1 << RAFT, 25);
    assert_eq!(g.strong().dropped, dropped + 2);
    assert_eq!(g.strong().held(), STRONG_PER_WORKNODE.min(STRONG_RING) - 1, "nothing else changed");
    end(&w);
}

/// Issue 13: every Strong event the cluster commits goes to this node's
/// event log, in the cluster's order, with group commit: appended, then
/// one flush per batch, and the console says how far they are durable
/// only after the flush. Numbers written already are skipped (a restarted
/// Raft PD hands its journal over again); after a restart the governor
/// finds where its copy stands from the log's tail. Undecodable messages
/// are counted; without a usable log the events are counted, not waited
/// for.
#[test]
fn the_clusters_events_are_copied_to_the_log_in_order_once() {
    use worknode_abi::log::ReplicatedRecord;
    let (mut g, mut w) = cluster_node();
    let copies = |w: &SimWorld| -> Vec<u64> {
        w.records.iter().filter_map(|r| ReplicatedRecord::decode(r)).map(|r| r.applied.number).collect()
    };
    for number in 1..=150 {
        w.raft_applies(number, (number % 3) as u8, number, b"ev");
        if number % 10 == 0 {
            g.notified(&mut w, 1 << RAFT, 10 + number);
        }
    }
    assert_eq!(copies(&w), (1..=150).collect::<Vec<_>>());
    assert_eq!(lines_with(&w, "replicated events durable up to number=").count(), 1);
    // A batch is one flush: its records become durable together.
    assert!(w.later.is_empty(), "flushed");
    // Handed over again (a restarted Raft PD), plus new ones: only the new
    // are written; garbage is counted.
    for number in 140..=160 {
        w.raft_applies(number, 0, number, b"ev");
    }
    w.strong_inbox.push_back((worknode_abi::strong::APPLIED, vec![1, 2, 3]));
    g.notified(&mut w, 1 << RAFT, 200);
    assert_eq!(copies(&w), (1..=160).collect::<Vec<_>>());
    assert_eq!((g.replicated().again, g.replicated().undecodable), (11, 1));
    end(&w);

    // The node restarts on this log: the governor finds 160 and skips.
    let records = w.records.clone();
    let mut g2 = Governor::new(&SPECS, Config { raft: Some(RAFT), ..config() }).unwrap();
    let mut w2 = SimWorld::new(Ok(LogStatus { recovered: records.len() as u64, log_id: 1 }));
    w2.records = records;
    g2.init(&mut w2);
    g2.notified(&mut w2, 1 << LOG, 1);
    for number in 100..=205 {
        w2.raft_applies(number, 1, number, b"ev");
    }
    // Each notification takes a bounded batch; the Raft PD notifies again
    // while more wait.
    for now in 2..10 {
        g2.notified(&mut w2, 1 << RAFT, now);
    }
    assert!(w2.strong_inbox.is_empty());
    assert_eq!(copies(&w2), (1..=205).collect::<Vec<_>>(), "each number once, in order");
    let said: Vec<&str> = lines_with(&w2, "durable up to number=").collect();
    assert_eq!(said, ["governor| replicated events durable up to number=205"], "once past 200");
    end(&w2);

    // A log that fails: nothing is said durable, the events are counted.
    let (mut g, mut w) = cluster_node();
    w.mode = LogMode::Failing(ErrorCode::Io);
    w.raft_applies(1, 0, 1, b"ev");
    g.notified(&mut w, 1 << RAFT, 5);
    assert_eq!(g.replicated().unwritten, 1);
    assert!(copies(&w).is_empty());
    end(&w);
}

/// `list` on a cluster node says how Strong events fare: how many
/// committed, and the latency from the queue to the outcome (its 4 ms
/// bucket's bound), and where the copy of the cluster's events stands.
#[test]
fn list_shows_strong_latency_and_the_copy() {
    let (mut g, mut w) = cluster_node();
    greet(&mut g, &mut w, "worknode0");
    for (k, took) in [10u64, 20, 30, 200].into_iter().enumerate() {
        let at = 100 * (k as u64 + 1);
        assert!(matches!(call(&mut g, &mut w, "worknode0", &strong(b"e"), at), Ok(Reply::Pending { .. })));
        w.raft_takes(k as u64 + 1, false);
        w.raft_commits(k as u64 + 7);
        g.notified(&mut w, 1 << RAFT, at + took);
        assert!(matches!(
            call(&mut g, &mut w, "worknode0", &Request::Outcome, at + took),
            Ok(Reply::Committed { .. })
        ));
    }
    w.raft_applies(1, 0, 1, b"ev");
    g.notified(&mut w, 1 << RAFT, 1000);
    type_line(&mut g, &mut w, "list", 1001);
    assert_eq!(
        lines_with(&w, "strong: ").collect::<Vec<_>>(),
        ["governor| strong: committed=4 held=0 dropped=0 latency_p50_ms=24 latency_p99_ms=204"]
    );
    assert_eq!(
        lines_with(&w, "replicated: ").collect::<Vec<_>>(),
        ["governor| replicated: last=1 again=0 undecodable=0 unwritten=0"]
    );
    end(&w);
}
