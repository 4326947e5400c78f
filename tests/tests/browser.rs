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

use std::time::Duration;

use aws_sdk_autoscaling::Client as AutoScaling;
use cm_testkit::function::Spec;
use cm_testkit::function_url::FunctionUrl;
use cm_testkit::game_servers::NodeScript;
use cm_testkit::panel_fixture::{self, DOMAIN, START_TOKEN_PARAMETER};
use cm_testkit::{asg, functions_dir, http, repo_root, Emulator};
use serde_json::{json, Value};

const TOKEN: &str = "browser-start-token-8d2e61";
const WRONG: &str = "not-the-token";
/// How long one browser command may take (the first one unpacks Chromium).
const COMMAND_WAIT: Duration = Duration::from_secs(120);

/// `drive.mjs` of `tests/fixtures/browser`: one JSON command per line in, one JSON
/// answer per line out. Dropped, its standard input is closed, which closes the
/// browser; after 5 s it is killed.
struct Browser(NodeScript);

impl Browser {
    fn start() -> Browser {
        Browser(NodeScript::start("browser", "drive.mjs", &[]).unwrap_or_else(|e| panic!("{e}")))
    }

    /// Runs one command; panics with the driver's log if it failed or said nothing.
    fn run(&mut self, command: Value) -> Value {
        let driver = &mut self.0;
        driver
            .send(&command.to_string())
            .unwrap_or_else(|e| panic!("{e}"));
        let line = driver.next_line(COMMAND_WAIT).unwrap_or_else(|e| {
            panic!("{e}, answering {command}; its log:\n{}", driver.log_text())
        });
        let answer: Value = serde_json::from_str(&line).unwrap_or_else(|e| {
            panic!(
                "drive.mjs printed {line:?} ({e}); log:\n{}",
                driver.log_text()
            )
        });
        assert!(
            answer.get("error").is_none(),
            "{command}: {}; log:\n{}",
            answer["error"].as_str().unwrap_or_default(),
            driver.log_text()
        );
        answer
    }
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
    let world = panel_fixture::set_up(&emulator, TOKEN)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let (us, eu) = (&world.us, &world.eu);
    let function = Spec::binary("control-panel")
        .envs(emulator.aws_env())
        .envs(
            [
                ("DOMAIN_NAME", DOMAIN),
                ("HOSTED_ZONE_ID", world.zone.as_str()),
                ("START_TOKEN_PARAMETER", START_TOKEN_PARAMETER),
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
        group_state(us, "cm-asg-dev-mc").await,
        group_state(eu, "cm-asg-dev-vh").await,
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
    assert_eq!(asg::desired(eu, "cm-asg-dev-vh").await, 0);

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
    assert_eq!(asg::desired(eu, "cm-asg-dev-vh").await, 1);
    assert_eq!(asg::desired(us, "cm-asg-dev-mc").await, 1);

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
    assert_eq!(states[1].1, group_state(eu, "cm-asg-dev-vh").await);

    assert!(
        !url.function().log().contains(TOKEN),
        "the token reached the function's log"
    );
}
