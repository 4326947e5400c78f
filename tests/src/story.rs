//! The whole lifecycle of one container, offline, on template.yaml as deployed: the
//! SAM-transformed template is deployed into the local AWS emulator's CloudFormation
//! ([`crate::stack`]), as one Component=all stack in us-east-1, or as the domain's
//! Component=domain stack in us-east-1 with a Component=base and a Component=container
//! stack in another region ([`Layout`]; many containers: [`crate::fleet`]), and the
//! story plays against the physical resources those stacks made. Each function runs as its
//! real binary behind a Lambda Runtime API server with exactly the environment, log
//! settings and timeout of its deployed Lambda configuration, and each event goes to
//! the functions the deployed wiring delivers it to, so a wrong `Environment` entry,
//! ARN or event pattern in the template fails a step:
//!
//! - **a lookup**: the hosted zone's query logging configuration names a log group
//!   (in us-east-1, where Route 53 writes query logs), that group's subscription
//!   filter names its destination function (the domain's router); the batch carries
//!   that group, that filter, the zone's id and the container's address;
//! - **Auto Scaling and ECS events**: the deployed EventBridge rules whose patterns
//!   match the event ([`Stack::routed_to`]) must be the functions AWS invokes;
//! - **an alarm**: its deployed actions, with its ARN, name and metrics in the event;
//! - **a schedule's tick**: the deployed scheduled rule that targets the function;
//! - **a topic's message** ([`Story::setup_demo`], with the notifier): the deployed
//!   subscription of the container's topic to the notifier, one SNS event per message
//!   published, and a local webhook that records what the notifier posted.
//!
//! The emulator has no ECS agent or scheduler, does not deliver events and does not
//! evaluate alarms, so the story plays them, explicitly: the instance's ECS agent
//! registers it in the cluster its user data names, with the attributes its user data
//! gives (`ECS_CLUSTER`, `ECS_INSTANCE_ATTRIBUTES`), and `Story::ecs_scheduler` starts
//! the service's task definition on a container instance that meets the task
//! definition's placement constraints (ECS's own query, `ListContainerInstances` with
//! the constraint as its filter) while the service wants 1, and stops the service's
//! tasks when it is scaled to 0 (what ECS does); each event is
//! built from the emulator's real state (instance ids, ARNs, tokens) and handed to the
//! functions the deployed wiring names. Each step checks the emulator's state
//! afterwards. `cm-demo` prints the timeline; `tests/e2e.rs` asserts that every step
//! held. [`Deployment`] is the part shared with the presence story
//! ([`crate::presence`]) and the benchmarks.

use std::collections::{BTreeMap, HashMap};
use std::io::{BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_sdk_autoscaling::Client as AutoScaling;
use aws_sdk_cloudwatch::types::MetricAlarm;
use aws_sdk_cloudwatch::Client as CloudWatch;
use aws_sdk_ecs::Client as Ecs;
use serde_json::{json, Value};

use crate::emulator::{self, ACCOUNT};
use crate::events;
use crate::function::{Function, Spec};
use crate::function_url::FunctionUrl;
use crate::game_servers::StatusResponder;
use crate::http;
use crate::stack::{ContainerNames, DeployedFunction, Stack};
use crate::{Emulator, Outcome};

/// The `ContainerName` the story deploys.
pub const CONTAINER: &str = "mc";
/// The `DomainName` the story deploys.
pub const DOMAIN_NAME: &str = "example.com";
/// The container's address ({ContainerName}.{DomainName}, the `ContainerAddress`
/// output).
pub const DOMAIN: &str = "mc.example.com";
/// The `Environment` the story deploys.
pub const ENVIRONMENT: &str = "demo";
/// The story's stack (the container's, Component=all or container).
pub const STACK: &str = "cm-demo-mc";
/// The domain's stack of [`Layout::TwoRegions`] (Component=domain, in us-east-1).
pub const DOMAIN_STACK: &str = "cm-demo-domain";
/// The region's base stack of [`Layout::TwoRegions`] (Component=base, in the
/// container's region).
pub const BASE_STACK: &str = "cm-demo-base";

/// The four functions' names, as their binaries are called.
pub const FUNCTIONS: [&str; 4] = [TRIGGER, SYNC, UPDATER, WATCHDOG];

/// The control panel's binary: in the domain part of the stacks, when deployed with a
/// `StartTokenParameter` (see [`Story::setup_demo`]).
pub const CONTROL_PANEL: &str = "control-panel";

/// The notifier's binary: deployed by [`Story::setup_demo`] (with a
/// `WebhookUrlsParameter`), in the container part of the stacks.
pub const NOTIFIER: &str = "notifier";

/// The name the story gives the SSM SecureString of the control panel's start token
/// (in us-east-1, the domain part's region).
pub const START_TOKEN_PARAMETER: &str = "/cm/demo/start-token";

/// The SSM SecureString listing the notifier's webhooks ([`Story::setup_demo`]; in
/// the container's region).
pub const WEBHOOK_URLS_PARAMETER: &str = "/cm/demo/mc/webhooks";

/// The path of the story's webhook (a Discord webhook's shape: `/api/webhooks/`).
pub const WEBHOOK_PATH: &str = "/api/webhooks/1/demo";

/// The presence probe's binary (its story is [`crate::presence`]).
pub const PRESENCE_PROBE: &str = "presence-probe";

/// Every function, the lifecycle's four and the presence probe: what the benchmarks
/// measure, in this order (the probe before the watchdog, which stops the group).
pub const ALL_FUNCTIONS: [&str; 5] = [TRIGGER, SYNC, UPDATER, PRESENCE_PROBE, WATCHDOG];

const TRIGGER: &str = "dns-query-trigger";
const SYNC: &str = "asg-ecs-sync";
const UPDATER: &str = "dns-record-updater";
const WATCHDOG: &str = "watchdog-scale-down";

/// How long the story waits for a function's answer (the deadline each invocation
/// gets is the function's deployed `Timeout`).
const WAIT: Duration = Duration::from_secs(90);

/// One line of the timeline.
#[derive(Debug, Clone)]
pub struct Step {
    pub ok: bool,
    pub elapsed: Duration,
    pub function: String,
    pub what: String,
    pub change: String,
}

impl std::fmt::Display for Step {
    /// `ok     12.34s function | what | change` (`FAIL` when the effect is missing).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {:>7.2}s {} | {} | {}",
            if self.ok { "ok  " } else { "FAIL" },
            self.elapsed.as_secs_f64(),
            self.function,
            self.what,
            self.change
        )
    }
}

/// A test's timeline: each step's line printed (to stderr) as it happens and kept,
/// for the failure message.
#[derive(Debug, Clone, Default)]
pub struct Timeline(Arc<Mutex<Vec<String>>>);

impl Timeline {
    /// What a story calls on each step: the step's line, after `[label] ` when a
    /// label is given (stories that run at once), printed and kept.
    pub fn on_step(&self, label: Option<String>) -> Box<dyn FnMut(&Step) + Send> {
        let lines = self.0.clone();
        Box::new(move |step: &Step| {
            let line = match &label {
                Some(label) => format!("[{label}] {step}"),
                None => step.to_string(),
            };
            eprintln!("{line}");
            lines
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .push(line);
        })
    }

    /// Every line kept so far, one a line.
    pub fn text(&self) -> String {
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .join("\n")
    }
}

#[derive(Debug, Default)]
pub struct Report {
    pub steps: Vec<Step>,
    pub calls: HashMap<String, u64>,
    pub log_dir: PathBuf,
}

impl Report {
    pub fn failures(&self) -> Vec<&Step> {
        self.steps.iter().filter(|s| !s.ok).collect()
    }
}

/// Where the story's stacks are deployed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Layout {
    /// One stack, Component=all, in us-east-1.
    All,
    /// The domain's Component=domain stack in us-east-1 (zone, query log, router),
    /// the region's Component=base stack (VPC, cluster, exported) and the
    /// Component=container stack in `container_region`, given the domain stack's zone.
    TwoRegions { container_region: String },
}

/// Parameters only the Component=domain part takes (the others refuse them).
pub const DOMAIN_PARAMETERS: [&str; 5] = [
    "StartTokenParameter",
    "DiscordPublicKey",
    "ControlPanelConcurrency",
    "ParentHostedZoneId",
    "ExistingHostedZoneId",
];
/// Parameters only the Component=base part takes.
pub const BASE_PARAMETERS: [&str; 3] = ["VpcId", "SubnetIdA", "SubnetIdB"];
/// Parameters every part takes.
pub const SHARED_PARAMETERS: [&str; 6] = [
    "BaseName",
    "Environment",
    "LogLevel",
    "LogRetentionDays",
    "Architecture",
    "LocalEndpointUrl",
];

/// The parameters of `parameters` that the `component` part of the stacks takes
/// (`all` takes them all): `domain` its own ([`DOMAIN_PARAMETERS`]), `DomainName` and
/// the shared ones, `base` its own ([`BASE_PARAMETERS`]) and the shared ones,
/// `container` every other, `DomainName` and the shared ones; with `Component` set.
pub fn parameters_of<'a>(
    component: &'a str,
    parameters: &[(&'a str, &'a str)],
) -> Vec<(&'a str, &'a str)> {
    let mut given: Vec<(&str, &str)> = parameters
        .iter()
        .copied()
        .filter(|(key, _)| {
            let shared = SHARED_PARAMETERS.contains(key);
            let domain = DOMAIN_PARAMETERS.contains(key);
            let base = BASE_PARAMETERS.contains(key);
            match component {
                "all" => true,
                "domain" => shared || domain || *key == "DomainName",
                "base" => shared || base,
                _ => !domain && !base && *key != "Component",
            }
        })
        .filter(|(key, _)| *key != "Component")
        .collect();
    given.push(("Component", component));
    given
}

/// The story's stacks as deployed: their container's names (read from what
/// CloudFormation made), clients of the container's region, the events the deployed
/// wiring delivers, and the reads each step checks. One per container of a
/// [`crate::fleet::Fleet`], sharing its emulator and its domain's stacks.
#[derive(Clone)]
pub struct Deployment {
    pub emulator: Arc<Emulator>,
    /// The stack with the hosted zone, its query log and the router (the domain's
    /// Component=domain stack; the one stack with [`Layout::All`]).
    pub domain: Stack,
    /// The container region's Component=base stack (VPC, cluster); none with
    /// [`Layout::All`].
    pub base: Option<Stack>,
    /// The stack with the group and the container's functions (the same stack with
    /// [`Layout::All`]).
    pub container: Stack,
    pub names: ContainerNames,
    group_arn: String,
    autoscaling: AutoScaling,
    ecs: Ecs,
    ec2: aws_sdk_ec2::Client,
    cloudwatch: CloudWatch,
    route53: aws_sdk_route53::Client,
}

fn deployed(result: Result<Stack, crate::stack::DeployError>) -> Result<Stack, String> {
    result.map_err(|e| e.to_string())
}

impl Deployment {
    /// Starts an emulator and deploys template.yaml into its CloudFormation as
    /// `layout` says, with Environment=[`ENVIRONMENT`], DomainName=[`DOMAIN_NAME`],
    /// ContainerName=[`CONTAINER`] and `parameters`. The emulator's call counts start
    /// after the deploy.
    pub async fn deploy(
        layout: &Layout,
        parameters: &[(&str, &str)],
    ) -> Result<Deployment, String> {
        Deployment::deploy_in(Emulator::start(), layout, parameters).await
    }

    /// [`Deployment::deploy`] into `emulator`, which may hold what the stacks need
    /// beforehand (the SSM parameters a stack is given the names of). With
    /// [`Layout::TwoRegions`] each part is given the parameters it takes
    /// ([`parameters_of`]).
    pub async fn deploy_in(
        emulator: Emulator,
        layout: &Layout,
        parameters: &[(&str, &str)],
    ) -> Result<Deployment, String> {
        let mut common = vec![
            ("Environment", ENVIRONMENT),
            ("DomainName", DOMAIN_NAME),
            ("ContainerName", CONTAINER),
        ];
        common.extend_from_slice(parameters);
        let emulator = Arc::new(emulator);
        let deployment = match layout {
            Layout::All => {
                let stack = deployed(Stack::deploy(&emulator, "us-east-1", STACK, &common))?;
                Deployment::of(emulator.clone(), stack.clone(), None, stack).await?
            }
            Layout::TwoRegions { container_region } => {
                let domain = deployed(Stack::deploy(
                    &emulator,
                    "us-east-1",
                    DOMAIN_STACK,
                    &parameters_of("domain", &common),
                ))?;
                let base = deployed(Stack::deploy(
                    &emulator,
                    container_region,
                    BASE_STACK,
                    &parameters_of("base", &common),
                ))?;
                let zone = domain.output("HostedZoneId")?.to_string();
                let mut given = parameters_of("container", &common);
                given.push(("HostedZoneId", zone.as_str()));
                let container =
                    deployed(Stack::deploy(&emulator, container_region, STACK, &given))?;
                Deployment::of(emulator.clone(), domain, Some(base), container).await?
            }
        };
        emulator.reset_counts();
        Ok(deployment)
    }

    /// The container of `container`, a Component=all stack (`domain` the same stack,
    /// `base` none) or a Component=container stack with its domain's stack and its
    /// region's base stack, deployed in `emulator`.
    pub async fn of(
        emulator: Arc<Emulator>,
        domain: Stack,
        base: Option<Stack>,
        container: Stack,
    ) -> Result<Deployment, String> {
        let names = container
            .container_names_on(&emulator, base.as_ref())
            .await?;
        let sdk = container.sdk_config(&emulator).await;
        let autoscaling = AutoScaling::new(&sdk);
        let group_arn = autoscaling
            .describe_auto_scaling_groups()
            .auto_scaling_group_names(&names.group)
            .send()
            .await
            .map_err(|e| format!("DescribeAutoScalingGroups {}: {e:?}", names.group))?
            .auto_scaling_groups()
            .first()
            .and_then(|g| g.auto_scaling_group_arn())
            .map(str::to_string)
            .ok_or_else(|| format!("the deployed group {} has no ARN", names.group))?;
        Ok(Deployment {
            ecs: Ecs::new(&sdk),
            ec2: aws_sdk_ec2::Client::new(&sdk),
            cloudwatch: CloudWatch::new(&sdk),
            route53: aws_sdk_route53::Client::new(&sdk),
            autoscaling,
            group_arn,
            names,
            domain,
            base,
            container,
            emulator,
        })
    }

    /// The stacks: the domain's, the base, the container's (one with
    /// [`Layout::All`]).
    pub fn stacks(&self) -> Vec<&Stack> {
        let mut stacks = vec![&self.domain];
        for stack in self.base.iter().chain([&self.container]) {
            if stacks.iter().all(|s| s.id != stack.id) {
                stacks.push(stack);
            }
        }
        stacks
    }

    /// Where the stacks are, in a few words: `Component=all in us-east-1`, or `domain
    /// in us-east-1 + base in eu-west-1 + container in eu-west-1`.
    pub fn layout(&self) -> String {
        let component = |s: &Stack| {
            s.parameters
                .get("Component")
                .cloned()
                .unwrap_or_else(|| "?".into())
        };
        match self.stacks().as_slice() {
            [one] => format!("Component={} in {}", component(one), one.region),
            stacks => stacks
                .iter()
                .map(|s| format!("{} in {}", component(s), s.region))
                .collect::<Vec<_>>()
                .join(" + "),
        }
    }

    /// What was deployed, in one line: each stack and its status.
    pub fn describe(&self) -> String {
        let stacks: Vec<String> = self
            .stacks()
            .iter()
            .map(|s| format!("{} {}", s.name, s.status))
            .collect();
        stacks.join(", ")
    }

    /// How many resources the stacks have and how many of them the emulator's
    /// CloudFormation bridges made or completed.
    pub fn sizes(&self) -> (usize, usize) {
        let resources = self.stacks().iter().map(|s| s.resources.len()).sum();
        let bridged = self
            .stacks()
            .iter()
            .map(|s| s.bridged(&self.emulator).map_or(0, |b| b.len()))
            .sum();
        (resources, bridged)
    }

    /// The stack that deploys the function built from `binary`, and the function.
    pub fn function(&self, binary: &str) -> Result<(&Stack, &DeployedFunction), String> {
        self.stacks()
            .into_iter()
            .find_map(|stack| stack.function_of(binary).ok().map(|f| (stack, f)))
            .ok_or_else(|| {
                format!(
                    "no stack of the story deploys {binary} ({})",
                    self.describe()
                )
            })
    }

    /// The whole environment of `binary`'s process: what Lambda gives it from its
    /// deployed configuration, pointed at the emulator in its stack's region
    /// ([`Stack::function_env`]). One addition, for the presence probe: the game
    /// server it asks is at 127.0.0.1 (`GAME_HOST`), since the emulator's instances
    /// have public addresses that nothing listens on, while the tests' game servers
    /// listen on this machine; the port stays the deployed `GAME_PORT`.
    pub fn function_env(&self, binary: &str) -> Result<Vec<(String, String)>, String> {
        let (stack, function) = self.function(binary)?;
        let mut env = stack.function_env(&self.emulator, &function.logical_id)?;
        if binary == PRESENCE_PROBE && !function.variables.contains_key("GAME_HOST") {
            env.push(("GAME_HOST".into(), "127.0.0.1".into()));
        }
        Ok(env)
    }

    /// How to start `binary`: under its deployed name, with [`Self::function_env`],
    /// each invocation given the function's deployed `Timeout`.
    pub fn function_spec(&self, binary: &str) -> Result<Spec, String> {
        let (stack, function) = self.function(binary)?;
        let timeout = Duration::from_secs(function.configuration["Timeout"].as_u64().unwrap_or(3));
        Ok(stack
            .function_spec(&self.emulator, &function.logical_id)?
            .envs(self.function_env(binary)?)
            .timeouts(timeout, WAIT))
    }

    /// Starts the functions built from `binaries`, their output in `log_dir`.
    pub fn start(&self, binaries: &[&str], log_dir: &Path) -> Result<Functions, String> {
        let mut running = BTreeMap::new();
        for binary in binaries {
            let function = self
                .function_spec(binary)?
                .log(log_dir.join(format!("{binary}.log")))
                .start()?;
            running.insert(binary.to_string(), function);
        }
        Ok(Functions { running })
    }

    // -- the events the deployed wiring delivers ---------------------------------------

    /// The binaries of the functions the deployed EventBridge rules of the container's
    /// region deliver `event` to, sorted.
    pub fn routed(&self, event: &Value) -> Result<Vec<String>, String> {
        let stack = &self.container;
        let mut routed = stack
            .routed_to(&self.emulator, event)?
            .iter()
            .map(|id| stack.function(id).map(|f| f.binary.clone()))
            .collect::<Result<Vec<_>, _>>()?;
        routed.sort();
        Ok(routed)
    }

    /// `Ok` if the deployed rules deliver `event` to exactly `expected` (binaries).
    pub fn expect_routed(&self, event: &Value, expected: &[&str]) -> Result<(), String> {
        let routed = self.routed(event)?;
        let mut want: Vec<&str> = expected.to_vec();
        want.sort_unstable();
        if routed == want {
            Ok(())
        } else {
            Err(format!(
                "the deployed rules deliver {} to {routed:?}, not to {want:?}",
                event["detail-type"]
            ))
        }
    }

    /// A lookup of `name` for a `kind` record, as the zone's query logging delivers
    /// it: the subscription event (the batch of the log group the zone logs to, named
    /// by that group's subscription filter) and the binaries of the filter's
    /// destinations.
    pub async fn query_log_event(
        &self,
        name: &str,
        kind: &str,
    ) -> Result<(Value, Vec<String>), String> {
        let zone = &self.names.zone;
        // All of the account's configurations, this zone's picked below (moto answers
        // NoSuchHostedZone when asked for those of a zone by its id).
        let configs = self
            .route53
            .list_query_logging_configs()
            .send()
            .await
            .map_err(|e| format!("ListQueryLoggingConfigs: {e:?}"))?;
        let arn = configs
            .query_logging_configs()
            .iter()
            .find(|c| c.hosted_zone_id().trim_start_matches("/hostedzone/") == zone)
            .map(|c| c.cloud_watch_logs_log_group_arn().to_string())
            .ok_or_else(|| format!("the hosted zone {zone} logs no queries"))?;
        // arn:aws:logs:us-east-1:123456789012:log-group:/aws/route53/mc.example.com:*
        if arn.split(':').nth(3) != Some("us-east-1") {
            return Err(format!(
                "the zone logs its queries to {arn}: Route 53 writes query logs only to \
                 log groups in us-east-1"
            ));
        }
        let group = arn
            .split_once(":log-group:")
            .map(|(_, g)| g.trim_end_matches(":*").to_string())
            .ok_or_else(|| format!("{arn} is not a log group's ARN"))?;
        let filters: Vec<_> = self
            .domain
            .bridged(&self.emulator)?
            .into_iter()
            .filter(|b| {
                b.resource_type == "AWS::Logs::SubscriptionFilter"
                    && b.properties["LogGroupName"].as_str() == Some(group.as_str())
            })
            .collect();
        let Some(filter) = filters.first() else {
            return Err(format!("no subscription filter on {group}"));
        };
        let pattern = filter.properties["FilterPattern"]
            .as_str()
            .unwrap_or_default();
        if !pattern.is_empty() {
            return Err(format!(
                "the filter {} has the pattern {pattern:?}: the story delivers every line",
                filter.physical_id
            ));
        }
        let destination = filter.properties["DestinationArn"]
            .as_str()
            .unwrap_or_default();
        let targets: Vec<String> = self
            .domain
            .functions
            .values()
            .filter(|f| f.arn == destination)
            .map(|f| f.binary.clone())
            .collect();
        if targets.is_empty() {
            return Err(format!(
                "the filter {} delivers to {destination:?}, no function of the stack",
                filter.physical_id
            ));
        }
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
        let line = format!(
            "1.0 {} {zone} {name} {kind} NOERROR UDP FRA6 192.0.2.1 -",
            events::now_rfc3339()
        );
        let batch = json!({
            "messageType": "DATA_MESSAGE",
            "owner": ACCOUNT,
            "logGroup": group,
            "logStream": format!("{zone}/FRA6"),
            "subscriptionFilters": [filter.physical_id],
            "logEvents": [{"id": format!("{now:056}"), "timestamp": now, "message": line}],
        });
        let event = events::awslogs_event(&events::gzip(batch.to_string().as_bytes()));
        Ok((event, targets))
    }

    /// The alarm `name` as deployed.
    pub async fn alarm(&self, name: &str) -> Result<MetricAlarm, String> {
        self.cloudwatch
            .describe_alarms()
            .alarm_names(name)
            .send()
            .await
            .map_err(|e| format!("DescribeAlarms {name}: {e:?}"))?
            .metric_alarms()
            .first()
            .cloned()
            .ok_or_else(|| format!("no alarm {name}"))
    }

    /// The data the alarm `name` reads of the metric `namespace`/`metric` in the last
    /// five minutes (the sum of its data points, with the dimensions and in the region
    /// of the alarm's query): `None` if the alarm reads no such metric.
    pub async fn alarm_reads(
        &self,
        name: &str,
        namespace: &str,
        metric: &str,
    ) -> Result<Option<f64>, String> {
        let alarm = self.alarm(name).await?;
        let Some(query) = alarm
            .metrics()
            .iter()
            .filter_map(|q| q.metric_stat().and_then(|s| s.metric()))
            .find(|m| m.namespace() == Some(namespace) && m.metric_name() == Some(metric))
            .cloned()
        else {
            return Ok(None);
        };
        let now = aws_sdk_cloudwatch::primitives::DateTime::from(std::time::SystemTime::now());
        let stats = self
            .cloudwatch
            .get_metric_statistics()
            .namespace(namespace)
            .metric_name(metric)
            .set_dimensions(Some(query.dimensions().to_vec()))
            .start_time(aws_sdk_cloudwatch::primitives::DateTime::from_secs(
                now.secs() - 300,
            ))
            .end_time(aws_sdk_cloudwatch::primitives::DateTime::from_secs(
                now.secs() + 60,
            ))
            .period(60)
            .statistics(aws_sdk_cloudwatch::types::Statistic::Sum)
            .send()
            .await
            .map_err(|e| format!("GetMetricStatistics {namespace}/{metric}: {e:?}"))?;
        Ok(Some(
            stats.datapoints().iter().filter_map(|p| p.sum()).sum(),
        ))
    }

    /// The alarm `name` going to ALARM for `reason`, as CloudWatch invokes its Lambda
    /// actions: the event (the deployed alarm's ARN, name, description and metrics)
    /// and the binaries of the functions among its actions.
    pub async fn alarm_event(
        &self,
        name: &str,
        reason: &str,
    ) -> Result<(Value, Vec<String>), String> {
        let alarm = self.alarm(name).await?;
        if alarm.actions_enabled() == Some(false) {
            return Err(format!("the alarm {name}'s actions are disabled"));
        }
        let actions = alarm.alarm_actions();
        let targets: Vec<String> = self
            .container
            .functions
            .values()
            .filter(|f| actions.contains(&f.arn))
            .map(|f| f.binary.clone())
            .collect();
        if targets.len() != actions.len() {
            return Err(format!(
                "the alarm {name}'s actions {actions:?} are not all functions of the stack"
            ));
        }
        let now = events::now_rfc3339();
        let mut event = events::alarm_event(alarm.alarm_arn().unwrap_or_default(), name);
        event["region"] = self.container.region.clone().into();
        event["time"] = now.clone().into();
        event["alarmData"]["state"]["reason"] = reason.into();
        event["alarmData"]["state"]["timestamp"] = now.into();
        event["alarmData"]["configuration"] = json!({
            "description": alarm.alarm_description().unwrap_or_default(),
            "metrics": alarm_metrics(&alarm),
        });
        Ok((event, targets))
    }

    /// The tick at `time` (RFC 3339) of the deployed schedule that invokes `binary`:
    /// the Scheduled Event naming its rule, and the schedule's expression.
    pub fn schedule_event(&self, binary: &str, time: &str) -> Result<(Value, String), String> {
        let (stack, function) = self.function(binary)?;
        let schedules: Vec<_> = stack
            .schedules(&self.emulator)?
            .into_iter()
            .filter(|s| s.targets.contains(&function.logical_id))
            .collect();
        let [schedule] = schedules.as_slice() else {
            return Err(format!(
                "{} schedules invoke {binary}: {schedules:?}",
                schedules.len()
            ));
        };
        let mut event = events::sample("presence-probe/schedule.json");
        event["time"] = time.into();
        event["region"] = stack.region.clone().into();
        event["resources"] = json!([schedule.arn]);
        Ok((event, schedule.expression.clone()))
    }

    /// The sample ASG event `events/asg/<sample>` of `instance` as the deployed group
    /// sends it now (its name, ARN, hook and region).
    pub fn asg_event(&self, sample: &str, instance: &str) -> Value {
        let names = &self.names;
        let mut event = events::asg_event(sample, &names.group, &names.hook, instance);
        let region = &self.container.region;
        event["region"] = region.clone().into();
        event["resources"] = if event["detail"].get("LifecycleActionToken").is_some() {
            json!([self.group_arn])
        } else {
            json!([
                self.group_arn,
                format!("arn:aws:ec2:{region}:{ACCOUNT}:instance/{instance}")
            ])
        };
        event
    }

    /// The terminate lifecycle action of `instance` for the deployed hook and `token`.
    pub fn terminate_event(&self, instance: &str, token: &str) -> Value {
        let mut event = self.asg_event("terminate-lifecycle-action.json", instance);
        event["detail"]["LifecycleActionToken"] = token.into();
        event
    }

    /// The ECS Task State Change of the stopped `task` as EventBridge sends it: the
    /// sample `events/<sample>` with the task's real cluster, ARNs, group and
    /// container name, read back from the emulator.
    pub async fn task_stopped_event(&self, sample: &str, task: &str) -> Result<Value, String> {
        let described = self
            .ecs
            .describe_tasks()
            .cluster(&self.names.cluster)
            .tasks(task)
            .send()
            .await
            .map_err(|e| format!("DescribeTasks {task}: {e:?}"))?;
        let found = described
            .tasks()
            .first()
            .ok_or_else(|| format!("no task {task}"))?;
        let container = found
            .containers()
            .first()
            .and_then(|c| c.name())
            .unwrap_or(self.names.container.as_str());
        let text = |v: Option<&str>| Value::from(v.unwrap_or_default());
        let mut event = events::sample(sample);
        event["time"] = events::now_rfc3339().into();
        event["region"] = self.container.region.clone().into();
        event["resources"] = json!([task]);
        let detail = &mut event["detail"];
        detail["clusterArn"] = text(found.cluster_arn());
        detail["taskArn"] = task.into();
        detail["group"] = text(found.group());
        detail["containerInstanceArn"] = text(found.container_instance_arn());
        detail["taskDefinitionArn"] = text(found.task_definition_arn());
        detail["containers"][0]["name"] = container.into();
        detail["containers"][0]["taskArn"] = task.into();
        Ok(event)
    }

    /// Registers the terminate lifecycle action the deployed hook starts for
    /// `instance` (the emulator completes it once, as Auto Scaling does).
    pub fn begin_lifecycle_action(&self, instance: &str, token: &str) -> Result<(), String> {
        let names = &self.names;
        self.container.begin_lifecycle_action(
            &self.emulator,
            &names.group,
            &names.hook,
            instance,
            token,
        )
    }

    // -- reads -------------------------------------------------------------------------

    /// The group's desired capacity, or -1 if it cannot be read.
    pub async fn desired(&self) -> i32 {
        emulator::desired(&self.autoscaling, &self.names.group).await
    }

    /// Sets the group's desired capacity, as the owner does in the console.
    pub async fn set_desired(&self, desired: i32) -> Result<(), String> {
        cm_core::autoscaling::set_desired_capacity(&self.autoscaling, &self.names.group, desired)
            .await
            .map_err(|e| e.to_string())
    }

    /// The ECS service's desired count, or -1 if it cannot be read.
    pub async fn service_desired(&self) -> i32 {
        emulator::service_desired(&self.ecs, &self.names.cluster, &self.names.service).await
    }

    /// The values of the container's A record, joined by commas.
    pub async fn record(&self) -> String {
        emulator::a_record(&self.route53, &self.names.zone, &self.names.domain).await
    }

    /// The address the DNS updater writes while nothing runs (its deployed
    /// `UNAVAILABLE_IP`).
    pub fn resting_ip(&self) -> String {
        self.function(UPDATER)
            .ok()
            .and_then(|(_, f)| f.variables.get("UNAVAILABLE_IP").cloned())
            .unwrap_or_default()
    }

    pub async fn in_service_instance(&self) -> Option<String> {
        emulator::in_service_instance(&self.autoscaling, &self.names.group).await
    }

    pub async fn public_ip(&self, instance: &str) -> String {
        emulator::public_ip(&self.ec2, instance).await
    }

    /// The instance's launch time (seconds since the Unix epoch).
    pub async fn launch_time(&self, instance: &str) -> Option<i64> {
        self.instance(instance)
            .await?
            .launch_time()
            .map(|t| t.secs())
    }

    /// The instance's tag `key`.
    pub async fn tag(&self, instance: &str, key: &str) -> Option<String> {
        self.instance(instance)
            .await?
            .tags()
            .iter()
            .find(|t| t.key() == Some(key))
            .and_then(|t| t.value().map(str::to_string))
    }

    /// The instance's state (`running`, `terminated`...).
    pub async fn instance_state(&self, instance: &str) -> Option<String> {
        self.instance(instance)
            .await?
            .state()
            .and_then(|s| s.name())
            .map(|n| n.as_str().to_string())
    }

    async fn instance(&self, instance: &str) -> Option<aws_sdk_ec2::types::Instance> {
        self.ec2
            .describe_instances()
            .instance_ids(instance)
            .send()
            .await
            .ok()?
            .reservations()
            .first()?
            .instances()
            .first()
            .cloned()
    }

    /// The ARNs of the container's service's tasks that have not stopped (the
    /// cluster may be its region's, shared with other containers).
    pub async fn running_tasks(&self) -> Vec<String> {
        let group = format!("service:{}", self.names.service);
        let cluster = &self.names.cluster;
        let tasks = emulator::running_tasks(&self.ecs, cluster).await;
        if tasks.is_empty() {
            return tasks;
        }
        self.ecs
            .describe_tasks()
            .cluster(cluster)
            .set_tasks(Some(tasks))
            .send()
            .await
            .map(|o| {
                o.tasks()
                    .iter()
                    .filter(|t| t.group() == Some(group.as_str()))
                    .filter_map(|t| t.task_arn().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The EC2 instance the task `task` runs on, or "" if it cannot be read.
    pub async fn task_instance(&self, task: &str) -> String {
        let cluster = &self.names.cluster;
        let Ok(described) = self
            .ecs
            .describe_tasks()
            .cluster(cluster)
            .tasks(task)
            .send()
            .await
        else {
            return String::new();
        };
        let Some(arn) = described
            .tasks()
            .first()
            .and_then(|t| t.container_instance_arn())
        else {
            return String::new();
        };
        emulator::container_instance_ec2(&self.ecs, cluster, arn).await
    }

    /// How many terminate lifecycle actions of the container's group were completed
    /// (CompleteLifecycleAction, as the emulator's Auto Scaling records them).
    pub fn completed_lifecycle_actions(&self) -> usize {
        let region = self.container.region.as_str();
        self.emulator.lifecycle_actions()["completed"]
            .as_array()
            .map(|done| {
                done.iter()
                    .filter(|a| {
                        a["AutoScalingGroupName"] == self.names.group.as_str()
                            && a["Region"] == region
                    })
                    .count()
            })
            .unwrap_or(0)
    }

    /// The ECS agent's configuration that the instances' user data writes to
    /// `/etc/ecs/ecs.config` (`ECS_CLUSTER`, `ECS_INSTANCE_ATTRIBUTES`...), read from
    /// the launch template the deployed group launches.
    pub async fn agent_config(&self) -> Result<BTreeMap<String, String>, String> {
        let group = &self.names.group;
        let described = self
            .autoscaling
            .describe_auto_scaling_groups()
            .auto_scaling_group_names(group)
            .send()
            .await
            .map_err(|e| format!("DescribeAutoScalingGroups {group}: {e:?}"))?;
        let template = described
            .auto_scaling_groups()
            .first()
            .and_then(|g| g.launch_template())
            .ok_or_else(|| format!("the group {group} launches no launch template"))?;
        let mut call = self.ec2.describe_launch_template_versions();
        call = match (
            template.launch_template_id(),
            template.launch_template_name(),
        ) {
            (Some(id), _) => call.launch_template_id(id),
            (None, Some(name)) => call.launch_template_name(name),
            (None, None) => return Err(format!("the group {group}'s launch template has no id")),
        };
        let version = template.version().unwrap_or("$Default");
        let versions = call
            .versions(version)
            .send()
            .await
            .map_err(|e| format!("DescribeLaunchTemplateVersions of {group}'s: {e:?}"))?;
        let user_data = versions
            .launch_template_versions()
            .first()
            .and_then(|v| v.launch_template_data())
            .and_then(|d| d.user_data())
            .ok_or_else(|| {
                format!("the launch template of {group} (version {version}) has no user data")
            })?;
        use base64::Engine as _;
        let script = base64::engine::general_purpose::STANDARD
            .decode(user_data.trim())
            .map_err(|e| format!("the launch template's user data is not base64: {e}"))?;
        Ok(ecs_config(&String::from_utf8_lossy(&script)))
    }

    /// The instance's ECS agent starts and registers it, as the agent does: in the
    /// cluster its user data names (`ECS_CLUSTER`, which must be the container's), with
    /// the attributes its user data gives (`ECS_INSTANCE_ATTRIBUTES`, a JSON object).
    /// The container instance's ARN.
    pub async fn agent_registers(&self, instance: &str) -> Result<String, String> {
        let config = self.agent_config().await?;
        let cluster = config
            .get("ECS_CLUSTER")
            .ok_or("the instance's user data sets no ECS_CLUSTER")?;
        if *cluster != self.names.cluster {
            return Err(format!(
                "the instance's agent joins the cluster {cluster}, not the container's {}",
                self.names.cluster
            ));
        }
        let mut attributes = Vec::new();
        if let Some(text) = config.get("ECS_INSTANCE_ATTRIBUTES") {
            let given: serde_json::Map<String, Value> = serde_json::from_str(text)
                .map_err(|e| format!("ECS_INSTANCE_ATTRIBUTES={text} is not a JSON object: {e}"))?;
            for (name, value) in given {
                let value = value
                    .as_str()
                    .ok_or_else(|| format!("ECS_INSTANCE_ATTRIBUTES: {name} is not a string"))?;
                attributes.push(
                    aws_sdk_ecs::types::Attribute::builder()
                        .name(name)
                        .value(value)
                        .build()
                        .map_err(|e| format!("an attribute: {e}"))?,
                );
            }
        }
        let identity =
            json!({"instanceId": instance, "region": self.container.region, "accountId": ACCOUNT});
        self.ecs
            .register_container_instance()
            .cluster(cluster)
            .instance_identity_document(identity.to_string())
            .set_attributes(Some(attributes))
            .send()
            .await
            .map_err(|e| format!("RegisterContainerInstance {instance}: {e:?}"))?
            .container_instance()
            .and_then(|c| c.container_instance_arn())
            .map(str::to_string)
            .ok_or_else(|| "RegisterContainerInstance: the answer has no ARN".to_string())
    }

    /// The CloudWatch client of the container's region.
    pub fn cloudwatch(&self) -> &CloudWatch {
        &self.cloudwatch
    }

    /// Every message published to the container's topic.
    pub fn sns_messages(&self) -> Vec<Value> {
        self.container
            .sns_messages(&self.emulator)
            .unwrap_or_default()
            .into_iter()
            .filter(|m| m["TopicArn"] == self.names.topic_arn.as_str())
            .collect()
    }

    /// The text of the last message published, or "" if there is none.
    pub fn last_sns_message(&self) -> String {
        self.sns_messages()
            .last()
            .and_then(|m| m["Message"].as_str().map(str::to_string))
            .unwrap_or_default()
    }

    /// The SNS event that the deployed subscription of `binary`'s function to
    /// `message`'s topic delivers (`message` as [`Deployment::sns_messages`] lists
    /// it): one record, with the subscription's ARN and the message's id, subject and
    /// attributes. An error if no subscription of the stack sends that topic to the
    /// function.
    pub fn sns_event(&self, message: &Value, binary: &str) -> Result<Value, String> {
        let (stack, function) = self.function(binary)?;
        let topic = message["TopicArn"].as_str().unwrap_or_default();
        let subscription = stack
            .bridged(&self.emulator)?
            .into_iter()
            .find(|b| {
                b.resource_type == "AWS::SNS::Subscription"
                    && b.properties["Protocol"] == "lambda"
                    && b.properties["Endpoint"].as_str() == Some(function.arn.as_str())
                    && b.properties["TopicArn"].as_str() == Some(topic)
            })
            .ok_or_else(|| {
                format!(
                    "no subscription of {} sends the topic {topic} to {}",
                    stack.name, function.name
                )
            })?;
        let attributes: serde_json::Map<String, Value> = message["MessageAttributes"]
            .as_object()
            .into_iter()
            .flatten()
            .map(|(name, a)| {
                (
                    name.clone(),
                    json!({"Type": a["DataType"], "Value": a["StringValue"]}),
                )
            })
            .collect();
        let arn = &subscription.physical_id;
        let region = &stack.region;
        Ok(json!({"Records": [{
            "EventVersion": "1.0",
            "EventSubscriptionArn": arn,
            "EventSource": "aws:sns",
            "Sns": {
                "Type": "Notification",
                "MessageId": message["MessageId"],
                "TopicArn": topic,
                "Subject": message["Subject"],
                "Message": message["Message"],
                "Timestamp": events::now_rfc3339(),
                "SignatureVersion": "1",
                "Signature": "EXAMPLE",
                "SigningCertURL": format!("https://sns.{region}.amazonaws.com/SimpleNotificationService-0000000000000000000000000000000.pem"),
                "UnsubscribeURL": format!("https://sns.{region}.amazonaws.com/?Action=Unsubscribe&SubscriptionArn={arn}"),
                "MessageAttributes": attributes,
            },
        }]}))
    }
}

/// The alarm's metrics as CloudWatch writes them in a Lambda alarm action's event
/// (`alarmData.configuration.metrics`).
fn alarm_metrics(alarm: &MetricAlarm) -> Value {
    let dimensions = |items: &[aws_sdk_cloudwatch::types::Dimension]| -> Value {
        items
            .iter()
            .filter_map(|d| Some((d.name()?.to_string(), Value::from(d.value()?))))
            .collect::<serde_json::Map<_, _>>()
            .into()
    };
    if alarm.metrics().is_empty() {
        return json!([{
            "id": "m1",
            "metricStat": {
                "metric": {
                    "namespace": alarm.namespace().unwrap_or_default(),
                    "name": alarm.metric_name().unwrap_or_default(),
                    "dimensions": dimensions(alarm.dimensions()),
                },
                "period": alarm.period().unwrap_or_default(),
                "stat": alarm.statistic().map(|s| s.as_str()).unwrap_or_default(),
            },
            "returnData": true,
        }]);
    }
    alarm
        .metrics()
        .iter()
        .map(|query| {
            let mut metric = json!({
                "id": query.id().unwrap_or_default(),
                "returnData": query.return_data().unwrap_or(true),
            });
            if let Some(label) = query.label() {
                metric["label"] = label.into();
            }
            if let Some(expression) = query.expression() {
                metric["expression"] = expression.into();
            }
            if let Some(stat) = query.metric_stat() {
                let inner = stat.metric();
                metric["metricStat"] = json!({
                    "metric": {
                        "namespace": inner.and_then(|m| m.namespace()).unwrap_or_default(),
                        "name": inner.and_then(|m| m.metric_name()).unwrap_or_default(),
                        "dimensions": dimensions(inner.map(|m| m.dimensions()).unwrap_or_default()),
                    },
                    "period": stat.period().unwrap_or_default(),
                    "stat": stat.stat().unwrap_or_default(),
                });
            }
            metric
        })
        .collect()
}

/// The running functions, by binary.
pub struct Functions {
    running: BTreeMap<String, Function>,
}

impl Functions {
    /// The running function built from `binary`.
    pub fn get(&self, binary: &str) -> Result<&Function, String> {
        self.running
            .get(binary)
            .ok_or_else(|| format!("{binary} is not running"))
    }

    /// Sends `event` to each of `binaries`; their outcomes (`None`: no answer in time).
    pub fn invoke_each(&self, binaries: &[String], event: &Value) -> Vec<Option<Outcome>> {
        binaries
            .iter()
            .map(|b| self.get(b).ok().and_then(|f| f.try_invoke(event.clone())))
            .collect()
    }
}

/// The single outcome of an event delivered to one function, if it was a response.
fn single_response(outcomes: &[Option<Outcome>]) -> Option<&Value> {
    match outcomes {
        [Some(outcome)] => outcome.response(),
        _ => None,
    }
}

/// The ECS agent's settings (`KEY=VALUE`, the keys `ECS_...`) that a user data script
/// writes to `/etc/ecs/ecs.config`, as the agent then reads them: from lines such as
/// `echo "ECS_CLUSTER=cm-cluster-prod" >> /etc/ecs/ecs.config`, `echo
/// 'ECS_INSTANCE_ATTRIBUTES={"cm.container":"mc"}' >> ...`, or the lines of a
/// heredoc. A value in double quotes is unescaped (`\"`, `\\`) as the shell does.
pub fn ecs_config(script: &str) -> BTreeMap<String, String> {
    let mut config = BTreeMap::new();
    for line in script.lines() {
        let Some(at) = line.find("ECS_") else {
            continue;
        };
        let Some(eq) = line[at..].find('=').map(|i| at + i) else {
            continue;
        };
        let key = &line[at..eq];
        if !key
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
        {
            continue;
        }
        let rest = &line[eq + 1..];
        let value = match line[..at].chars().last() {
            Some('"') => {
                let mut value = String::new();
                let mut chars = rest.chars();
                while let Some(c) = chars.next() {
                    match c {
                        '\\' => value.extend(chars.next()),
                        '"' => break,
                        c => value.push(c),
                    }
                }
                value
            }
            Some('\'') => rest.split('\'').next().unwrap_or_default().to_string(),
            _ => rest
                .split(" >>")
                .next()
                .unwrap_or_default()
                .trim()
                .to_string(),
        };
        config.insert(key.to_string(), value);
    }
    config
}

/// A webhook on 127.0.0.1 that records every POST (its path and body) and answers
/// 204, as Discord does: where the story's notifier posts.
pub struct Webhooks {
    port: u16,
    posts: Arc<Mutex<Vec<(String, String)>>>,
    stop: Arc<AtomicBool>,
}

impl Webhooks {
    /// Listens on a free port of 127.0.0.1 until dropped.
    pub fn start() -> Result<Webhooks, String> {
        let listener = TcpListener::bind(("127.0.0.1", 0)).map_err(|e| format!("webhook: {e}"))?;
        let port = listener
            .local_addr()
            .map_err(|e| format!("webhook: {e}"))?
            .port();
        let posts: Arc<Mutex<Vec<(String, String)>>> = Arc::default();
        let stop = Arc::new(AtomicBool::new(false));
        let (record, stopped) = (posts.clone(), stop.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                if stopped.load(Ordering::SeqCst) {
                    break;
                }
                if let Ok(stream) = stream {
                    let record = record.clone();
                    std::thread::spawn(move || Webhooks::serve(stream, &record));
                }
            }
        });
        Ok(Webhooks { port, posts, stop })
    }

    fn serve(stream: TcpStream, posts: &Mutex<Vec<(String, String)>>) {
        let _ = stream.set_read_timeout(Some(Duration::from_secs(30)));
        let Ok(mut writer) = stream.try_clone() else {
            return;
        };
        let mut reader = BufReader::new(stream);
        while let Ok(Some((line, headers))) = http::read_head(&mut reader) {
            let body = http::read_body(&mut reader, &headers)
                .ok()
                .flatten()
                .unwrap_or_default();
            let path = line
                .split_whitespace()
                .nth(1)
                .unwrap_or_default()
                .to_string();
            if let Ok(mut posts) = posts.lock() {
                posts.push((path, String::from_utf8_lossy(&body).into_owned()));
            }
            if writer
                .write_all(b"HTTP/1.1 204 No Content\r\ncontent-length: 0\r\n\r\n")
                .is_err()
            {
                return;
            }
        }
    }

    /// The webhook's URL, as the webhook list names it.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}{WEBHOOK_PATH}", self.port)
    }

    /// Every post received so far: its path and body, in order.
    pub fn posts(&self) -> Vec<(String, String)> {
        self.posts.lock().map(|p| p.clone()).unwrap_or_default()
    }
}

impl Drop for Webhooks {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop so it sees the flag.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

/// What sees each step of a story as it happens.
pub type OnStep = Box<dyn FnMut(&Step) + Send>;

pub struct Story {
    deployment: Deployment,
    start: Instant,
    report: Report,
    /// In a mutex, so that a story is Sync (and its play can run on a task of its own).
    on_step: Mutex<OnStep>,
    token_counter: u32,
    /// The game server the presence probe asks in the benchmarks (started by
    /// [`Story::typical_event`]).
    game: Option<StatusResponder>,
    /// Where the notifier posts ([`Story::setup_demo`]).
    webhooks: Option<Webhooks>,
    /// How many of the topic's messages the notifier was given.
    notified: usize,
}

impl Story {
    /// Deploys template.yaml as one Component=all stack in a new emulator
    /// ([`Layout::All`], the parameters' defaults); `on_step` sees each step as it
    /// happens, the deploy first.
    pub async fn setup(on_step: Box<dyn FnMut(&Step) + Send>) -> Result<Story, String> {
        Story::setup_with(&Layout::All, &[], on_step).await
    }

    /// Deploys template.yaml as `layout` says, with `parameters`.
    pub async fn setup_with(
        layout: &Layout,
        parameters: &[(&str, &str)],
        on_step: Box<dyn FnMut(&Step) + Send>,
    ) -> Result<Story, String> {
        let start = Instant::now();
        let deployment = Deployment::deploy(layout, parameters).await?;
        Ok(Story::deployed(deployment, start, on_step))
    }

    /// Deploys template.yaml as `layout` says with the notifier: the SSM SecureString
    /// [`WEBHOOK_URLS_PARAMETER`] (in the container's region, listing the story's
    /// [`Webhooks`]) is put in the emulator first, and the container part is given
    /// its name (`WebhookUrlsParameter`). The story then also hands every message of
    /// the container's topic to the notifier, as the deployed subscription does, and
    /// checks what the webhook got.
    ///
    /// With the control panel too: the start token [`START_TOKEN_PARAMETER`] is put in
    /// us-east-1 and the domain part is given its name (`StartTokenParameter`); the story
    /// reads the panel's `GET /status` through a local Function URL once the container
    /// is up and once it is asleep again.
    pub async fn setup_demo(
        layout: &Layout,
        on_step: Box<dyn FnMut(&Step) + Send>,
    ) -> Result<Story, String> {
        let start = Instant::now();
        let webhooks = Webhooks::start()?;
        let emulator = Emulator::start();
        let container_region = match layout {
            Layout::All => "us-east-1",
            Layout::TwoRegions { container_region } => container_region.as_str(),
        };
        crate::stack::put_secure_string(
            &emulator,
            container_region,
            WEBHOOK_URLS_PARAMETER,
            &format!(
                "# the demo's webhook (Discord format)\n{}\n",
                webhooks.url()
            ),
        )?;
        // The panel's start token, in the domain part's region (us-east-1).
        crate::stack::put_secure_string(
            &emulator,
            "us-east-1",
            START_TOKEN_PARAMETER,
            "demo-start-token",
        )?;
        let parameters = [
            ("WebhookUrlsParameter", WEBHOOK_URLS_PARAMETER),
            ("StartTokenParameter", START_TOKEN_PARAMETER),
        ];
        let deployment = Deployment::deploy_in(emulator, layout, &parameters).await?;
        let mut story = Story::deployed(deployment, start, on_step);
        story.webhooks = Some(webhooks);
        Ok(story)
    }

    /// The story of the container of `deployment` (one of a [`crate::fleet::Fleet`],
    /// say), its deploy the first step, timed from `start`; with `webhooks`, the
    /// notifier's (the container deployed with a `WebhookUrlsParameter` listing
    /// them), every message of the container's topic goes to the notifier too. Several
    /// stories may play at once on one emulator: each reads and changes only its own
    /// container's group, service, tasks, records, topic and lifecycle actions.
    pub fn on(
        deployment: Deployment,
        webhooks: Option<Webhooks>,
        start: Instant,
        on_step: Box<dyn FnMut(&Step) + Send>,
    ) -> Story {
        let mut story = Story::deployed(deployment, start, on_step);
        story.webhooks = webhooks;
        story
    }

    /// The story on `deployment`, its deploy the first step.
    fn deployed(
        deployment: Deployment,
        start: Instant,
        on_step: Box<dyn FnMut(&Step) + Send>,
    ) -> Story {
        let mut story = Story {
            deployment,
            start,
            report: Report::default(),
            on_step: Mutex::new(on_step),
            token_counter: 0,
            game: None,
            webhooks: None,
            notified: 0,
        };
        let (resources, bridged) = story.deployment.sizes();
        let what = format!("template.yaml deployed: {}", story.deployment.layout());
        let change = format!(
            "{}: {resources} resources ({bridged} bridged); emulator {}",
            story.deployment.describe(),
            story.deployment.emulator.endpoint()
        );
        story.step(true, "cloudformation", &what, &change);
        story
    }

    fn step(&mut self, ok: bool, function: &str, what: &str, change: &str) {
        let step = Step {
            ok,
            elapsed: self.start.elapsed(),
            function: function.to_string(),
            what: what.to_string(),
            change: change.to_string(),
        };
        if let Ok(on_step) = self.on_step.get_mut() {
            on_step(&step);
        }
        self.report.steps.push(step);
    }

    pub fn emulator(&self) -> &Emulator {
        &self.deployment.emulator
    }

    pub fn deployment(&self) -> &Deployment {
        &self.deployment
    }

    /// The names of the container's resources, as CloudFormation made them.
    pub fn names(&self) -> &ContainerNames {
        &self.deployment.names
    }

    /// The hosted zone's id (without `/hostedzone/`).
    pub fn zone(&self) -> &str {
        &self.deployment.names.zone
    }

    /// The whole environment of the function `name`'s process
    /// ([`Deployment::function_env`]); for the presence probe, while the benchmarks'
    /// status responder runs, its port as `GAME_PORT`.
    pub fn function_env(&self, name: &str) -> Result<Vec<(String, String)>, String> {
        let mut env = self.deployment.function_env(name)?;
        if let (PRESENCE_PROBE, Some(game)) = (name, &self.game) {
            env.retain(|(k, _)| k != "GAME_PORT");
            env.push(("GAME_PORT".into(), game.port.to_string()));
        }
        Ok(env)
    }

    /// How to start the function `name` as deployed ([`Deployment::function_spec`],
    /// with [`Story::function_env`]).
    pub fn function_spec(&self, name: &str) -> Result<Spec, String> {
        Ok(self
            .deployment
            .function_spec(name)?
            .envs(self.function_env(name)?))
    }

    /// The event each function gets in the benchmarks, the one its everyday work
    /// starts from: a lookup of the container in a query-log batch (the router), the
    /// launch of the group's in-service instance (ECS sync, DNS updater; the group is
    /// scaled to 1 first if it has none), the schedule's tick while a game server
    /// answers (presence probe, deployed with a `GameProtocol`: the group scaled to 1
    /// likewise, and the story's status responder started, reporting 1 player), the
    /// idle alarm (watchdog).
    pub async fn typical_event(&mut self, name: &str) -> Result<Value, String> {
        let d = &self.deployment;
        match name {
            TRIGGER => Ok(d.query_log_event(&d.names.domain, "A").await?.0),
            SYNC | UPDATER => {
                let instance = self.serving_instance().await?;
                Ok(d.asg_event("launch-successful.json", &instance))
            }
            PRESENCE_PROBE => {
                self.serving_instance().await?;
                if self.game.is_none() {
                    self.game = Some(StatusResponder::start(1)?);
                }
                let now = events::now_rfc3339();
                Ok(self.deployment.schedule_event(PRESENCE_PROBE, &now)?.0)
            }
            WATCHDOG => {
                let idle = self.deployment.names.idle_alarm.clone();
                Ok(self.deployment.alarm_event(&idle, "idle").await?.0)
            }
            other => Err(format!("no such function: {other}")),
        }
    }

    /// The group's InService instance, after scaling the group to 1 if it has none.
    async fn serving_instance(&self) -> Result<String, String> {
        if self.deployment.in_service_instance().await.is_none() {
            self.deployment.set_desired(1).await?;
        }
        self.deployment
            .in_service_instance()
            .await
            .ok_or_else(|| "the group has no InService instance after scaling to 1".to_string())
    }

    /// The ECS service's desired count, or -1 if it cannot be read.
    pub async fn service_desired(&self) -> i32 {
        self.deployment.service_desired().await
    }

    /// The values of the container's A record, joined by commas.
    pub async fn record(&self) -> String {
        self.deployment.record().await
    }

    fn next_token(&mut self) -> String {
        self.token_counter += 1;
        format!(
            "{:08x}-0000-4000-8000-{:012x}",
            self.token_counter, self.token_counter
        )
    }

    /// What the ECS scheduler would do for the service, once (after the agent of
    /// `register`, a new instance, registers it): start the service's task definition
    /// on an active container instance that meets the task definition's placement
    /// constraints (found as ECS finds them: `ListContainerInstances` filtered by the
    /// constraints' expressions) while the service wants 1, stop its tasks when the
    /// service wants 0. Returns the tasks it stopped.
    async fn ecs_scheduler(&self, register: Option<&str>) -> Result<Vec<String>, String> {
        let d = &self.deployment;
        let names = &d.names;
        if let Some(instance) = register {
            d.agent_registers(instance).await?;
        }
        let wanted = d.service_desired().await;
        let running = d.running_tasks().await;
        if wanted > 0 && running.is_empty() {
            let service = d
                .ecs
                .describe_services()
                .cluster(&names.cluster)
                .services(&names.service)
                .send()
                .await
                .map_err(|e| format!("DescribeServices: {e:?}"))?;
            let definition = service
                .services()
                .first()
                .and_then(|s| s.task_definition())
                .ok_or_else(|| format!("the service {} names no task definition", names.service))?
                .to_string();
            let constraints: Vec<String> = d
                .ecs
                .describe_task_definition()
                .task_definition(&definition)
                .send()
                .await
                .map_err(|e| format!("DescribeTaskDefinition {definition}: {e:?}"))?
                .task_definition()
                .map(|t| {
                    t.placement_constraints()
                        .iter()
                        .filter(|c| {
                            c.r#type()
                                == Some(&aws_sdk_ecs::types::TaskDefinitionPlacementConstraintType::MemberOf)
                        })
                        .filter_map(|c| c.expression().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default();
            let filter = (!constraints.is_empty()).then(|| constraints.join(" and "));
            let instances = d
                .ecs
                .list_container_instances()
                .cluster(&names.cluster)
                .status(aws_sdk_ecs::types::ContainerInstanceStatus::Active)
                .set_filter(filter.clone())
                .send()
                .await
                .map_err(|e| format!("ListContainerInstances {filter:?}: {e:?}"))?;
            // An instance that no longer runs has no agent connected: ECS places
            // nothing there (and deregisters it).
            let mut placed = None;
            for arn in instances.container_instance_arns().iter().rev() {
                let instance = emulator::container_instance_ec2(&d.ecs, &names.cluster, arn).await;
                if d.instance_state(&instance).await.as_deref() == Some("running") {
                    placed = Some(arn.clone());
                    break;
                }
            }
            let Some(arn) = placed else {
                return Err(format!(
                    "no active container instance of a running instance in {} meets the \
                     task definition's placement constraints {filter:?}",
                    names.cluster
                ));
            };
            {
                d.ecs
                    .start_task()
                    .cluster(&names.cluster)
                    .task_definition(definition)
                    .container_instances(arn)
                    .group(format!("service:{}", names.service))
                    .started_by("ecs-svc/0000000000000000001")
                    .send()
                    .await
                    .map_err(|e| format!("StartTask: {e:?}"))?;
            }
            Ok(Vec::new())
        } else if wanted == 0 {
            for task in &running {
                self.stop_task(
                    task,
                    "Scaling activity initiated by (deployment ecs-svc/0000000000000000001)",
                )
                .await?;
            }
            Ok(running)
        } else {
            Ok(Vec::new())
        }
    }

    async fn stop_task(&self, task: &str, reason: &str) -> Result<(), String> {
        self.deployment
            .ecs
            .stop_task()
            .cluster(&self.deployment.names.cluster)
            .task(task)
            .reason(reason)
            .send()
            .await
            .map_err(|e| format!("StopTask: {e:?}"))?;
        Ok(())
    }

    /// The owner edits the group's desired count in the console; returns the
    /// group's InService instance afterwards.
    async fn console_sets_desired(&mut self, desired: i32) -> Option<String> {
        let before = self.deployment.desired().await;
        let _ = self
            .deployment
            .autoscaling
            .set_desired_capacity()
            .auto_scaling_group_name(&self.deployment.names.group)
            .desired_capacity(desired)
            .send()
            .await;
        let after = self.deployment.desired().await;
        let instance = self.deployment.in_service_instance().await;
        self.step(
            after == desired && (desired == 0 || instance.is_some()),
            "console",
            &format!("the owner sets the ASG desired count to {desired}"),
            &format!("ASG desired {before} -> {after}"),
        );
        instance
    }

    /// Sends the launch event of `instance` to the functions the deployed rule
    /// delivers it to (the ECS sync and the DNS updater), plays the ECS scheduler,
    /// checks the state.
    async fn follow_launch(&mut self, fx: &Functions, instance: &str, why: &str) {
        let what = format!("{why}: EC2 Instance Launch Successful");
        let event = self
            .deployment
            .asg_event("launch-successful.json", instance);
        if let Err(e) = self.deployment.expect_routed(&event, &[SYNC, UPDATER]) {
            self.step(false, "eventbridge", &what, &e);
            return;
        }
        let sync = fx.get(SYNC).ok().and_then(|f| f.try_invoke(event.clone()));
        let ok = matches!(&sync, Some(Outcome::Response(_)))
            && self.deployment.service_desired().await == 1;
        self.step(ok, SYNC, &what, "ECS service desired 0 -> 1");
        let scheduled = self.ecs_scheduler(Some(instance)).await;
        let running = self.deployment.running_tasks().await;
        let on = match running.as_slice() {
            [task] => self.deployment.task_instance(task).await,
            _ => String::new(),
        };
        self.step(
            scheduled.is_ok() && running.len() == 1 && on == instance,
            "ecs (emulated)",
            "the instance's agent registers; the task starts there",
            &match scheduled {
                Ok(_) => format!("{} task running, on {on}", running.len()),
                Err(e) => e,
            },
        );
        let updated = fx.get(UPDATER).ok().and_then(|f| f.try_invoke(event));
        let ip = self.deployment.public_ip(instance).await;
        let record = self.deployment.record().await;
        let message = self.deployment.last_sns_message();
        let container = &self.deployment.names.container;
        let ok = matches!(&updated, Some(Outcome::Response(_)))
            && !ip.is_empty()
            && record == ip
            && message == format!("{container} is up at {ip}");
        let domain = self.deployment.names.domain.clone();
        self.step(
            ok,
            UPDATER,
            &what,
            &format!("{domain} A -> {record}; SNS {message:?}"),
        );
    }

    /// Registers the terminate lifecycle action the deployed hook starts, sends the
    /// event to the functions the deployed rule delivers it to (the ECS sync, while
    /// the ECS scheduler stops the task, and the DNS updater), delivers the stopped
    /// task's event to the functions the deployed rule sends it to (the watchdog,
    /// which must ignore a scale-in), and checks the state.
    async fn follow_terminate(&mut self, fx: &Functions, instance: &str, why: &str) {
        let what = format!("{why}: EC2 Instance-terminate Lifecycle Action");
        let token = self.next_token();
        if let Err(e) = self.deployment.begin_lifecycle_action(instance, &token) {
            self.step(false, "autoscaling (emulated)", &what, &e);
            return;
        }
        let event = self.deployment.terminate_event(instance, &token);
        if let Err(e) = self.deployment.expect_routed(&event, &[SYNC, UPDATER]) {
            self.step(false, "eventbridge", &what, &e);
            return;
        }
        let completed_before = self.deployment.completed_lifecycle_actions();
        let Ok(sync) = fx.get(SYNC) else {
            self.step(false, SYNC, &what, "not running");
            return;
        };
        let request = sync.push(event.clone());
        // ECS drains: once the service is at 0, the scheduler stops the task.
        let deadline = Instant::now() + Duration::from_secs(60);
        while self.deployment.service_desired().await != 0 && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let stopped = self.ecs_scheduler(None).await.unwrap_or_default();
        let scale_in = self.scale_in_followed(fx, &stopped).await;
        let drained = sync
            .wait_for(&request)
            .as_ref()
            .and_then(Outcome::response)
            .is_some_and(|r| r["drained"] == true);
        let ok = drained
            && scale_in.is_ok()
            && self.deployment.service_desired().await == 0
            && self.deployment.completed_lifecycle_actions() == completed_before + 1;
        let mut change =
            "ECS service desired -> 0, task drained, lifecycle action completed (CONTINUE)"
                .to_string();
        match scale_in {
            Ok(0) => {}
            Ok(_) => change.push_str("; the watchdog ignores the scale-in"),
            Err(e) => change.push_str(&format!("; {e}")),
        }
        self.step(ok, SYNC, &what, &change);
        let updated = fx.get(UPDATER).ok().and_then(|f| f.try_invoke(event));
        let record = self.deployment.record().await;
        let resting = self.deployment.resting_ip();
        let container = self.deployment.names.container.clone();
        let ok = matches!(&updated, Some(Outcome::Response(_)))
            && record == resting
            && self.deployment.last_sns_message() == format!("{container} is shutting down");
        let domain = self.deployment.names.domain.clone();
        self.step(
            ok,
            UPDATER,
            &what,
            &format!("{domain} A -> {record}; SNS \"{container} is shutting down\""),
        );
    }

    /// Each task the scheduler stopped on a scale-in, as its ECS Task State Change
    /// reaches the functions of the deployed rule: the watchdog, which ignores it.
    /// How many were delivered.
    async fn scale_in_followed(&self, fx: &Functions, stopped: &[String]) -> Result<usize, String> {
        for task in stopped {
            let event = self
                .deployment
                .task_stopped_event("watchdog-scale-down/ecs-task-scaled-in.json", task)
                .await?;
            self.deployment.expect_routed(&event, &[WATCHDOG])?;
            let outcomes = fx.invoke_each(&[WATCHDOG.to_string()], &event);
            let result = single_response(&outcomes).map(|r| r["outcomes"][0]["result"].clone());
            if result != Some(json!("ignored")) {
                return Err(format!(
                    "the watchdog answered a scale-in with {outcomes:?}"
                ));
            }
        }
        Ok(stopped.len())
    }

    /// A player looks the container's name up: the query log delivers it to the
    /// router, which starts the group.
    async fn lookup(&mut self, fx: &Functions) -> Option<String> {
        let d = &self.deployment;
        let before = d.desired().await;
        let what = format!("a player looks up {}", d.names.domain);
        let (event, targets) = match d.query_log_event(&d.names.domain, "A").await {
            Ok(delivery) => delivery,
            Err(e) => {
                self.step(false, "route53 query log", &what, &e);
                return None;
            }
        };
        let outcomes = fx.invoke_each(&targets, &event);
        let after = d.desired().await;
        let instance = d.in_service_instance().await;
        // The keep-alive metric, where the idle alarm reads it (its dimensions, its
        // region: the container's, which the router finds in the registry).
        let variable = |name: &str| {
            d.function(TRIGGER)
                .ok()
                .and_then(|(_, f)| f.variables.get(name).cloned())
                .unwrap_or_default()
        };
        let (namespace, metric) = (variable("METRIC_NAMESPACE"), variable("METRIC_NAME"));
        let read = d
            .alarm_reads(&d.names.idle_alarm, &namespace, &metric)
            .await;
        let region = d.container.region.as_str();
        let started = single_response(&outcomes).is_some_and(|r| {
            r["lines_matched"] == 1
                && r["unknown"] == json!([])
                && r["gone"] == json!([])
                && r["actions"].as_array().is_some_and(|actions| {
                    actions.iter().any(|a| {
                        a["call"] == "UpdateAutoScalingGroup"
                            && a["region"] == region
                            && a["group"] == d.names.group.as_str()
                    })
                })
        });
        let ok = targets == [TRIGGER]
            && started
            && after == 1
            && instance.is_some()
            && matches!(read, Ok(Some(sum)) if sum > 0.0);
        let keep_alive = match read {
            Ok(Some(sum)) if sum > 0.0 => {
                format!("keep-alive {metric} put where the idle alarm reads it")
            }
            Ok(Some(_)) => format!("the idle alarm reads no {metric} data point"),
            Ok(None) => format!("the idle alarm does not read {namespace}/{metric}"),
            Err(e) => e,
        };
        self.step(
            ok,
            TRIGGER,
            &what,
            &format!("ASG desired {before} -> {after} (in {region}); {keep_alive}"),
        );
        instance
    }

    /// Delivers `event` to `targets` (what the deployed wiring names, which must be
    /// the watchdog) and checks that it stopped the group and told people, with a
    /// message containing `says`.
    async fn watchdog_stops(
        &mut self,
        fx: &Functions,
        delivery: Result<(Value, Vec<String>), String>,
        what: &str,
        says: &str,
    ) {
        let (event, targets) = match delivery {
            Ok(delivery) => delivery,
            Err(e) => {
                self.step(false, WATCHDOG, what, &e);
                return;
            }
        };
        let outcomes = fx.invoke_each(&targets, &event);
        let after = self.deployment.desired().await;
        let message = self.deployment.last_sns_message();
        let ok = targets == [WATCHDOG]
            && single_response(&outcomes).is_some_and(|r| r["outcomes"][0]["result"] == "stopped")
            && after == 0
            && message.contains(says);
        self.step(
            ok,
            WATCHDOG,
            what,
            &format!("ASG desired 1 -> {after}; SNS {message:?}"),
        );
    }

    /// The container's task crashes: ECS stops it, and the deployed rule delivers
    /// its Task State Change.
    async fn crash(&self) -> Result<(Value, Vec<String>), String> {
        let task = self
            .deployment
            .running_tasks()
            .await
            .first()
            .cloned()
            .ok_or("no task is running")?;
        self.stop_task(&task, "Essential container in task exited")
            .await?;
        let event = self
            .deployment
            .task_stopped_event("watchdog-scale-down/ecs-task-crashed.json", &task)
            .await?;
        let targets = self.deployment.routed(&event)?;
        Ok((event, targets))
    }

    /// Hands each message published to the container's topic since the last call to
    /// the notifier, one SNS event per message as the deployed subscription delivers
    /// it, and checks that the story's webhook got it, in Discord's format. Nothing
    /// when the notifier is not deployed.
    fn notify(&mut self, fx: &Functions) {
        if self.webhooks.is_none() || fx.get(NOTIFIER).is_err() {
            return;
        }
        let messages = self.deployment.sns_messages();
        let new: Vec<Value> = messages.into_iter().skip(self.notified).collect();
        self.notified += new.len();
        for message in new {
            let text = message["Message"].as_str().unwrap_or_default().to_string();
            let what = "the topic's message -> its subscription".to_string();
            let (ok, change) = match self.deployment.sns_event(&message, NOTIFIER) {
                Ok(event) => self.delivered(fx, event, &text),
                Err(e) => (false, e),
            };
            self.step(ok, NOTIFIER, &what, &change);
        }
    }

    /// Invokes the notifier with `event` and reads what the webhook got: whether it
    /// got `text` alone, and the post.
    fn delivered(&self, fx: &Functions, event: Value, text: &str) -> (bool, String) {
        let Some(webhooks) = &self.webhooks else {
            return (false, "no webhook".into());
        };
        let before = webhooks.posts().len();
        let outcome = fx.get(NOTIFIER).ok().and_then(|f| f.try_invoke(event));
        let posts = webhooks.posts();
        let new = posts.get(before..).unwrap_or_default();
        let result = outcome
            .as_ref()
            .and_then(Outcome::response)
            .map(|r| r["actions"][0]["result"].clone());
        let [(path, body)] = new else {
            return (
                false,
                format!(
                    "{} posts to the webhook; the notifier: {outcome:?}",
                    new.len()
                ),
            );
        };
        let post = serde_json::from_str::<Value>(body).unwrap_or_default();
        let ok = result == Some(json!("delivered"))
            && path == WEBHOOK_PATH
            && post["content"] == text
            && post["allowed_mentions"]["parse"] == json!([]);
        let shown = post["content"].as_str().unwrap_or(body);
        (
            ok,
            format!("Discord webhook {path} got {shown:?} (no pings)"),
        )
    }

    /// `GET /status` of the control panel through its Function URL: the container is
    /// listed `expected`, at its address. Nothing when the panel is not deployed.
    fn panel_status(&mut self, panel: Option<&FunctionUrl>, expected: &str) {
        let Some(panel) = panel else {
            return;
        };
        let container = &self.deployment.names.container;
        let address = &self.deployment.names.domain;
        let what = format!("GET /status (the panel's Function URL): {container} {expected}?");
        let (ok, change) = match http::request(panel.port(), "GET", "/status", None) {
            Ok((status, body)) => {
                let doc: Value = serde_json::from_str(&body).unwrap_or_default();
                let listed = doc["containers"]
                    .as_array()
                    .and_then(|c| c.iter().find(|c| c["name"] == container.as_str()));
                let ok = status == 200
                    && listed.is_some_and(|c| {
                        c["state"] == expected && c["address"] == address.as_str()
                    });
                (ok, format!("HTTP {status} {body}"))
            }
            Err(e) => (false, format!("GET /status: {e}")),
        };
        self.step(ok, CONTROL_PANEL, &what, &change);
    }

    /// The control panel behind its Function URL, when the stacks deploy it.
    fn start_panel(&mut self, log_dir: &Path) -> Option<FunctionUrl> {
        self.deployment.function(CONTROL_PANEL).ok()?;
        let started = self
            .deployment
            .function_spec(CONTROL_PANEL)
            .and_then(|spec| {
                let function = spec
                    .log(log_dir.join(format!("{CONTROL_PANEL}.log")))
                    .start()?;
                FunctionUrl::start(function).map_err(|e| format!("the panel's Function URL: {e}"))
            });
        match started {
            Ok(url) => Some(url),
            Err(e) => {
                self.step(false, CONTROL_PANEL, "start the control panel", &e);
                None
            }
        }
    }

    /// Plays the whole story; every step is in the returned report.
    pub async fn play(mut self) -> Report {
        let log_dir = std::env::temp_dir().join(format!(
            "cm-story-{}-{}-{}",
            std::process::id(),
            self.deployment.container.region,
            self.deployment.names.container
        ));
        let _ = std::fs::create_dir_all(&log_dir);
        self.report.log_dir = log_dir.clone();
        let mut binaries = FUNCTIONS.to_vec();
        if self.webhooks.is_some() && self.deployment.function(NOTIFIER).is_ok() {
            binaries.push(NOTIFIER);
        }
        let fx = match self.deployment.start(&binaries, &log_dir) {
            Ok(fx) => fx,
            Err(e) => {
                self.step(false, "functions", "start the functions", &e);
                return self.finish();
            }
        };
        let panel = self.start_panel(&log_dir);

        // 1-2. A player's lookup starts the group; the launch is followed.
        let Some(first) = self.lookup(&fx).await else {
            return self.finish();
        };
        self.follow_launch(&fx, &first, "router's start").await;
        self.notify(&fx);
        self.panel_status(panel.as_ref(), "up");

        // 3. A console edit of the desired count is followed the same way: 1 -> 0 -> 1.
        self.console_sets_desired(0).await;
        self.follow_terminate(&fx, &first, "console edit").await;
        self.notify(&fx);
        let Some(second) = self.console_sets_desired(1).await else {
            return self.finish();
        };
        self.follow_launch(&fx, &second, "console edit").await;
        self.notify(&fx);

        // 4. Idle: the alarm goes to ALARM and invokes its action, the watchdog.
        let idle = self.deployment.names.idle_alarm.clone();
        let minutes = self
            .deployment
            .function(WATCHDOG)
            .ok()
            .and_then(|(_, f)| f.variables.get("IDLE_MINUTES").cloned())
            .unwrap_or_default();
        let reason = format!("Threshold Crossed: {minutes} out of the last {minutes} datapoints were less than or equal to the threshold");
        let alarm = self.deployment.alarm_event(&idle, &reason).await;
        let what = format!("idle alarm {idle} -> ALARM");
        let says = format!("idle for {minutes} minutes");
        self.watchdog_stops(&fx, alarm, &what, &says).await;
        self.notify(&fx);

        // 5. The group terminates the instance: drain, complete, record down.
        self.follow_terminate(&fx, &second, "idle stop").await;
        self.notify(&fx);
        self.panel_status(panel.as_ref(), "asleep");

        // 6. Up again, then the container crashes: the watchdog stops the group.
        let Some(third) = self.lookup(&fx).await else {
            return self.finish();
        };
        self.follow_launch(&fx, &third, "router's start").await;
        self.notify(&fx);
        let crash = self.crash().await;
        let says = format!(
            "crashed: container {} exited with code 137",
            self.deployment.names.container
        );
        self.watchdog_stops(
            &fx,
            crash,
            "ECS Task State Change: STOPPED, exit code 137",
            &says,
        )
        .await;
        self.notify(&fx);
        self.follow_terminate(&fx, &third, "crash stop").await;
        self.notify(&fx);

        drop(panel);
        drop(fx);
        self.finish()
    }

    fn finish(mut self) -> Report {
        self.report.calls = self.deployment.emulator.calls();
        std::mem::take(&mut self.report)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_agent_reads_what_the_user_data_writes_to_its_config() {
        let script = r#"#!/bin/bash
echo "ECS_CLUSTER=cm-cluster-prod" >> /etc/ecs/ecs.config
echo "ECS_INSTANCE_ATTRIBUTES={\"cm.container\":\"mc\"}" >> /etc/ecs/ecs.config
echo 'ECS_ENGINE_TASK_CLEANUP_WAIT_DURATION={"a":1}' >> /etc/ecs/ecs.config
cat <<'END' >> /etc/ecs/ecs.config
ECS_CONTAINER_STOP_TIMEOUT=120s
END
echo done
"#;
        let config = ecs_config(script);
        assert_eq!(config["ECS_CLUSTER"], "cm-cluster-prod");
        assert_eq!(
            config["ECS_INSTANCE_ATTRIBUTES"],
            r#"{"cm.container":"mc"}"#
        );
        assert_eq!(
            config["ECS_ENGINE_TASK_CLEANUP_WAIT_DURATION"],
            r#"{"a":1}"#
        );
        assert_eq!(config["ECS_CONTAINER_STOP_TIMEOUT"], "120s");
        assert_eq!(config.len(), 4, "{config:?}");
    }

    #[test]
    fn each_part_of_the_stacks_is_given_the_parameters_it_takes() {
        let given = [
            ("Environment", "demo"),
            ("DomainName", "example.com"),
            ("ContainerName", "mc"),
            ("StartTokenParameter", "/t"),
            ("WebhookUrlsParameter", "/w"),
            ("VpcId", "vpc-1"),
        ];
        let keys = |component| -> Vec<&str> {
            parameters_of(component, &given)
                .into_iter()
                .map(|(k, _)| k)
                .collect()
        };
        assert_eq!(
            keys("domain"),
            [
                "Environment",
                "DomainName",
                "StartTokenParameter",
                "Component"
            ]
        );
        assert_eq!(keys("base"), ["Environment", "VpcId", "Component"]);
        assert_eq!(
            keys("container"),
            [
                "Environment",
                "DomainName",
                "ContainerName",
                "WebhookUrlsParameter",
                "Component"
            ]
        );
        assert_eq!(keys("all").len(), given.len() + 1);
    }
}
