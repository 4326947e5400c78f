//! Many containers under one domain, deployed as the domain's owner deploys them:
//! template.yaml as the domain's Component=domain stack in us-east-1 (hosted zone,
//! query log, the one subscription filter and the router), a Component=base stack in
//! each region that has containers (VPC and cluster, exported), and one
//! Component=container stack per container, in its region, given the domain stack's
//! zone; all into one local AWS emulator ([`crate::stack`]).
//!
//! The shared stacks go first (the domain and the bases at once), then the containers,
//! several at a time ([`Fleet::deploy`]). Each container is then a
//! [`Deployment`](crate::story::Deployment) of its own (its names, clients, the
//! events the deployed wiring delivers), sharing the emulator and the domain's stacks,
//! so the lifecycle story ([`crate::story::Story::on`]) plays on any of them, several
//! at once. `tests/domain.rs` checks the domain this way.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_config::{Region, SdkConfig};
use serde_json::Value;

use crate::stack::{route, Stack};
use crate::story::{parameters_of, Deployment, BASE_STACK, DOMAIN_NAME, DOMAIN_STACK, ENVIRONMENT};
use crate::Emulator;

/// One container to deploy: its `ContainerName`, its region, and its other
/// parameters (the container's settings).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerSpec {
    pub name: String,
    pub region: String,
    pub parameters: Vec<(String, String)>,
}

impl ContainerSpec {
    pub fn new(name: &str, region: &str) -> ContainerSpec {
        ContainerSpec {
            name: name.to_string(),
            region: region.to_string(),
            parameters: Vec::new(),
        }
    }

    /// With the parameter `key` = `value`.
    pub fn with(mut self, key: &str, value: &str) -> ContainerSpec {
        self.parameters.push((key.to_string(), value.to_string()));
        self
    }
}

/// How long the deploy took.
#[derive(Debug, Clone, Default)]
pub struct Timings {
    /// The domain and the bases, deployed at once.
    pub shared: Duration,
    /// The containers, after them.
    pub containers: Duration,
    /// How many container stacks were deployed at once.
    pub parallel: usize,
    /// Each container stack's deploy, from its CreateStack to CREATE_COMPLETE (while
    /// the others deployed), by container.
    pub each: BTreeMap<String, Duration>,
}

/// The name of a container's stack: `cm-{Environment}-{ContainerName}`.
pub fn container_stack(container: &str) -> String {
    format!("cm-{ENVIRONMENT}-{container}")
}

/// A domain's stacks as deployed, and one [`Deployment`] per container.
pub struct Fleet {
    pub emulator: Arc<Emulator>,
    /// The domain's Component=domain stack (us-east-1).
    pub domain: Stack,
    /// Each region's Component=base stack, by region.
    pub bases: BTreeMap<String, Stack>,
    containers: BTreeMap<String, Deployment>,
    pub timings: Timings,
}

/// Runs `deploy` on each of `items`, `parallel` at a time, on threads of their own
/// (a deploy blocks while the emulator's CloudFormation works); the results in the
/// order of `items`.
fn deploy_each<T: Sync, R: Send>(
    items: &[T],
    parallel: usize,
    deploy: impl Fn(&T) -> R + Sync,
) -> Vec<R> {
    let next = Mutex::new(0usize);
    let results: Mutex<BTreeMap<usize, R>> = Mutex::new(BTreeMap::new());
    std::thread::scope(|scope| {
        for _ in 0..parallel.clamp(1, items.len().max(1)) {
            scope.spawn(|| loop {
                let index = {
                    let Ok(mut next) = next.lock() else { return };
                    let index = *next;
                    *next += 1;
                    index
                };
                let Some(item) = items.get(index) else { return };
                let result = deploy(item);
                if let Ok(mut results) = results.lock() {
                    results.insert(index, result);
                }
            });
        }
    });
    results
        .into_inner()
        .map(|r| r.into_values().collect())
        .unwrap_or_default()
}

impl Fleet {
    /// Deploys into `emulator`, with Environment=[`ENVIRONMENT`] and
    /// DomainName=[`DOMAIN_NAME`]: the domain's stack (with the parameters of
    /// `parameters` the domain part takes, [`parameters_of`]) and a base stack in each
    /// region of `containers` at once, then each container's stack (its own
    /// parameters, the container part's of `parameters`, and the domain's zone),
    /// `parallel` at a time. `Err` names every stack that did not deploy.
    pub async fn deploy(
        emulator: Emulator,
        parameters: &[(&str, &str)],
        containers: &[ContainerSpec],
        parallel: usize,
    ) -> Result<Fleet, String> {
        let emulator = Arc::new(emulator);
        let mut common = vec![("Environment", ENVIRONMENT), ("DomainName", DOMAIN_NAME)];
        common.extend_from_slice(parameters);
        let mut regions: Vec<&str> = containers.iter().map(|c| c.region.as_str()).collect();
        regions.sort_unstable();
        regions.dedup();

        // The domain and the bases: nothing of one refers to another.
        let started = Instant::now();
        // (region, stack, parameters)
        type Part<'a> = (&'a str, &'a str, Vec<(&'a str, &'a str)>);
        let shared: Vec<Part> =
            std::iter::once(("us-east-1", DOMAIN_STACK, parameters_of("domain", &common)))
                .chain(
                    regions
                        .iter()
                        .map(|r| (*r, BASE_STACK, parameters_of("base", &common))),
                )
                .collect();
        let mut deployed = deploy_each(&shared, shared.len(), |(region, name, given)| {
            Stack::deploy(&emulator, region, name, given)
                .map_err(|e| format!("{name} in {region}: {e}"))
        });
        let failed: Vec<String> = deployed
            .iter()
            .filter_map(|r| r.as_ref().err().cloned())
            .collect();
        if !failed.is_empty() {
            return Err(failed.join("\n"));
        }
        let mut stacks = deployed.drain(..).filter_map(Result::ok);
        let domain = stacks.next().ok_or("the domain's stack is missing")?;
        let bases: BTreeMap<String, Stack> = stacks.map(|s| (s.region.clone(), s)).collect();
        let shared_time = started.elapsed();

        // The containers, given the domain's zone.
        let started = Instant::now();
        let zone = domain.output("HostedZoneId")?.to_string();
        let results = deploy_each(containers, parallel, |spec| {
            let mut given: Vec<(&str, &str)> = parameters_of("container", &common);
            given.retain(|(key, _)| *key != "Component");
            given.extend(
                spec.parameters
                    .iter()
                    .map(|(k, v)| (k.as_str(), v.as_str())),
            );
            given.extend([
                ("Component", "container"),
                ("ContainerName", spec.name.as_str()),
                ("HostedZoneId", zone.as_str()),
            ]);
            let name = container_stack(&spec.name);
            let started = Instant::now();
            Stack::deploy(&emulator, &spec.region, &name, &given)
                .map(|stack| (stack, started.elapsed()))
                .map_err(|e| format!("{name} in {}: {e}", spec.region))
        });
        let containers_time = started.elapsed();
        let failed: Vec<String> = results
            .iter()
            .filter_map(|r| r.as_ref().err().cloned())
            .collect();
        if !failed.is_empty() {
            return Err(format!(
                "{} of {} container stacks did not deploy:\n{}",
                failed.len(),
                containers.len(),
                failed.join("\n")
            ));
        }
        let mut fleet = Fleet {
            emulator: emulator.clone(),
            domain: domain.clone(),
            bases,
            containers: BTreeMap::new(),
            timings: Timings {
                shared: shared_time,
                containers: containers_time,
                parallel: parallel.max(1),
                each: BTreeMap::new(),
            },
        };
        for (spec, (stack, took)) in containers.iter().zip(results.into_iter().flatten()) {
            fleet.timings.each.insert(spec.name.clone(), took);
            let base = fleet.bases.get(&spec.region).cloned();
            let deployment = Deployment::of(emulator.clone(), domain.clone(), base, stack).await?;
            fleet.containers.insert(spec.name.clone(), deployment);
        }
        Ok(fleet)
    }

    /// The container `name`.
    pub fn container(&self, name: &str) -> Result<&Deployment, String> {
        self.containers.get(name).ok_or_else(|| {
            format!(
                "the domain has no container {name} (it has {:?})",
                self.containers.keys().collect::<Vec<_>>()
            )
        })
    }

    /// Every container, by name.
    pub fn containers(&self) -> impl Iterator<Item = &Deployment> {
        self.containers.values()
    }

    /// Every stack: the domain's, the bases, the containers'.
    pub fn stacks(&self) -> Vec<&Stack> {
        std::iter::once(&self.domain)
            .chain(self.bases.values())
            .chain(self.containers.values().map(|d| &d.container))
            .collect()
    }

    /// Deletes the container `name`'s stack (`Ok` once it is DELETE_COMPLETE; its
    /// terminate events and custom resources are answered meanwhile, as
    /// [`Stack::delete`] does) and forgets it.
    pub fn remove(&mut self, name: &str) -> Result<Stack, String> {
        let deployment = self.container(name)?;
        let deleted = deployment
            .container
            .delete(&self.emulator)
            .map_err(|e| e.to_string())?;
        self.containers.remove(name);
        Ok(deleted)
    }

    /// SDK configuration for `region` of the emulator.
    pub async fn sdk_config(&self, region: &str) -> SdkConfig {
        self.emulator
            .sdk_config()
            .await
            .into_builder()
            .region(Region::new(region.to_string()))
            .build()
    }

    /// Where the enabled rules of `region` deliver `event`: to which functions of any
    /// stack of the domain, and to which other targets.
    pub fn routed_anywhere(&self, region: &str, event: &Value) -> Result<Routed, String> {
        let targets = route(&self.emulator, region, event)?;
        let mut known = Vec::new();
        let mut others = Vec::new();
        for arn in targets {
            let found = self.stacks().into_iter().find_map(|s| {
                s.functions
                    .values()
                    .find(|f| f.arn == arn)
                    .map(|f| (s.name.clone(), f.logical_id.clone()))
            });
            match found {
                Some(function) => known.push(function),
                None => others.push(arn),
            }
        }
        known.sort();
        Ok(Routed {
            functions: known,
            others,
        })
    }
}

/// Where EventBridge delivers an event ([`Fleet::routed_anywhere`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Routed {
    /// The functions of the domain's stacks: (stack name, logical id), sorted.
    pub functions: Vec<(String, String)>,
    /// The ARNs of any other targets.
    pub others: Vec<String>,
}

/// Every record of `zone`: (name without the final dot, type, values), in Route 53's
/// order, all pages.
pub async fn zone_records(
    route53: &aws_sdk_route53::Client,
    zone: &str,
) -> Result<Vec<(String, String, Vec<String>)>, String> {
    let mut records = Vec::new();
    let mut start: Option<(String, aws_sdk_route53::types::RrType)> = None;
    loop {
        let mut call = route53.list_resource_record_sets().hosted_zone_id(zone);
        if let Some((name, kind)) = start.take() {
            call = call.start_record_name(name).start_record_type(kind);
        }
        let page = call
            .send()
            .await
            .map_err(|e| format!("ListResourceRecordSets {zone}: {e:?}"))?;
        for set in page.resource_record_sets() {
            records.push((
                set.name().trim_end_matches('.').to_string(),
                set.r#type().as_str().to_string(),
                set.resource_records()
                    .iter()
                    .map(|r| r.value().to_string())
                    .collect(),
            ));
        }
        match (
            page.is_truncated(),
            page.next_record_name(),
            page.next_record_type(),
        ) {
            (true, Some(name), Some(kind)) => start = Some((name.to_string(), kind.clone())),
            _ => return Ok(records),
        }
    }
}
