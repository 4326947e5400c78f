//! act: every webhook concurrently, each one's messages in order; each message
//! attempted until [`verdict`] says it is delivered or given up, waiting what it says
//! between attempts. A webhook that fails never holds up the others. If any message
//! was given up on, the invocation fails (after every webhook has had its turn) with
//! an error naming each failed webhook by its label, and the outcome is logged.

use std::time::SystemTime;

use cm_core::http::HttpResponse;
use cm_core::Error;
use tokio::time::Instant;

use crate::cloud::Cloud;
use crate::decide::{seconds, verdict, Delivery, Plan, Rendered, Verdict};
use crate::outcome::{Action, Outcome, PostResult};
use crate::parse::Webhook;

pub async fn act<C: Cloud>(cloud: &C, plan: Plan, deadline: Instant) -> Result<Outcome, Error> {
    let webhooks = plan.deliveries.len();
    let per_webhook = futures_util::future::join_all(
        plan.deliveries
            .iter()
            .map(|delivery| deliver_all(cloud, delivery, deadline)),
    )
    .await;
    let outcome = Outcome {
        parameter: plan.parameter,
        webhooks,
        notifications: plan.notifications,
        actions: per_webhook.into_iter().flatten().collect(),
    };
    let failures = outcome.failures();
    if failures.is_empty() {
        return Ok(outcome);
    }
    let failed: Vec<String> = failures.iter().map(ToString::to_string).collect();
    let mut delivered: Vec<String> = Vec::new();
    for action in outcome.actions.iter().filter(|a| a.delivered()) {
        let Action::Post { webhook, .. } = action;
        if !delivered.contains(webhook) {
            delivered.push(webhook.clone());
        }
    }
    tracing::error!(
        outcome = %serde_json::to_string(&outcome).unwrap_or_default(),
        "{} of {} posts failed",
        failed.len(),
        outcome.actions.len()
    );
    let mut message = failed.join("; ");
    if !delivered.is_empty() {
        message.push_str(&format!(" (delivered to {})", delivered.join(", ")));
    }
    Err(Error::Http {
        operation: "Post to the webhooks".to_string(),
        message,
    })
}

/// One webhook's messages, in order; a message given up on does not stop the next.
async fn deliver_all<C: Cloud>(cloud: &C, delivery: &Delivery, deadline: Instant) -> Vec<Action> {
    let mut actions = Vec::with_capacity(delivery.messages.len());
    for message in &delivery.messages {
        actions.push(deliver(cloud, &delivery.webhook, message, deadline).await);
    }
    actions
}

async fn deliver<C: Cloud>(
    cloud: &C,
    webhook: &Webhook,
    message: &Rendered,
    deadline: Instant,
) -> Action {
    let label = webhook.label();
    let mut attempts = Vec::new();
    loop {
        let reply = cloud.post(webhook, message).await;
        let made = attempts.len() as u32 + 1;
        let time_left = deadline.saturating_duration_since(Instant::now());
        let verdict = verdict(&reply, made, time_left, SystemTime::now());
        let got = answer(&reply);
        let (result, reason) = match verdict {
            Verdict::Done => {
                attempts.push(got);
                (PostResult::Delivered, None)
            }
            Verdict::RetryAfter(wait) => {
                tracing::warn!(
                    webhook = %label,
                    message_id = %message.message_id,
                    attempt = made,
                    "{got}: again in {}",
                    seconds(wait)
                );
                attempts.push(format!("{got}, again in {}", seconds(wait)));
                tokio::time::sleep(wait).await;
                continue;
            }
            Verdict::GiveUp(why) => {
                tracing::warn!(
                    webhook = %label,
                    message_id = %message.message_id,
                    attempt = made,
                    "given up: {why}"
                );
                attempts.push(got);
                (PostResult::Failed, Some(why))
            }
        };
        return Action::Post {
            webhook: label,
            format: webhook.format,
            message_id: message.message_id.clone(),
            result,
            attempts,
            reason,
        };
    }
}

/// What one attempt got: `HTTP 204`, or `no answer` with why.
fn answer(reply: &Result<HttpResponse, Error>) -> String {
    match reply {
        Ok(response) => format!("HTTP {}", response.status),
        Err(Error::Http { message, .. }) => format!("no answer ({message})"),
        Err(other) => format!("no answer ({other})"),
    }
}
