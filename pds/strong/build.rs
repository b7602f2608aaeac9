//! Generates `system.rs` (channel ids, children) from the rendered system description.
fn main() {
    worknode_sysdesc::build_script("strong.elf");
}
