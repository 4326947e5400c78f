//! Minecraft Java Edition's Server List Ping (the status exchange every server since
//! 1.7 answers, and the server list of the game uses).
//!
//! Over one TCP connection the client sends two packets, each framed as a VarInt
//! length then the packet (a VarInt packet id and its fields):
//!
//! - Handshake, id `0x00`: protocol version (VarInt; `-1` when the client does not
//!   know the server's), server address (String), server port (unsigned short, big
//!   endian), next state (VarInt `1`, status);
//! - Status Request, id `0x00`, no fields.
//!
//! The server answers one Status Response, id `0x00`, whose one field is a String of
//! JSON: `{"version": {...}, "players": {"max": 20, "online": 3, "sample": [...]},
//! "description": ...}`.
//!
//! A VarInt is 1 to 5 bytes, 7 bits each, least significant group first, the high bit
//! set on every byte but the last. A String is a VarInt length in bytes, then UTF-8;
//! the protocol allows at most 32,767 characters, so at most 98,301 bytes.

use std::net::SocketAddr;

use serde::Deserialize;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::{DecodeError, ProbeAnswer, ProbeError, Reader};

/// The protocol version sent: "not known", which every server answers the status of.
pub const UNKNOWN_PROTOCOL_VERSION: i32 = -1;

/// The longest status JSON: the protocol's 32,767 characters at 3 bytes each.
pub const MAX_STATUS_JSON: usize = 32_767 * 3;

/// The longest Status Response packet read: its id (1 byte), the string's length
/// (a VarInt of at most 3 bytes for this size) and the JSON.
pub const MAX_PACKET: usize = 1 + 3 + MAX_STATUS_JSON;

/// The most bytes a VarInt takes.
pub const MAX_VARINT_BYTES: usize = 5;

const STATUS_RESPONSE: &str = "0x00 (status response)";

/// What the status says about players.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Status {
    pub online: u32,
    pub max: Option<u32>,
}

impl From<Status> for ProbeAnswer {
    fn from(status: Status) -> Self {
        ProbeAnswer {
            players: status.online,
            max_players: status.max,
        }
    }
}

/// Appends `value` as a VarInt (negative values take 5 bytes).
pub fn encode_varint(value: i32, out: &mut Vec<u8>) {
    let mut rest = value as u32;
    loop {
        let low = (rest & 0x7f) as u8;
        rest >>= 7;
        if rest == 0 {
            out.push(low);
            return;
        }
        out.push(low | 0x80);
    }
}

/// Reads a VarInt at the start of `bytes`: its value and how many bytes it took, or
/// `None` when `bytes` ends before it does.
pub fn decode_varint(bytes: &[u8]) -> Result<Option<(i32, usize)>, DecodeError> {
    let mut value: u32 = 0;
    for (i, byte) in bytes.iter().take(MAX_VARINT_BYTES).enumerate() {
        value |= u32::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            return Ok(Some((value as i32, i + 1)));
        }
    }
    if bytes.len() >= MAX_VARINT_BYTES {
        Err(DecodeError::VarIntTooLong)
    } else {
        Ok(None)
    }
}

fn write_string(text: &str, out: &mut Vec<u8>) {
    // Only the configured host is written: an IP address or a DNS name (at most 253
    // bytes), far below the protocol's limit.
    encode_varint(text.len() as i32, out);
    out.extend_from_slice(text.as_bytes());
}

fn frame(packet: &[u8], out: &mut Vec<u8>) {
    encode_varint(packet.len() as i32, out);
    out.extend_from_slice(packet);
}

/// The Handshake (next state: status) followed by the Status Request, framed, as
/// written to the connection.
pub fn encode_request(host: &str, port: u16) -> Vec<u8> {
    let mut handshake = vec![0x00];
    encode_varint(UNKNOWN_PROTOCOL_VERSION, &mut handshake);
    write_string(host, &mut handshake);
    handshake.extend_from_slice(&port.to_be_bytes());
    encode_varint(1, &mut handshake);
    let mut out = Vec::with_capacity(handshake.len() + 4);
    frame(&handshake, &mut out);
    frame(&[0x00], &mut out);
    out
}

/// Checks a frame's length prefix: the packet's length in bytes, refused when it is
/// negative, empty, or larger than a status packet can be.
pub fn packet_length(value: i32) -> Result<usize, DecodeError> {
    match usize::try_from(value) {
        Err(_) => Err(DecodeError::Invalid(format!(
            "negative packet length {value}"
        ))),
        Ok(0) => Err(DecodeError::Invalid("empty packet".to_string())),
        Ok(n) if n > MAX_PACKET => Err(DecodeError::TooLong {
            what: "status packet",
            length: n as u64,
            limit: MAX_PACKET as u64,
        }),
        Ok(n) => Ok(n),
    }
}

/// Reads a Status Response packet (the bytes after its length prefix). Bytes after
/// the JSON string are ignored (some mods append data there).
pub fn decode_status_packet(packet: &[u8]) -> Result<Status, DecodeError> {
    let (id, used) = decode_varint(packet)?.ok_or(DecodeError::Truncated("the packet id"))?;
    if id != 0 {
        return Err(DecodeError::WrongPacket {
            found: u64::from(id as u32),
            expected: STATUS_RESPONSE,
        });
    }
    let mut reader = Reader::new(&packet[used..]);
    let (length, used) =
        decode_varint(reader.rest())?.ok_or(DecodeError::Truncated("the JSON's length"))?;
    reader.take(used, "the JSON's length")?;
    let length = usize::try_from(length)
        .map_err(|_| DecodeError::Invalid(format!("negative string length {length}")))?;
    if length > MAX_STATUS_JSON {
        return Err(DecodeError::TooLong {
            what: "status JSON",
            length: length as u64,
            limit: MAX_STATUS_JSON as u64,
        });
    }
    let json = reader.take(length, "the status JSON")?;
    let json =
        std::str::from_utf8(json).map_err(|_| DecodeError::InvalidUtf8("the status JSON"))?;
    decode_status_json(json)
}

#[derive(Deserialize)]
struct StatusJson {
    #[serde(default)]
    players: Option<PlayersJson>,
}

#[derive(Deserialize)]
struct PlayersJson {
    #[serde(default)]
    online: Option<u32>,
    #[serde(default)]
    max: Option<u32>,
}

/// Reads `players.online` (required: a server that hides it gives no count) and
/// `players.max` from the status JSON.
pub fn decode_status_json(json: &str) -> Result<Status, DecodeError> {
    let status: StatusJson = serde_json::from_str(json)
        .map_err(|e| DecodeError::Invalid(format!("status JSON: {e}")))?;
    let players = status
        .players
        .ok_or_else(|| DecodeError::Invalid("the status has no players".to_string()))?;
    let online = players
        .online
        .ok_or_else(|| DecodeError::Invalid("the status has no players.online".to_string()))?;
    Ok(Status {
        online,
        max: players.max,
    })
}

/// Reads a whole reply from a buffer: the length prefix, then the Status Response.
/// Bytes after the packet are ignored.
pub fn decode_reply(bytes: &[u8]) -> Result<Status, DecodeError> {
    let (length, used) =
        decode_varint(bytes)?.ok_or(DecodeError::Truncated("the packet length"))?;
    let length = packet_length(length)?;
    let packet = Reader::new(&bytes[used..]).take(length, "the status packet")?;
    decode_status_packet(packet)
}

/// The exchange over TCP; at most [`MAX_VARINT_BYTES`] + [`MAX_PACKET`] bytes read.
pub(super) async fn query(addr: SocketAddr, host: &str) -> Result<ProbeAnswer, ProbeError> {
    let network = |e| ProbeError::network(addr, e);
    let mut stream = TcpStream::connect(addr).await.map_err(network)?;
    stream
        .write_all(&encode_request(host, addr.port()))
        .await
        .map_err(network)?;
    let mut prefix = Vec::with_capacity(MAX_VARINT_BYTES);
    let length = loop {
        let byte = read_or_truncated(stream.read_u8().await, addr, "the packet length")?;
        prefix.push(byte);
        if let Some((value, _)) = decode_varint(&prefix)? {
            break packet_length(value)?;
        }
    };
    let mut packet = vec![0u8; length];
    read_or_truncated(
        stream.read_exact(&mut packet).await,
        addr,
        "the status packet",
    )?;
    Ok(decode_status_packet(&packet)?.into())
}

/// A read's result; the connection closing early is a truncated reply.
fn read_or_truncated<T>(
    read: std::io::Result<T>,
    addr: SocketAddr,
    what: &'static str,
) -> Result<T, ProbeError> {
    read.map_err(|e| match e.kind() {
        std::io::ErrorKind::UnexpectedEof => DecodeError::Truncated(what).into(),
        _ => ProbeError::network(addr, e),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A Status Response as the protocol describes it, built byte by byte.
    fn response(json: &str) -> Vec<u8> {
        let mut packet = vec![0x00];
        encode_varint(json.len() as i32, &mut packet);
        packet.extend_from_slice(json.as_bytes());
        let mut out = Vec::new();
        encode_varint(packet.len() as i32, &mut out);
        out.extend_from_slice(&packet);
        out
    }

    #[test]
    fn varints_match_the_published_examples() {
        let cases: &[(i32, &[u8])] = &[
            (0, &[0x00]),
            (1, &[0x01]),
            (2, &[0x02]),
            (127, &[0x7f]),
            (128, &[0x80, 0x01]),
            (255, &[0xff, 0x01]),
            (25565, &[0xdd, 0xc7, 0x01]),
            (2097151, &[0xff, 0xff, 0x7f]),
            (2147483647, &[0xff, 0xff, 0xff, 0xff, 0x07]),
            (-1, &[0xff, 0xff, 0xff, 0xff, 0x0f]),
            (-2147483648, &[0x80, 0x80, 0x80, 0x80, 0x08]),
        ];
        for (value, bytes) in cases {
            let mut out = Vec::new();
            encode_varint(*value, &mut out);
            assert_eq!(&out, bytes, "encode {value}");
            assert_eq!(
                decode_varint(bytes).unwrap(),
                Some((*value, bytes.len())),
                "decode {value}"
            );
        }
    }

    #[test]
    fn a_varint_longer_than_five_bytes_is_refused_and_a_short_one_waits() {
        assert_eq!(
            decode_varint(&[0xff, 0xff, 0xff, 0xff, 0xff, 0x01]),
            Err(DecodeError::VarIntTooLong)
        );
        assert_eq!(
            decode_varint(&[0x80, 0x80, 0x80, 0x80, 0x80]),
            Err(DecodeError::VarIntTooLong)
        );
        assert_eq!(decode_varint(&[0x80, 0x80]), Ok(None));
        assert_eq!(decode_varint(&[]), Ok(None));
    }

    #[test]
    fn the_request_is_a_handshake_then_a_status_request() {
        let bytes = encode_request("mc.example.com", 25565);
        let mut expected = vec![
            0x00, // Handshake
            0xff, 0xff, 0xff, 0xff, 0x0f, // protocol version -1
            14,   // the address's length
        ];
        expected.extend_from_slice(b"mc.example.com");
        expected.extend_from_slice(&[0x63, 0xdd]); // 25565, big endian
        expected.push(0x01); // next state: status
        let mut framed = vec![expected.len() as u8];
        framed.extend_from_slice(&expected);
        framed.extend_from_slice(&[0x01, 0x00]); // Status Request
        assert_eq!(bytes, framed);
    }

    #[test]
    fn a_vanilla_status_gives_online_and_max() {
        let json = r#"{"version":{"name":"1.21.4","protocol":769},"players":{"max":20,"online":2,"sample":[{"name":"alice","id":"4566e69f-c907-48ee-8d71-d7ba5aa00d20"},{"name":"bob","id":"00000000-0000-0000-0000-000000000000"}]},"description":{"text":"A Minecraft Server"},"enforcesSecureChat":true}"#;
        assert_eq!(
            decode_reply(&response(json)).unwrap(),
            Status {
                online: 2,
                max: Some(20)
            }
        );
        let empty = r#"{"version":{"name":"1.8.9","protocol":47},"players":{"max":100,"online":0},"description":"hi"}"#;
        assert_eq!(decode_reply(&response(empty)).unwrap().online, 0);
    }

    #[test]
    fn a_status_without_players_online_has_no_count() {
        for json in [
            r#"{"version":{"name":"x","protocol":1},"description":"hidden"}"#,
            r#"{"players":{"max":20}}"#,
            r#"{"players":{"online":-1,"max":20}}"#,
            r#"{"players":{"online":"3","max":20}}"#,
            r#"{"players":{"online":1.5}}"#,
            r#"{"players":{"online":99999999999}}"#,
            "[1,2,3]",
            "{not json",
        ] {
            let err = decode_reply(&response(json)).unwrap_err();
            assert!(matches!(err, DecodeError::Invalid(_)), "{json}: {err:?}");
        }
    }

    #[test]
    fn hostile_framing_is_refused_before_anything_is_allocated() {
        // A length prefix announcing 2 GiB.
        assert!(matches!(
            decode_reply(&[0xff, 0xff, 0xff, 0xff, 0x07, 0x00]),
            Err(DecodeError::TooLong { .. })
        ));
        // A negative length prefix.
        assert!(matches!(
            decode_reply(&[0xff, 0xff, 0xff, 0xff, 0x0f]),
            Err(DecodeError::Invalid(_))
        ));
        // An empty packet.
        assert!(matches!(
            decode_reply(&[0x00]),
            Err(DecodeError::Invalid(_))
        ));
        // A six-byte VarInt.
        assert_eq!(
            decode_reply(&[0x80, 0x80, 0x80, 0x80, 0x80, 0x01]),
            Err(DecodeError::VarIntTooLong)
        );
        // The JSON's length beyond the protocol's limit, inside a small packet.
        let mut packet = vec![0x00];
        encode_varint(1_000_000, &mut packet);
        packet.extend_from_slice(b"{}");
        assert!(matches!(
            decode_status_packet(&packet),
            Err(DecodeError::TooLong {
                what: "status JSON",
                ..
            })
        ));
        // The JSON's length beyond the packet.
        let mut packet = vec![0x00];
        encode_varint(100, &mut packet);
        packet.extend_from_slice(b"{}");
        assert_eq!(
            decode_status_packet(&packet),
            Err(DecodeError::Truncated("the status JSON"))
        );
    }

    #[test]
    fn a_wrong_packet_id_truncation_and_bad_utf8_are_named() {
        // A Pong (0x01) where the status was expected.
        let mut pong = response(r#"{"players":{"online":1}}"#);
        pong[1] = 0x01;
        assert!(matches!(
            decode_reply(&pong),
            Err(DecodeError::WrongPacket { found: 1, .. })
        ));
        // Cut anywhere: truncated.
        let whole = response(r#"{"players":{"online":1,"max":2}}"#);
        for cut in 0..whole.len() {
            let err = decode_reply(&whole[..cut]).unwrap_err();
            assert!(
                matches!(err, DecodeError::Truncated(_)),
                "cut {cut}: {err:?}"
            );
        }
        // Invalid UTF-8 inside the JSON.
        let mut bad = response(r#"{"players":{"online":1},"description":"AB"}"#);
        let at = bad.len() - 4;
        bad[at] = 0xff;
        assert_eq!(
            decode_reply(&bad),
            Err(DecodeError::InvalidUtf8("the status JSON"))
        );
    }

    #[test]
    fn the_largest_allowed_status_is_read() {
        let padding = "a".repeat(MAX_STATUS_JSON - 40);
        let json = format!(r#"{{"players":{{"online":7}},"d":"{padding}"}}"#);
        assert!(json.len() <= MAX_STATUS_JSON);
        assert_eq!(decode_reply(&response(&json)).unwrap().online, 7);
    }
}
