//! Game-server responders on 127.0.0.1 for the probe's socket tests: a Minecraft Java
//! status server (TCP), a Bedrock unconnected-pong server and an A2S_INFO server with
//! its challenge round (UDP), written from the protocols' published descriptions
//! byte by byte, without the crate's encoders, so that a test compares two readings
//! of the specification (and gamedig, in the emulator tier, a third). Plus scripted
//! responders for hostile replies and silence.
//!
//! Each responder serves on its own thread until dropped.

#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

/// The counts a responder reports; change them while it runs.
#[derive(Clone, Debug, Default)]
pub struct Counts(Arc<Mutex<(u32, u32, u32)>>);

impl Counts {
    /// `players` of `max`, `bots` of them bots (A2S only).
    pub fn new(players: u32, max: u32, bots: u32) -> Self {
        Counts(Arc::new(Mutex::new((players, max, bots))))
    }

    pub fn set(&self, players: u32, bots: u32) {
        let mut counts = self.0.lock().unwrap_or_else(|p| p.into_inner());
        counts.0 = players;
        counts.2 = bots;
    }

    /// (players, max, bots)
    pub fn get(&self) -> (u32, u32, u32) {
        *self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// A server on a port of 127.0.0.1, stopped when dropped.
pub struct Responder {
    pub port: u16,
    /// Every request datagram (UDP) or every connection's first bytes (TCP).
    pub requests: Arc<Mutex<Vec<Vec<u8>>>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Responder {
    pub fn requests(&self) -> Vec<Vec<u8>> {
        self.requests
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}

impl Drop for Responder {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// A UDP server: each datagram received goes to `reply`, whose datagrams are sent
/// back to its sender (none: silence).
pub fn udp(mut reply: impl FnMut(&[u8]) -> Vec<Vec<u8>> + Send + 'static) -> Responder {
    let socket = UdpSocket::bind("127.0.0.1:0").expect("bind a UDP port");
    socket
        .set_read_timeout(Some(Duration::from_millis(20)))
        .expect("read timeout");
    let port = socket.local_addr().expect("local address").port();
    let stop = Arc::new(AtomicBool::new(false));
    let requests = Arc::new(Mutex::new(Vec::new()));
    let (stop_flag, seen) = (stop.clone(), requests.clone());
    let thread = std::thread::spawn(move || {
        let mut buf = vec![0u8; 65_536];
        while !stop_flag.load(Ordering::SeqCst) {
            let Ok((n, from)) = socket.recv_from(&mut buf) else {
                continue;
            };
            let request = buf[..n].to_vec();
            seen.lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(request.clone());
            for datagram in reply(&request) {
                let _ = socket.send_to(&datagram, from);
            }
        }
    });
    Responder {
        port,
        requests,
        stop,
        thread: Some(thread),
    }
}

/// A UDP port that receives and never answers.
pub fn silent_udp() -> Responder {
    udp(|_| Vec::new())
}

/// A TCP server: each connection (one at a time) goes to `serve` after its first
/// bytes are read and recorded.
pub fn tcp(mut serve: impl FnMut(&[u8], &mut TcpStream) + Send + 'static) -> Responder {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a TCP port");
    listener.set_nonblocking(true).expect("non-blocking");
    let port = listener.local_addr().expect("local address").port();
    let stop = Arc::new(AtomicBool::new(false));
    let requests = Arc::new(Mutex::new(Vec::new()));
    let (stop_flag, seen) = (stop.clone(), requests.clone());
    let thread = std::thread::spawn(move || {
        while !stop_flag.load(Ordering::SeqCst) {
            let Ok((mut stream, _)) = listener.accept() else {
                std::thread::sleep(Duration::from_millis(10));
                continue;
            };
            let _ = stream.set_nonblocking(false);
            let _ = stream.set_read_timeout(Some(Duration::from_millis(500)));
            let first = read_some(&mut stream);
            seen.lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(first.clone());
            serve(&first, &mut stream);
        }
    });
    Responder {
        port,
        requests,
        stop,
        thread: Some(thread),
    }
}

fn read_some(stream: &mut TcpStream) -> Vec<u8> {
    let mut buf = vec![0u8; 4096];
    match stream.read(&mut buf) {
        Ok(n) => buf[..n].to_vec(),
        Err(_) => Vec::new(),
    }
}

/// A TCP server that writes `bytes` to each connection, then closes it.
pub fn tcp_replying(bytes: Vec<u8>) -> Responder {
    tcp(move |_, stream| {
        let _ = stream.write_all(&bytes);
    })
}

/// A port of 127.0.0.1 where nothing listens (TCP and, almost surely, UDP).
pub fn closed_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("address").port()
}

// Minecraft Java: Server List Ping.

/// A VarInt: 7 bits per byte, least significant first, high bit = more follows.
pub fn varint(value: i32) -> Vec<u8> {
    let mut v = value as u32;
    let mut out = Vec::new();
    loop {
        if v < 0x80 {
            out.push(v as u8);
            return out;
        }
        out.push((v as u8 & 0x7f) | 0x80);
        v >>= 7;
    }
}

/// A framed Status Response (id 0x00) carrying `json`.
pub fn java_status_frame(json: &str) -> Vec<u8> {
    let mut packet = vec![0x00];
    packet.extend(varint(json.len() as i32));
    packet.extend_from_slice(json.as_bytes());
    let mut out = varint(packet.len() as i32);
    out.extend(packet);
    out
}

pub fn java_status_json(players: u32, max: u32) -> String {
    let sample: Vec<String> = (1..=players.min(12))
        .map(|i| {
            format!(
                r#"{{"name":"player{i}","id":"00000000-0000-0000-0000-00000000000{}"}}"#,
                i % 10
            )
        })
        .collect();
    format!(
        r#"{{"version":{{"name":"1.21.4","protocol":769}},"players":{{"max":{max},"online":{players},"sample":[{}]}},"description":{{"text":"cm java fixture"}}}}"#,
        sample.join(",")
    )
}

/// A Minecraft Java server's status exchange: the handshake and status request are
/// read, the status sent, a ping (id 0x01) answered with its pong.
pub fn java_server(counts: Counts) -> Responder {
    tcp(move |_, stream| {
        let (players, max, _) = counts.get();
        if stream
            .write_all(&java_status_frame(&java_status_json(players, max)))
            .is_err()
        {
            return;
        }
        // A client may go on with a Ping: length 9, id 0x01, 8 bytes to echo.
        let mut ping = [0u8; 10];
        if stream.read_exact(&mut ping).is_ok() && ping[0] == 9 && ping[1] == 0x01 {
            let _ = stream.write_all(&ping);
        }
    })
}

// Minecraft Bedrock: RakNet unconnected ping and pong.

pub const RAKNET_MAGIC: [u8; 16] = [
    0x00, 0xff, 0xff, 0x00, 0xfe, 0xfe, 0xfe, 0xfe, 0xfd, 0xfd, 0xfd, 0xfd, 0x12, 0x34, 0x56, 0x78,
];

/// An Unconnected Pong (0x1c) echoing `time`, with this status string.
pub fn bedrock_pong(time: &[u8], status: &str) -> Vec<u8> {
    let mut out = vec![0x1c];
    out.extend_from_slice(time);
    out.extend_from_slice(&0x0123_4567_89ab_cdef_u64.to_be_bytes());
    out.extend_from_slice(&RAKNET_MAGIC);
    out.extend_from_slice(&(status.len() as u16).to_be_bytes());
    out.extend_from_slice(status.as_bytes());
    out
}

/// A Bedrock server: an Unconnected Ping (0x01, time, magic, GUID) gets a pong.
pub fn bedrock_server(counts: Counts) -> Responder {
    udp(move |request| {
        if request.len() < 33 || request[0] != 0x01 || request[9..25] != RAKNET_MAGIC {
            return Vec::new();
        }
        let (players, max, _) = counts.get();
        let status = format!(
            "MCPE;cm bedrock fixture;766;1.21.50;{players};{max};81985529216486895;fixture;Survival;1;19132;19133;"
        );
        vec![bedrock_pong(&request[1..9], &status)]
    })
}

// A2S: Valve's server queries.

pub const A2S_CHALLENGE: [u8; 4] = [0x5a, 0x3c, 0x11, 0xe7];

/// An S2A_INFO (0x49) reply of a Source server (Valheim-like: app ID in the game ID).
pub fn a2s_info(players: u32, max: u32, bots: u32) -> Vec<u8> {
    let mut out = vec![0xff, 0xff, 0xff, 0xff, 0x49, 17];
    out.extend_from_slice(b"cm a2s fixture\0");
    out.extend_from_slice(b"dedicated\0");
    out.extend_from_slice(b"valheim\0");
    out.extend_from_slice(b"Valheim\0");
    out.extend_from_slice(&0u16.to_le_bytes());
    out.extend_from_slice(&[players as u8, max as u8, bots as u8, b'd', b'l', 0, 0]);
    out.extend_from_slice(b"0.219.16\0");
    out.push(0x80 | 0x01);
    out.extend_from_slice(&2456u16.to_le_bytes());
    out.extend_from_slice(&892_970u64.to_le_bytes());
    out
}

/// An S2C_CHALLENGE (0x41).
pub fn a2s_challenge(challenge: [u8; 4]) -> Vec<u8> {
    let mut out = vec![0xff, 0xff, 0xff, 0xff, 0x41];
    out.extend_from_slice(&challenge);
    out
}

/// An A2S server as current servers behave: A2S_INFO (0x54) and A2S_PLAYER (0x55)
/// without the right challenge get an S2C_CHALLENGE; with it, the reply.
pub fn a2s_server(counts: Counts) -> Responder {
    udp(move |request| {
        if request.len() < 5 || request[..4] != [0xff; 4] {
            return Vec::new();
        }
        let (players, max, bots) = counts.get();
        match request[4] {
            0x54 => {
                let payload = &request[5..];
                let query = b"Source Engine Query\0";
                if !payload.starts_with(query) {
                    return Vec::new();
                }
                if payload[query.len()..] == A2S_CHALLENGE {
                    vec![a2s_info(players, max, bots)]
                } else {
                    vec![a2s_challenge(A2S_CHALLENGE)]
                }
            }
            0x55 => {
                if request[5..] != A2S_CHALLENGE {
                    return vec![a2s_challenge(A2S_CHALLENGE)];
                }
                let mut out = vec![0xff, 0xff, 0xff, 0xff, 0x44, players as u8];
                for i in 0..players {
                    out.push(i as u8);
                    if i < bots {
                        out.extend_from_slice(format!("bot{i}\0").as_bytes());
                    } else {
                        out.extend_from_slice(format!("viking{i}\0").as_bytes());
                    }
                    out.extend_from_slice(&0i32.to_le_bytes());
                    out.extend_from_slice(&(60.0f32 * (i + 1) as f32).to_le_bytes());
                }
                vec![out]
            }
            _ => Vec::new(),
        }
    })
}
