//! The node's persistent disk image: created once, then kept across boots
//! (that is the point: the event log lives on it).

use std::path::Path;
use std::process::Command;

/// Size of a new disk image.
pub const NEW_DISK_SIZE: &str = "64M";

/// Creates `path` as a raw image of zeros with qemu-img if it is absent.
pub fn ensure(path: &Path) -> Result<(), String> {
    if path.exists() {
        return Ok(());
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    }
    let status = Command::new("qemu-img")
        .args(["create", "-q", "-f", "raw"])
        .arg(path)
        .arg(NEW_DISK_SIZE)
        .status()
        .map_err(|e| format!("cannot run qemu-img (apt-get install qemu-utils): {e}"))?;
    if !status.success() {
        return Err(format!("qemu-img could not create {}", path.display()));
    }
    println!("created disk image {} ({NEW_DISK_SIZE})", path.display());
    Ok(())
}
