//! The watchdog: turns the container off when nobody uses it (the idle alarm), when
//! it has been up too long (the left-up alarm), or when it crashed (an ECS task that
//! stopped on a failure).
//!
//! event -> [`event::parse`] -> [`decide::decide`] -> [`actions`].

pub mod actions;
pub mod config;
pub mod decide;
pub mod event;

use serde::Serialize;
use serde_json::Value;

pub use actions::{AwsWatchdogActions, Notification, WatchdogActions};
pub use config::WatchdogConfig;
use decide::Decision;

/// What one invocation saw and did.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Summary {
    /// `alarm`, `sns-alarm` or `ecs-task`.
    pub source: String,
    /// One entry per decision (an SNS delivery may in principle carry several).
    pub outcomes: Vec<Outcome>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Outcome {
    /// `ignored`, `already-stopped`, `stopped` or `notified`.
    pub result: String,
    /// Why: the trigger or the reason it was ignored.
    pub reason: String,
    pub actions: Vec<String>,
}

/// Handles one event. Every record is parsed and decided before anything is done, so
/// a malformed or foreign event changes nothing.
pub async fn handle<A: WatchdogActions>(
    config: &WatchdogConfig,
    actions: &A,
    event: &Value,
) -> Result<Summary, cm_core::Error> {
    let parsed = event::parse(event)?;
    let decisions = parsed
        .signals
        .iter()
        .map(|signal| decide::decide(signal, config))
        .collect::<Result<Vec<_>, _>>()?;
    let mut outcomes = Vec::new();
    for decision in decisions {
        outcomes.push(act(config, actions, decision).await?);
    }
    Ok(Summary {
        source: parsed.source.to_string(),
        outcomes,
    })
}

async fn act<A: WatchdogActions>(
    config: &WatchdogConfig,
    actions: &A,
    decision: Decision,
) -> Result<Outcome, cm_core::Error> {
    let (trigger, scale) = match decision {
        Decision::Ignore { why } => {
            tracing::info!(reason = %why, "ignored");
            return Ok(Outcome {
                result: "ignored".into(),
                reason: why,
                actions: Vec::new(),
            });
        }
        Decision::Stop { trigger, scale } => (trigger, scale),
    };
    let reason = trigger.describe(config);
    let current = actions.desired_capacity(&config.asg_name).await?;
    if current == 0 {
        tracing::info!(reason = %reason, asg = %config.asg_name, "the group is already at 0; nothing to do");
        return Ok(Outcome {
            result: "already-stopped".into(),
            reason,
            actions: Vec::new(),
        });
    }
    let notification = config
        .sns_topic_arn
        .as_ref()
        .map(|topic| Notification::new(topic, config, &trigger, scale));
    let scale_down = async {
        if scale {
            actions
                .set_desired_capacity(&config.asg_name, 0)
                .await
                .map(Some)
        } else {
            Ok(None)
        }
    };
    let notify = async {
        match &notification {
            Some(n) => actions.notify(n).await.map(Some),
            None => Ok(None),
        }
    };
    let (scaled, notified) = tokio::join!(scale_down, notify);
    let mut done = Vec::new();
    if let Ok(Some(())) = scaled {
        done.push(format!(
            "UpdateAutoScalingGroup {} DesiredCapacity=0",
            config.asg_name
        ));
    }
    if let (Ok(Some(())), Some(n)) = (&notified, &notification) {
        done.push(format!("Publish {} {:?}", n.topic_arn, n.message));
    }
    match (scaled, notified) {
        (Err(e), _) | (Ok(_), Err(e)) => {
            tracing::error!(error = %e, done = ?done, "stopping the container failed");
            Err(e)
        }
        _ => {
            tracing::info!(reason = %reason, actions = ?done, desired_before = current, "acted");
            Ok(Outcome {
                result: if scale { "stopped" } else { "notified" }.into(),
                reason,
                actions: done,
            })
        }
    }
}
