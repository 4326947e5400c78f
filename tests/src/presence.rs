//! The presence story, offline: a real Minecraft Java server (flying-squid) with a
//! real client (a mineflayer bot) joining and leaving, the presence probe and the
//! watchdog as their real binaries behind Lambda Runtime API servers, and the local
//! AWS emulator holding the group, the topic, the `Players` metric and the idle alarm
//! as template.yaml makes them with a `GameProtocol`.
//!
//! The emulator has no EventBridge and no alarm evaluation, so the story plays them,
//! explicitly (as [`crate::story`] plays EventBridge and the ECS scheduler):
//!
//! - **the schedule**: each tick is the sample `Scheduled Event` with its `time` set
//!   to a minute of the story's clock. That clock runs ahead of the real one, one
//!   minute per tick, so the probe takes the event's time as the tick's (it takes the
//!   later of its clock and the event's), its data points land one per minute, and an
//!   idle window or a boot grace of minutes passes in seconds. The emulator
//!   launches an instance at the real time, so each start sets the story's clock
//!   back to the launch: the ticks after a start are its first minutes;
//! - **the idle alarm**: after each tick the alarm's own definition, read back from
//!   the emulator (metric, statistic, period, evaluation periods, datapoints to alarm,
//!   threshold, comparison, missing data), is evaluated on the `Players` data points
//!   of the last periods, read back with `GetMetricStatistics`; when it breaches, the
//!   alarm is set to ALARM and the watchdog invoked with the alarm's event, as
//!   CloudWatch's Lambda alarm action does.
//!
//! The story: the group at 0 (nothing asked); a start, the first answer ("playable
//! after N s", `SecondsToPlayable`, the instance tagged); a bot joins (`Players` 1)
//! and leaves (0); `IDLE_MINUTES` minutes at 0 -> the alarm -> the watchdog stops the
//! group; then the server is gone, a new start never answers, and once the boot
//! grace is over the probe stops the group with a "boot failed" notice, once.

use std::path::Path;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use aws_sdk_autoscaling::Client as AutoScaling;
use aws_sdk_cloudwatch::primitives::DateTime;
use aws_sdk_cloudwatch::types::{
    ComparisonOperator, Dimension, MetricAlarm, StateValue, Statistic,
};
use aws_sdk_cloudwatch::Client as CloudWatch;
use serde_json::{json, Value};

use crate::emulator::{self, ACCOUNT, REGION};
use crate::events;
use crate::function::{Function, Spec};
use crate::game_servers::{Bots, MinecraftServer};
use crate::story::{Report, Step, CONTAINER, GROUP, IDLE_ALARM, PRESENCE_PROBE, TOPIC};
use crate::{Emulator, Outcome};

/// The idle alarm's window in the story (the template's smallest `IdleMinutes`).
pub const IDLE_MINUTES: i64 = 5;
/// The boot grace in the story.
pub const BOOT_GRACE_MINUTES: i64 = 3;
/// The `ContainerName` dimension of the `Players` metric, as the template sets it.
pub const DIMENSION: &str = "cm-demo-mc";
const NAMESPACE: &str = "ContainerManager";
const WATCHDOG: &str = "watchdog-scale-down";
/// How long a count may take to settle after a bot joined or left.
const SETTLE: Duration = Duration::from_secs(20);
/// The deadline of each invocation, and how long the story waits for it.
const WAIT: Duration = Duration::from_secs(60);

pub struct PresenceStory {
    pub emulator: Emulator,
    autoscaling: AutoScaling,
    ec2: aws_sdk_ec2::Client,
    cloudwatch: CloudWatch,
    start: Instant,
    report: Report,
    on_step: Box<dyn FnMut(&Step) + Send>,
    /// The minute of the last tick (minutes since the Unix epoch).
    minute: i64,
}

/// What runs during the story.
struct Running {
    probe: Function,
    watchdog: Function,
    server: Option<MinecraftServer>,
    bots: Option<Bots>,
}

/// The outcome of one tick: the probe's response, and the tick's time.
struct Tick {
    at: i64,
    response: Value,
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

impl PresenceStory {
    /// Starts the emulator and creates what template.yaml creates for a container
    /// with a `GameProtocol`: the group (at 0), the topic, and the idle alarm on
    /// `Players`. `on_step` sees each step as it happens.
    pub async fn setup(on_step: Box<dyn FnMut(&Step) + Send>) -> Result<PresenceStory, String> {
        let emulator = Emulator::start();
        let sdk = emulator.sdk_config().await;
        let autoscaling = AutoScaling::new(&sdk);
        let cloudwatch = CloudWatch::new(&sdk);
        emulator::create_group(&autoscaling, GROUP, "us-east-1a", 0).await?;
        emulator::create_topic(&aws_sdk_sns::Client::new(&sdk), TOPIC).await?;
        create_players_alarm(&cloudwatch).await?;
        let mut story = PresenceStory {
            autoscaling,
            ec2: aws_sdk_ec2::Client::new(&sdk),
            cloudwatch,
            start: Instant::now(),
            report: Report::default(),
            on_step,
            minute: unix_now() / 60,
            emulator,
        };
        story.step(
            true,
            "emulator",
            &format!("started on {}", story.emulator.endpoint()),
            "ASG (at 0), topic, idle alarm on Players (Maximum <= 0, notBreaching) created",
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

    fn topic_arn() -> String {
        format!("arn:aws:sns:{REGION}:{ACCOUNT}:{TOPIC}")
    }

    /// The probe's environment as template.yaml sets it, the game server at
    /// 127.0.0.1:`port` (the emulator's instances have no reachable address).
    fn probe_env(&self, port: u16) -> Vec<(String, String)> {
        let mut env = self.emulator.aws_env();
        env.extend(
            [
                ("ASG_NAME", GROUP.to_string()),
                ("GAME_PROTOCOL", "minecraft-java".to_string()),
                ("GAME_PORT", port.to_string()),
                ("GAME_HOST", "127.0.0.1".to_string()),
                ("METRIC_NAMESPACE", NAMESPACE.to_string()),
                (
                    "METRIC_DIMENSIONS",
                    format!(r#"{{"ContainerName":"{DIMENSION}"}}"#),
                ),
                ("PROBE_TIMEOUT_MS", "2000".to_string()),
                ("BOOT_GRACE_MINUTES", BOOT_GRACE_MINUTES.to_string()),
                ("SNS_TOPIC_ARN", Self::topic_arn()),
                ("CONTAINER_NAME", CONTAINER.to_string()),
            ]
            .map(|(k, v)| (k.to_string(), v)),
        );
        env
    }

    fn watchdog_env(&self) -> Vec<(String, String)> {
        let mut env = self.emulator.aws_env();
        env.extend(
            [
                ("ASG_NAME", GROUP.to_string()),
                ("IDLE_ALARM_NAME", IDLE_ALARM.to_string()),
                ("ECS_CLUSTER_NAME", "cm-cluster-demo-mc".to_string()),
                ("SNS_TOPIC_ARN", Self::topic_arn()),
                ("CONTAINER_NAME", CONTAINER.to_string()),
                ("IDLE_MINUTES", IDLE_MINUTES.to_string()),
            ]
            .map(|(k, v)| (k.to_string(), v)),
        );
        env
    }

    /// The real server, a bot process, and the two functions.
    fn start_all(&mut self, log_dir: &Path) -> Result<Running, String> {
        let server = MinecraftServer::start()?;
        let bots = Bots::start(server.port)?;
        let start = |name: &str, env: Vec<(String, String)>| {
            Spec::binary(name)
                .envs(env)
                .log(log_dir.join(format!("{name}.log")))
                .timeouts(WAIT, WAIT)
                .start()
        };
        let probe = start(PRESENCE_PROBE, self.probe_env(server.port))?;
        let watchdog = start(WATCHDOG, self.watchdog_env())?;
        Ok(Running {
            probe,
            watchdog,
            server: Some(server),
            bots: Some(bots),
        })
    }

    /// A tick in a new minute of the story's clock (always ahead of the real clock:
    /// the half past of the minute after both the last tick and now).
    fn next_minute(&mut self) -> i64 {
        self.minute = (self.minute + 1).max(unix_now() / 60 + 1);
        self.minute * 60 + 30
    }

    /// The same minute again, while it is still ahead of the real clock; else a new
    /// one.
    fn same_minute(&mut self) -> i64 {
        if self.minute * 60 + 30 > unix_now() {
            self.minute * 60 + 30
        } else {
            self.next_minute()
        }
    }

    /// Sends the schedule's tick at `at` to the probe; its response.
    fn tick(&self, fx: &Running, at: i64) -> Result<Tick, String> {
        let mut event = events::sample("presence-probe/schedule.json");
        event["time"] = DateTime::from_secs(at)
            .fmt(aws_sdk_cloudwatch::primitives::DateTimeFormat::DateTime)
            .map_err(|e| format!("format {at}: {e}"))?
            .into();
        match fx.probe.try_invoke(event) {
            Some(Outcome::Response(response)) => Ok(Tick { at, response }),
            Some(Outcome::Error(error)) => Err(format!("the probe failed: {error}")),
            None => Err(format!("the probe did not answer within {WAIT:?}")),
        }
    }

    /// Ticks in the same minute (a new one once it is behind the real clock) until
    /// the probe reads `players`.
    fn tick_until(&mut self, fx: &Running, players: u32) -> Result<Tick, String> {
        let deadline = Instant::now() + SETTLE;
        loop {
            let at = self.same_minute();
            let tick = self.tick(fx, at)?;
            if tick.response["players"] == players {
                return Ok(tick);
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "the probe still reads {} after {SETTLE:?}",
                    tick.response
                ));
            }
            std::thread::sleep(Duration::from_millis(300));
        }
    }

    async fn desired(&self) -> i32 {
        emulator::desired(&self.autoscaling, GROUP).await
    }

    /// The owner sets the group's desired count to 1; the new instance and its
    /// launch time (seconds since the Unix epoch).
    async fn start_group(&mut self, why: &str) -> Option<(String, i64)> {
        let set = cm_core::autoscaling::set_desired_capacity(&self.autoscaling, GROUP, 1).await;
        let instance = emulator::in_service_instance(&self.autoscaling, GROUP).await;
        let launched = match &instance {
            Some(id) => self.launch_time(id).await,
            None => None,
        };
        let ok = set.is_ok() && launched.is_some();
        // The emulator launches at the real time, behind the story's clock: the
        // clock starts again from the launch, so the ticks after a start are its
        // first minutes (the minutes before it hold no data point of this start).
        if let Some(at) = launched {
            self.minute = at.div_euclid(60);
        }
        self.step(
            ok,
            "console",
            &format!("the owner sets the ASG desired count to 1 ({why})"),
            &format!(
                "ASG desired 0 -> 1; {} launched at {}",
                instance.as_deref().unwrap_or("no instance"),
                launched.unwrap_or_default()
            ),
        );
        Some((instance?, launched?))
    }

    async fn launch_time(&self, instance: &str) -> Option<i64> {
        self.ec2
            .describe_instances()
            .instance_ids(instance)
            .send()
            .await
            .ok()?
            .reservations()
            .first()?
            .instances()
            .first()?
            .launch_time()
            .map(|t| t.secs())
    }

    async fn tag(&self, instance: &str) -> Option<String> {
        self.ec2
            .describe_instances()
            .instance_ids(instance)
            .send()
            .await
            .ok()?
            .reservations()
            .first()?
            .instances()
            .first()?
            .tags()
            .iter()
            .find(|t| t.key() == Some("cm:playable-at"))
            .and_then(|t| t.value().map(str::to_string))
    }

    /// The maximum of `metric` in the minute starting at `start` (`None`: no data
    /// point in it).
    async fn minute_value(&self, metric: &str, start: i64, statistic: Statistic) -> Option<f64> {
        let stats = self
            .cloudwatch
            .get_metric_statistics()
            .namespace(NAMESPACE)
            .metric_name(metric)
            .dimensions(
                Dimension::builder()
                    .name("ContainerName")
                    .value(DIMENSION)
                    .build(),
            )
            .start_time(DateTime::from_secs(start))
            .end_time(DateTime::from_secs(start + 60))
            .period(60)
            .statistics(statistic.clone())
            .send()
            .await
            .ok()?;
        let point = stats.datapoints().first()?;
        match statistic {
            Statistic::Maximum => point.maximum(),
            Statistic::Minimum => point.minimum(),
            Statistic::Sum => point.sum(),
            Statistic::SampleCount => point.sample_count(),
            _ => point.average(),
        }
    }

    async fn alarm(&self) -> Result<MetricAlarm, String> {
        self.cloudwatch
            .describe_alarms()
            .alarm_names(IDLE_ALARM)
            .send()
            .await
            .map_err(|e| format!("DescribeAlarms: {e}"))?
            .metric_alarms()
            .first()
            .cloned()
            .ok_or_else(|| format!("no alarm {IDLE_ALARM}"))
    }

    /// CloudWatch's evaluation of the idle alarm at `at`: the alarm's definition
    /// applied to its metric's last `EvaluationPeriods` periods. Whether it breaches,
    /// and the periods' values (oldest first).
    async fn evaluate_alarm(&self, at: i64) -> Result<(bool, Vec<Option<f64>>), String> {
        let alarm = self.alarm().await?;
        let period = i64::from(alarm.period().unwrap_or(60));
        let periods = i64::from(alarm.evaluation_periods().unwrap_or(1));
        let needed = alarm.datapoints_to_alarm().map_or(periods, i64::from);
        let threshold = alarm.threshold().unwrap_or(0.0);
        let statistic = alarm.statistic().cloned().unwrap_or(Statistic::Average);
        let metric = alarm.metric_name().unwrap_or_default().to_string();
        let missing_breaches = alarm.treat_missing_data() == Some("breaching");
        let last = at - at.rem_euclid(period);
        let mut values = Vec::new();
        for i in (0..periods).rev() {
            values.push(
                self.minute_value(&metric, last - i * period, statistic.clone())
                    .await,
            );
        }
        let breaches = |v: f64| match alarm.comparison_operator() {
            Some(ComparisonOperator::LessThanOrEqualToThreshold) => v <= threshold,
            Some(ComparisonOperator::LessThanThreshold) => v < threshold,
            Some(ComparisonOperator::GreaterThanOrEqualToThreshold) => v >= threshold,
            Some(ComparisonOperator::GreaterThanThreshold) => v > threshold,
            _ => false,
        };
        let breaching = values
            .iter()
            .filter(|v| v.map_or(missing_breaches, breaches))
            .count();
        Ok((i64::try_from(breaching).unwrap_or(0) >= needed, values))
    }

    /// The alarm goes to ALARM: its state set in the emulator, and the watchdog
    /// invoked with the alarm's event, as the alarm's Lambda action does.
    async fn fire_alarm(&mut self, fx: &Running, values: &[Option<f64>]) {
        let readings: Vec<String> = values
            .iter()
            .map(|v| v.map_or("-".to_string(), |v| v.to_string()))
            .collect();
        let reason = format!(
            "Threshold Crossed: {n} out of the last {n} datapoints [{}] were less than or \
             equal to the threshold (0.0) (minimum {n} datapoints for OK -> ALARM transition).",
            readings.join(", "),
            n = values.len()
        );
        let set = self
            .cloudwatch
            .set_alarm_state()
            .alarm_name(IDLE_ALARM)
            .state_value(StateValue::Alarm)
            .state_reason(&reason)
            .send()
            .await;
        let arn = self
            .alarm()
            .await
            .ok()
            .and_then(|a| a.alarm_arn().map(str::to_string))
            .unwrap_or_default();
        self.step(
            set.is_ok() && !arn.is_empty(),
            "cloudwatch (played)",
            &format!("idle alarm {IDLE_ALARM}: Players [{}]", readings.join(", ")),
            "OK -> ALARM; alarm action: the watchdog",
        );
        let mut event = events::alarm_event(&arn, IDLE_ALARM);
        event["time"] = events::now_rfc3339().into();
        event["alarmData"]["state"]["reason"] = reason.into();
        event["alarmData"]["configuration"] = json!({
            "description": format!("{CONTAINER}: nobody has played for {IDLE_MINUTES} minutes"),
            "metrics": [{"id": "players", "metricStat": {"metric": {
                "namespace": NAMESPACE, "name": "Players",
                "dimensions": {"ContainerName": DIMENSION}},
                "period": 60, "stat": "Maximum"}, "returnData": true}],
        });
        let outcome = fx.watchdog.try_invoke(event);
        let after = self.desired().await;
        let message = self.emulator.last_sns_message();
        let expected = format!("{CONTAINER} is being stopped: idle for {IDLE_MINUTES} minutes.");
        let ok = outcome
            .as_ref()
            .and_then(Outcome::response)
            .is_some_and(|r| r["outcomes"][0]["result"] == "stopped")
            && after == 0
            && message == expected;
        self.step(
            ok,
            WATCHDOG,
            &format!("idle alarm {IDLE_ALARM} -> ALARM"),
            &format!("ASG desired 1 -> {after}; SNS {message:?}"),
        );
    }

    /// Plays the whole story; every step is in the returned report.
    pub async fn play(mut self) -> Report {
        let log_dir = std::env::temp_dir().join(format!("cm-presence-{}", std::process::id()));
        let _ = std::fs::create_dir_all(&log_dir);
        self.report.log_dir = log_dir.clone();
        let mut fx = match self.start_all(&log_dir) {
            Ok(fx) => fx,
            Err(e) => {
                self.step(
                    false,
                    "fixtures",
                    "start flying-squid, the bots, the functions",
                    &e,
                );
                return self.finish();
            }
        };
        let port = fx.server.as_ref().map_or(0, |s| s.port);
        self.step(
            true,
            "flying-squid",
            "a real Minecraft Java server listens on 127.0.0.1",
            &format!("port {port}; {PRESENCE_PROBE} and {WATCHDOG} started"),
        );
        if let Err(e) = self.play_steps(&mut fx).await {
            self.step(false, "story", "the story stopped", &e);
        }
        drop(fx);
        self.finish()
    }

    async fn play_steps(&mut self, fx: &mut Running) -> Result<(), String> {
        // 1. The group at 0: one describe call, nothing asked.
        let at = self.next_minute();
        let tick = self.tick(fx, at)?;
        let ok = tick.response["presence"] == "not-probed"
            && self
                .minute_value("Players", at - 30, Statistic::SampleCount)
                .await
                .is_none();
        self.step(
            ok,
            PRESENCE_PROBE,
            "schedule tick, the group at 0",
            &format!("not probed: {}", tick.response["note"]),
        );

        // 2. A start; the first answer is the moment it became playable.
        let Some((first, launched)) = self.start_group("a player wants to play").await else {
            return Err("no instance after the start".into());
        };
        let at = self.next_minute();
        let tick = self.tick(fx, at)?;
        let seconds = at - launched;
        let message = self.emulator.last_sns_message();
        let expected = format!("{CONTAINER} is playable after {seconds} s");
        let playable = self
            .minute_value("SecondsToPlayable", at - 30, Statistic::Maximum)
            .await;
        let tag = self.tag(&first).await;
        let ok = tick.response["presence"] == "answered"
            && tick.response["players"] == 0
            && tick.response["boot"] == "first-answer"
            && tick.response["seconds_to_playable"] == seconds
            && message == expected
            && playable == Some(seconds as f64)
            && tag.is_some();
        self.step(
            ok,
            PRESENCE_PROBE,
            &format!("schedule tick {seconds} s after the launch: the server answers"),
            &format!(
                "Players 0; SecondsToPlayable {playable:?}; tag cm:playable-at {tag:?}; SNS {message:?}"
            ),
        );

        // 3. A bot joins: 1; it leaves: 0. Each settles within the same minute.
        let bots = fx.bots.as_mut().ok_or("no bots")?;
        let joined = bots.join()?;
        let tick = self.tick_until(fx, 1)?;
        let (alarm, _) = self.evaluate_alarm(tick.at).await?;
        let messages = self.emulator.sns_messages().len();
        self.step(
            joined == 1 && !alarm && messages == 1,
            PRESENCE_PROBE,
            "a mineflayer bot joins; schedule tick",
            &format!("Players 1 ({}); idle alarm OK", tick.response["target"]),
        );
        let bots = fx.bots.as_mut().ok_or("no bots")?;
        let left = bots.leave()?;
        let tick = self.tick_until(fx, 0)?;
        self.step(
            left == 0 && tick.response["players"] == 0,
            PRESENCE_PROBE,
            "the bot leaves; schedule tick",
            "Players 0",
        );

        // 4. IDLE_MINUTES minutes of 0: the alarm breaches at the last one, not before.
        let mut states = Vec::new();
        let mut fired = None;
        for minute in 1..=IDLE_MINUTES {
            let at = self.next_minute();
            let tick = self.tick(fx, at)?;
            if tick.response["players"] != 0 {
                return Err(format!(
                    "minute {minute} of the idle window read {}",
                    tick.response
                ));
            }
            let (breaches, values) = self.evaluate_alarm(at).await?;
            states.push(if breaches { "ALARM" } else { "OK" });
            if breaches {
                fired = Some(values);
                break;
            }
        }
        let expected: Vec<&str> = (1..=IDLE_MINUTES)
            .map(|m| if m == IDLE_MINUTES { "ALARM" } else { "OK" })
            .collect();
        self.step(
            states == expected,
            PRESENCE_PROBE,
            &format!("{IDLE_MINUTES} schedule ticks a minute apart, nobody playing"),
            &format!(
                "Players 0 each minute; the alarm evaluates {}",
                states.join(", ")
            ),
        );
        let Some(values) = fired else {
            return Err("the idle alarm never breached".into());
        };

        // 5. The alarm fires; the watchdog stops the group.
        self.fire_alarm(fx, &values).await;
        let at = self.next_minute();
        let tick = self.tick(fx, at)?;
        self.step(
            tick.response["presence"] == "not-probed",
            PRESENCE_PROBE,
            "schedule tick after the stop",
            &format!("not probed: {}", tick.response["note"]),
        );

        // 6. The server is gone; the next start never answers.
        let port = fx.server.as_ref().map_or(0, |s| s.port);
        fx.bots.take();
        fx.server.take();
        self.step(
            true,
            "flying-squid",
            "the server stops: the next start will never answer",
            &format!("127.0.0.1:{port} closed"),
        );
        let Some((_, launched)) = self.start_group("a server that will not boot").await else {
            return Err("no instance after the second start".into());
        };
        let messages = self.emulator.sns_messages().len();
        let grace = BOOT_GRACE_MINUTES * 60;
        let mut booting = 0;
        loop {
            let at = self.next_minute();
            let tick = self.tick(fx, at)?;
            let age = at - launched;
            if age < grace {
                let ok = tick.response["presence"] == "unknown"
                    && tick.response["boot"] == "booting"
                    && tick.response["grace_left_seconds"] == grace - age
                    && self.desired().await == 1
                    && self.emulator.sns_messages().len() == messages;
                booting += 1;
                if !ok {
                    self.step(
                        false,
                        PRESENCE_PROBE,
                        &format!("schedule tick {age} s after the launch, within the grace"),
                        &tick.response.to_string(),
                    );
                    return Ok(());
                }
                continue;
            }
            self.step(
                booting > 0,
                PRESENCE_PROBE,
                &format!("{booting} schedule ticks within the {BOOT_GRACE_MINUTES}-minute grace"),
                "players unknown (booting); nothing stopped, nobody told",
            );
            let after = self.desired().await;
            let message = self.emulator.last_sns_message();
            let expected = format!(
                "{CONTAINER} is being stopped: boot failed, no answer within {BOOT_GRACE_MINUTES} \
                 minutes of its start (last probe: {}).",
                tick.response["note"].as_str().unwrap_or_default()
            );
            let ok = tick.response["boot"] == "failed"
                && after == 0
                && message == expected
                && self.emulator.sns_messages().len() == messages + 1;
            self.step(
                ok,
                PRESENCE_PROBE,
                &format!("schedule tick {age} s after the launch: the grace is over"),
                &format!("ASG desired 1 -> {after}; SNS {message:?}"),
            );
            break;
        }

        // 7. The next tick tells nobody again.
        let at = self.next_minute();
        let tick = self.tick(fx, at)?;
        let sent = self.emulator.sns_messages().len();
        self.step(
            sent == messages + 1
                && tick.response["actions"]
                    .as_array()
                    .is_some_and(Vec::is_empty),
            PRESENCE_PROBE,
            "schedule tick after the failed boot's stop",
            &format!(
                "{}: no second stop, no second notice",
                tick.response["presence"]
            ),
        );
        Ok(())
    }

    fn finish(mut self) -> Report {
        self.report.calls = self.emulator.calls();
        std::mem::take(&mut self.report)
    }
}

/// The idle alarm as template.yaml makes it with a `GameProtocol`: the most players
/// counted in each minute, at or under 0 for [`IDLE_MINUTES`] minutes, a minute
/// without a count not breaching (written here in the alarm's single-metric form,
/// which the emulator stores and returns field by field).
pub async fn create_players_alarm(cloudwatch: &CloudWatch) -> Result<(), String> {
    let periods = i32::try_from(IDLE_MINUTES).unwrap_or(5);
    cloudwatch
        .put_metric_alarm()
        .alarm_name(IDLE_ALARM)
        .alarm_description(format!(
            "{CONTAINER}: nobody has played for {IDLE_MINUTES} minutes"
        ))
        .namespace(NAMESPACE)
        .metric_name("Players")
        .dimensions(
            Dimension::builder()
                .name("ContainerName")
                .value(DIMENSION)
                .build(),
        )
        .statistic(Statistic::Maximum)
        .period(60)
        .evaluation_periods(periods)
        .datapoints_to_alarm(periods)
        .threshold(0.0)
        .comparison_operator(ComparisonOperator::LessThanOrEqualToThreshold)
        .treat_missing_data("notBreaching")
        .send()
        .await
        .map_err(|e| format!("PutMetricAlarm: {e}"))?;
    Ok(())
}
