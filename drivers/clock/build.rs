//! Selects the clock source for the board being built (`cfg(clock)`).
fn main() {
    worknode_sysdesc::board_cfg();
}
