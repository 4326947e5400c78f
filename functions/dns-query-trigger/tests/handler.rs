//! The fast tier: the whole handler (parse -> registry -> decide -> act) with the
//! in-memory [`FakeCloud`] and a clock moved by hand, on the real sample events and
//! every bad input the emulator tier tries. No AWS, no Python, no network.

use std::time::Duration;

use cm_core::testing::registry_entry as entry;
use cm_testkit::env_json::function_env;
use cm_testkit::events::{awslogs_event, gzip, query_line, query_log_event};
use dns_query_trigger::fake::{FakeCloud, ManualClock};
use dns_query_trigger::{handle, Action, Config, Outcome, Router};
use serde_json::{json, Value};

const DOMAIN: &str = "example.com";
const ZONE: &str = "Z0123456789ABCDEFGHIJ";
const US: &str = "us-east-1";
const EU: &str = "eu-west-1";

type Fake = Router<FakeCloud, ManualClock>;

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

fn group(name: &str) -> String {
    format!("cm-asg-dev-{name}")
}

/// A router whose registry holds `mc` (us-east-1) and `vh` (eu-west-1), both asleep.
fn two_regions() -> Fake {
    let router = Router::with_clock(FakeCloud::default(), ManualClock::default());
    router.cloud.add_container(&entry("mc", US), DOMAIN, 0);
    router.cloud.add_container(&entry("vh", EU), DOMAIN, 0);
    router
}

async fn run(router: &Fake, event: &Value) -> Result<Outcome, cm_core::Error> {
    handle(&config(), router, event).await
}

fn lookups(names: &[&str]) -> Value {
    let lines: Vec<String> = names
        .iter()
        .map(|n| query_line(&format!("{n}.{DOMAIN}"), "A"))
        .collect();
    query_log_event("DATA_MESSAGE", &lines)
}

#[tokio::test]
async fn a_batch_naming_two_containers_starts_each_in_its_region_in_one_round_each() {
    let router = two_regions();
    let outcome = run(&router, &sample("query-log-several.json"))
        .await
        .expect("success");
    assert_eq!((outcome.lines_seen, outcome.lines_matched), (9, 5));
    assert_eq!(router.cloud.desired(US, &group("mc")), Some(1));
    assert_eq!(router.cloud.desired(EU, &group("vh")), Some(1));
    let fake = &router.cloud;
    for region in [US, EU] {
        assert_eq!(
            fake.count_in("UpdateAutoScalingGroup", region),
            1,
            "{region}"
        );
        assert_eq!(fake.count_in("PutMetricData", region), 1, "{region}");
    }
    assert_eq!(fake.recorder.count("ListResourceRecordSets"), 1);
    assert_eq!(
        fake.recorder.writes().len(),
        4,
        "{:?}",
        fake.recorder.calls()
    );
    // The keep-alive point of each container, where its idle alarm reads it.
    let us = fake.datapoints(US);
    assert_eq!(us.len(), 1);
    assert_eq!(
        (us[0].namespace.as_str(), us[0].name.as_str(), us[0].value),
        ("ContainerManager", "DnsQueries", 21.0)
    );
    assert_eq!(us[0].dimensions["ContainerName"], "cm-dev-mc");
    assert_eq!(us[0].unit, "Count");
    assert_eq!(
        fake.datapoints(EU)[0].dimensions["ContainerName"],
        "cm-dev-vh"
    );
    assert_eq!(outcome.unknown, vec!["old"]);
    assert!(outcome.gone.is_empty());
    assert_eq!(
        outcome.actions,
        vec![
            Action::UpdateAutoScalingGroup {
                region: EU.into(),
                group: group("vh"),
                desired_capacity: 1
            },
            Action::PutMetricData {
                region: EU.into(),
                namespace: "ContainerManager".into(),
                metric: "DnsQueries".into(),
                container: "cm-dev-vh".into(),
                value: 21.0
            },
            Action::UpdateAutoScalingGroup {
                region: US.into(),
                group: group("mc"),
                desired_capacity: 1
            },
            Action::PutMetricData {
                region: US.into(),
                namespace: "ContainerManager".into(),
                metric: "DnsQueries".into(),
                container: "cm-dev-mc".into(),
                value: 21.0
            },
        ]
    );
}

#[tokio::test]
async fn the_registry_is_listed_from_its_start_in_the_configured_zone() {
    let router = two_regions();
    run(&router, &sample("query-log-match.json"))
        .await
        .expect("success");
    assert_eq!(
        router.cloud.recorder.calls()[0],
        format!("ListResourceRecordSets {ZONE} _cm.{DOMAIN} TXT")
    );
    assert_eq!(router.cloud.desired(US, &group("mc")), Some(1));
    assert_eq!(
        router.cloud.desired(EU, &group("vh")),
        Some(0),
        "not asked for"
    );
}

#[tokio::test]
async fn the_outcome_serialises_with_the_fields_callers_read() {
    let router = two_regions();
    let outcome = run(&router, &sample("query-log-several.json"))
        .await
        .expect("success");
    let doc = serde_json::to_value(&outcome).expect("serialises");
    assert_eq!(doc["message_type"], "DATA_MESSAGE");
    assert_eq!(doc["log_group"], "/aws/route53/example.com");
    assert_eq!(doc["lines_seen"], 9);
    assert_eq!(doc["lines_matched"], 5);
    assert_eq!(doc["unknown"], json!(["old"]));
    assert_eq!(doc["gone"], json!([]));
    assert_eq!(
        doc["actions"][0],
        json!({"call": "UpdateAutoScalingGroup", "region": EU, "group": "cm-asg-dev-vh",
               "desired_capacity": 1})
    );
    assert_eq!(
        doc["actions"][1],
        json!({"call": "PutMetricData", "region": EU, "namespace": "ContainerManager",
               "metric": "DnsQueries", "container": "cm-dev-vh", "value": 21.0})
    );
}

#[tokio::test]
async fn an_unknown_label_scales_nothing_and_is_no_error() {
    let router = two_regions();
    let outcome = run(&router, &lookups(&["removed"]))
        .await
        .expect("no error");
    assert_eq!(outcome.unknown, vec!["removed"]);
    assert!(outcome.actions.is_empty());
    assert!(router.cloud.recorder.writes().is_empty());
    assert_eq!(router.cloud.recorder.count("ListResourceRecordSets"), 1);
}

#[tokio::test]
async fn a_removed_container_is_unknown_once_the_registry_is_read_again() {
    let router = two_regions();
    run(&router, &lookups(&["vh"])).await.expect("first");
    assert_eq!(router.cloud.desired(EU, &group("vh")), Some(1));
    // Its stack deleted: entry and group gone.
    router.cloud.zone.deregister("vh", DOMAIN);
    router.cloud.remove_group(EU, &group("vh"));
    router.clock.advance(Duration::from_secs(60));
    router.cloud.recorder.clear();
    let outcome = run(&router, &lookups(&["vh", "mc"]))
        .await
        .expect("no error");
    assert_eq!(outcome.unknown, vec!["vh"]);
    assert!(outcome.gone.is_empty());
    assert_eq!(router.cloud.count_in("UpdateAutoScalingGroup", EU), 0);
    assert_eq!(router.cloud.desired(US, &group("mc")), Some(1));
}

#[tokio::test]
async fn a_group_already_gone_is_listed_and_is_no_error() {
    let router = two_regions();
    // The registry still names vh; its group is deleted already.
    router.cloud.remove_group(EU, &group("vh"));
    let outcome = run(&router, &lookups(&["vh", "mc"]))
        .await
        .expect("no error");
    assert_eq!(outcome.gone, vec![group("vh")]);
    assert_eq!(router.cloud.desired(US, &group("mc")), Some(1));
    assert!(!outcome.actions.iter().any(|a| matches!(
        a,
        Action::UpdateAutoScalingGroup { group: g, .. } if *g == group("vh")
    )));
}

#[tokio::test]
async fn the_registry_is_held_for_its_ttl_then_read_again() {
    let router = two_regions();
    let list = |r: &Fake| r.cloud.recorder.count("ListResourceRecordSets");
    run(&router, &lookups(&["mc"])).await.expect("first");
    assert_eq!(list(&router), 1);
    router.clock.advance(Duration::from_secs(59));
    run(&router, &lookups(&["mc", "vh"])).await.expect("held");
    assert_eq!(list(&router), 1, "within the TTL: no read");
    assert_eq!(router.cloud.desired(EU, &group("vh")), Some(1));
    router.clock.advance(Duration::from_secs(1));
    run(&router, &lookups(&["mc"])).await.expect("expired");
    assert_eq!(list(&router), 2, "at the TTL: read again");
    // A batch that asks for no container reads nothing, however old the registry.
    router.clock.advance(Duration::from_secs(3600));
    run(&router, &sample("query-log-other-names.json"))
        .await
        .expect("nothing");
    run(&router, &sample("control-message.json"))
        .await
        .expect("nothing");
    assert_eq!(list(&router), 2);
}

#[tokio::test]
async fn a_new_container_is_found_within_ten_seconds_and_unknown_names_cost_one_read_per_ten() {
    let router = two_regions();
    let list = |r: &Fake| r.cloud.recorder.count("ListResourceRecordSets");
    run(&router, &lookups(&["mc"])).await.expect("first");
    // A container deployed after the read.
    router.cloud.add_container(&entry("pw", EU), DOMAIN, 0);
    let outcome = run(&router, &lookups(&["pw"])).await.expect("unknown");
    assert_eq!(outcome.unknown, vec!["pw"]);
    assert_eq!(list(&router), 1, "just read: no read for an unknown name");
    router.clock.advance(Duration::from_secs(9));
    run(&router, &lookups(&["pw"])).await.expect("unknown");
    assert_eq!(list(&router), 1);
    router.clock.advance(Duration::from_secs(1));
    let outcome = run(&router, &lookups(&["pw"])).await.expect("found");
    assert_eq!(list(&router), 2);
    assert!(outcome.unknown.is_empty());
    assert_eq!(router.cloud.desired(EU, &group("pw")), Some(1));
    // A name that is no container: one read per 10 s at most, however many batches.
    for _ in 0..5 {
        router.clock.advance(Duration::from_secs(2));
        run(&router, &lookups(&["nobody"])).await.expect("unknown");
    }
    assert_eq!(list(&router), 3, "10 s after the last read: one more");
}

#[tokio::test]
async fn a_registry_read_failure_fails_the_invocation_and_scales_nothing() {
    let router = two_regions();
    router.cloud.recorder.fail("ListResourceRecordSets", 1);
    let err = run(&router, &lookups(&["mc", "vh"]))
        .await
        .expect_err("the registry could not be read");
    assert_eq!(err.kind(), "AwsError");
    assert!(err.to_string().contains("ListResourceRecordSets"), "{err}");
    assert!(router.cloud.recorder.writes().is_empty());
    // The retry reads it (nothing was held).
    run(&router, &lookups(&["mc", "vh"])).await.expect("retry");
    assert_eq!(router.cloud.desired(EU, &group("vh")), Some(1));
}

#[tokio::test]
async fn malformed_registry_entries_are_skipped() {
    let router = two_regions();
    router
        .cloud
        .zone
        .add_record("bad._cm.example.com.", "TXT", &["\"v=cm1 region=mars\""]);
    router.cloud.zone.add_record(
        "old._cm.example.com.",
        "TXT",
        &["\"v=cm0 region=us-east-1\""],
    );
    let outcome = run(&router, &lookups(&["bad", "old", "mc"]))
        .await
        .expect("success");
    assert_eq!(outcome.unknown, vec!["bad", "old"]);
    assert_eq!(router.cloud.desired(US, &group("mc")), Some(1));
}

#[tokio::test]
async fn a_registry_over_several_pages_is_read_whole() {
    let router = two_regions();
    for name in ["a1", "b2", "c3", "d4", "e5"] {
        router.cloud.add_container(&entry(name, US), DOMAIN, 0);
    }
    router
        .cloud
        .zone
        .add_record("www.example.com.", "A", &["192.0.2.1"]);
    router.cloud.zone.set_page_size(2);
    run(&router, &lookups(&["e5", "vh"]))
        .await
        .expect("success");
    assert_eq!(router.cloud.desired(US, &group("e5")), Some(1));
    assert_eq!(router.cloud.desired(EU, &group("vh")), Some(1));
    assert_eq!(router.cloud.recorder.count("ListResourceRecordSets"), 4);
}

#[tokio::test]
async fn a_thousand_lines_naming_twenty_containers_cost_one_round_per_region() {
    let router = Router::with_clock(FakeCloud::default(), ManualClock::default());
    let names: Vec<String> = (0..20).map(|i| format!("game{i:02}")).collect();
    for (i, name) in names.iter().enumerate() {
        let region = if i % 2 == 0 { US } else { EU };
        router.cloud.add_container(&entry(name, region), DOMAIN, 0);
    }
    let lines: Vec<String> = (0..1000)
        .map(|i| query_line(&format!("{}.{DOMAIN}", names[i % 20]), "A"))
        .collect();
    let outcome = run(&router, &query_log_event("DATA_MESSAGE", &lines))
        .await
        .expect("success");
    assert_eq!((outcome.lines_seen, outcome.lines_matched), (1000, 1000));
    let fake = &router.cloud;
    for region in [US, EU] {
        assert_eq!(
            fake.count_in("UpdateAutoScalingGroup", region),
            10,
            "{region}"
        );
        assert_eq!(fake.count_in("PutMetricData", region), 1, "{region}");
        assert_eq!(fake.datapoints(region).len(), 10, "{region}");
    }
    assert_eq!(fake.recorder.count("ListResourceRecordSets"), 1);
    assert_eq!(fake.recorder.calls().len(), 23);
    assert!(names
        .iter()
        .enumerate()
        .all(|(i, n)| fake.desired(if i % 2 == 0 { US } else { EU }, &group(n)) == Some(1)));
    // Warm, within the TTL: the same batch is 22 calls, no read.
    fake.recorder.clear();
    run(&router, &query_log_event("DATA_MESSAGE", &lines))
        .await
        .expect("success");
    assert_eq!(fake.recorder.calls().len(), 22);
}

#[tokio::test]
async fn samples_without_a_container_change_nothing_and_read_nothing() {
    for (sample_name, seen) in [
        ("query-log-other-names.json", 3),
        ("aws-sample-no-match.json", 2),
        ("control-message.json", 0),
    ] {
        let router = two_regions();
        let outcome = run(&router, &sample(sample_name)).await.expect("success");
        assert_eq!(
            (outcome.lines_seen, outcome.lines_matched),
            (seen, 0),
            "{sample_name}"
        );
        assert!(outcome.actions.is_empty(), "{sample_name}");
        assert!(router.cloud.recorder.calls().is_empty(), "{sample_name}");
    }
}

#[tokio::test]
async fn a_control_message_naming_a_container_still_does_nothing() {
    let router = two_regions();
    let outcome = run(
        &router,
        &query_log_event("CONTROL_MESSAGE", &[query_line("mc.example.com", "A")]),
    )
    .await
    .expect("success");
    assert_eq!(outcome.lines_matched, 0);
    assert!(router.cloud.recorder.calls().is_empty());
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
        let router = two_regions();
        let err = run(&router, &event).await.expect_err(case);
        assert_eq!(err.kind(), "InvalidEvent", "{case}");
        assert!(err.to_string().contains(expected), "{case}: {err}");
        assert!(router.cloud.recorder.calls().is_empty(), "{case}");
    }
}

#[tokio::test]
async fn other_types_sub_names_and_a_huge_foreign_batch_scale_nothing() {
    let router = two_regions();
    let lines = [
        query_line("mc.example.com", "AAAA"),
        query_line("_minecraft._tcp.mc.example.com", "SRV"),
        query_line("www.mc.example.com", "A"),
        query_line("mc.example.com.evil.example", "A"),
        query_line("example.com", "A"),
    ];
    let outcome = run(&router, &query_log_event("DATA_MESSAGE", &lines))
        .await
        .expect("success");
    assert_eq!((outcome.lines_seen, outcome.lines_matched), (5, 0));
    let many: Vec<String> = (0..20_000)
        .map(|i| query_line(&format!("host{i}.other.net"), "A"))
        .collect();
    let outcome = run(&router, &query_log_event("DATA_MESSAGE", &many))
        .await
        .expect("success");
    assert_eq!(outcome.lines_seen, 20_000);
    assert!(router.cloud.recorder.calls().is_empty());
}

#[tokio::test]
async fn a_failed_scale_fails_the_invocation_after_the_whole_round() {
    let router = two_regions();
    router.cloud.recorder.fail("UpdateAutoScalingGroup", 1);
    let err = run(&router, &lookups(&["mc"]))
        .await
        .expect_err("the scale failed");
    let text = err.to_string();
    assert!(
        text.contains("UpdateAutoScalingGroup us-east-1 cm-asg-dev-mc DesiredCapacity=1 failed"),
        "{text}"
    );
    assert!(text.contains("Throttling"), "{text}");
    assert_eq!(err.kind(), "AwsError");
    // The round's other call was made: the metric went out.
    assert_eq!(router.cloud.datapoints(US).len(), 1);
    // The retry that Lambda makes then succeeds (the registry held).
    run(&router, &lookups(&["mc"]))
        .await
        .expect("the retry succeeds");
    assert_eq!(router.cloud.desired(US, &group("mc")), Some(1));
    assert_eq!(router.cloud.recorder.count("ListResourceRecordSets"), 1);
}

#[tokio::test]
async fn failures_in_two_regions_are_reported_together_and_the_rest_is_done() {
    let router = two_regions();
    router.cloud.add_container(&entry("pw", EU), DOMAIN, 0);
    router.cloud.recorder.fail("PutMetricData", 2);
    let text = run(&router, &lookups(&["mc", "vh", "pw"]))
        .await
        .expect_err("both puts failed")
        .to_string();
    assert!(text.starts_with("2 of the router's calls failed"), "{text}");
    assert!(
        text.contains("PutMetricData us-east-1") && text.contains("PutMetricData eu-west-1"),
        "{text}"
    );
    for (region, name) in [(US, "mc"), (EU, "vh"), (EU, "pw")] {
        assert_eq!(
            router.cloud.desired(region, &group(name)),
            Some(1),
            "{name}"
        );
    }
}

#[tokio::test]
async fn the_record_type_domain_and_unit_come_from_the_configuration() {
    let config = config_with(&[
        ("RECORD_TYPE", Some("aaaa")),
        ("DOMAIN_NAME", Some("Games.Example.org.")),
        ("METRIC_UNIT", Some("Count/Second")),
    ]);
    let router = Router::with_clock(FakeCloud::default(), ManualClock::default());
    router
        .cloud
        .add_container(&entry("vh", EU), "games.example.org", 0);
    let lines = [
        query_line("vh.example.com", "AAAA"),
        query_line("vh.games.example.org", "A"),
        query_line("VH.games.example.org.", "AAAA"),
    ];
    let outcome = handle(&config, &router, &query_log_event("DATA_MESSAGE", &lines))
        .await
        .expect("success");
    assert_eq!(outcome.lines_matched, 1);
    assert_eq!(router.cloud.desired(EU, &group("vh")), Some(1));
    assert_eq!(router.cloud.datapoints(EU)[0].unit, "Count/Second");
    assert!(router.cloud.recorder.calls().contains(&format!(
        "ListResourceRecordSets {ZONE} _cm.games.example.org TXT"
    )));
}

#[tokio::test]
async fn the_same_delivery_twice_scales_to_one_twice_and_stays_at_one() {
    let router = two_regions();
    let event = sample("query-log-match.json");
    run(&router, &event).await.expect("first");
    run(&router, &event).await.expect("second");
    assert_eq!(router.cloud.desired(US, &group("mc")), Some(1));
    assert_eq!(router.cloud.recorder.count("UpdateAutoScalingGroup"), 2);
}
