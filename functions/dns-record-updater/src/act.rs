//! act: a plan with changes becomes one atomic change batch and then, when a topic
//! is set, the message about it. A message is sent only for a change that was made;
//! a plan without changes makes no call.

use cm_core::Error;

use crate::cloud::Cloud;
use crate::config::Config;
use crate::decide::{Change, Message, Plan, Reconcile};
use crate::outcome::{Action, Outcome};

pub async fn act<C: Cloud>(
    config: &Config,
    cloud: &C,
    instance_id: Option<&str>,
    plan: Plan,
) -> Result<Outcome, Error> {
    let mut outcome = Outcome {
        event: plan.event(),
        instance_id: instance_id.map(str::to_string),
        actions: Vec::new(),
        note: None,
        found: None,
    };
    match plan {
        Plan::Nothing { note, .. } => outcome.note = Some(note),
        Plan::Change {
            changes, message, ..
        } => apply(config, cloud, changes, message, &mut outcome).await?,
        Plan::Reconcile(Reconcile {
            instance_id,
            change,
            note,
            found,
        }) => {
            outcome.instance_id = instance_id;
            outcome.note = note;
            outcome.found = Some(found);
            if let Some((changes, message)) = change {
                apply(config, cloud, changes, message, &mut outcome).await?;
            }
        }
    }
    Ok(outcome)
}

/// The change batch, then the message; each call made is added to `outcome`.
async fn apply<C: Cloud>(
    config: &Config,
    cloud: &C,
    changes: Vec<Change>,
    message: Message,
    outcome: &mut Outcome,
) -> Result<(), Error> {
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
    Ok(())
}
