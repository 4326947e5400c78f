//! What one invocation saw and did: the invocation's response, and its log line.
//!
//! ```json
//! {"parameter": "/cm/dev/mc/webhooks", "webhooks": 2,
//!  "notifications": [{"message_id": "...", "subject": "mc is up", "event_type": "launch"}],
//!  "actions": [{"call": "Post", "webhook": "#1 (discord)", "format": "discord",
//!               "message_id": "...", "result": "delivered",
//!               "attempts": ["HTTP 429, again in 1.5 s", "HTTP 204"]}, ...]}
//! ```
//!
//! A webhook is named by its label (`#n (format)`), never by its URL.

use std::fmt;

use serde::Serialize;

use crate::parse::Format;

/// What became of one message to one webhook.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum PostResult {
    Delivered,
    /// Not delivered: given up (see `reason`).
    Failed,
}

/// A call that changed something.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "call")]
pub enum Action {
    Post {
        /// `#n (format)`.
        webhook: String,
        format: Format,
        message_id: String,
        result: PostResult,
        /// What each attempt got, in order, e.g. `HTTP 429, again in 1.5 s`.
        attempts: Vec<String>,
        /// Why it was given up, for a failed one.
        #[serde(skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
    },
}

impl Action {
    pub fn delivered(&self) -> bool {
        match self {
            Action::Post { result, .. } => *result == PostResult::Delivered,
        }
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Action::Post {
                webhook,
                message_id,
                result: PostResult::Delivered,
                ..
            } => write!(f, "Post {webhook} message {message_id}: delivered"),
            Action::Post {
                webhook,
                message_id,
                reason,
                ..
            } => write!(
                f,
                "Post {webhook} message {message_id}: {}",
                reason.as_deref().unwrap_or("failed")
            ),
        }
    }
}

/// One notification of the event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NotificationSummary {
    pub message_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event_type: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Outcome {
    /// The SSM parameter's name (never its value).
    pub parameter: String,
    /// How many webhooks it lists.
    pub webhooks: usize,
    pub notifications: Vec<NotificationSummary>,
    /// One post per webhook and notification.
    pub actions: Vec<Action>,
}

impl Outcome {
    /// The posts given up on.
    pub fn failures(&self) -> Vec<&Action> {
        self.actions.iter().filter(|a| !a.delivered()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn serialises_with_labels_and_results() {
        let outcome = Outcome {
            parameter: "/cm/dev/mc/webhooks".into(),
            webhooks: 2,
            notifications: vec![NotificationSummary {
                message_id: "m-1".into(),
                subject: Some("mc is up".into()),
                event_type: None,
            }],
            actions: vec![
                Action::Post {
                    webhook: "#1 (discord)".into(),
                    format: Format::Discord,
                    message_id: "m-1".into(),
                    result: PostResult::Delivered,
                    attempts: vec!["HTTP 429, again in 1 s".into(), "HTTP 204".into()],
                    reason: None,
                },
                Action::Post {
                    webhook: "#2 (plain)".into(),
                    format: Format::Plain,
                    message_id: "m-1".into(),
                    result: PostResult::Failed,
                    attempts: vec!["HTTP 404, not retried".into()],
                    reason: Some("HTTP 404, not retried".into()),
                },
            ],
        };
        assert_eq!(
            serde_json::to_value(&outcome).unwrap(),
            json!({
                "parameter": "/cm/dev/mc/webhooks",
                "webhooks": 2,
                "notifications": [{"message_id": "m-1", "subject": "mc is up"}],
                "actions": [
                    {"call": "Post", "webhook": "#1 (discord)", "format": "discord",
                     "message_id": "m-1", "result": "delivered",
                     "attempts": ["HTTP 429, again in 1 s", "HTTP 204"]},
                    {"call": "Post", "webhook": "#2 (plain)", "format": "plain",
                     "message_id": "m-1", "result": "failed",
                     "attempts": ["HTTP 404, not retried"], "reason": "HTTP 404, not retried"}
                ]
            })
        );
        assert_eq!(outcome.failures().len(), 1);
        assert_eq!(
            outcome.failures()[0].to_string(),
            "Post #2 (plain) message m-1: HTTP 404, not retried"
        );
        assert_eq!(
            outcome.actions[0].to_string(),
            "Post #1 (discord) message m-1: delivered"
        );
    }
}
