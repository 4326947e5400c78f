//! The whole lifecycle of one container, offline: the local AWS emulator holds the
//! container's resources, each of the four functions runs as its real binary behind a
//! Lambda Runtime API server, and every event is built the way AWS would send it,
//! from the emulator's real state (instance ids, ARNs, tokens). Each step checks the
//! emulator's state afterwards. `cm-demo` prints the timeline; `tests/e2e.rs` asserts
//! that every step held.
//!
//! The emulator has no ECS scheduler and no EventBridge, so the story plays them,
//! explicitly: [`Story::ecs_scheduler`] starts the service's task on the registered
//! container instance while the service wants 1 and stops it when the service is
//! scaled to 0 (what ECS does), and each ASG or task event is sent to the functions
//! that the template's EventBridge rules send it to.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Child;
use std::time::{Duration, Instant};

use aws_sdk_autoscaling::Client as AutoScaling;
use aws_sdk_ecs::types::{Compatibility, ContainerDefinition, NetworkMode};
use aws_sdk_ecs::Client as Ecs;
use aws_sdk_route53::types::{
    Change, ChangeAction, ChangeBatch, ResourceRecord, ResourceRecordSet, RrType,
};
use serde_json::{json, Value};

use crate::{asg, repo_root, Emulator, Outcome, RuntimeApi};

pub const CONTAINER: &str = "mc";
pub const DOMAIN: &str = "mc.example.com";
pub const GROUP: &str = "cm-asg-demo-mc";
pub const HOOK: &str = "cm-hook-demo-mc-drain";
pub const CLUSTER: &str = "cm-cluster-demo-mc";
pub const SERVICE: &str = "cm-service-demo-mc";
pub const TASK_FAMILY: &str = "cm-task-demo-mc";
pub const TOPIC: &str = "cm-topic-demo-mc";
pub const IDLE_ALARM: &str = "cm-alarm-demo-mc-idle";
pub const LEFT_UP_ALARM: &str = "cm-alarm-demo-mc-left-up";

/// One line of the timeline.
#[derive(Debug, Clone)]
pub struct Step {
    pub ok: bool,
    pub elapsed: Duration,
    pub function: String,
    pub what: String,
    pub change: String,
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

/// Where the function binaries are: `CM_FUNCTIONS_DIR`, else `<repo>/target/debug`.
pub fn functions_dir() -> PathBuf {
    std::env::var_os("CM_FUNCTIONS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("target/debug"))
}

struct Function {
    name: &'static str,
    runtime: RuntimeApi,
    child: Child,
}

impl Drop for Function {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Function {
    fn invoke(&self, event: Value) -> Option<Outcome> {
        self.runtime.invoke(event, Duration::from_secs(90))
    }
}

pub struct Story {
    pub emulator: Emulator,
    autoscaling: AutoScaling,
    ecs: Ecs,
    route53: aws_sdk_route53::Client,
    ec2: aws_sdk_ec2::Client,
    cloudwatch: aws_sdk_cloudwatch::Client,
    zone: String,
    start: Instant,
    report: Report,
    on_step: Box<dyn FnMut(&Step) + Send>,
    token_counter: u32,
}

fn sample(path: &str) -> Value {
    let file = repo_root().join("events").join(path);
    let text =
        std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("read {}: {e}", file.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("parse {}: {e}", file.display()))
}

pub fn now_rfc3339() -> String {
    // Seconds since the epoch to a UTC timestamp, without a date library.
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (mut y, mut d) = (1970i64, days as i64);
    loop {
        let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
        let len = if leap { 366 } else { 365 };
        if d < len {
            break;
        }
        d -= len;
        y += 1;
    }
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let months = [
        31,
        if leap { 29 } else { 28 },
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
    ];
    let mut m = 0;
    while d >= months[m] {
        d -= months[m];
        m += 1;
    }
    format!(
        "{y:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        m + 1,
        d + 1,
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    )
}

impl Story {
    /// Starts the emulator and creates one container's resources in it (what
    /// template.yaml creates in AWS). `on_step` sees each step as it happens.
    pub async fn setup(on_step: Box<dyn FnMut(&Step) + Send>) -> Result<Story, String> {
        let emulator = Emulator::start();
        let sdk = emulator.sdk_config().await;
        let mut story = Story {
            autoscaling: AutoScaling::new(&sdk),
            ecs: Ecs::new(&sdk),
            route53: aws_sdk_route53::Client::new(&sdk),
            ec2: aws_sdk_ec2::Client::new(&sdk),
            cloudwatch: aws_sdk_cloudwatch::Client::new(&sdk),
            emulator,
            zone: String::new(),
            start: Instant::now(),
            report: Report::default(),
            on_step,
            token_counter: 0,
        };
        story.create_resources().await?;
        Ok(story)
    }

    async fn create_resources(&mut self) -> Result<(), String> {
        let e = |what: &str, err: String| format!("{what}: {err}");
        asg::create_group(&self.autoscaling, GROUP, "us-east-1a", 0).await?;
        asg::put_terminate_hook(&self.autoscaling, GROUP, HOOK).await?;
        self.ecs
            .create_cluster()
            .cluster_name(CLUSTER)
            .send()
            .await
            .map_err(|x| e("CreateCluster", x.to_string()))?;
        self.ecs
            .register_task_definition()
            .family(TASK_FAMILY)
            .requires_compatibilities(Compatibility::Ec2)
            .network_mode(NetworkMode::Host)
            .container_definitions(
                ContainerDefinition::builder()
                    .name(CONTAINER)
                    .image("itzg/minecraft-server:latest")
                    .memory(3584)
                    .essential(true)
                    .build(),
            )
            .send()
            .await
            .map_err(|x| e("RegisterTaskDefinition", x.to_string()))?;
        self.ecs
            .create_service()
            .cluster(CLUSTER)
            .service_name(SERVICE)
            .task_definition(TASK_FAMILY)
            .desired_count(0)
            .send()
            .await
            .map_err(|x| e("CreateService", x.to_string()))?;
        let zone = self
            .route53
            .create_hosted_zone()
            .name(DOMAIN)
            .caller_reference("cm-demo")
            .send()
            .await
            .map_err(|x| e("CreateHostedZone", x.to_string()))?;
        self.zone = zone
            .hosted_zone()
            .map(|z| z.id().trim_start_matches("/hostedzone/").to_string())
            .unwrap_or_default();
        let record = ResourceRecordSet::builder()
            .name(DOMAIN)
            .r#type(RrType::A)
            .ttl(1)
            .resource_records(
                ResourceRecord::builder()
                    .value("0.0.0.0")
                    .build()
                    .map_err(|x| x.to_string())?,
            )
            .build()
            .map_err(|x| x.to_string())?;
        let change = Change::builder()
            .action(ChangeAction::Upsert)
            .resource_record_set(record)
            .build()
            .map_err(|x| x.to_string())?;
        self.route53
            .change_resource_record_sets()
            .hosted_zone_id(&self.zone)
            .change_batch(
                ChangeBatch::builder()
                    .changes(change)
                    .build()
                    .map_err(|x| x.to_string())?,
            )
            .send()
            .await
            .map_err(|x| e("ChangeResourceRecordSets", x.to_string()))?;
        aws_sdk_sns::Client::new(&self.emulator.sdk_config().await)
            .create_topic()
            .name(TOPIC)
            .send()
            .await
            .map_err(|x| e("CreateTopic", x.to_string()))?;
        self.cloudwatch
            .put_metric_alarm()
            .alarm_name(IDLE_ALARM)
            .namespace("AWS/EC2")
            .metric_name("NetworkIn")
            .dimensions(
                aws_sdk_cloudwatch::types::Dimension::builder()
                    .name("AutoScalingGroupName")
                    .value(GROUP)
                    .build(),
            )
            .statistic(aws_sdk_cloudwatch::types::Statistic::Sum)
            .period(60)
            .evaluation_periods(30)
            .threshold(2500.0 * 60.0)
            .comparison_operator(
                aws_sdk_cloudwatch::types::ComparisonOperator::LessThanOrEqualToThreshold,
            )
            .send()
            .await
            .map_err(|x| e("PutMetricAlarm", x.to_string()))?;
        self.step(
            true,
            "emulator",
            &format!("started on {}", self.emulator.endpoint()),
            "ASG, hook, cluster, service, zone, topic, alarm created",
        );
        Ok(())
    }

    fn step(&mut self, ok: bool, function: &str, what: &str, change: &str) {
        let step = Step {
            ok,
            elapsed: self.start.elapsed(),
            function: function.to_string(),
            what: what.to_string(),
            change: change.to_string(),
        };
        (self.on_step)(&step);
        self.report.steps.push(step);
    }

    fn topic_arn(&self) -> String {
        format!("arn:aws:sns:us-east-1:123456789012:{TOPIC}")
    }

    fn spawn(&self, name: &'static str, log_dir: &Path) -> Function {
        let runtime = RuntimeApi::start(Duration::from_secs(120));
        let env = self.function_env(name);
        let binary = functions_dir().join(name);
        let child = runtime.spawn(
            &binary,
            name,
            &env,
            Some(&log_dir.join(format!("{name}.log"))),
        );
        Function {
            name,
            runtime,
            child,
        }
    }

    /// The hosted zone's id (without `/hostedzone/`).
    pub fn zone(&self) -> &str {
        &self.zone
    }

    /// The whole environment of one function's process against this story's
    /// emulator: the standard AWS variables plus the function's configuration, as
    /// template.yaml sets it.
    pub fn function_env(&self, name: &str) -> Vec<(String, String)> {
        let vars: Vec<(&str, String)> = match name {
            "dns-query-trigger" => vec![
                ("DOMAIN_NAME", DOMAIN.into()),
                ("ASG_NAME", GROUP.into()),
                ("METRIC_NAMESPACE", "ContainerManager".into()),
                ("METRIC_NAME", "DnsQueries".into()),
                (
                    "METRIC_DIMENSIONS",
                    r#"{"ContainerName":"cm-demo-mc"}"#.into(),
                ),
                ("METRIC_THRESHOLD", "2500".into()),
            ],
            "asg-ecs-sync" => vec![
                ("ASG_NAME", GROUP.into()),
                ("ECS_CLUSTER_NAME", CLUSTER.into()),
                ("ECS_SERVICE_NAME", SERVICE.into()),
                ("DRAIN_TIMEOUT_SECONDS", "30".into()),
                ("DRAIN_POLL_SECONDS", "1".into()),
            ],
            "dns-record-updater" => vec![
                ("ASG_NAME", GROUP.into()),
                ("HOSTED_ZONE_ID", self.zone.clone()),
                ("DOMAIN_NAME", DOMAIN.into()),
                ("SNS_TOPIC_ARN", self.topic_arn()),
                ("CONTAINER_NAME", CONTAINER.into()),
            ],
            "watchdog-scale-down" => vec![
                ("ASG_NAME", GROUP.into()),
                ("IDLE_ALARM_NAME", IDLE_ALARM.into()),
                ("LEFT_UP_ALARM_NAME", LEFT_UP_ALARM.into()),
                ("ECS_CLUSTER_NAME", CLUSTER.into()),
                ("SNS_TOPIC_ARN", self.topic_arn()),
                ("CONTAINER_NAME", CONTAINER.into()),
                ("IDLE_MINUTES", "30".into()),
            ],
            _ => Vec::new(),
        };
        let mut env = self.emulator.aws_env();
        env.extend(vars.into_iter().map(|(k, v)| (k.to_string(), v)));
        env
    }

    /// The event each function gets in the benchmarks, the one its everyday work
    /// starts from: a query-log batch with a lookup of the container (trigger), the
    /// launch of the group's in-service instance (ECS sync, DNS updater; the group is
    /// scaled to 1 first if it has none), the idle alarm (watchdog).
    pub async fn typical_event(&mut self, name: &str) -> Result<Value, String> {
        match name {
            "dns-query-trigger" => Ok(sample("dns-query-trigger/query-log-match.json")),
            "asg-ecs-sync" | "dns-record-updater" => {
                if self.in_service_instance().await.is_none() {
                    cm_core::autoscaling::set_desired_capacity(&self.autoscaling, GROUP, 1)
                        .await
                        .map_err(|e| e.to_string())?;
                }
                let instance = self
                    .in_service_instance()
                    .await
                    .ok_or("the group has no InService instance after scaling to 1")?;
                Ok(self.asg_event("launch-successful.json", &instance))
            }
            "watchdog-scale-down" => Ok(self.idle_alarm_event().await),
            other => Err(format!("no such function: {other}")),
        }
    }

    async fn idle_alarm_event(&self) -> Value {
        let alarm = self
            .cloudwatch
            .describe_alarms()
            .alarm_names(IDLE_ALARM)
            .send()
            .await
            .ok()
            .and_then(|o| {
                o.metric_alarms()
                    .first()
                    .and_then(|a| a.alarm_arn().map(str::to_string))
            })
            .unwrap_or_default();
        let mut event = sample("watchdog-scale-down/alarm-idle.json");
        event["alarmArn"] = alarm.into();
        event["alarmData"]["alarmName"] = IDLE_ALARM.into();
        event
    }

    async fn desired(&self) -> i32 {
        asg::desired(&self.autoscaling, GROUP).await
    }

    /// The ECS service's desired count, or -1 if it cannot be read.
    pub async fn service_desired(&self) -> i32 {
        self.ecs
            .describe_services()
            .cluster(CLUSTER)
            .services(SERVICE)
            .send()
            .await
            .ok()
            .and_then(|o| o.services().first().map(|s| s.desired_count()))
            .unwrap_or(-1)
    }

    /// The values of the container's A record, joined by commas.
    pub async fn record(&self) -> String {
        self.route53
            .list_resource_record_sets()
            .hosted_zone_id(&self.zone)
            .send()
            .await
            .ok()
            .and_then(|o| {
                o.resource_record_sets()
                    .iter()
                    .find(|r| r.name().trim_end_matches('.') == DOMAIN && *r.r#type() == RrType::A)
                    .map(|r| {
                        r.resource_records()
                            .iter()
                            .map(|v| v.value().to_string())
                            .collect::<Vec<_>>()
                            .join(",")
                    })
            })
            .unwrap_or_default()
    }

    async fn public_ip(&self, instance: &str) -> String {
        self.ec2
            .describe_instances()
            .instance_ids(instance)
            .send()
            .await
            .ok()
            .and_then(|o| {
                o.reservations()
                    .first()
                    .and_then(|r| r.instances().first())
                    .and_then(|i| i.public_ip_address().map(str::to_string))
            })
            .unwrap_or_default()
    }

    fn last_message(&self) -> String {
        self.emulator
            .sns_messages()
            .last()
            .and_then(|m| m["Message"].as_str().map(str::to_string))
            .unwrap_or_default()
    }

    fn completed_actions(&self) -> usize {
        self.emulator.lifecycle_actions()["completed"]
            .as_array()
            .map(Vec::len)
            .unwrap_or(0)
    }

    async fn in_service_instance(&self) -> Option<String> {
        asg::instances(&self.autoscaling, GROUP)
            .await
            .into_iter()
            .find(|(_, state)| state == "InService")
            .map(|(id, _)| id)
    }

    fn asg_event(&self, sample_name: &str, instance: &str) -> Value {
        let mut event = asg::sample_event(sample_name, GROUP, instance);
        event["time"] = now_rfc3339().into();
        if event["detail"].get("LifecycleHookName").is_some() {
            event["detail"]["LifecycleHookName"] = HOOK.into();
        }
        event
    }

    fn next_token(&mut self) -> String {
        self.token_counter += 1;
        format!(
            "{:08x}-0000-4000-8000-{:012x}",
            self.token_counter, self.token_counter
        )
    }

    /// What the ECS scheduler would do for the service, once: start the task on a
    /// registered container instance of a live instance while the service wants 1,
    /// stop it when the service wants 0.
    async fn ecs_scheduler(&self, register: Option<&str>) -> Result<(), String> {
        if let Some(instance) = register {
            let identity =
                json!({"instanceId": instance, "region": "us-east-1", "accountId": "123456789012"});
            self.ecs
                .register_container_instance()
                .cluster(CLUSTER)
                .instance_identity_document(identity.to_string())
                .send()
                .await
                .map_err(|e| format!("RegisterContainerInstance: {e}"))?;
        }
        let wanted = self.service_desired().await;
        let running = self.running_tasks().await;
        if wanted > 0 && running.is_empty() {
            let instances = self
                .ecs
                .list_container_instances()
                .cluster(CLUSTER)
                .send()
                .await
                .map_err(|e| format!("ListContainerInstances: {e}"))?;
            if let Some(arn) = instances.container_instance_arns().last() {
                self.ecs
                    .start_task()
                    .cluster(CLUSTER)
                    .task_definition(TASK_FAMILY)
                    .container_instances(arn)
                    .group(format!("service:{SERVICE}"))
                    .started_by("ecs-svc/0000000000000000001")
                    .send()
                    .await
                    .map_err(|e| format!("StartTask: {e}"))?;
            }
        } else if wanted == 0 {
            for task in running {
                self.ecs
                    .stop_task()
                    .cluster(CLUSTER)
                    .task(task)
                    .reason(
                        "Scaling activity initiated by (deployment ecs-svc/0000000000000000001)",
                    )
                    .send()
                    .await
                    .map_err(|e| format!("StopTask: {e}"))?;
            }
        }
        Ok(())
    }

    async fn running_tasks(&self) -> Vec<String> {
        let listed = match self.ecs.list_tasks().cluster(CLUSTER).send().await {
            Ok(o) => o.task_arns().to_vec(),
            Err(_) => return Vec::new(),
        };
        if listed.is_empty() {
            return listed;
        }
        self.ecs
            .describe_tasks()
            .cluster(CLUSTER)
            .set_tasks(Some(listed))
            .send()
            .await
            .map(|o| {
                o.tasks()
                    .iter()
                    .filter(|t| t.last_status() != Some("STOPPED"))
                    .filter_map(|t| t.task_arn().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Sends the launch event of `instance` to the ECS sync and the DNS updater (the
    /// two targets of the template's rule), plays the ECS scheduler, checks the state.
    async fn follow_launch(&mut self, fx: &Functions, instance: &str, why: &str) {
        let event = self.asg_event("launch-successful.json", instance);
        let sync = fx.sync.invoke(event.clone());
        let ok = matches!(&sync, Some(Outcome::Response(_))) && self.service_desired().await == 1;
        self.step(
            ok,
            fx.sync.name,
            &format!("{why}: EC2 Instance Launch Successful"),
            "ECS service desired 0 -> 1",
        );
        let scheduled = self.ecs_scheduler(Some(instance)).await;
        let running = self.running_tasks().await.len();
        self.step(
            scheduled.is_ok() && running == 1,
            "ecs (emulated)",
            "the service's task starts on the instance",
            &format!("{running} task running"),
        );
        let updated = fx.dns.invoke(event);
        let ip = self.public_ip(instance).await;
        let record = self.record().await;
        let message = self.last_message();
        let ok = matches!(&updated, Some(Outcome::Response(_)))
            && !ip.is_empty()
            && record == ip
            && message == format!("{CONTAINER} is up at {ip}");
        self.step(
            ok,
            fx.dns.name,
            &format!("{why}: EC2 Instance Launch Successful"),
            &format!("{DOMAIN} A -> {record}; SNS {message:?}"),
        );
    }

    /// Registers the terminate lifecycle action the group would start, sends the
    /// event to the ECS sync (while the ECS scheduler stops the task) and the DNS
    /// updater, and checks the state.
    async fn follow_terminate(&mut self, fx: &Functions, instance: &str, why: &str) {
        let token = self.next_token();
        self.emulator
            .begin_lifecycle_action(GROUP, HOOK, instance, &token);
        let mut event = self.asg_event("terminate-lifecycle-action.json", instance);
        event["detail"]["LifecycleActionToken"] = token.clone().into();
        let completed_before = self.completed_actions();
        let sync_runtime_event = event.clone();
        let request = fx.sync.runtime.push(sync_runtime_event);
        // ECS drains: once the service is at 0, the scheduler stops the task.
        let deadline = Instant::now() + Duration::from_secs(60);
        while self.service_desired().await != 0 && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let _ = self.ecs_scheduler(None).await;
        let sync = fx.sync.runtime.wait_for(&request, Duration::from_secs(90));
        let drained = sync
            .as_ref()
            .and_then(Outcome::response)
            .map(|r| r["drained"] == true)
            .unwrap_or(false);
        let ok = drained
            && self.service_desired().await == 0
            && self.completed_actions() == completed_before + 1;
        self.step(
            ok,
            fx.sync.name,
            &format!("{why}: EC2 Instance-terminate Lifecycle Action"),
            "ECS service desired -> 0, task drained, lifecycle action completed (CONTINUE)",
        );
        let updated = fx.dns.invoke(event);
        let record = self.record().await;
        let ok = matches!(&updated, Some(Outcome::Response(_)))
            && record == "0.0.0.0"
            && self.last_message() == format!("{CONTAINER} is shutting down");
        self.step(
            ok,
            fx.dns.name,
            &format!("{why}: EC2 Instance-terminate Lifecycle Action"),
            &format!("{DOMAIN} A -> {record}; SNS \"{CONTAINER} is shutting down\""),
        );
    }

    async fn lookup(&mut self, fx: &Functions) -> Option<String> {
        let before = self.desired().await;
        let outcome = fx
            .trigger
            .invoke(sample("dns-query-trigger/query-log-match.json"));
        let after = self.desired().await;
        let instance = self.in_service_instance().await;
        let ok = outcome
            .as_ref()
            .and_then(Outcome::response)
            .is_some_and(|r| r["lines_matched"] == 1)
            && after == 1
            && instance.is_some();
        self.step(
            ok,
            fx.trigger.name,
            &format!("a player looks up {DOMAIN}"),
            &format!("ASG desired {before} -> {after}; keep-alive metric put"),
        );
        instance
    }

    /// Plays the whole story; every step is in the returned report.
    pub async fn play(mut self) -> Report {
        let log_dir = std::env::temp_dir().join(format!("cm-story-{}", std::process::id()));
        let _ = std::fs::create_dir_all(&log_dir);
        self.report.log_dir = log_dir.clone();
        let fx = Functions {
            trigger: self.spawn("dns-query-trigger", &log_dir),
            sync: self.spawn("asg-ecs-sync", &log_dir),
            dns: self.spawn("dns-record-updater", &log_dir),
            watchdog: self.spawn("watchdog-scale-down", &log_dir),
        };

        // 1-2. A player's lookup starts the group; the launch is followed.
        let Some(first) = self.lookup(&fx).await else {
            return self.finish();
        };
        self.follow_launch(&fx, &first, "trigger's start").await;

        // 3. A console edit of the desired count is followed the same way: 1 -> 0 -> 1.
        let _ = self
            .autoscaling
            .set_desired_capacity()
            .auto_scaling_group_name(GROUP)
            .desired_capacity(0)
            .send()
            .await;
        let zero = self.desired().await;
        self.step(
            zero == 0,
            "console",
            "the owner sets the ASG desired count to 0",
            "ASG desired 1 -> 0",
        );
        self.follow_terminate(&fx, &first, "console edit").await;
        let _ = self
            .autoscaling
            .set_desired_capacity()
            .auto_scaling_group_name(GROUP)
            .desired_capacity(1)
            .send()
            .await;
        let second = self.in_service_instance().await;
        self.step(
            second.is_some(),
            "console",
            "the owner sets the ASG desired count to 1",
            "ASG desired 0 -> 1",
        );
        let Some(second) = second else {
            return self.finish();
        };
        self.follow_launch(&fx, &second, "console edit").await;

        // 4. Idle: the alarm goes to ALARM and invokes the watchdog directly.
        let event = self.idle_alarm_event().await;
        let alarm = event["alarmArn"].as_str().unwrap_or_default().to_string();
        let outcome = fx.watchdog.invoke(event);
        let after = self.desired().await;
        let message = self.last_message();
        let ok = outcome
            .as_ref()
            .and_then(Outcome::response)
            .is_some_and(|r| r["outcomes"][0]["result"] == "stopped")
            && after == 0
            && message.contains("idle for 30 minutes")
            && !alarm.is_empty();
        self.step(
            ok,
            fx.watchdog.name,
            &format!("idle alarm {IDLE_ALARM} -> ALARM"),
            &format!("ASG desired 1 -> {after}; SNS {message:?}"),
        );

        // 5. The group terminates the instance: drain, complete, record down.
        self.follow_terminate(&fx, &second, "idle stop").await;

        // 6. Up again, then the container crashes: the watchdog stops the group.
        let Some(third) = self.lookup(&fx).await else {
            return self.finish();
        };
        self.follow_launch(&fx, &third, "trigger's start").await;
        let task = self
            .running_tasks()
            .await
            .first()
            .cloned()
            .unwrap_or_default();
        let _ = self
            .ecs
            .stop_task()
            .cluster(CLUSTER)
            .task(&task)
            .reason("Essential container in task exited")
            .send()
            .await;
        let mut crash = sample("watchdog-scale-down/ecs-task-crashed.json");
        crash["time"] = now_rfc3339().into();
        crash["resources"] = json!([task.clone()]);
        crash["detail"]["clusterArn"] =
            format!("arn:aws:ecs:us-east-1:123456789012:cluster/{CLUSTER}").into();
        crash["detail"]["taskArn"] = task.clone().into();
        crash["detail"]["group"] = format!("service:{SERVICE}").into();
        crash["detail"]["containers"][0]["name"] = CONTAINER.into();
        crash["detail"]["containers"][0]["taskArn"] = task.into();
        let outcome = fx.watchdog.invoke(crash);
        let after = self.desired().await;
        let message = self.last_message();
        let ok = outcome
            .as_ref()
            .and_then(Outcome::response)
            .is_some_and(|r| r["outcomes"][0]["result"] == "stopped")
            && after == 0
            && message.contains("crashed: container mc exited with code 137");
        self.step(
            ok,
            fx.watchdog.name,
            "ECS Task State Change: STOPPED, exit code 137",
            &format!("ASG desired 1 -> {after}; SNS {message:?}"),
        );
        self.follow_terminate(&fx, &third, "crash stop").await;

        drop(fx);
        self.finish()
    }

    fn finish(mut self) -> Report {
        self.report.calls = self.emulator.calls();
        std::mem::take(&mut self.report)
    }
}

struct Functions {
    trigger: Function,
    sync: Function,
    dns: Function,
    watchdog: Function,
}
