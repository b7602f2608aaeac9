//! `make bench-raft`: our Raft, raft-rs (tikv's `raft`) and openraft on a
//! three-voter in-memory cluster in one process, each run the way its own
//! benchmarks run it, at 32-byte and 256-byte payloads; prints committed
//! operations per second for each and, as its last line, both ratios for
//! both sizes: `ours_vs_openraft_32=<r> ours_vs_raftrs_32=<r>
//! ours_vs_openraft_256=<r> ours_vs_raftrs_256=<r>`.
//!
//! How each runs:
//! - ours as `tools/raft-bench` always has (`run_ours`): one thread drives
//!   the sans-IO nodes, the leader takes proposals 64 at a time and the
//!   cluster runs until they apply; messages encoded and decoded, entries
//!   copied into an in-memory store; 32 entries and `MAX_WIRE` bytes per
//!   append, 8 appends in flight.
//! - raft-rs the same way, as its own benches drive `RawNode` (a loop of
//!   propose, ready, advance on one thread; it has no cluster benchmark);
//!   `MemStorage`, messages handed over in memory, its byte limit set to 32
//!   of these entries, 8 appends in flight.
//! - openraft as its own cluster benchmark (`cluster_benchmark`,
//!   `bench_cluster_of_3`) does: a multi-threaded tokio runtime of 32
//!   workers, 256 clients each writing in a loop (`client_write` awaited
//!   before the next), default limits (`Config::default()` but for its
//!   election timeouts), an in-memory log and state machine and an
//!   in-process network; timed until the leader has applied every write.
//!
//! Each runs `ROUNDS` times per size, alternating, and its best run counts
//! (the least disturbed by the rest of the machine).

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use worknode_raft_bench::{Workload, run_ours};

const ROUNDS: usize = 3;
/// The payload sizes compared.
const PAYLOADS: [usize; 2] = [32, 256];

fn ops_per_sec(w: Workload, d: Duration) -> f64 {
    w.ops as f64 / d.as_secs_f64()
}

fn main() {
    let mut ratios = Vec::new();
    for payload in PAYLOADS {
        let w = Workload { payload, ..Workload::STANDARD };
        println!("workload: {w:?}, best of {ROUNDS} runs each");
        let (mut ours, mut raftrs, mut openraft) = (Duration::MAX, Duration::MAX, Duration::MAX);
        for _ in 0..ROUNDS {
            ours = ours.min(run_ours(w));
            raftrs = raftrs.min(raft_rs::run(w));
            openraft = openraft.min(open_raft::run(w));
        }
        let (o, r, a) = (ops_per_sec(w, ours), ops_per_sec(w, raftrs), ops_per_sec(w, openraft));
        println!("  worknode-raft: {o:>12.0} ops/s ({:.1} ms)", ours.as_secs_f64() * 1e3);
        println!("  raft-rs:       {r:>12.0} ops/s ({:.1} ms)", raftrs.as_secs_f64() * 1e3);
        println!("  openraft:      {a:>12.0} ops/s ({:.1} ms)", openraft.as_secs_f64() * 1e3);
        ratios.push(format!("ours_vs_openraft_{payload}={:.2} ours_vs_raftrs_{payload}={:.2}", o / a, o / r));
    }
    println!("{}", ratios.join(" "));
}

/// raft-rs 0.7 (tikv), driven like ours: RawNode on MemStorage.
mod raft_rs {
    use super::*;
    use raft::prelude::*;
    use raft::storage::MemStorage;

    /// Protobuf size of one workload entry, to turn "32 entries per
    /// message" into raft-rs's byte limit.
    fn entry_size(w: Workload) -> u64 {
        let e = Entry { term: 2, index: w.ops, data: vec![0; w.payload].into(), ..Default::default() };
        protobuf::Message::compute_size(&e) as u64
    }

    pub fn run(w: Workload) -> Duration {
        let logger = slog::Logger::root(slog::Discard, slog::o!());
        let mut nodes: Vec<RawNode<MemStorage>> = (1..=3u64)
            .map(|id| {
                let cfg = Config {
                    id,
                    election_tick: 10,
                    heartbeat_tick: 1,
                    max_size_per_msg: entry_size(w) * w.entries_per_message as u64,
                    max_inflight_msgs: w.inflight,
                    ..Default::default()
                };
                let storage = MemStorage::new_with_conf_state(ConfState::from((vec![1, 2, 3], vec![])));
                RawNode::new(&cfg, storage, &logger).expect("valid config")
            })
            .collect();
        let mut applied = [0u64; 3];
        let mut queue = Vec::new();
        nodes[0].campaign().expect("campaign");
        for _ in 0..100 {
            pump(&mut nodes, &mut queue, &mut applied);
        }
        assert_eq!(nodes[0].raft.state, raft::StateRole::Leader);
        let payload = vec![0xA5u8; w.payload];
        let start = Instant::now();
        let base = applied[0];
        let mut proposed = 0;
        while proposed < w.ops {
            let n = (w.ops - proposed).min(w.batch as u64);
            for _ in 0..n {
                nodes[0].propose(vec![], payload.clone()).expect("leader accepts");
            }
            proposed += n;
            for _ in 0..1000 {
                if applied[0] - base >= proposed {
                    break;
                }
                pump(&mut nodes, &mut queue, &mut applied);
            }
        }
        start.elapsed()
    }

    fn pump(nodes: &mut [RawNode<MemStorage>], queue: &mut Vec<Message>, applied: &mut [u64; 3]) {
        for (i, node) in nodes.iter_mut().enumerate() {
            while node.has_ready() {
                let mut rd = node.ready();
                queue.extend(rd.take_messages());
                if !rd.snapshot().is_empty() {
                    node.mut_store().wl().apply_snapshot(rd.snapshot().clone()).expect("snapshot");
                }
                applied[i] += count_normal(&rd.take_committed_entries());
                if !rd.entries().is_empty() {
                    node.mut_store().wl().append(rd.entries()).expect("append");
                }
                if let Some(hs) = rd.hs() {
                    node.mut_store().wl().set_hardstate(hs.clone());
                }
                queue.extend(rd.take_persisted_messages());
                let mut light = node.advance(rd);
                if let Some(commit) = light.commit_index() {
                    node.mut_store().wl().mut_hard_state().set_commit(commit);
                }
                queue.extend(light.take_messages());
                applied[i] += count_normal(&light.take_committed_entries());
                node.advance_apply();
                // Compact like ours does, so memory stays bounded alike.
                let done = node.raft.raft_log.applied;
                let first = raft::Storage::first_index(node.store()).expect("first index");
                if done >= first + 512 {
                    node.mut_store().wl().compact(done).expect("compact");
                }
            }
        }
        for m in queue.drain(..) {
            let to = m.to as usize - 1;
            let _ = nodes[to].step(m);
        }
    }

    fn count_normal(entries: &[Entry]) -> u64 {
        entries.iter().filter(|e| !e.data.is_empty()).count() as u64
    }
}

/// openraft 0.9 with a plain in-memory log store and state machine (no
/// serialization; openraft-memstore stores entries as JSON, which would
/// measure serde_json, not openraft) and an in-process network.
mod open_raft {
    use super::*;
    use std::io::Cursor;
    use std::sync::{Arc, Mutex};

    use openraft::error::{InstallSnapshotError, RPCError, RaftError, RemoteError};
    use openraft::network::{RPCOption, RaftNetwork, RaftNetworkFactory};
    use openraft::raft::{
        AppendEntriesRequest, AppendEntriesResponse, InstallSnapshotRequest, InstallSnapshotResponse,
        VoteRequest, VoteResponse,
    };
    use openraft::storage::{LogFlushed, LogState, RaftLogStorage, RaftStateMachine, Snapshot};
    use openraft::{
        Entry, EntryPayload, LogId, RaftLogReader, RaftSnapshotBuilder, SnapshotMeta, StorageError,
        StoredMembership, Vote,
    };

    openraft::declare_raft_types!(
        pub Cfg:
            D = Vec<u8>,
            R = (),
            Node = (),
    );
    type NodeId = u64;
    type Raft = openraft::Raft<Cfg>;

    #[derive(Default)]
    struct LogInner {
        vote: Option<Vote<NodeId>>,
        log: BTreeMap<u64, Entry<Cfg>>,
        purged: Option<LogId<NodeId>>,
        committed: Option<LogId<NodeId>>,
    }

    #[derive(Clone, Default)]
    struct LogStore(Arc<Mutex<LogInner>>);

    impl RaftLogReader<Cfg> for LogStore {
        async fn try_get_log_entries<RB: std::ops::RangeBounds<u64> + Clone + std::fmt::Debug + Send>(
            &mut self,
            range: RB,
        ) -> Result<Vec<Entry<Cfg>>, StorageError<NodeId>> {
            Ok(self.0.lock().unwrap().log.range(range).map(|(_, e)| e.clone()).collect())
        }
    }

    impl RaftLogStorage<Cfg> for LogStore {
        type LogReader = Self;

        async fn get_log_state(&mut self) -> Result<LogState<Cfg>, StorageError<NodeId>> {
            let inner = self.0.lock().unwrap();
            let last = inner.log.values().next_back().map(|e| e.log_id).or(inner.purged);
            Ok(LogState { last_purged_log_id: inner.purged, last_log_id: last })
        }
        async fn get_log_reader(&mut self) -> Self::LogReader {
            self.clone()
        }
        async fn save_vote(&mut self, vote: &Vote<NodeId>) -> Result<(), StorageError<NodeId>> {
            self.0.lock().unwrap().vote = Some(*vote);
            Ok(())
        }
        async fn read_vote(&mut self) -> Result<Option<Vote<NodeId>>, StorageError<NodeId>> {
            Ok(self.0.lock().unwrap().vote)
        }
        async fn save_committed(
            &mut self,
            committed: Option<LogId<NodeId>>,
        ) -> Result<(), StorageError<NodeId>> {
            self.0.lock().unwrap().committed = committed;
            Ok(())
        }
        async fn read_committed(&mut self) -> Result<Option<LogId<NodeId>>, StorageError<NodeId>> {
            Ok(self.0.lock().unwrap().committed)
        }
        async fn append<I>(
            &mut self,
            entries: I,
            callback: LogFlushed<Cfg>,
        ) -> Result<(), StorageError<NodeId>>
        where
            I: IntoIterator<Item = Entry<Cfg>> + Send,
            I::IntoIter: Send,
        {
            let mut inner = self.0.lock().unwrap();
            for e in entries {
                inner.log.insert(e.log_id.index, e);
            }
            callback.log_io_completed(Ok(()));
            Ok(())
        }
        async fn truncate(&mut self, log_id: LogId<NodeId>) -> Result<(), StorageError<NodeId>> {
            let mut inner = self.0.lock().unwrap();
            let _ = inner.log.split_off(&log_id.index);
            Ok(())
        }
        async fn purge(&mut self, log_id: LogId<NodeId>) -> Result<(), StorageError<NodeId>> {
            let mut inner = self.0.lock().unwrap();
            inner.log = inner.log.split_off(&(log_id.index + 1));
            inner.purged = Some(log_id);
            Ok(())
        }
    }

    #[derive(Default)]
    struct SmInner {
        applied: Option<LogId<NodeId>>,
        membership: StoredMembership<NodeId, ()>,
        count: u64,
        snapshot: Option<(SnapshotMeta<NodeId, ()>, Vec<u8>)>,
    }

    #[derive(Clone, Default)]
    struct StateMachine(Arc<Mutex<SmInner>>);

    impl RaftSnapshotBuilder<Cfg> for StateMachine {
        async fn build_snapshot(&mut self) -> Result<Snapshot<Cfg>, StorageError<NodeId>> {
            let mut inner = self.0.lock().unwrap();
            let meta = SnapshotMeta {
                last_log_id: inner.applied,
                last_membership: inner.membership.clone(),
                snapshot_id: format!("{:?}", inner.applied),
            };
            let data = inner.count.to_le_bytes().to_vec();
            inner.snapshot = Some((meta.clone(), data.clone()));
            Ok(Snapshot { meta, snapshot: Box::new(Cursor::new(data)) })
        }
    }

    impl RaftStateMachine<Cfg> for StateMachine {
        type SnapshotBuilder = Self;

        async fn applied_state(
            &mut self,
        ) -> Result<(Option<LogId<NodeId>>, StoredMembership<NodeId, ()>), StorageError<NodeId>> {
            let inner = self.0.lock().unwrap();
            Ok((inner.applied, inner.membership.clone()))
        }
        async fn apply<I>(&mut self, entries: I) -> Result<Vec<()>, StorageError<NodeId>>
        where
            I: IntoIterator<Item = Entry<Cfg>> + Send,
            I::IntoIter: Send,
        {
            let mut inner = self.0.lock().unwrap();
            let mut out = Vec::new();
            for e in entries {
                inner.applied = Some(e.log_id);
                match e.payload {
                    EntryPayload::Normal(_) => inner.count += 1,
                    EntryPayload::Membership(m) => {
                        inner.membership = StoredMembership::new(Some(e.log_id), m)
                    }
                    EntryPayload::Blank => {}
                }
                out.push(());
            }
            Ok(out)
        }
        async fn get_snapshot_builder(&mut self) -> Self::SnapshotBuilder {
            self.clone()
        }
        async fn begin_receiving_snapshot(&mut self) -> Result<Box<Cursor<Vec<u8>>>, StorageError<NodeId>> {
            Ok(Box::new(Cursor::new(Vec::new())))
        }
        async fn install_snapshot(
            &mut self,
            meta: &SnapshotMeta<NodeId, ()>,
            snapshot: Box<Cursor<Vec<u8>>>,
        ) -> Result<(), StorageError<NodeId>> {
            let mut inner = self.0.lock().unwrap();
            let data = snapshot.into_inner();
            inner.count = u64::from_le_bytes(data.get(..8).and_then(|b| b.try_into().ok()).unwrap_or([0; 8]));
            inner.applied = meta.last_log_id;
            inner.membership = meta.last_membership.clone();
            inner.snapshot = Some((meta.clone(), data));
            Ok(())
        }
        async fn get_current_snapshot(&mut self) -> Result<Option<Snapshot<Cfg>>, StorageError<NodeId>> {
            let inner = self.0.lock().unwrap();
            Ok(inner
                .snapshot
                .clone()
                .map(|(meta, data)| Snapshot { meta, snapshot: Box::new(Cursor::new(data)) }))
        }
    }

    /// In-process network: each call goes straight to the target's handle.
    #[derive(Clone, Default)]
    struct Router(Arc<Mutex<BTreeMap<NodeId, Raft>>>);

    struct Connection {
        target: NodeId,
        router: Router,
    }

    impl Router {
        fn get(&self, id: NodeId) -> Raft {
            self.0.lock().unwrap().get(&id).expect("node registered").clone()
        }
    }

    impl RaftNetworkFactory<Cfg> for Router {
        type Network = Connection;
        async fn new_client(&mut self, target: NodeId, _node: &()) -> Connection {
            Connection { target, router: self.clone() }
        }
    }

    impl RaftNetwork<Cfg> for Connection {
        async fn append_entries(
            &mut self,
            rpc: AppendEntriesRequest<Cfg>,
            _option: RPCOption,
        ) -> Result<AppendEntriesResponse<NodeId>, RPCError<NodeId, (), RaftError<NodeId>>> {
            let raft = self.router.get(self.target);
            raft.append_entries(rpc)
                .await
                .map_err(|e| RPCError::RemoteError(RemoteError::new(self.target, e)))
        }
        async fn install_snapshot(
            &mut self,
            rpc: InstallSnapshotRequest<Cfg>,
            _option: RPCOption,
        ) -> Result<
            InstallSnapshotResponse<NodeId>,
            RPCError<NodeId, (), RaftError<NodeId, InstallSnapshotError>>,
        > {
            let raft = self.router.get(self.target);
            raft.install_snapshot(rpc)
                .await
                .map_err(|e| RPCError::RemoteError(RemoteError::new(self.target, e)))
        }
        async fn vote(
            &mut self,
            rpc: VoteRequest<NodeId>,
            _option: RPCOption,
        ) -> Result<VoteResponse<NodeId>, RPCError<NodeId, (), RaftError<NodeId>>> {
            let raft = self.router.get(self.target);
            raft.vote(rpc).await.map_err(|e| RPCError::RemoteError(RemoteError::new(self.target, e)))
        }
    }

    /// Worker threads and clients of openraft's own cluster benchmark.
    const WORKERS: usize = 32;
    const CLIENTS: u64 = 256;

    pub fn run(w: Workload) -> Duration {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(WORKERS)
            .enable_all()
            .build()
            .expect("tokio runtime");
        rt.block_on(async move {
            let config = Arc::new(
                openraft::Config {
                    election_timeout_min: 200,
                    election_timeout_max: 2000,
                    ..Default::default()
                }
                .validate()
                .expect("valid config"),
            );
            let router = Router::default();
            for id in 1..=3 {
                let raft = Raft::new(
                    id,
                    config.clone(),
                    router.clone(),
                    LogStore::default(),
                    StateMachine::default(),
                )
                .await
                .expect("raft starts");
                router.0.lock().unwrap().insert(id, raft);
            }
            let leader = router.get(1);
            leader.initialize(BTreeSet::from([1, 2, 3])).await.expect("initialize");
            leader.wait(None).current_leader(1, "leader").await.expect("node 1 leads");
            let payload = vec![0xA5u8; w.payload];
            let per_client = w.ops.div_ceil(CLIENTS);
            let base = leader.metrics().borrow().last_applied.map_or(0, |l| l.index);
            let start = Instant::now();
            let mut clients = tokio::task::JoinSet::new();
            for _ in 0..CLIENTS {
                let (leader, payload) = (leader.clone(), payload.clone());
                clients.spawn(async move {
                    for _ in 0..per_client {
                        leader.client_write(payload.clone()).await.expect("write commits");
                    }
                });
            }
            let total = base + per_client * CLIENTS;
            leader
                .wait(Some(Duration::from_secs(60)))
                .applied_index_at_least(Some(total), "every write applied")
                .await
                .expect("the cluster applies every write");
            let elapsed = start.elapsed();
            while let Some(done) = clients.join_next().await {
                done.expect("client ran");
            }
            for id in 1..=3 {
                let _ = router.get(id).shutdown().await;
            }
            elapsed
        })
    }
}
