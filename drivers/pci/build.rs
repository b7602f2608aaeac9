//! Generates `system.rs` (channel ids) from the rendered system description.
fn main() {
    worknode_sysdesc::build_script("pci.elf");
}
