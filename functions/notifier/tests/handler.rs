//! The fast tier: `handle` with the in-memory [`FakeCloud`] on the sample events of
//! `events/notifier/` and the configuration of `events/env.json`: the three formats,
//! rate limits and retries, a webhook that keeps failing while the others get their
//! message, a bad parameter and a bad event (nothing posted). No Python, no network.

use std::time::{Duration, Instant};

use cm_testkit::env_json::function_env;
use notifier::fake::{body_json, reply, status, Scripted};
use notifier::{handle, Config, FakeCloud, Outcome, PostResult};
use serde_json::{json, Value};

const PARAMETER: &str = "/cm/dev/mc/webhooks";
const DISCORD: &str = "https://discord.com/api/webhooks/123456789012345678/discord-token-AAAA";
const SLACK: &str = "https://hooks.slack.com/services/T0000/B0000/slack-token-BBBB";
const NTFY: &str = "https://ntfy.sh/cm-dev-mc-ntfy-token-CCCC";
/// What no log, outcome or error may contain.
const SECRETS: [&str; 3] = ["discord-token", "slack-token", "ntfy-token"];
const TIME_LEFT: Duration = Duration::from_secs(30);
const SAMPLES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../events/notifier");

fn sample(name: &str) -> Value {
    let path = format!("{SAMPLES}/{name}");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("parse {path}: {e}"))
}

/// The configuration `sam local invoke` uses (events/env.json).
fn config() -> Config {
    Config::from_env(function_env("NotifierFunction", &[])).expect("a valid configuration")
}

/// The three webhooks, with comments and a blank line as people write them.
fn three_webhooks() -> FakeCloud {
    FakeCloud::with_parameter(
        PARAMETER,
        &format!("# team chat\n{DISCORD}\n\n{SLACK}\n# phones\n{NTFY}\n"),
    )
}

fn assert_no_secret(text: &str) {
    for secret in SECRETS {
        assert!(!text.contains(secret), "{secret} in {text}");
    }
}

fn to_json(outcome: &Outcome) -> Value {
    let value = serde_json::to_value(outcome).expect("an outcome serialises");
    assert_no_secret(&value.to_string());
    value
}

/// (webhook, result, attempts) of every post.
fn posts(outcome: &Outcome) -> Vec<(String, PostResult, Vec<String>)> {
    outcome
        .actions
        .iter()
        .map(|a| match a {
            notifier::Action::Post {
                webhook,
                result,
                attempts,
                ..
            } => (webhook.clone(), *result, attempts.clone()),
        })
        .collect()
}

#[tokio::test]
async fn each_webhook_gets_the_message_in_its_own_format() {
    let fake = three_webhooks();
    let outcome = handle(&config(), &fake, &sample("sns-up.json"), TIME_LEFT)
        .await
        .expect("success");

    let discord = fake.posts_to(DISCORD);
    assert_eq!(discord.len(), 1);
    assert_eq!(
        body_json(&discord[0]),
        json!({"content": "mc is up at 203.0.113.7", "allowed_mentions": {"parse": []}})
    );
    assert_eq!(discord[0].header("content-type"), Some("application/json"));

    let slack = fake.posts_to(SLACK);
    assert_eq!(slack.len(), 1);
    assert_eq!(
        body_json(&slack[0]),
        json!({"text": "mc is up at 203.0.113.7"})
    );
    assert_eq!(slack[0].header("content-type"), Some("application/json"));

    let plain = fake.posts_to(NTFY);
    assert_eq!(plain.len(), 1);
    assert_eq!(plain[0].text(), "mc is up at 203.0.113.7");
    assert_eq!(plain[0].header("title"), Some("mc is up"));
    assert_eq!(
        plain[0].header("content-type"),
        Some("text/plain; charset=utf-8")
    );
    for post in fake.posts() {
        assert!(post
            .header("user-agent")
            .is_some_and(|ua| ua.starts_with("container-manager-notifier/")));
    }

    assert_eq!(
        fake.recorder.calls(),
        vec![
            "GetParameter /cm/dev/mc/webhooks",
            "Post #1 (discord)",
            "Post #2 (slack)",
            "Post #3 (plain)"
        ]
    );
    assert_eq!(
        to_json(&outcome),
        json!({
            "parameter": PARAMETER,
            "webhooks": 3,
            "notifications": [{"message_id": "82833b5c-8d5d-56d0-b0e1-7511f8253eb8",
                               "subject": "mc is up", "event_type": "launch"}],
            "actions": [
                {"call": "Post", "webhook": "#1 (discord)", "format": "discord",
                 "message_id": "82833b5c-8d5d-56d0-b0e1-7511f8253eb8",
                 "result": "delivered", "attempts": ["HTTP 204"]},
                {"call": "Post", "webhook": "#2 (slack)", "format": "slack",
                 "message_id": "82833b5c-8d5d-56d0-b0e1-7511f8253eb8",
                 "result": "delivered", "attempts": ["HTTP 204"]},
                {"call": "Post", "webhook": "#3 (plain)", "format": "plain",
                 "message_id": "82833b5c-8d5d-56d0-b0e1-7511f8253eb8",
                 "result": "delivered", "attempts": ["HTTP 204"]}
            ]
        })
    );
}

#[tokio::test]
async fn every_sample_is_posted_everywhere() {
    for (name, message, title) in [
        (
            "sns-crashed.json",
            "mc is being stopped: crashed: container minecraft exited with code 137 \
             (Essential container in task exited).",
            Some("mc is stopping"),
        ),
        (
            "generated/sns-notification.json",
            "example message",
            Some("example subject"),
        ),
        ("generated/sns-down.json", "mc is down", Some("mc is down")),
    ] {
        let fake = three_webhooks();
        let outcome = handle(&config(), &fake, &sample(name), TIME_LEFT)
            .await
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(outcome.failures().is_empty(), "{name}");
        assert_eq!(
            body_json(&fake.posts_to(DISCORD)[0])["content"],
            json!(message)
        );
        assert_eq!(body_json(&fake.posts_to(SLACK)[0])["text"], json!(message));
        assert_eq!(fake.posts_to(NTFY)[0].text(), message);
        assert_eq!(fake.posts_to(NTFY)[0].header("title"), title);
    }
}

#[tokio::test]
async fn a_429_once_then_success_is_exactly_two_attempts_after_the_asked_wait() {
    let fake = three_webhooks();
    fake.script(
        DISCORD,
        [
            reply(
                429,
                &[("content-type", "application/json")],
                r#"{"message": "You are being rate limited.", "retry_after": 0.2, "global": false}"#,
            ),
            status(204),
        ],
    );
    fake.script(NTFY, [reply(429, &[("Retry-After", "0")], ""), status(200)]);
    let started = Instant::now();
    let outcome = handle(&config(), &fake, &sample("sns-up.json"), TIME_LEFT)
        .await
        .expect("success");
    assert!(
        started.elapsed() >= Duration::from_millis(200),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(fake.posts_to(DISCORD).len(), 2, "exactly two attempts");
    assert_eq!(fake.posts_to(NTFY).len(), 2, "exactly two attempts");
    assert_eq!(fake.posts_to(SLACK).len(), 1);
    assert_eq!(
        posts(&outcome),
        vec![
            (
                "#1 (discord)".into(),
                PostResult::Delivered,
                vec!["HTTP 429, again in 200 ms".into(), "HTTP 204".into()]
            ),
            (
                "#2 (slack)".into(),
                PostResult::Delivered,
                vec!["HTTP 204".into()]
            ),
            (
                "#3 (plain)".into(),
                PostResult::Delivered,
                vec!["HTTP 429, again in 0 ms".into(), "HTTP 200".into()]
            ),
        ]
    );
}

#[tokio::test]
async fn a_webhook_that_keeps_failing_fails_the_invocation_and_the_others_get_theirs() {
    let fake = three_webhooks();
    fake.script(SLACK, [status(500)]);
    let err = handle(&config(), &fake, &sample("sns-up.json"), TIME_LEFT)
        .await
        .expect_err("the invocation fails, so that Lambda retries it");
    assert_eq!(err.kind(), "HttpError");
    let text = err.to_string();
    assert!(
        text.contains("Post #2 (slack) message 82833b5c-8d5d-56d0-b0e1-7511f8253eb8: HTTP 500 after 3 attempts"),
        "{text}"
    );
    assert!(
        text.contains("(delivered to #1 (discord), #3 (plain))"),
        "{text}"
    );
    assert_no_secret(&text);
    assert_eq!(fake.posts_to(SLACK).len(), 3, "three attempts, no more");
    assert_eq!(fake.posts_to(DISCORD).len(), 1);
    assert_eq!(fake.posts_to(NTFY).len(), 1);
}

#[tokio::test]
async fn a_client_error_is_not_retried_and_no_answer_is() {
    let fake = three_webhooks();
    fake.script(DISCORD, [status(404)]);
    fake.script(NTFY, [Scripted::NoAnswer, status(200)]);
    let err = handle(&config(), &fake, &sample("sns-up.json"), TIME_LEFT)
        .await
        .expect_err("the 404 fails the invocation");
    let text = err.to_string();
    assert!(text.contains("#1 (discord)"), "{text}");
    assert!(text.contains("HTTP 404, not retried"), "{text}");
    assert!(
        text.contains("(delivered to #2 (slack), #3 (plain))"),
        "{text}"
    );
    assert_eq!(fake.posts_to(DISCORD).len(), 1, "a 404 is not retried");
    assert_eq!(
        fake.recorder
            .calls()
            .iter()
            .filter(|c| *c == "Post #3 (plain)")
            .count(),
        2,
        "no answer, then 200"
    );
}

#[tokio::test]
async fn a_rate_limit_longer_than_allowed_or_than_the_time_left_is_given_up() {
    let fake = three_webhooks();
    fake.script(
        DISCORD,
        [reply(429, &[("retry-after", "31")], ""), status(204)],
    );
    let err = handle(&config(), &fake, &sample("sns-up.json"), TIME_LEFT)
        .await
        .expect_err("given up");
    assert!(
        err.to_string()
            .contains("HTTP 429: asked to wait 31 s, more than the 30 s allowed"),
        "{err}"
    );
    assert_eq!(fake.posts_to(DISCORD).len(), 1);

    let fake = three_webhooks();
    fake.script(
        SLACK,
        [reply(429, &[("retry-after", "2")], ""), status(204)],
    );
    let err = handle(
        &config(),
        &fake,
        &sample("sns-up.json"),
        Duration::from_secs(4),
    )
    .await
    .expect_err("given up");
    assert!(
        err.to_string()
            .contains("would not end before the invocation's deadline"),
        "{err}"
    );
    assert_eq!(fake.posts_to(SLACK).len(), 1);
    assert_eq!(fake.posts_to(DISCORD).len(), 1, "the others still posted");
}

#[tokio::test]
async fn a_bad_parameter_posts_nothing_and_names_the_line_not_the_url() {
    let bad = format!(
        "{DISCORD}\nhttp://hooks.example.com/plain-token-DDDD\n{SLACK}\nftp://x/ntfy-token-EEEE\n"
    );
    let fake = FakeCloud::with_parameter(PARAMETER, &bad);
    let err = handle(&config(), &fake, &sample("sns-up.json"), TIME_LEFT)
        .await
        .expect_err("a bad list");
    assert_eq!(err.kind(), "ConfigError");
    let text = err.to_string();
    assert!(text.contains("/cm/dev/mc/webhooks (WEBHOOK_URLS_PARAMETER), line 2: plain http is accepted only for a loopback host"), "{text}");
    assert!(text.contains("line 4: scheme \"ftp\""), "{text}");
    assert_no_secret(&text);
    assert!(!text.contains("plain-token"), "{text}");
    assert!(
        fake.recorder.writes().is_empty(),
        "{:?}",
        fake.recorder.calls()
    );

    for (fake, expected, kind) in [
        (
            FakeCloud::with_parameter(PARAMETER, "# no URL yet\n"),
            "lists no URL",
            "ConfigError",
        ),
        (
            FakeCloud::with_parameter_of_type(PARAMETER, "String", DISCORD),
            "is a String parameter",
            "ConfigError",
        ),
        (
            FakeCloud::with_parameter("/someone/else", DISCORD),
            "GetParameter /cm/dev/mc/webhooks failed",
            "AwsError",
        ),
    ] {
        let err = handle(&config(), &fake, &sample("sns-up.json"), TIME_LEFT)
            .await
            .expect_err(expected);
        assert_eq!(err.kind(), kind, "{err}");
        assert!(err.to_string().contains(expected), "{err}");
        assert_no_secret(&err.to_string());
        assert!(fake.posts().is_empty());
        assert!(fake.recorder.writes().is_empty());
    }

    let fake = three_webhooks();
    fake.recorder.fail("GetParameter", 1);
    let err = handle(&config(), &fake, &sample("sns-up.json"), TIME_LEFT)
        .await
        .expect_err("SSM failed");
    assert!(err
        .to_string()
        .starts_with("GetParameter /cm/dev/mc/webhooks failed"));
    assert!(fake.recorder.writes().is_empty());
}

#[tokio::test]
async fn a_bad_event_posts_nothing_and_reads_nothing() {
    let mut confirmation = sample("sns-up.json");
    confirmation["Records"][0]["Sns"]["Type"] = "SubscriptionConfirmation".into();
    let mut empty = sample("sns-up.json");
    empty["Records"][0]["Sns"]["Message"] = "".into();
    let mut sqs = sample("sns-up.json");
    sqs["Records"][0]["EventSource"] = "aws:sqs".into();
    for (event, expected) in [
        (json!({"hello": "world"}), "no Records list"),
        (json!({"Records": []}), "without a record"),
        (json!({"Records": [{"body": "{}"}]}), "not an SNS event"),
        (confirmation, "Sns.Type is \"SubscriptionConfirmation\""),
        (empty, "Sns.Message is empty"),
        (sqs, "EventSource is \"aws:sqs\""),
        (
            serde_json::from_str(include_str!(
                "../../../events/watchdog-scale-down/alarm-idle.json"
            ))
            .expect("json"),
            "no Records list",
        ),
    ] {
        let fake = three_webhooks();
        let err = handle(&config(), &fake, &event, TIME_LEFT)
            .await
            .expect_err(expected);
        assert_eq!(err.kind(), "InvalidEvent", "{err}");
        assert!(err.to_string().contains(expected), "{err} / {expected}");
        assert!(
            fake.recorder.calls().is_empty(),
            "{:?}",
            fake.recorder.calls()
        );
    }
}

#[tokio::test]
async fn a_retried_invocation_posts_again_to_every_webhook() {
    // Documented: the notifier keeps no state, so Lambda's retry of a failed
    // invocation re-posts to the webhooks that already had the message.
    let fake = three_webhooks();
    fake.script(SLACK, [status(503), status(503), status(503), status(204)]);
    let event = sample("sns-up.json");
    assert!(handle(&config(), &fake, &event, TIME_LEFT).await.is_err());
    handle(&config(), &fake, &event, TIME_LEFT)
        .await
        .expect("the retry delivers");
    assert_eq!(fake.posts_to(DISCORD).len(), 2);
    assert_eq!(fake.posts_to(NTFY).len(), 2);
    assert_eq!(fake.posts_to(SLACK).len(), 4);
}

#[tokio::test]
async fn several_notifications_go_in_order_to_each_webhook() {
    let mut event = sample("sns-up.json");
    let mut second = event["Records"][0].clone();
    second["Sns"]["MessageId"] = "second".into();
    second["Sns"]["Message"] = "mc is down".into();
    event["Records"]
        .as_array_mut()
        .expect("records")
        .push(second);
    let fake = three_webhooks();
    fake.script(NTFY, [status(500), status(204)]);
    let outcome = handle(&config(), &fake, &event, TIME_LEFT)
        .await
        .expect("success");
    assert_eq!(outcome.actions.len(), 6);
    let texts: Vec<String> = fake.posts_to(NTFY).iter().map(|p| p.text()).collect();
    assert_eq!(
        texts,
        vec![
            "mc is up at 203.0.113.7",
            "mc is up at 203.0.113.7",
            "mc is down"
        ]
    );
    let slack: Vec<Value> = fake
        .posts_to(SLACK)
        .iter()
        .map(|p| body_json(p)["text"].clone())
        .collect();
    assert_eq!(
        slack,
        vec![json!("mc is up at 203.0.113.7"), json!("mc is down")]
    );
}
