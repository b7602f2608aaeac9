//! The QEMU command line for an architecture, read from `qemu/<arch>.args`.
//!
//! The files in `qemu/` are the one place that says how each architecture
//! boots; `make run` and the tests both come through here, so an image that
//! passes the tests boots the same way for a user.

use std::path::{Path, PathBuf};

/// The architectures Worknode builds for, with the Debian package that
/// provides each one's QEMU.
pub const ARCHES: &[(&str, &str)] =
    &[("aarch64", "qemu-system-arm"), ("riscv64", "qemu-system-misc"), ("x86_64", "qemu-system-x86")];

/// A QEMU program and its machine arguments (without console options).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Machine {
    /// The QEMU binary, e.g. `qemu-system-aarch64`.
    pub program: String,
    /// Machine arguments with placeholders filled in.
    pub args: Vec<String>,
    /// Environment variables QEMU runs with (besides the runner's own).
    pub env: Vec<(String, String)>,
    /// How the system's console lines start (`<pd>| ` for each PD, ...),
    /// for taking apart lines printed into each other
    /// ([`crate::serial::Reassembler`]); empty: lines are taken as they
    /// come.
    pub line_starts: Vec<String>,
}

/// What the placeholders in an `.args` file stand for.
pub struct Inputs<'a> {
    /// `{image}`: the Microkit system image.
    pub image: &'a Path,
    /// `{kernel}`: the seL4 kernel ELF of the SDK's board/config.
    pub kernel: &'a Path,
    /// `{disk}`: the node's disk as QEMU's `-drive file=` takes it (a raw
    /// image's path, or the runner's NBD server), for machines that attach
    /// one.
    pub disk: Option<&'a str>,
    /// `{netdev}` and `{mac}`: the node's NIC on the runner's switch
    /// (`-netdev` options, and the MAC address). Without one, every line
    /// that names either is left out: the node has no NIC.
    pub nic: Option<(&'a str, &'a str)>,
    /// `{iso}`: a bootable ISO holding the kernel and the image (`make
    /// iso`). With one, the lines naming `{kernel}` or `{image}` are left
    /// out (the firmware boots the ISO's boot loader instead); without
    /// one, the lines naming `{iso}` are.
    pub iso: Option<&'a Path>,
}

impl Machine {
    /// Loads `<dir>/<arch>.args`.
    pub fn load(dir: &Path, arch: &str, inputs: &Inputs) -> Result<Machine, String> {
        if !ARCHES.iter().any(|(known, _)| *known == arch) {
            let known: Vec<&str> = ARCHES.iter().map(|(a, _)| *a).collect();
            return Err(format!("unknown architecture '{arch}' (known: {})", known.join(", ")));
        }
        let path: PathBuf = dir.join(format!("{arch}.args"));
        let text =
            std::fs::read_to_string(&path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        Machine::parse(&text, inputs).map_err(|e| format!("{}: {e}", path.display()))
    }

    /// Parses the text of an `.args` file.
    pub fn parse(text: &str, inputs: &Inputs) -> Result<Machine, String> {
        let mut words = Vec::new();
        for line in text.lines() {
            let line = line.split('#').next().unwrap_or("");
            if inputs.nic.is_none() && (line.contains("{netdev}") || line.contains("{mac}")) {
                continue;
            }
            let direct = line.contains("{kernel}") || line.contains("{image}");
            if (inputs.iso.is_some() && direct) || (inputs.iso.is_none() && line.contains("{iso}")) {
                continue;
            }
            for word in line.split_whitespace() {
                words.push(substitute(word, inputs)?);
            }
        }
        let mut words = words.into_iter();
        let program = words.next().ok_or("no QEMU program named")?;
        Ok(Machine { program, args: words.collect(), env: Vec::new(), line_starts: Vec::new() })
    }

    /// The Debian package that provides this machine's QEMU, for error
    /// messages.
    pub fn package(arch: &str) -> &'static str {
        ARCHES.iter().find(|(a, _)| *a == arch).map_or("qemu-system", |(_, p)| p)
    }
}

fn substitute(word: &str, inputs: &Inputs) -> Result<String, String> {
    let mut out = String::new();
    let mut rest = word;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let close = rest[open..].find('}').ok_or_else(|| format!("unclosed '{{' in '{word}'"))? + open;
        let value = match &rest[open + 1..close] {
            "image" => inputs.image.display().to_string(),
            "kernel" => inputs.kernel.display().to_string(),
            "disk" => inputs.disk.ok_or("this machine attaches a disk: pass --disk")?.to_string(),
            "netdev" => inputs.nic.ok_or("this line needs a NIC")?.0.to_string(),
            "mac" => inputs.nic.ok_or("this line needs a NIC")?.1.to_string(),
            "iso" => inputs.iso.ok_or("this line needs an ISO")?.display().to_string(),
            other => return Err(format!("unknown placeholder '{{{other}}}'")),
        };
        out.push_str(&value);
        rest = &rest[close + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inputs() -> Inputs<'static> {
        Inputs {
            image: Path::new("/b/w.img"),
            kernel: Path::new("/sdk/sel4_32.elf"),
            disk: None,
            nic: None,
            iso: None,
        }
    }

    #[test]
    fn parses_words_comments_and_placeholders() {
        let text = "# comment\nqemu-system-x86_64\n-m 1G  # trailing\n-kernel {kernel}\n-device loader,file={image},addr=0x7\n";
        let machine = Machine::parse(text, &inputs()).unwrap();
        assert_eq!(machine.program, "qemu-system-x86_64");
        assert_eq!(
            machine.args,
            ["-m", "1G", "-kernel", "/sdk/sel4_32.elf", "-device", "loader,file=/b/w.img,addr=0x7"]
        );
    }

    #[test]
    fn bad_files_are_errors() {
        assert!(Machine::parse("# nothing\n", &inputs()).unwrap_err().contains("no QEMU program"));
        assert!(
            Machine::parse("q -x {disc}", &inputs()).unwrap_err().contains("unknown placeholder '{disc}'")
        );
        assert!(Machine::parse("q -x {disk}", &inputs()).unwrap_err().contains("pass --disk"));
        assert!(Machine::parse("q -x {image", &inputs()).unwrap_err().contains("unclosed"));
    }

    #[test]
    fn the_shipped_files_parse() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../qemu");
        for (arch, _) in ARCHES {
            let with_disk = Inputs { disk: Some("/b/disk.img"), ..inputs() };
            let machine = Machine::load(&dir, arch, &with_disk).unwrap();
            assert_eq!(machine.program, format!("qemu-system-{arch}"));
            assert!(machine.args.iter().any(|a| a.contains("/b/w.img")), "{arch} boots the image");
        }
        assert!(Machine::load(&dir, "mips", &inputs()).unwrap_err().contains("unknown architecture"));
        for (arch, _) in ARCHES {
            let bare = Machine::load(&dir, arch, &Inputs { disk: Some("/d"), ..inputs() }).unwrap();
            assert!(!bare.args.iter().any(|a| a.contains("virtio-net")), "{arch}: no NIC without a switch");
            let nic =
                Inputs { disk: Some("/d"), nic: Some(("dgram,id=nic0", "02:57:4e:00:00:01")), ..inputs() };
            let wired = Machine::load(&dir, arch, &nic).unwrap();
            assert!(wired.args.iter().any(|a| a.contains("mac=02:57:4e:00:00:01")), "{arch}: the node's MAC");
            assert!(wired.args.iter().any(|a| a == "dgram,id=nic0"), "{arch}: the switch's netdev");
        }
    }

    /// x86_64 boots either the kernel and image directly or an ISO, never
    /// both: the ISO's lines replace the direct ones.
    #[test]
    fn an_iso_replaces_the_direct_boot() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../qemu");
        let iso = Path::new("/b/w.iso");
        let with_iso = Inputs { disk: Some("/d"), iso: Some(iso), ..inputs() };
        let machine = Machine::load(&dir, "x86_64", &with_iso).unwrap();
        assert!(machine.args.iter().any(|a| a == "/b/w.iso"), "boots the ISO");
        assert!(!machine.args.iter().any(|a| a == "-kernel" || a == "-initrd"), "and nothing else");
        let direct = Machine::load(&dir, "x86_64", &Inputs { disk: Some("/d"), ..inputs() }).unwrap();
        assert!(!direct.args.iter().any(|a| a == "-cdrom"), "no ISO unless asked");
    }
}
