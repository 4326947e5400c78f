//! The whole lifecycle of one container, offline: the local AWS emulator holds the
//! container's resources, each of the four functions runs as its real binary behind a
//! Lambda Runtime API server, and every event is built the way AWS would send it,
//! from the emulator's real state (instance ids, ARNs, tokens). Each step checks the
//! emulator's state afterwards. `cm-demo` prints the timeline; `tests/e2e.rs` asserts
//! that every step held.
//!
//! The emulator has no ECS scheduler and no EventBridge, so the story plays them,
//! explicitly: `Story::ecs_scheduler` starts the service's task on the registered
//! container instance while the service wants 1 and stops it when the service is
//! scaled to 0 (what ECS does), and each ASG or task event is sent to the functions
//! that the template's EventBridge rules send it to.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use aws_sdk_autoscaling::Client as AutoScaling;
use aws_sdk_ecs::Client as Ecs;
use serde_json::Value;

use crate::emulator::{self, ACCOUNT, REGION};
use crate::events;
use crate::function::{Function, Spec};
use crate::game_servers::StatusResponder;
use crate::{Emulator, Outcome};

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

/// The four functions' names, as their binaries are called.
pub const FUNCTIONS: [&str; 4] = [
    "dns-query-trigger",
    "asg-ecs-sync",
    "dns-record-updater",
    "watchdog-scale-down",
];

/// The presence probe's binary (its story is [`crate::presence`]).
pub const PRESENCE_PROBE: &str = "presence-probe";

/// Every function, the lifecycle's four and the presence probe: what the benchmarks
/// measure, in this order (the probe before the watchdog, which stops the group).
pub const ALL_FUNCTIONS: [&str; 5] = [
    "dns-query-trigger",
    "asg-ecs-sync",
    "dns-record-updater",
    PRESENCE_PROBE,
    "watchdog-scale-down",
];

/// The deadline each invocation gets in the story (the sync's drain waits in it).
const DEADLINE: Duration = Duration::from_secs(120);
/// How long the story waits for a function's answer.
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
    /// The game server the presence probe asks in the benchmarks (started by
    /// [`Story::typical_event`]).
    game: Option<StatusResponder>,
}

/// The four functions, running.
struct Functions {
    trigger: Function,
    sync: Function,
    dns: Function,
    watchdog: Function,
}

impl Story {
    /// Starts the emulator and creates one container's resources in it (what
    /// template.yaml creates in AWS). `on_step` sees each step as it happens.
    pub async fn setup(on_step: Box<dyn FnMut(&Step) + Send>) -> Result<Story, String> {
        let emulator = Emulator::start();
        let sdk = emulator.sdk_config().await;
        let autoscaling = AutoScaling::new(&sdk);
        let ecs = Ecs::new(&sdk);
        let route53 = aws_sdk_route53::Client::new(&sdk);
        let cloudwatch = aws_sdk_cloudwatch::Client::new(&sdk);
        emulator::create_group(&autoscaling, GROUP, "us-east-1a", 0).await?;
        emulator::put_terminate_hook(&autoscaling, GROUP, HOOK).await?;
        emulator::create_service(&ecs, CLUSTER, TASK_FAMILY, CONTAINER, SERVICE).await?;
        let zone = emulator::create_zone(&route53, DOMAIN, "0.0.0.0").await?;
        emulator::create_topic(&aws_sdk_sns::Client::new(&sdk), TOPIC).await?;
        emulator::create_idle_alarm(&cloudwatch, IDLE_ALARM, GROUP).await?;
        let mut story = Story {
            autoscaling,
            ecs,
            route53,
            ec2: aws_sdk_ec2::Client::new(&sdk),
            cloudwatch,
            zone,
            start: Instant::now(),
            report: Report::default(),
            on_step,
            token_counter: 0,
            game: None,
            emulator,
        };
        story.step(
            true,
            "emulator",
            &format!("started on {}", story.emulator.endpoint()),
            "ASG, hook, cluster, service, zone, topic, alarm created",
        );
        Ok(story)
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
        format!("arn:aws:sns:{REGION}:{ACCOUNT}:{TOPIC}")
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
            // The game server is the story's status responder on 127.0.0.1 (the
            // emulator's instances have no reachable address).
            PRESENCE_PROBE => vec![
                ("ASG_NAME", GROUP.into()),
                ("GAME_PROTOCOL", "minecraft-java".into()),
                (
                    "GAME_PORT",
                    self.game.as_ref().map_or(25565, |g| g.port).to_string(),
                ),
                ("GAME_HOST", "127.0.0.1".into()),
                ("METRIC_NAMESPACE", "ContainerManager".into()),
                (
                    "METRIC_DIMENSIONS",
                    r#"{"ContainerName":"cm-demo-mc"}"#.into(),
                ),
                ("SNS_TOPIC_ARN", self.topic_arn()),
                ("CONTAINER_NAME", CONTAINER.into()),
            ],
            _ => Vec::new(),
        };
        let mut env = self.emulator.aws_env();
        env.extend(vars.into_iter().map(|(k, v)| (k.to_string(), v)));
        env
    }

    /// How to start the function `name` (a binary of
    /// [`functions_dir`](crate::functions_dir)) against this story's emulator, with
    /// the story's timeouts.
    pub fn function_spec(&self, name: &str) -> Spec {
        Spec::binary(name)
            .envs(self.function_env(name))
            .timeouts(DEADLINE, WAIT)
    }

    /// The event each function gets in the benchmarks, the one its everyday work
    /// starts from: a query-log batch with a lookup of the container (trigger), the
    /// launch of the group's in-service instance (ECS sync, DNS updater; the group is
    /// scaled to 1 first if it has none), the schedule's tick while a game server
    /// answers (presence probe: the group scaled to 1 likewise, and the story's
    /// status responder started, reporting 1 player), the idle alarm (watchdog).
    pub async fn typical_event(&mut self, name: &str) -> Result<Value, String> {
        match name {
            "dns-query-trigger" => Ok(events::sample("dns-query-trigger/query-log-match.json")),
            "asg-ecs-sync" | "dns-record-updater" => {
                let instance = self.serving_instance().await?;
                Ok(self.asg_event("launch-successful.json", &instance))
            }
            PRESENCE_PROBE => {
                self.serving_instance().await?;
                if self.game.is_none() {
                    self.game = Some(StatusResponder::start(1)?);
                }
                let mut tick = events::sample("presence-probe/schedule.json");
                tick["time"] = events::now_rfc3339().into();
                Ok(tick)
            }
            "watchdog-scale-down" => Ok(self.idle_alarm_event().await),
            other => Err(format!("no such function: {other}")),
        }
    }

    /// The group's InService instance, after scaling the group to 1 if it has none.
    async fn serving_instance(&self) -> Result<String, String> {
        if self.in_service_instance().await.is_none() {
            cm_core::autoscaling::set_desired_capacity(&self.autoscaling, GROUP, 1)
                .await
                .map_err(|e| e.to_string())?;
        }
        self.in_service_instance()
            .await
            .ok_or_else(|| "the group has no InService instance after scaling to 1".to_string())
    }

    /// The idle alarm going to ALARM, with the alarm's real ARN.
    async fn idle_alarm_event(&self) -> Value {
        let arn = self
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
        events::alarm_event(&arn, IDLE_ALARM)
    }

    fn asg_event(&self, sample: &str, instance: &str) -> Value {
        events::asg_event(sample, GROUP, HOOK, instance)
    }

    async fn desired(&self) -> i32 {
        emulator::desired(&self.autoscaling, GROUP).await
    }

    /// The ECS service's desired count, or -1 if it cannot be read.
    pub async fn service_desired(&self) -> i32 {
        emulator::service_desired(&self.ecs, CLUSTER, SERVICE).await
    }

    /// The values of the container's A record, joined by commas.
    pub async fn record(&self) -> String {
        emulator::a_record(&self.route53, &self.zone, DOMAIN).await
    }

    async fn in_service_instance(&self) -> Option<String> {
        emulator::in_service_instance(&self.autoscaling, GROUP).await
    }

    async fn running_tasks(&self) -> Vec<String> {
        emulator::running_tasks(&self.ecs, CLUSTER).await
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
            emulator::register_container_instance(&self.ecs, CLUSTER, instance).await?;
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
                self.stop_task(
                    &task,
                    "Scaling activity initiated by (deployment ecs-svc/0000000000000000001)",
                )
                .await?;
            }
        }
        Ok(())
    }

    async fn stop_task(&self, task: &str, reason: &str) -> Result<(), String> {
        self.ecs
            .stop_task()
            .cluster(CLUSTER)
            .task(task)
            .reason(reason)
            .send()
            .await
            .map_err(|e| format!("StopTask: {e}"))?;
        Ok(())
    }

    /// The owner edits the group's desired count in the console; returns the
    /// group's InService instance afterwards.
    async fn console_sets_desired(&mut self, desired: i32) -> Option<String> {
        let before = self.desired().await;
        let _ = self
            .autoscaling
            .set_desired_capacity()
            .auto_scaling_group_name(GROUP)
            .desired_capacity(desired)
            .send()
            .await;
        let after = self.desired().await;
        let instance = self.in_service_instance().await;
        self.step(
            after == desired && (desired == 0 || instance.is_some()),
            "console",
            &format!("the owner sets the ASG desired count to {desired}"),
            &format!("ASG desired {before} -> {after}"),
        );
        instance
    }

    /// Sends the launch event of `instance` to the ECS sync and the DNS updater (the
    /// two targets of the template's rule), plays the ECS scheduler, checks the state.
    async fn follow_launch(&mut self, fx: &Functions, instance: &str, why: &str) {
        let event = self.asg_event("launch-successful.json", instance);
        let sync = fx.sync.try_invoke(event.clone());
        let ok = matches!(&sync, Some(Outcome::Response(_))) && self.service_desired().await == 1;
        self.step(
            ok,
            fx.sync.name(),
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
        let updated = fx.dns.try_invoke(event);
        let ip = emulator::public_ip(&self.ec2, instance).await;
        let record = self.record().await;
        let message = self.emulator.last_sns_message();
        let ok = matches!(&updated, Some(Outcome::Response(_)))
            && !ip.is_empty()
            && record == ip
            && message == format!("{CONTAINER} is up at {ip}");
        self.step(
            ok,
            fx.dns.name(),
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
        let event = events::terminate_event(GROUP, HOOK, instance, &token);
        let completed_before = self.emulator.completed_lifecycle_actions();
        let request = fx.sync.push(event.clone());
        // ECS drains: once the service is at 0, the scheduler stops the task.
        let deadline = Instant::now() + Duration::from_secs(60);
        while self.service_desired().await != 0 && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let _ = self.ecs_scheduler(None).await;
        let drained = fx
            .sync
            .wait_for(&request)
            .as_ref()
            .and_then(Outcome::response)
            .is_some_and(|r| r["drained"] == true);
        let ok = drained
            && self.service_desired().await == 0
            && self.emulator.completed_lifecycle_actions() == completed_before + 1;
        self.step(
            ok,
            fx.sync.name(),
            &format!("{why}: EC2 Instance-terminate Lifecycle Action"),
            "ECS service desired -> 0, task drained, lifecycle action completed (CONTINUE)",
        );
        let updated = fx.dns.try_invoke(event);
        let record = self.record().await;
        let ok = matches!(&updated, Some(Outcome::Response(_)))
            && record == "0.0.0.0"
            && self.emulator.last_sns_message() == format!("{CONTAINER} is shutting down");
        self.step(
            ok,
            fx.dns.name(),
            &format!("{why}: EC2 Instance-terminate Lifecycle Action"),
            &format!("{DOMAIN} A -> {record}; SNS \"{CONTAINER} is shutting down\""),
        );
    }

    /// A player looks the container's name up: the trigger starts the group.
    async fn lookup(&mut self, fx: &Functions) -> Option<String> {
        let before = self.desired().await;
        let outcome = fx
            .trigger
            .try_invoke(events::sample("dns-query-trigger/query-log-match.json"));
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
            fx.trigger.name(),
            &format!("a player looks up {DOMAIN}"),
            &format!("ASG desired {before} -> {after}; keep-alive metric put"),
        );
        instance
    }

    /// Sends `event` (with its source's real ARN) to the watchdog and checks that it
    /// stopped the group and told people, with a message containing `says`.
    async fn watchdog_stops(&mut self, fx: &Functions, event: Value, what: &str, says: &str) {
        let source = event["alarmArn"]
            .as_str()
            .or(event["resources"][0].as_str())
            .unwrap_or_default()
            .to_string();
        let outcome = fx.watchdog.try_invoke(event);
        let after = self.desired().await;
        let message = self.emulator.last_sns_message();
        let ok = outcome
            .as_ref()
            .and_then(Outcome::response)
            .is_some_and(|r| r["outcomes"][0]["result"] == "stopped")
            && after == 0
            && message.contains(says)
            && !source.is_empty();
        self.step(
            ok,
            fx.watchdog.name(),
            what,
            &format!("ASG desired 1 -> {after}; SNS {message:?}"),
        );
    }

    /// Starts the four functions, their output in `log_dir`; a failed start is a
    /// failed step.
    fn start_functions(&mut self, log_dir: &Path) -> Option<Functions> {
        let started: Result<Vec<Function>, String> = FUNCTIONS
            .iter()
            .map(|name| {
                self.function_spec(name)
                    .log(log_dir.join(format!("{name}.log")))
                    .start()
            })
            .collect();
        let started = started.map_err(|e| self.step(false, "functions", "start the functions", &e));
        let [trigger, sync, dns, watchdog] = <[Function; 4]>::try_from(started.ok()?).ok()?;
        Some(Functions {
            trigger,
            sync,
            dns,
            watchdog,
        })
    }

    /// Plays the whole story; every step is in the returned report.
    pub async fn play(mut self) -> Report {
        let log_dir = std::env::temp_dir().join(format!("cm-story-{}", std::process::id()));
        let _ = std::fs::create_dir_all(&log_dir);
        self.report.log_dir = log_dir.clone();
        let Some(fx) = self.start_functions(&log_dir) else {
            return self.finish();
        };

        // 1-2. A player's lookup starts the group; the launch is followed.
        let Some(first) = self.lookup(&fx).await else {
            return self.finish();
        };
        self.follow_launch(&fx, &first, "trigger's start").await;

        // 3. A console edit of the desired count is followed the same way: 1 -> 0 -> 1.
        self.console_sets_desired(0).await;
        self.follow_terminate(&fx, &first, "console edit").await;
        let Some(second) = self.console_sets_desired(1).await else {
            return self.finish();
        };
        self.follow_launch(&fx, &second, "console edit").await;

        // 4. Idle: the alarm goes to ALARM and invokes the watchdog directly.
        let alarm = self.idle_alarm_event().await;
        let what = format!("idle alarm {IDLE_ALARM} -> ALARM");
        self.watchdog_stops(&fx, alarm, &what, "idle for 30 minutes")
            .await;

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
            .stop_task(&task, "Essential container in task exited")
            .await;
        let crash = events::task_crashed_event(CLUSTER, SERVICE, CONTAINER, &task);
        self.watchdog_stops(
            &fx,
            crash,
            "ECS Task State Change: STOPPED, exit code 137",
            "crashed: container mc exited with code 137",
        )
        .await;
        self.follow_terminate(&fx, &third, "crash stop").await;

        drop(fx);
        self.finish()
    }

    fn finish(mut self) -> Report {
        self.report.calls = self.emulator.calls();
        std::mem::take(&mut self.report)
    }
}
