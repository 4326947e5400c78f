//! The fast tier: `handle` with the in-memory [`FakeCloud`] on the sample requests of
//! `events/control-panel/` and the configuration of `events/env.json`: every route,
//! the start token's cases, the registry read in pages, and Discord requests signed
//! here with a freshly generated key (tampered, signed by another key, without their
//! headers, stale: each refused with no call made). No Python, no network.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use cm_core::testing::registry_entry as entry;
use cm_testkit::env_json::function_env;
use control_panel::{handle, Config, FakeCloud, Outcome};
use ed25519_dalek::{Signer, SigningKey};
use serde_json::{json, Value};

const DOMAIN: &str = "example.com";
const ZONE: &str = "Z0123456789ABCDEFGHIJ";
const TOKEN: &str = "example-start-token";
const SAMPLES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../events/control-panel");

fn sample(name: &str) -> Value {
    let path = format!("{SAMPLES}/{name}");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("parse {path}: {e}"))
}

/// The samples' request time (their `x-signature-timestamp`).
const SENT: u64 = 1_796_173_800;

fn at(seconds: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(seconds)
}

/// A fresh signing key from 32 random bytes.
fn fresh_key() -> SigningKey {
    let mut seed = [0u8; 32];
    for (i, chunk) in seed.chunks_mut(8).enumerate() {
        let mut h = RandomState::new().build_hasher();
        h.write_usize(i);
        chunk.copy_from_slice(&h.finish().to_le_bytes());
    }
    SigningKey::from_bytes(&seed)
}

fn config_with(changes: &[(&str, Option<&str>)]) -> Config {
    Config::from_env(function_env("ControlPanelFunction", changes)).expect("a valid configuration")
}

fn config_for(key: &SigningKey) -> Config {
    let public = hex::encode(key.verifying_key().as_bytes());
    config_with(&[("DISCORD_PUBLIC_KEY", Some(&public))])
}

/// Two containers in two regions: `mc` up in us-east-1 with 2 players, `vh` asleep in
/// eu-west-1; and the token in its parameter.
fn two_regions() -> FakeCloud {
    let fake = FakeCloud::default();
    fake.zone.register(&entry("mc", "us-east-1"), DOMAIN);
    fake.zone.register(&entry("vh", "eu-west-1"), DOMAIN);
    fake.zone
        .add_record("example.com.", "NS", &["ns-1.awsdns-00.com."]);
    fake.zone
        .add_record("mc.example.com.", "A", &["192.0.2.10"]);
    fake.add_group("us-east-1", "cm-asg-dev-mc", 1, &["InService"]);
    fake.add_group("eu-west-1", "cm-asg-dev-vh", 0, &[]);
    fake.set_players("us-east-1", "cm-dev-mc", 2.0);
    fake.set_token(TOKEN);
    fake
}

async fn run(config: &Config, fake: &FakeCloud, event: &Value) -> Outcome {
    handle(config, fake, event, at(SENT))
        .await
        .expect("a Function URL request is answered")
}

fn body(outcome: &Outcome) -> String {
    outcome.response.body.clone().unwrap_or_default()
}

fn json_body(outcome: &Outcome) -> Value {
    serde_json::from_str(&body(outcome)).expect("a JSON body")
}

fn header<'a>(outcome: &'a Outcome, name: &str) -> Option<&'a str> {
    outcome
        .response
        .headers
        .get(name)
        .and_then(|v| v.to_str().ok())
}

/// `event` with `path`, `method` and headers changed.
fn with(event: &Value, method: &str, path: &str, headers: &[(&str, Option<&str>)]) -> Value {
    let mut event = event.clone();
    event["rawPath"] = json!(path);
    event["requestContext"]["http"]["path"] = json!(path);
    event["requestContext"]["http"]["method"] = json!(method);
    for (name, value) in headers {
        match value {
            Some(v) => event["headers"][*name] = json!(v),
            None => {
                event["headers"]
                    .as_object_mut()
                    .expect("headers")
                    .remove(*name);
            }
        }
    }
    event
}

/// A Discord request: the sample's body (or `body`), signed by `key` at `timestamp`.
fn signed(name: &str, key: &SigningKey, timestamp: u64, body: Option<&str>) -> Value {
    let mut event = sample(name);
    let text = match body {
        Some(b) => b.to_string(),
        None => original_body(&event),
    };
    let mut message = timestamp.to_string().into_bytes();
    message.extend_from_slice(text.as_bytes());
    let signature = hex::encode(key.sign(&message).to_bytes());
    event["headers"]["x-signature-ed25519"] = json!(signature);
    event["headers"]["x-signature-timestamp"] = json!(timestamp.to_string());
    event["body"] = json!(text);
    event["isBase64Encoded"] = json!(false);
    event
}

fn original_body(event: &Value) -> String {
    use base64::Engine;
    let raw = event["body"].as_str().unwrap_or_default();
    if event["isBase64Encoded"] == json!(true) {
        String::from_utf8(
            base64::engine::general_purpose::STANDARD
                .decode(raw)
                .expect("base64"),
        )
        .expect("utf-8")
    } else {
        raw.to_string()
    }
}

// ------------------------------------------------------------------ the status

#[tokio::test]
async fn the_json_status_lists_every_container_of_the_domain_across_regions() {
    let fake = two_regions();
    let outcome = run(&config_with(&[]), &fake, &sample("status.json")).await;
    assert_eq!(outcome.status, 200);
    assert_eq!(header(&outcome, "content-type"), Some("application/json"));
    assert_eq!(header(&outcome, "cache-control"), Some("no-store"));
    assert_eq!(
        json_body(&outcome),
        json!({"containers": [
            {"name": "mc", "state": "up", "address": "mc.example.com", "players": 2},
            {"name": "vh", "state": "asleep", "address": "vh.example.com", "players": null},
        ]})
    );
    let mut calls = fake.recorder.calls();
    calls.sort();
    assert_eq!(
        calls,
        vec![
            "DescribeAutoScalingGroups eu-west-1 cm-asg-dev-vh",
            "DescribeAutoScalingGroups us-east-1 cm-asg-dev-mc",
            "GetMetricData eu-west-1 ContainerManager cm-dev-vh",
            "GetMetricData us-east-1 ContainerManager cm-dev-mc",
            &format!("ListResourceRecordSets {ZONE} _cm.example.com TXT"),
        ]
    );
    assert!(fake.recorder.writes().is_empty());
    assert_eq!(outcome.containers, Some(2));
}

#[tokio::test]
async fn each_state_follows_its_group() {
    let fake = FakeCloud::default();
    for (name, desired, states) in [
        ("asleep", 0, &[][..]),
        ("booting", 1, &["Pending"][..]),
        ("ordered", 1, &[][..]),
        ("running", 1, &["InService"][..]),
        ("leaving", 0, &["Terminating:Wait"][..]),
    ] {
        fake.zone.register(&entry(name, "us-east-1"), DOMAIN);
        fake.add_group("us-east-1", &format!("cm-asg-dev-{name}"), desired, states);
    }
    fake.zone.register(&entry("gone", "us-east-1"), DOMAIN);
    let outcome = run(&config_with(&[]), &fake, &sample("status.json")).await;
    let states: Vec<(String, String)> = json_body(&outcome)["containers"]
        .as_array()
        .expect("containers")
        .iter()
        .map(|c| {
            (
                c["name"].as_str().unwrap_or_default().to_string(),
                c["state"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    let expected = [
        ("asleep", "asleep"),
        ("booting", "starting"),
        ("gone", "unknown"),
        ("leaving", "stopping"),
        ("ordered", "starting"),
        ("running", "up"),
    ];
    assert_eq!(
        states,
        expected
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect::<Vec<_>>()
    );
    // One group read for the whole region.
    assert_eq!(fake.recorder.count("DescribeAutoScalingGroups"), 1);
}

#[tokio::test]
async fn the_page_shows_every_container_escaped_and_works_with_its_own_script_only() {
    let fake = two_regions();
    let outcome = run(&config_with(&[]), &fake, &sample("page.json")).await;
    assert_eq!(outcome.status, 200);
    assert_eq!(
        header(&outcome, "content-type"),
        Some("text/html; charset=utf-8")
    );
    let csp = header(&outcome, "content-security-policy").expect("a CSP");
    assert!(
        csp.contains("script-src 'sha256-") && !csp.contains("unsafe"),
        "{csp}"
    );
    let page = body(&outcome);
    assert!(page.starts_with("<!doctype html>"));
    assert!(page.contains("<meta name=\"viewport\""));
    for part in [
        "<li data-name=\"mc\">",
        "<span class=\"state up\">up</span>",
        "<div class=\"address\">mc.example.com</div>",
        "<div class=\"players\">2 players</div>",
        "<button type=\"button\" data-start=\"mc\">Start</button>",
        "<li data-name=\"vh\">",
        "<span class=\"state asleep\">asleep</span>",
        "<div class=\"players\"></div>",
        "<input id=\"token\" type=\"password\"",
        "'Authorization': 'Bearer ' + t",
    ] {
        assert!(page.contains(part), "{part} missing from the page");
    }
    assert!(!page.contains(TOKEN));
    assert!(fake.recorder.writes().is_empty());
}

#[tokio::test]
async fn the_registry_is_read_page_after_page_until_its_last_entry() {
    let fake = two_regions();
    fake.zone.add_record(
        "bad._cm.example.com.",
        "TXT",
        &["\"v=cm1 region=nowhere asg=x metric=y threshold=1\""],
    );
    fake.zone
        .add_record("www.example.com.", "CNAME", &["example.net."]);
    fake.zone.add_record("zz.example.com.", "A", &["192.0.2.1"]);
    fake.zone.set_page_size(1);
    let outcome = run(&config_with(&[]), &fake, &sample("status.json")).await;
    let doc = json_body(&outcome);
    let names: Vec<&str> = doc["containers"]
        .as_array()
        .expect("containers")
        .iter()
        .filter_map(|c| c["name"].as_str())
        .collect();
    assert_eq!(names, ["mc", "vh"]);
    // bad, mc, vh, then www (past the entries): four pages, not the whole zone.
    assert_eq!(fake.recorder.count("ListResourceRecordSets"), 4);
}

#[tokio::test]
async fn a_registry_that_cannot_be_read_is_a_502_and_a_silent_region_is_unknown() {
    let fake = two_regions();
    fake.recorder.fail("ListResourceRecordSets", 1);
    let outcome = run(&config_with(&[]), &fake, &sample("status.json")).await;
    assert_eq!(outcome.status, 502);
    assert_eq!(
        json_body(&outcome),
        json!({"error": "the container list could not be read"})
    );
    assert!(outcome.note.as_deref().unwrap_or("").contains("Throttling"));

    let fake = two_regions();
    fake.recorder.fail("DescribeAutoScalingGroups", 1);
    fake.recorder.fail("GetMetricData", 2);
    let outcome = run(&config_with(&[]), &fake, &sample("status.json")).await;
    assert_eq!(outcome.status, 200);
    let states: Vec<Value> = json_body(&outcome)["containers"]
        .as_array()
        .expect("containers")
        .iter()
        .map(|c| json!([c["state"], c["players"]]))
        .collect();
    // One region's groups failed: its container is unknown, the other is shown.
    assert!(states.contains(&json!(["unknown", null])), "{states:?}");
    assert!(
        states.contains(&json!(["up", null])) || states.contains(&json!(["asleep", null])),
        "{states:?}"
    );
}

// ------------------------------------------------------------------ the start

#[tokio::test]
async fn a_start_without_a_token_is_refused_before_anything_is_read() {
    let fake = two_regions();
    let outcome = run(
        &config_with(&[]),
        &fake,
        &sample("start-without-token.json"),
    )
    .await;
    assert_eq!(outcome.status, 401);
    assert_eq!(json_body(&outcome), json!({"error": "unauthorized"}));
    assert!(fake.recorder.calls().is_empty());
    for auth in ["Basic ZXhhbXBsZQ==", "Bearer", "Bearer   "] {
        let event = with(
            &sample("start.json"),
            "POST",
            "/start/mc",
            &[("authorization", Some(auth))],
        );
        assert_eq!(run(&config_with(&[]), &fake, &event).await.status, 401);
    }
    assert!(fake.recorder.calls().is_empty());
    assert_eq!(fake.desired("us-east-1", "cm-asg-dev-mc"), Some(1));
    assert_eq!(fake.desired("eu-west-1", "cm-asg-dev-vh"), Some(0));
}

#[tokio::test]
async fn a_wrong_token_is_refused_and_scales_nothing() {
    let fake = two_regions();
    for wrong in ["example-start-tokeN", "example-start-token-and-more", "x"] {
        let event = with(
            &sample("start.json"),
            "POST",
            "/start/vh",
            &[("authorization", Some(&format!("Bearer {wrong}")))],
        );
        let outcome = run(&config_with(&[]), &fake, &event).await;
        assert_eq!(outcome.status, 401, "{wrong}");
        let logged = serde_json::to_string(&outcome).expect("json");
        assert!(
            !logged.contains(wrong) && !logged.contains(TOKEN),
            "{logged}"
        );
    }
    assert_eq!(
        fake.recorder.calls(),
        vec!["GetParameter /cm/dev/start-token"; 3]
    );
    assert_eq!(fake.desired("eu-west-1", "cm-asg-dev-vh"), Some(0));
}

#[tokio::test]
async fn the_right_token_starts_the_container_in_its_own_region() {
    let fake = two_regions();
    let event = with(&sample("start.json"), "POST", "/start/vh", &[]);
    let outcome = run(&config_with(&[]), &fake, &event).await;
    assert_eq!(outcome.status, 202);
    assert_eq!(
        json_body(&outcome),
        json!({"name": "vh", "address": "vh.example.com", "state": "starting"})
    );
    assert_eq!(
        fake.recorder.writes(),
        vec!["UpdateAutoScalingGroup eu-west-1 cm-asg-dev-vh DesiredCapacity=1"]
    );
    assert_eq!(fake.desired("eu-west-1", "cm-asg-dev-vh"), Some(1));
    let logged = serde_json::to_value(&outcome).expect("json");
    assert_eq!(
        logged["actions"],
        json!([{"call": "UpdateAutoScalingGroup", "region": "eu-west-1",
                "group": "cm-asg-dev-vh", "desired_capacity": 1}])
    );
    assert!(!logged.to_string().contains(TOKEN));
    // The scheme in any case; then the status shows it starting.
    let event = with(
        &sample("start.json"),
        "POST",
        "/start/mc",
        &[("authorization", Some(&format!("bearer {TOKEN}")))],
    );
    assert_eq!(run(&config_with(&[]), &fake, &event).await.status, 202);
    let status = run(&config_with(&[]), &fake, &sample("status.json")).await;
    assert_eq!(json_body(&status)["containers"][1]["state"], "starting");
}

#[tokio::test]
async fn an_unknown_container_is_a_404_and_a_failed_read_or_scale_is_answered() {
    let fake = two_regions();
    let event = with(&sample("start.json"), "POST", "/start/nope", &[]);
    let outcome = run(&config_with(&[]), &fake, &event).await;
    assert_eq!(outcome.status, 404);
    assert_eq!(
        json_body(&outcome),
        json!({"error": "no container named nope"})
    );
    assert!(fake.recorder.writes().is_empty());

    let fake = two_regions();
    fake.recorder.fail("GetParameter", 1);
    let outcome = run(&config_with(&[]), &fake, &sample("start.json")).await;
    assert_eq!(outcome.status, 503);
    assert_eq!(
        fake.recorder.calls(),
        vec!["GetParameter /cm/dev/start-token"]
    );

    let fake = two_regions();
    fake.recorder.fail("UpdateAutoScalingGroup", 1);
    let outcome = run(&config_with(&[]), &fake, &sample("start.json")).await;
    assert_eq!(outcome.status, 502);
    assert_eq!(
        json_body(&outcome),
        json!({"error": "mc could not be started"})
    );
    assert!(outcome.actions.is_empty());

    // A registered container whose group is gone: AWS refuses, the answer says so.
    let fake = FakeCloud::default();
    fake.zone.register(&entry("mc", "us-east-1"), DOMAIN);
    fake.set_token(TOKEN);
    assert_eq!(
        run(&config_with(&[]), &fake, &sample("start.json"))
            .await
            .status,
        502
    );

    // An empty token in the parameter lets no one in.
    let fake = two_regions();
    fake.set_token("");
    let event = with(
        &sample("start.json"),
        "POST",
        "/start/mc",
        &[("authorization", Some("Bearer x"))],
    );
    assert_eq!(run(&config_with(&[]), &fake, &event).await.status, 401);
    assert!(fake.recorder.writes().is_empty());
}

// ------------------------------------------------------------------ routes

#[tokio::test]
async fn other_paths_are_404_and_other_methods_405() {
    let fake = two_regions();
    let base = sample("status.json");
    for (method, path, status, allow) in [
        ("GET", "/nope", 404, None),
        ("GET", "/status/", 404, None),
        ("POST", "/start/", 404, None),
        ("POST", "/start/Bad_Name", 404, None),
        ("POST", "/status", 405, Some("GET")),
        ("DELETE", "/", 405, Some("GET")),
        ("GET", "/start/mc", 405, Some("POST")),
        ("GET", "/discord", 405, Some("POST")),
        ("PUT", "/discord", 405, Some("POST")),
    ] {
        let outcome = run(&config_with(&[]), &fake, &with(&base, method, path, &[])).await;
        assert_eq!(outcome.status, status, "{method} {path}");
        assert_eq!(header(&outcome, "allow"), allow, "{method} {path}");
    }
    assert!(fake.recorder.calls().is_empty());
    let mut big = sample("start.json");
    big["body"] = json!("x".repeat(70_000));
    assert_eq!(run(&config_with(&[]), &fake, &big).await.status, 413);
    assert!(fake.recorder.calls().is_empty());
}

#[tokio::test]
async fn an_event_that_is_not_a_function_url_request_is_an_error() {
    let fake = two_regions();
    for event in [json!({"source": "aws.autoscaling"}), json!([]), {
        let mut e = sample("discord-status.json");
        e["body"] = json!("not base64!");
        e
    }] {
        let err = handle(&config_with(&[]), &fake, &event, at(SENT))
            .await
            .expect_err("refused");
        assert_eq!(err.kind(), "InvalidEvent", "{err}");
    }
    assert!(fake.recorder.calls().is_empty());
}

// ------------------------------------------------------------------ Discord

#[tokio::test]
async fn discord_is_404_when_no_key_is_configured() {
    let fake = two_regions();
    let key = fresh_key();
    let config = config_with(&[("DISCORD_PUBLIC_KEY", None)]);
    let outcome = run(
        &config,
        &fake,
        &signed("discord-ping.json", &key, SENT, None),
    )
    .await;
    assert_eq!(outcome.status, 404);
    assert!(fake.recorder.calls().is_empty());
}

#[tokio::test]
async fn a_signed_ping_is_answered_with_a_pong() {
    let fake = two_regions();
    let key = fresh_key();
    let outcome = run(
        &config_for(&key),
        &fake,
        &signed("discord-ping.json", &key, SENT, None),
    )
    .await;
    assert_eq!(outcome.status, 200);
    assert_eq!(json_body(&outcome), json!({"type": 1}));
    assert_eq!(header(&outcome, "content-type"), Some("application/json"));
    assert!(fake.recorder.calls().is_empty());
}

#[tokio::test]
async fn every_unverified_discord_request_is_a_401_with_no_call() {
    let fake = two_regions();
    let key = fresh_key();
    let config = config_for(&key);
    let other = fresh_key();
    let good = signed("discord-start.json", &key, SENT, None);

    let mut tampered = good.clone();
    tampered["body"] = json!(original_body(&good).replace("\"mc\"", "\"vh\""));
    let by_other = signed("discord-start.json", &other, SENT, None);
    let mut no_signature = good.clone();
    no_signature["headers"]
        .as_object_mut()
        .expect("headers")
        .remove("x-signature-ed25519");
    let mut no_timestamp = good.clone();
    no_timestamp["headers"]
        .as_object_mut()
        .expect("headers")
        .remove("x-signature-timestamp");
    let mut bad_hex = good.clone();
    bad_hex["headers"]["x-signature-ed25519"] = json!("not hex");
    let mut other_timestamp = good.clone();
    other_timestamp["headers"]["x-signature-timestamp"] = json!((SENT + 1).to_string());
    let stale = signed("discord-start.json", &key, SENT - 301, None);
    let future = signed("discord-start.json", &key, SENT + 301, None);
    let sample_as_is = sample("discord-start.json");

    for (case, event) in [
        ("tampered body", tampered),
        ("another key", by_other),
        ("no signature", no_signature),
        ("no timestamp", no_timestamp),
        ("signature not hex", bad_hex),
        ("another timestamp", other_timestamp),
        ("stale timestamp", stale),
        ("timestamp in the future", future),
        ("the sample's zero signature", sample_as_is),
    ] {
        let outcome = run(&config, &fake, &event).await;
        assert_eq!(outcome.status, 401, "{case}");
        assert_eq!(
            json_body(&outcome),
            json!({"error": "unauthorized"}),
            "{case}"
        );
        assert!(
            fake.recorder.calls().is_empty(),
            "{case}: {:?}",
            fake.recorder.calls()
        );
    }
    assert_eq!(fake.desired("us-east-1", "cm-asg-dev-mc"), Some(1));
    // At the edge of the window the same request passes.
    let edge = signed("discord-ping.json", &key, SENT - 300, None);
    assert_eq!(run(&config, &fake, &edge).await.status, 200);
}

#[tokio::test]
async fn discord_status_answers_with_a_message() {
    let fake = two_regions();
    let key = fresh_key();
    // The sample's body arrives base64-encoded; it is signed as decoded.
    let event = signed("discord-status.json", &key, SENT, None);
    let outcome = run(&config_for(&key), &fake, &event).await;
    assert_eq!(outcome.status, 200);
    assert_eq!(
        json_body(&outcome),
        json!({"type": 4, "data": {
            "content": "**mc**: up, 2 players (mc.example.com)\n**vh**: asleep (vh.example.com)",
            "allowed_mentions": {"parse": []}
        }})
    );
    assert!(fake.recorder.writes().is_empty());

    let mut encoded = sample("discord-status.json");
    let raw = original_body(&encoded);
    let signed_raw = signed("discord-status.json", &key, SENT, Some(&raw));
    encoded["headers"] = signed_raw["headers"].clone();
    let outcome = run(&config_for(&key), &fake, &encoded).await;
    assert_eq!(outcome.status, 200, "a base64 body is verified as decoded");
    assert_eq!(json_body(&outcome)["type"], 4);
}

#[tokio::test]
async fn discord_start_scales_the_named_container() {
    let fake = two_regions();
    let key = fresh_key();
    let body = original_body(&sample("discord-start.json")).replace("\"mc\"", "\"vh\"");
    let event = signed("discord-start.json", &key, SENT, Some(&body));
    let outcome = run(&config_for(&key), &fake, &event).await;
    assert_eq!(outcome.status, 200);
    assert_eq!(
        json_body(&outcome)["data"]["content"],
        "Starting **vh**: it will answer at vh.example.com in a few minutes."
    );
    assert_eq!(
        fake.recorder.writes(),
        vec!["UpdateAutoScalingGroup eu-west-1 cm-asg-dev-vh DesiredCapacity=1"]
    );
    // No token is needed: the signature is Discord's.
    assert_eq!(fake.recorder.count("GetParameter"), 0);

    let unknown = original_body(&sample("discord-start.json")).replace("\"mc\"", "\"zz\"");
    let outcome = run(
        &config_for(&key),
        &fake,
        &signed("discord-start.json", &key, SENT, Some(&unknown)),
    )
    .await;
    assert_eq!(
        json_body(&outcome)["data"]["content"],
        "No container is named `zz`. Known: mc, vh."
    );
    for (option, answer) in [
        (
            r#"{"type":2,"data":{"name":"start","options":[{"name":"name","type":3,"value":"<@everyone>"}]}}"#,
            "A container's name is lower-case letters, digits and hyphens.",
        ),
        (
            r#"{"type":2,"data":{"name":"start"}}"#,
            "Give the container's name: `/start name:<container>`.",
        ),
    ] {
        let outcome = run(
            &config_for(&key),
            &fake,
            &signed("discord-start.json", &key, SENT, Some(option)),
        )
        .await;
        assert_eq!(json_body(&outcome)["data"]["content"], answer);
    }
    let other = r#"{"type":2,"data":{"name":"stop"}}"#;
    let outcome = run(
        &config_for(&key),
        &fake,
        &signed("discord-start.json", &key, SENT, Some(other)),
    )
    .await;
    assert_eq!(
        json_body(&outcome)["data"]["content"],
        "This panel knows `/status` and `/start`."
    );
    assert_eq!(fake.recorder.writes().len(), 1);

    fake.recorder.fail("UpdateAutoScalingGroup", 1);
    let outcome = run(
        &config_for(&key),
        &fake,
        &signed("discord-start.json", &key, SENT, None),
    )
    .await;
    assert_eq!(
        json_body(&outcome)["data"]["content"],
        "**mc** could not be started; try again."
    );
}
