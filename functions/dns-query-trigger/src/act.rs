//! act: the registry read when the one held will not do ([`registry`]), then the
//! plan carried out ([`act`]): every region touched at once, and in each region one
//! UpdateAutoScalingGroup per group and one PutMetricData with all its data points,
//! concurrently: one round of calls per region, whatever the batch size.

use std::sync::Arc;

use cm_core::Error;
use futures_util::future::{join, join_all};

use crate::cache::{Clock, RegistryCache};
use crate::cloud::{Cloud, KeepAlive, Scaled};
use crate::config::Config;
use crate::decide::{self, Plan, Read, Registry};
use crate::outcome::{Action, Outcome};
use crate::parse::Queries;

/// The registry to decide with: the one the warm process holds, or (when
/// [`decide::registry_read`] says so) the one read now, which is then held. A failed
/// read is the error: nothing is scaled on a registry that could not be read.
pub async fn registry<C: Cloud, K: Clock>(
    config: &Config,
    cloud: &C,
    cache: &RegistryCache,
    clock: &K,
    queries: &Queries,
) -> Result<(Arc<Registry>, Option<Read>), Error> {
    let now = clock.now();
    let held = cache.get(now);
    let why = decide::registry_read(
        held.as_ref().map(|(registry, age)| (&**registry, *age)),
        config.registry_ttl,
        queries,
    );
    let Some(why) = why else {
        return Ok((held.map(|(registry, _)| registry).unwrap_or_default(), None));
    };
    let zone = config.hosted_zone_id.as_str();
    let listing = cm_core::registry::read(&config.query.domain, move |start| async move {
        cloud.list_records(zone, &start).await
    })
    .await
    .inspect_err(|err| {
        tracing::error!(
            reason = why.as_str(),
            error = %err,
            "the registry could not be read; nothing scaled"
        )
    })?;
    tracing::info!(
        reason = why.as_str(),
        entries = listing.entries.len(),
        skipped = listing.bad.len(),
        pages = listing.pages,
        "registry read"
    );
    let registry = Arc::new(decide::registry_of(listing.entries));
    cache.put(now, registry.clone());
    Ok((registry, Some(why)))
}

/// Carries out `plan`: each region's round at once. A group that no longer exists is
/// listed in the outcome's `gone` and logged, and is no error; any other failure
/// fails the invocation (each one named, with what was done), after every call of
/// the round has been made.
pub async fn act<C: Cloud>(
    config: &Config,
    cloud: &C,
    queries: &Queries,
    plan: &Plan,
) -> Result<Outcome, Error> {
    let mut outcome = Outcome {
        message_type: queries.message_type.clone(),
        log_group: queries.log_group.clone(),
        lines_seen: queries.lines_seen,
        lines_matched: queries.lines_matched,
        actions: Vec::new(),
        unknown: plan.unknown.clone(),
        gone: Vec::new(),
    };
    let rounds = plan.regions.iter().map(|(region, todo)| async move {
        let scales = join_all(
            todo.groups
                .iter()
                .map(|group| async move { (group, cloud.set_desired(region, group, 1).await) }),
        );
        let put = cloud.put_keep_alive(
            region,
            KeepAlive {
                metric: &config.metric,
                datums: &todo.datums,
            },
        );
        let (scaled, put) = join(scales, put).await;
        (region, todo, scaled, put)
    });
    let mut errors = Vec::new();
    for (region, todo, scaled, put) in join_all(rounds).await {
        for (group, result) in scaled {
            match result {
                Ok(Scaled::Done) => outcome.actions.push(Action::UpdateAutoScalingGroup {
                    region: region.clone(),
                    group: group.clone(),
                    desired_capacity: 1,
                }),
                Ok(Scaled::Gone) => {
                    tracing::warn!(
                        region = %region,
                        group = %group,
                        "the container's group no longer exists (its stack is being deleted, \
                         or its registry entry outlived it); nothing to start"
                    );
                    outcome.gone.push(group.clone());
                }
                Err(err) => errors.push(err),
            }
        }
        match put {
            Ok(()) => outcome
                .actions
                .extend(todo.datums.iter().map(|d| Action::PutMetricData {
                    region: region.clone(),
                    namespace: config.metric.namespace.clone(),
                    metric: config.metric.name.clone(),
                    container: d.container.clone(),
                    value: d.value,
                })),
            Err(err) => errors.push(err),
        }
    }
    if errors.is_empty() {
        return Ok(outcome);
    }
    let all: Vec<String> = errors.iter().map(ToString::to_string).collect();
    tracing::error!(
        errors = ?all,
        done = ?outcome.actions,
        gone = ?outcome.gone,
        "starting the containers failed"
    );
    Err(match errors.len() {
        1 => errors.remove(0),
        n => Error::Aws {
            operation: format!("{n} of the router's calls"),
            message: all.join("; "),
        },
    })
}
