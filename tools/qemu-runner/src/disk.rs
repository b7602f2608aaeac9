//! The node's persistent disk image: created once, then kept across boots
//! (that is the point: the event log lives on it).
//!
//! A raw disk image is nothing but its bytes, so a new one is a sparse file
//! of the right size: no `qemu-img` needed. (Rejected: `qemu-img create`,
//! which a Debian machine loses when installing QEMU 7.2 removes its newer
//! qemu-utils from backports.)

use std::path::Path;

/// Size of a new disk image in bytes (64 MiB).
pub const NEW_DISK_BYTES: u64 = 64 << 20;

/// Creates `path` as a raw image of `bytes` zeros (a sparse file) if it is
/// absent; an existing image is kept as it is.
pub fn ensure(path: &Path, bytes: u64) -> Result<(), String> {
    if path.exists() {
        return Ok(());
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    }
    let file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .map_err(|e| format!("cannot create {}: {e}", path.display()))?;
    file.set_len(bytes).map_err(|e| format!("cannot size {}: {e}", path.display()))?;
    println!("created disk image {} ({} KiB)", path.display(), bytes >> 10);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_disk_is_zeros_of_the_size_and_an_old_one_is_kept() {
        let dir = std::env::temp_dir().join(format!("wq-disk-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let path = dir.join("sub/disk.img");
        ensure(&path, 1 << 20).unwrap();
        let bytes = std::fs::read(&path).unwrap();
        assert_eq!(bytes.len(), 1 << 20);
        assert!(bytes.iter().all(|&b| b == 0));
        std::fs::write(&path, b"kept").unwrap();
        ensure(&path, 1 << 20).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"kept");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
