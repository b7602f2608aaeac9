//! `worknode disk join <image> --cluster NAME --node K`: prepare a node's
//! new disk to join an existing cluster.
//!
//! A node that finds its Raft part blank formats it and founds the
//! cluster with the other founders (a new cluster's first boot). A node
//! whose disk was replaced must not: it may have voted in the current term
//! before it lost its disk. So the principal says which it is, as etcd's
//! `initial-cluster-state=existing` does: this command formats the disk's
//! Raft part (`worknode_abi::disk::Layout`) as an empty log owned by node
//! K of the cluster and flagged [`FLAG_JOIN`]; the node then starts with no
//! membership, votes in no election and waits for the leader's snapshot
//! (docs/cluster.md). The event log's part is left as it is (blank on a
//! new disk: the log PD formats it at boot).
//!
//! It refuses an image whose Raft part already holds anything: joining is
//! for a new disk, and a disk that holds a Raft log is recovered, never
//! overwritten by a tool.

use std::path::Path;

use worknode_abi::disk::{Layout, SECTOR};
use worknode_log::format::{FLAG_JOIN, Owner};
use worknode_log::{BlockDevice, Log, LogError};

use crate::log_cmd::{Disk, ImageFile, PartName};

/// `worknode disk join`.
pub fn join(image: &Path, cluster: &str, node: u16) -> Result<(), String> {
    let shown = image.display();
    if node == Owner::ANY_NODE {
        return Err(format!("node {node} is not a node number"));
    }
    if !image.exists() {
        return Err(format!("{shown} does not exist (create it first, e.g. truncate -s 64M {shown})"));
    }
    let mut dev = ImageFile::open_writable(&Disk { path: image, part: PartName::Raft })?;
    let len = std::fs::metadata(image).map_err(|e| format!("cannot stat {shown}: {e}"))?.len();
    let part = Layout::of(len / SECTOR).raft_part();
    let owner = Owner { cluster: worknode_sysdesc::model::cluster_id(cluster), node };
    // The identity: the owner and the moment (a new disk has no earlier
    // log to mix in).
    let now =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64);
    let log_id = worknode_log::derive_log_id(&mut dev, owner, now).map_err(|e| format!("{shown}: {e:?}"))?;
    match worknode_log::read_superblock(&mut dev) {
        Err(LogError::Unformatted) => {}
        Ok(_) => {
            return Err(format!(
                "{shown}: its Raft part already holds a Raft log; a joining disk must be new"
            ));
        }
        Err(e) => {
            return Err(format!("{shown}: its Raft part is not blank ({e:?}); a joining disk must be new"));
        }
    }
    let log = Log::<_, { worknode_cluster::limits::BATCH }>::format_over_with(dev, log_id, owner, FLAG_JOIN)
        .map_err(|e| format!("{shown}: cannot format its Raft part: {e:?}"))?;
    log.into_device().flush().map_err(|e| format!("{shown}: {e:?}"))?;
    println!(
        "{shown}: Raft part (sectors {}..{}) prepared for node {node} of cluster {cluster} ({:016x}) to join; log_id {log_id:016x}",
        part.start,
        part.start + part.sectors,
        owner.cluster
    );
    Ok(())
}
