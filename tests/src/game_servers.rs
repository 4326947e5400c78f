//! Game servers for the presence probe, all on 127.0.0.1:
//!
//! - [`MinecraftServer`]: a real Minecraft Java server (flying-squid), and [`Bots`],
//!   real clients (mineflayer) that join and leave it, and [`gamedig`], an independent
//!   reader of player counts; all Node programs of `tests/fixtures/game-servers`
//!   (pinned in its `package.json`, installed with `npm ci` on first use; needs Node
//!   20 and npm);
//! - [`StatusResponder`]: a Minecraft Java status responder in Rust (Server List Ping:
//!   a handshake and a status request in, one status response out, framed as the
//!   protocol describes), for the benchmark, which must not need Node.
//!
//! [`NodeScript`] runs the Node programs of any fixtures folder ([`install`]): the
//! game servers' ([`GAME_SERVERS`]) and the browser test's (`tests/fixtures/browser`).
//! Every Node process is stopped when dropped: its standard input is closed (the
//! fixtures stop then), and after 5 s it is killed.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::ChildStdin;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::mpsc::{self, Receiver};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::process::{Process, Sink, Spawn};
use crate::repo_root;

/// How long flying-squid may take to generate its world and listen.
const SERVER_START: Duration = Duration::from_secs(90);
/// How long a bot may take to join (log in and spawn) or leave.
const BOT_WAIT: Duration = Duration::from_secs(60);

/// The game servers' fixtures folder, `tests/fixtures/game-servers`.
pub const GAME_SERVERS: &str = "game-servers";

/// `tests/fixtures/<folder>`.
pub fn fixtures_dir(folder: &str) -> PathBuf {
    repo_root().join("tests/fixtures").join(folder)
}

/// Installs the Node packages pinned in `tests/fixtures/<folder>` (`npm ci`), once per
/// test process and folder, when they are missing; the folder.
pub fn install(folder: &str) -> Result<PathBuf, String> {
    static INSTALLED: Mutex<BTreeMap<String, Result<PathBuf, String>>> =
        Mutex::new(BTreeMap::new());
    // Held while npm runs: a second caller waits for the first's install.
    let mut installed = INSTALLED.lock().unwrap_or_else(|p| p.into_inner());
    installed
        .entry(folder.to_string())
        .or_insert_with(|| npm_ci(&fixtures_dir(folder)))
        .clone()
}

fn npm_ci(dir: &Path) -> Result<PathBuf, String> {
    if dir.join("node_modules/.package-lock.json").exists() {
        return Ok(dir.to_path_buf());
    }
    let out = Spawn::new("npm")
        .args(["ci", "--no-audit", "--no-fund", "--prefix"])
        .args([dir.as_os_str()])
        .run()
        .map_err(|e| {
            format!(
                "{e}: the fixtures of {} need Node 20 and npm",
                dir.display()
            )
        })?;
    if !out.status.success() {
        return Err(format!(
            "npm ci in {} failed: {}",
            dir.display(),
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(dir.to_path_buf())
}

/// A Node program of a fixtures folder: commands go to its standard input, its
/// standard output comes line by line, its standard error goes to a log file.
pub struct NodeScript {
    name: String,
    stdin: Option<ChildStdin>,
    lines: Receiver<String>,
    log: PathBuf,
    /// Declared last: dropped (killed) after standard input is closed.
    process: Process,
}

impl NodeScript {
    /// `node <script> <args>` of `tests/fixtures/<folder>` (installed first, see
    /// [`install`]).
    pub fn start(folder: &str, script: &str, args: &[String]) -> Result<NodeScript, String> {
        let dir = install(folder)?;
        let stem = Path::new(script).file_stem().unwrap_or_default();
        let log = std::env::temp_dir().join(format!(
            "cm-{}-{}-{}.log",
            stem.to_string_lossy(),
            std::process::id(),
            next_id()
        ));
        let mut process = Spawn::new("node")
            .args([dir.join(script).into_os_string()])
            .args(args)
            .stdin_piped()
            .output(Sink::PipeStdoutLog(log.clone()))
            .start()?;
        let stdout = process
            .take_stdout()
            .ok_or_else(|| format!("node {script}: no standard output pipe"))?;
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Ok(NodeScript {
            name: format!("node {script}"),
            stdin: process.take_stdin(),
            lines,
            log,
            process,
        })
    }

    /// The first line containing `needle` within `timeout`; a line starting with
    /// `error` before it is an error, as is silence.
    pub fn wait_for(&self, needle: &str, timeout: Duration) -> Result<String, String> {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) if line.contains(needle) => return Ok(line),
                Ok(line) if line.starts_with("error") => {
                    return Err(format!(
                        "{} said {line:?} while {needle:?} was awaited (log: {})",
                        self.name,
                        self.log.display()
                    ))
                }
                Ok(_) => continue,
                Err(_) => {
                    return Err(format!(
                        "{} did not say {needle:?} within {timeout:?} (log: {})",
                        self.name,
                        self.log.display()
                    ))
                }
            }
        }
    }

    /// The next line within `timeout`, whatever it says; silence is an error.
    pub fn next_line(&self, timeout: Duration) -> Result<String, String> {
        self.lines.recv_timeout(timeout).map_err(|_| {
            format!(
                "{} said nothing within {timeout:?} (log: {})",
                self.name,
                self.log.display()
            )
        })
    }

    /// What the program wrote to its standard error so far.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Writes one command line.
    pub fn send(&mut self, command: &str) -> Result<(), String> {
        let stdin = self
            .stdin
            .as_mut()
            .ok_or_else(|| format!("{}: standard input is closed", self.name))?;
        writeln!(stdin, "{command}")
            .and_then(|()| stdin.flush())
            .map_err(|e| format!("{}: write {command:?}: {e}", self.name))
    }
}

impl Drop for NodeScript {
    /// Closing standard input asks the fixture to stop (the server then removes its
    /// world folder); after 5 s it is killed.
    fn drop(&mut self) {
        self.stdin.take();
        let _ = self.process.wait_timeout(Duration::from_secs(5));
    }
}

fn next_id() -> u32 {
    static NEXT: AtomicU32 = AtomicU32::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// A flying-squid Minecraft Java server (offline mode, a small superflat world in a
/// temporary folder) on a free port of 127.0.0.1.
pub struct MinecraftServer {
    pub port: u16,
    _node: NodeScript,
}

impl MinecraftServer {
    /// Starts the server and waits until players can join.
    pub fn start() -> Result<MinecraftServer, String> {
        let node = NodeScript::start(GAME_SERVERS, "server.js", &["0".to_string()])?;
        let line = node.wait_for("listening ", SERVER_START)?;
        let port = line
            .rsplit("listening ")
            .next()
            .and_then(|p| p.trim().parse::<u16>().ok())
            .ok_or_else(|| format!("server.js: no port in {line:?}"))?;
        Ok(MinecraftServer { port, _node: node })
    }
}

/// mineflayer bots, real Minecraft clients of the server at 127.0.0.1:`port`.
pub struct Bots {
    node: NodeScript,
}

impl Bots {
    pub fn start(port: u16) -> Result<Bots, String> {
        Ok(Bots {
            node: NodeScript::start(GAME_SERVERS, "bots.js", &[port.to_string()])?,
        })
    }

    /// A new bot logs in and spawns; the number of bots online afterwards.
    pub fn join(&mut self) -> Result<u32, String> {
        self.node.send("join")?;
        Self::count(&self.node.wait_for("joined ", BOT_WAIT)?)
    }

    /// The newest bot quits and the server closes its connection; the number of
    /// bots online afterwards.
    pub fn leave(&mut self) -> Result<u32, String> {
        self.node.send("leave")?;
        Self::count(&self.node.wait_for("left ", BOT_WAIT)?)
    }

    fn count(line: &str) -> Result<u32, String> {
        line.rsplit(' ')
            .next()
            .and_then(|n| n.trim().parse().ok())
            .ok_or_else(|| format!("bots.js: no count in {line:?}"))
    }
}

/// What gamedig reads from 127.0.0.1:`port` over `protocol` (`minecraft-java`,
/// `minecraft-bedrock` or `a2s`): `{"numplayers", "maxplayers", "bots"}`.
pub fn gamedig(protocol: &str, port: u16) -> Result<Value, String> {
    let dir = install(GAME_SERVERS)?;
    let out = Spawn::new("node")
        .args([dir.join("query.mjs").into_os_string()])
        .args([protocol, "127.0.0.1", &port.to_string()])
        .run()?;
    let text = String::from_utf8_lossy(&out.stdout);
    serde_json::from_str(text.trim()).map_err(|e| format!("gamedig printed {text:?} ({e})"))
}

/// A Minecraft Java status responder on a free port of 127.0.0.1: each connection's
/// handshake and status request are read, and a status response with the current
/// count is written (Server List Ping, without the optional ping that may follow).
/// Stopped when dropped.
pub struct StatusResponder {
    pub port: u16,
    players: Arc<AtomicU32>,
    /// Every connection's handshake and request, in order.
    requests: Arc<Mutex<Vec<Vec<u8>>>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl StatusResponder {
    /// A responder that reports `players` of 20.
    pub fn start(players: u32) -> Result<StatusResponder, String> {
        let listener =
            TcpListener::bind("127.0.0.1:0").map_err(|e| format!("bind a TCP port: {e}"))?;
        listener
            .set_nonblocking(true)
            .map_err(|e| format!("a non-blocking listener: {e}"))?;
        let port = listener
            .local_addr()
            .map_err(|e| format!("the listener's address: {e}"))?
            .port();
        let count = Arc::new(AtomicU32::new(players));
        let requests = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (count_, requests_, stop_) = (count.clone(), requests.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            while !stop_.load(Ordering::SeqCst) {
                match listener.accept() {
                    Ok((stream, _)) => {
                        if let Some(request) = answer(stream, count_.load(Ordering::SeqCst)) {
                            requests_
                                .lock()
                                .unwrap_or_else(|p| p.into_inner())
                                .push(request);
                        }
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        Ok(StatusResponder {
            port,
            players: count,
            requests,
            stop,
            thread: Some(thread),
        })
    }

    /// Changes the count reported from the next connection on.
    pub fn set_players(&self, players: u32) {
        self.players.store(players, Ordering::SeqCst);
    }

    /// How many status requests were answered.
    pub fn answered(&self) -> usize {
        self.requests
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .len()
    }
}

impl Drop for StatusResponder {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// One VarInt: 7 bits a byte, least significant first, the high bit set on every
/// byte but the last.
fn varint(value: usize) -> Vec<u8> {
    let mut v = value;
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

/// Reads one VarInt-framed packet (at most 32 KiB); `None` on anything else.
fn read_packet(stream: &mut TcpStream) -> Option<Vec<u8>> {
    let mut length = 0usize;
    for i in 0..3 {
        let mut byte = [0u8; 1];
        stream.read_exact(&mut byte).ok()?;
        length |= usize::from(byte[0] & 0x7f) << (7 * i);
        if byte[0] & 0x80 == 0 {
            let mut packet = vec![0u8; length];
            stream.read_exact(&mut packet).ok()?;
            return Some(packet);
        }
    }
    None
}

/// Serves one connection: the handshake (id 0x00, next state 1) and the status
/// request (id 0x00, empty), then the status response; both requests are returned.
fn answer(mut stream: TcpStream, players: u32) -> Option<Vec<u8>> {
    stream.set_nonblocking(false).ok()?;
    stream
        .set_read_timeout(Some(Duration::from_millis(1000)))
        .ok()?;
    let handshake = read_packet(&mut stream)?;
    let request = read_packet(&mut stream)?;
    if handshake.first() != Some(&0x00) || request != [0x00] {
        return None;
    }
    let json = format!(
        r#"{{"version":{{"name":"1.16.5","protocol":754}},"players":{{"max":20,"online":{players}}},"description":{{"text":"cm status responder"}}}}"#
    );
    let mut packet = vec![0x00];
    packet.extend(varint(json.len()));
    packet.extend_from_slice(json.as_bytes());
    let mut frame = varint(packet.len());
    frame.extend(packet);
    stream.write_all(&frame).ok()?;
    let mut both = handshake;
    both.extend(request);
    Some(both)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints_are_framed_as_the_protocol_describes() {
        assert_eq!(varint(0), [0x00]);
        assert_eq!(varint(127), [0x7f]);
        assert_eq!(varint(128), [0x80, 0x01]);
        assert_eq!(varint(25565), [0xdd, 0xc7, 0x01]);
    }

    #[test]
    fn the_responder_answers_a_server_list_ping() {
        let responder = StatusResponder::start(3).expect("a responder");
        let mut stream = TcpStream::connect(("127.0.0.1", responder.port)).expect("connect to it");
        // Handshake: id 0, protocol version -1, address "localhost", port, next state 1.
        let mut handshake = vec![0x00, 0xff, 0xff, 0xff, 0xff, 0x0f, 9];
        handshake.extend_from_slice(b"localhost");
        handshake.extend_from_slice(&responder.port.to_be_bytes());
        handshake.push(0x01);
        let mut request = varint(handshake.len());
        request.extend(&handshake);
        request.extend([0x01, 0x00]);
        stream.write_all(&request).expect("send");
        let reply = read_packet(&mut stream).expect("a status response");
        assert_eq!(reply[0], 0x00);
        let text = String::from_utf8_lossy(&reply);
        assert!(text.contains(r#""online":3"#), "{text}");
        let deadline = Instant::now() + Duration::from_secs(2);
        while responder.answered() == 0 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        assert_eq!(responder.answered(), 1);
    }
}
