//! The presence probe: every minute (an EventBridge schedule) it asks the game server
//! itself how many people play, over the game's own status protocol (Minecraft Java's
//! Server List Ping, Minecraft Bedrock's RakNet ping, Valve's A2S_INFO), and puts the
//! count as the `Players` metric, which the idle alarm reads.
//!
//! event (the schedule's) -> [`parse`] -> observe (the group's instances, the serving
//! instance's public IPv4, through [`Cloud`]) -> [`decide::what_to_probe`] (pure) ->
//! the probe (the game server, through [`Cloud::probe`]) -> [`decide::decide`] (pure)
//! -> [`act`] (one data point, or none) -> [`Outcome`].
//!
//! No answer is an unknown count, never a 0: nothing is put, the log says "unknown",
//! and the invocation succeeds.

pub mod act;
pub mod aws;
pub mod cloud;
pub mod config;
pub mod decide;
pub mod fake;
pub mod outcome;
pub mod parse;
pub mod protocol;

use serde_json::Value;

pub use aws::AwsCloud;
pub use cloud::Cloud;
pub use config::Config;
pub use fake::FakeCloud;
pub use outcome::{Action, Outcome, Presence};

use decide::{Plan, Step};

/// Handles one tick of the schedule.
pub async fn handle<C: Cloud>(
    config: &Config,
    cloud: &C,
    event: &Value,
) -> Result<Outcome, cm_core::Error> {
    let input = parse::parse(event)?;
    let observed = cloud::observe(config, cloud).await?;
    let plan = match decide::what_to_probe(config, &observed)? {
        Step::Skip(why) => Plan::Skip(why),
        Step::Probe(probe) => {
            let answer = cloud
                .probe(probe.protocol, &probe.host, probe.port, config.timeout)
                .await;
            decide::decide(probe, answer)
        }
    };
    let outcome = act::act(config, cloud, &input, plan).await?;
    let json = serde_json::to_string(&outcome).unwrap_or_default();
    let note = outcome.note.as_deref().unwrap_or_default();
    match (outcome.presence, outcome.players) {
        (Presence::Answered, Some(players)) => {
            tracing::info!(outcome = %json, players, "players: {players}")
        }
        (Presence::Unknown, _) => tracing::info!(outcome = %json, "players unknown: {note}"),
        _ => tracing::info!(outcome = %json, "not probed: {note}"),
    }
    Ok(outcome)
}
