//! The fast tier: the whole handler (parse -> decide -> act) with the in-memory
//! [`FakeCloud`], on the real sample events and every bad input the emulator tier
//! tries. No AWS, no Python, no network.

use cm_testkit::env_json::function_env;
use cm_testkit::events::{awslogs_event, gzip, query_line, query_log_event};
use dns_query_trigger::fake::FakeCloud;
use dns_query_trigger::{handle, Action, Config, Outcome};
use serde_json::{json, Value};

const GROUP: &str = "cm-asg-dev-mc";
const NAME: &str = "mc.example.com";

/// The function's entry of events/env.json, with `changes` applied.
fn config_with(changes: &[(&str, Option<&str>)]) -> Config {
    Config::from_env(function_env("DnsQueryTriggerFunction", changes)).expect("valid configuration")
}

fn config() -> Config {
    config_with(&[])
}

/// The sample event `events/dns-query-trigger/<name>`.
fn sample(name: &str) -> Value {
    cm_testkit::events::sample(&format!("dns-query-trigger/{name}"))
}

async fn run(fake: &FakeCloud, event: &Value) -> Result<Outcome, cm_core::Error> {
    handle(&config(), fake, event).await
}

#[tokio::test]
async fn the_matching_sample_starts_the_group_and_puts_one_keep_alive_point() {
    let fake = FakeCloud::with_group(GROUP, 0);
    let outcome = run(&fake, &sample("query-log-match.json"))
        .await
        .expect("success");
    assert_eq!(outcome.lines_matched, 1);
    assert_eq!(fake.desired(GROUP), Some(1));
    let points = fake.datapoints();
    assert_eq!(points.len(), 1);
    assert_eq!(
        (
            points[0].namespace.as_str(),
            points[0].name.as_str(),
            points[0].value
        ),
        ("ContainerManager", "DnsQueries", 2501.0)
    );
    assert_eq!(points[0].dimensions["ContainerName"], "cm-dev-mc");
    assert_eq!(points[0].unit, "Count");
    assert_eq!(
        outcome.actions,
        vec![
            Action::UpdateAutoScalingGroup {
                group: GROUP.into(),
                desired_capacity: 1
            },
            Action::PutMetricData {
                namespace: "ContainerManager".into(),
                metric: "DnsQueries".into(),
                value: 2501.0
            },
        ]
    );
}

#[tokio::test]
async fn the_outcome_serialises_with_the_fields_callers_read() {
    let fake = FakeCloud::with_group(GROUP, 0);
    let outcome = run(&fake, &sample("query-log-match.json"))
        .await
        .expect("success");
    let doc = serde_json::to_value(&outcome).expect("serialises");
    assert_eq!(doc["lines_matched"], 1);
    assert_eq!(doc["message_type"], "DATA_MESSAGE");
    assert_eq!(doc["actions"][0]["call"], "UpdateAutoScalingGroup");
    assert_eq!(doc["actions"][1]["call"], "PutMetricData");
}

#[tokio::test]
async fn samples_without_the_name_change_nothing() {
    for (sample_name, seen) in [
        ("query-log-other-names.json", 3),
        ("aws-sample-no-match.json", 2),
        ("control-message.json", 0),
    ] {
        let fake = FakeCloud::with_group(GROUP, 0);
        let outcome = run(&fake, &sample(sample_name)).await.expect("success");
        assert_eq!(
            (outcome.lines_seen, outcome.lines_matched),
            (seen, 0),
            "{sample_name}"
        );
        assert!(outcome.actions.is_empty(), "{sample_name}");
        assert!(fake.recorder.calls().is_empty(), "{sample_name}");
        assert_eq!(fake.desired(GROUP), Some(0));
    }
}

#[tokio::test]
async fn a_thousand_matching_lines_cost_one_update_and_one_put() {
    let fake = FakeCloud::with_group(GROUP, 0);
    let lines: Vec<String> = (0..1000).map(|_| query_line(NAME, "A")).collect();
    let outcome = run(&fake, &query_log_event("DATA_MESSAGE", &lines))
        .await
        .expect("success");
    assert_eq!(outcome.lines_matched, 1000);
    assert_eq!(fake.recorder.count("UpdateAutoScalingGroup"), 1);
    assert_eq!(fake.recorder.count("PutMetricData"), 1);
}

#[tokio::test]
async fn a_running_group_stays_at_one_and_is_kept_alive() {
    let fake = FakeCloud::with_group(GROUP, 1);
    run(
        &fake,
        &query_log_event("DATA_MESSAGE", &[query_line(NAME, "A")]),
    )
    .await
    .expect("success");
    assert_eq!(fake.desired(GROUP), Some(1));
    assert_eq!(fake.datapoints().len(), 1);
}

#[tokio::test]
async fn the_same_delivery_twice_scales_to_one_twice_and_stays_at_one() {
    let fake = FakeCloud::with_group(GROUP, 0);
    let event = sample("query-log-match.json");
    run(&fake, &event).await.expect("first");
    run(&fake, &event).await.expect("second");
    assert_eq!(fake.desired(GROUP), Some(1));
    assert_eq!(fake.recorder.count("UpdateAutoScalingGroup"), 2);
}

#[tokio::test]
async fn bad_payloads_are_named_and_change_nothing() {
    let bomb = awslogs_event(&gzip(&vec![b' '; 65 * 1024 * 1024]));
    let cases: Vec<(&str, Value, &str)> = vec![
        (
            "sample with a broken gzip",
            sample("malformed-gzip.json"),
            "not valid gzip",
        ),
        (
            "bad base64",
            json!({"awslogs": {"data": "%%% not base64 %%%"}}),
            "not valid base64",
        ),
        (
            "bad gzip",
            awslogs_event(b"plain text, not gzip"),
            "not valid gzip",
        ),
        (
            "bad JSON",
            awslogs_event(&gzip(b"{\"messageType\": ")),
            "not valid CloudWatch Logs JSON",
        ),
        (
            "an SNS event",
            json!({"Records": [{"EventSource": "aws:sns"}]}),
            "no awslogs.data",
        ),
        (
            "data not a string",
            json!({"awslogs": {"data": 42}}),
            "awslogs.data is not a string",
        ),
        ("not an object", json!("hello"), "no awslogs.data"),
        ("gzip bomb", bomb, "decompresses to more than"),
    ];
    for (case, event, expected) in cases {
        let fake = FakeCloud::with_group(GROUP, 0);
        let err = run(&fake, &event).await.expect_err(case);
        assert_eq!(err.kind(), "InvalidEvent", "{case}");
        assert!(err.to_string().contains(expected), "{case}: {err}");
        assert!(fake.recorder.calls().is_empty(), "{case}");
    }
}

#[tokio::test]
async fn other_types_sub_names_and_a_huge_foreign_batch_do_nothing() {
    let fake = FakeCloud::with_group(GROUP, 0);
    let lines = [
        query_line(NAME, "AAAA"),
        query_line(&format!("_minecraft._tcp.{NAME}"), "SRV"),
        query_line(&format!("www.{NAME}"), "A"),
        query_line(&format!("{NAME}.evil.example"), "A"),
    ];
    let outcome = run(&fake, &query_log_event("DATA_MESSAGE", &lines))
        .await
        .expect("success");
    assert_eq!((outcome.lines_seen, outcome.lines_matched), (4, 0));
    let many: Vec<String> = (0..20_000)
        .map(|i| query_line(&format!("host{i}.example.com"), "A"))
        .collect();
    let outcome = run(&fake, &query_log_event("DATA_MESSAGE", &many))
        .await
        .expect("success");
    assert_eq!(outcome.lines_seen, 20_000);
    assert!(fake.recorder.calls().is_empty());
}

#[tokio::test]
async fn a_control_message_naming_the_container_still_does_nothing() {
    let fake = FakeCloud::with_group(GROUP, 0);
    let outcome = run(
        &fake,
        &query_log_event("CONTROL_MESSAGE", &[query_line(NAME, "A")]),
    )
    .await
    .expect("success");
    assert_eq!(outcome.lines_matched, 0);
    assert!(fake.recorder.calls().is_empty());
}

#[tokio::test]
async fn a_failed_scale_fails_the_invocation_and_names_the_operation() {
    let fake = FakeCloud::with_group(GROUP, 0);
    fake.recorder.fail("UpdateAutoScalingGroup", 1);
    let err = run(&fake, &sample("query-log-match.json"))
        .await
        .expect_err("the scale failed");
    let text = err.to_string();
    assert!(
        text.contains("UpdateAutoScalingGroup cm-asg-dev-mc DesiredCapacity=1 failed"),
        "{text}"
    );
    assert!(text.contains("Throttling"), "{text}");
    assert_eq!(err.kind(), "AwsError");
    // Both calls were made in the one concurrent round: the metric still went out.
    assert_eq!(fake.datapoints().len(), 1);
    // The retry that Lambda makes then succeeds.
    run(&fake, &sample("query-log-match.json"))
        .await
        .expect("the retry succeeds");
    assert_eq!(fake.desired(GROUP), Some(1));
}

#[tokio::test]
async fn both_calls_failing_are_reported_together() {
    let fake = FakeCloud::with_group(GROUP, 0);
    fake.recorder.fail("UpdateAutoScalingGroup", 1);
    fake.recorder.fail("PutMetricData", 1);
    let text = run(&fake, &sample("query-log-match.json"))
        .await
        .expect_err("both failed")
        .to_string();
    assert!(
        text.starts_with("UpdateAutoScalingGroup and PutMetricData failed"),
        "{text}"
    );
    assert!(
        text.contains("PutMetricData ContainerManager/DnsQueries"),
        "{text}"
    );
}

#[tokio::test]
async fn a_group_that_does_not_exist_is_an_error_naming_it() {
    let fake = FakeCloud::with_group("another-group", 0);
    let text = run(&fake, &sample("query-log-match.json"))
        .await
        .expect_err("no such group")
        .to_string();
    assert!(
        text.contains("UpdateAutoScalingGroup cm-asg-dev-mc"),
        "{text}"
    );
    assert!(text.contains("ValidationError"), "{text}");
}

#[tokio::test]
async fn the_record_type_and_domain_come_from_the_configuration() {
    let config = config_with(&[
        ("RECORD_TYPE", Some("aaaa")),
        ("DOMAIN_NAME", Some("VH.Example.com.")),
    ]);
    let fake = FakeCloud::with_group(GROUP, 0);
    let lines = [query_line(NAME, "A"), query_line("vh.example.com", "AAAA")];
    let outcome = handle(&config, &fake, &query_log_event("DATA_MESSAGE", &lines))
        .await
        .expect("success");
    assert_eq!(outcome.lines_matched, 1);
    assert_eq!(fake.desired(GROUP), Some(1));
}
