//! The pure part. No I/O, no clock (times are passed in).
//!
//! - [`decide`]: what to post to each webhook, each notification rendered in the
//!   webhook's [`Format`];
//! - [`verdict`]: after each attempt, whether the message is delivered
//!   ([`Verdict::Done`]), worth another attempt after a wait ([`Verdict::RetryAfter`]),
//!   or not ([`Verdict::GiveUp`], with why):
//!   - 2xx: done;
//!   - 429: again after the wait the server asks for (the `Retry-After` header, in
//!     seconds or as an HTTP date, else Discord's JSON `retry_after` in seconds, else
//!     [`RATE_LIMITED_WAIT`]), if that wait is at most [`MAX_WAIT`] and leaves time for
//!     the attempt before the invocation's deadline;
//!   - 5xx and no answer at all (connection, TLS, timeout): again after a short
//!     backoff (or the 503's `Retry-After`), under the same time condition;
//!   - any other status (a 4xx but 429, a redirect): given up at once, retrying
//!     cannot help;
//!   - never more than [`MAX_ATTEMPTS`] attempts per message.

use std::time::{Duration, SystemTime};

use cm_core::http::HttpResponse;
use cm_core::Error;
use serde_json::{json, Value};

use crate::config::Config;
use crate::outcome::NotificationSummary;
use crate::parse::{Format, Input, Notification, Webhook};

/// Attempts per message and webhook, the first included.
pub const MAX_ATTEMPTS: u32 = 3;
/// The longest wait before another attempt; a server asking for more is given up on.
pub const MAX_WAIT: Duration = Duration::from_secs(30);
/// The wait after a 429 that says nothing about when to come back.
pub const RATE_LIMITED_WAIT: Duration = Duration::from_secs(1);
/// The waits after a 5xx or no answer: after the first attempt, after the second.
pub const BACKOFF: [Duration; 2] = [Duration::from_millis(500), Duration::from_secs(1)];
/// How long one request may take (connect, send, read the answer).
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);
/// Time kept free before the invocation's deadline, to answer it.
pub const DEADLINE_MARGIN: Duration = Duration::from_secs(1);
/// Discord's limit on a message's `content`, in characters.
pub const DISCORD_MAX_CHARS: usize = 2000;
/// Slack's limit on a message's `text`, in characters (it cuts longer ones).
pub const SLACK_MAX_CHARS: usize = 40_000;
/// The `User-Agent` of every post (hyper sends none, and some services refuse that).
pub const USER_AGENT: &str = concat!("container-manager-notifier/", env!("CARGO_PKG_VERSION"));

/// What was read before deciding: the webhooks the parameter lists.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Observed {
    pub webhooks: Vec<Webhook>,
}

/// One notification as one webhook wants it: headers and body, without the URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    /// The SNS message id, for the outcome.
    pub message_id: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// Everything one webhook is sent, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    pub webhook: Webhook,
    pub messages: Vec<Rendered>,
}

/// One delivery per webhook: the webhooks concurrently, each one's messages in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// The parameter's name, for the outcome.
    pub parameter: String,
    pub notifications: Vec<NotificationSummary>,
    pub deliveries: Vec<Delivery>,
}

/// Every notification for every webhook.
pub fn decide(config: &Config, input: &Input, observed: &Observed) -> Plan {
    Plan {
        parameter: config.webhook_urls_parameter.clone(),
        notifications: input
            .notifications
            .iter()
            .map(|n| NotificationSummary {
                message_id: n.message_id.clone(),
                subject: n.subject.clone(),
                event_type: n.event_type.clone(),
            })
            .collect(),
        deliveries: observed
            .webhooks
            .iter()
            .map(|webhook| Delivery {
                webhook: webhook.clone(),
                messages: input
                    .notifications
                    .iter()
                    .map(|n| render(webhook.format, n))
                    .collect(),
            })
            .collect(),
    }
}

/// The request for `notification` in `format`.
pub fn render(format: Format, notification: &Notification) -> Rendered {
    let json_body = |value: Value| value.to_string().into_bytes();
    let (content_type, body, title) = match format {
        Format::Discord => (
            "application/json",
            // No @everyone, @here, role or user pings, whatever the text says.
            json_body(json!({
                "content": truncate(&notification.message, DISCORD_MAX_CHARS),
                "allowed_mentions": {"parse": []},
            })),
            None,
        ),
        Format::Slack => (
            "application/json",
            json_body(json!({
                "text": slack_escape(&truncate(&notification.message, SLACK_MAX_CHARS)),
            })),
            None,
        ),
        Format::Plain => (
            "text/plain; charset=utf-8",
            notification.message.clone().into_bytes(),
            notification.subject.as_deref().and_then(header_value),
        ),
    };
    let mut headers = vec![
        ("content-type".to_string(), content_type.to_string()),
        ("user-agent".to_string(), USER_AGENT.to_string()),
    ];
    if let Some(title) = title {
        headers.push(("title".to_string(), title));
    }
    Rendered {
        message_id: notification.message_id.clone(),
        headers,
        body,
    }
}

/// `text` cut to at most `max` characters, the last one then an ellipsis.
fn truncate(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let mut cut: String = text.chars().take(max.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

/// Slack reads `&`, `<` and `>` as markup (links, mentions): escaped, as Slack asks.
fn slack_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// A subject as a header value: visible ASCII and spaces only (SNS subjects are
/// ASCII without line breaks already); `None` when nothing is left.
fn header_value(subject: &str) -> Option<String> {
    let value: String = subject
        .chars()
        .filter(|c| c.is_ascii_graphic() || *c == ' ')
        .collect();
    let value = value.trim();
    (!value.is_empty()).then(|| value.to_string())
}

/// What to do after an attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Delivered.
    Done,
    /// Try again after this wait.
    RetryAfter(Duration),
    /// Not delivered, and another attempt would not help (or is not allowed): why.
    GiveUp(String),
}

/// After attempt number `attempts` (1 for the first) got `reply`, with `time_left`
/// before the invocation's deadline and `now` the wall-clock time (for a
/// `Retry-After` date): done, again after a wait, or give up.
pub fn verdict(
    reply: &Result<HttpResponse, Error>,
    attempts: u32,
    time_left: Duration,
    now: SystemTime,
) -> Verdict {
    let (what, wait) = match reply {
        Ok(response) => match response.status {
            200..=299 => return Verdict::Done,
            429 => (
                "HTTP 429".to_string(),
                retry_after(response, now).unwrap_or(RATE_LIMITED_WAIT),
            ),
            500..=599 => (
                format!("HTTP {}", response.status),
                retry_after(response, now).unwrap_or_else(|| backoff(attempts)),
            ),
            300..=399 => {
                return Verdict::GiveUp(format!(
                    "HTTP {}: a redirect, not followed (is the URL current?)",
                    response.status
                ))
            }
            status => return Verdict::GiveUp(format!("HTTP {status}, not retried")),
        },
        Err(err) => (format!("no answer ({})", transport(err)), backoff(attempts)),
    };
    if attempts >= MAX_ATTEMPTS {
        return Verdict::GiveUp(format!("{what} after {attempts} attempts"));
    }
    if wait > MAX_WAIT {
        return Verdict::GiveUp(format!(
            "{what}: asked to wait {}, more than the {} allowed",
            seconds(wait),
            seconds(MAX_WAIT)
        ));
    }
    if wait + REQUEST_TIMEOUT + DEADLINE_MARGIN > time_left {
        return Verdict::GiveUp(format!(
            "{what}: another attempt after {} would not end before the invocation's \
             deadline ({} left)",
            seconds(wait),
            seconds(time_left)
        ));
    }
    Verdict::RetryAfter(wait)
}

/// The wait after a 5xx or no answer, following attempt number `attempts`.
fn backoff(attempts: u32) -> Duration {
    let i = (attempts.max(1) - 1) as usize;
    BACKOFF[i.min(BACKOFF.len() - 1)]
}

/// What a transport error says, without the operation (the method and host).
fn transport(err: &Error) -> String {
    match err {
        Error::Http { message, .. } => message.clone(),
        other => other.to_string(),
    }
}

/// The wait a reply asks for: its `Retry-After` header (delay-seconds, possibly
/// fractional, or an HTTP date, a past date meaning now), else a JSON body's
/// `retry_after` in seconds (Discord's). The header comes first: it is always in
/// seconds, while Discord's unversioned API has answered `retry_after` in
/// milliseconds. `None` when neither is there or readable.
pub fn retry_after(response: &HttpResponse, now: SystemTime) -> Option<Duration> {
    if let Some(header) = response.header("retry-after") {
        let header = header.trim();
        if let Some(wait) = non_negative_seconds(header.parse::<f64>().ok()) {
            return Some(wait);
        }
        if let Ok(date) = httpdate::parse_http_date(header) {
            return Some(date.duration_since(now).unwrap_or(Duration::ZERO));
        }
    }
    let body: Value = serde_json::from_slice(&response.body).ok()?;
    non_negative_seconds(body.get("retry_after")?.as_f64())
}

/// A finite, non-negative number of seconds; one too large for a `Duration` is the
/// longest one (and so more than [`MAX_WAIT`]).
fn non_negative_seconds(value: Option<f64>) -> Option<Duration> {
    value
        .filter(|s| s.is_finite() && *s >= 0.0)
        .map(|s| Duration::try_from_secs_f64(s).unwrap_or(Duration::MAX))
}

/// `1.5 s`, `30 s`, `250 ms`.
pub fn seconds(d: Duration) -> String {
    if d < Duration::from_secs(1) {
        format!("{} ms", d.as_millis())
    } else if d.subsec_millis() == 0 {
        format!("{} s", d.as_secs())
    } else {
        format!("{:.1} s", d.as_secs_f64())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PLENTY: Duration = Duration::from_secs(50);

    fn now() -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000)
    }

    fn reply(status: u16, headers: &[(&str, &str)], body: &str) -> Result<HttpResponse, Error> {
        Ok(HttpResponse {
            status,
            headers: headers
                .iter()
                .map(|(n, v)| (n.to_string(), v.to_string()))
                .collect(),
            body: body.as_bytes().to_vec(),
        })
    }

    fn no_answer() -> Result<HttpResponse, Error> {
        Err(Error::Http {
            operation: "POST discord.com".into(),
            message: "no answer within 5000 ms".into(),
        })
    }

    fn notification(subject: Option<&str>, message: &str) -> Notification {
        Notification {
            message_id: "m-1".into(),
            topic_arn: "arn:aws:sns:us-east-1:123456789012:t".into(),
            subject: subject.map(str::to_string),
            message: message.into(),
            event_type: Some("launch".into()),
        }
    }

    fn body_json(r: &Rendered) -> Value {
        serde_json::from_slice(&r.body).unwrap()
    }

    #[test]
    fn discord_gets_content_without_pings() {
        let r = render(
            Format::Discord,
            &notification(Some("mc is up"), "mc is up at 1.2.3.4"),
        );
        assert_eq!(
            body_json(&r),
            json!({"content": "mc is up at 1.2.3.4", "allowed_mentions": {"parse": []}})
        );
        assert_eq!(
            r.headers,
            vec![
                ("content-type".into(), "application/json".into()),
                ("user-agent".into(), USER_AGENT.into()),
            ]
        );
        assert_eq!(r.message_id, "m-1");
    }

    #[test]
    fn discord_content_is_cut_at_2000_characters() {
        let long = "é".repeat(2500);
        let r = render(Format::Discord, &notification(None, &long));
        let content = body_json(&r)["content"].as_str().unwrap().to_string();
        assert_eq!(content.chars().count(), 2000);
        assert!(content.ends_with("é…"));
        let exact = "x".repeat(2000);
        let r = render(Format::Discord, &notification(None, &exact));
        assert_eq!(body_json(&r)["content"], json!(exact));
    }

    #[test]
    fn slack_gets_text_with_its_markup_characters_escaped() {
        let r = render(Format::Slack, &notification(Some("s"), "a <b> & c"));
        assert_eq!(body_json(&r), json!({"text": "a &lt;b&gt; &amp; c"}));
    }

    #[test]
    fn plain_gets_the_message_as_body_and_the_subject_as_title() {
        let r = render(
            Format::Plain,
            &notification(Some("mc is up"), "mc is up at 1.2.3.4"),
        );
        assert_eq!(r.body, b"mc is up at 1.2.3.4");
        assert_eq!(
            r.headers,
            vec![
                ("content-type".into(), "text/plain; charset=utf-8".into()),
                ("user-agent".into(), USER_AGENT.into()),
                ("title".into(), "mc is up".into()),
            ]
        );
        let r = render(Format::Plain, &notification(None, "x"));
        assert_eq!(r.headers.len(), 2, "no subject, no title");
        let r = render(
            Format::Plain,
            &notification(Some("bad\r\nheader\u{7}é"), "x"),
        );
        assert_eq!(r.headers[2].1, "badheader");
    }

    #[test]
    fn every_notification_goes_to_every_webhook_in_its_format() {
        let webhooks = vec![
            Webhook::new(1, 1, "https://discord.com/api/webhooks/1/a").unwrap(),
            Webhook::new(2, 2, "https://ntfy.sh/x").unwrap(),
        ];
        let input = Input {
            notifications: vec![notification(None, "one"), notification(None, "two")],
        };
        let config = Config {
            webhook_urls_parameter: "/cm/dev/mc/webhooks".into(),
        };
        let plan = decide(&config, &input, &Observed { webhooks });
        assert_eq!(plan.parameter, "/cm/dev/mc/webhooks");
        assert_eq!(plan.notifications.len(), 2);
        assert_eq!(plan.deliveries.len(), 2);
        assert_eq!(plan.deliveries[0].messages.len(), 2);
        assert_eq!(plan.deliveries[1].messages[1].body, b"two");
        assert_eq!(
            body_json(&plan.deliveries[0].messages[0])["content"],
            json!("one")
        );
        assert!(decide(&config, &input, &Observed::default())
            .deliveries
            .is_empty());
    }

    #[test]
    fn success_is_done() {
        for status in [200, 201, 204] {
            assert_eq!(
                verdict(&reply(status, &[], ""), 1, PLENTY, now()),
                Verdict::Done
            );
        }
    }

    #[test]
    fn a_429_waits_what_the_header_or_discords_body_asks() {
        type Case<'a> = (&'a [(&'a str, &'a str)], &'a str, Duration);
        let cases: [Case; 6] = [
            (&[("Retry-After", "2")], "", Duration::from_secs(2)),
            (&[("retry-after", " 1.5 ")], "", Duration::from_millis(1500)),
            (
                &[],
                r#"{"message": "You are being rate limited.", "retry_after": 0.25, "global": false}"#,
                Duration::from_millis(250),
            ),
            (
                &[("retry-after", "3")],
                r#"{"retry_after": 2750}"#,
                Duration::from_secs(3),
            ),
            (&[], "not json", RATE_LIMITED_WAIT),
            (
                &[("retry-after", "soon")],
                r#"{"retry_after": -1}"#,
                RATE_LIMITED_WAIT,
            ),
        ];
        for (headers, body, wait) in cases {
            assert_eq!(
                verdict(&reply(429, headers, body), 1, PLENTY, now()),
                Verdict::RetryAfter(wait),
                "{headers:?} {body}"
            );
        }
    }

    #[test]
    fn a_429_retry_after_date_is_read_against_now() {
        let in_4_s = httpdate::fmt_http_date(now() + Duration::from_secs(4));
        assert_eq!(
            verdict(
                &reply(429, &[("retry-after", &in_4_s)], ""),
                1,
                PLENTY,
                now()
            ),
            Verdict::RetryAfter(Duration::from_secs(4))
        );
        let past = httpdate::fmt_http_date(now() - Duration::from_secs(60));
        assert_eq!(
            verdict(&reply(429, &[("retry-after", &past)], ""), 1, PLENTY, now()),
            Verdict::RetryAfter(Duration::ZERO)
        );
    }

    #[test]
    fn a_wait_too_long_or_past_the_deadline_gives_up() {
        match verdict(&reply(429, &[("retry-after", "31")], ""), 1, PLENTY, now()) {
            Verdict::GiveUp(why) => {
                assert_eq!(
                    why,
                    "HTTP 429: asked to wait 31 s, more than the 30 s allowed"
                )
            }
            other => panic!("{other:?}"),
        }
        // 2 s of wait + 5 s for the request + 1 s of margin do not fit in 7.5 s.
        match verdict(
            &reply(429, &[("retry-after", "2")], ""),
            1,
            Duration::from_millis(7500),
            now(),
        ) {
            Verdict::GiveUp(why) => assert!(
                why.contains("would not end before the invocation's deadline (7.5 s left)"),
                "{why}"
            ),
            other => panic!("{other:?}"),
        }
        assert_eq!(
            verdict(
                &reply(429, &[("retry-after", "2")], ""),
                1,
                Duration::from_secs(8),
                now()
            ),
            Verdict::RetryAfter(Duration::from_secs(2))
        );
        assert!(matches!(
            verdict(
                &reply(429, &[("retry-after", "1e300")], ""),
                1,
                PLENTY,
                now()
            ),
            Verdict::GiveUp(_)
        ));
    }

    #[test]
    fn server_errors_and_no_answer_back_off_then_give_up() {
        for failed in [reply(500, &[], ""), reply(502, &[], "<html>"), no_answer()] {
            assert_eq!(
                verdict(&failed, 1, PLENTY, now()),
                Verdict::RetryAfter(BACKOFF[0])
            );
            assert_eq!(
                verdict(&failed, 2, PLENTY, now()),
                Verdict::RetryAfter(BACKOFF[1])
            );
            assert!(matches!(
                verdict(&failed, MAX_ATTEMPTS, PLENTY, now()),
                Verdict::GiveUp(_)
            ));
        }
        assert_eq!(
            verdict(&reply(500, &[], ""), 3, PLENTY, now()),
            Verdict::GiveUp("HTTP 500 after 3 attempts".into())
        );
        assert_eq!(
            verdict(&no_answer(), 3, PLENTY, now()),
            Verdict::GiveUp("no answer (no answer within 5000 ms) after 3 attempts".into())
        );
        assert_eq!(
            verdict(&reply(503, &[("retry-after", "4")], ""), 1, PLENTY, now()),
            Verdict::RetryAfter(Duration::from_secs(4))
        );
        assert_eq!(
            verdict(&reply(429, &[], ""), 3, PLENTY, now()),
            Verdict::GiveUp("HTTP 429 after 3 attempts".into())
        );
    }

    #[test]
    fn other_statuses_are_not_retried() {
        for (status, why) in [
            (400, "HTTP 400, not retried"),
            (401, "HTTP 401, not retried"),
            (404, "HTTP 404, not retried"),
            (410, "HTTP 410, not retried"),
            (
                301,
                "HTTP 301: a redirect, not followed (is the URL current?)",
            ),
            (101, "HTTP 101, not retried"),
        ] {
            assert_eq!(
                verdict(&reply(status, &[], ""), 1, PLENTY, now()),
                Verdict::GiveUp(why.into())
            );
        }
    }

    #[test]
    fn durations_read_well() {
        assert_eq!(seconds(Duration::from_millis(250)), "250 ms");
        assert_eq!(seconds(Duration::from_secs(30)), "30 s");
        assert_eq!(seconds(Duration::from_millis(1500)), "1.5 s");
    }
}
