//! The interface's receive-side scaling configuration — hash function, key, indirection
//! table — as `ethtool -x` reads it: `ETHTOOL_MSG_RSS_GET` of the `ethtool` generic netlink
//! family (Linux 6.3 and later; Documentation/networking/ethtool-netlink.rst, "RSS_GET").

use std::io;

use netlink_packet_core::{
    DecodeError, DefaultNla, Emitable, NetlinkHeader, NetlinkMessage, NetlinkPayload, NlasIterator,
    ParseableParametrized, NLA_F_NESTED, NLA_TYPE_MASK, NLM_F_REQUEST,
};
use netlink_packet_generic::ctrl::nlas::GenlCtrlAttrs;
use netlink_packet_generic::ctrl::{GenlCtrl, GenlCtrlCmd};
use netlink_packet_generic::{GenlFamily, GenlHeader, GenlMessage};
use netlink_sys::{protocols::NETLINK_GENERIC, Socket, SocketAddr};

use super::rtnetlink::invalid;

/// `ETHTOOL_MSG_RSS_GET` (and its reply's command, `ETHTOOL_MSG_RSS_GET_REPLY`).
const ETHTOOL_MSG_RSS_GET: u8 = 38;
const ETHTOOL_A_RSS_HEADER: u16 = 1;
const ETHTOOL_A_RSS_HFUNC: u16 = 3;
const ETHTOOL_A_RSS_INDIR: u16 = 4;
const ETHTOOL_A_RSS_HKEY: u16 = 5;
const ETHTOOL_A_RSS_INPUT_XFRM: u16 = 6;
const ETHTOOL_A_HEADER_DEV_NAME: u16 = 2;
/// `ETH_RSS_HASH_TOP` (include/uapi/linux/ethtool.h): the hash functions are bits.
const ETH_RSS_HASH_TOP: u32 = 1 << 0;
const ETH_RSS_HASH_XOR: u32 = 1 << 1;
const ETH_RSS_HASH_CRC32: u32 = 1 << 2;

/// The hash function the NIC spreads flows with.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum RssHashFunction {
    Toeplitz,
    Xor,
    Crc32,
    /// A value the kernel did not name (0: the driver does not say).
    Other(u32),
}

impl std::fmt::Display for RssHashFunction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RssHashFunction::Toeplitz => f.write_str("toeplitz"),
            RssHashFunction::Xor => f.write_str("xor"),
            RssHashFunction::Crc32 => f.write_str("crc32"),
            RssHashFunction::Other(v) => write!(f, "unknown ({v:#x})"),
        }
    }
}

/// An interface's RSS configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RssConfig {
    pub hash_function: RssHashFunction,
    pub key: Vec<u8>,
    /// The receive queue of each entry of the indirection table.
    pub indirection: Vec<u32>,
    /// `RXH_XFRM_*` bits: a transformation of the input before hashing (symmetric XOR);
    /// 0 when the input is hashed as it is.
    pub input_transform: u32,
}

/// The generic netlink message of `ETHTOOL_MSG_RSS_GET` and its reply: a command and its
/// attributes, undecoded.
#[derive(Clone, Debug)]
struct EthtoolRss {
    command: u8,
    attributes: Vec<u8>,
}

impl GenlFamily for EthtoolRss {
    fn family_name() -> &'static str {
        "ethtool"
    }
    fn command(&self) -> u8 {
        self.command
    }
    fn version(&self) -> u8 {
        1
    }
}

impl Emitable for EthtoolRss {
    fn buffer_len(&self) -> usize {
        self.attributes.len()
    }
    fn emit(&self, buffer: &mut [u8]) {
        buffer.copy_from_slice(&self.attributes);
    }
}

impl ParseableParametrized<[u8], GenlHeader> for EthtoolRss {
    fn parse_with_param(buf: &[u8], header: GenlHeader) -> Result<Self, DecodeError> {
        Ok(EthtoolRss {
            command: header.cmd,
            attributes: buf.to_vec(),
        })
    }
}

/// Room for one datagram of replies (an indirection table of 2,048 entries is 8 KiB).
const RECEIVE_BUFFER: usize = 64 * 1024;

/// Sends one generic netlink request and returns its one answer.
fn request<F>(socket: &Socket, message: GenlMessage<F>) -> io::Result<GenlMessage<F>>
where
    F: GenlFamily + Emitable + ParseableParametrized<[u8], GenlHeader> + std::fmt::Debug,
{
    let mut header = NetlinkHeader::default();
    header.flags = NLM_F_REQUEST;
    let mut req = NetlinkMessage::new(header, NetlinkPayload::from(message));
    req.finalize();
    let mut buf = vec![0u8; req.buffer_len()];
    req.serialize(&mut buf);
    socket.send(&buf, 0)?;
    let mut receive = vec![0u8; RECEIVE_BUFFER];
    let size = socket.recv(&mut &mut receive[..], 0)?;
    let reply = NetlinkMessage::<GenlMessage<F>>::deserialize(&receive[..size])
        .map_err(|e| invalid(format!("bad generic netlink reply: {e}")))?;
    match reply.payload {
        NetlinkPayload::InnerMessage(inner) => Ok(inner),
        NetlinkPayload::Error(e) => match e.code {
            Some(code) => Err(io::Error::from_raw_os_error(-code.get())),
            None => Err(invalid("an acknowledgement where an answer was due")),
        },
        other => Err(invalid(format!(
            "unexpected generic netlink reply {other:?}"
        ))),
    }
}

/// The id the kernel gave the generic netlink family `name` (`CTRL_CMD_GETFAMILY`).
fn family_id(socket: &Socket, name: &str) -> io::Result<u16> {
    let reply = request(
        socket,
        GenlMessage::from_payload(GenlCtrl {
            cmd: GenlCtrlCmd::GetFamily,
            nlas: vec![GenlCtrlAttrs::FamilyName(name.into())],
        }),
    )?;
    reply
        .payload
        .nlas
        .iter()
        .find_map(|nla| match nla {
            GenlCtrlAttrs::FamilyId(id) => Some(*id),
            _ => None,
        })
        .ok_or_else(|| invalid(format!("no id for the generic netlink family {name}")))
}

fn u32_of(value: &[u8]) -> io::Result<u32> {
    let bytes: [u8; 4] = value
        .try_into()
        .map_err(|_| invalid("an RSS attribute of the wrong size"))?;
    Ok(u32::from_ne_bytes(bytes))
}

/// Decodes the attributes of an `ETHTOOL_MSG_RSS_GET_REPLY`.
fn decode(attributes: &[u8]) -> io::Result<RssConfig> {
    let mut config = RssConfig {
        hash_function: RssHashFunction::Other(0),
        key: Vec::new(),
        indirection: Vec::new(),
        input_transform: 0,
    };
    for nla in NlasIterator::new(attributes) {
        let nla = nla.map_err(|e| invalid(format!("bad RSS attribute: {e}")))?;
        let value = nla.value();
        match nla.kind() & NLA_TYPE_MASK {
            ETHTOOL_A_RSS_HFUNC => {
                config.hash_function = match u32_of(value)? {
                    ETH_RSS_HASH_TOP => RssHashFunction::Toeplitz,
                    ETH_RSS_HASH_XOR => RssHashFunction::Xor,
                    ETH_RSS_HASH_CRC32 => RssHashFunction::Crc32,
                    other => RssHashFunction::Other(other),
                }
            }
            ETHTOOL_A_RSS_INDIR => {
                config.indirection = value
                    .chunks(4)
                    .map(u32_of)
                    .collect::<io::Result<Vec<u32>>>()?
            }
            ETHTOOL_A_RSS_HKEY => config.key = value.to_vec(),
            ETHTOOL_A_RSS_INPUT_XFRM => config.input_transform = u32_of(value)?,
            _ => {}
        }
    }
    Ok(config)
}

/// The RSS configuration of `iface`; `None` when it has none to report (the driver has no
/// RSS, as veth, or the kernel predates `RSS_GET`).
pub fn rss_config(iface: &str) -> io::Result<Option<RssConfig>> {
    let mut socket = Socket::new(NETLINK_GENERIC)?;
    socket.bind_auto()?;
    socket.connect(&SocketAddr::new(0, 0))?;
    let family = match family_id(&socket, "ethtool") {
        Ok(id) => id,
        Err(e) if e.raw_os_error() == Some(libc::ENOENT) => return Ok(None),
        Err(e) => return Err(e),
    };
    let mut name = iface.as_bytes().to_vec();
    name.push(0);
    let mut header_nest = vec![0u8; 0];
    let dev_name = DefaultNla::new(ETHTOOL_A_HEADER_DEV_NAME, name);
    header_nest.resize(dev_name.buffer_len(), 0);
    dev_name.emit(&mut header_nest);
    let header = DefaultNla::new(ETHTOOL_A_RSS_HEADER | NLA_F_NESTED, header_nest);
    let mut attributes = vec![0u8; header.buffer_len()];
    header.emit(&mut attributes);
    let mut message = GenlMessage::from_payload(EthtoolRss {
        command: ETHTOOL_MSG_RSS_GET,
        attributes,
    });
    message.set_resolved_family_id(family);
    match request(&socket, message) {
        Ok(reply) => decode(&reply.payload.attributes).map(Some),
        Err(e) if e.raw_os_error() == Some(libc::EOPNOTSUPP) => Ok(None),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attribute(kind: u16, value: &[u8]) -> Vec<u8> {
        let nla = DefaultNla::new(kind, value.to_vec());
        let mut buf = vec![0u8; nla.buffer_len()];
        nla.emit(&mut buf);
        buf
    }

    #[test]
    fn a_reply_decodes_into_function_key_and_table() {
        let mut reply = attribute(ETHTOOL_A_RSS_HFUNC, &1u32.to_ne_bytes());
        let table: Vec<u8> = [0u32, 1, 0, 1]
            .iter()
            .flat_map(|q| q.to_ne_bytes())
            .collect();
        reply.extend(attribute(ETHTOOL_A_RSS_INDIR, &table));
        reply.extend(attribute(ETHTOOL_A_RSS_HKEY, &[7; 40]));
        reply.extend(attribute(ETHTOOL_A_RSS_INPUT_XFRM, &0u32.to_ne_bytes()));
        let config = decode(&reply).unwrap();
        assert_eq!(config.hash_function, RssHashFunction::Toeplitz);
        assert_eq!(config.indirection, vec![0, 1, 0, 1]);
        assert_eq!(config.key, vec![7; 40]);
        assert_eq!(config.input_transform, 0);
    }

    #[test]
    fn a_malformed_table_is_an_error_not_a_guess() {
        let reply = attribute(ETHTOOL_A_RSS_INDIR, &[0, 0, 0, 0, 1, 0]);
        assert!(decode(&reply).is_err());
    }

    #[test]
    fn an_interface_without_rss_reads_as_none() {
        // The loopback device has no RSS (its driver has no get_rxfh).
        if let Ok(reading) = rss_config("lo") {
            assert_eq!(reading, None);
        }
    }
}
