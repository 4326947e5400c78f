//! The DNS record updater: the container's name follows the running instance's
//! public address, and points at the unavailable IP while nothing runs.
//!
//! event -> [`cm_core::asg_event::parse`] -> (reads) -> [`decide::decide`] -> [`actions`].

pub mod actions;
pub mod config;
pub mod decide;

use cm_core::asg_event::{self, AsgSignal};
use serde::Serialize;
use serde_json::Value;

pub use actions::{AwsDnsActions, DnsActions};
pub use config::DnsConfig;
use decide::Facts;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Summary {
    /// `launch`, `terminate` or `ignored`.
    pub event: String,
    pub instance_id: String,
    pub actions: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// Handles one ASG event. Everything is read and decided before anything is written.
pub async fn handle<A: DnsActions>(
    config: &DnsConfig,
    actions: &A,
    event: &Value,
) -> Result<Summary, cm_core::Error> {
    let parsed = asg_event::parse(event, &config.asg_name)?;
    let facts = match &parsed.signal {
        AsgSignal::Launch {
            into_service: false,
            ..
        } => Facts::default(),
        AsgSignal::Launch { instance_id, .. } => {
            // The group too: a launch delivered late or twice, after the instance
            // left, must not point the name at it.
            let (addresses, records, group) = tokio::try_join!(
                actions.instance_addresses(instance_id),
                actions.current_records(&config.hosted_zone_id, &config.domain_name),
                actions.group_instances(&config.asg_name),
            )?;
            Facts {
                addresses: Some(addresses),
                records,
                group_instances: Some(group),
            }
        }
        AsgSignal::Terminate(_) => {
            let (group, records) = tokio::try_join!(
                actions.group_instances(&config.asg_name),
                actions.current_records(&config.hosted_zone_id, &config.domain_name),
            )?;
            Facts {
                addresses: None,
                records,
                group_instances: Some(group),
            }
        }
    };
    let plan = decide::decide(config, &parsed, &facts)?;
    let mut summary = Summary {
        event: plan.event.to_string(),
        instance_id: parsed.instance_id().to_string(),
        actions: Vec::new(),
        note: plan.note.clone(),
    };
    if plan.changes.is_empty() {
        tracing::info!(instance = %summary.instance_id, note = ?summary.note, "no DNS change needed");
        return Ok(summary);
    }
    actions
        .change_records(&config.hosted_zone_id, &plan.changes)
        .await?;
    summary
        .actions
        .extend(plan.changes.iter().map(|c| c.to_string()));
    if let (Some(topic), Some(message)) = (&config.sns_topic_arn, &plan.message) {
        actions.notify(topic, message).await?;
        summary
            .actions
            .push(format!("Publish {topic} {:?}", message.text));
    }
    tracing::info!(instance = %summary.instance_id, actions = ?summary.actions, "DNS updated");
    Ok(summary)
}
