//! The control panel: a status page, a JSON status, a start button and a Discord
//! interactions endpoint for every container of a domain, behind a Lambda Function
//! URL. The containers are the domain's registry (`cm_core::registry`: one TXT record
//! per container in the hosted zone, written by the container's own stack), so a
//! container in any region appears without any change here.
//!
//! request (a Function URL event, payload format 2.0) -> [`parse`] (the route, the
//! bearer token, the Discord headers, the raw body) -> [`decide::admit`] (pure: the
//! route; a Discord request's Ed25519 signature and timestamp verified before its body
//! is read) -> [`act::observe`] (through [`Cloud`]: the registry, then each region's
//! groups and players concurrently; for a start, the token first and the registry
//! only if it matched) -> [`decide()`] (pure: the states, or who may start what) ->
//! [`act()`] (the group set to 1 in its region) -> [`Outcome`], whose `response` is the
//! Function URL response.
//!
//! The start token and the Authorization header are never logged or shown.

pub mod act;
pub mod aws;
pub mod cloud;
pub mod config;
pub mod decide;
pub mod fake;
pub mod outcome;
pub mod page;
pub mod parse;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::Value;

pub use act::{act, observe};
pub use aws::AwsCloud;
pub use cloud::{Cloud, Record, RecordPage, RecordStart, Window};
pub use config::Config;
pub use decide::{decide, Answer, ContainerView, Input, Observed, Plan, State};
pub use fake::FakeCloud;
pub use outcome::{Action, Outcome};
pub use parse::{parse, Request, Route, Secret};

/// Discord wants an answer within 3 seconds; the reads and the start get this much,
/// and the answer then says that AWS was too slow.
pub const DISCORD_DEADLINE: Duration = Duration::from_millis(2500);

/// Handles one request at `now`. A request that is refused (a wrong route, a missing
/// or wrong token, a bad Discord signature) reads nothing it does not need and writes
/// nothing. Only an event that is not a Function URL request is an error.
pub async fn handle<C: Cloud>(
    config: &Config,
    cloud: &C,
    event: &Value,
    now: SystemTime,
) -> Result<Outcome, cm_core::Error> {
    let request = parse(event, config)?;
    let route = request.route.label();
    let seconds = now
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0);
    let input = decide::admit(config, &request, seconds);
    let work = async {
        let observed = observe(config, cloud, &input, now).await;
        let plan = decide(config, &input, &observed);
        act(config, cloud, route, plan).await
    };
    let outcome = if input.is_discord() {
        match tokio::time::timeout(DISCORD_DEADLINE, work).await {
            Ok(outcome) => outcome,
            Err(_) => Outcome::new(
                route,
                Answer::Discord("AWS did not answer in time; try `/status` in a moment.".into()),
                Vec::new(),
                Some("Discord's deadline passed".into()),
            ),
        }
    } else {
        work.await
    };
    tracing::info!(
        method = %request.method,
        outcome = %serde_json::to_string(&outcome).unwrap_or_default(),
        "answered {}",
        outcome.status
    );
    Ok(outcome)
}
