#![cfg(feature = "emulator")]
//! The probe against real game servers, everything on 127.0.0.1:
//!
//! - a real Minecraft Java server, flying-squid, with real clients (mineflayer bots)
//!   joining and leaving: the probe reads 0, 1, 2, 1, 0, and so does gamedig, the
//!   independent reader (all from `tests/fixtures/game-servers`, installed with
//!   `npm ci` on first use; needs Node and npm);
//! - the Bedrock and A2S responders of `tests/common` (written from the
//!   specifications, challenge round included) read by gamedig and by the probe;
//! - the real binary behind a Lambda Runtime API server, against the local AWS
//!   emulator (needs its Python virtualenv) and the flying-squid server: the
//!   `Players` data points it puts, and an unknown count (no data point) once the
//!   server is gone.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use aws_sdk_autoscaling::Client as AutoScaling;
use aws_sdk_cloudwatch::types::{Dimension, Statistic};
use aws_sdk_cloudwatch::Client as CloudWatch;
use cm_testkit::game_servers::{self, Bots, MinecraftServer};
use cm_testkit::{Emulator, Function};
use common::Counts;
use presence_probe::protocol::{probe, GameProtocol};
use presence_probe::{AwsCloud, Cloud};
use serde_json::Value;

const GROUP: &str = "cm-asg-test-mc";
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);
/// How long a count may take to settle after a bot joined or left.
const SETTLE: Duration = Duration::from_secs(20);

/// A flying-squid server on a free port of 127.0.0.1.
fn minecraft_server() -> MinecraftServer {
    MinecraftServer::start().unwrap_or_else(|e| panic!("{e}"))
}

fn bots(port: u16) -> Bots {
    Bots::start(port).unwrap_or_else(|e| panic!("{e}"))
}

/// What gamedig reads: `{"numplayers", "maxplayers", "bots"}`.
fn gamedig(protocol: &str, port: u16) -> Value {
    game_servers::gamedig(protocol, port).unwrap_or_else(|e| panic!("{e}"))
}

/// gamedig's count of people: its players minus its bots.
fn gamedig_people(protocol: &str, port: u16) -> Option<u64> {
    let doc = gamedig(protocol, port);
    let players = doc["numplayers"].as_u64()?;
    Some(players.saturating_sub(doc["bots"].as_u64().unwrap_or(0)))
}

async fn probe_count(protocol: GameProtocol, port: u16) -> Option<u64> {
    probe(protocol, "127.0.0.1", port, PROBE_TIMEOUT)
        .await
        .ok()
        .map(|a| u64::from(a.players))
}

/// Waits until both the probe and gamedig read `expected`; panics with the last
/// readings otherwise.
async fn both_read(protocol: GameProtocol, gamedig_protocol: &str, port: u16, expected: u64) {
    let deadline = Instant::now() + SETTLE;
    loop {
        let ours = probe_count(protocol, port).await;
        let theirs = gamedig_people(gamedig_protocol, port);
        if ours == Some(expected) && theirs == Some(expected) {
            eprintln!("{gamedig_protocol} on {port}: probe {expected}, gamedig {expected}");
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{gamedig_protocol}: expected {expected}, the probe read {ours:?}, gamedig {theirs:?}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

#[tokio::test]
async fn a_real_minecraft_server_with_real_players_reads_the_same_as_gamedig() {
    let server = minecraft_server();
    let port = server.port;
    let mut bots = bots(port);
    let java = GameProtocol::MinecraftJava;
    both_read(java, "minecraft-java", port, 0).await;
    assert_eq!(bots.join(), Ok(1));
    both_read(java, "minecraft-java", port, 1).await;
    assert_eq!(bots.join(), Ok(2));
    both_read(java, "minecraft-java", port, 2).await;
    assert_eq!(bots.leave(), Ok(1));
    both_read(java, "minecraft-java", port, 1).await;
    assert_eq!(bots.leave(), Ok(0));
    both_read(java, "minecraft-java", port, 0).await;
}

#[tokio::test]
async fn the_bedrock_responder_reads_the_same_as_gamedig() {
    let counts = Counts::new(0, 10, 0);
    let server = common::bedrock_server(counts.clone());
    for n in [0, 1, 2] {
        counts.set(n, 0);
        both_read(
            GameProtocol::MinecraftBedrock,
            "minecraft-bedrock",
            server.port,
            u64::from(n),
        )
        .await;
    }
    let doc = gamedig("minecraft-bedrock", server.port);
    assert_eq!(doc["maxplayers"], 10, "{doc}");
}

#[tokio::test]
async fn the_a2s_responder_with_its_challenge_reads_the_same_as_gamedig() {
    let counts = Counts::new(0, 10, 0);
    let server = common::a2s_server(counts.clone());
    for (players, bots, people) in [(0, 0, 0), (1, 0, 1), (2, 0, 2), (3, 1, 2)] {
        counts.set(players, bots);
        both_read(GameProtocol::A2s, "a2s", server.port, people).await;
    }
    let doc = gamedig("a2s", server.port);
    assert_eq!(
        (doc["numplayers"].as_u64(), doc["bots"].as_u64()),
        (Some(3), Some(1)),
        "{doc}"
    );
    // gamedig went through the challenge round too: an A2S_INFO with the challenge
    // appended reached the responder.
    let mut with_challenge = vec![0xff, 0xff, 0xff, 0xff, 0x54];
    with_challenge.extend_from_slice(b"Source Engine Query\0");
    with_challenge.extend_from_slice(&common::A2S_CHALLENGE);
    assert!(server.requests().contains(&with_challenge));
}

async fn players_points(cloudwatch: &CloudWatch) -> (f64, f64) {
    let now = std::time::SystemTime::now();
    let stats = cloudwatch
        .get_metric_statistics()
        .namespace("ContainerManager")
        .metric_name("Players")
        .dimensions(
            Dimension::builder()
                .name("ContainerName")
                .value("mc")
                .build(),
        )
        .start_time((now - Duration::from_secs(600)).into())
        .end_time((now + Duration::from_secs(600)).into())
        .period(3600)
        .statistics(Statistic::Maximum)
        .statistics(Statistic::SampleCount)
        .send()
        .await
        .expect("metric statistics");
    stats.datapoints().iter().fold((0.0, 0.0), |(max, n), p| {
        (
            max.max(p.maximum().unwrap_or(0.0)),
            n + p.sample_count().unwrap_or(0.0),
        )
    })
}

#[tokio::test]
async fn the_binary_puts_what_the_real_server_says_and_nothing_once_it_is_gone() {
    let server = minecraft_server();
    let port = server.port;
    let emulator = Emulator::start();
    let sdk = emulator.sdk_config().await;
    let autoscaling = AutoScaling::new(&sdk);
    let cloudwatch = CloudWatch::new(&sdk);
    cm_testkit::asg::create_group(&autoscaling, GROUP, "us-east-1a", 1)
        .await
        .expect("create the group");

    // The real AwsCloud reads the group and the instance's address, launch time
    // and (once it answered) its first-answer tag.
    let cloud = AwsCloud::new(&sdk);
    let group = cloud.group(GROUP).await.expect("describe");
    assert_eq!(group.desired_capacity, 1);
    let instance = presence_probe::decide::serving_instance(&group.instances)
        .expect("an InService instance")
        .to_string();
    let facts = cloud.instance(&instance).await.expect("describe instances");
    assert_eq!(
        facts
            .public_ipv4
            .map(|ip| ip.to_string())
            .unwrap_or_default(),
        cm_testkit::emulator::public_ip(&aws_sdk_ec2_client(&sdk), &instance).await
    );
    assert!(facts.launched_at.is_some(), "{facts:?}");
    assert_eq!(facts.answered, None);

    let env: Vec<(String, String)> = [
        ("ASG_NAME", GROUP),
        ("GAME_PROTOCOL", "minecraft-java"),
        ("GAME_PORT", &port.to_string()),
        ("GAME_HOST", "127.0.0.1"),
        ("METRIC_NAMESPACE", "ContainerManager"),
        ("METRIC_DIMENSIONS", r#"{"ContainerName":"mc"}"#),
        ("PROBE_TIMEOUT_MS", "2000"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let function = Function::start(
        Path::new(env!("CARGO_BIN_EXE_presence-probe")),
        &emulator,
        &env,
    );
    let schedule: Value =
        serde_json::from_str(include_str!("../../../events/presence-probe/schedule.json"))
            .expect("the sample event");
    let tick = || {
        let outcome = function.invoke(schedule.clone());
        outcome
            .response()
            .cloned()
            .unwrap_or_else(|| panic!("the probe failed: {outcome:?}"))
    };

    let first = tick();
    assert_eq!(first["presence"], "answered", "{first}");
    assert_eq!(first["players"], 0, "{first}");
    assert_eq!(first["instance_id"], instance.as_str(), "{first}");
    assert_eq!(first["boot"], "first-answer", "{first}");
    let tagged = cloud.instance(&instance).await.expect("describe instances");
    assert!(tagged.answered.is_some(), "{tagged:?}");

    let mut bots = bots(port);
    assert_eq!(bots.join(), Ok(1));
    let deadline = Instant::now() + SETTLE;
    let mut ticks = 1;
    loop {
        let doc = tick();
        ticks += 1;
        if doc["players"] == 1 {
            break;
        }
        assert!(Instant::now() < deadline, "still {doc}");
        std::thread::sleep(Duration::from_millis(500));
    }
    assert_eq!(players_points(&cloudwatch).await, (1.0, f64::from(ticks)));

    // The server gone: unknown, no data point, and the invocation succeeds.
    drop(bots);
    drop(server);
    let gone = tick();
    assert_eq!(gone["presence"], "unknown", "{gone}");
    assert_eq!(gone["players"], Value::Null, "{gone}");
    assert!(
        gone["actions"].as_array().is_some_and(Vec::is_empty),
        "{gone}"
    );
    assert_eq!(players_points(&cloudwatch).await.1, f64::from(ticks));
    assert!(
        function.log().contains("players unknown"),
        "{}",
        function.log()
    );

    // The group at 0: nothing asked, nothing put.
    autoscaling
        .update_auto_scaling_group()
        .auto_scaling_group_name(GROUP)
        .min_size(0)
        .desired_capacity(0)
        .send()
        .await
        .expect("scale to 0");
    let idle = tick();
    assert_eq!(idle["presence"], "not-probed", "{idle}");
    assert_eq!(players_points(&cloudwatch).await.1, f64::from(ticks));
}

fn aws_sdk_ec2_client(sdk: &aws_config::SdkConfig) -> aws_sdk_ec2::Client {
    aws_sdk_ec2::Client::new(sdk)
}
