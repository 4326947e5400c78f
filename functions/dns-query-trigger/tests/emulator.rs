#![cfg(feature = "emulator")]
//! The router against the local AWS emulator, with real SDK clients: a hosted zone
//! whose registry (TXT records, `cm_core::registry`) holds containers in two regions,
//! their groups in those regions; the handler in-process, and the real binary behind
//! a Lambda Runtime API server.

use std::collections::HashMap;
use std::time::Duration;

use aws_config::SdkConfig;
use aws_sdk_autoscaling::Client as AutoScaling;
use aws_sdk_cloudwatch::types::{Dimension, Statistic};
use aws_sdk_cloudwatch::Client as CloudWatch;
use cm_core::aws::PerRegion;
use cm_core::registry::{self, Entry};
use cm_core::Env;
use cm_testkit::emulator::{create_zone, keep_alive_containers, put_txt};
use cm_testkit::events::{numbered_query_line, query_log_event};
use cm_testkit::function::Spec;
use cm_testkit::{asg, Emulator, Function, Outcome};
use dns_query_trigger::{handle, AwsCloud, Config, Router};
use serde_json::{json, Value};

const DOMAIN: &str = "example.com";
const US: &str = "us-east-1";
const EU: &str = "eu-west-1";

fn vars(zone: &str) -> HashMap<String, String> {
    [
        ("DOMAIN_NAME", DOMAIN),
        ("HOSTED_ZONE_ID", zone),
        ("METRIC_NAMESPACE", "ContainerManager"),
        ("METRIC_NAME", "DnsQueries"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

fn config(zone: &str) -> Config {
    let vars = vars(zone);
    Config::from_env(Env::from_map(&vars)).expect("valid test configuration")
}

fn entry(name: &str, region: &str) -> Entry {
    Entry {
        name: name.into(),
        region: region.into(),
        asg: group(name),
        metric: format!("cm-test-{name}"),
        threshold: 20.0,
    }
}

fn group(name: &str) -> String {
    format!("cm-asg-test-{name}")
}

/// A batch of lookups (type A) of `<label>.example.com` for each label.
fn lookups(labels: &[&str]) -> Value {
    let lines: Vec<String> = labels
        .iter()
        .enumerate()
        .map(|(i, l)| numbered_query_line(i, &format!("{l}.{DOMAIN}"), "A"))
        .collect();
    query_log_event("DATA_MESSAGE", &lines)
}

struct Setup {
    emulator: Emulator,
    sdk: SdkConfig,
    route53: aws_sdk_route53::Client,
    zone: String,
    autoscaling: PerRegion<AutoScaling>,
    cloudwatch: PerRegion<CloudWatch>,
}

impl Setup {
    async fn start() -> Setup {
        let emulator = Emulator::start();
        let sdk = emulator.sdk_config().await;
        let route53 = aws_sdk_route53::Client::new(&sdk);
        let zone = create_zone(&route53, DOMAIN, "0.0.0.0")
            .await
            .expect("the zone");
        Setup {
            autoscaling: PerRegion::new(&sdk, AutoScaling::new),
            cloudwatch: PerRegion::new(&sdk, CloudWatch::new),
            emulator,
            sdk,
            route53,
            zone,
        }
    }

    /// What a container's stack makes: its registry entry and its group (asleep).
    async fn container(&self, entry: &Entry) {
        self.register(entry).await;
        let region: &str = &entry.region;
        asg::create_group(
            &self.autoscaling.client(region),
            &entry.asg,
            &format!("{region}a"),
            0,
        )
        .await
        .expect("create the group");
    }

    async fn register(&self, entry: &Entry) {
        let name = registry::record_name(&entry.name, DOMAIN);
        put_txt(
            &self.route53,
            &self.zone,
            &name,
            &registry::format_value(entry),
        )
        .await
        .expect("the registry entry");
    }

    async fn desired(&self, region: &str, name: &str) -> i32 {
        asg::desired(&self.autoscaling.client(region), &group(name)).await
    }

    fn router(&self) -> Router<AwsCloud> {
        Router::new(AwsCloud::new(&self.sdk))
    }

    /// The `ContainerName` dimension of every keep-alive metric in `region`, sorted.
    async fn kept_alive(&self, region: &str) -> Vec<String> {
        keep_alive_containers(&self.cloudwatch.client(region))
            .await
            .expect("list metrics")
    }

    /// The largest keep-alive point of `container` in `region`.
    async fn keep_alive_max(&self, region: &str, container: &str) -> Vec<f64> {
        let now = std::time::SystemTime::now();
        let stats = self
            .cloudwatch
            .client(region)
            .get_metric_statistics()
            .namespace("ContainerManager")
            .metric_name("DnsQueries")
            .dimensions(
                Dimension::builder()
                    .name("ContainerName")
                    .value(container)
                    .build(),
            )
            .start_time((now - Duration::from_secs(600)).into())
            .end_time((now + Duration::from_secs(600)).into())
            .period(60)
            .statistics(Statistic::Maximum)
            .send()
            .await
            .expect("metric statistics");
        stats
            .datapoints()
            .iter()
            .filter_map(|p| p.maximum())
            .collect()
    }

    /// Calls of `service:Operation` since the last reset.
    fn count(&self, operation: &str) -> u64 {
        self.emulator.call_count(operation)
    }

    /// Pages of the registry listed (Route 53's REST `GET .../rrset`).
    fn listings(&self) -> u64 {
        self.emulator
            .calls()
            .iter()
            .filter(|(op, _)| op.starts_with("route53:GET") && op.ends_with("/rrset"))
            .map(|(_, n)| n)
            .sum()
    }
}

#[tokio::test]
async fn a_batch_scales_exactly_the_named_groups_in_their_regions_and_keeps_each_alive() {
    let s = Setup::start().await;
    for e in [
        entry("mc", US),
        entry("idle", US),
        entry("vh", EU),
        entry("pw", EU),
        entry("sleepy", EU),
    ] {
        s.container(&e).await;
    }
    put_txt(
        &s.route53,
        &s.zone,
        "bad._cm.example.com",
        "v=cm1 region=mars",
    )
    .await
    .expect("a bad entry");
    s.emulator.reset_counts();

    let mut lines = vec![
        numbered_query_line(0, "_minecraft._tcp.mc.example.com", "SRV"),
        numbered_query_line(1, "MC.example.com.", "A"),
        numbered_query_line(2, "vh.example.com", "A"),
        numbered_query_line(3, "pw.example.com", "A"),
        numbered_query_line(4, "old.example.com", "A"),
        numbered_query_line(5, "bad.example.com", "A"),
        numbered_query_line(6, "www.vh.example.com", "A"),
        numbered_query_line(7, "sleepy.example.com", "AAAA"),
    ];
    lines.push(numbered_query_line(8, "vh.example.com.", "A"));
    let outcome = handle(
        &config(&s.zone),
        &s.router(),
        &query_log_event("DATA_MESSAGE", &lines),
    )
    .await
    .expect("the router succeeds");
    assert_eq!((outcome.lines_seen, outcome.lines_matched), (9, 6));
    assert_eq!(outcome.unknown, vec!["bad", "old"]);
    assert!(outcome.gone.is_empty());

    for (region, name, want) in [
        (US, "mc", 1),
        (US, "idle", 0),
        (EU, "vh", 1),
        (EU, "pw", 1),
        (EU, "sleepy", 0),
    ] {
        assert_eq!(s.desired(region, name).await, want, "{name} in {region}");
    }
    assert_eq!(s.kept_alive(US).await, vec!["cm-test-mc"]);
    assert_eq!(s.kept_alive(EU).await, vec!["cm-test-pw", "cm-test-vh"]);
    assert_eq!(
        s.keep_alive_max(EU, "cm-test-vh").await,
        vec![21.0],
        "threshold + 1"
    );
    // One round per region: an update per group, one put per region; one listing.
    assert_eq!(s.count("autoscaling:UpdateAutoScalingGroup"), 3);
    assert_eq!(s.count("monitoring:PutMetricData"), 2);
    assert_eq!(s.listings(), 1, "{:?}", s.emulator.calls());
}

#[tokio::test]
async fn a_thousand_lines_naming_twenty_containers_cost_one_round_per_region() {
    let s = Setup::start().await;
    let names: Vec<String> = (0..20).map(|i| format!("game{i:02}")).collect();
    for (i, name) in names.iter().enumerate() {
        s.container(&entry(name, if i % 2 == 0 { US } else { EU }))
            .await;
    }
    s.emulator.reset_counts();
    let lines: Vec<String> = (0..1000)
        .map(|i| numbered_query_line(i, &format!("{}.{DOMAIN}", names[i % 20]), "A"))
        .collect();
    let event = query_log_event("DATA_MESSAGE", &lines);
    let (cfg, router) = (config(&s.zone), s.router());
    let outcome = handle(&cfg, &router, &event).await.expect("success");
    assert_eq!((outcome.lines_seen, outcome.lines_matched), (1000, 1000));
    assert_eq!(outcome.actions.len(), 40);
    assert_eq!(s.count("autoscaling:UpdateAutoScalingGroup"), 20);
    assert_eq!(s.count("monitoring:PutMetricData"), 2);
    assert_eq!(s.listings(), 1);
    for (i, name) in names.iter().enumerate() {
        let region = if i % 2 == 0 { US } else { EU };
        assert_eq!(s.desired(region, name).await, 1, "{name}");
    }
    assert_eq!(s.kept_alive(US).await.len(), 10);
    assert_eq!(s.kept_alive(EU).await.len(), 10);
    // Warm, within the TTL: the registry held, the same round again.
    s.emulator.reset_counts();
    handle(&cfg, &router, &event).await.expect("success");
    assert_eq!(s.count("autoscaling:UpdateAutoScalingGroup"), 20);
    assert_eq!(s.count("monitoring:PutMetricData"), 2);
    assert_eq!(s.listings(), 0);
}

#[tokio::test]
async fn a_group_already_gone_is_listed_and_is_no_error() {
    let s = Setup::start().await;
    s.container(&entry("mc", US)).await;
    // Registered, but its group is deleted already (its stack on its way out).
    s.register(&entry("ghost", EU)).await;
    let outcome = handle(&config(&s.zone), &s.router(), &lookups(&["ghost", "mc"]))
        .await
        .expect("a gone group is no error");
    assert_eq!(outcome.gone, vec![group("ghost")]);
    assert_eq!(s.desired(US, "mc").await, 1);
}

#[tokio::test]
async fn a_registry_that_cannot_be_read_fails_and_scales_nothing() {
    let s = Setup::start().await;
    s.container(&entry("mc", US)).await;
    s.emulator.reset_counts();
    let err = handle(
        &config("Z0000000000NOSUCHZONE"),
        &s.router(),
        &lookups(&["mc"]),
    )
    .await
    .expect_err("no such zone");
    let text = err.to_string();
    assert!(
        text.contains("ListResourceRecordSets Z0000000000NOSUCHZONE failed"),
        "{text}"
    );
    assert!(
        text.contains("NoSuchHostedZone"),
        "the cause is kept: {text}"
    );
    assert_eq!(s.desired(US, "mc").await, 0);
    assert!(s.emulator.writes().is_empty(), "{:?}", s.emulator.calls());
}

#[tokio::test]
async fn an_aws_failure_is_reported_with_its_cause_and_the_round_still_made() {
    let s = Setup::start().await;
    s.container(&entry("mc", US)).await;
    s.emulator
        .inject_fault("monitoring:PutMetricData", "throttle", 10);
    let err = handle(&config(&s.zone), &s.router(), &lookups(&["mc"]))
        .await
        .expect_err("the put failed");
    let text = err.to_string();
    assert!(
        text.contains("PutMetricData us-east-1 ContainerManager/DnsQueries"),
        "{text}"
    );
    assert!(text.contains("Throttling"), "{text}");
    assert_eq!(s.desired(US, "mc").await, 1, "the update went through");
}

#[tokio::test]
async fn malformed_payloads_fail_by_name_and_change_nothing() {
    let s = Setup::start().await;
    s.container(&entry("mc", US)).await;
    s.emulator.reset_counts();
    let (cfg, router) = (config(&s.zone), s.router());
    let cases = [
        (
            json!({"awslogs": {"data": "%%% not base64"}}),
            "not valid base64",
        ),
        (
            json!({"awslogs": {"data": "aGVsbG8gd29ybGQ="}}),
            "not valid gzip",
        ),
        (
            json!({"awslogs": {"data": "H4sIANWeBGsC/6tWykjNyclXslJQKs8vyklRqgUAIq6jhhIAAAA="}}),
            "not valid CloudWatch Logs JSON",
        ),
        (
            json!({"detail-type": "EC2 Instance Launch Successful"}),
            "no awslogs.data",
        ),
    ];
    for (event, expected) in cases {
        let err = handle(&cfg, &router, &event).await.unwrap_err();
        assert!(
            err.to_string().contains(expected),
            "{err} should say {expected}"
        );
        assert_eq!(err.kind(), "InvalidEvent");
    }
    assert!(s.emulator.calls().is_empty(), "{:?}", s.emulator.calls());
    assert_eq!(s.desired(US, "mc").await, 0);
}

#[tokio::test]
async fn the_binary_runs_behind_the_runtime_api_with_the_standard_aws_environment() {
    let s = Setup::start().await;
    s.container(&entry("mc", US)).await;
    s.container(&entry("vh", EU)).await;
    s.emulator.reset_counts();
    let vars: Vec<(String, String)> = vars(&s.zone).into_iter().collect();
    let function = Function::start(
        std::path::Path::new(env!("CARGO_BIN_EXE_dns-query-trigger")),
        &s.emulator,
        &vars,
    );
    let sample = |name: &str| cm_testkit::events::sample(&format!("dns-query-trigger/{name}"));
    let control = function.try_invoke(sample("control-message.json"));
    let bad = function.try_invoke(sample("malformed-gzip.json"));
    let other = function.try_invoke(sample("query-log-other-names.json"));
    let calls_before_match = s.emulator.calls();
    let several = function.try_invoke(sample("query-log-several.json"));
    drop(function);

    assert_eq!(
        control
            .as_ref()
            .and_then(Outcome::response)
            .map(|r| r["lines_matched"].clone()),
        Some(json!(0))
    );
    let bad = bad.expect("an answer to the malformed event");
    let error = bad.error().expect("the malformed event is an error");
    assert_eq!(error["errorType"], "InvalidEvent");
    assert!(
        error["errorMessage"]
            .as_str()
            .unwrap_or("")
            .contains("not valid gzip"),
        "{error}"
    );
    assert_eq!(
        other
            .as_ref()
            .and_then(Outcome::response)
            .map(|r| r["lines_seen"].clone()),
        Some(json!(3))
    );
    assert!(calls_before_match.is_empty(), "{calls_before_match:?}");
    let several = several.expect("an answer to the batch");
    let summary = several.response().expect("a summary");
    assert_eq!(summary["lines_matched"], 5);
    assert_eq!(summary["unknown"], json!(["old"]));
    assert_eq!(summary["actions"].as_array().map(Vec::len), Some(4));
    assert_eq!(s.desired(US, "mc").await, 1);
    assert_eq!(s.desired(EU, "vh").await, 1);
}

#[test]
fn the_binary_refuses_to_start_and_names_every_missing_variable() {
    let mut function = Spec::new("dns-query-trigger", env!("CARGO_BIN_EXE_dns-query-trigger"))
        .envs([
            ("REGISTRY_TTL_SECONDS".to_string(), "lots".to_string()),
            ("AWS_REGION".to_string(), "us-east-1".to_string()),
        ])
        .temp_log()
        .timeouts(Duration::from_secs(5), Duration::from_secs(30))
        .start()
        .expect("the process starts");
    let status = function.wait_for_exit().expect("the process ends");
    let output = function.log();
    assert!(!status.success());
    for expected in [
        "DOMAIN_NAME is not set",
        "HOSTED_ZONE_ID is not set",
        "METRIC_NAMESPACE is not set",
        "METRIC_NAME is not set",
        "REGISTRY_TTL_SECONDS must be",
    ] {
        assert!(
            output.contains(expected),
            "{expected} missing from: {output}"
        );
    }
    let init_error = function
        .init_error()
        .expect("the init error reaches Lambda");
    assert_eq!(init_error["errorType"], "ConfigError");
    assert!(
        init_error["errorMessage"]
            .as_str()
            .is_some_and(|m| m.contains("DOMAIN_NAME is not set")),
        "{init_error}"
    );
    let json_line = output
        .lines()
        .find(|l| l.starts_with('{'))
        .expect("a JSON log line");
    let doc: Value = serde_json::from_str(json_line).expect("the log line is JSON");
    assert_eq!(doc["level"], "ERROR");
}
