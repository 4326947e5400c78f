//! Valve's server query A2S_INFO, over UDP: most Steam dedicated servers answer it
//! (Valheim, ARK, Rust, Counter-Strike, ...), on their query port.
//!
//! Every packet starts with a 4-byte header: `FF FF FF FF` for a whole packet
//! (`FE FF FF FF` starts a part of a split reply; an info reply fits in one packet
//! and split ones are not read). Numbers are little endian; strings end with a 0
//! byte.
//!
//! - Request: header, `0x54`, `"Source Engine Query\0"`, then the 4-byte challenge
//!   when the server asked for one.
//! - S2C_CHALLENGE, `0x41`: the 4-byte challenge; the client sends the request again
//!   with it appended (current servers do this before answering).
//! - Source reply, `0x49`: protocol (byte), name, map, folder, game (strings), app ID
//!   (short), players, max players, bots (bytes), server type, environment,
//!   visibility, VAC (bytes), The Ship's mode, witnesses and duration (bytes, app ID
//!   2400 only), version (string), then an optional extra data flag (byte) with, per
//!   bit: `0x80` game port (short), `0x10` Steam ID (long long), `0x40` SourceTV port
//!   (short) and name (string), `0x20` keywords (string), `0x01` game ID (long long,
//!   whose low 24 bits are the app ID).
//! - Obsolete GoldSource reply, `0x6D`: address, name, map, folder, game (strings),
//!   players, max players, protocol, server type, environment, visibility, mod
//!   (bytes; when 1: link and download link (strings), a 0 byte, version and size
//!   (longs), type and DLL (bytes)), VAC, bots (bytes).
//!
//! Players counts bots; the probe counts people: players minus bots. Rust reports
//! more than the byte can hold in its keywords (`cp<players>`, `mp<max>`), which
//! win for its app ID.

use std::net::SocketAddr;

use super::{udp_round, udp_socket, DecodeError, ProbeAnswer, ProbeError, Reader, MAX_DATAGRAM};

pub const HEADER: [u8; 4] = [0xff, 0xff, 0xff, 0xff];
pub const SPLIT_HEADER: [u8; 4] = [0xfe, 0xff, 0xff, 0xff];
pub const A2S_INFO: u8 = 0x54;
pub const PAYLOAD: &[u8] = b"Source Engine Query\0";
pub const S2C_CHALLENGE: u8 = 0x41;
pub const S2A_INFO: u8 = 0x49;
pub const S2A_INFO_GOLDSOURCE: u8 = 0x6d;

/// How many challenges the probe answers before giving up (a server sends one).
pub const MAX_CHALLENGES: usize = 2;

/// The Ship's app ID: three more bytes before the version.
const THE_SHIP: u16 = 2400;
/// Rust's app ID: exact counts in the keywords.
const RUST: u32 = 252_490;

/// The counts of an info reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Info {
    /// What the server counts as players (bots included).
    pub players: u32,
    pub max_players: u32,
    pub bots: u32,
    /// The app ID (Source replies only).
    pub app_id: Option<u32>,
}

impl From<Info> for ProbeAnswer {
    fn from(info: Info) -> Self {
        ProbeAnswer {
            players: info.players.saturating_sub(info.bots),
            max_players: Some(info.max_players),
        }
    }
}

/// A reply to A2S_INFO.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InfoReply {
    /// Ask again with this challenge.
    Challenge([u8; 4]),
    Info(Info),
}

pub fn encode_info_request(challenge: Option<[u8; 4]>) -> Vec<u8> {
    let mut out = Vec::with_capacity(4 + 1 + PAYLOAD.len() + 4);
    out.extend_from_slice(&HEADER);
    out.push(A2S_INFO);
    out.extend_from_slice(PAYLOAD);
    if let Some(challenge) = challenge {
        out.extend_from_slice(&challenge);
    }
    out
}

pub fn decode_info_reply(bytes: &[u8]) -> Result<InfoReply, DecodeError> {
    let mut reader = Reader::new(bytes);
    let header: [u8; 4] = reader.array("the header")?;
    if header == SPLIT_HEADER {
        return Err(DecodeError::Invalid(
            "a split reply (an info reply fits in one packet)".to_string(),
        ));
    }
    if header != HEADER {
        return Err(DecodeError::Invalid(format!(
            "header {header:02x?}, expected ff ff ff ff"
        )));
    }
    match reader.u8("the packet type")? {
        S2C_CHALLENGE => Ok(InfoReply::Challenge(reader.array("the challenge")?)),
        S2A_INFO => source_info(&mut reader).map(InfoReply::Info),
        S2A_INFO_GOLDSOURCE => goldsource_info(&mut reader).map(InfoReply::Info),
        other => Err(DecodeError::WrongPacket {
            found: u64::from(other),
            expected: "0x49 (info) or 0x41 (challenge)",
        }),
    }
}

fn source_info(r: &mut Reader<'_>) -> Result<Info, DecodeError> {
    r.u8("the protocol")?;
    for what in ["the name", "the map", "the folder", "the game"] {
        r.c_string(what)?;
    }
    let id = u16::from_le_bytes(r.array("the app ID")?);
    let mut players = u32::from(r.u8("the players")?);
    let mut max_players = u32::from(r.u8("the max players")?);
    let bots = u32::from(r.u8("the bots")?);
    r.take(4, "the server type, environment, visibility and VAC")?;
    if id == THE_SHIP {
        r.take(3, "The Ship's mode, witnesses and duration")?;
    }
    r.c_string("the version")?;
    let mut app_id = u32::from(id);
    let mut keywords: Option<&[u8]> = None;
    if r.remaining() > 0 {
        let flags = r.u8("the extra data flag")?;
        if flags & 0x80 != 0 {
            r.take(2, "the game port")?;
        }
        if flags & 0x10 != 0 {
            r.take(8, "the Steam ID")?;
        }
        if flags & 0x40 != 0 {
            r.take(2, "the SourceTV port")?;
            r.c_string("the SourceTV name")?;
        }
        if flags & 0x20 != 0 {
            keywords = Some(r.c_string("the keywords")?);
        }
        if flags & 0x01 != 0 {
            let game_id = u64::from_le_bytes(r.array("the game ID")?);
            let from_game_id = (game_id & 0x00ff_ffff) as u32;
            if from_game_id != 0 {
                app_id = from_game_id;
            }
        }
    }
    if app_id == RUST {
        for tag in keywords.unwrap_or_default().split(|b| *b == b',') {
            if let Some(n) = tag_number(tag, b"cp") {
                players = n;
            } else if let Some(n) = tag_number(tag, b"mp") {
                max_players = n;
            }
        }
    }
    Ok(Info {
        players,
        max_players,
        bots,
        app_id: Some(app_id),
    })
}

/// `cp12` -> 12 for the prefix `cp`.
fn tag_number(tag: &[u8], prefix: &[u8]) -> Option<u32> {
    let digits = tag.strip_prefix(prefix)?;
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(digits).ok()?.parse().ok()
}

fn goldsource_info(r: &mut Reader<'_>) -> Result<Info, DecodeError> {
    for what in [
        "the address",
        "the name",
        "the map",
        "the folder",
        "the game",
    ] {
        r.c_string(what)?;
    }
    let players = u32::from(r.u8("the players")?);
    let max_players = u32::from(r.u8("the max players")?);
    r.take(4, "the protocol, server type, environment and visibility")?;
    if r.u8("the mod flag")? == 1 {
        r.c_string("the mod's link")?;
        r.c_string("the mod's download link")?;
        r.take(1 + 4 + 4 + 1 + 1, "the mod's details")?;
    }
    r.u8("the VAC flag")?;
    let bots = u32::from(r.u8("the bots")?);
    Ok(Info {
        players,
        max_players,
        bots,
        app_id: None,
    })
}

/// A2S_INFO, answering the server's challenge (at most [`MAX_CHALLENGES`] times);
/// each reply's first datagram decides.
pub(super) async fn query(addr: SocketAddr) -> Result<ProbeAnswer, ProbeError> {
    let socket = udp_socket(addr).await?;
    let mut buf = vec![0u8; MAX_DATAGRAM];
    let mut challenge = None;
    for _ in 0..=MAX_CHALLENGES {
        let n = udp_round(&socket, addr, &encode_info_request(challenge), &mut buf).await?;
        match decode_info_reply(&buf[..n])? {
            InfoReply::Info(info) => return Ok(info.into()),
            InfoReply::Challenge(next) => challenge = Some(next),
        }
    }
    Err(DecodeError::Invalid(format!(
        "still a challenge after answering {MAX_CHALLENGES}"
    ))
    .into())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A Source info reply as the protocol describes it, built byte by byte.
    fn source(app_id: u16, players: u8, max: u8, bots: u8, edf: &[u8]) -> Vec<u8> {
        let mut out = vec![0xff, 0xff, 0xff, 0xff, 0x49, 17];
        out.extend_from_slice(b"My Valheim\0");
        out.extend_from_slice(b"world\0");
        out.extend_from_slice(b"valheim\0");
        out.extend_from_slice(b"Valheim\0");
        out.extend_from_slice(&app_id.to_le_bytes());
        out.extend_from_slice(&[players, max, bots, b'd', b'l', 0, 0]);
        if app_id == 2400 {
            out.extend_from_slice(&[0, 3, 60]);
        }
        out.extend_from_slice(b"0.219.16\0");
        out.extend_from_slice(edf);
        out
    }

    fn info(bytes: &[u8]) -> Info {
        match decode_info_reply(bytes).unwrap() {
            InfoReply::Info(info) => info,
            other => panic!("not an info reply: {other:?}"),
        }
    }

    #[test]
    fn the_request_is_header_type_payload_and_the_challenge() {
        let mut expected = vec![0xff, 0xff, 0xff, 0xff, 0x54];
        expected.extend_from_slice(b"Source Engine Query\0");
        assert_eq!(encode_info_request(None), expected);
        expected.extend_from_slice(&[0x0a, 0x0b, 0x0c, 0x0d]);
        assert_eq!(
            encode_info_request(Some([0x0a, 0x0b, 0x0c, 0x0d])),
            expected
        );
    }

    #[test]
    fn a_challenge_is_read() {
        assert_eq!(
            decode_info_reply(&[0xff, 0xff, 0xff, 0xff, 0x41, 1, 2, 3, 4]).unwrap(),
            InfoReply::Challenge([1, 2, 3, 4])
        );
        assert_eq!(
            decode_info_reply(&[0xff, 0xff, 0xff, 0xff, 0x41, 1, 2]),
            Err(DecodeError::Truncated("the challenge"))
        );
    }

    #[test]
    fn a_source_reply_gives_players_minus_bots() {
        let got = info(&source(0, 3, 10, 0, &[]));
        assert_eq!((got.players, got.max_players, got.bots), (3, 10, 0));
        let with_bots = info(&source(240, 5, 32, 2, &[]));
        assert_eq!(ProbeAnswer::from(with_bots).players, 3);
        assert_eq!(ProbeAnswer::from(with_bots).max_players, Some(32));
        let only_bots = info(&source(240, 2, 32, 4, &[]));
        assert_eq!(ProbeAnswer::from(only_bots).players, 0);
    }

    #[test]
    fn the_extra_data_is_read_and_the_ship_has_three_more_bytes() {
        let mut edf = vec![0x80 | 0x10 | 0x40 | 0x20 | 0x01];
        edf.extend_from_slice(&2456u16.to_le_bytes());
        edf.extend_from_slice(&[9; 8]);
        edf.extend_from_slice(&27020u16.to_le_bytes());
        edf.extend_from_slice(b"tv\0");
        edf.extend_from_slice(b"g=valheim,pvp\0");
        edf.extend_from_slice(&892970u64.to_le_bytes());
        let got = info(&source(0, 1, 10, 0, &edf));
        assert_eq!((got.players, got.app_id), (1, Some(892970)));
        let ship = info(&source(2400, 4, 8, 1, &[]));
        assert_eq!((ship.players, ship.bots), (4, 1));
    }

    #[test]
    fn rust_counts_come_from_its_keywords() {
        let mut edf = vec![0x20 | 0x01];
        edf.extend_from_slice(b"mp400,cp300,pt_rak,qp0,v2573\0");
        edf.extend_from_slice(&252490u64.to_le_bytes());
        let got = info(&source(0, 255, 255, 0, &edf));
        assert_eq!((got.players, got.max_players), (300, 400));
        // The same keywords from another game count for nothing.
        let mut other = vec![0x20];
        other.extend_from_slice(b"cp300\0");
        assert_eq!(info(&source(0, 2, 10, 0, &other)).players, 2);
    }

    #[test]
    fn a_goldsource_reply_is_read() {
        let mut bytes = vec![0xff, 0xff, 0xff, 0xff, 0x6d];
        bytes.extend_from_slice(b"203.0.113.5:27015\0HL server\0crossfire\0valve\0Half-Life\0");
        bytes.extend_from_slice(&[6, 16, 47, b'd', b'l', 0]);
        bytes.push(1); // a mod
        bytes.extend_from_slice(b"http://mod\0http://dl\0");
        bytes.extend_from_slice(&[0, 1, 0, 0, 0, 0, 16, 0, 0, 0, 1]);
        bytes.extend_from_slice(&[1, 2]); // VAC, bots
        let got = info(&bytes);
        assert_eq!((got.players, got.max_players, got.bots), (6, 16, 2));
        assert_eq!(ProbeAnswer::from(got).players, 4);
    }

    #[test]
    fn malformed_replies_are_named() {
        let whole = source(0, 1, 10, 0, &[]);
        for cut in 0..whole.len() {
            let err = decode_info_reply(&whole[..cut]).unwrap_err();
            assert!(
                matches!(err, DecodeError::Truncated(_)),
                "cut {cut}: {err:?}"
            );
        }
        let mut split = whole.clone();
        split[0] = 0xfe;
        assert!(decode_info_reply(&split)
            .unwrap_err()
            .to_string()
            .contains("split reply"));
        let mut garbage = whole.clone();
        garbage[2] = 0x00;
        assert!(decode_info_reply(&garbage)
            .unwrap_err()
            .to_string()
            .contains("header"));
        let mut players_reply = whole.clone();
        players_reply[4] = 0x44;
        assert_eq!(
            decode_info_reply(&players_reply),
            Err(DecodeError::WrongPacket {
                found: 0x44,
                expected: "0x49 (info) or 0x41 (challenge)"
            })
        );
        // An extra data flag promising fields that are not there.
        let mut edf = whole;
        edf.push(0x20);
        edf.extend_from_slice(b"no end");
        assert_eq!(
            decode_info_reply(&edf),
            Err(DecodeError::Truncated("the keywords"))
        );
    }

    #[test]
    fn names_need_not_be_utf8() {
        let mut bytes = source(0, 2, 10, 0, &[]);
        bytes[6] = 0xff; // inside the name
        assert_eq!(info(&bytes).players, 2);
    }
}
