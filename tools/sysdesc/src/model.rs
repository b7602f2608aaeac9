//! The parts of a Microkit system description Worknode reasons about.
//!
//! This is not a full SDF parser: the Microkit tool remains the authority on
//! what is valid. We read the protection domains (with their nesting), their
//! priorities and program images, and the channels, because those carry the
//! security-relevant structure: who may call or notify whom.

use crate::Error;

/// One protection domain.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pd {
    /// Unique name.
    pub name: String,
    /// Scheduling priority, 0..=254.
    pub priority: u8,
    /// The `program_image` path.
    pub program: String,
    /// Index (into [`System::pds`]) of the parent PD, if nested.
    pub parent: Option<usize>,
    /// The Microkit child id, if nested.
    pub child_id: Option<usize>,
    /// Line of the element, for error messages.
    pub line: u32,
    /// The memory regions it maps (`<map mr=...>`).
    pub maps: Vec<Map>,
    /// What it holds besides memory and channels that reaches hardware or
    /// other address spaces: `<irq>`, `<ioport>`, `<virtual_machine>`, and
    /// `<setvar region_paddr=...>` (a region's physical address), each
    /// with its line.
    pub devices: Vec<(Device, u32)>,
}

/// A `<map>`: a memory region in a PD's address space.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Map {
    /// The region's name.
    pub mr: String,
    /// Where it is mapped in the PD.
    pub vaddr: usize,
    /// Line of the element.
    pub line: u32,
    /// Whether `perms` includes `w` (Microkit's default, `rw`, does).
    pub writable: bool,
}

/// A capability to hardware, or to a region's physical memory, that a PD's
/// description gives it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Device {
    /// `<irq>`: an interrupt.
    Irq,
    /// `<ioport>`: x86 I/O ports.
    IoPort,
    /// `<virtual_machine>`: a guest it runs.
    VirtualMachine,
    /// `<setvar region_paddr="...">`: the physical address of a region
    /// (for DMA).
    RegionPaddr(String),
}

/// A memory region.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Region {
    /// Its name.
    pub name: String,
    /// Its fixed physical address, if the description gives one (device
    /// registers, or memory a device reaches by DMA).
    pub phys_addr: Option<usize>,
    /// Its size in bytes.
    pub size: usize,
    /// Line of the element.
    pub line: u32,
}

/// One end of a channel.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct End {
    /// Index into [`System::pds`].
    pub pd: usize,
    /// The channel id in that PD.
    pub id: usize,
    /// This end may make protected procedure calls to the other end.
    pub pp: bool,
    /// This end may notify the other end.
    pub notify: bool,
}

/// A channel between two PDs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Channel {
    /// The two ends, in file order.
    pub ends: [End; 2],
    /// Line of the element, for error messages.
    pub line: u32,
}

/// A parsed system description.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct System {
    /// Every PD, parents before their children, in file order otherwise.
    pub pds: Vec<Pd>,
    /// Every channel, in file order.
    pub channels: Vec<Channel>,
    /// Every memory region, in file order.
    pub regions: Vec<Region>,
    /// The nodes' network, from `<?worknode-network ...?>`, if declared.
    pub network: Option<Network>,
}

/// The network every node of a cluster shares, declared once in
/// system.xml as a processing instruction (which the Microkit tool
/// ignores, so it survives rendering unchanged):
///
/// `<?worknode-network cluster="dev" subnet="10.0.0.0/24" port="7100" nodes="8" mac_prefix="02:57:4e:00:00"?>`
///
/// Node `k` (0-based) has MAC `mac_prefix:k` and IPv4 address
/// `subnet + 1 + k`: the node number picks both, and no per-node file
/// exists. `cluster` names the cluster; its identity
/// ([`Network::cluster_id`]) goes in every stream's Hello, and a node
/// refuses streams from another cluster. Rejected alternative: a Worknode element that rendering
/// removes, which the PDs' build scripts, reading the rendered file,
/// would then not see.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Network {
    /// The subnet's base address.
    pub subnet: [u8; 4],
    /// Its prefix length.
    pub prefix_len: u8,
    /// The TCP port of the message streams between nodes.
    pub port: u16,
    /// Most nodes a cluster may have.
    pub nodes: u8,
    /// The first five bytes of every node's MAC address.
    pub mac_prefix: [u8; 5],
    /// The cluster's name: 1 to 32 of `a-z`, `0-9`, `-`.
    pub cluster: String,
}

/// The processing instruction's target.
pub const NETWORK_PI: &str = "worknode-network";

/// The identity of the cluster named `name`: the first 8 bytes, little
/// endian, of BLAKE3("worknode-cluster v1\0" ‖ name) ([`Network::cluster_id`]).
pub fn cluster_id(name: &str) -> u64 {
    let mut hasher = blake3::Hasher::new();
    hasher.update(b"worknode-cluster v1\0");
    hasher.update(name.as_bytes());
    let hash = hasher.finalize();
    let mut id = [0u8; 8];
    id.copy_from_slice(&hash.as_bytes()[..8]);
    u64::from_le_bytes(id)
}

impl Network {
    /// Parses the instruction's text, `key="value"` pairs.
    pub fn parse(text: &str) -> Result<Network, String> {
        let mut pairs = std::collections::BTreeMap::new();
        for pair in text.split_whitespace() {
            let (key, value) =
                pair.split_once('=').ok_or_else(|| format!("'{pair}' is not key=\"value\""))?;
            let value = value
                .strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .ok_or_else(|| format!("{key}: quote the value"))?;
            pairs.insert(key, value);
        }
        let get =
            |key: &str| pairs.get(key).copied().ok_or_else(|| format!("{NETWORK_PI} needs {key}=\"...\""));
        let (base, len) = get("subnet")?.split_once('/').ok_or("subnet: write it as a.b.c.d/len")?;
        let subnet: std::net::Ipv4Addr = base.parse().map_err(|e| format!("subnet: {e}"))?;
        let prefix_len: u8 = len.parse().map_err(|e| format!("subnet prefix: {e}"))?;
        let nodes: u8 = get("nodes")?.parse().map_err(|e| format!("nodes: {e}"))?;
        let port: u16 = get("port")?.parse().map_err(|e| format!("port: {e}"))?;
        let mac: Vec<u8> = get("mac_prefix")?
            .split(':')
            .map(|b| u8::from_str_radix(b, 16))
            .collect::<Result<_, _>>()
            .map_err(|e| format!("mac_prefix: {e}"))?;
        let mac_prefix: [u8; 5] =
            mac.try_into().map_err(|_| "mac_prefix: five bytes, like 02:57:4e:00:00")?;
        let hosts = 1u64 << (32 - u32::from(prefix_len.min(32)));
        if !(8..=30).contains(&prefix_len) || u64::from(nodes) + 2 > hosts || nodes == 0 {
            return Err(format!(
                "subnet /{prefix_len} cannot hold {nodes} nodes (prefix 8..=30, nodes >= 1)"
            ));
        }
        if u32::from(subnet) & ((1u32 << (32 - prefix_len)) - 1) != 0 {
            return Err(format!("subnet {subnet}/{prefix_len} has host bits set"));
        }
        if mac_prefix[0] & 1 != 0 {
            return Err("mac_prefix: a multicast MAC (first byte odd)".into());
        }
        if port == 0 {
            return Err("port 0".into());
        }
        let cluster = get("cluster")?;
        let name_ok = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-';
        if !(1..=32).contains(&cluster.len()) || !cluster.chars().all(name_ok) {
            return Err(format!("cluster: '{cluster}' is not 1 to 32 of a-z, 0-9 and -"));
        }
        Ok(Network { subnet: subnet.octets(), prefix_len, port, nodes, mac_prefix, cluster: cluster.into() })
    }

    /// The cluster's identity: the first 8 bytes (little-endian) of
    /// BLAKE3("worknode-cluster v1\0" ‖ name). A hash, so that a name
    /// is all an operator chooses and distinct names give distinct
    /// identities.
    pub fn cluster_id(&self) -> u64 {
        cluster_id(&self.cluster)
    }

    /// Node `k`'s IPv4 address.
    pub fn address(&self, k: u8) -> [u8; 4] {
        (u32::from_be_bytes(self.subnet) + 1 + u32::from(k)).to_be_bytes()
    }

    /// Node `k`'s MAC address.
    pub fn mac(&self, k: u8) -> [u8; 6] {
        let p = self.mac_prefix;
        [p[0], p[1], p[2], p[3], p[4], k]
    }
}

impl System {
    /// Parses a rendered (plain Microkit) system description.
    pub fn parse(text: &str) -> Result<System, Error> {
        let doc =
            roxmltree::Document::parse(text).map_err(|e| Error::new(format!("not well-formed XML: {e}")))?;
        let root = doc.root_element();
        if root.tag_name().name() != "system" {
            return Err(Error::new("the root element must be <system>"));
        }
        let mut system = System::default();
        for node in root.children().filter(|n| n.is_element()) {
            match node.tag_name().name() {
                "protection_domain" => system.parse_pd(&doc, node, None)?,
                "memory_region" => {
                    let name = required(&doc, node, "name")?.to_string();
                    let phys_addr = match node.attribute("phys_addr") {
                        Some(text) => Some(parse_number(&doc, node, "phys_addr", text)?),
                        None => None,
                    };
                    let size = parse_number(&doc, node, "size", required(&doc, node, "size")?)?;
                    system.regions.push(Region { name, phys_addr, size, line: line_of(&doc, node) });
                }
                "channel" => {} // after all PDs are known
                _ => {}
            }
        }
        for node in root.children().filter(|n| n.has_tag_name("channel")) {
            let channel = system.parse_channel(&doc, node)?;
            system.channels.push(channel);
        }
        for node in root.children() {
            if let Some(pi) = node.pi().filter(|pi| pi.target == NETWORK_PI) {
                if system.network.is_some() {
                    return Err(Error::at(line_of(&doc, node), format!("a second <?{NETWORK_PI}?>")));
                }
                let network =
                    Network::parse(pi.value.unwrap_or("")).map_err(|e| Error::at(line_of(&doc, node), e))?;
                system.network = Some(network);
            }
        }
        Ok(system)
    }

    /// The region called `name`.
    pub fn region(&self, name: &str) -> Option<&Region> {
        self.regions.iter().find(|r| r.name == name)
    }

    /// The index of the PD with this name.
    pub fn pd_index(&self, name: &str) -> Option<usize> {
        self.pds.iter().position(|pd| pd.name == name)
    }

    /// Indices of the PDs nested directly in `parent`.
    pub fn children_of(&self, parent: usize) -> impl Iterator<Item = usize> + '_ {
        (0..self.pds.len()).filter(move |&i| self.pds[i].parent == Some(parent))
    }

    /// Whether `pd` is nested, at any depth, inside `ancestor`.
    pub fn is_descendant(&self, pd: usize, ancestor: usize) -> bool {
        // Bounded by the number of PDs: nesting cannot be deeper than that.
        let mut current = self.pds[pd].parent;
        for _ in 0..self.pds.len() {
            match current {
                Some(p) if p == ancestor => return true,
                Some(p) => current = self.pds[p].parent,
                None => return false,
            }
        }
        false
    }

    /// The channels with an end in `pd`, with that end first.
    pub fn channels_of(&self, pd: usize) -> impl Iterator<Item = (&End, &End)> + '_ {
        self.channels.iter().filter_map(move |c| {
            let [a, b] = &c.ends;
            if a.pd == pd {
                Some((a, b))
            } else if b.pd == pd {
                Some((b, a))
            } else {
                None
            }
        })
    }

    fn parse_pd(
        &mut self,
        doc: &roxmltree::Document,
        node: roxmltree::Node,
        parent: Option<usize>,
    ) -> Result<(), Error> {
        let line = line_of(doc, node);
        let name = required(doc, node, "name")?.to_string();
        if self.pd_index(&name).is_some() {
            return Err(Error::at(line, format!("protection domain '{name}' is declared twice")));
        }
        let priority = match node.attribute("priority") {
            Some(text) => u8::try_from(parse_number(doc, node, "priority", text)?)
                .ok()
                .filter(|p| *p <= 254)
                .ok_or_else(|| Error::at(line, format!("'{name}': priority must be 0..=254")))?,
            None => 0,
        };
        let child_id = match (parent, node.attribute("id")) {
            (Some(_), Some(text)) => Some(parse_number(doc, node, "id", text)?),
            (Some(_), None) => {
                return Err(Error::at(line, format!("child protection domain '{name}' needs an id")));
            }
            (None, _) => None,
        };
        let images: Vec<_> = node.children().filter(|n| n.has_tag_name("program_image")).collect();
        let [image] = images.as_slice() else {
            return Err(Error::at(line, format!("'{name}' needs exactly one <program_image>")));
        };
        let program = required(doc, *image, "path")?.to_string();
        let mut maps = Vec::new();
        let mut devices = Vec::new();
        for element in node.children().filter(|n| n.is_element()) {
            let at = line_of(doc, element);
            match element.tag_name().name() {
                "map" => maps.push(Map {
                    mr: required(doc, element, "mr")?.to_string(),
                    vaddr: parse_number(doc, element, "vaddr", required(doc, element, "vaddr")?)?,
                    line: at,
                    writable: element.attribute("perms").is_none_or(|p| p.contains('w')),
                }),
                "irq" => devices.push((Device::Irq, at)),
                "ioport" => devices.push((Device::IoPort, at)),
                "virtual_machine" => devices.push((Device::VirtualMachine, at)),
                "setvar" => {
                    if let Some(region) = element.attribute("region_paddr") {
                        devices.push((Device::RegionPaddr(region.to_string()), at));
                    }
                }
                _ => {}
            }
        }
        let index = self.pds.len();
        self.pds.push(Pd { name, priority, program, parent, child_id, line, maps, devices });
        for child in node.children().filter(|n| n.has_tag_name("protection_domain")) {
            self.parse_pd(doc, child, Some(index))?;
        }
        Ok(())
    }

    fn parse_channel(&self, doc: &roxmltree::Document, node: roxmltree::Node) -> Result<Channel, Error> {
        let line = line_of(doc, node);
        let ends: Vec<_> = node.children().filter(|n| n.has_tag_name("end")).collect();
        let [a, b] = ends.as_slice() else {
            return Err(Error::at(line, "a <channel> needs exactly two <end> elements"));
        };
        let end = |node: roxmltree::Node| -> Result<End, Error> {
            let pd_name = required(doc, node, "pd")?;
            let pd = self.pd_index(pd_name).ok_or_else(|| {
                Error::at(line_of(doc, node), format!("channel end names unknown PD '{pd_name}'"))
            })?;
            let id = parse_number(doc, node, "id", required(doc, node, "id")?)?;
            let pp = parse_bool(doc, node, "pp", false)?;
            let notify = parse_bool(doc, node, "notify", true)?;
            Ok(End { pd, id, pp, notify })
        };
        Ok(Channel { ends: [end(*a)?, end(*b)?], line })
    }
}

pub(crate) fn line_of(doc: &roxmltree::Document, node: roxmltree::Node) -> u32 {
    doc.text_pos_at(node.range().start).row
}

fn required<'a>(
    doc: &roxmltree::Document,
    node: roxmltree::Node<'a, 'a>,
    attr: &str,
) -> Result<&'a str, Error> {
    node.attribute(attr).ok_or_else(|| {
        Error::at(line_of(doc, node), format!("<{}> needs a '{attr}' attribute", node.tag_name().name()))
    })
}

/// Parses a number the way Microkit writes them: decimal or `0x` hex, with
/// `_` separators allowed.
fn parse_number(
    doc: &roxmltree::Document,
    node: roxmltree::Node,
    attr: &str,
    text: &str,
) -> Result<usize, Error> {
    let digits: String = text.chars().filter(|c| *c != '_').collect();
    let parsed = match digits.strip_prefix("0x") {
        Some(hex) => usize::from_str_radix(hex, 16),
        None => digits.parse(),
    };
    parsed.map_err(|_| Error::at(line_of(doc, node), format!("'{attr}' is not a number: '{text}'")))
}

fn parse_bool(
    doc: &roxmltree::Document,
    node: roxmltree::Node,
    attr: &str,
    default: bool,
) -> Result<bool, Error> {
    match node.attribute(attr) {
        None => Ok(default),
        Some("true") => Ok(true),
        Some("false") => Ok(false),
        Some(other) => {
            Err(Error::at(line_of(doc, node), format!("'{attr}' must be true or false, not '{other}'")))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SMALL: &str = r#"<?xml version="1.0"?>
<system>
  <protection_domain name="governor" priority="100">
    <program_image path="governor.elf"/>
    <protection_domain name="w0" id="1" priority="10">
      <program_image path="worknode.elf"/>
    </protection_domain>
  </protection_domain>
  <channel>
    <end pd="governor" id="0x1"/>
    <end pd="w0" id="0" pp="true" notify="false"/>
  </channel>
</system>"#;

    /// The identity of a cluster named "dev" (docs/network.md).
    const DEV_CLUSTER_ID: u64 = 0x3c9a_7eae_09db_e3f9;

    #[test]
    fn the_network_instruction_gives_each_node_its_addresses() {
        let text = SMALL.replace(
            "<system>",
            r#"<system><?worknode-network cluster="dev" subnet="10.0.0.0/24" port="7100" nodes="8" mac_prefix="02:57:4e:00:00"?>"#,
        );
        let network = System::parse(&text).unwrap().network.unwrap();
        assert_eq!(network.address(0), [10, 0, 0, 1]);
        assert_eq!(network.address(2), [10, 0, 0, 3]);
        assert_eq!(network.mac(2), [2, 0x57, 0x4e, 0, 0, 2]);
        assert_eq!(network.port, 7100);
        // Pinned: docs/network.md names it, and nodes built apart must agree.
        assert_eq!(network.cluster_id(), DEV_CLUSTER_ID);
        let other = Network { cluster: "prod".into(), ..network.clone() };
        assert_ne!(other.cluster_id(), network.cluster_id());
        for bad in [
            r#"cluster="dev" subnet="10.0.0.1/24" port="7100" nodes="8" mac_prefix="02:57:4e:00:00""#,
            r#"cluster="dev" subnet="10.0.0.0/30" port="7100" nodes="8" mac_prefix="02:57:4e:00:00""#,
            r#"cluster="dev" subnet="10.0.0.0/24" port="0" nodes="8" mac_prefix="02:57:4e:00:00""#,
            r#"cluster="dev" subnet="10.0.0.0/24" port="7100" nodes="8" mac_prefix="03:57:4e:00:00""#,
            r#"cluster="dev" subnet="10.0.0.0/24" port="7100" nodes="8" mac_prefix="02:57:4e:00""#,
            r#"cluster="dev" subnet="10.0.0.0/24" port="7100" mac_prefix="02:57:4e:00:00""#,
            r#"subnet="10.0.0.0/24" port="7100" nodes="8" mac_prefix="02:57:4e:00:00""#,
            r#"cluster="Dev" subnet="10.0.0.0/24" port="7100" nodes="8" mac_prefix="02:57:4e:00:00""#,
            r#"cluster="" subnet="10.0.0.0/24" port="7100" nodes="8" mac_prefix="02:57:4e:00:00""#,
            r#"subnet=10.0.0.0/24"#,
        ] {
            assert!(Network::parse(bad).is_err(), "{bad}");
        }
        assert!(
            System::parse(&SMALL.replace("<system>", r#"<system><?worknode-network nodes="x"?>"#)).is_err()
        );
    }

    #[test]
    fn parses_nesting_and_channels() {
        let system = System::parse(SMALL).unwrap();
        assert_eq!(system.pds.len(), 2);
        assert_eq!(system.pds[1].parent, Some(0));
        assert_eq!(system.pds[1].child_id, Some(1));
        assert_eq!(system.pds[0].priority, 100);
        assert_eq!(system.channels[0].ends[0], End { pd: 0, id: 1, pp: false, notify: true });
        assert_eq!(system.channels[0].ends[1], End { pd: 1, id: 0, pp: true, notify: false });
        assert!(system.is_descendant(1, 0));
        assert!(!system.is_descendant(0, 1));
        assert_eq!(system.channels[0].line, 9);
    }

    #[test]
    fn errors_name_the_line() {
        let bad = SMALL.replace("id=\"0x1\"", "id=\"one\"");
        let err = System::parse(&bad).unwrap_err();
        assert_eq!(err.line, Some(10));
        assert!(err.message.contains("'id' is not a number"), "{err}");

        let unknown = SMALL.replace("pd=\"w0\"", "pd=\"w9\"");
        assert!(System::parse(&unknown).unwrap_err().message.contains("unknown PD 'w9'"));

        let no_id = SMALL.replace(" id=\"1\"", "");
        assert!(System::parse(&no_id).unwrap_err().message.contains("needs an id"));

        let twice = SMALL.replace("name=\"w0\"", "name=\"governor\"");
        assert!(System::parse(&twice).unwrap_err().message.contains("declared twice"));

        assert!(System::parse("<system>").unwrap_err().message.contains("not well-formed"));
        assert!(System::parse("<sys/>").unwrap_err().message.contains("<system>"));
    }
}
