//! Minecraft Bedrock Edition's status: RakNet's unconnected ping, over UDP (the
//! server list of the game uses it; Bedrock Dedicated Server answers on its game
//! port, 19132 by default).
//!
//! - Unconnected Ping, id `0x01`: time (int64, big endian; echoed back), the RakNet
//!   "offline message" magic (16 bytes), client GUID (int64).
//! - Unconnected Pong, id `0x1c`: time (int64, the ping's), server GUID (int64), the
//!   magic, then a string: unsigned short length (big endian) and UTF-8 bytes.
//!
//! The string is `;`-separated: `MCPE;<motd>;<protocol>;<version>;<players
//! online>;<max players>;<server id>;<motd line 2>;<game mode>;...` (`MCEE` for
//! Education Edition).

use std::net::SocketAddr;
use std::time::{SystemTime, UNIX_EPOCH};

use super::{udp_round, udp_socket, DecodeError, ProbeAnswer, ProbeError, Reader, MAX_DATAGRAM};

pub const UNCONNECTED_PING: u8 = 0x01;
pub const UNCONNECTED_PONG: u8 = 0x1c;

/// RakNet's offline message magic.
pub const MAGIC: [u8; 16] = [
    0x00, 0xff, 0xff, 0x00, 0xfe, 0xfe, 0xfe, 0xfe, 0xfd, 0xfd, 0xfd, 0xfd, 0x12, 0x34, 0x56, 0x78,
];

/// The length of an Unconnected Ping.
pub const PING_LEN: usize = 1 + 8 + 16 + 8;

/// What the pong says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pong {
    /// The ping's time, echoed.
    pub time: i64,
    /// `MCPE` or `MCEE`.
    pub edition: String,
    pub players: u32,
    pub max_players: u32,
}

impl From<Pong> for ProbeAnswer {
    fn from(pong: Pong) -> Self {
        ProbeAnswer {
            players: pong.players,
            max_players: Some(pong.max_players),
        }
    }
}

pub fn encode_ping(time: i64, client_guid: i64) -> [u8; PING_LEN] {
    let mut out = [0u8; PING_LEN];
    out[0] = UNCONNECTED_PING;
    out[1..9].copy_from_slice(&time.to_be_bytes());
    out[9..25].copy_from_slice(&MAGIC);
    out[25..33].copy_from_slice(&client_guid.to_be_bytes());
    out
}

/// Reads an Unconnected Pong. Bytes after the string are ignored.
pub fn decode_pong(bytes: &[u8]) -> Result<Pong, DecodeError> {
    let mut reader = Reader::new(bytes);
    let id = reader.u8("the packet id")?;
    if id != UNCONNECTED_PONG {
        return Err(DecodeError::WrongPacket {
            found: u64::from(id),
            expected: "0x1c (unconnected pong)",
        });
    }
    let time = i64::from_be_bytes(reader.array("the time")?);
    reader.take(8, "the server GUID")?;
    if reader.array::<16>("the magic")? != MAGIC {
        return Err(DecodeError::Invalid(
            "not a RakNet offline message (wrong magic)".to_string(),
        ));
    }
    let length = u16::from_be_bytes(reader.array("the status length")?);
    let text = reader.take(usize::from(length), "the status string")?;
    let text =
        std::str::from_utf8(text).map_err(|_| DecodeError::InvalidUtf8("the status string"))?;
    let mut fields = text.split(';');
    let edition = fields.next().unwrap_or_default();
    if edition != "MCPE" && edition != "MCEE" {
        return Err(DecodeError::Invalid(format!(
            "the status string starts with {:?}, not MCPE or MCEE",
            truncate(edition)
        )));
    }
    // motd, protocol version, version name: not needed.
    for _ in 0..3 {
        if fields.next().is_none() {
            return Err(DecodeError::Invalid(
                "the status string has fewer than 6 fields".to_string(),
            ));
        }
    }
    let mut count = |what: &'static str| -> Result<u32, DecodeError> {
        let field = fields
            .next()
            .ok_or_else(|| DecodeError::Invalid(format!("the status string has no {what}")))?;
        field.trim().parse::<u32>().map_err(|_| {
            DecodeError::Invalid(format!("{what} {:?} is not a count", truncate(field)))
        })
    };
    let players = count("players online")?;
    let max_players = count("max players")?;
    Ok(Pong {
        time,
        edition: edition.to_string(),
        players,
        max_players,
    })
}

/// At most 40 characters of a hostile field, for messages.
fn truncate(text: &str) -> String {
    text.chars().take(40).collect()
}

/// One ping, one pong; the first datagram decides.
pub(super) async fn query(addr: SocketAddr) -> Result<ProbeAnswer, ProbeError> {
    let socket = udp_socket(addr).await?;
    let time = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or_default();
    let guid = i64::from(std::process::id());
    let mut buf = vec![0u8; MAX_DATAGRAM];
    let n = udp_round(&socket, addr, &encode_ping(time, guid), &mut buf).await?;
    Ok(decode_pong(&buf[..n])?.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An Unconnected Pong as the protocol describes it, built byte by byte.
    fn pong(status: &str) -> Vec<u8> {
        let mut out = vec![0x1c];
        out.extend_from_slice(&0x0102030405060708_i64.to_be_bytes());
        out.extend_from_slice(&0x1122334455667788_i64.to_be_bytes());
        out.extend_from_slice(&[
            0x00, 0xff, 0xff, 0x00, 0xfe, 0xfe, 0xfe, 0xfe, 0xfd, 0xfd, 0xfd, 0xfd, 0x12, 0x34,
            0x56, 0x78,
        ]);
        out.extend_from_slice(&(status.len() as u16).to_be_bytes());
        out.extend_from_slice(status.as_bytes());
        out
    }

    const BDS: &str = "MCPE;Dedicated Server;766;1.21.50;2;10;13253860892328930865;Bedrock level;Survival;1;19132;19133;";

    #[test]
    fn the_ping_is_id_time_magic_guid() {
        let ping = encode_ping(0x0102030405060708, 42);
        assert_eq!(ping[0], 0x01);
        assert_eq!(&ping[1..9], &[1, 2, 3, 4, 5, 6, 7, 8]);
        assert_eq!(
            &ping[9..25],
            &[
                0x00, 0xff, 0xff, 0x00, 0xfe, 0xfe, 0xfe, 0xfe, 0xfd, 0xfd, 0xfd, 0xfd, 0x12, 0x34,
                0x56, 0x78
            ]
        );
        assert_eq!(&ping[25..], &[0, 0, 0, 0, 0, 0, 0, 42]);
    }

    #[test]
    fn a_dedicated_server_pong_gives_online_and_max() {
        let got = decode_pong(&pong(BDS)).unwrap();
        assert_eq!(
            got,
            Pong {
                time: 0x0102030405060708,
                edition: "MCPE".into(),
                players: 2,
                max_players: 10
            }
        );
        let short = decode_pong(&pong("MCEE;Classroom;390;1.14.60;0;40")).unwrap();
        assert_eq!((short.players, short.max_players), (0, 40));
    }

    #[test]
    fn malformed_pongs_are_named() {
        let cases: Vec<(Vec<u8>, &str)> = vec![
            (vec![], "truncated"),
            (pong(BDS)[..20].to_vec(), "truncated"),
            (
                {
                    let mut p = pong(BDS);
                    p[0] = 0x1d;
                    p
                },
                "unexpected packet id 0x1d",
            ),
            (
                {
                    let mut p = pong(BDS);
                    p[17] = 0x01;
                    p
                },
                "wrong magic",
            ),
            (
                {
                    let mut p = pong(BDS);
                    p[33] = 0xff;
                    p[34] = 0xff;
                    p
                },
                "truncated",
            ),
            (pong("MCPE;motd;1;1.0"), "has no players online"),
            (pong("MCPE;motd"), "fewer than 6 fields"),
            (
                pong("MCPE;motd;1;1.0;-1;10"),
                "players online \"-1\" is not a count",
            ),
            (pong("MCPE;motd;1;1.0;two;10"), "is not a count"),
            (pong("MCPE;motd;1;1.0;1"), "has no max players"),
            (pong("JAVA;motd;1;1.0;1;2"), "not MCPE or MCEE"),
            (
                {
                    let mut p = pong("MCPE;m;1;1.0;1;2");
                    let at = p.len() - 6;
                    p[at] = 0xc3;
                    p
                },
                "not valid UTF-8",
            ),
        ];
        for (bytes, expected) in cases {
            let err = decode_pong(&bytes).unwrap_err().to_string();
            assert!(err.contains(expected), "{expected}: {err}");
        }
    }
}
