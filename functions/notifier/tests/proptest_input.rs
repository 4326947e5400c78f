//! The notifier's inputs, hostile or broken: the event parser on any JSON and on the
//! real SNS sample with any part changed or removed; the webhook list on any text; the
//! retry decision on any answer. Each answers, never panics; a refused webhook list
//! never quotes a line; a wait is never longer than allowed nor past the deadline.
//!
//! Bounded: proptest's default 256 cases per property (PROPTEST_CASES overrides).

use std::time::{Duration, SystemTime};

use cm_core::http::HttpResponse;
use cm_core::testing::{arb_json, mutated};
use notifier::decide::{verdict, Verdict, DEADLINE_MARGIN, MAX_WAIT, REQUEST_TIMEOUT};
use notifier::parse::{parse, parse_webhooks};
use proptest::prelude::*;
use serde_json::Value;

/// What each line of a generated list carries: no message may contain it.
const SECRET: &str = "S3CRETtoken";

fn sample() -> Value {
    let path = format!(
        "{}/../../events/notifier/sns-up.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("parse {path}: {e}"))
}

fn lit(text: &str) -> BoxedStrategy<String> {
    Just(text.to_string()).boxed()
}

/// A line as people might write one, right or wrong, always with the secret in it.
fn arb_line() -> impl Strategy<Value = String> {
    let scheme = prop_oneof![
        lit(""),
        lit("https://"),
        lit("http://"),
        lit("ftp://"),
        lit("HTTPS://"),
    ];
    let host = prop_oneof![
        lit("discord.com"),
        lit("127.0.0.1:8080"),
        lit("localhost"),
        lit("[::1]"),
        lit("10.0.0.1"),
        lit(""),
        "[a-z0-9.:\\[\\]-]{0,12}".boxed(),
    ];
    let path = prop_oneof![
        lit("/api/webhooks/1/"),
        lit("/services/T/B/"),
        lit("/"),
        "[ -~]{0,12}".boxed(),
    ];
    (scheme, host, path, "[ -~]{0,8}", any::<bool>()).prop_map(
        |(scheme, host, path, tail, comment)| {
            format!(
                "{}{scheme}{host}{path}{SECRET}{tail}",
                if comment { "# " } else { "" }
            )
        },
    )
}

proptest! {
    #[test]
    fn the_event_parser_answers_any_json(event in arb_json()) {
        let _ = parse(&event);
    }

    #[test]
    fn the_event_parser_answers_any_change_to_the_sample(event in mutated(sample())) {
        let _ = parse(&event);
    }

    #[test]
    fn a_list_is_read_or_refused_without_quoting_a_line(
        lines in prop::collection::vec(arb_line(), 0..25),
        separator in prop_oneof![lit("\n"), lit("\r\n"), lit("\n\n")],
    ) {
        let text = lines.join(&separator);
        match parse_webhooks("/cm/dev/mc/webhooks", &text) {
            Ok(hooks) => {
                prop_assert!(!hooks.is_empty() && hooks.len() <= 20);
                for hook in &hooks {
                    prop_assert!(!hook.to_string().contains(SECRET));
                    let debug = format!("{:?}", hook);
                    prop_assert!(!debug.contains(SECRET));
                    prop_assert!(hook.url().contains(SECRET));
                }
            }
            Err(err) => {
                prop_assert!(!err.to_string().contains(SECRET), "{}", err);
                prop_assert_eq!(err.kind(), "ConfigError");
            }
        }
    }

    #[test]
    fn the_retry_decision_answers_any_reply_within_its_limits(
        status in 0u16..1000,
        retry_after in prop::option::of(prop_oneof![
            "[0-9]{1,25}(\\.[0-9]{1,5})?".boxed(),
            "-?[0-9.e+-]{1,12}".boxed(),
            "[ -~]{0,40}".boxed(),
            lit("Wed, 21 Oct 2065 07:28:00 GMT"),
            lit("Sun, 06 Nov 1994 08:49:37 GMT"),
        ]),
        body in prop_oneof![
            "[ -~]{0,60}".boxed(),
            (-1e12f64..1e12).prop_map(|s| format!("{{\"retry_after\": {s}}}")).boxed(),
        ],
        attempts in 1u32..6,
        time_left_ms in 0u64..900_000,
    ) {
        let response = HttpResponse {
            status,
            headers: retry_after
                .map(|v| vec![("retry-after".to_string(), v)])
                .unwrap_or_default(),
            body: body.into_bytes(),
        };
        let time_left = Duration::from_millis(time_left_ms);
        match verdict(&Ok(response), attempts, time_left, SystemTime::now()) {
            Verdict::Done => prop_assert!((200..300).contains(&status)),
            Verdict::RetryAfter(wait) => {
                prop_assert!(wait <= MAX_WAIT);
                prop_assert!(wait + REQUEST_TIMEOUT + DEADLINE_MARGIN <= time_left);
                prop_assert!(attempts < 3);
                prop_assert!(status == 429 || (500..600).contains(&status));
            }
            Verdict::GiveUp(why) => prop_assert!(!why.is_empty()),
        }
    }
}
