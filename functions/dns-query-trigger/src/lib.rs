//! The dns-query trigger: a player's DNS lookup of the container's name, seen in the
//! Route53 query log, starts the container.
//!
//! event (CloudWatch Logs subscription) -> [`decode`] -> [`decide`] -> [`actions`].

pub mod actions;
pub mod config;
pub mod decide;
pub mod decode;

use serde::Serialize;
use serde_json::Value;

pub use actions::{AwsTriggerActions, TriggerActions};
pub use config::TriggerConfig;

/// What one invocation saw and did.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Summary {
    pub message_type: String,
    pub log_group: String,
    pub lines_seen: usize,
    pub lines_matched: usize,
    pub actions: Vec<String>,
}

/// Handles one subscription event: decode, decide, and (if someone asked for the
/// container's name) scale the group to 1 and put the keep-alive metric in one
/// concurrent round.
pub async fn handle<A: TriggerActions>(
    config: &TriggerConfig,
    actions: &A,
    event: &Value,
) -> Result<Summary, cm_core::Error> {
    let data = decode::decode_event(event)?;
    let decision = decide::decide(&data, &config.query);
    let mut summary = Summary {
        message_type: data.message_type.clone(),
        log_group: data.log_group.clone(),
        lines_seen: decision.lines_seen,
        lines_matched: decision.lines_matched,
        actions: Vec::new(),
    };
    if !decision.start {
        tracing::info!(
            message_type = %summary.message_type,
            lines_seen = summary.lines_seen,
            "no query for the container's name; nothing to do"
        );
        return Ok(summary);
    }
    let (scaled, metric) = tokio::join!(
        actions.set_desired_capacity(&config.asg_name, 1),
        actions.put_keep_alive(&config.metric),
    );
    let mut errors = Vec::new();
    match scaled {
        Ok(()) => summary.actions.push(format!(
            "UpdateAutoScalingGroup {} DesiredCapacity=1",
            config.asg_name
        )),
        Err(err) => errors.push(err),
    }
    match metric {
        Ok(()) => summary.actions.push(format!(
            "PutMetricData {}/{}={}",
            config.metric.namespace, config.metric.name, config.metric.value
        )),
        Err(err) => errors.push(err),
    }
    if let Some(first) = errors.first() {
        let all: Vec<String> = errors.iter().map(ToString::to_string).collect();
        tracing::error!(errors = ?all, done = ?summary.actions, "starting the container failed");
        return Err(match errors.len() {
            1 => errors.remove(0),
            _ => cm_core::Error::Aws {
                operation: "UpdateAutoScalingGroup and PutMetricData".to_string(),
                message: format!("{first}; {}", all[1..].join("; ")),
            },
        });
    }
    tracing::info!(
        lines_seen = summary.lines_seen,
        lines_matched = summary.lines_matched,
        actions = ?summary.actions,
        "container start requested"
    );
    Ok(summary)
}
