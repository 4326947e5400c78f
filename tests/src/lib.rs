//! Test support for Container Manager: the local AWS emulator as a child process,
//! and a Lambda Runtime API server to run a function's real binary.
//!
//! The emulator is `tests/emulator/cm_emulator.py` (moto plus two bridges, see its
//! docstring), run with the project's virtual environment: `CM_EMULATOR_PYTHON` if
//! set, else `<repo>/.venv/bin/python`, which `scripts/test` creates.

pub mod asg;
pub mod contract;
pub mod http;
pub mod runtime_api;
pub mod story;

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_credential_types::Credentials;
use serde_json::{json, Value};

pub use runtime_api::{Invocation, Outcome, RuntimeApi};

/// The region the emulator's resources are created in.
pub const REGION: &str = "us-east-1";

/// The repository's root folder.
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(PathBuf::from)
        .unwrap_or_default()
}

fn python() -> PathBuf {
    std::env::var_os("CM_EMULATOR_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join(".venv/bin/python"))
}

/// A running emulator; stopped when dropped (and, should the test process die, when
/// its standard input closes).
pub struct Emulator {
    child: Child,
    stdin: Option<ChildStdin>,
    port: u16,
}

impl Emulator {
    /// Starts the emulator on a free port of 127.0.0.1 and waits until it listens.
    pub fn start() -> Emulator {
        let python = python();
        let script = repo_root().join("tests/emulator/cm_emulator.py");
        let mut child = Command::new(&python)
            .arg(&script)
            .arg("--port")
            .arg("0")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot start the emulator with {} ({e}); run ./scripts/test, which creates \
                     .venv, or set CM_EMULATOR_PYTHON",
                    python.display()
                )
            });
        let stdin = child.stdin.take();
        let stdout = child.stdout.take().expect("emulator stdout is piped");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut lines = BufReader::new(stdout).lines();
            for line in lines.by_ref().map_while(Result::ok) {
                if let Some(port) = line.strip_prefix("CM_EMULATOR_READY ") {
                    let _ = tx.send(port.trim().parse::<u16>().ok());
                    break;
                }
            }
            // Keep draining so the emulator never blocks on a full pipe.
            for _ in lines {}
        });
        let port = match rx.recv_timeout(Duration::from_secs(90)) {
            Ok(Some(port)) => port,
            other => {
                let _ = child.kill();
                panic!("the emulator did not report its port: {other:?}");
            }
        };
        Emulator { child, stdin, port }
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// SDK configuration pointing at the emulator, with test credentials.
    pub async fn sdk_config(&self) -> SdkConfig {
        aws_config::defaults(BehaviorVersion::latest())
            .http_client(cm_core::aws::http_client())
            .endpoint_url(self.endpoint())
            .region(Region::new(REGION))
            .credentials_provider(Credentials::new("test", "test", None, None, "cm-testkit"))
            .load()
            .await
    }

    /// The standard AWS environment a function process needs to reach the emulator.
    pub fn aws_env(&self) -> Vec<(String, String)> {
        [
            ("AWS_ENDPOINT_URL", self.endpoint()),
            ("AWS_REGION", REGION.to_string()),
            ("AWS_ACCESS_KEY_ID", "test".to_string()),
            ("AWS_SECRET_ACCESS_KEY", "test".to_string()),
            ("AWS_EC2_METADATA_DISABLED", "true".to_string()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect()
    }

    fn harness(&self, method: &str, path: &str, body: Option<&Value>) -> Value {
        let body = body.map(Value::to_string);
        let (status, text) = http::request(self.port, method, path, body.as_deref())
            .unwrap_or_else(|e| panic!("emulator {method} {path}: {e}"));
        let doc: Value = serde_json::from_str(&text).unwrap_or(Value::String(text));
        if status >= 400 {
            panic!("emulator {method} {path} answered {status}: {doc}");
        }
        doc
    }

    /// Calls received per `service:Operation` (e.g. `monitoring:PutMetricData`).
    pub fn calls(&self) -> HashMap<String, u64> {
        let doc = self.harness("GET", "/_cm/calls", None);
        serde_json::from_value(doc).unwrap_or_default()
    }

    /// Calls received of one `service:Operation`.
    pub fn call_count(&self, operation: &str) -> u64 {
        self.calls().get(operation).copied().unwrap_or(0)
    }

    /// Forgets the call counts and lifecycle actions.
    pub fn reset_counts(&self) {
        self.harness("POST", "/_cm/reset", None);
    }

    /// Registers a terminate lifecycle action waiting for CompleteLifecycleAction.
    pub fn begin_lifecycle_action(&self, group: &str, hook: &str, instance: &str, token: &str) {
        self.harness(
            "POST",
            "/_cm/lifecycle-actions",
            Some(&json!({
                "AutoScalingGroupName": group, "LifecycleHookName": hook,
                "InstanceId": instance, "LifecycleActionToken": token, "Region": REGION,
            })),
        );
    }

    /// Every message published to the region's SNS topics, in the SNS API's shape:
    /// `[{"TopicArn", "MessageId", "Subject", "Message", "MessageAttributes"}]`.
    pub fn sns_messages(&self) -> Vec<Value> {
        match self.harness("GET", &format!("/_cm/sns-messages?region={REGION}"), None) {
            Value::Array(messages) => messages,
            other => panic!("unexpected SNS message list: {other}"),
        }
    }

    /// Calls that change something: all but Describe*, List*, Get* and REST GETs.
    pub fn writes(&self) -> HashMap<String, u64> {
        self.calls()
            .into_iter()
            .filter(|(op, _)| {
                let op = op.split(':').nth(1).unwrap_or("");
                !(op.starts_with("Describe")
                    || op.starts_with("List")
                    || op.starts_with("Get")
                    || op.starts_with("GET "))
            })
            .collect()
    }

    /// The next `count` calls of `operation` (`service:Operation`, or `*`) are answered
    /// with `kind` (`throttle`: 400 Throttling; `unavailable`: 503), in the service's
    /// own protocol, without reaching moto.
    pub fn inject_fault(&self, operation: &str, kind: &str, count: u32) {
        self.harness(
            "POST",
            "/_cm/faults",
            Some(&json!({"operation": operation, "kind": kind, "count": count})),
        );
    }

    /// `{"pending": [...], "completed": [...]}`.
    pub fn lifecycle_actions(&self) -> Value {
        self.harness("GET", "/_cm/lifecycle-actions", None)
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        drop(self.stdin.take());
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
