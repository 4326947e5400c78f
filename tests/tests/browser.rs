#![cfg(feature = "emulator")]
//! control-panel's status page in a real browser: headless Chromium (shipped inside
//! the npm package `@sparticuz/chromium`, driven by `puppeteer-core`; both pinned in
//! `tests/fixtures/browser`, installed with `npm ci` on first use; needs Node 20 and
//! npm) loads the page from the control panel's real binary behind a local Function
//! URL ([`cm_testkit::function_url`]), against the emulator: a hosted zone whose
//! registry holds `mc` (us-east-1, up, 3 players) and `vh` (eu-west-1, asleep).
//!
//! The browser reads the names and states the page shows, then presses `vh`'s start
//! button twice: with a wrong token typed in the token field (the page says so, and
//! nothing is scaled), then with the field empty, answering the page's prompt with
//! the start token (the POST carries `Authorization: Bearer <token>`, and `vh`'s
//! group goes to 1).
//!
//! The README's screenshot, `docs/images/status-page.png`, is taken after the start:
//! only when it is missing or `CM_UPDATE_SCREENSHOT=1`, so a normal run leaves the
//! tree as it was.
//!
//! Needs the control panel's binary: `cargo build -p control-panel` (or `cargo build
//! --workspace --bins`, which `./scripts/test` does first).

use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::ChildStdin;
use std::sync::mpsc::{self, Receiver};
use std::sync::OnceLock;
use std::time::{Duration, SystemTime};

use aws_config::Region;
use aws_sdk_autoscaling::Client as AutoScaling;
use aws_sdk_route53::types::{
    Change, ChangeAction, ChangeBatch, ResourceRecord, ResourceRecordSet, RrType,
};
use cm_core::registry::{self, Entry};
use cm_testkit::emulator::create_zone;
use cm_testkit::function::Spec;
use cm_testkit::function_url::FunctionUrl;
use cm_testkit::process::{Process, Sink, Spawn};
use cm_testkit::{asg, functions_dir, http, repo_root, Emulator};
use serde_json::{json, Value};

const DOMAIN: &str = "example.com";
const PARAMETER: &str = "/cm/dev/start-token";
const TOKEN: &str = "browser-start-token-8d2e61";
const WRONG: &str = "not-the-token";
/// How long one browser command may take (the first one unpacks Chromium).
const COMMAND_WAIT: Duration = Duration::from_secs(120);

fn fixtures_dir() -> PathBuf {
    repo_root().join("tests/fixtures/browser")
}

/// Installs the pinned packages once per test process when they are missing (as the
/// game-server fixtures are installed).
fn install() -> Result<PathBuf, String> {
    static INSTALLED: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    INSTALLED
        .get_or_init(|| {
            let dir = fixtures_dir();
            if dir.join("node_modules/.package-lock.json").exists() {
                return Ok(dir);
            }
            let out = Spawn::new("npm")
                .args(["ci", "--no-audit", "--no-fund", "--prefix"])
                .args([dir.as_os_str()])
                .run()
                .map_err(|e| format!("{e}: the browser fixtures need Node 20 and npm"))?;
            if !out.status.success() {
                return Err(format!(
                    "npm ci in {} failed: {}",
                    dir.display(),
                    String::from_utf8_lossy(&out.stderr)
                ));
            }
            Ok(dir)
        })
        .clone()
}

/// `drive.mjs`: one JSON command per line in, one JSON answer per line out.
struct Browser {
    stdin: Option<ChildStdin>,
    lines: Receiver<String>,
    log: PathBuf,
    /// Declared last: dropped (killed) after standard input is closed.
    process: Process,
}

impl Browser {
    fn start() -> Browser {
        let dir = install().unwrap_or_else(|e| panic!("{e}"));
        let log = std::env::temp_dir().join(format!("cm-browser-{}.log", std::process::id()));
        let mut process = Spawn::new("node")
            .args([dir.join("drive.mjs").into_os_string()])
            .stdin_piped()
            .output(Sink::PipeStdoutLog(log.clone()))
            .start()
            .unwrap_or_else(|e| panic!("{e}"));
        let stdout = process.take_stdout().expect("drive.mjs's standard output");
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Browser {
            stdin: process.take_stdin(),
            lines,
            log,
            process,
        }
    }

    /// Runs one command; panics with the driver's log if it failed or said nothing.
    fn run(&mut self, command: Value) -> Value {
        let stdin = self.stdin.as_mut().expect("drive.mjs's standard input");
        writeln!(stdin, "{command}")
            .and_then(|()| stdin.flush())
            .unwrap_or_else(|e| panic!("write to drive.mjs: {e}"));
        let log = || std::fs::read_to_string(&self.log).unwrap_or_default();
        let line = self.lines.recv_timeout(COMMAND_WAIT).unwrap_or_else(|_| {
            panic!(
                "drive.mjs did not answer {command} within {COMMAND_WAIT:?}; its log ({}):\n{}",
                self.log.display(),
                log()
            )
        });
        let answer: Value = serde_json::from_str(&line)
            .unwrap_or_else(|e| panic!("drive.mjs printed {line:?} ({e}); log:\n{}", log()));
        assert!(
            answer.get("error").is_none(),
            "{command}: {}; log:\n{}",
            answer["error"].as_str().unwrap_or_default(),
            log()
        );
        answer
    }
}

impl Drop for Browser {
    /// Closing standard input closes the browser; after 5 s it is killed.
    fn drop(&mut self) {
        self.stdin.take();
        let _ = self.process.wait_timeout(Duration::from_secs(5));
    }
}

fn entry(name: &str, region: &str) -> Entry {
    Entry {
        name: name.into(),
        region: region.into(),
        asg: format!("cm-asg-dev-{name}"),
        metric: format!("cm-dev-{name}"),
        threshold: 20.0,
    }
}

async fn add_txt(route53: &aws_sdk_route53::Client, zone: &str, name: &str, value: &str) {
    let record = ResourceRecordSet::builder()
        .name(name)
        .r#type(RrType::Txt)
        .ttl(300)
        .resource_records(
            ResourceRecord::builder()
                .value(value)
                .build()
                .expect("value"),
        )
        .build()
        .expect("record");
    route53
        .change_resource_record_sets()
        .hosted_zone_id(zone)
        .change_batch(
            ChangeBatch::builder()
                .changes(
                    Change::builder()
                        .action(ChangeAction::Upsert)
                        .resource_record_set(record)
                        .build()
                        .expect("change"),
                )
                .build()
                .expect("batch"),
        )
        .send()
        .await
        .expect("ChangeResourceRecordSets");
}

/// The state a group is in, by the control panel's rule: an InService instance is
/// up, a desired capacity without one is starting, neither is asleep.
async fn group_state(autoscaling: &AutoScaling, group: &str) -> &'static str {
    let desired = asg::desired(autoscaling, group).await;
    let instances = asg::instances(autoscaling, group).await;
    if instances.iter().any(|(_, state)| state == "InService") {
        "up"
    } else if desired > 0 {
        "starting"
    } else {
        "asleep"
    }
}

/// `(name, state, address, players)` of each row the page shows.
fn rows(answer: &Value) -> Vec<(String, String, String, String)> {
    answer["rows"]
        .as_array()
        .expect("rows")
        .iter()
        .map(|r| {
            let text = |k: &str| r[k].as_str().unwrap_or_default().to_string();
            (
                text("name"),
                text("state"),
                text("address"),
                text("players"),
            )
        })
        .collect()
}

fn no_problems(answer: &Value, step: &str) {
    assert_eq!(
        answer["problems"],
        json!([]),
        "{step}: the browser reported problems"
    );
}

#[tokio::test]
async fn the_status_page_in_a_real_browser() {
    let binary = functions_dir().join("control-panel");
    assert!(
        binary.exists(),
        "{} is missing: run `cargo build -p control-panel` first",
        binary.display()
    );
    let emulator = Emulator::start();
    let sdk = emulator.sdk_config().await;
    let route53 = aws_sdk_route53::Client::new(&sdk);
    let zone = create_zone(&route53, DOMAIN, "0.0.0.0")
        .await
        .expect("zone");
    for e in [entry("mc", "us-east-1"), entry("vh", "eu-west-1")] {
        add_txt(
            &route53,
            &zone,
            &registry::record_name(&e.name, DOMAIN),
            &format!("\"{}\"", registry::format_value(&e)),
        )
        .await;
    }
    let us = AutoScaling::new(&sdk);
    let eu = AutoScaling::from_conf(
        aws_sdk_autoscaling::config::Builder::from(&sdk)
            .region(Region::new("eu-west-1"))
            .build(),
    );
    asg::create_group(&us, "cm-asg-dev-mc", "us-east-1a", 1)
        .await
        .expect("group mc");
    asg::create_group(&eu, "cm-asg-dev-vh", "eu-west-1a", 0)
        .await
        .expect("group vh");
    aws_sdk_ssm::Client::new(&sdk)
        .put_parameter()
        .name(PARAMETER)
        .value(TOKEN)
        .r#type(aws_sdk_ssm::types::ParameterType::SecureString)
        .send()
        .await
        .expect("PutParameter");
    aws_sdk_cloudwatch::Client::new(&sdk)
        .put_metric_data()
        .namespace("ContainerManager")
        .metric_data(
            aws_sdk_cloudwatch::types::MetricDatum::builder()
                .metric_name("Players")
                .dimensions(
                    aws_sdk_cloudwatch::types::Dimension::builder()
                        .name("ContainerName")
                        .value("cm-dev-mc")
                        .build(),
                )
                .value(3.0)
                .unit(aws_sdk_cloudwatch::types::StandardUnit::Count)
                .timestamp(aws_sdk_cloudwatch::primitives::DateTime::from(
                    SystemTime::now() - Duration::from_secs(60),
                ))
                .build(),
        )
        .send()
        .await
        .expect("PutMetricData");
    let function = Spec::binary("control-panel")
        .envs(emulator.aws_env())
        .envs(
            [
                ("DOMAIN_NAME", DOMAIN),
                ("HOSTED_ZONE_ID", zone.as_str()),
                ("START_TOKEN_PARAMETER", PARAMETER),
                ("METRIC_NAMESPACE", "ContainerManager"),
            ]
            .map(|(k, v)| (k.to_string(), v.to_string())),
        )
        .temp_log()
        .start()
        .unwrap_or_else(|e| panic!("{e}"));
    let url = FunctionUrl::start(function).expect("the Function URL");
    let mut browser = Browser::start();

    // The page shows each container as the emulator holds it.
    let page = browser.run(json!({"cmd": "open", "url": format!("{}/", url.url())}));
    no_problems(&page, "open");
    assert_eq!(page["title"], "Servers of example.com");
    let (mc, vh) = (
        group_state(&us, "cm-asg-dev-mc").await,
        group_state(&eu, "cm-asg-dev-vh").await,
    );
    assert_eq!((mc, vh), ("up", "asleep"), "the emulator's groups");
    let row = |n: &str, s: &str, p: &str| {
        (
            n.to_string(),
            s.to_string(),
            format!("{n}.{DOMAIN}"),
            p.to_string(),
        )
    };
    assert_eq!(
        rows(&page),
        vec![row("mc", mc, "3 players"), row("vh", vh, "")],
        "{page}"
    );
    let first = &url.events()[0];
    assert_eq!(
        (
            &first["rawPath"],
            &first["requestContext"]["http"]["method"]
        ),
        (&json!("/"), &json!("GET"))
    );

    // A wrong token typed in the field: the page says so, clears the field, and
    // nothing changes anywhere.
    emulator.reset_counts();
    let wrong = browser.run(json!({"cmd": "start", "name": "vh", "field": WRONG}));
    no_problems(&wrong, "start with a wrong token");
    assert_eq!(wrong["request"]["method"], "POST");
    assert_eq!(wrong["request"]["url"], format!("{}/start/vh", url.url()));
    assert_eq!(wrong["request"]["authorization"], format!("Bearer {WRONG}"));
    assert_eq!(
        wrong["dialog"],
        Value::Null,
        "the typed token needs no prompt"
    );
    assert_eq!(wrong["status"], 401);
    assert_eq!(wrong["message"], "That is not the start token.");
    assert_eq!(wrong["tokenField"], "");
    assert_eq!(rows(&wrong)[1].1, "asleep");
    assert_eq!(
        emulator.writes(),
        Default::default(),
        "a refused start wrote"
    );
    assert_eq!(asg::desired(&eu, "cm-asg-dev-vh").await, 0);

    // The field empty: the page prompts for the token and posts it.
    let started = browser.run(json!({"cmd": "start", "name": "vh", "prompt": TOKEN}));
    no_problems(&started, "start with the token");
    assert_eq!(started["dialog"]["type"], "prompt");
    assert_eq!(started["dialog"]["message"], "Start token");
    assert_eq!(started["request"]["method"], "POST");
    assert_eq!(
        started["request"]["authorization"],
        format!("Bearer {TOKEN}")
    );
    assert_eq!(started["status"], 202);
    assert_eq!(started["message"], "vh is starting.");
    assert_eq!(rows(&started)[1].1, "starting");
    assert_eq!(asg::desired(&eu, "cm-asg-dev-vh").await, 1);
    assert_eq!(asg::desired(&us, "cm-asg-dev-mc").await, 1);

    // What the function was given: the two starts as Function URL events.
    let starts: Vec<Value> = url
        .events()
        .into_iter()
        .filter(|e| e["rawPath"] == "/start/vh")
        .collect();
    let auth: Vec<&Value> = starts
        .iter()
        .map(|e| &e["headers"]["authorization"])
        .collect();
    assert_eq!(
        auth,
        vec![
            &json!(format!("Bearer {WRONG}")),
            &json!(format!("Bearer {TOKEN}"))
        ]
    );
    assert!(starts
        .iter()
        .all(|e| e["requestContext"]["http"]["method"] == "POST" && e.get("body").is_none()));

    let screenshot = repo_root().join("docs/images/status-page.png");
    if std::env::var_os("CM_UPDATE_SCREENSHOT").is_some_and(|v| v == "1") || !screenshot.exists() {
        std::fs::create_dir_all(screenshot.parent().expect("docs/images")).expect("docs/images");
        let shot = browser.run(json!({"cmd": "screenshot", "path": screenshot}));
        assert!(shot["bytes"].as_u64().unwrap_or(0) > 1000, "{shot}");
    }

    // A reload shows what /status says now.
    let reloaded = browser.run(json!({"cmd": "reload"}));
    no_problems(&reloaded, "reload");
    let (status, body) = http::request(url.port(), "GET", "/status", None).expect("/status");
    assert_eq!(status, 200);
    let doc: Value = serde_json::from_str(&body).expect("/status is JSON");
    let states: Vec<(String, String)> = doc["containers"]
        .as_array()
        .expect("containers")
        .iter()
        .map(|c| {
            let text = |k: &str| c[k].as_str().unwrap_or_default().to_string();
            (text("name"), text("state"))
        })
        .collect();
    let shown: Vec<(String, String)> = rows(&reloaded).into_iter().map(|r| (r.0, r.1)).collect();
    assert_eq!(shown, states);
    assert_eq!(states[1].1, group_state(&eu, "cm-asg-dev-vh").await);

    assert!(
        !url.function().log().contains(TOKEN),
        "the token reached the function's log"
    );
}
