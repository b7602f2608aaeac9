//! Generates `system.rs` (channel ids) from the rendered system description;
//! `build_script` also sets the board cfgs (`cfg(virtio)`).
fn main() {
    worknode_sysdesc::build_script("virtio-net.elf");
}
