#![cfg(feature = "emulator")]
//! The control panel's real binary against the local AWS emulator: a hosted zone
//! whose registry holds two containers in two regions (and one bad record), their
//! groups, a `Players` data point and the start token as an SSM SecureString. The
//! Discord requests are signed by an independent Ed25519 implementation: Python's
//! `cryptography` in the emulator's virtualenv, with a key generated for the run.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{SystemTime, UNIX_EPOCH};

use aws_sdk_autoscaling::Client as AutoScaling;
use cm_testkit::panel_fixture::{self, DOMAIN, START_TOKEN_PARAMETER};
use cm_testkit::{asg, repo_root, Emulator, Function};
use serde_json::{json, Value};

const TOKEN: &str = "emulator-start-token-5f1c9a";

/// Python's `cryptography`: `new` prints a fresh key's seed and public key in hex;
/// `sign SEED` signs the hex message read from standard input.
const SIGNER: &str = r#"
import sys
from cryptography.hazmat.primitives import serialization as s
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
if sys.argv[1] == "new":
    k = Ed25519PrivateKey.generate()
    seed = k.private_bytes(s.Encoding.Raw, s.PrivateFormat.Raw, s.NoEncryption())
    public = k.public_key().public_bytes(s.Encoding.Raw, s.PublicFormat.Raw)
    print(seed.hex(), public.hex())
else:
    k = Ed25519PrivateKey.from_private_bytes(bytes.fromhex(sys.argv[2]))
    print(k.sign(bytes.fromhex(sys.stdin.read().strip())).hex())
"#;

fn python() -> PathBuf {
    std::env::var_os("CM_EMULATOR_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join(".venv/bin/python"))
}

struct Signer {
    seed: String,
    public: String,
}

impl Signer {
    fn run(args: &[&str], input: &str) -> String {
        let mut child = Command::new(python())
            .arg("-c")
            .arg(SIGNER)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("the emulator's Python");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(input.as_bytes())
            .expect("write");
        let out = child.wait_with_output().expect("the signer ran");
        assert!(out.status.success(), "the signer failed");
        String::from_utf8(out.stdout)
            .expect("utf-8")
            .trim()
            .to_string()
    }

    fn new() -> Signer {
        let line = Signer::run(&["new"], "");
        let (seed, public) = line.split_once(' ').expect("seed and key");
        Signer {
            seed: seed.to_string(),
            public: public.to_string(),
        }
    }

    fn sign(&self, message: &[u8]) -> String {
        Signer::run(&["sign", &self.seed], &hex::encode(message))
    }
}

fn sample(name: &str) -> Value {
    let path = repo_root().join("events/control-panel").join(name);
    serde_json::from_str(&std::fs::read_to_string(path).expect("sample")).expect("json")
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// A Discord request with `body`, signed by `signer` at `timestamp`.
fn discord(signer: &Signer, body: &str, timestamp: u64) -> Value {
    let mut event = sample("discord-ping.json");
    let mut message = timestamp.to_string().into_bytes();
    message.extend_from_slice(body.as_bytes());
    event["headers"]["x-signature-ed25519"] = json!(signer.sign(&message));
    event["headers"]["x-signature-timestamp"] = json!(timestamp.to_string());
    event["body"] = json!(body);
    event
}

struct Setup {
    emulator: Emulator,
    function: Function,
    signer: Signer,
    us: AutoScaling,
    eu: AutoScaling,
}

fn response(function: &Function, event: Value) -> (u16, Value, Value) {
    let outcome = function.invoke(event);
    let response = outcome
        .response()
        .unwrap_or_else(|| panic!("an error: {:?}; {}", outcome.error(), function.log()))
        .clone();
    let status = response["statusCode"].as_u64().unwrap_or(0) as u16;
    let body = response["body"].as_str().unwrap_or_default();
    let doc = serde_json::from_str(body).unwrap_or(Value::String(body.to_string()));
    (status, doc, response["headers"].clone())
}

async fn setup() -> Setup {
    let emulator = Emulator::start();
    let world = panel_fixture::set_up(&emulator, TOKEN)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    // An entry the registry cannot read: the panel leaves it out.
    panel_fixture::put_txt(
        &world.route53,
        &world.zone,
        "bad._cm.example.com",
        "v=cm1 region=mars",
    )
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    let signer = Signer::new();
    let env: Vec<(String, String)> = [
        ("DOMAIN_NAME", DOMAIN.to_string()),
        ("HOSTED_ZONE_ID", world.zone),
        ("START_TOKEN_PARAMETER", START_TOKEN_PARAMETER.to_string()),
        ("DISCORD_PUBLIC_KEY", signer.public.clone()),
        ("METRIC_NAMESPACE", "ContainerManager".to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    let function = Function::start(
        Path::new(env!("CARGO_BIN_EXE_control-panel")),
        &emulator,
        &env,
    );
    Setup {
        emulator,
        function,
        signer,
        us: world.us,
        eu: world.eu,
    }
}

#[tokio::test]
async fn status_start_and_discord_against_the_emulator() {
    let s = setup().await;

    // The JSON status: both regions, the players of the one that reports them.
    let (status, doc, headers) = response(&s.function, sample("status.json"));
    assert_eq!(status, 200, "{doc}");
    assert_eq!(headers["content-type"], "application/json");
    assert_eq!(
        doc,
        json!({"containers": [
            {"name": "mc", "state": "up", "address": "mc.example.com", "players": 3},
            {"name": "vh", "state": "asleep", "address": "vh.example.com", "players": null},
        ]})
    );
    let (status, page, headers) = response(&s.function, sample("page.json"));
    assert_eq!(status, 200);
    assert!(headers["content-security-policy"]
        .as_str()
        .unwrap_or("")
        .contains("script-src 'sha256-"));
    assert!(page
        .as_str()
        .unwrap_or("")
        .contains("<li data-name=\"vh\">"));

    // A start: no token, a wrong one (nothing scaled), the right one (vh's group in
    // eu-west-1 goes to 1, mc's in us-east-1 is untouched).
    let start_vh = |auth: Option<&str>| {
        let mut e = sample("start.json");
        e["rawPath"] = json!("/start/vh");
        e["requestContext"]["http"]["path"] = json!("/start/vh");
        match auth {
            Some(a) => e["headers"]["authorization"] = json!(a),
            None => {
                e["headers"]
                    .as_object_mut()
                    .expect("headers")
                    .remove("authorization");
            }
        }
        e
    };
    assert_eq!(response(&s.function, start_vh(None)).0, 401);
    assert_eq!(response(&s.function, start_vh(Some("Bearer wrong"))).0, 401);
    assert_eq!(asg::desired(&s.eu, "cm-asg-dev-vh").await, 0);
    let (status, doc, _) = response(&s.function, start_vh(Some(&format!("Bearer {TOKEN}"))));
    assert_eq!(status, 202, "{doc}");
    assert_eq!(doc["name"], "vh");
    assert_eq!(asg::desired(&s.eu, "cm-asg-dev-vh").await, 1);
    assert_eq!(asg::desired(&s.us, "cm-asg-dev-mc").await, 1);
    let mut unknown = start_vh(Some(&format!("Bearer {TOKEN}")));
    unknown["rawPath"] = json!("/start/nope");
    assert_eq!(response(&s.function, unknown).0, 404);

    // Discord, signed by Python's cryptography.
    let t = now();
    let (status, doc, _) = response(&s.function, discord(&s.signer, r#"{"type":1}"#, t));
    assert_eq!((status, doc), (200, json!({"type": 1})));
    let status_cmd = r#"{"type":2,"data":{"name":"status","type":1}}"#;
    let (status, doc, _) = response(&s.function, discord(&s.signer, status_cmd, t));
    assert_eq!(status, 200);
    assert_eq!(doc["type"], 4);
    let content = doc["data"]["content"].as_str().unwrap_or_default();
    assert!(content.contains("**mc**: up, 3 players"), "{content}");
    assert!(content.contains("**vh**:"), "{content}");

    let start_mc = r#"{"type":2,"data":{"name":"start","type":1,"options":[{"name":"name","type":3,"value":"mc"}]}}"#;
    let (status, doc, _) = response(&s.function, discord(&s.signer, start_mc, t));
    assert_eq!(status, 200);
    assert!(doc["data"]["content"]
        .as_str()
        .unwrap_or_default()
        .starts_with("Starting **mc**"));

    // Refused: a tampered body, another key, no headers, a stale timestamp; nothing
    // is read or written for them.
    s.emulator.reset_counts();
    let mut tampered = discord(&s.signer, status_cmd, t);
    tampered["body"] = json!(start_mc);
    let other = Signer::new();
    let mut bare = discord(&s.signer, status_cmd, t);
    for h in ["x-signature-ed25519", "x-signature-timestamp"] {
        bare["headers"].as_object_mut().expect("headers").remove(h);
    }
    for (case, event) in [
        ("tampered", tampered),
        ("another key", discord(&other, status_cmd, t)),
        ("no headers", bare),
        ("stale", discord(&s.signer, status_cmd, t - 600)),
    ] {
        let (status, doc, _) = response(&s.function, event);
        assert_eq!(status, 401, "{case}: {doc}");
    }
    assert!(s.emulator.calls().is_empty(), "{:?}", s.emulator.calls());
    let log = s.function.log();
    assert!(!log.contains(TOKEN), "the token reached the log");
}
