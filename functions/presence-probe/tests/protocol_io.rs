//! The probe's I/O layer on real sockets of 127.0.0.1 (fast tier): the three
//! protocols against responders written from their specifications, the A2S challenge
//! round, silence (a timeout, never a 0), refused ports, and hostile replies (each
//! an unknown count, quickly, with nothing large allocated).

mod common;

use std::io::Write;
use std::time::{Duration, Instant};

use common::Counts;
use presence_probe::protocol::{probe, DecodeError, GameProtocol, ProbeAnswer, ProbeError};

const TIMEOUT: Duration = Duration::from_millis(1500);
const SHORT: Duration = Duration::from_millis(300);

async fn ask(protocol: GameProtocol, port: u16) -> Result<ProbeAnswer, ProbeError> {
    probe(protocol, "127.0.0.1", port, TIMEOUT).await
}

fn players(n: u32, max: u32) -> ProbeAnswer {
    ProbeAnswer {
        players: n,
        max_players: Some(max),
    }
}

#[tokio::test]
async fn minecraft_java_counts_0_1_2() {
    let counts = Counts::new(0, 20, 0);
    let server = common::java_server(counts.clone());
    for n in [0, 1, 2, 1, 0] {
        counts.set(n, 0);
        assert_eq!(
            ask(GameProtocol::MinecraftJava, server.port).await,
            Ok(players(n, 20))
        );
    }
    // What the server read: the handshake (status) then the status request.
    let first = &server.requests()[0];
    let handshake_len = first[0] as usize;
    assert_eq!(first[1], 0x00, "handshake id");
    assert_eq!(first[handshake_len], 0x01, "next state: status");
    assert_eq!(&first[handshake_len + 1..], &[0x01, 0x00], "status request");
    // After the id, the protocol version -1 (5 bytes), then the address.
    let address = String::from_utf8_lossy(&first[8..8 + first[7] as usize]).into_owned();
    assert_eq!(address, "127.0.0.1");
}

#[tokio::test]
async fn a_host_name_is_resolved() {
    let server = common::java_server(Counts::new(3, 10, 0));
    assert_eq!(
        probe(
            GameProtocol::MinecraftJava,
            "localhost",
            server.port,
            TIMEOUT
        )
        .await,
        Ok(players(3, 10))
    );
}

#[tokio::test]
async fn minecraft_bedrock_counts_0_1_2() {
    let counts = Counts::new(0, 10, 0);
    let server = common::bedrock_server(counts.clone());
    for n in [0, 1, 2] {
        counts.set(n, 0);
        assert_eq!(
            ask(GameProtocol::MinecraftBedrock, server.port).await,
            Ok(players(n, 10))
        );
    }
    let ping = &server.requests()[0];
    assert_eq!((ping.len(), ping[0]), (33, 0x01));
    assert_eq!(&ping[9..25], &common::RAKNET_MAGIC);
}

#[tokio::test]
async fn a2s_answers_the_challenge_then_counts_people_not_bots() {
    let counts = Counts::new(0, 10, 0);
    let server = common::a2s_server(counts.clone());
    for (n, bots, people) in [(0, 0, 0), (1, 0, 1), (2, 0, 2), (3, 1, 2), (2, 2, 0)] {
        counts.set(n, bots);
        assert_eq!(
            ask(GameProtocol::A2s, server.port).await,
            Ok(players(people, 10)),
            "{n} players, {bots} bots"
        );
    }
    // Each probe: the request, the challenge, the request again with it.
    let requests = server.requests();
    assert_eq!(requests.len(), 10);
    let mut plain = vec![0xff, 0xff, 0xff, 0xff, 0x54];
    plain.extend_from_slice(b"Source Engine Query\0");
    let mut answered = plain.clone();
    answered.extend_from_slice(&common::A2S_CHALLENGE);
    assert_eq!(requests[0], plain);
    assert_eq!(requests[1], answered);
}

#[tokio::test]
async fn an_a2s_server_without_a_challenge_answers_at_once() {
    let server = common::udp(|_| vec![common::a2s_info(4, 16, 0)]);
    assert_eq!(
        ask(GameProtocol::A2s, server.port).await,
        Ok(players(4, 16))
    );
    assert_eq!(server.requests().len(), 1);
}

#[tokio::test]
async fn silence_is_a_timeout_after_the_timeout_never_a_zero() {
    for protocol in [GameProtocol::MinecraftBedrock, GameProtocol::A2s] {
        let silent = common::silent_udp();
        let started = Instant::now();
        let got = probe(protocol, "127.0.0.1", silent.port, SHORT).await;
        assert_eq!(got, Err(ProbeError::Timeout(SHORT)), "{protocol:?}");
        let took = started.elapsed();
        assert!(
            took >= SHORT && took < SHORT * 4,
            "{protocol:?} took {took:?}"
        );
    }
    // A TCP server that accepts and says nothing.
    let mute = common::tcp(|_, _| std::thread::sleep(Duration::from_millis(800)));
    assert_eq!(
        probe(GameProtocol::MinecraftJava, "127.0.0.1", mute.port, SHORT).await,
        Err(ProbeError::Timeout(SHORT))
    );
    // A reply that trickles in slower than the timeout.
    let slow = common::tcp(|_, stream| {
        for byte in common::java_status_frame(r#"{"players":{"online":1}}"#) {
            if stream.write_all(&[byte]).is_err() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    });
    assert_eq!(
        probe(GameProtocol::MinecraftJava, "127.0.0.1", slow.port, SHORT).await,
        Err(ProbeError::Timeout(SHORT))
    );
}

#[tokio::test]
async fn an_a2s_server_that_never_stops_challenging_is_unknown() {
    let mut n = 0u8;
    let server = common::udp(move |_| {
        n = n.wrapping_add(1);
        vec![common::a2s_challenge([n, n, n, n])]
    });
    let err = ask(GameProtocol::A2s, server.port).await.unwrap_err();
    assert!(err.to_string().contains("still a challenge"), "{err}");
    assert_eq!(server.requests().len(), 3);
}

#[tokio::test]
async fn a_closed_port_is_unknown_not_zero() {
    let port = common::closed_port();
    for protocol in GameProtocol::ALL {
        let got = probe(protocol, "127.0.0.1", port, SHORT).await;
        assert!(
            matches!(
                got,
                Err(ProbeError::Network { .. }) | Err(ProbeError::Timeout(_))
            ),
            "{protocol:?}: {got:?}"
        );
    }
    let err = probe(GameProtocol::MinecraftJava, "127.0.0.1", port, SHORT)
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains(&format!("127.0.0.1:{port}")), "{err}");
}

#[tokio::test]
async fn a_name_that_does_not_resolve_is_unknown() {
    let got = probe(
        GameProtocol::MinecraftJava,
        "no-such-host.invalid",
        25565,
        SHORT,
    )
    .await;
    assert!(
        matches!(
            got,
            Err(ProbeError::Network { .. }) | Err(ProbeError::Timeout(_))
        ),
        "{got:?}"
    );
}

/// What a hostile reply must be read as.
type Expect = fn(&ProbeError) -> bool;

#[tokio::test]
async fn hostile_java_replies_are_unknown_quickly() {
    let oversized_varint = vec![0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01];
    let two_gib = vec![0xff, 0xff, 0xff, 0xff, 0x07, 0x00];
    let mut truncated = common::varint(100);
    truncated.extend_from_slice(&[0x00, 0x10, b'{']);
    let mut wrong_id = common::java_status_frame(r#"{"players":{"online":1}}"#);
    wrong_id[1] = 0x01;
    let mut bad_utf8 = common::java_status_frame(r#"{"players":{"online":1},"x":"ab"}"#);
    let at = bad_utf8.len() - 3;
    bad_utf8[at] = 0xfe;
    let mut absurd_string = vec![0x00];
    absurd_string.extend(common::varint(i32::MAX));
    absurd_string.extend_from_slice(b"{}");
    let mut absurd_string_frame = common::varint(absurd_string.len() as i32);
    absurd_string_frame.extend(absurd_string);
    let negative_count = common::java_status_frame(r#"{"players":{"online":-5,"max":20}}"#);
    let no_players = common::java_status_frame(r#"{"description":"players hidden"}"#);
    let cases: Vec<(&str, Vec<u8>, Expect)> = vec![
        ("oversized VarInt", oversized_varint, |e| {
            *e == ProbeError::Malformed(DecodeError::VarIntTooLong)
        }),
        ("2 GiB packet", two_gib, |e| {
            matches!(e, ProbeError::Malformed(DecodeError::TooLong { .. }))
        }),
        ("truncated packet", truncated, |e| {
            matches!(e, ProbeError::Malformed(DecodeError::Truncated(_)))
        }),
        ("wrong packet id", wrong_id, |e| {
            matches!(e, ProbeError::Malformed(DecodeError::WrongPacket { .. }))
        }),
        ("invalid UTF-8", bad_utf8, |e| {
            matches!(e, ProbeError::Malformed(DecodeError::InvalidUtf8(_)))
        }),
        ("absurd string length", absurd_string_frame, |e| {
            matches!(e, ProbeError::Malformed(DecodeError::TooLong { .. }))
        }),
        ("negative count", negative_count, |e| {
            matches!(e, ProbeError::Malformed(DecodeError::Invalid(_)))
        }),
        ("no players", no_players, |e| {
            matches!(e, ProbeError::Malformed(DecodeError::Invalid(_)))
        }),
        ("nothing at all", Vec::new(), |e| {
            matches!(e, ProbeError::Malformed(DecodeError::Truncated(_)))
        }),
    ];
    for (case, bytes, expected) in cases {
        let server = common::tcp_replying(bytes);
        let started = Instant::now();
        let got = ask(GameProtocol::MinecraftJava, server.port).await;
        match &got {
            Err(err) => assert!(expected(err), "{case}: {err:?}"),
            Ok(answer) => panic!("{case}: read as {answer:?}"),
        }
        assert!(
            started.elapsed() < TIMEOUT,
            "{case}: waited for the timeout"
        );
    }
}

#[tokio::test]
async fn a_server_pouring_bytes_is_read_up_to_the_limit_only() {
    use presence_probe::protocol::java::{MAX_PACKET, MAX_STATUS_JSON};
    // One byte over the limit: refused from the length prefix alone.
    let over = common::tcp_replying(common::varint(MAX_PACKET as i32 + 1));
    let got = ask(GameProtocol::MinecraftJava, over.port).await;
    assert!(
        matches!(got, Err(ProbeError::Malformed(DecodeError::TooLong { .. }))),
        "{got:?}"
    );
    // The largest packet allowed, then 4 MiB more: the probe reads the packet (not
    // JSON) and stops there.
    let pouring = common::tcp(|_, stream| {
        let mut frame = common::varint(MAX_PACKET as i32);
        frame.push(0x00);
        frame.extend(common::varint(MAX_STATUS_JSON as i32));
        let _ = stream.write_all(&frame);
        let chunk = vec![b'x'; 64 * 1024];
        for _ in 0..64 {
            if stream.write_all(&chunk).is_err() {
                return;
            }
        }
    });
    let started = Instant::now();
    let got = ask(GameProtocol::MinecraftJava, pouring.port).await;
    assert!(
        matches!(&got, Err(ProbeError::Malformed(DecodeError::Invalid(m))) if m.starts_with("status JSON")),
        "{got:?}"
    );
    assert!(started.elapsed() < TIMEOUT);
}

#[tokio::test]
async fn hostile_udp_replies_are_unknown_quickly() {
    let magic = common::RAKNET_MAGIC;
    let bedrock_cases: Vec<(&str, Vec<u8>)> = vec![
        ("empty datagram", vec![]),
        ("wrong packet id", {
            let mut p = common::bedrock_pong(&[0; 8], "MCPE;m;1;1.0;1;10");
            p[0] = 0x1d;
            p
        }),
        (
            "truncated",
            common::bedrock_pong(&[0; 8], "MCPE;m;1;1.0;1;10")[..30].to_vec(),
        ),
        ("absurd string length", {
            let mut p = vec![0x1c];
            p.extend_from_slice(&[0; 16]);
            p.extend_from_slice(&magic);
            p.extend_from_slice(&[0xff, 0xff]);
            p.extend_from_slice(b"MCPE;");
            p
        }),
        (
            "invalid UTF-8",
            common::bedrock_pong(&[0; 8], "MCPE;\u{ff}")
                .into_iter()
                .map(|b| if b == 0xc3 { 0xc0 } else { b })
                .collect(),
        ),
        ("no counts", common::bedrock_pong(&[0; 8], "MCPE;motd")),
        (
            "huge count",
            common::bedrock_pong(&[0; 8], "MCPE;m;1;1.0;99999999999;10"),
        ),
        ("a 60 KB datagram of noise", vec![0x1c; 60_000]),
    ];
    for (case, reply) in bedrock_cases {
        let server = common::udp(move |_| vec![reply.clone()]);
        let started = Instant::now();
        let got = ask(GameProtocol::MinecraftBedrock, server.port).await;
        assert!(
            matches!(got, Err(ProbeError::Malformed(_))),
            "bedrock {case}: {got:?}"
        );
        assert!(
            started.elapsed() < TIMEOUT,
            "bedrock {case}: waited for the timeout"
        );
    }
    let a2s_cases: Vec<(&str, Vec<u8>)> = vec![
        ("split reply", {
            let mut p = common::a2s_info(1, 10, 0);
            p[0] = 0xfe;
            p
        }),
        ("players reply", {
            let mut p = common::a2s_info(1, 10, 0);
            p[4] = 0x44;
            p
        }),
        ("truncated info", common::a2s_info(1, 10, 0)[..20].to_vec()),
        ("truncated challenge", vec![0xff, 0xff, 0xff, 0xff, 0x41, 1]),
        ("strings without an end", {
            let mut p = vec![0xff, 0xff, 0xff, 0xff, 0x49, 17];
            p.extend(std::iter::repeat_n(b'a', 1000));
            p
        }),
    ];
    for (case, reply) in a2s_cases {
        let server = common::udp(move |_| vec![reply.clone()]);
        let started = Instant::now();
        let got = ask(GameProtocol::A2s, server.port).await;
        assert!(
            matches!(got, Err(ProbeError::Malformed(_))),
            "a2s {case}: {got:?}"
        );
        assert!(
            started.elapsed() < TIMEOUT,
            "a2s {case}: waited for the timeout"
        );
    }
}
