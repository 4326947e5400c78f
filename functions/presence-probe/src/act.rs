//! act: a count becomes one `Players` data point; a skip or an unknown count puts
//! nothing (the idle alarm treats missing data as not breaching, so an unknown
//! count never stops a server).

use cm_core::Error;

use crate::cloud::Cloud;
use crate::config::{Config, PLAYERS_METRIC};
use crate::decide::Plan;
use crate::outcome::{Action, Outcome, Presence};
use crate::parse::Input;

pub async fn act<C: Cloud>(
    config: &Config,
    cloud: &C,
    input: &Input,
    plan: Plan,
) -> Result<Outcome, Error> {
    let mut outcome = Outcome {
        protocol: config
            .game
            .as_ref()
            .map_or("none", |g| g.protocol.name())
            .to_string(),
        presence: Presence::NotProbed,
        players: None,
        max_players: None,
        target: None,
        instance_id: None,
        note: None,
        rule: input.rule.clone(),
        actions: Vec::new(),
    };
    match plan {
        Plan::Skip(why) => outcome.note = Some(why.to_string()),
        Plan::Unknown { probe, reason } => {
            outcome.presence = Presence::Unknown;
            outcome.target = Some(probe.target());
            outcome.instance_id = Some(probe.instance_id);
            outcome.note = Some(reason);
        }
        Plan::Put { probe, answer } => {
            outcome.target = Some(probe.target());
            outcome.instance_id = Some(probe.instance_id);
            cloud.put_players(&config.metric, answer.players).await?;
            outcome.presence = Presence::Answered;
            outcome.players = Some(answer.players);
            outcome.max_players = answer.max_players;
            outcome.actions.push(Action::PutMetricData {
                namespace: config.metric.namespace.clone(),
                metric: PLAYERS_METRIC.to_string(),
                value: f64::from(answer.players),
            });
        }
    }
    Ok(outcome)
}
