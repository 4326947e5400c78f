//! The reads the decisions need ([`observe`]: the registry, then the groups and
//! players of every region concurrently; or the start token first and the registry
//! only for the right token) and the one write ([`act`]: a group set to 1 in its
//! region).

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, SystemTime};

use cm_core::registry::{self, Entry};
use cm_core::Error;
use futures_util::future::join_all;

use crate::cloud::{Cloud, Window};
use crate::config::Config;
use crate::decide::{authorized, Answer, Input, Observed, Plan, Reply};
use crate::outcome::{Action, Outcome};

/// How far back the latest `Players` data point is looked for.
pub const PLAYERS_WINDOW: Duration = Duration::from_secs(5 * 60);

/// Reads what `input` needs: nothing for an answer made from the request alone; the
/// registry, groups and players for a status; the token, then (if it matched) the
/// registry for a start; the registry for a start from Discord (whose signature was
/// checked already). A failed read is kept as its reason: the decision says what
/// to answer then.
pub async fn observe<C: Cloud>(
    config: &Config,
    cloud: &C,
    input: &Input,
    now: SystemTime,
) -> Observed {
    let mut observed = Observed::default();
    match input {
        Input::Answer { .. } => {}
        Input::Page | Input::Status | Input::DiscordStatus => {
            let entries = read_registry(config, cloud).await;
            if let Ok(entries) = &entries {
                read_status(config, cloud, entries, now, &mut observed).await;
            }
            observed.registry = Some(entries.map_err(|e| e.to_string()));
        }
        Input::Start { bearer, .. } => {
            let token = cloud.start_token(&config.start_token_parameter).await;
            let ok = token.map(|token| authorized(&token, bearer));
            if let Ok(true) = ok {
                observed.registry = Some(
                    read_registry(config, cloud)
                        .await
                        .map_err(|e| e.to_string()),
                );
            }
            observed.authorized = Some(ok.map_err(|e| e.to_string()));
        }
        Input::DiscordStart { .. } => {
            observed.registry = Some(
                read_registry(config, cloud)
                    .await
                    .map_err(|e| e.to_string()),
            );
        }
    }
    observed
}

/// The registry's entries ([`registry::read`]: the listing from `_cm.<domain>`, page
/// after page until the first name past the entries, at most [`registry::MAX_PAGES`];
/// records that are not entries are skipped, each logged with the reason).
pub async fn read_registry<C: Cloud>(config: &Config, cloud: &C) -> Result<Vec<Entry>, Error> {
    let zone = config.hosted_zone_id.as_str();
    registry::read(&config.domain_name, move |start| async move {
        cloud.list_records(zone, &start).await
    })
    .await
    .map(|listing| listing.entries)
}

/// The groups and players of every container: one round per region, the regions
/// concurrently, and in each region the two reads concurrently. A region whose
/// groups cannot be read leaves its containers unknown; one whose players cannot be
/// read leaves their players unknown (both logged).
async fn read_status<C: Cloud>(
    config: &Config,
    cloud: &C,
    entries: &[Entry],
    now: SystemTime,
    observed: &mut Observed,
) {
    let mut regions: BTreeMap<&str, Vec<&Entry>> = BTreeMap::new();
    for entry in entries {
        regions
            .entry(entry.region.as_str())
            .or_default()
            .push(entry);
    }
    let window = Window {
        start: now
            .checked_sub(PLAYERS_WINDOW)
            .unwrap_or(SystemTime::UNIX_EPOCH),
        end: now,
    };
    let rounds = regions.iter().map(|(region, entries)| async move {
        let groups: Vec<String> = unique(entries.iter().map(|e| e.asg.clone()));
        let metrics: Vec<String> = unique(entries.iter().map(|e| e.metric.clone()));
        let (groups, players) = tokio::join!(
            cloud.groups(region, &groups),
            cloud.players(region, &config.metric_namespace, &metrics, window)
        );
        (*region, entries, groups, players)
    });
    for (region, entries, groups, players) in join_all(rounds).await {
        match groups {
            Ok(groups) => {
                for entry in entries {
                    match groups.get(&entry.asg) {
                        Some(group) => {
                            observed.groups.insert(entry.name.clone(), group.clone());
                        }
                        None => {
                            tracing::warn!(container = %entry.name, group = %entry.asg, region, "the container's group does not exist");
                        }
                    }
                }
            }
            Err(err) => {
                tracing::warn!(region, error = %err, "the groups of a region could not be read");
                observed
                    .unread
                    .extend(entries.iter().map(|e| e.name.clone()));
            }
        }
        match players {
            Ok(players) => {
                for entry in entries {
                    if let Some(count) = players.get(&entry.metric) {
                        observed.players.insert(entry.name.clone(), *count);
                    }
                }
            }
            Err(err) => {
                tracing::warn!(region, error = %err, "the players of a region could not be read")
            }
        }
    }
}

fn unique(items: impl Iterator<Item = String>) -> Vec<String> {
    items.collect::<BTreeSet<_>>().into_iter().collect()
}

/// Carries out the plan: an answer as it is, or the start (the entry's group set to
/// 1 in its region) and its answer. A failed start is answered (502, or a message
/// for Discord) and logged; it changes nothing else.
pub async fn act<C: Cloud>(config: &Config, cloud: &C, route: &'static str, plan: Plan) -> Outcome {
    match plan {
        Plan::Answer { answer, note } => Outcome::new(route, answer, Vec::new(), note),
        Plan::Start { entry, reply } => {
            let address = format!("{}.{}", entry.name, config.domain_name);
            match cloud.set_desired(&entry.region, &entry.asg, 1).await {
                Ok(()) => {
                    let action = Action::UpdateAutoScalingGroup {
                        region: entry.region.clone(),
                        group: entry.asg.clone(),
                        desired_capacity: 1,
                    };
                    let answer = match reply {
                        Reply::Http => Answer::Started {
                            name: entry.name.clone(),
                            address,
                        },
                        Reply::Discord => Answer::Discord(format!(
                            "Starting **{}**: it will answer at {} in a few minutes.",
                            entry.name, address
                        )),
                    };
                    Outcome::new(route, answer, vec![action], None)
                }
                Err(err) => {
                    tracing::error!(container = %entry.name, error = %err, "the start failed");
                    let answer = match reply {
                        Reply::Http => {
                            Answer::error(502, format!("{} could not be started", entry.name))
                        }
                        Reply::Discord => Answer::Discord(format!(
                            "**{}** could not be started; try again.",
                            entry.name
                        )),
                    };
                    Outcome::new(route, answer, Vec::new(), Some(err.to_string()))
                }
            }
        }
    }
}
