//! act: a plan with changes becomes one atomic change batch and then, when a topic
//! is set, the message about it. A message is sent only for a change that was made.

use cm_core::Error;

use crate::cloud::Cloud;
use crate::config::Config;
use crate::decide::Plan;
use crate::outcome::{Action, Outcome};

pub async fn act<C: Cloud>(
    config: &Config,
    cloud: &C,
    instance_id: &str,
    plan: Plan,
) -> Result<Outcome, Error> {
    let mut outcome = Outcome {
        event: plan.event(),
        instance_id: instance_id.to_string(),
        actions: Vec::new(),
        note: None,
    };
    let (changes, message) = match plan {
        Plan::Nothing { note, .. } => {
            outcome.note = Some(note);
            return Ok(outcome);
        }
        Plan::Change {
            changes, message, ..
        } => (changes, message),
    };
    cloud
        .change_records(&config.hosted_zone_id, &changes)
        .await?;
    outcome.actions.push(Action::ChangeResourceRecordSets {
        zone: config.hosted_zone_id.clone(),
        changes,
    });
    if let Some(topic) = &config.sns_topic_arn {
        cloud.notify(topic, &message).await.inspect_err(|_| {
            tracing::error!(done = ?outcome.actions, "the record changed but the message failed");
        })?;
        outcome.actions.push(Action::Publish {
            topic: topic.clone(),
            event_type: message.event_type,
            subject: message.subject,
            message: message.text,
        });
    }
    Ok(outcome)
}
