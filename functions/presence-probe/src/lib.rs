//! The presence probe: every minute (an EventBridge schedule) it asks the game server
//! itself how many people play, over the game's own status protocol (Minecraft Java's
//! Server List Ping, Minecraft Bedrock's RakNet ping, Valve's A2S_INFO), and puts the
//! count as the `Players` metric, which the idle alarm reads.
//!
//! event (the schedule's) -> [`parse`] -> observe (the group, the serving instance's
//! public IPv4, launch time and first-answer tag, through [`Cloud`]) ->
//! [`decide::what_to_probe`] (pure) -> the probe (the game server, through
//! [`Cloud::probe`]) -> [`decide::decide`] (pure, at the tick's time) -> [`act`] (one
//! data point; with the first answer since the launch also the instance's tag,
//! `SecondsToPlayable` and a "playable" message; for a server that never answered
//! within the boot grace, the group to 0 and a "boot failed" message) -> [`Outcome`].
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

use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::Value;

pub use aws::AwsCloud;
pub use cloud::Cloud;
pub use config::Config;
pub use fake::FakeCloud;
pub use outcome::{Action, Boot, Outcome, Presence};

use decide::{Plan, Step};

/// Handles one tick of the schedule; `clock` is the time now (the tick's time is
/// the later of it and the event's, see [`decide::tick_time`]).
pub async fn handle<C: Cloud>(
    config: &Config,
    cloud: &C,
    event: &Value,
    clock: SystemTime,
) -> Result<Outcome, cm_core::Error> {
    let input = parse::parse(event)?;
    let observed = cloud::observe(config, cloud).await?;
    let plan = match decide::what_to_probe(config, &observed)? {
        Step::Skip(why) => Plan::Skip(why),
        Step::Probe(probe) => {
            let answer = cloud
                .probe(probe.protocol, &probe.host, probe.port, config.timeout)
                .await;
            let clock = clock
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
            let now = decide::tick_time(&input, clock);
            decide::decide(config, &observed, probe, answer, now)
        }
    };
    let outcome = act::act(config, cloud, &input, plan).await?;
    let json = serde_json::to_string(&outcome).unwrap_or_default();
    let summary = outcome.summary();
    match (outcome.players, outcome.boot) {
        (_, Some(Boot::Failed)) => tracing::warn!(outcome = %json, "{summary}"),
        (Some(players), _) => tracing::info!(outcome = %json, players, "{summary}"),
        (None, _) => tracing::info!(outcome = %json, "{summary}"),
    }
    Ok(outcome)
}
