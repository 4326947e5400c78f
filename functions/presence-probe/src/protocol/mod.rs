//! The game servers' own status protocols, each in two layers:
//!
//! - a pure codec over byte slices ([`java`], [`bedrock`], [`a2s`]): `encode_*`
//!   builds the request, `decode_*` reads the reply. Decoders never panic and never
//!   allocate more than the reply they are given: every length is checked against
//!   what is left and against the protocol's own limit before it is used. Any
//!   surprise is a [`DecodeError`].
//! - a thin I/O layer ([`probe`]): resolve the host, one TCP connection (Java) or one
//!   connected UDP socket (Bedrock, A2S), the protocol's rounds, all within one
//!   [`tokio::time::timeout`]. Reads are capped ([`java::MAX_PACKET`],
//!   [`MAX_DATAGRAM`]).
//!
//! A [`ProbeError`] of either layer means "unknown": the caller puts no data point.

pub mod a2s;
pub mod bedrock;
pub mod java;

use std::net::SocketAddr;
use std::time::Duration;

use serde::Serialize;
use tokio::net::UdpSocket;

/// A game server's status protocol (`GAME_PROTOCOL`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum GameProtocol {
    /// Minecraft Java Edition's Server List Ping, over TCP.
    MinecraftJava,
    /// Minecraft Bedrock Edition's RakNet unconnected ping, over UDP.
    MinecraftBedrock,
    /// Valve's A2S_INFO (Steam dedicated servers), over UDP.
    A2s,
}

impl GameProtocol {
    pub const ALL: [GameProtocol; 3] = [
        GameProtocol::MinecraftJava,
        GameProtocol::MinecraftBedrock,
        GameProtocol::A2s,
    ];

    /// The name `GAME_PROTOCOL` uses.
    pub fn name(self) -> &'static str {
        match self {
            GameProtocol::MinecraftJava => "minecraft-java",
            GameProtocol::MinecraftBedrock => "minecraft-bedrock",
            GameProtocol::A2s => "a2s",
        }
    }

    /// Reads a `GAME_PROTOCOL` value (any case): `Some(None)` for `none`, `None` when
    /// it names no protocol.
    pub fn from_setting(raw: &str) -> Option<Option<GameProtocol>> {
        let raw = raw.trim();
        if raw.eq_ignore_ascii_case("none") {
            return Some(None);
        }
        GameProtocol::ALL
            .into_iter()
            .find(|p| p.name().eq_ignore_ascii_case(raw))
            .map(Some)
    }
}

/// What a game server said about its players.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ProbeAnswer {
    /// People playing (A2S: the players the server counts minus its bots).
    pub players: u32,
    /// The server's player limit, when it says.
    pub max_players: Option<u32>,
}

/// Why there is no count: the caller logs "unknown" and puts nothing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProbeError {
    /// Nothing (or not all of the answer) arrived in time: a server still booting,
    /// a crashed one, a firewall dropping the packets.
    #[error("no answer within {} ms", .0.as_millis())]
    Timeout(Duration),
    /// The name did not resolve, the connection was refused or reset.
    #[error("{target}: {message}")]
    Network { target: String, message: String },
    /// Something answered, but not a status reply this probe can read.
    #[error("malformed reply: {0}")]
    Malformed(#[from] DecodeError),
}

impl ProbeError {
    pub(crate) fn network(target: impl std::fmt::Display, err: std::io::Error) -> Self {
        ProbeError::Network {
            target: target.to_string(),
            message: err.to_string(),
        }
    }
}

/// Why a reply could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// The reply ends before `0` was complete.
    #[error("truncated: the reply ends inside {0}")]
    Truncated(&'static str),
    /// A Minecraft VarInt with a continuation bit on its fifth byte.
    #[error("a VarInt longer than 5 bytes")]
    VarIntTooLong,
    /// A length beyond what is left of the reply, or beyond the protocol's limit.
    #[error("{what} of {length} bytes exceeds {limit}")]
    TooLong {
        what: &'static str,
        length: u64,
        limit: u64,
    },
    /// The reply is another packet than the one asked for.
    #[error("unexpected packet id {found:#04x}, expected {expected}")]
    WrongPacket { found: u64, expected: &'static str },
    /// Text that must be UTF-8 is not.
    #[error("{0} is not valid UTF-8")]
    InvalidUtf8(&'static str),
    /// Anything else the protocol forbids.
    #[error("{0}")]
    Invalid(String),
}

/// The largest UDP reply read: a whole datagram always fits, so a reply is never cut
/// silently (Bedrock's pong string may be up to 65,535 bytes; A2S replies fit in
/// 1,400).
pub const MAX_DATAGRAM: usize = 65_536;

/// Asks the game server at `host`:`port` for its players, the whole exchange (name
/// lookup included) within `timeout`.
pub async fn probe(
    protocol: GameProtocol,
    host: &str,
    port: u16,
    timeout: Duration,
) -> Result<ProbeAnswer, ProbeError> {
    let exchange = async {
        let addr = resolve(host, port).await?;
        match protocol {
            GameProtocol::MinecraftJava => java::query(addr, host).await,
            GameProtocol::MinecraftBedrock => bedrock::query(addr).await,
            GameProtocol::A2s => a2s::query(addr).await,
        }
    };
    match tokio::time::timeout(timeout, exchange).await {
        Ok(result) => result,
        Err(_) => Err(ProbeError::Timeout(timeout)),
    }
}

/// The first address of `host` (an IPv4 one when there is one).
async fn resolve(host: &str, port: u16) -> Result<SocketAddr, ProbeError> {
    let target = || format!("{host}:{port}");
    let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host, port))
        .await
        .map_err(|e| ProbeError::network(target(), e))?
        .collect();
    addrs
        .iter()
        .find(|a| a.is_ipv4())
        .or_else(|| addrs.first())
        .copied()
        .ok_or_else(|| ProbeError::Network {
            target: target(),
            message: "the name has no address".to_string(),
        })
}

/// A UDP socket connected to `addr`: it receives only `addr`'s datagrams, and an
/// ICMP "port unreachable" comes back as a refused `recv`.
async fn udp_socket(addr: SocketAddr) -> Result<UdpSocket, ProbeError> {
    let local: SocketAddr = if addr.is_ipv4() {
        ([0, 0, 0, 0], 0).into()
    } else {
        ([0u16; 8], 0).into()
    };
    let socket = UdpSocket::bind(local)
        .await
        .map_err(|e| ProbeError::network(addr, e))?;
    socket
        .connect(addr)
        .await
        .map_err(|e| ProbeError::network(addr, e))?;
    Ok(socket)
}

/// Sends `request` and waits for one datagram; its length in `buf`.
async fn udp_round(
    socket: &UdpSocket,
    addr: SocketAddr,
    request: &[u8],
    buf: &mut [u8],
) -> Result<usize, ProbeError> {
    socket
        .send(request)
        .await
        .map_err(|e| ProbeError::network(addr, e))?;
    socket
        .recv(buf)
        .await
        .map_err(|e| ProbeError::network(addr, e))
}

/// A cursor over a reply: every read checks what is left first.
pub(crate) struct Reader<'a> {
    bytes: &'a [u8],
}

impl<'a> Reader<'a> {
    pub(crate) fn new(bytes: &'a [u8]) -> Self {
        Reader { bytes }
    }

    pub(crate) fn remaining(&self) -> usize {
        self.bytes.len()
    }

    pub(crate) fn rest(&self) -> &'a [u8] {
        self.bytes
    }

    /// The next `n` bytes.
    pub(crate) fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], DecodeError> {
        if n > self.bytes.len() {
            return Err(DecodeError::Truncated(what));
        }
        let (head, tail) = self.bytes.split_at(n);
        self.bytes = tail;
        Ok(head)
    }

    pub(crate) fn array<const N: usize>(
        &mut self,
        what: &'static str,
    ) -> Result<[u8; N], DecodeError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N, what)?);
        Ok(out)
    }

    pub(crate) fn u8(&mut self, what: &'static str) -> Result<u8, DecodeError> {
        Ok(self.array::<1>(what)?[0])
    }

    /// Bytes up to a 0 byte, which is consumed and not returned.
    pub(crate) fn c_string(&mut self, what: &'static str) -> Result<&'a [u8], DecodeError> {
        let end = self
            .bytes
            .iter()
            .position(|b| *b == 0)
            .ok_or(DecodeError::Truncated(what))?;
        let text = &self.bytes[..end];
        self.bytes = &self.bytes[end + 1..];
        Ok(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn protocol_settings_are_read_in_any_case() {
        assert_eq!(
            GameProtocol::from_setting("minecraft-java"),
            Some(Some(GameProtocol::MinecraftJava))
        );
        assert_eq!(
            GameProtocol::from_setting(" MINECRAFT-BEDROCK "),
            Some(Some(GameProtocol::MinecraftBedrock))
        );
        assert_eq!(
            GameProtocol::from_setting("A2s"),
            Some(Some(GameProtocol::A2s))
        );
        assert_eq!(GameProtocol::from_setting("None"), Some(None));
        assert_eq!(GameProtocol::from_setting("quake3"), None);
        assert_eq!(GameProtocol::from_setting(""), None);
    }

    #[test]
    fn the_reader_checks_every_length() {
        let mut r = Reader::new(b"ab\0c");
        assert_eq!(r.c_string("name").unwrap(), b"ab");
        assert_eq!(r.remaining(), 1);
        assert_eq!(r.c_string("map"), Err(DecodeError::Truncated("map")));
        assert_eq!(r.take(2, "two"), Err(DecodeError::Truncated("two")));
        assert_eq!(r.u8("c").unwrap(), b'c');
        assert_eq!(r.u8("more"), Err(DecodeError::Truncated("more")));
        assert!(r.rest().is_empty());
    }

    #[test]
    fn errors_read_as_sentences() {
        assert_eq!(
            ProbeError::Timeout(Duration::from_millis(2000)).to_string(),
            "no answer within 2000 ms"
        );
        assert_eq!(
            ProbeError::Malformed(DecodeError::WrongPacket {
                found: 0x1c,
                expected: "0x00 (status response)"
            })
            .to_string(),
            "malformed reply: unexpected packet id 0x1c, expected 0x00 (status response)"
        );
    }
}
