//! The fast tier: the whole handler (parse -> observe -> decide -> probe -> act) with
//! the in-memory [`FakeCloud`], whose game server answers whatever a test scripts,
//! on the real sample event. No AWS, no Python, no network.

use std::collections::HashMap;
use std::io::Write;
use std::net::Ipv4Addr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use cm_core::Env;
use presence_probe::fake::FakeCloud;
use presence_probe::protocol::{DecodeError, GameProtocol, ProbeAnswer, ProbeError};
use presence_probe::{handle, Action, Config, Outcome, Presence};
use serde_json::{json, Value};

const GROUP: &str = "cm-asg-dev-mc";
const IP: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 7);

fn vars(extra: &[(&str, &str)]) -> HashMap<String, String> {
    let mut map: HashMap<String, String> = [
        ("ASG_NAME", GROUP),
        ("GAME_PROTOCOL", "minecraft-java"),
        ("GAME_PORT", "25565"),
        ("METRIC_NAMESPACE", "ContainerManager"),
        ("METRIC_DIMENSIONS", r#"{"ContainerName":"cm-dev-mc"}"#),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    for (k, v) in extra {
        map.insert(k.to_string(), v.to_string());
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

/// A group with one InService instance that has a public IPv4.
fn running() -> FakeCloud {
    FakeCloud::with_group(GROUP, &[("i-0abc", "InService")]).with_address("i-0abc", IP)
}

async fn run(fake: &FakeCloud, extra: &[(&str, &str)]) -> Result<Outcome, cm_core::Error> {
    handle(&config(extra), fake, &schedule()).await
}

/// The log lines written while `f` runs (this thread's).
#[derive(Clone, Default)]
struct Logs(Arc<Mutex<Vec<u8>>>);

impl Write for Logs {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Logs {
    fn capture() -> (Logs, tracing::subscriber::DefaultGuard) {
        let logs = Logs::default();
        let writer = logs.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .finish();
        (logs, tracing::subscriber::set_default(subscriber))
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap_or_else(|p| p.into_inner())).into_owned()
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
        assert_eq!(
            outcome.actions,
            vec![Action::PutMetricData {
                namespace: "ContainerManager".into(),
                metric: "Players".into(),
                value: f64::from(n),
            }]
        );
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
    }
    assert_eq!(fake.recorder.count("PutMetricData"), 3);
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
async fn game_host_is_probed_without_reading_the_instance() {
    let fake = FakeCloud::with_group(GROUP, &[("i-0abc", "InService")]);
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
    assert_eq!(fake.recorder.count("DescribeInstances"), 0);
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
            let fake = FakeCloud::with_group(GROUP, &instances).with_address("i-1", IP);
            fake.answer_players(3);
            let extra: Vec<(&str, &str)> = host.map(|h| ("GAME_HOST", h)).into_iter().collect();
            let outcome = run(&fake, &extra).await.expect("success");
            assert_eq!(outcome.presence, Presence::NotProbed, "{case} {host:?}");
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
    let fake = running();
    fake.answer_players(3);
    let mut map = vars(&[]);
    map.insert("GAME_PROTOCOL".into(), "none".into());
    map.remove("GAME_PORT");
    let config = Config::from_env(Env::from_map(&map)).expect("valid");
    let outcome = handle(&config, &fake, &schedule()).await.expect("success");
    assert_eq!(outcome.protocol, "none");
    assert_eq!(outcome.presence, Presence::NotProbed);
    assert_eq!(outcome.note.as_deref(), Some("GAME_PROTOCOL is none"));
    assert!(fake.recorder.calls().is_empty());
    assert!(fake.probes().is_empty());
    assert!(fake.datapoints().is_empty());
}

#[tokio::test]
async fn no_answer_is_unknown_never_zero_and_the_invocation_succeeds() {
    let (logs, _guard) = Logs::capture();
    let fake = running(); // nothing scripted: the server stays silent
    let outcome = run(&fake, &[]).await.expect("success");
    assert_eq!(outcome.presence, Presence::Unknown);
    assert_eq!(outcome.players, None);
    assert_eq!(outcome.note.as_deref(), Some("no answer within 2000 ms"));
    assert!(outcome.actions.is_empty());
    assert!(fake.datapoints().is_empty());
    assert!(fake.recorder.writes().is_empty());
    let text = logs.text();
    assert!(
        text.contains("players unknown: no answer within 2000 ms"),
        "{text}"
    );
    assert!(!text.contains("players: 0"), "{text}");
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
    let (logs, _guard) = Logs::capture();
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
    let fake = FakeCloud::with_group(GROUP, &[("i-0abc", "InService")]);
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
        .with_address("i-new", IP);
    fake.answer_players(1);
    let outcome = run(&fake, &[]).await.expect("success");
    assert_eq!(outcome.instance_id.as_deref(), Some("i-new"));
    assert_eq!(fake.probes()[0].host, "198.51.100.7");
}

#[tokio::test]
async fn other_events_are_refused_before_any_call() {
    for event in [
        sample("asg/launch-successful.json"),
        sample("watchdog-scale-down/alarm-idle.json"),
        json!({}),
        json!({"detail-type": "Scheduled Event", "source": "my.app", "detail": {}}),
    ] {
        let fake = running();
        fake.answer_players(1);
        let err = handle(&config(&[]), &fake, &event)
            .await
            .expect_err("not a schedule");
        assert_eq!(err.kind(), "InvalidEvent", "{err}");
        assert!(fake.recorder.calls().is_empty());
        assert!(fake.probes().is_empty());
    }
}

#[tokio::test]
async fn the_outcome_serialises_with_the_fields_callers_read() {
    let fake = running();
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
            "actions": [{"call": "PutMetricData", "namespace": "ContainerManager", "metric": "Players", "value": 2.0}],
        })
    );
    let silent = running();
    let doc = serde_json::to_value(run(&silent, &[]).await.expect("success")).expect("json");
    assert_eq!(doc["presence"], "unknown");
    assert_eq!(doc["players"], Value::Null);
}
