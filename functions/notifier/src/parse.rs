//! The two inputs, typed: the SNS event (the notifications to post), parsed with
//! `aws_lambda_events`' `SnsEvent`, and the webhook list read from the SSM parameter
//! ([`parse_webhooks`]). Both pure.
//!
//! A webhook URL carries its token (Discord's and Slack's are the credential itself):
//! a [`Webhook`] prints as `#n (format)`, never as its URL, and no error quotes one.

use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};

use aws_lambda_events::sns::SnsEvent;
use cm_core::{ConfigError, Error};
use serde::Serialize;
use serde_json::Value;

use crate::cloud::ParameterValue;

/// The most URLs a parameter may list (each notification is posted to every one).
pub const MAX_WEBHOOKS: usize = 20;

/// One message published to the topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    pub message_id: String,
    pub topic_arn: String,
    /// The `Subject` it was published with, if any.
    pub subject: Option<String>,
    pub message: String,
    /// The `event_type` message attribute (`launch`, `idle`, `crashed`...), if any.
    pub event_type: Option<String>,
}

/// The event, typed: its notifications, in order (SNS delivers one per invocation).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Input {
    pub notifications: Vec<Notification>,
}

/// The SNS event's notifications; an [`Error::InvalidEvent`] naming what is wrong for
/// anything else (another event's shape, no record, a record of another source or
/// type, an empty message).
pub fn parse(event: &Value) -> Result<Input, Error> {
    if !event.get("Records").is_some_and(Value::is_array) {
        return Err(Error::invalid_event(
            "not an SNS event: no Records list (the notifier is subscribed to the \
             container's topic)",
        ));
    }
    let sns: SnsEvent = serde_json::from_value(event.clone())
        .map_err(|e| Error::invalid_event(format!("not an SNS event: {e}")))?;
    if sns.records.is_empty() {
        return Err(Error::invalid_event("an SNS event without a record"));
    }
    let mut notifications = Vec::with_capacity(sns.records.len());
    for (i, record) in sns.records.into_iter().enumerate() {
        if record.event_source != "aws:sns" {
            return Err(Error::invalid_event(format!(
                "record {i}: EventSource is {:?}, not \"aws:sns\"",
                record.event_source
            )));
        }
        let sns = record.sns;
        if sns.sns_message_type != "Notification" {
            return Err(Error::invalid_event(format!(
                "record {i}: Sns.Type is {:?}, not \"Notification\"",
                sns.sns_message_type
            )));
        }
        if sns.message.trim().is_empty() {
            return Err(Error::invalid_event(format!(
                "record {i}: Sns.Message is empty"
            )));
        }
        let event_type = sns
            .message_attributes
            .get("event_type")
            .filter(|a| a.data_type == "String")
            .map(|a| a.value.clone());
        notifications.push(Notification {
            message_id: sns.message_id,
            topic_arn: sns.topic_arn,
            subject: sns.subject.filter(|s| !s.trim().is_empty()),
            message: sns.message,
            event_type,
        });
    }
    Ok(Input { notifications })
}

/// How a webhook wants its message, chosen by its URL's path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// `/api/webhooks/` in the path: `{"content": ...}`, at most 2000 characters.
    Discord,
    /// A path starting with `/services/`: `{"text": ...}`.
    Slack,
    /// Anything else (ntfy and the like): the message as the body, the subject in a
    /// `Title` header.
    Plain,
}

impl Format {
    fn of_path(path: &str) -> Format {
        if path.contains("/api/webhooks/") {
            Format::Discord
        } else if path.starts_with("/services/") {
            Format::Slack
        } else {
            Format::Plain
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Format::Discord => "discord",
            Format::Slack => "slack",
            Format::Plain => "plain",
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One URL of the list. Its `Debug` and `Display` are its label, `#n (format)`: the
/// URL itself is only given to the HTTP client ([`Webhook::url`]).
#[derive(Clone, PartialEq, Eq)]
pub struct Webhook {
    /// 1 for the first URL of the list, 2 for the second...
    pub number: usize,
    /// The line of the parameter it is on (1-based).
    pub line: usize,
    pub format: Format,
    url: String,
}

impl Webhook {
    /// The URL `raw` as the `number`th webhook, from `line`; the error says what is
    /// wrong without quoting the URL.
    pub fn new(number: usize, line: usize, raw: &str) -> Result<Webhook, String> {
        let uri: http::Uri = raw
            .parse()
            .map_err(|_| "not a URL (spaces or characters a URL cannot hold?)".to_string())?;
        let host = uri
            .host()
            .filter(|h| !h.is_empty())
            .ok_or_else(|| "not an absolute URL with a host".to_string())?;
        match uri.scheme_str() {
            Some("https") => {}
            Some("http") if is_loopback(host) => {}
            Some("http") => {
                return Err(
                    "plain http is accepted only for a loopback host (localhost, 127.0.0.1, \
                     [::1]); use https"
                        .to_string(),
                )
            }
            Some(other) => {
                return Err(format!(
                    "scheme {:?}: https is required",
                    other.chars().take(10).collect::<String>()
                ))
            }
            None => return Err("not an absolute URL with a host".to_string()),
        }
        Ok(Webhook {
            number,
            line,
            format: Format::of_path(uri.path()),
            url: raw.to_string(),
        })
    }

    /// The URL, with its token: for the HTTP request only, never for a message.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// `#n (format)`: how logs, outcomes and errors name it.
    pub fn label(&self) -> String {
        format!("#{} ({})", self.number, self.format)
    }
}

impl fmt::Display for Webhook {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{} ({})", self.number, self.format)
    }
}

impl fmt::Debug for Webhook {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Webhook #{} ({}) line {}",
            self.number, self.format, self.line
        )
    }
}

fn is_loopback(host: &str) -> bool {
    let bracketed = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    host.eq_ignore_ascii_case("localhost")
        || bracketed
            .parse::<Ipv4Addr>()
            .is_ok_and(|ip| ip.is_loopback())
        || bracketed
            .parse::<Ipv6Addr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// The webhooks the parameter lists ([`parse_webhooks`]); a parameter that is not a
/// `SecureString` is refused (its URLs' tokens would be stored in plain text).
pub fn webhooks(parameter: &str, read: &ParameterValue) -> Result<Vec<Webhook>, Error> {
    if read.parameter_type != "SecureString" {
        return Err(Error::Config(ConfigError {
            problems: vec![format!(
                "the SSM parameter {parameter} (WEBHOOK_URLS_PARAMETER) is a {} parameter; \
                 webhook URLs carry tokens: store them as a SecureString",
                read.parameter_type
            )],
        }));
    }
    parse_webhooks(parameter, read.value())
}

/// The webhooks the parameter's value lists: one URL per line, blank lines and lines
/// starting with `#` ignored, surrounding spaces trimmed. Any bad line, no URL at all
/// or more than [`MAX_WEBHOOKS`] is an [`Error::Config`] naming the parameter and each
/// bad line by its number, never its text.
pub fn parse_webhooks(parameter: &str, value: &str) -> Result<Vec<Webhook>, Error> {
    let mut webhooks = Vec::new();
    let mut problems = Vec::new();
    for (i, line) in value.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        match Webhook::new(webhooks.len() + problems.len() + 1, i + 1, line) {
            Ok(webhook) => webhooks.push(webhook),
            Err(why) => problems.push(format!(
                "the SSM parameter {parameter} (WEBHOOK_URLS_PARAMETER), line {}: {why}",
                i + 1
            )),
        }
    }
    let listed = webhooks.len() + problems.len();
    if listed == 0 {
        problems.push(format!(
            "the SSM parameter {parameter} (WEBHOOK_URLS_PARAMETER) lists no URL (one per \
             line; blank lines and lines starting with # are ignored)"
        ));
    } else if listed > MAX_WEBHOOKS {
        problems.push(format!(
            "the SSM parameter {parameter} (WEBHOOK_URLS_PARAMETER) lists {listed} URLs; \
             at most {MAX_WEBHOOKS}"
        ));
    }
    if problems.is_empty() {
        Ok(webhooks)
    } else {
        Err(Error::Config(ConfigError { problems }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const PARAMETER: &str = "/cm/dev/mc/webhooks";

    fn event(message: &str) -> Value {
        json!({"Records": [{
            "EventSource": "aws:sns",
            "EventVersion": "1.0",
            "EventSubscriptionArn": "arn:aws:sns:us-east-1:123456789012:cm-topic-dev-mc:1",
            "Sns": {
                "Type": "Notification",
                "MessageId": "m-1",
                "TopicArn": "arn:aws:sns:us-east-1:123456789012:cm-topic-dev-mc",
                "Subject": "mc is up",
                "Message": message,
                "Timestamp": "2026-12-01T10:00:00.000Z",
                "SignatureVersion": "1",
                "Signature": "EXAMPLE",
                "SigningCertUrl": "EXAMPLE",
                "UnsubscribeUrl": "EXAMPLE",
                "MessageAttributes": {
                    "event_type": {"Type": "String", "Value": "launch"},
                    "container": {"Type": "String", "Value": "mc"}
                }
            }
        }]})
    }

    #[test]
    fn reads_each_notification_with_its_subject_and_event_type() {
        let input = parse(&event("mc is up at 203.0.113.7")).unwrap();
        assert_eq!(
            input.notifications,
            vec![Notification {
                message_id: "m-1".into(),
                topic_arn: "arn:aws:sns:us-east-1:123456789012:cm-topic-dev-mc".into(),
                subject: Some("mc is up".into()),
                message: "mc is up at 203.0.113.7".into(),
                event_type: Some("launch".into()),
            }]
        );
    }

    #[test]
    fn a_missing_or_null_subject_and_no_attributes_are_fine() {
        let mut e = event("hello");
        e["Records"][0]["Sns"]["Subject"] = Value::Null;
        e["Records"][0]["Sns"]["MessageAttributes"] = json!({});
        let n = &parse(&e).unwrap().notifications[0];
        assert_eq!(
            (n.subject.as_deref(), n.event_type.as_deref()),
            (None, None)
        );
    }

    #[test]
    fn anything_else_is_an_invalid_event_naming_what_is_wrong() {
        let mut other_source = event("x");
        other_source["Records"][0]["EventSource"] = "aws:sqs".into();
        let mut confirmation = event("x");
        confirmation["Records"][0]["Sns"]["Type"] = "SubscriptionConfirmation".into();
        let mut no_message = event("x");
        no_message["Records"][0]["Sns"]
            .as_object_mut()
            .unwrap()
            .remove("Message");
        for (event, expected) in [
            (json!({"hello": "world"}), "no Records list"),
            (json!({"Records": []}), "without a record"),
            (json!({"Records": [{"body": "x"}]}), "not an SNS event"),
            (other_source, "EventSource is \"aws:sqs\""),
            (confirmation, "Sns.Type is \"SubscriptionConfirmation\""),
            (event(" "), "Sns.Message is empty"),
            (no_message, "not an SNS event"),
        ] {
            let err = parse(&event).unwrap_err();
            assert_eq!(err.kind(), "InvalidEvent");
            assert!(err.to_string().contains(expected), "{err} / {expected}");
        }
    }

    #[test]
    fn the_format_follows_the_path() {
        let list = "https://discord.com/api/webhooks/123/abc\n\
                    https://hooks.slack.com/services/T0/B0/xyz\n\
                    https://ntfy.sh/cm-dev-mc\n\
                    https://example.com/hook/services/x\n";
        let formats: Vec<Format> = parse_webhooks(PARAMETER, list)
            .unwrap()
            .iter()
            .map(|w| w.format)
            .collect();
        assert_eq!(
            formats,
            [Format::Discord, Format::Slack, Format::Plain, Format::Plain]
        );
    }

    #[test]
    fn comments_blank_lines_and_spaces_are_skipped_and_numbers_follow_the_urls() {
        let list = "# team chat\r\n\r\n  https://discord.com/api/webhooks/1/a  \r\n   \n\
                    # phones\nhttp://127.0.0.1:8080/x\nhttp://localhost/y\nhttp://[::1]:9/z\n";
        let hooks = parse_webhooks(PARAMETER, list).unwrap();
        let seen: Vec<(usize, usize, String)> = hooks
            .iter()
            .map(|w| (w.number, w.line, w.label()))
            .collect();
        assert_eq!(
            seen,
            vec![
                (1, 3, "#1 (discord)".into()),
                (2, 6, "#2 (plain)".into()),
                (3, 7, "#3 (plain)".into()),
                (4, 8, "#4 (plain)".into()),
            ]
        );
        assert_eq!(hooks[0].url(), "https://discord.com/api/webhooks/1/a");
    }

    #[test]
    fn bad_lines_are_named_by_number_never_by_their_text() {
        let list = "https://discord.com/api/webhooks/1/good\n\
                    http://hooks.example.com/secret-one\n\
                    ftp://files.example.com/secret-two\n\
                    not a url secret-three\n\
                    /relative/secret-four\n\
                    http://10.0.0.1/secret-five\n";
        let err = parse_webhooks(PARAMETER, list).unwrap_err();
        assert_eq!(err.kind(), "ConfigError");
        let text = err.to_string();
        for expected in [
            "/cm/dev/mc/webhooks (WEBHOOK_URLS_PARAMETER), line 2: plain http is accepted only for a loopback host",
            "line 3: scheme \"ftp\": https is required",
            "line 4: not a URL",
            "line 5: not an absolute URL with a host",
            "line 6: plain http is accepted only for a loopback host",
        ] {
            assert!(text.contains(expected), "{expected} missing from {text}");
        }
        assert!(!text.contains("secret"), "{text}");
        assert!(!text.contains("line 1"), "{text}");
    }

    #[test]
    fn an_empty_list_or_too_many_urls_are_refused() {
        for value in ["", "# nothing yet\n\n"] {
            let err = parse_webhooks(PARAMETER, value).unwrap_err().to_string();
            assert!(err.contains("lists no URL"), "{err}");
        }
        let many = "https://ntfy.sh/x\n".repeat(MAX_WEBHOOKS + 1);
        let err = parse_webhooks(PARAMETER, &many).unwrap_err().to_string();
        assert!(err.contains("lists 21 URLs; at most 20"), "{err}");
        assert_eq!(
            parse_webhooks(PARAMETER, &"https://ntfy.sh/x\n".repeat(MAX_WEBHOOKS))
                .unwrap()
                .len(),
            MAX_WEBHOOKS
        );
    }

    #[test]
    fn only_a_secure_string_is_read() {
        let list = "https://ntfy.sh/x";
        let ok = webhooks(PARAMETER, &ParameterValue::new("SecureString", list)).unwrap();
        assert_eq!(ok.len(), 1);
        let err = webhooks(PARAMETER, &ParameterValue::new("String", list))
            .unwrap_err()
            .to_string();
        assert!(err.contains("is a String parameter"), "{err}");
        assert!(!err.contains("ntfy"), "{err}");
        assert_eq!(
            format!("{:?}", ParameterValue::new("SecureString", list)),
            "ParameterValue { SecureString, 17 bytes }"
        );
    }

    #[test]
    fn a_webhook_prints_as_its_label_only() {
        let hook = Webhook::new(2, 5, "https://hooks.slack.com/services/T/B/token").unwrap();
        assert_eq!(hook.to_string(), "#2 (slack)");
        assert_eq!(format!("{hook:?}"), "Webhook #2 (slack) line 5");
    }
}
