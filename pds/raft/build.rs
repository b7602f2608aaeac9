//! Generates `system.rs` (channel ids, the network) from the rendered system description.
fn main() {
    worknode_sysdesc::build_script("raft.elf");
}
