#![cfg(feature = "emulator")]
//! Reliability, end to end through the real binaries against the emulator:
//!
//! - a bad-input matrix for every function: each bad event is answered by a clear
//!   error (or a documented no-op) and changes nothing in the emulator;
//! - bad configuration: the process refuses to start, naming every bad variable;
//! - duplicate and out-of-order ASG events: the end state is right;
//! - faults (throttling, 5xx, connection refused): retried as configured, and an
//!   error once the retries are spent, never a reported success.
//!
//! Needs the function binaries (`cargo build --workspace --bins`, which
//! `./scripts/test` does first).

use std::time::Duration;

use cm_testkit::events::{self, awslogs_event, gzip, query_line, query_log_event};
use cm_testkit::story::{Step, Story, DOMAIN};
use cm_testkit::{asg, Function, Outcome};
use serde_json::{json, Value};

const TRIGGER: &str = "dns-query-trigger";
const SYNC: &str = "asg-ecs-sync";
const DNS: &str = "dns-record-updater";
const WATCHDOG: &str = "watchdog-scale-down";
const TIMEOUT: Duration = Duration::from_secs(60);

/// The function `name` as the story's stack deploys it, with its environment changed
/// by `change` (`None`: the variable removed), its output in a temporary log.
fn start(story: &Story, name: &str, change: &[(&str, Option<&str>)]) -> Function {
    let mut spec = story
        .function_spec(name)
        .unwrap_or_else(|e| panic!("{e}"))
        .timeouts(TIMEOUT, TIMEOUT);
    for (key, value) in change {
        spec = spec.set_env(key, *value);
    }
    spec.temp_log()
        .start()
        .unwrap_or_else(|e| panic!("start {name}: {e}"))
}

async fn story() -> Story {
    Story::setup(Box::new(|_: &Step| {}))
        .await
        .unwrap_or_else(|e| panic!("deploying template.yaml: {e}"))
}

/// What a case must be answered with.
enum Expect {
    /// An error whose message contains this.
    Error(&'static str),
    /// A response whose JSON has this value at this pointer.
    NoOp(&'static str, Value),
}

fn check(function: &Function, case: &str, event: Value, expect: &Expect, story: &Story) {
    let before = story.emulator().writes();
    let outcome = function.invoke(event);
    match (expect, &outcome) {
        (Expect::Error(text), Outcome::Error(e)) => {
            let message = e["errorMessage"].as_str().unwrap_or_default();
            assert!(
                message.contains(text),
                "{} / {case}: error {message:?} does not say {text:?}",
                function.name()
            );
        }
        (Expect::NoOp(pointer, value), Outcome::Response(r)) => assert_eq!(
            r.pointer(pointer),
            Some(value),
            "{} / {case}: response {r}",
            function.name()
        ),
        _ => panic!(
            "{} / {case}: unexpected outcome {outcome:?}",
            function.name()
        ),
    }
    assert_eq!(
        story.emulator().writes(),
        before,
        "{} / {case}: the emulator saw a write",
        function.name()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_is_refused_or_ignored_and_changes_nothing() {
    let mut story = story().await;
    let launch = story.typical_event(SYNC).await.expect("a launch event");
    let alarm = story.typical_event(WATCHDOG).await.expect("an alarm event");
    let trigger = start(&story, TRIGGER, &[]);
    let sync = start(&story, SYNC, &[]);
    let dns = start(&story, DNS, &[]);
    let watchdog = start(&story, WATCHDOG, &[]);

    // The trigger: the subscription envelope and its payload.
    let other_names: Vec<String> = (0..20_000)
        .map(|i| query_line(&format!("host{i}.example.com"), "A"))
        .collect();
    let bomb = awslogs_event(&gzip(&vec![b' '; 65 * 1024 * 1024]));
    let trigger_cases: Vec<(&str, Value, Expect)> = vec![
        (
            "bad base64",
            json!({"awslogs": {"data": "%%% not base64 %%%"}}),
            Expect::Error("not valid base64"),
        ),
        (
            "bad gzip",
            awslogs_event(b"plain text, not gzip"),
            Expect::Error("not valid gzip"),
        ),
        (
            "bad JSON",
            awslogs_event(&gzip(b"{\"messageType\": ")),
            Expect::Error("not valid CloudWatch Logs JSON"),
        ),
        (
            "wrong envelope (an SNS event)",
            json!({"Records": [{"EventSource": "aws:sns"}]}),
            Expect::Error("no awslogs.data"),
        ),
        (
            "awslogs.data not a string",
            json!({"awslogs": {"data": 42}}),
            Expect::Error("awslogs.data is not a string"),
        ),
        (
            "gzip bomb",
            bomb,
            Expect::Error("decompresses to more than"),
        ),
        (
            "CONTROL_MESSAGE",
            query_log_event("CONTROL_MESSAGE", &[query_line(DOMAIN, "A")]),
            Expect::NoOp("/lines_matched", json!(0)),
        ),
        (
            "empty batch",
            query_log_event("DATA_MESSAGE", &[]),
            Expect::NoOp("/lines_seen", json!(0)),
        ),
        (
            "huge batch of names that are no container's (unknown: nothing scaled)",
            query_log_event("DATA_MESSAGE", &other_names),
            Expect::NoOp("/lines_seen", json!(20_000)),
        ),
        (
            "the name for another record type, and a sub-name",
            query_log_event(
                "DATA_MESSAGE",
                &[
                    query_line(DOMAIN, "AAAA"),
                    query_line(&format!("_minecraft._tcp.{DOMAIN}"), "SRV"),
                ],
            ),
            Expect::NoOp("/lines_matched", json!(0)),
        ),
    ];
    for (case, event, expect) in trigger_cases {
        check(&trigger, case, event, &expect, &story);
    }

    // The ECS sync and the DNS updater: ASG events.
    let with = |path: &[&str], value: Value| {
        let mut event = launch.clone();
        let mut at = &mut event;
        for key in &path[..path.len() - 1] {
            at = &mut at[*key];
        }
        at[path[path.len() - 1]] = value;
        event
    };
    let asg_cases: Vec<(&str, Value, Expect)> = vec![
        (
            "foreign Auto Scaling group",
            with(
                &["detail", "AutoScalingGroupName"],
                json!("someone-elses-asg"),
            ),
            Expect::Error("not \"cm-asg-demo-mc\""),
        ),
        (
            "unknown detail-type",
            with(&["detail-type"], json!("EC2 Instance Launch Unsuccessful")),
            Expect::Error("unsupported detail-type"),
        ),
        (
            "another source",
            with(&["source"], json!("aws.ec2")),
            Expect::Error("not aws.autoscaling"),
        ),
        (
            "no instance id",
            with(&["detail", "EC2InstanceId"], Value::Null),
            Expect::Error("EC2InstanceId"),
        ),
        (
            "not an instance id",
            with(&["detail", "EC2InstanceId"], json!("../../etc/passwd")),
            Expect::Error("is not an instance id"),
        ),
        (
            "not an event at all",
            json!(["a", "list"]),
            Expect::Error("not an Auto Scaling EventBridge event"),
        ),
        (
            "terminate without its token",
            {
                let instance = launch["detail"]["EC2InstanceId"].as_str().unwrap_or("i-0");
                let mut e = events::terminate_event(
                    &story.names().group,
                    &story.names().hook,
                    instance,
                    "token",
                );
                e["detail"]
                    .as_object_mut()
                    .map(|d| d.remove("LifecycleActionToken"));
                e
            },
            Expect::Error("LifecycleActionToken"),
        ),
        (
            "launch into the warm pool",
            with(&["detail", "Destination"], json!("WarmPool")),
            Expect::NoOp("/event", json!("ignored")),
        ),
    ];
    for (case, event, expect) in &asg_cases {
        check(&sync, case, event.clone(), expect, &story);
        check(&dns, case, event.clone(), expect, &story);
    }

    // The watchdog: alarms and ECS task events.
    let mut crash = events::sample("watchdog-scale-down/ecs-task-crashed.json");
    crash["detail"]["clusterArn"] =
        json!("arn:aws:ecs:us-east-1:123456789012:cluster/someone-elses-cluster");
    let mut foreign_alarm = alarm.clone();
    foreign_alarm["alarmData"]["alarmName"] = json!("someone-elses-alarm");
    let mut ok_alarm = alarm.clone();
    ok_alarm["alarmData"]["state"]["value"] = json!("OK");
    let mut weird_state = alarm.clone();
    weird_state["alarmData"]["state"]["value"] = json!("MELTING");
    let watchdog_cases: Vec<(&str, Value, Expect)> = vec![
        (
            "unknown alarm",
            foreign_alarm,
            Expect::Error("unknown alarm \"someone-elses-alarm\""),
        ),
        (
            "alarm in an unknown state",
            weird_state,
            Expect::Error("`MELTING`"),
        ),
        (
            "foreign ECS cluster",
            crash,
            Expect::Error("someone-elses-cluster"),
        ),
        (
            "an event no rule sends",
            json!({"source": "aws.s3", "detail-type": "Object Created", "detail": {}}),
            Expect::Error("aws.s3"),
        ),
        (
            "the alarm back to OK",
            ok_alarm,
            Expect::NoOp("/outcomes/0/result", json!("ignored")),
        ),
    ];
    for (case, event, expect) in watchdog_cases {
        check(&watchdog, case, event, &expect, &story);
    }

    // Pointed at resources that are not there (a zone or cluster of another stack,
    // deleted, or mistyped): AWS refuses the call (the emulator counts the attempt),
    // the invocation fails, and the container's own service and record stay as
    // they are.
    let (service_before, record_before) = (story.service_desired().await, story.record().await);
    let elsewhere = [
        (DNS, "HOSTED_ZONE_ID", "Z0000NOSUCHZONE"),
        (SYNC, "ECS_CLUSTER_NAME", "someone-elses-cluster"),
    ];
    for (name, variable, value) in elsewhere {
        let function = start(&story, name, &[(variable, Some(value))]);
        let outcome = function.invoke(launch.clone());
        let message = outcome
            .error()
            .map(|e| e["errorMessage"].to_string())
            .unwrap_or_else(|| panic!("{name} with {variable}={value}: {outcome:?}"));
        assert!(message.contains(value), "{name}: {message}");
    }
    assert_eq!(story.service_desired().await, service_before);
    assert_eq!(story.record().await, record_before);
}

/// Starts a function with a changed environment and waits for it to exit; returns
/// its log and the init error it reported to the Runtime API.
fn start_fails(story: &Story, name: &str, change: &[(&str, Option<&str>)]) -> (String, Value) {
    let mut function = start(story, name, change);
    match function.wait_for_exit() {
        Some(status) => assert!(!status.success(), "{name} exited with success"),
        None => panic!("{name} kept running with {change:?}"),
    }
    (function.log(), function.init_error().unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_configuration_stops_the_start_naming_every_variable() {
    let story = story().await;
    // (function, environment changes (None: removed), variables the log must name)
    type Case = (
        &'static str,
        Vec<(&'static str, Option<&'static str>)>,
        Vec<&'static str>,
    );
    let cases: Vec<Case> = vec![
        (
            TRIGGER,
            vec![
                ("DOMAIN_NAME", None),
                ("HOSTED_ZONE_ID", None),
                ("METRIC_NAME", None),
            ],
            vec!["DOMAIN_NAME", "HOSTED_ZONE_ID", "METRIC_NAME"],
        ),
        (
            TRIGGER,
            vec![
                ("REGISTRY_TTL_SECONDS", Some("soon")),
                ("METRIC_UNIT", Some("Parsecs")),
            ],
            vec!["REGISTRY_TTL_SECONDS", "METRIC_UNIT"],
        ),
        (
            SYNC,
            vec![
                ("ECS_CLUSTER_NAME", None),
                ("DRAIN_TIMEOUT_SECONDS", Some("-5")),
            ],
            vec!["ECS_CLUSTER_NAME", "DRAIN_TIMEOUT_SECONDS"],
        ),
        (
            DNS,
            vec![
                ("HOSTED_ZONE_ID", None),
                ("SNS_TOPIC_ARN", Some("not-an-arn")),
            ],
            vec!["HOSTED_ZONE_ID", "SNS_TOPIC_ARN"],
        ),
        (
            WATCHDOG,
            vec![("IDLE_ALARM_NAME", None), ("IDLE_MINUTES", Some("soon"))],
            vec!["IDLE_ALARM_NAME", "IDLE_MINUTES"],
        ),
    ];
    let before = story.emulator().calls();
    for (name, change, named) in cases {
        let (log, init_error) = start_fails(&story, name, &change);
        assert_eq!(
            init_error["errorType"], "ConfigError",
            "{name}: {init_error}"
        );
        let reported = init_error["errorMessage"].as_str().unwrap_or_default();
        for variable in named {
            assert!(
                log.contains(variable),
                "{name} with {change:?}: the log does not name {variable}: {log}"
            );
            assert!(
                reported.contains(variable),
                "{name} with {change:?}: the init error does not name {variable}: {reported}"
            );
        }
    }
    assert_eq!(
        story.emulator().calls(),
        before,
        "a function that failed to start called AWS"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicate_and_out_of_order_asg_events_end_in_the_right_state() {
    let mut story = story().await;
    let sdk = story.emulator().sdk_config().await;
    let autoscaling = aws_sdk_autoscaling::Client::new(&sdk);
    let sync = start(&story, SYNC, &[]);
    let dns = start(&story, DNS, &[]);

    // The same launch twice: the service runs one task, the name points at the
    // instance, and people hear about it once.
    let launch_a = story.typical_event(SYNC).await.expect("a launch");
    let a = launch_a["detail"]["EC2InstanceId"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    for _ in 0..2 {
        assert!(sync.invoke(launch_a.clone()).response().is_some());
        assert!(dns.invoke(launch_a.clone()).response().is_some());
    }
    assert_eq!(story.service_desired().await, 1);
    let ip_a = story.record().await;
    assert_ne!(ip_a, "0.0.0.0");
    assert_eq!(story.emulator().sns_messages().len(), 1, "one 'up' message");

    // The group scales in; the terminate arrives twice (at-least-once delivery).
    cm_core::autoscaling::set_desired_capacity(&autoscaling, &story.names().group, 0)
        .await
        .expect("scale in");
    story.emulator().begin_lifecycle_action(
        &story.names().group,
        &story.names().hook,
        &a,
        "token-a",
    );
    let terminate_a =
        events::terminate_event(&story.names().group, &story.names().hook, &a, "token-a");
    let first = sync.invoke(terminate_a.clone());
    assert_eq!(
        first.response().map(|r| r["drained"].clone()),
        Some(json!(true))
    );
    assert_eq!(story.emulator().completed_lifecycle_actions(), 1);
    let again = sync.invoke(terminate_a.clone());
    assert!(
        again.response().is_some(),
        "a repeated terminate must not fail: {again:?}"
    );
    assert_eq!(
        story.emulator().completed_lifecycle_actions(),
        1,
        "the action is completed once"
    );
    for _ in 0..2 {
        assert!(dns.invoke(terminate_a.clone()).response().is_some());
    }
    assert_eq!(story.service_desired().await, 0);
    assert_eq!(story.record().await, "0.0.0.0");

    // The launch of the instance that is gone arrives late (after its terminate):
    // stale, it changes nothing.
    let before = story.emulator().writes();
    let late = sync.invoke(launch_a.clone());
    assert_eq!(
        late.response().map(|r| r["event"].clone()),
        Some(json!("ignored"))
    );
    let late = dns.invoke(launch_a.clone());
    assert_eq!(
        late.response().map(|r| r["event"].clone()),
        Some(json!("ignored"))
    );
    assert_eq!(story.emulator().writes(), before);
    assert_eq!(story.service_desired().await, 0);
    assert_eq!(story.record().await, "0.0.0.0");

    // Up again on instance B; then a stale terminate of A (registered late) arrives
    // after B's launch: B keeps the service and the name.
    let launch_b = story.typical_event(SYNC).await.expect("a launch");
    let b = launch_b["detail"]["EC2InstanceId"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert_ne!(a, b);
    assert!(sync.invoke(launch_b.clone()).response().is_some());
    assert!(dns.invoke(launch_b.clone()).response().is_some());
    let ip_b = story.record().await;
    assert!(!ip_b.is_empty() && ip_b != "0.0.0.0");
    story.emulator().begin_lifecycle_action(
        &story.names().group,
        &story.names().hook,
        &a,
        "token-a2",
    );
    let stale = events::terminate_event(&story.names().group, &story.names().hook, &a, "token-a2");
    let outcome = sync.invoke(stale.clone());
    assert!(outcome.response().is_some(), "{outcome:?}");
    assert!(dns.invoke(stale).response().is_some());
    assert_eq!(story.service_desired().await, 1, "B keeps the service");
    assert_eq!(story.record().await, ip_b, "B keeps the name");
    assert_eq!(asg::desired(&autoscaling, &story.names().group).await, 1);
}

fn invoke_with_fault(
    story: &Story,
    function: &Function,
    event: Value,
    operation: &str,
    kind: &str,
    count: u32,
) -> (Outcome, u64) {
    story.emulator().reset_counts();
    story.emulator().inject_fault(operation, kind, count);
    let outcome = function.invoke(event);
    (outcome, story.emulator().call_count(operation))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faults_are_retried_then_reported_as_failures() {
    let mut story = story().await;
    let trigger = start(&story, TRIGGER, &[]);
    let lookup = story.typical_event(TRIGGER).await.expect("a lookup");
    let update = "autoscaling:UpdateAutoScalingGroup";
    let put = "monitoring:PutMetricData";

    // Two throttled attempts, then success: within the 3 attempts configured.
    let (outcome, calls) =
        invoke_with_fault(&story, &trigger, lookup.clone(), update, "throttle", 2);
    assert!(outcome.response().is_some(), "{outcome:?}");
    assert_eq!(calls, 3);
    // 503s on the CloudWatch (RPCv2-CBOR) call are retried the same way.
    let (outcome, calls) =
        invoke_with_fault(&story, &trigger, lookup.clone(), put, "unavailable", 2);
    assert!(outcome.response().is_some(), "{outcome:?}");
    assert_eq!(calls, 3);

    // Throttled on every attempt: the invocation fails, after exactly 3 attempts.
    let (outcome, calls) =
        invoke_with_fault(&story, &trigger, lookup.clone(), update, "throttle", 10);
    let message = outcome
        .error()
        .map(|e| e["errorMessage"].to_string())
        .unwrap_or_else(|| panic!("success reported while throttled: {outcome:?}"));
    assert!(message.contains("UpdateAutoScalingGroup"), "{message}");
    assert!(message.contains("Throttling"), "{message}");
    assert_eq!(calls, 3);
    let (outcome, _) = invoke_with_fault(&story, &trigger, lookup.clone(), put, "unavailable", 10);
    assert!(outcome.error().is_some(), "{outcome:?}");

    // The DNS updater: the record change throttled for good -> failure, and no "up"
    // message about a change that did not happen.
    let dns = start(&story, DNS, &[]);
    let launch = story.typical_event(DNS).await.expect("a launch");
    let zone = story.zone().to_string();
    let change = format!("route53:POST /2013-04-01/hostedzone/{zone}/rrset");
    let messages = story.emulator().sns_messages().len();
    let (outcome, calls) = invoke_with_fault(&story, &dns, launch.clone(), &change, "throttle", 10);
    assert!(outcome.error().is_some(), "{outcome:?}");
    assert_eq!(calls, 3, "{:?}", story.emulator().calls());
    assert_eq!(story.emulator().sns_messages().len(), messages);

    // The ECS sync: UpdateService throttled twice, then done.
    let sync = start(&story, SYNC, &[]);
    let (outcome, calls) =
        invoke_with_fault(&story, &sync, launch, "ecs:UpdateService", "throttle", 2);
    assert!(outcome.response().is_some(), "{outcome:?}");
    assert_eq!(calls, 3);

    // Nothing listening: the invocation fails (after the retries) instead of passing.
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
        listener.local_addr().expect("its address").port()
    };
    let endpoint = format!("http://127.0.0.1:{closed}");
    let offline = start(&story, TRIGGER, &[("AWS_ENDPOINT_URL", Some(&endpoint))]);
    let outcome = offline.invoke(lookup.clone());
    let message = outcome
        .error()
        .map(|e| e.to_string())
        .unwrap_or_else(|| panic!("success reported with AWS unreachable: {outcome:?}"));
    // A new process reads the registry first: nothing is scaled on a registry that
    // could not be read.
    assert!(message.contains("ListResourceRecordSets"), "{message}");

    // The registry's read throttled twice, then read: within the 3 attempts (a new
    // process, which holds no registry yet).
    let router = start(&story, TRIGGER, &[]);
    let zone = story.zone().to_string();
    let list = format!("route53:GET /2013-04-01/hostedzone/{zone}/rrset");
    let (outcome, calls) = invoke_with_fault(&story, &router, lookup, &list, "throttle", 2);
    assert!(outcome.response().is_some(), "{outcome:?}");
    assert_eq!(calls, 3, "{:?}", story.emulator().calls());
}
