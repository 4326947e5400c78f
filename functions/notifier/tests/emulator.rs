#![cfg(feature = "emulator")]
//! The notifier's real binary behind its own Runtime API server, against the local
//! AWS emulator's SSM (a SecureString parameter listing the webhooks) and a webhook
//! server of this test on 127.0.0.1 that records each request and answers the
//! statuses a case scripts: the three formats received, a 429 then success (exactly
//! two requests), a webhook that always answers 500 (the invocation fails, the other
//! webhooks still get their message).

use std::collections::{HashMap, VecDeque};
use std::io::{BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_sdk_ssm::types::ParameterType;
use cm_testkit::http::{read_body, read_head};
use cm_testkit::{repo_root, Emulator, Function};
use serde_json::{json, Value};

const PARAMETER: &str = "/cm/dev/mc/webhooks";
const DISCORD: &str = "/api/webhooks/123456789012345678/discord-token-AAAA";
const SLACK: &str = "/services/T0000/B0000/slack-token-BBBB";
const PLAIN: &str = "/cm-dev-mc-ntfy-token-CCCC";

fn sample(name: &str) -> Value {
    let path = repo_root().join("events/notifier").join(name);
    serde_json::from_str(&std::fs::read_to_string(path).expect("sample event")).expect("json")
}

/// One request the webhook server received.
#[derive(Debug, Clone)]
struct Received {
    path: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Received {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_default()
    }
}

/// (status, headers, body) of one scripted answer.
type Answer = (u16, Vec<(String, String)>, String);

#[derive(Default)]
struct Shared {
    received: Mutex<Vec<Received>>,
    scripts: Mutex<HashMap<String, VecDeque<Answer>>>,
    stop: AtomicBool,
}

/// A webhook server on a free port of 127.0.0.1: one request per connection, each
/// answered from its path's script (the last answer again and again; 204 without a
/// script). Stopped when dropped.
struct Webhooks {
    port: u16,
    shared: Arc<Shared>,
}

impl Webhooks {
    fn start() -> Webhooks {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("address").port();
        let shared = Arc::new(Shared::default());
        let state = shared.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                if state.stop.load(Ordering::SeqCst) {
                    break;
                }
                if let Ok(stream) = stream {
                    let state = state.clone();
                    std::thread::spawn(move || serve(stream, &state));
                }
            }
        });
        Webhooks { port, shared }
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    fn script(&self, path: &str, answers: &[Answer]) {
        self.shared
            .scripts
            .lock()
            .expect("scripts")
            .insert(path.to_string(), answers.iter().cloned().collect());
    }

    fn received(&self, path: &str) -> Vec<Received> {
        self.shared
            .received
            .lock()
            .expect("received")
            .iter()
            .filter(|r| r.path == path)
            .cloned()
            .collect()
    }
}

impl Drop for Webhooks {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        // Wakes the accept loop so that it sees the flag.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

fn serve(stream: TcpStream, shared: &Shared) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    let Ok(mut writer) = stream.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(stream);
    let Ok(Some((request_line, headers))) = read_head(&mut reader) else {
        return;
    };
    let body = read_body(&mut reader, &headers)
        .ok()
        .flatten()
        .unwrap_or_default();
    let path = request_line
        .split_whitespace()
        .nth(1)
        .unwrap_or_default()
        .to_string();
    let (status, answer_headers, answer_body) = {
        let mut scripts = shared.scripts.lock().expect("scripts");
        match scripts.get_mut(&path) {
            Some(queue) if queue.len() > 1 => queue.pop_front(),
            Some(queue) => queue.front().cloned(),
            None => None,
        }
        .unwrap_or((204, Vec::new(), String::new()))
    };
    shared.received.lock().expect("received").push(Received {
        path,
        headers,
        body,
    });
    let mut response = format!("HTTP/1.1 {status} Scripted\r\n");
    for (name, value) in &answer_headers {
        response.push_str(&format!("{name}: {value}\r\n"));
    }
    response.push_str(&format!(
        "content-length: {}\r\nconnection: close\r\n\r\n{answer_body}",
        answer_body.len()
    ));
    let _ = writer.write_all(response.as_bytes());
    let _ = writer.flush();
}

struct Setup {
    emulator: Emulator,
    webhooks: Webhooks,
}

impl Setup {
    /// The emulator with the SecureString parameter listing the three webhooks of a
    /// new webhook server.
    async fn start() -> Setup {
        let emulator = Emulator::start();
        let webhooks = Webhooks::start();
        let ssm = aws_sdk_ssm::Client::new(&emulator.sdk_config().await);
        let list = format!(
            "# chat\n{}\n{}\n\n# phones\n{}\n",
            webhooks.url(DISCORD),
            webhooks.url(SLACK),
            webhooks.url(PLAIN)
        );
        ssm.put_parameter()
            .name(PARAMETER)
            .r#type(ParameterType::SecureString)
            .value(list)
            .send()
            .await
            .expect("put the parameter");
        Setup { emulator, webhooks }
    }

    fn function(&self) -> Function {
        Function::start(
            Path::new(env!("CARGO_BIN_EXE_notifier")),
            &self.emulator,
            &[("WEBHOOK_URLS_PARAMETER".to_string(), PARAMETER.to_string())],
        )
    }
}

/// The function's log holds no token.
fn assert_no_token(function: &Function) {
    let log = function.log();
    for token in ["discord-token", "slack-token", "ntfy-token"] {
        assert!(!log.contains(token), "{token} in the log:\n{log}");
    }
}

#[tokio::test]
async fn each_webhook_receives_the_message_in_its_format() {
    let s = Setup::start().await;
    let function = s.function();
    let outcome = function.invoke(sample("sns-up.json"));
    assert_no_token(&function);
    drop(function);
    let response = outcome
        .response()
        .cloned()
        .unwrap_or_else(|| panic!("{outcome:?}"));
    assert_eq!(response["webhooks"], json!(3));
    let results: Vec<Value> = response["actions"]
        .as_array()
        .expect("actions")
        .iter()
        .map(|a| json!([a["webhook"], a["result"]]))
        .collect();
    assert_eq!(
        results,
        vec![
            json!(["#1 (discord)", "delivered"]),
            json!(["#2 (slack)", "delivered"]),
            json!(["#3 (plain)", "delivered"]),
        ]
    );
    assert!(!response.to_string().contains("token"), "{response}");

    let discord = s.webhooks.received(DISCORD);
    assert_eq!(discord.len(), 1);
    assert_eq!(
        discord[0].json(),
        json!({"content": "mc is up at 203.0.113.7", "allowed_mentions": {"parse": []}})
    );
    assert_eq!(discord[0].header("content-type"), Some("application/json"));
    let slack = s.webhooks.received(SLACK);
    assert_eq!(slack.len(), 1);
    assert_eq!(slack[0].json(), json!({"text": "mc is up at 203.0.113.7"}));
    let plain = s.webhooks.received(PLAIN);
    assert_eq!(plain.len(), 1);
    assert_eq!(plain[0].body, b"mc is up at 203.0.113.7");
    assert_eq!(plain[0].header("title"), Some("mc is up"));
    assert_eq!(
        s.emulator.call_count("ssm:GetParameter"),
        1,
        "{:?}",
        s.emulator.calls()
    );
}

#[tokio::test]
async fn a_429_then_success_is_exactly_two_requests() {
    let s = Setup::start().await;
    s.webhooks.script(
        DISCORD,
        &[
            (
                429,
                vec![("content-type".into(), "application/json".into())],
                r#"{"message": "You are being rate limited.", "retry_after": 0.3, "global": false}"#
                    .into(),
            ),
            (204, Vec::new(), String::new()),
        ],
    );
    let function = s.function();
    let outcome = function.invoke(sample("sns-crashed.json"));
    drop(function);
    let response = outcome
        .response()
        .cloned()
        .unwrap_or_else(|| panic!("{outcome:?}"));
    assert_eq!(
        s.webhooks.received(DISCORD).len(),
        2,
        "exactly two requests"
    );
    assert_eq!(s.webhooks.received(SLACK).len(), 1);
    assert_eq!(s.webhooks.received(PLAIN).len(), 1);
    assert_eq!(
        response["actions"][0]["attempts"],
        json!(["HTTP 429, again in 300 ms", "HTTP 204"])
    );
}

#[tokio::test]
async fn a_webhook_that_always_fails_fails_the_invocation_and_the_others_get_theirs() {
    let s = Setup::start().await;
    s.webhooks
        .script(SLACK, &[(500, Vec::new(), "oops".to_string())]);
    let function = s.function();
    let outcome = function.invoke(sample("sns-up.json"));
    assert_no_token(&function);
    drop(function);
    let error = outcome
        .error()
        .cloned()
        .unwrap_or_else(|| panic!("{outcome:?}"));
    assert_eq!(error["errorType"], json!("HttpError"));
    let message = error["errorMessage"].as_str().unwrap_or_default();
    assert!(
        message.contains("#2 (slack)") && message.contains("HTTP 500 after 3 attempts"),
        "{message}"
    );
    assert!(!message.contains("token"), "{message}");
    assert_eq!(s.webhooks.received(SLACK).len(), 3, "three attempts");
    assert_eq!(s.webhooks.received(DISCORD).len(), 1);
    assert_eq!(s.webhooks.received(PLAIN).len(), 1);
}
