//! A Lambda Runtime API server on 127.0.0.1, enough to run a function's real
//! `bootstrap` binary the way Lambda does: the binary polls
//! `GET /2018-06-01/runtime/invocation/next`, then posts `/response` or `/error`.

use std::collections::VecDeque;
use std::io::{BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::Child;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::Value;

use crate::function::Spec;
use crate::http::{read_body, read_head};

/// What the function answered to one event: the body it posted to `/response`
/// or to `/error`.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Response(Value),
    Error(Value),
}

impl Outcome {
    pub fn response(&self) -> Option<&Value> {
        match self {
            Outcome::Response(v) => Some(v),
            Outcome::Error(_) => None,
        }
    }
    pub fn error(&self) -> Option<&Value> {
        match self {
            Outcome::Error(v) => Some(v),
            Outcome::Response(_) => None,
        }
    }
}

/// One answered event.
#[derive(Debug, Clone)]
pub struct Invocation {
    pub request_id: String,
    pub outcome: Outcome,
    /// When the function's answer had arrived (for the benchmarks).
    pub answered_at: Instant,
}

#[derive(Default)]
struct State {
    queue: VecDeque<(String, Value)>,
    results: Vec<Invocation>,
    init_error: Option<Value>,
}

struct Shared {
    state: Mutex<State>,
    changed: Condvar,
    stop: AtomicBool,
    next_id: AtomicU64,
    /// Milliseconds each invocation may run (the deadline header).
    timeout_ms: u64,
}

/// The server: a queue of events to hand out and the answers received, served
/// on a free loopback port until dropped.
pub struct RuntimeApi {
    shared: Arc<Shared>,
    port: u16,
}

impl RuntimeApi {
    /// Listens on a free port; each invocation gets `timeout` before its deadline.
    pub fn start(timeout: Duration) -> RuntimeApi {
        let listener = TcpListener::bind(("127.0.0.1", 0)).expect("bind a loopback port");
        let port = listener.local_addr().expect("local address").port();
        let shared = Arc::new(Shared {
            state: Mutex::new(State::default()),
            changed: Condvar::new(),
            stop: AtomicBool::new(false),
            next_id: AtomicU64::new(1),
            timeout_ms: timeout.as_millis() as u64,
        });
        let accept_shared = shared.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                if accept_shared.stop.load(Ordering::SeqCst) {
                    break;
                }
                if let Ok(stream) = stream {
                    let shared = accept_shared.clone();
                    std::thread::spawn(move || serve(stream, &shared));
                }
            }
        });
        RuntimeApi { shared, port }
    }

    /// The port it listens on, on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `host:port`, the value of `AWS_LAMBDA_RUNTIME_API`.
    pub fn address(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Queues an event; returns its request id.
    pub fn push(&self, event: Value) -> String {
        let id = format!(
            "req-{:06}",
            self.shared.next_id.fetch_add(1, Ordering::SeqCst)
        );
        let mut state = self.shared.state.lock().expect("runtime state");
        state.queue.push_back((id.clone(), event));
        self.shared.changed.notify_all();
        id
    }

    /// Waits for the outcome of `request_id`.
    pub fn wait_for(&self, request_id: &str, timeout: Duration) -> Option<Outcome> {
        self.wait_for_invocation(request_id, timeout)
            .map(|i| i.outcome)
    }

    /// Waits for the answer to `request_id`, with the time it arrived.
    pub fn wait_for_invocation(&self, request_id: &str, timeout: Duration) -> Option<Invocation> {
        let deadline = Instant::now() + timeout;
        let mut state = self.shared.state.lock().expect("runtime state");
        loop {
            if let Some(done) = state.results.iter().find(|i| i.request_id == request_id) {
                return Some(done.clone());
            }
            let now = Instant::now();
            if now >= deadline || state.init_error.is_some() {
                return None;
            }
            state = self
                .shared
                .changed
                .wait_timeout(state, deadline - now)
                .expect("runtime state")
                .0;
        }
    }

    /// Queues an event and waits for its outcome.
    pub fn invoke(&self, event: Value, timeout: Duration) -> Option<Outcome> {
        let id = self.push(event);
        self.wait_for(&id, timeout)
    }

    /// The body of `/runtime/init/error`, if the function reported one.
    pub fn init_error(&self) -> Option<Value> {
        self.shared
            .state
            .lock()
            .expect("runtime state")
            .init_error
            .clone()
    }

    /// Environment for a function process: the Lambda variables the runtime reads.
    pub fn lambda_env(&self, function_name: &str) -> Vec<(String, String)> {
        [
            ("AWS_LAMBDA_RUNTIME_API", self.address()),
            ("AWS_LAMBDA_FUNCTION_NAME", function_name.to_string()),
            ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128".to_string()),
            ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST".to_string()),
            (
                "AWS_LAMBDA_LOG_GROUP_NAME",
                format!("/aws/lambda/{function_name}"),
            ),
            ("AWS_LAMBDA_LOG_STREAM_NAME", "local".to_string()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect()
    }

    /// Spawns a function binary against this server with `env` (plus the Lambda
    /// variables). Its stdout and stderr go to `log` if given, else are inherited.
    /// The caller stops the process; [`crate::Function`] does that itself.
    pub fn spawn(
        &self,
        binary: &Path,
        function_name: &str,
        env: &[(String, String)],
        log: Option<&Path>,
    ) -> Child {
        let mut spec = Spec::new(function_name, binary).envs(env.iter().cloned());
        if let Some(log) = log {
            spec = spec.log(log);
        }
        spec.spawn(self)
            .unwrap_or_else(|e| panic!("{e}"))
            .into_child()
    }
}

impl Drop for RuntimeApi {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        self.shared.changed.notify_all();
        // Wake the accept loop so it sees the flag.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

fn serve(stream: TcpStream, shared: &Shared) {
    let _ = stream.set_nodelay(true);
    let mut writer = match stream.try_clone() {
        Ok(w) => w,
        Err(_) => return,
    };
    let mut reader = BufReader::new(stream);
    // ACK at once (Linux clears the flag as it goes, so it is set again before each
    // request): a client that sends a request's head and body in two segments, as
    // the Rust runtime's HTTP client does, would otherwise wait ~40 ms for our
    // delayed ACK before sending the body, and every invocation would look that slow.
    let quickack = |reader: &BufReader<TcpStream>| {
        let _ = std::os::linux::net::TcpStreamExt::set_quickack(reader.get_ref(), true);
    };
    quickack(&reader);
    while let Ok(Some((line, headers))) = read_head(&mut reader) {
        quickack(&reader);
        let body = read_body(&mut reader, &headers)
            .ok()
            .flatten()
            .unwrap_or_default();
        let mut parts = line.split_whitespace();
        let (method, path) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
        let written = match (method, path) {
            ("GET", "/2018-06-01/runtime/invocation/next") => match next_event(shared) {
                Some((id, event)) => {
                    let deadline = SystemTime::now()
                        .duration_since(UNIX_EPOCH)
                        .map(|d| d.as_millis() as u64)
                        .unwrap_or(0)
                        + shared.timeout_ms;
                    let extra = format!(
                        "Lambda-Runtime-Aws-Request-Id: {id}\r\nLambda-Runtime-Deadline-Ms: {deadline}\r\n\
                         Lambda-Runtime-Invoked-Function-Arn: arn:aws:lambda:us-east-1:123456789012:function:local\r\n\
                         Lambda-Runtime-Trace-Id: Root=1-00000000-000000000000000000000000;Sampled=0\r\n"
                    );
                    respond(&mut writer, 200, &extra, &event.to_string())
                }
                None => return,
            },
            ("POST", "/2018-06-01/runtime/init/error") => {
                let mut state = shared.state.lock().expect("runtime state");
                state.init_error = Some(parse(&body));
                shared.changed.notify_all();
                drop(state);
                respond(&mut writer, 202, "", "{}")
            }
            ("POST", p) if p.starts_with("/2018-06-01/runtime/invocation/") => {
                let rest = &p["/2018-06-01/runtime/invocation/".len()..];
                let (id, kind) = rest.split_once('/').unwrap_or((rest, ""));
                let outcome = match kind {
                    "response" => Some(Outcome::Response(parse(&body))),
                    "error" => Some(Outcome::Error(parse(&body))),
                    _ => None,
                };
                match outcome {
                    Some(outcome) => {
                        let answered_at = Instant::now();
                        let mut state = shared.state.lock().expect("runtime state");
                        state.results.push(Invocation {
                            request_id: id.to_string(),
                            outcome,
                            answered_at,
                        });
                        shared.changed.notify_all();
                        drop(state);
                        respond(&mut writer, 202, "", "{}")
                    }
                    None => respond(&mut writer, 404, "", "{}"),
                }
            }
            _ => respond(&mut writer, 404, "", "{}"),
        };
        if written.is_err() {
            return;
        }
    }
}

fn parse(body: &[u8]) -> Value {
    serde_json::from_slice(body)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(body).into_owned()))
}

fn next_event(shared: &Shared) -> Option<(String, Value)> {
    let mut state = shared.state.lock().expect("runtime state");
    loop {
        if shared.stop.load(Ordering::SeqCst) {
            return None;
        }
        if let Some(next) = state.queue.pop_front() {
            return Some(next);
        }
        state = shared
            .changed
            .wait_timeout(state, Duration::from_millis(200))
            .expect("runtime state")
            .0;
    }
}

fn respond(
    writer: &mut TcpStream,
    status: u16,
    extra_headers: &str,
    body: &str,
) -> std::io::Result<()> {
    let reason = match status {
        200 => "OK",
        202 => "Accepted",
        _ => "Not Found",
    };
    // One write per response (with TCP_NODELAY set): a response split over several
    // segments would wait on the client's delayed ACK.
    let response = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n{extra_headers}\r\n{body}",
        body.len()
    );
    writer.write_all(response.as_bytes())?;
    writer.flush()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::request;
    use serde_json::json;

    #[test]
    fn hands_out_queued_events_and_collects_the_answers() {
        let runtime = RuntimeApi::start(Duration::from_secs(5));
        let first = runtime.push(json!({"n": 1}));
        let second = runtime.push(json!({"n": 2}));
        let next = "/2018-06-01/runtime/invocation/next";
        let (status, body) = request(runtime.port(), "GET", next, None).expect("next");
        assert_eq!((status, body.as_str()), (200, r#"{"n":1}"#));
        let answer = format!("/2018-06-01/runtime/invocation/{first}/response");
        let (status, _) =
            request(runtime.port(), "POST", &answer, Some(r#"{"ok":true}"#)).expect("response");
        assert_eq!(status, 202);
        request(runtime.port(), "GET", next, None).expect("next");
        let failed = format!("/2018-06-01/runtime/invocation/{second}/error");
        request(
            runtime.port(),
            "POST",
            &failed,
            Some(r#"{"errorMessage":"no"}"#),
        )
        .expect("error");

        let wait = Duration::from_secs(5);
        assert_eq!(
            runtime.wait_for(&first, wait),
            Some(Outcome::Response(json!({"ok": true})))
        );
        assert_eq!(
            runtime.wait_for(&second, wait),
            Some(Outcome::Error(json!({"errorMessage": "no"})))
        );
        assert_eq!(
            runtime.wait_for("req-999999", Duration::from_millis(50)),
            None
        );
    }

    #[test]
    fn keeps_the_init_error() {
        let runtime = RuntimeApi::start(Duration::from_secs(5));
        let body = r#"{"errorType":"ConfigError","errorMessage":"ASG_NAME is not set"}"#;
        let (status, _) = request(
            runtime.port(),
            "POST",
            "/2018-06-01/runtime/init/error",
            Some(body),
        )
        .expect("init error");
        assert_eq!(status, 202);
        assert_eq!(
            runtime.init_error().map(|e| e["errorType"].clone()),
            Some(json!("ConfigError"))
        );
    }
}
