//! The fast tier: the whole handler (parse -> observe -> decide -> probe -> act) with
//! the in-memory [`FakeCloud`], whose game server answers whatever a test scripts,
//! on the real sample event, at a time each test sets. No AWS, no Python, no network.

use std::cell::RefCell;
use std::collections::HashMap;
use std::io::Write;
use std::net::Ipv4Addr;
use std::sync::Once;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use cm_core::Env;
use presence_probe::fake::FakeCloud;
use presence_probe::protocol::{DecodeError, GameProtocol, ProbeAnswer, ProbeError};
use presence_probe::{handle, Action, Boot, Config, Outcome, Presence};
use serde_json::{json, Value};

const GROUP: &str = "cm-asg-dev-mc";
const INSTANCE: &str = "i-0abc";
const IP: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 7);
const TOPIC: &str = "arn:aws:sns:us-east-1:123456789012:cm-topic-dev-mc";
/// The sample schedule event's time, 2026-11-23T20:00:00Z.
const EVENT_TIME: i64 = 1_795_464_000;
/// The instance launched two minutes before the sample event.
const LAUNCHED: i64 = EVENT_TIME - 120;
const MINUTE: i64 = 60;

fn vars(extra: &[(&str, &str)]) -> HashMap<String, String> {
    let mut map: HashMap<String, String> = [
        ("ASG_NAME", GROUP),
        ("GAME_PROTOCOL", "minecraft-java"),
        ("GAME_PORT", "25565"),
        ("METRIC_NAMESPACE", "ContainerManager"),
        ("METRIC_DIMENSIONS", r#"{"ContainerName":"cm-dev-mc"}"#),
        ("SNS_TOPIC_ARN", TOPIC),
        ("CONTAINER_NAME", "mc"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    for (k, v) in extra {
        if v.is_empty() {
            map.remove(*k);
        } else {
            map.insert(k.to_string(), v.to_string());
        }
    }
    map
}

fn config(extra: &[(&str, &str)]) -> Config {
    Config::from_env(Env::from_map(&vars(extra))).expect("valid configuration")
}

fn sample(path: &str) -> Value {
    let path = format!("{}/../../events/{path}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(&path).expect("sample event"))
        .expect("sample JSON")
}

fn schedule() -> Value {
    sample("presence-probe/schedule.json")
}

fn clock(secs: i64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(u64::try_from(secs).expect("after 1970"))
}

/// A group with one InService instance that has a public IPv4 and was launched at
/// [`LAUNCHED`]; its game server has not answered yet.
fn starting() -> FakeCloud {
    FakeCloud::with_group(GROUP, &[(INSTANCE, "InService")])
        .with_address(INSTANCE, IP)
        .with_launch(INSTANCE, LAUNCHED)
}

/// The same, its game server having answered before.
fn running() -> FakeCloud {
    starting().with_answered(INSTANCE, "2026-11-23T19:59:00Z")
}

/// One tick at the sample event's time.
async fn run(fake: &FakeCloud, extra: &[(&str, &str)]) -> Result<Outcome, cm_core::Error> {
    at(fake, extra, EVENT_TIME).await
}

/// One tick, the clock at `now`.
async fn at(fake: &FakeCloud, extra: &[(&str, &str)], now: i64) -> Result<Outcome, cm_core::Error> {
    handle(&config(extra), fake, &schedule(), clock(now)).await
}

thread_local! {
    /// The log lines this thread wrote since its last [`Logs::capture`].
    static LOG_LINES: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// Writes into this thread's [`LOG_LINES`].
struct ThreadWriter;

impl Write for ThreadWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        LOG_LINES.with(|lines| lines.borrow_mut().extend_from_slice(buf));
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The log lines of this thread (a `#[tokio::test]` runs on its own thread). One
/// global subscriber, installed once and never dropped: per-test scoped subscribers
/// coming and going on parallel threads can leave a callsite's cached interest
/// disabled, and a test would then see no line.
struct Logs;

impl Logs {
    fn capture() -> Logs {
        static INSTALL: Once = Once::new();
        INSTALL.call_once(|| {
            let subscriber = tracing_subscriber::fmt()
                .with_writer(|| ThreadWriter)
                .with_ansi(false)
                .finish();
            let _ = tracing::subscriber::set_global_default(subscriber);
        });
        LOG_LINES.with(|lines| lines.borrow_mut().clear());
        Logs
    }

    fn text(&self) -> String {
        LOG_LINES.with(|lines| String::from_utf8_lossy(&lines.borrow()).into_owned())
    }
}

fn put_players(n: u32) -> Action {
    Action::PutMetricData {
        namespace: "ContainerManager".into(),
        metric: "Players".into(),
        value: f64::from(n),
    }
}

#[tokio::test]
async fn each_answer_is_one_players_datapoint() {
    let fake = running();
    for n in [0, 1, 2] {
        fake.answer_players(n);
        let outcome = run(&fake, &[]).await.expect("success");
        assert_eq!(outcome.presence, Presence::Answered);
        assert_eq!(outcome.players, Some(n));
        assert_eq!(outcome.boot, Some(Boot::AnsweredBefore));
        assert_eq!(outcome.actions, vec![put_players(n)]);
    }
    let points = fake.datapoints();
    assert_eq!(
        points.iter().map(|p| p.value).collect::<Vec<_>>(),
        vec![0.0, 1.0, 2.0]
    );
    for p in &points {
        assert_eq!(
            (p.namespace.as_str(), p.name.as_str(), p.unit.as_str()),
            ("ContainerManager", "Players", "Count")
        );
        assert_eq!(p.dimensions["ContainerName"], "cm-dev-mc");
        assert_eq!(p.timestamp, EVENT_TIME);
    }
    assert_eq!(fake.recorder.count("PutMetricData"), 3);
    assert!(fake.messages().is_empty());
}

#[tokio::test]
async fn the_first_answer_since_the_launch_is_playable_once() {
    let fake = starting();
    fake.answer_players(0);
    let outcome = run(&fake, &[]).await.expect("success");
    assert_eq!(outcome.boot, Some(Boot::FirstAnswer));
    assert_eq!(outcome.seconds_to_playable, Some(120));
    assert_eq!(
        fake.recorder.calls(),
        vec![
            "DescribeAutoScalingGroups cm-asg-dev-mc".to_string(),
            "DescribeInstances i-0abc".to_string(),
            "CreateTags i-0abc cm:playable-at=2026-11-23T20:00:00Z".to_string(),
            "PutMetricData ContainerManager/Players=0,SecondsToPlayable=120".to_string(),
            format!("Publish {TOPIC}"),
        ]
    );
    assert_eq!(
        fake.answered_tag(INSTANCE).as_deref(),
        Some("2026-11-23T20:00:00Z")
    );
    let seconds = fake.datapoints_of("SecondsToPlayable");
    assert_eq!(seconds.len(), 1);
    assert_eq!(
        (seconds[0].value, seconds[0].unit.as_str()),
        (120.0, "Seconds")
    );
    assert_eq!(seconds[0].dimensions["ContainerName"], "cm-dev-mc");
    let messages = fake.messages();
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0].message, "mc is playable after 120 s");
    assert_eq!(messages[0].event_type, "playable");
    assert_eq!(outcome.summary(), "players: 0; playable after 120 s");

    // The next ticks only count.
    for n in [1, 0] {
        fake.answer_players(n);
        let outcome = at(&fake, &[], EVENT_TIME + MINUTE).await.expect("success");
        assert_eq!(outcome.boot, Some(Boot::AnsweredBefore));
        assert_eq!(outcome.seconds_to_playable, None);
        assert_eq!(outcome.actions, vec![put_players(n)]);
    }
    assert_eq!(fake.datapoints_of("SecondsToPlayable").len(), 1);
    assert_eq!(fake.messages().len(), 1);
    assert_eq!(fake.recorder.count("CreateTags"), 1);
}

#[tokio::test]
async fn without_a_topic_the_first_answer_is_marked_and_measured_but_not_told() {
    let fake = starting();
    fake.answer_players(1);
    let outcome = run(&fake, &[("SNS_TOPIC_ARN", "")]).await.expect("success");
    assert_eq!(outcome.seconds_to_playable, Some(120));
    assert_eq!(fake.recorder.count("Publish"), 0);
    assert_eq!(fake.recorder.count("CreateTags"), 1);
    assert_eq!(fake.datapoints_of("SecondsToPlayable").len(), 1);
}

#[tokio::test]
async fn the_tick_is_the_clock_unless_the_event_is_later() {
    // The clock ahead of the event (a late or retried delivery): the clock.
    let fake = running();
    fake.answer_players(1);
    at(&fake, &[], EVENT_TIME + 300).await.expect("success");
    // A tick played forward (its time ahead of the clock): the event's time.
    fake.answer_players(1);
    at(&fake, &[], EVENT_TIME - 3600).await.expect("success");
    let stamps: Vec<i64> = fake.datapoints().iter().map(|p| p.timestamp).collect();
    assert_eq!(stamps, vec![EVENT_TIME + 300, EVENT_TIME]);
}

#[tokio::test]
async fn the_instance_s_public_ipv4_is_probed_with_the_configuration() {
    let fake = running();
    fake.answer_players(1);
    let outcome = run(&fake, &[("PROBE_TIMEOUT_MS", "1500")])
        .await
        .expect("success");
    assert_eq!(outcome.target.as_deref(), Some("198.51.100.7:25565"));
    assert_eq!(outcome.instance_id.as_deref(), Some("i-0abc"));
    let probes = fake.probes();
    assert_eq!(probes.len(), 1);
    assert_eq!(
        (
            probes[0].protocol,
            probes[0].host.as_str(),
            probes[0].port,
            probes[0].timeout
        ),
        (
            GameProtocol::MinecraftJava,
            "198.51.100.7",
            25565,
            Duration::from_millis(1500)
        )
    );
    assert_eq!(
        fake.recorder.calls(),
        vec![
            "DescribeAutoScalingGroups cm-asg-dev-mc".to_string(),
            "DescribeInstances i-0abc".to_string(),
            "PutMetricData ContainerManager/Players=1".to_string(),
        ]
    );
}

#[tokio::test]
async fn game_host_is_probed_and_the_instance_still_read_for_its_launch() {
    let fake = FakeCloud::with_group(GROUP, &[(INSTANCE, "InService")])
        .with_launch(INSTANCE, LAUNCHED)
        .with_answered(INSTANCE, "2026-11-23T19:59:00Z");
    fake.answer_players(2);
    let outcome = run(
        &fake,
        &[
            ("GAME_HOST", "play.example.com"),
            ("GAME_PROTOCOL", "a2s"),
            ("GAME_PORT", "2457"),
        ],
    )
    .await
    .expect("success");
    assert_eq!(outcome.target.as_deref(), Some("play.example.com:2457"));
    assert_eq!(outcome.protocol, "a2s");
    assert_eq!(fake.recorder.count("DescribeInstances"), 1);
    assert_eq!(fake.probes()[0].protocol, GameProtocol::A2s);
    assert_eq!(fake.datapoints().len(), 1);
}

#[tokio::test]
async fn no_instance_in_service_means_no_probe_and_no_datapoint() {
    for (case, instances) in [
        ("group at 0", vec![]),
        ("only Pending", vec![("i-1", "Pending")]),
        ("only Standby", vec![("i-1", "Standby")]),
        (
            "Pending:Wait and Terminating",
            vec![("i-1", "Pending:Wait"), ("i-2", "Terminating")],
        ),
    ] {
        for host in [None, Some("203.0.113.9")] {
            let fake = FakeCloud::with_group(GROUP, &instances)
                .with_address("i-1", IP)
                .with_launch("i-1", LAUNCHED - 3600);
            fake.answer_players(3);
            let extra: Vec<(&str, &str)> = host.map(|h| ("GAME_HOST", h)).into_iter().collect();
            let outcome = run(&fake, &extra).await.expect("success");
            assert_eq!(outcome.presence, Presence::NotProbed, "{case} {host:?}");
            assert_eq!(outcome.boot, None, "{case} {host:?}");
            assert!(
                outcome
                    .note
                    .as_deref()
                    .unwrap_or_default()
                    .starts_with("no InService instance"),
                "{case}: {outcome:?}"
            );
            assert!(fake.probes().is_empty(), "{case} {host:?}");
            assert!(fake.datapoints().is_empty(), "{case} {host:?}");
            // One describe call, nothing else: the cost while the group is at 0.
            assert_eq!(
                fake.recorder.calls(),
                vec!["DescribeAutoScalingGroups cm-asg-dev-mc".to_string()],
                "{case} {host:?}"
            );
        }
    }
}

#[tokio::test]
async fn protocol_none_makes_no_call_no_probe_no_datapoint() {
    let fake = starting();
    fake.answer_players(3);
    let config = config(&[("GAME_PROTOCOL", "none"), ("GAME_PORT", "")]);
    let outcome = handle(&config, &fake, &schedule(), clock(LAUNCHED + 86_400))
        .await
        .expect("success");
    assert_eq!(outcome.protocol, "none");
    assert_eq!(outcome.presence, Presence::NotProbed);
    assert_eq!(outcome.note.as_deref(), Some("GAME_PROTOCOL is none"));
    assert!(fake.recorder.calls().is_empty());
    assert!(fake.probes().is_empty());
    assert!(fake.datapoints().is_empty());
}

#[tokio::test]
async fn no_answer_is_unknown_never_zero_and_the_invocation_succeeds() {
    let logs = Logs::capture();
    for fake in [starting(), running()] {
        // nothing scripted: the server stays silent
        let outcome = run(&fake, &[]).await.expect("success");
        assert_eq!(outcome.presence, Presence::Unknown);
        assert_eq!(outcome.players, None);
        assert_eq!(outcome.note.as_deref(), Some("no answer within 2000 ms"));
        assert!(outcome.actions.is_empty());
        assert!(fake.datapoints().is_empty());
        assert!(fake.recorder.writes().is_empty());
    }
    let text = logs.text();
    assert!(
        text.contains("players unknown: no answer within 2000 ms (booting)"),
        "{text}"
    );
    assert!(
        text.contains("players unknown: no answer within 2000 ms (answered-before)"),
        "{text}"
    );
    assert!(!text.contains("players: 0"), "{text}");
}

#[tokio::test]
async fn a_silent_server_within_its_grace_is_left_booting() {
    let fake = starting();
    for minute in [2, 5, 14] {
        let outcome = at(&fake, &[], LAUNCHED + minute * MINUTE)
            .await
            .expect("success");
        assert_eq!(outcome.boot, Some(Boot::Booting), "{minute}");
        assert_eq!(
            outcome.grace_left_seconds,
            Some((15 - minute) * MINUTE),
            "{minute}"
        );
    }
    assert!(fake.recorder.writes().is_empty());
    assert_eq!(fake.desired(GROUP), Some(1));
}

#[tokio::test]
async fn a_server_that_never_answered_within_its_grace_is_stopped_with_a_notice() {
    let fake = starting();
    let outcome = at(&fake, &[("BOOT_GRACE_MINUTES", "8")], LAUNCHED + 8 * MINUTE)
        .await
        .expect("success");
    assert_eq!(outcome.presence, Presence::Unknown);
    assert_eq!(outcome.boot, Some(Boot::Failed));
    assert_eq!(fake.desired(GROUP), Some(0));
    let message = "mc is being stopped: boot failed, no answer within 8 minutes of its start \
                   (last probe: no answer within 2000 ms).";
    assert_eq!(
        outcome.actions,
        vec![
            Action::UpdateAutoScalingGroup {
                group: GROUP.into(),
                desired_capacity: 0
            },
            Action::Publish {
                topic_arn: TOPIC.into(),
                event_type: "boot_failed".into(),
                subject: "mc failed to boot".into(),
                message: message.into(),
            }
        ]
    );
    assert_eq!(fake.messages()[0].message, message);
    assert!(fake.datapoints().is_empty());
    assert_eq!(
        outcome.summary(),
        "players unknown: no answer within 2000 ms; no answer within the boot grace: boot \
         failed, stopped"
    );

    // The next tick (the instance still InService while the group winds down): no
    // second stop, no second notice.
    let outcome = at(&fake, &[("BOOT_GRACE_MINUTES", "8")], LAUNCHED + 9 * MINUTE)
        .await
        .expect("success");
    assert_eq!(outcome.boot, Some(Boot::Stopping));
    assert_eq!(fake.recorder.count("UpdateAutoScalingGroup"), 1);
    assert_eq!(fake.recorder.count("Publish"), 1);
}

#[tokio::test]
async fn without_a_topic_a_failed_boot_is_stopped_silently() {
    let fake = starting();
    let outcome = at(&fake, &[("SNS_TOPIC_ARN", "")], LAUNCHED + 3600)
        .await
        .expect("success");
    assert_eq!(outcome.boot, Some(Boot::Failed));
    assert_eq!(
        fake.recorder.writes(),
        vec!["UpdateAutoScalingGroup cm-asg-dev-mc 0".to_string()]
    );
}

#[tokio::test]
async fn a_server_that_answered_once_is_never_stopped_by_the_probe() {
    let fake = running();
    for hours in [1, 6, 24] {
        let outcome = at(&fake, &[], LAUNCHED + hours * 3600)
            .await
            .expect("success");
        assert_eq!(outcome.boot, Some(Boot::AnsweredBefore));
    }
    assert!(fake.recorder.writes().is_empty());
    assert_eq!(fake.desired(GROUP), Some(1));
}

#[tokio::test]
async fn unreadable_answers_are_unknown_with_the_reason() {
    for (err, expected) in [
        (
            ProbeError::Malformed(DecodeError::VarIntTooLong),
            "malformed reply: a VarInt longer than 5 bytes",
        ),
        (
            ProbeError::Malformed(DecodeError::InvalidUtf8("the status JSON")),
            "malformed reply: the status JSON is not valid UTF-8",
        ),
        (
            ProbeError::Network {
                target: "198.51.100.7:25565".into(),
                message: "Connection refused (os error 111)".into(),
            },
            "198.51.100.7:25565: Connection refused (os error 111)",
        ),
    ] {
        let fake = running();
        fake.answer(Err(err));
        let outcome = run(&fake, &[]).await.expect("success");
        assert_eq!(outcome.presence, Presence::Unknown);
        assert_eq!(outcome.note.as_deref(), Some(expected));
        assert!(fake.datapoints().is_empty());
    }
}

#[tokio::test]
async fn the_log_line_says_the_count() {
    let logs = Logs::capture();
    let fake = running();
    fake.answer_players(2);
    run(&fake, &[]).await.expect("success");
    let text = logs.text();
    assert!(text.contains("players: 2"), "{text}");
    assert!(text.contains(r#""presence":"answered""#), "{text}");
}

#[tokio::test]
async fn a_failed_put_fails_the_invocation_and_names_it() {
    let fake = running();
    fake.recorder.fail("PutMetricData", 1);
    fake.answer_players(1);
    let err = run(&fake, &[]).await.expect_err("the put failed");
    let text = err.to_string();
    assert!(
        text.contains("PutMetricData ContainerManager/Players=1 failed"),
        "{text}"
    );
    assert_eq!(err.kind(), "AwsError");
    assert!(fake.datapoints().is_empty());
    // The next tick succeeds.
    fake.answer_players(1);
    run(&fake, &[]).await.expect("the next tick");
    assert_eq!(fake.datapoints().len(), 1);
}

#[tokio::test]
async fn a_failed_tag_writes_nothing_and_the_next_tick_tells_once() {
    let fake = starting();
    fake.recorder.fail("CreateTags", 1);
    fake.answer_players(0);
    let err = run(&fake, &[]).await.expect_err("the tag failed");
    assert!(
        err.to_string().contains("CreateTags i-0abc cm:playable-at"),
        "{err}"
    );
    assert!(fake.datapoints().is_empty());
    assert!(fake.messages().is_empty());
    fake.answer_players(0);
    let outcome = at(&fake, &[], EVENT_TIME + MINUTE)
        .await
        .expect("the next tick");
    assert_eq!(outcome.seconds_to_playable, Some(180));
    assert_eq!(fake.messages().len(), 1);
}

#[tokio::test]
async fn a_failed_message_names_what_was_done_and_is_not_repeated() {
    let fake = starting();
    fake.recorder.fail("Publish", 1);
    fake.answer_players(0);
    let text = run(&fake, &[])
        .await
        .expect_err("publish failed")
        .to_string();
    assert!(text.contains(&format!("Publish {TOPIC} failed")), "{text}");
    assert!(
        text.contains("PutMetricData ContainerManager/Players=0, PutMetricData"),
        "{text}"
    );
    // The tag was written first: the next tick counts, and tells nothing (at most
    // one "playable" message per launch).
    fake.answer_players(0);
    let outcome = at(&fake, &[], EVENT_TIME + MINUTE)
        .await
        .expect("the next tick");
    assert_eq!(outcome.boot, Some(Boot::AnsweredBefore));
    assert_eq!(fake.recorder.count("Publish"), 1);
}

#[tokio::test]
async fn a_failed_stop_names_it_and_the_next_tick_stops() {
    let fake = starting();
    fake.recorder.fail("UpdateAutoScalingGroup", 1);
    let text = at(&fake, &[], LAUNCHED + 3600)
        .await
        .expect_err("the stop failed")
        .to_string();
    assert!(
        text.contains("UpdateAutoScalingGroup cm-asg-dev-mc 0 failed"),
        "{text}"
    );
    assert!(text.contains("stopping a failed boot"), "{text}");
    assert_eq!(fake.desired(GROUP), Some(1));
    let outcome = at(&fake, &[], LAUNCHED + 3660)
        .await
        .expect("the next tick");
    assert_eq!(outcome.boot, Some(Boot::Failed));
    assert_eq!(fake.desired(GROUP), Some(0));
}

#[tokio::test]
async fn failed_reads_fail_the_invocation_before_any_probe() {
    for operation in ["DescribeAutoScalingGroups", "DescribeInstances"] {
        let fake = running();
        fake.recorder.fail(operation, 1);
        fake.answer_players(1);
        let err = run(&fake, &[]).await.expect_err(operation);
        assert!(err.to_string().contains(operation), "{err}");
        assert!(fake.probes().is_empty(), "{operation}");
        assert!(fake.recorder.writes().is_empty(), "{operation}");
    }
}

#[tokio::test]
async fn a_group_that_does_not_exist_is_an_error_naming_it() {
    let fake = FakeCloud::with_group("another-group", &[]);
    let text = run(&fake, &[]).await.expect_err("no group").to_string();
    assert!(
        text.contains("DescribeAutoScalingGroups cm-asg-dev-mc"),
        "{text}"
    );
    assert!(text.contains("no such Auto Scaling group"), "{text}");
}

#[tokio::test]
async fn an_instance_without_a_public_ipv4_is_an_error_unless_game_host_is_set() {
    let fake = FakeCloud::with_group(GROUP, &[(INSTANCE, "InService")])
        .with_launch(INSTANCE, LAUNCHED)
        .with_answered(INSTANCE, "2026-11-23T19:59:00Z");
    fake.answer_players(1);
    let text = run(&fake, &[]).await.expect_err("no address").to_string();
    assert!(
        text.contains("instance i-0abc has no public IPv4 address"),
        "{text}"
    );
    assert!(fake.probes().is_empty());
    let outcome = run(&fake, &[("GAME_HOST", "10.0.0.5")])
        .await
        .expect("with GAME_HOST");
    assert_eq!(outcome.players, Some(1));
}

#[tokio::test]
async fn the_first_in_service_instance_is_the_one_asked() {
    let fake = FakeCloud::with_group(GROUP, &[("i-old", "Terminating"), ("i-new", "InService")])
        .with_address("i-old", Ipv4Addr::new(203, 0, 113, 1))
        .with_address("i-new", IP)
        .with_launch("i-new", LAUNCHED);
    fake.answer_players(1);
    let outcome = run(&fake, &[]).await.expect("success");
    assert_eq!(outcome.instance_id.as_deref(), Some("i-new"));
    assert_eq!(fake.probes()[0].host, "198.51.100.7");
    assert!(fake.answered_tag("i-new").is_some());
    assert!(fake.answered_tag("i-old").is_none());
}

#[tokio::test]
async fn other_events_are_refused_before_any_call() {
    for event in [
        sample("asg/launch-successful.json"),
        sample("watchdog-scale-down/alarm-idle.json"),
        json!({}),
        json!({"detail-type": "Scheduled Event", "source": "my.app", "detail": {}}),
    ] {
        let fake = starting();
        fake.answer_players(1);
        let err = handle(&config(&[]), &fake, &event, clock(LAUNCHED + 3600))
            .await
            .expect_err("not a schedule");
        assert_eq!(err.kind(), "InvalidEvent", "{err}");
        assert!(fake.recorder.calls().is_empty());
        assert!(fake.probes().is_empty());
    }
}

#[tokio::test]
async fn the_outcome_serialises_with_the_fields_callers_read() {
    let fake = starting();
    fake.answer(Ok(ProbeAnswer {
        players: 2,
        max_players: Some(20),
    }));
    let outcome = run(&fake, &[]).await.expect("success");
    let doc = serde_json::to_value(&outcome).expect("serialises");
    assert_eq!(
        doc,
        json!({
            "protocol": "minecraft-java",
            "presence": "answered",
            "players": 2,
            "max_players": 20,
            "target": "198.51.100.7:25565",
            "instance_id": "i-0abc",
            "note": null,
            "rule": "arn:aws:events:us-east-1:123456789012:rule/cm-presence-dev-mc",
            "boot": "first-answer",
            "seconds_to_playable": 120,
            "grace_left_seconds": null,
            "actions": [
                {"call": "CreateTags", "instance_id": "i-0abc", "key": "cm:playable-at", "value": "2026-11-23T20:00:00Z"},
                {"call": "PutMetricData", "namespace": "ContainerManager", "metric": "Players", "value": 2.0},
                {"call": "PutMetricData", "namespace": "ContainerManager", "metric": "SecondsToPlayable", "value": 120.0},
                {"call": "Publish", "topic_arn": TOPIC, "event_type": "playable", "subject": "mc is playable", "message": "mc is playable after 120 s"},
            ],
        })
    );
    let silent = starting();
    let doc = serde_json::to_value(run(&silent, &[]).await.expect("success")).expect("json");
    assert_eq!(doc["presence"], "unknown");
    assert_eq!(doc["players"], Value::Null);
    assert_eq!(doc["boot"], "booting");
    assert_eq!(doc["grace_left_seconds"], 13 * 60);
}
