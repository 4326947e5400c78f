#![cfg(feature = "emulator")]
//! The trigger against the local AWS emulator, with real SDK clients: the handler
//! in-process, and the real binary behind a Lambda Runtime API server.

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_autoscaling::Client as AutoScaling;
use aws_sdk_cloudwatch::types::{Dimension, Statistic};
use aws_sdk_cloudwatch::Client as CloudWatch;
use cm_core::Env;
use cm_testkit::events::query_log_event;
use cm_testkit::function::Spec;
use cm_testkit::{asg, Emulator, Function, Outcome};
use dns_query_trigger::{handle, AwsCloud, Config};
use serde_json::{json, Value};

const GROUP: &str = "cm-asg-test-mc";
const NAME: &str = "mc.example.com";

fn vars(group: &str) -> HashMap<String, String> {
    [
        ("DOMAIN_NAME", NAME),
        ("ASG_NAME", group),
        ("METRIC_NAMESPACE", "ContainerManager"),
        ("METRIC_NAME", "DnsQueries"),
        (
            "METRIC_DIMENSIONS",
            r#"{"ContainerName":"mc","Environment":"test"}"#,
        ),
        ("METRIC_THRESHOLD", "20"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

fn config(group: &str) -> Config {
    let vars = vars(group);
    Config::from_env(Env::from_map(&vars)).expect("valid test configuration")
}

fn query_line(name: &str, kind: &str, i: usize) -> String {
    format!(
        "1.0 2026-11-23T20:{:02}:{:02}.000Z Z0123456789ABCDEFGHIJ {name} {kind} NOERROR UDP FRA6 192.0.2.{} -",
        (i / 60) % 60,
        i % 60,
        i % 250 + 1
    )
}

async fn create_group(autoscaling: &AutoScaling, name: &str, zone: &str) {
    asg::create_group(autoscaling, name, zone, 0)
        .await
        .expect("create the group");
}

async fn desired(autoscaling: &AutoScaling, name: &str) -> i32 {
    asg::desired(autoscaling, name).await
}

struct Setup {
    emulator: Emulator,
    autoscaling: AutoScaling,
    cloudwatch: CloudWatch,
    actions: AwsCloud,
}

async fn setup() -> Setup {
    let emulator = Emulator::start();
    let sdk = emulator.sdk_config().await;
    let autoscaling = AutoScaling::new(&sdk);
    create_group(&autoscaling, GROUP, "us-east-1a").await;
    emulator.reset_counts();
    Setup {
        actions: AwsCloud::new(&sdk, None),
        cloudwatch: CloudWatch::new(&sdk),
        autoscaling,
        emulator,
    }
}

fn writes(emulator: &Emulator) -> HashMap<String, u64> {
    emulator.writes()
}

#[tokio::test]
async fn a_matching_lookup_starts_the_group_and_keeps_the_alarm_quiet() {
    let s = setup().await;
    let lines = vec![
        query_line("_minecraft._tcp.mc.example.com", "SRV", 0),
        query_line("MC.example.com.", "A", 1),
    ];
    let summary = handle(
        &config(GROUP),
        &s.actions,
        &query_log_event("DATA_MESSAGE", &lines),
    )
    .await
    .expect("the trigger succeeds");
    assert_eq!((summary.lines_seen, summary.lines_matched), (2, 1));
    assert_eq!(summary.actions.len(), 2, "{:?}", summary.actions);
    assert_eq!(desired(&s.autoscaling, GROUP).await, 1);

    // The metric, read back through the RPCv2-CBOR bridge with the real SDK.
    let metrics = s
        .cloudwatch
        .list_metrics()
        .namespace("ContainerManager")
        .send()
        .await
        .expect("list metrics");
    let metric = &metrics.metrics()[0];
    assert_eq!(metric.metric_name(), Some("DnsQueries"));
    let mut dims: Vec<(String, String)> = metric
        .dimensions()
        .iter()
        .map(|d| {
            (
                d.name().unwrap_or("").into(),
                d.value().unwrap_or("").into(),
            )
        })
        .collect();
    dims.sort();
    assert_eq!(
        dims,
        vec![
            ("ContainerName".into(), "mc".into()),
            ("Environment".into(), "test".into())
        ]
    );
    let now = std::time::SystemTime::now();
    let stats = s
        .cloudwatch
        .get_metric_statistics()
        .namespace("ContainerManager")
        .metric_name("DnsQueries")
        .dimensions(
            Dimension::builder()
                .name("ContainerName")
                .value("mc")
                .build(),
        )
        .dimensions(
            Dimension::builder()
                .name("Environment")
                .value("test")
                .build(),
        )
        .start_time((now - Duration::from_secs(600)).into())
        .end_time((now + Duration::from_secs(600)).into())
        .period(60)
        .statistics(Statistic::Maximum)
        .send()
        .await
        .expect("metric statistics");
    let maxima: Vec<f64> = stats
        .datapoints()
        .iter()
        .filter_map(|p| p.maximum())
        .collect();
    assert_eq!(maxima, vec![21.0], "METRIC_THRESHOLD + 1");
}

#[tokio::test]
async fn a_thousand_line_batch_costs_one_update_and_one_put() {
    let s = setup().await;
    let lines: Vec<String> = (0..1000).map(|i| query_line(NAME, "A", i)).collect();
    let summary = handle(
        &config(GROUP),
        &s.actions,
        &query_log_event("DATA_MESSAGE", &lines),
    )
    .await
    .expect("the trigger succeeds");
    assert_eq!((summary.lines_seen, summary.lines_matched), (1000, 1000));
    assert_eq!(desired(&s.autoscaling, GROUP).await, 1);
    let calls = s.emulator.calls();
    assert_eq!(
        calls.get("autoscaling:UpdateAutoScalingGroup"),
        Some(&1),
        "{calls:?}"
    );
    assert_eq!(calls.get("monitoring:PutMetricData"), Some(&1), "{calls:?}");
    // The handler made exactly those two; the one Describe is this test's own check.
    assert_eq!(writes(&s.emulator).values().sum::<u64>(), 2, "{calls:?}");
}

#[tokio::test]
async fn batches_without_our_name_and_control_messages_change_nothing() {
    let s = setup().await;
    let cfg = config(GROUP);
    let other = vec![
        query_line("_minecraft._tcp.mc.example.com", "SRV", 0),
        query_line("www.mc.example.com", "A", 1),
        query_line(NAME, "AAAA", 2),
    ];
    let summary = handle(&cfg, &s.actions, &query_log_event("DATA_MESSAGE", &other))
        .await
        .unwrap();
    assert_eq!((summary.lines_seen, summary.lines_matched), (3, 0));
    assert!(summary.actions.is_empty());
    let control =
        vec!["CWL CONTROL MESSAGE: Checking health of destination Lambda function.".into()];
    let summary = handle(
        &cfg,
        &s.actions,
        &query_log_event("CONTROL_MESSAGE", &control),
    )
    .await
    .unwrap();
    assert_eq!(summary.message_type, "CONTROL_MESSAGE");
    assert!(summary.actions.is_empty());
    let empty = handle(&cfg, &s.actions, &query_log_event("DATA_MESSAGE", &[]))
        .await
        .unwrap();
    assert_eq!(empty.lines_seen, 0);
    assert!(s.emulator.calls().is_empty(), "{:?}", s.emulator.calls());
    assert_eq!(desired(&s.autoscaling, GROUP).await, 0);
}

#[tokio::test]
async fn malformed_payloads_fail_by_name_and_change_nothing() {
    let s = setup().await;
    let cfg = config(GROUP);
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
        let err = handle(&cfg, &s.actions, &event).await.unwrap_err();
        assert!(
            err.to_string().contains(expected),
            "{err} should say {expected}"
        );
        assert_eq!(err.kind(), "InvalidEvent");
    }
    assert!(s.emulator.calls().is_empty(), "{:?}", s.emulator.calls());
    assert_eq!(desired(&s.autoscaling, GROUP).await, 0);
}

#[tokio::test]
async fn an_aws_failure_is_reported_with_its_cause() {
    let s = setup().await;
    let lines = vec![query_line(NAME, "A", 0)];
    let err = handle(
        &config("cm-asg-test-missing"),
        &s.actions,
        &query_log_event("DATA_MESSAGE", &lines),
    )
    .await
    .unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("UpdateAutoScalingGroup cm-asg-test-missing failed"),
        "{text}"
    );
    assert!(
        text.contains("ValidationError"),
        "the service's error code is kept: {text}"
    );
}

#[tokio::test]
async fn asg_region_points_the_group_client_across_regions() {
    let s = setup().await;
    let sdk = s.emulator.sdk_config().await;
    let eu = aws_sdk_autoscaling::Client::from_conf(
        aws_sdk_autoscaling::config::Builder::from(&sdk)
            .region(aws_sdk_autoscaling::config::Region::new("eu-west-1"))
            .build(),
    );
    create_group(&eu, "cm-asg-test-eu", "eu-west-1a").await;
    let mut vars = vars("cm-asg-test-eu");
    vars.insert("ASG_REGION".into(), "eu-west-1".into());
    let cfg = Config::from_env(Env::from_map(&vars)).unwrap();
    let actions = AwsCloud::new(&sdk, cfg.asg_region.as_deref());
    handle(
        &cfg,
        &actions,
        &query_log_event("DATA_MESSAGE", &[query_line(NAME, "A", 0)]),
    )
    .await
    .expect("the trigger succeeds");
    assert_eq!(desired(&eu, "cm-asg-test-eu").await, 1);
    assert_eq!(
        desired(&s.autoscaling, GROUP).await,
        0,
        "the us-east-1 group is untouched"
    );
}

#[tokio::test]
async fn the_binary_runs_behind_the_runtime_api_with_the_standard_aws_environment() {
    let s = setup().await;
    let vars: Vec<(String, String)> = vars(GROUP).into_iter().collect();
    let function = Function::start(
        std::path::Path::new(env!("CARGO_BIN_EXE_dns-query-trigger")),
        &s.emulator,
        &vars,
    );
    let sample = |name: &str| cm_testkit::events::sample(&format!("dns-query-trigger/{name}"));
    let control = function.try_invoke(sample("control-message.json"));
    let bad = function.try_invoke(sample("malformed-gzip.json"));
    let other = function.try_invoke(sample("query-log-other-names.json"));
    let writes_before_match = writes(&s.emulator);
    let matched = function.try_invoke(sample("query-log-match.json"));
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
    assert!(writes_before_match.is_empty(), "{writes_before_match:?}");
    let matched = matched.expect("an answer to the matching event");
    let summary = matched.response().expect("a summary");
    assert_eq!(summary["lines_matched"], 1);
    assert_eq!(summary["actions"].as_array().map(Vec::len), Some(2));
    assert_eq!(desired(&s.autoscaling, GROUP).await, 1);
}

#[test]
fn the_binary_refuses_to_start_and_names_every_missing_variable() {
    let mut function = Spec::new("dns-query-trigger", env!("CARGO_BIN_EXE_dns-query-trigger"))
        .envs([
            ("METRIC_THRESHOLD".to_string(), "lots".to_string()),
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
        "ASG_NAME is not set",
        "METRIC_NAMESPACE is not set",
        "METRIC_NAME is not set",
        "METRIC_THRESHOLD must be a number",
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
