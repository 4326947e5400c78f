//! The presence story, offline, on template.yaml as deployed: a real Minecraft Java
//! server (flying-squid) with a real client (a mineflayer bot) joining and leaving,
//! the presence probe and the watchdog as their real binaries behind Lambda Runtime
//! API servers, each with the environment of its deployed Lambda configuration, and
//! the stack deployed into the local AWS emulator's CloudFormation with
//! `GameProtocol=minecraft-java`, `GamePort` (and `TcpPorts`) the server's port,
//! `IdleMinutes` [`IDLE_MINUTES`] and `BootGraceMinutes` [`BOOT_GRACE_MINUTES`]
//! ([`crate::story::Deployment`]). The one addition to the deployed environment: the
//! probe asks 127.0.0.1 (`GAME_HOST`), where the server listens, instead of the
//! emulator's instance's public address, where nothing does.
//!
//! The emulator does not deliver schedules and does not evaluate alarms, so the story
//! plays them, explicitly (as [`crate::story`] plays EventBridge and the ECS
//! scheduler):
//!
//! - **the schedule**: each tick is the `Scheduled Event` of the deployed rule that
//!   invokes the probe (its ARN in the event; its expression must be one a minute),
//!   with its `time` set to a minute of the story's clock. That clock runs ahead of
//!   the real one, one minute per tick, so the probe takes the event's time as the
//!   tick's (it takes the later of its clock and the event's), its data points land
//!   one per minute, and an idle window or a boot grace of minutes passes in seconds.
//!   The emulator launches an instance at the real time, so each start sets the
//!   story's clock back to the launch: the ticks after a start are its first minutes;
//! - **the idle alarm**: after each tick the deployed alarm's own definition, read
//!   back from the emulator (its metric, statistic, period, evaluation periods,
//!   datapoints to alarm, threshold, comparison, missing data), is evaluated on the
//!   data points of the last periods, read back with `GetMetricStatistics`; when it
//!   breaches, the alarm is set to ALARM and its actions (the watchdog) invoked with
//!   the alarm's event, as CloudWatch's Lambda alarm action does. A metric the probe
//!   does not put (a wrong name, namespace or dimension in the template) never
//!   breaches, and the story fails.
//!
//! The story: the group at 0 (nothing asked); a start, the first answer ("playable
//! after N s", `SecondsToPlayable`, the instance tagged); a bot joins (`Players` 1)
//! and leaves (0); `IDLE_MINUTES` minutes at 0 -> the alarm -> the watchdog stops the
//! group; then the server is gone, a new start never answers, and once the boot
//! grace is over the probe stops the group with a "boot failed" notice, once.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use aws_sdk_cloudwatch::primitives::DateTime;
use aws_sdk_cloudwatch::types::{
    ComparisonOperator, Dimension, MetricAlarm, StateValue, Statistic,
};
use serde_json::Value;

use crate::game_servers::{Bots, MinecraftServer};
use crate::story::{Deployment, Functions, Layout, Report, Step, PRESENCE_PROBE};
use crate::{Emulator, Outcome};

/// The idle alarm's window in the story (the template's smallest `IdleMinutes`).
pub const IDLE_MINUTES: i64 = 5;
/// The boot grace in the story (`BootGraceMinutes`).
pub const BOOT_GRACE_MINUTES: i64 = 3;
const WATCHDOG: &str = "watchdog-scale-down";
/// How long a count may take to settle after a bot joined or left.
const SETTLE: Duration = Duration::from_secs(20);

/// The metric a single-metric alarm (or the one query of a metric-math alarm that
/// returns data) evaluates.
#[derive(Debug, Clone)]
struct AlarmMetric {
    namespace: String,
    name: String,
    dimensions: Vec<Dimension>,
    period: i64,
    statistic: Statistic,
}

impl AlarmMetric {
    fn of(alarm: &MetricAlarm) -> Result<AlarmMetric, String> {
        if let Some(name) = alarm.metric_name() {
            return Ok(AlarmMetric {
                namespace: alarm.namespace().unwrap_or_default().to_string(),
                name: name.to_string(),
                dimensions: alarm.dimensions().to_vec(),
                period: i64::from(alarm.period().unwrap_or(60)),
                statistic: alarm.statistic().cloned().unwrap_or(Statistic::Average),
            });
        }
        let returned: Vec<_> = alarm
            .metrics()
            .iter()
            .filter(|q| q.return_data().unwrap_or(true))
            .collect();
        let [query] = returned.as_slice() else {
            return Err(format!(
                "the alarm returns {} series: the story evaluates one metric",
                returned.len()
            ));
        };
        let stat = query.metric_stat().ok_or_else(|| {
            format!(
                "the alarm's data is the expression {:?}: the story evaluates one metric",
                query.expression()
            )
        })?;
        let metric = stat.metric().ok_or("the alarm's query names no metric")?;
        Ok(AlarmMetric {
            namespace: metric.namespace().unwrap_or_default().to_string(),
            name: metric.metric_name().unwrap_or_default().to_string(),
            dimensions: metric.dimensions().to_vec(),
            period: i64::from(stat.period().unwrap_or(60)),
            statistic: Statistic::from(stat.stat().unwrap_or("Average")),
        })
    }
}

pub struct PresenceStory {
    deployment: Deployment,
    /// The server, until the story runs.
    server: Option<MinecraftServer>,
    /// What the idle alarm reads (and the namespace and dimensions of the probe's
    /// other metric, `SecondsToPlayable`).
    metric: AlarmMetric,
    start: Instant,
    report: Report,
    on_step: Box<dyn FnMut(&Step) + Send>,
    /// The minute of the last tick (minutes since the Unix epoch).
    minute: i64,
}

/// What runs during the story.
struct Running {
    functions: Functions,
    server: Option<MinecraftServer>,
    bots: Option<Bots>,
}

impl Running {
    fn probe(&self) -> Result<&crate::Function, String> {
        self.functions.get(PRESENCE_PROBE)
    }
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
    /// Starts the Minecraft server, then a new emulator, and deploys template.yaml
    /// into its CloudFormation (Component=all, the game's protocol and port, the
    /// story's idle window and boot grace). `on_step` sees each step as it happens.
    pub async fn setup(on_step: Box<dyn FnMut(&Step) + Send>) -> Result<PresenceStory, String> {
        let start = Instant::now();
        let server = MinecraftServer::start()?;
        let port = server.port.to_string();
        let (idle, grace) = (IDLE_MINUTES.to_string(), BOOT_GRACE_MINUTES.to_string());
        let parameters = [
            ("GameProtocol", "minecraft-java"),
            ("GamePort", port.as_str()),
            ("TcpPorts", port.as_str()),
            ("IdleMinutes", idle.as_str()),
            ("BootGraceMinutes", grace.as_str()),
        ];
        let deployment = Deployment::deploy(&Layout::All, &parameters).await?;
        let alarm = deployment.alarm(&deployment.names.idle_alarm).await?;
        let metric = AlarmMetric::of(&alarm)?;
        let mut story = PresenceStory {
            deployment,
            server: Some(server),
            start,
            report: Report::default(),
            on_step,
            minute: unix_now() / 60,
            metric,
        };
        let what = format!(
            "template.yaml deployed: {}, GameProtocol=minecraft-java",
            story.deployment.layout()
        );
        let change = format!(
            "{}, GamePort={port}; idle alarm on {} ({:?} <= {} for {} periods, missing data {})",
            story.deployment.describe(),
            story.metric.name,
            story.metric.statistic,
            alarm.threshold().unwrap_or_default(),
            alarm.evaluation_periods().unwrap_or_default(),
            alarm.treat_missing_data().unwrap_or("missing")
        );
        story.step(true, "cloudformation", &what, &change);
        Ok(story)
    }

    pub fn emulator(&self) -> &Emulator {
        &self.deployment.emulator
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

    fn container(&self) -> String {
        self.deployment.names.container.clone()
    }

    fn idle_alarm(&self) -> String {
        self.deployment.names.idle_alarm.clone()
    }

    /// The bots, and the two functions as deployed.
    fn start_all(&mut self, log_dir: &std::path::Path) -> Result<Running, String> {
        let server = self.server.take().ok_or("the server is gone")?;
        let bots = Bots::start(server.port)?;
        let functions = self
            .deployment
            .start(&[PRESENCE_PROBE, WATCHDOG], log_dir)?;
        Ok(Running {
            functions,
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

    /// The deployed schedule's tick at `at`, sent to the probe; its response.
    fn tick(&self, fx: &Running, at: i64) -> Result<Tick, String> {
        let time = DateTime::from_secs(at)
            .fmt(aws_sdk_cloudwatch::primitives::DateTimeFormat::DateTime)
            .map_err(|e| format!("format {at}: {e}"))?;
        let (event, _) = self.deployment.schedule_event(PRESENCE_PROBE, &time)?;
        match fx.probe()?.try_invoke(event) {
            Some(Outcome::Response(response)) => Ok(Tick { at, response }),
            Some(Outcome::Error(error)) => Err(format!("the probe failed: {error}")),
            None => Err("the probe did not answer in time".to_string()),
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
        self.deployment.desired().await
    }

    /// The owner sets the group's desired count to 1; the new instance and its
    /// launch time (seconds since the Unix epoch).
    async fn start_group(&mut self, why: &str) -> Option<(String, i64)> {
        let set = self.deployment.set_desired(1).await;
        let instance = self.deployment.in_service_instance().await;
        let launched = match &instance {
            Some(id) => self.deployment.launch_time(id).await,
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

    /// The value of `metric` (in the idle alarm's namespace, with its dimensions) in
    /// the minute starting at `start` (`None`: no data point in it).
    async fn minute_value(&self, metric: &str, start: i64, statistic: Statistic) -> Option<f64> {
        let stats = self
            .deployment
            .cloudwatch()
            .get_metric_statistics()
            .namespace(&self.metric.namespace)
            .metric_name(metric)
            .set_dimensions(Some(self.metric.dimensions.clone()))
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

    /// CloudWatch's evaluation of the deployed idle alarm at `at`: its definition
    /// applied to its metric's last `EvaluationPeriods` periods. Whether it breaches,
    /// and the periods' values (oldest first).
    async fn evaluate_alarm(&self, at: i64) -> Result<(bool, Vec<Option<f64>>), String> {
        let alarm = self.deployment.alarm(&self.idle_alarm()).await?;
        let metric = AlarmMetric::of(&alarm)?;
        let period = metric.period;
        let periods = i64::from(alarm.evaluation_periods().unwrap_or(1));
        let needed = alarm.datapoints_to_alarm().map_or(periods, i64::from);
        let threshold = alarm.threshold().unwrap_or(0.0);
        let missing_breaches = alarm.treat_missing_data() == Some("breaching");
        let last = at - at.rem_euclid(period);
        let mut values = Vec::new();
        for i in (0..periods).rev() {
            values.push(
                self.minute_value(&metric.name, last - i * period, metric.statistic.clone())
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

    /// The alarm goes to ALARM: its state set in the emulator, and its actions (the
    /// watchdog) invoked with the alarm's event, as CloudWatch's Lambda action does.
    async fn fire_alarm(&mut self, fx: &Running, values: &[Option<f64>]) {
        let idle = self.idle_alarm();
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
            .deployment
            .cloudwatch()
            .set_alarm_state()
            .alarm_name(&idle)
            .state_value(StateValue::Alarm)
            .state_reason(&reason)
            .send()
            .await;
        let delivery = self.deployment.alarm_event(&idle, &reason).await;
        let targets = delivery
            .as_ref()
            .map(|(_, t)| t.clone())
            .unwrap_or_default();
        self.step(
            set.is_ok() && targets == [WATCHDOG],
            "cloudwatch (played)",
            &format!(
                "idle alarm {idle}: {} [{}]",
                self.metric.name,
                readings.join(", ")
            ),
            &match &delivery {
                Ok(_) => format!("OK -> ALARM; alarm actions: {}", targets.join(", ")),
                Err(e) => e.clone(),
            },
        );
        let Ok((event, targets)) = delivery else {
            return;
        };
        let outcomes = fx.functions.invoke_each(&targets, &event);
        let after = self.desired().await;
        let message = self.deployment.last_sns_message();
        let expected = format!(
            "{} is being stopped: idle for {IDLE_MINUTES} minutes.",
            self.container()
        );
        let ok = matches!(outcomes.as_slice(), [Some(Outcome::Response(r))] if r["outcomes"][0]["result"] == "stopped")
            && after == 0
            && message == expected;
        self.step(
            ok,
            WATCHDOG,
            &format!("idle alarm {idle} -> ALARM"),
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
                self.step(false, "fixtures", "start the bots and the functions", &e);
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
        let (_, every) = self.deployment.schedule_event(PRESENCE_PROBE, "")?;
        let players = self.metric.name.clone();
        let ok = tick.response["presence"] == "not-probed"
            && every == "rate(1 minute)"
            && self
                .minute_value(&players, at - 30, Statistic::SampleCount)
                .await
                .is_none();
        self.step(
            ok,
            PRESENCE_PROBE,
            &format!("schedule tick ({every}), the group at 0"),
            &format!("not probed: {}", tick.response["note"]),
        );

        // 2. A start; the first answer is the moment it became playable.
        let Some((first, launched)) = self.start_group("a player wants to play").await else {
            return Err("no instance after the start".into());
        };
        let at = self.next_minute();
        let tick = self.tick(fx, at)?;
        let seconds = at - launched;
        let message = self.deployment.last_sns_message();
        let expected = format!("{} is playable after {seconds} s", self.container());
        let playable = self
            .minute_value("SecondsToPlayable", at - 30, Statistic::Maximum)
            .await;
        let tag = self.deployment.tag(&first, "cm:playable-at").await;
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
        let messages = self.deployment.sns_messages().len();
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
        let messages = self.deployment.sns_messages().len();
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
                    && self.deployment.sns_messages().len() == messages;
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
            let message = self.deployment.last_sns_message();
            let expected = format!(
                "{} is being stopped: boot failed, no answer within {BOOT_GRACE_MINUTES} \
                 minutes of its start (last probe: {}).",
                self.container(),
                tick.response["note"].as_str().unwrap_or_default()
            );
            let ok = tick.response["boot"] == "failed"
                && after == 0
                && message == expected
                && self.deployment.sns_messages().len() == messages + 1;
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
        let sent = self.deployment.sns_messages().len();
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
        self.report.calls = self.deployment.emulator.calls();
        std::mem::take(&mut self.report)
    }
}
