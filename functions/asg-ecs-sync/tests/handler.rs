//! The ECS sync's handler with the in-memory [`FakeCloud`] and the sample events of
//! `events/asg/`: every case of the emulator tests and of the sync's rows in the
//! reliability tests (bad input, duplicates, out-of-order and stale events, injected
//! failures), in milliseconds and without Python. Drain waits run on tokio's paused
//! clock, so the configured 5 s polls and 300 s timeout pass at once and are measured
//! exactly.

use std::time::Duration;

use asg_ecs_sync::{
    handle, Action, Cloud, Config, EventKind, FakeCloud, Found, Outcome, COMPLETE_MARGIN,
};
use cm_testkit::env_json::function_env;
use cm_testkit::events::asg_sample;
use serde_json::{json, Value};
use tokio::time::Instant;

const GROUP: &str = "cm-asg-dev-mc";
const CLUSTER: &str = "cm-cluster-dev-mc";
const SERVICE: &str = "cm-service-dev-mc";
const HOOK: &str = "cm-hook-dev-mc-drain";
/// The instance and token of the sample events.
const INSTANCE: &str = "i-0a1b2c3d4e5f60718";
const TOKEN: &str = "71514b9d-6a40-4b26-8523-05e7eEXAMPLE";
const OTHER: &str = "i-0fedcba9876543210";
const LONG: Duration = Duration::from_secs(900);

/// The configuration `sam local invoke` uses (events/env.json): a 300 s drain timeout
/// polled every 5 s.
fn config() -> Config {
    Config::from_env(function_env("AsgEcsSyncFunction", &[])).unwrap()
}

/// The sample event `events/asg/<name>`.
fn sample(name: &str) -> Value {
    cm_testkit::events::sample(&format!("asg/{name}"))
}

fn launch() -> Value {
    sample("launch-successful.json")
}

fn terminate() -> Value {
    sample("terminate-lifecycle-action.json")
}

/// A tick of the schedule.
fn tick() -> Value {
    sample("scheduled-event.json")
}

/// The sample `name` for `instance` (and, for a terminate, `token`).
fn event_for(name: &str, instance: &str, token: &str) -> Value {
    let mut event = asg_sample(name, GROUP, instance);
    if event["detail"].get("LifecycleActionToken").is_some() {
        event["detail"]["LifecycleActionToken"] = token.into();
    }
    event
}

/// The sample's instance in service, registered in the cluster and running the
/// service's task. Returns the fake, the container instance and the task.
fn serving() -> (FakeCloud, String, String) {
    let fake = FakeCloud::new(GROUP, CLUSTER, SERVICE);
    fake.add_instance(INSTANCE, "InService");
    let container_instance = fake.register_container_instance(INSTANCE);
    fake.scale_service(1);
    let task = fake.live_tasks()[0].arn.clone();
    (fake, container_instance, task)
}

/// [`serving`], and the group scaled in: the instance waits in Terminating:Wait on
/// the hook with the sample's token.
fn terminating() -> (FakeCloud, String, String) {
    let (fake, container_instance, task) = serving();
    fake.begin_lifecycle_action(HOOK, INSTANCE, TOKEN);
    (fake, container_instance, task)
}

async fn run(fake: &FakeCloud, event: &Value) -> Result<Outcome, cm_core::Error> {
    handle(&config(), fake, event, LONG).await
}

fn update_service(desired_count: i32) -> Action {
    Action::UpdateService {
        cluster: CLUSTER.into(),
        service: SERVICE.into(),
        desired_count,
    }
}

fn completion(instance: &str) -> Action {
    Action::CompleteLifecycleAction {
        group: GROUP.into(),
        hook: HOOK.into(),
        instance_id: instance.into(),
        result: "CONTINUE",
    }
}

fn completed(instance: &str) -> Vec<(String, String)> {
    vec![(instance.to_string(), "CONTINUE".to_string())]
}

// ---------------------------------------------------------------- launches

#[tokio::test]
async fn a_launch_sets_the_service_to_one_and_a_task_is_placed() {
    for name in ["launch-successful.json", "launch-from-warm-pool.json"] {
        let fake = FakeCloud::new(GROUP, CLUSTER, SERVICE);
        fake.add_instance(INSTANCE, "InService");
        let container_instance = fake.register_container_instance(INSTANCE);
        let outcome = run(&fake, &sample(name)).await.expect("success");
        assert_eq!(
            outcome,
            Outcome {
                event: EventKind::Launch,
                instance_id: Some(INSTANCE.into()),
                actions: vec![update_service(1)],
                drained: None,
                still_running: Vec::new(),
                note: None,
                found: None,
                custom_resource: None,
            },
            "{name}"
        );
        assert_eq!(fake.service_desired(), 1, "{name}");
        assert_eq!(
            fake.recorder.calls(),
            vec![
                format!("DescribeAutoScalingGroups {GROUP}"),
                format!("UpdateService {CLUSTER}/{SERVICE} desiredCount=1"),
            ]
        );
        let tasks = fake.live_tasks();
        assert_eq!(tasks.len(), 1);
        assert_eq!(tasks[0].container_instance, container_instance);
    }
}

#[tokio::test]
async fn a_launch_of_a_pending_instance_is_followed() {
    let fake = FakeCloud::new(GROUP, CLUSTER, SERVICE);
    fake.add_instance(INSTANCE, "Pending:Wait");
    let outcome = run(&fake, &launch()).await.expect("success");
    assert_eq!(outcome.event, EventKind::Launch);
    assert_eq!(fake.service_desired(), 1);
}

#[tokio::test]
async fn a_launch_into_the_warm_pool_reads_and_changes_nothing() {
    let fake = FakeCloud::new(GROUP, CLUSTER, SERVICE);
    fake.add_instance(INSTANCE, "Warmed:Pending");
    let outcome = run(&fake, &sample("launch-into-warm-pool.json"))
        .await
        .expect("success");
    assert_eq!(outcome.event, EventKind::Ignored);
    assert!(outcome.actions.is_empty());
    assert!(
        outcome
            .note
            .as_deref()
            .unwrap_or_default()
            .contains("warm pool"),
        "{outcome:?}"
    );
    assert!(
        fake.recorder.calls().is_empty(),
        "{:?}",
        fake.recorder.calls()
    );
    assert_eq!(fake.service_desired(), 0);
}

#[tokio::test]
async fn the_same_launch_twice_ends_with_one_task() {
    let (fake, _, task) = serving();
    for _ in 0..2 {
        let outcome = run(&fake, &launch())
            .await
            .expect("a duplicate is no error");
        assert_eq!(outcome.event, EventKind::Launch);
    }
    assert_eq!(fake.service_desired(), 1);
    let tasks = fake.live_tasks();
    assert_eq!(tasks.len(), 1);
    assert_eq!(tasks[0].arn, task, "the running task was left alone");
}

// -------------------------------------------------------------- terminates

#[tokio::test(start_paused = true)]
async fn a_terminate_stops_the_service_waits_for_the_drain_then_completes() {
    let (fake, container_instance, _) = terminating();
    fake.tasks_stop_after_looks(3);
    let started = Instant::now();
    let outcome = run(&fake, &terminate()).await.expect("success");
    assert_eq!(
        started.elapsed(),
        Duration::from_secs(15),
        "three polls 5 s apart saw the task, the fourth did not"
    );
    assert_eq!(
        outcome,
        Outcome {
            event: EventKind::Terminate,
            instance_id: Some(INSTANCE.into()),
            actions: vec![update_service(0), completion(INSTANCE)],
            drained: Some(true),
            still_running: Vec::new(),
            note: None,
            found: None,
            custom_resource: None,
        }
    );
    assert_eq!(fake.service_desired(), 0);
    assert_eq!(fake.completed(), completed(INSTANCE));
    assert_eq!(fake.recorder.count("ListTasks"), 4);
    assert!(fake.recorder.calls().contains(&format!(
        "ListTasks {CLUSTER} {container_instance} service:{SERVICE}"
    )));
    assert_eq!(
        fake.recorder.writes(),
        vec![
            format!("UpdateService {CLUSTER}/{SERVICE} desiredCount=0"),
            format!("CompleteLifecycleAction {GROUP} {HOOK} {INSTANCE} {TOKEN} CONTINUE"),
        ],
        "the service stops before the action is completed"
    );
}

#[tokio::test(start_paused = true)]
async fn the_same_terminate_twice_completes_once_then_notes_it_was_done() {
    let (fake, _, _) = terminating();
    let first = run(&fake, &terminate()).await.expect("success");
    assert_eq!(first.drained, Some(true));
    assert!(first.actions.contains(&completion(INSTANCE)));
    let again = run(&fake, &terminate())
        .await
        .expect("a duplicate is no error");
    assert_eq!(again.event, EventKind::Terminate);
    assert!(
        again
            .note
            .as_deref()
            .unwrap_or_default()
            .contains("lifecycle action already completed: No active Lifecycle Action found"),
        "{again:?}"
    );
    assert!(!again.actions.contains(&completion(INSTANCE)));
    assert_eq!(fake.completed(), completed(INSTANCE), "completed once");
    assert_eq!(fake.recorder.count("CompleteLifecycleAction"), 2);
    assert_eq!(fake.service_desired(), 0);
}

#[tokio::test(start_paused = true)]
async fn a_drain_that_times_out_still_completes_and_names_what_ran() {
    let (fake, _, task) = terminating();
    fake.tasks_never_stop();
    let started = Instant::now();
    let outcome = run(&fake, &terminate()).await.expect("success");
    assert_eq!(
        started.elapsed(),
        Duration::from_secs(300),
        "DRAIN_TIMEOUT_SECONDS"
    );
    assert_eq!(outcome.drained, Some(false));
    assert_eq!(outcome.still_running, vec![task]);
    assert_eq!(
        fake.recorder.count("ListTasks"),
        61,
        "every 5 s, 0 to 300 s"
    );
    assert_eq!(fake.completed(), completed(INSTANCE));
    assert!(outcome.actions.contains(&completion(INSTANCE)));
}

#[tokio::test(start_paused = true)]
async fn the_drain_is_bounded_by_the_invocations_remaining_time() {
    let (fake, _, _) = terminating();
    fake.tasks_never_stop();
    let started = Instant::now();
    let outcome = handle(
        &config(),
        &fake,
        &terminate(),
        COMPLETE_MARGIN + Duration::from_secs(7),
    )
    .await
    .expect("success");
    assert_eq!(
        started.elapsed(),
        Duration::from_secs(7),
        "polls at 0 s and 5 s, the last look at 7 s"
    );
    assert_eq!(fake.recorder.count("ListTasks"), 3);
    assert_eq!(outcome.drained, Some(false));
    assert_eq!(fake.completed(), completed(INSTANCE), "completed in time");
}

#[tokio::test(start_paused = true)]
async fn with_less_time_left_than_the_margin_it_completes_without_waiting() {
    let (fake, _, task) = terminating();
    fake.tasks_stop_after_looks(1);
    let started = Instant::now();
    let outcome = handle(&config(), &fake, &terminate(), Duration::from_secs(4))
        .await
        .expect("success");
    assert_eq!(started.elapsed(), Duration::ZERO);
    assert_eq!(fake.recorder.count("ListTasks"), 1);
    assert_eq!(outcome.still_running, vec![task]);
    assert_eq!(fake.completed(), completed(INSTANCE));
}

#[tokio::test(start_paused = true)]
async fn a_successor_keeps_the_service_and_the_old_instance_is_drained_by_ecs() {
    let (fake, old, _) = terminating();
    fake.add_instance(OTHER, "InService");
    let new = fake.register_container_instance(OTHER);
    fake.tasks_stop_after_looks(1);
    let outcome = run(&fake, &terminate()).await.expect("success");
    assert_eq!(
        outcome.actions,
        vec![
            Action::UpdateContainerInstancesState {
                cluster: CLUSTER.into(),
                container_instance: old.clone(),
                status: "DRAINING",
            },
            completion(INSTANCE),
        ]
    );
    assert_eq!(outcome.drained, Some(true));
    assert!(
        outcome.note.as_deref().unwrap_or_default().contains(OTHER),
        "{outcome:?}"
    );
    assert_eq!(fake.service_desired(), 1, "the new instance needs the task");
    let tasks = fake.live_tasks();
    assert_eq!(tasks.len(), 1);
    assert_eq!(tasks[0].container_instance, new, "ECS moved the task");
    assert_eq!(fake.recorder.count("UpdateService"), 0);
    assert_eq!(fake.completed(), completed(INSTANCE));
}

#[tokio::test(start_paused = true)]
async fn a_terminate_of_an_instance_that_never_registered_completes_without_polling() {
    let fake = FakeCloud::new(GROUP, CLUSTER, SERVICE);
    fake.add_instance(INSTANCE, "InService");
    fake.scale_service(1);
    fake.begin_lifecycle_action(HOOK, INSTANCE, TOKEN);
    let outcome = run(&fake, &terminate()).await.expect("success");
    assert_eq!(
        outcome.actions,
        vec![update_service(0), completion(INSTANCE)]
    );
    assert_eq!(outcome.drained, Some(true));
    assert_eq!(fake.recorder.count("ListTasks"), 0);
    assert_eq!(fake.completed(), completed(INSTANCE));
}

// ------------------------------------------------------------- bad input

fn with(path: &[&str], value: Value) -> Value {
    let mut event = launch();
    let mut at = &mut event;
    for key in &path[..path.len() - 1] {
        at = &mut at[*key];
    }
    at[path[path.len() - 1]] = value;
    event
}

#[tokio::test]
async fn foreign_groups_unknown_types_and_missing_fields_are_refused_before_any_call() {
    let (fake, _, _) = terminating();
    let mut foreign = terminate();
    foreign["detail"]["AutoScalingGroupName"] = "someone-elses-asg".into();
    let mut unknown = launch();
    unknown["detail-type"] = "EC2 Instance Terminate Successful".into();
    let mut no_hook = terminate();
    no_hook["detail"]
        .as_object_mut()
        .unwrap()
        .remove("LifecycleHookName");
    for (event, expected) in [
        (foreign, "not \"cm-asg-dev-mc\""),
        (unknown, "unsupported detail-type"),
        (no_hook, "detail.LifecycleHookName is missing"),
    ] {
        let err = run(&fake, &event).await.expect_err("an error");
        assert_eq!(err.kind(), "InvalidEvent");
        assert!(
            err.to_string().contains(expected),
            "{err} should say {expected}"
        );
    }
    assert!(
        fake.recorder.calls().is_empty(),
        "{:?}",
        fake.recorder.calls()
    );
    assert_eq!(fake.service_desired(), 1);
    assert!(fake.completed().is_empty());
    assert_eq!(fake.pending_tokens(), vec![TOKEN.to_string()]);
}

#[tokio::test]
async fn bad_input_is_refused_or_ignored_and_writes_nothing() {
    let (fake, _, _) = serving();
    let mut no_token = terminate();
    no_token["detail"]
        .as_object_mut()
        .unwrap()
        .remove("LifecycleActionToken");
    let cases: Vec<(&str, Value, Result<EventKind, &str>)> = vec![
        (
            "foreign Auto Scaling group",
            with(
                &["detail", "AutoScalingGroupName"],
                json!("someone-elses-asg"),
            ),
            Err("not \"cm-asg-dev-mc\""),
        ),
        (
            "unknown detail-type",
            with(&["detail-type"], json!("EC2 Instance Launch Unsuccessful")),
            Err("unsupported detail-type"),
        ),
        (
            "another source",
            with(&["source"], json!("aws.ec2")),
            Err("not aws.autoscaling"),
        ),
        (
            "no instance id",
            with(&["detail", "EC2InstanceId"], Value::Null),
            Err("EC2InstanceId"),
        ),
        (
            "not an instance id",
            with(&["detail", "EC2InstanceId"], json!("../../etc/passwd")),
            Err("is not an instance id"),
        ),
        (
            "not an event at all",
            json!(["a", "list"]),
            Err("not an Auto Scaling EventBridge event"),
        ),
        (
            "terminate without its token",
            no_token,
            Err("LifecycleActionToken"),
        ),
        (
            "launch into the warm pool",
            with(&["detail", "Destination"], json!("WarmPool")),
            Ok(EventKind::Ignored),
        ),
    ];
    for (case, event, expected) in cases {
        match (run(&fake, &event).await, expected) {
            (Err(err), Err(says)) => {
                assert_eq!(err.kind(), "InvalidEvent", "{case}: {err}");
                assert!(err.to_string().contains(says), "{case}: {err}");
            }
            (Ok(outcome), Ok(kind)) => {
                assert_eq!(outcome.event, kind, "{case}");
                assert!(outcome.actions.is_empty(), "{case}");
            }
            (got, expected) => panic!("{case}: got {got:?}, expected {expected:?}"),
        }
    }
    assert!(
        fake.recorder.writes().is_empty(),
        "{:?}",
        fake.recorder.writes()
    );
    assert_eq!(fake.service_desired(), 1);
    assert_eq!(fake.live_tasks().len(), 1);
}

// ------------------------------------------------ out of order and stale

#[tokio::test(start_paused = true)]
async fn a_launch_delivered_after_its_terminate_is_stale_and_changes_nothing() {
    let (fake, _, _) = terminating();
    run(&fake, &terminate()).await.expect("terminate");
    assert!(fake.instances().is_empty(), "the instance left the group");
    let writes = fake.recorder.writes();
    let late = run(&fake, &launch()).await.expect("no error");
    assert_eq!(late.event, EventKind::Ignored);
    assert!(
        late.note
            .as_deref()
            .unwrap_or_default()
            .starts_with("stale launch"),
        "{late:?}"
    );
    assert_eq!(fake.recorder.writes(), writes, "nothing more written");
    assert_eq!(fake.service_desired(), 0);
}

#[tokio::test(start_paused = true)]
async fn a_stale_terminate_of_a_after_b_launched_keeps_bs_service() {
    let (fake, _, _) = terminating();
    run(&fake, &terminate()).await.expect("terminate A");
    // Up again on B.
    fake.add_instance(OTHER, "InService");
    let b = fake.register_container_instance(OTHER);
    let launch_b = event_for("launch-successful.json", OTHER, "");
    assert_eq!(
        run(&fake, &launch_b).await.expect("launch B").event,
        EventKind::Launch
    );
    let b_task = fake.live_tasks();
    assert_eq!(b_task.len(), 1);
    assert_eq!(b_task[0].container_instance, b);
    // A terminate of A registered late arrives now.
    fake.begin_lifecycle_action(HOOK, INSTANCE, "token-a2");
    let stale = event_for("terminate-lifecycle-action.json", INSTANCE, "token-a2");
    let outcome = run(&fake, &stale).await.expect("no error");
    assert!(
        outcome.note.as_deref().unwrap_or_default().contains(OTHER),
        "{outcome:?}"
    );
    assert_eq!(fake.service_desired(), 1, "B keeps the service");
    assert_eq!(fake.live_tasks(), b_task, "B's task runs on");
    assert_eq!(
        fake.completed(),
        vec![
            (INSTANCE.to_string(), "CONTINUE".to_string()),
            (INSTANCE.to_string(), "CONTINUE".to_string()),
        ],
        "A's second action completed too"
    );
    let stops = fake
        .recorder
        .writes()
        .into_iter()
        .filter(|w| w.starts_with("UpdateService") && w.ends_with("desiredCount=0"))
        .count();
    assert_eq!(stops, 1, "only A's first terminate stopped the service");
    assert_eq!(
        fake.recorder.count("UpdateService"),
        2,
        "A's stop and B's start"
    );
}

#[tokio::test(start_paused = true)]
async fn a_duplicate_terminate_with_a_successor_notes_both() {
    let (fake, _, _) = terminating();
    fake.add_instance(OTHER, "Pending");
    fake.register_container_instance(OTHER);
    run(&fake, &terminate()).await.expect("first");
    let again = run(&fake, &terminate()).await.expect("again");
    let note = again.note.unwrap_or_default();
    assert!(
        note.contains(OTHER) && note.contains("already completed"),
        "{note}"
    );
    assert_eq!(fake.service_desired(), 1);
    assert_eq!(fake.completed().len(), 1);
}

// ----------------------------------------------------------------- faults

#[tokio::test]
async fn a_failed_update_service_on_launch_fails_naming_it_and_a_retry_succeeds() {
    let fake = FakeCloud::new(GROUP, CLUSTER, SERVICE);
    fake.add_instance(INSTANCE, "InService");
    fake.recorder.fail("UpdateService", 1);
    let err = run(&fake, &launch()).await.expect_err("the call failed");
    assert_eq!(err.kind(), "AwsError");
    let text = err.to_string();
    assert!(
        text.contains(&format!("UpdateService {CLUSTER}/{SERVICE}")) && text.contains("Throttling"),
        "{text}"
    );
    assert_eq!(fake.service_desired(), 0);
    run(&fake, &launch()).await.expect("Lambda's retry");
    assert_eq!(fake.service_desired(), 1);
}

#[tokio::test(start_paused = true)]
async fn a_failed_update_service_on_terminate_leaves_the_action_for_the_retry() {
    let (fake, _, _) = terminating();
    fake.recorder.fail("UpdateService", 1);
    let err = run(&fake, &terminate()).await.expect_err("the call failed");
    assert!(err.to_string().contains("UpdateService"), "{err}");
    assert!(
        fake.completed().is_empty(),
        "not completed before the drain"
    );
    assert_eq!(fake.recorder.count("CompleteLifecycleAction"), 0);
    let retry = run(&fake, &terminate()).await.expect("Lambda's retry");
    assert_eq!(retry.drained, Some(true));
    assert_eq!(fake.completed(), completed(INSTANCE));
}

#[tokio::test(start_paused = true)]
async fn a_failed_complete_lifecycle_action_fails_naming_it_and_a_retry_completes() {
    let (fake, _, _) = terminating();
    fake.recorder.fail("CompleteLifecycleAction", 1);
    let err = run(&fake, &terminate()).await.expect_err("the call failed");
    assert_eq!(err.kind(), "AwsError");
    assert!(
        err.to_string().contains(&format!(
            "CompleteLifecycleAction {GROUP} {HOOK} {INSTANCE}"
        )),
        "{err}"
    );
    assert!(fake.completed().is_empty());
    assert_eq!(fake.pending_tokens(), vec![TOKEN.to_string()]);
    let retry = run(&fake, &terminate()).await.expect("Lambda's retry");
    assert!(retry.actions.contains(&completion(INSTANCE)), "{retry:?}");
    assert_eq!(retry.note, None);
    assert_eq!(fake.completed(), completed(INSTANCE));
}

#[tokio::test]
async fn a_failed_read_of_the_group_fails_before_anything_is_written() {
    let (fake, _, _) = terminating();
    fake.recorder.fail("DescribeAutoScalingGroups", 2);
    for event in [launch(), terminate()] {
        let err = run(&fake, &event).await.expect_err("the read failed");
        assert!(
            err.to_string()
                .starts_with(&format!("DescribeAutoScalingGroups {GROUP} failed")),
            "{err}"
        );
    }
    assert!(
        fake.recorder.writes().is_empty(),
        "{:?}",
        fake.recorder.writes()
    );
    assert_eq!(fake.service_desired(), 1);
}

#[tokio::test(start_paused = true)]
async fn a_failed_look_at_the_tasks_fails_the_invocation_and_leaves_the_action() {
    let (fake, _, _) = terminating();
    fake.recorder.fail("ListTasks", 1);
    let err = run(&fake, &terminate()).await.expect_err("the look failed");
    assert!(err.to_string().starts_with("ListTasks"), "{err}");
    assert!(fake.completed().is_empty());
    assert_eq!(fake.pending_tokens(), vec![TOKEN.to_string()]);
}

// ----------------------------------------------------------- the response

#[tokio::test(start_paused = true)]
async fn the_response_has_the_fields_the_story_and_the_reliability_tests_read() {
    let (fake, _, _) = terminating();
    let terminate = serde_json::to_value(run(&fake, &terminate()).await.unwrap()).unwrap();
    assert_eq!(terminate["event"], "terminate");
    assert_eq!(terminate["instance_id"], INSTANCE);
    assert_eq!(terminate["drained"], true);
    assert_eq!(terminate["actions"][1]["call"], "CompleteLifecycleAction");
    assert!(terminate.get("still_running").is_none());
    let late = serde_json::to_value(run(&fake, &launch()).await.unwrap()).unwrap();
    assert_eq!(late["event"], "ignored");
    assert!(late["note"].as_str().unwrap_or_default().contains(INSTANCE));
}

// --------------------------------------------------------- scheduled runs

fn found(instances: &[(&str, &str)], service_desired: i32) -> Option<Found> {
    Some(Found {
        instances: instances
            .iter()
            .map(|(id, state)| (id.to_string(), state.to_string()))
            .collect(),
        service_desired,
    })
}

#[tokio::test]
async fn a_missed_launch_is_healed_by_one_scheduled_run() {
    // The group launched the instance; its launch event never reached the sync.
    let fake = FakeCloud::new(GROUP, CLUSTER, SERVICE);
    fake.add_instance(INSTANCE, "InService");
    let container_instance = fake.register_container_instance(INSTANCE);
    let outcome = run(&fake, &tick()).await.expect("success");
    assert_eq!(
        outcome,
        Outcome {
            event: EventKind::Reconcile,
            instance_id: Some(INSTANCE.into()),
            actions: vec![update_service(1)],
            drained: None,
            still_running: Vec::new(),
            note: None,
            found: found(&[(INSTANCE, "InService")], 0),
            custom_resource: None,
        }
    );
    assert_eq!(fake.service_desired(), 1);
    assert_eq!(
        fake.recorder.writes(),
        vec![format!("UpdateService {CLUSTER}/{SERVICE} desiredCount=1")]
    );
    let tasks = fake.live_tasks();
    assert_eq!(tasks.len(), 1);
    assert_eq!(tasks[0].container_instance, container_instance);

    // The next run finds nothing to fix and writes nothing.
    fake.recorder.clear();
    let again = run(&fake, &tick()).await.expect("success");
    assert!(again.actions.is_empty(), "{again:?}");
    assert!(
        fake.recorder.writes().is_empty(),
        "{:?}",
        fake.recorder.writes()
    );
}

#[tokio::test]
async fn a_missed_terminate_is_healed_by_one_scheduled_run() {
    // The instance went (its terminate event never reached the sync, and the hook
    // timed out): the group is empty and the service still wants a task.
    let (fake, _, _) = serving();
    fake.remove_instance(INSTANCE);
    assert_eq!(fake.service_desired(), 1);
    let outcome = run(&fake, &tick()).await.expect("success");
    assert_eq!(outcome.event, EventKind::Reconcile);
    assert_eq!(outcome.instance_id, None);
    assert_eq!(outcome.actions, vec![update_service(0)]);
    assert_eq!(outcome.found, found(&[], 1));
    assert_eq!(fake.service_desired(), 0);
    assert_eq!(
        fake.recorder.writes(),
        vec![format!("UpdateService {CLUSTER}/{SERVICE} desiredCount=0")]
    );
}

#[tokio::test]
async fn a_console_edit_of_the_count_is_put_back() {
    let (fake, _, _) = serving();
    fake.scale_service(3);
    let outcome = run(&fake, &tick()).await.expect("success");
    assert_eq!(outcome.actions, vec![update_service(1)]);
    assert_eq!(outcome.found, found(&[(INSTANCE, "InService")], 3));
    assert_eq!(fake.service_desired(), 1);
}

#[tokio::test]
async fn a_scheduled_run_with_nothing_to_fix_only_reads() {
    let empty = FakeCloud::new(GROUP, CLUSTER, SERVICE);
    let (serving, _, task) = serving();
    for (fake, says) in [
        (&serving, "is InService"),
        (&empty, "no instance is InService"),
    ] {
        let outcome = run(fake, &tick()).await.expect("success");
        assert_eq!(outcome.event, EventKind::Reconcile);
        assert!(outcome.actions.is_empty(), "{outcome:?}");
        let note = outcome.note.unwrap_or_default();
        assert!(
            note.starts_with("nothing to fix") && note.contains(says),
            "{note}"
        );
        assert!(
            fake.recorder.writes().is_empty(),
            "{:?}",
            fake.recorder.writes()
        );
        assert_eq!(
            fake.recorder.calls(),
            vec![
                format!("DescribeAutoScalingGroups {GROUP}"),
                format!("DescribeServices {CLUSTER}/{SERVICE}"),
            ]
        );
    }
    assert_eq!(
        serving.live_tasks()[0].arn,
        task,
        "the running task was left alone"
    );
}

#[tokio::test]
async fn a_pending_instance_is_left_to_its_launch_event() {
    let fake = FakeCloud::new(GROUP, CLUSTER, SERVICE);
    fake.add_instance(INSTANCE, "Pending:Wait");
    let outcome = run(&fake, &tick()).await.expect("success");
    assert!(outcome.actions.is_empty(), "{outcome:?}");
    assert!(outcome
        .note
        .unwrap_or_default()
        .contains(&format!("{INSTANCE} is Pending:Wait")),);
    assert!(fake.recorder.writes().is_empty());
}

#[tokio::test]
async fn a_waiting_action_whose_task_is_gone_is_completed_by_instance_id() {
    // The terminate event's drain stopped the task but never completed the action
    // (it timed out, or its invocation failed for good).
    let (fake, container_instance, _) = terminating();
    fake.scale_service(0);
    let look = fake.running_service_tasks(CLUSTER, SERVICE, &container_instance);
    assert!(look.await.unwrap().is_empty(), "the task has stopped");
    fake.recorder.clear();
    let outcome = run(&fake, &tick()).await.expect("success");
    assert_eq!(outcome.actions, vec![completion(INSTANCE)]);
    assert_eq!(outcome.instance_id, None);
    assert_eq!(outcome.found, found(&[(INSTANCE, "Terminating:Wait")], 0));
    assert_eq!(fake.completed(), completed(INSTANCE));
    assert!(fake.pending_tokens().is_empty());
    assert_eq!(
        fake.recorder.writes(),
        vec![format!(
            "CompleteLifecycleAction {GROUP} {HOOK} {INSTANCE} CONTINUE"
        )],
        "by instance id: a scheduled run has no token"
    );
    assert!(fake.recorder.calls().contains(&format!(
        "ListTasks {CLUSTER} {container_instance} service:{SERVICE}"
    )));

    // The event's own invocation, retried now, finds the action done.
    let late = run(&fake, &terminate()).await.expect("no error");
    assert!(
        late.note
            .as_deref()
            .unwrap_or_default()
            .contains("already completed"),
        "{late:?}"
    );
    assert_eq!(fake.completed().len(), 1);
}

#[tokio::test]
async fn a_waiting_action_of_an_instance_that_never_registered_is_completed() {
    let fake = FakeCloud::new(GROUP, CLUSTER, SERVICE);
    fake.add_instance(INSTANCE, "InService");
    fake.begin_lifecycle_action(HOOK, INSTANCE, TOKEN);
    let outcome = run(&fake, &tick()).await.expect("success");
    assert_eq!(outcome.actions, vec![completion(INSTANCE)]);
    assert_eq!(fake.recorder.count("ListTasks"), 0);
    assert_eq!(fake.completed(), completed(INSTANCE));
}

#[tokio::test]
async fn a_terminating_instance_whose_task_still_runs_is_left_alone() {
    // The terminate event's drain is under way: the service is at 0 and the
    // container is still saving the world.
    let (fake, _, task) = terminating();
    fake.tasks_never_stop();
    fake.scale_service(0);
    let outcome = run(&fake, &tick()).await.expect("success");
    assert!(outcome.actions.is_empty(), "{outcome:?}");
    let note = outcome.note.unwrap_or_default();
    assert!(
        note.contains(&format!("{INSTANCE} is Terminating:Wait"))
            && note.contains(&task)
            && note.contains("left to its terminate event's drain"),
        "{note}"
    );
    assert!(
        fake.recorder.writes().is_empty(),
        "{:?}",
        fake.recorder.writes()
    );
    assert_eq!(fake.pending_tokens(), vec![TOKEN.to_string()]);
    assert!(fake.completed().is_empty());
}

#[tokio::test]
async fn a_missed_terminate_with_a_running_task_stops_it_then_completes_on_the_next_run() {
    // No terminate event at all: the first run stops the service (as the event's
    // drain would) and does not wait; the next run completes the action.
    let (fake, _, _) = terminating();
    // Told to stop, the task has stopped by the next look.
    fake.tasks_stop_after_looks(0);
    let first = run(&fake, &tick()).await.expect("first run");
    assert_eq!(first.actions, vec![update_service(0)]);
    assert!(fake.completed().is_empty(), "the task was still running");
    let second = run(&fake, &tick()).await.expect("second run");
    assert_eq!(second.actions, vec![completion(INSTANCE)]);
    assert_eq!(fake.completed(), completed(INSTANCE));
    let third = run(&fake, &tick()).await.expect("third run");
    assert!(third.actions.is_empty(), "{third:?}");
}

#[tokio::test]
async fn a_successor_keeps_the_service_while_the_old_action_is_completed() {
    let (fake, old, _) = terminating();
    fake.add_instance(OTHER, "InService");
    fake.register_container_instance(OTHER);
    // The old instance's task moved already; its action is still waiting.
    fake.drain_container_instance(CLUSTER, &old).await.unwrap();
    fake.recorder.clear();
    let outcome = run(&fake, &tick()).await.expect("success");
    assert_eq!(outcome.instance_id.as_deref(), Some(OTHER));
    assert_eq!(outcome.actions, vec![completion(INSTANCE)]);
    assert_eq!(fake.service_desired(), 1);
    assert_eq!(fake.live_tasks().len(), 1);
}

#[tokio::test]
async fn without_the_hook_configured_a_waiting_action_is_reported_not_completed() {
    let (fake, _, _) = terminating();
    fake.scale_service(0);
    let mut config = config();
    config.lifecycle_hook = None;
    let outcome = handle(&config, &fake, &tick(), LONG)
        .await
        .expect("success");
    assert!(outcome.actions.is_empty(), "{outcome:?}");
    assert!(outcome
        .note
        .unwrap_or_default()
        .contains("LIFECYCLE_HOOK_NAME is not set"),);
    assert!(fake.recorder.writes().is_empty());
    assert_eq!(fake.pending_tokens(), vec![TOKEN.to_string()]);
}

#[tokio::test]
async fn a_scheduled_run_with_a_failed_read_writes_nothing_and_names_the_call() {
    for operation in [
        "DescribeAutoScalingGroups",
        "DescribeServices",
        "ListContainerInstances",
        "ListTasks",
    ] {
        let (fake, _, _) = terminating();
        fake.recorder.fail(operation, 1);
        let err = run(&fake, &tick()).await.expect_err(operation);
        assert_eq!(err.kind(), "AwsError");
        assert!(err.to_string().starts_with(operation), "{operation}: {err}");
        assert!(
            fake.recorder.writes().is_empty(),
            "{operation}: {:?}",
            fake.recorder.writes()
        );
        assert_eq!(fake.service_desired(), 1);
    }
}

#[tokio::test]
async fn a_scheduled_run_with_a_failed_write_fails_naming_it_and_the_next_run_heals() {
    let fake = FakeCloud::new(GROUP, CLUSTER, SERVICE);
    fake.add_instance(INSTANCE, "InService");
    fake.recorder.fail("UpdateService", 1);
    let err = run(&fake, &tick()).await.expect_err("the call failed");
    assert!(
        err.to_string()
            .starts_with(&format!("UpdateService {CLUSTER}/{SERVICE}")),
        "{err}"
    );
    assert_eq!(fake.service_desired(), 0);
    run(&fake, &tick()).await.expect("the next run");
    assert_eq!(fake.service_desired(), 1);

    let (fake, _, _) = terminating();
    fake.scale_service(0);
    fake.recorder.fail("CompleteLifecycleAction", 1);
    let err = run(&fake, &tick()).await.expect_err("the call failed");
    assert!(
        err.to_string().starts_with(&format!(
            "CompleteLifecycleAction {GROUP} {HOOK} {INSTANCE}"
        )),
        "{err}"
    );
    assert_eq!(fake.pending_tokens(), vec![TOKEN.to_string()]);
    let next = run(&fake, &tick()).await.expect("the next run");
    assert_eq!(next.actions, vec![completion(INSTANCE)]);
}

#[tokio::test]
async fn a_scheduled_run_answers_in_the_responses_shape() {
    let (fake, _, _) = serving();
    fake.scale_service(0);
    let response = serde_json::to_value(run(&fake, &tick()).await.unwrap()).unwrap();
    assert_eq!(
        response,
        json!({
            "event": "reconcile",
            "instance_id": INSTANCE,
            "actions": [{"call": "UpdateService", "cluster": CLUSTER, "service": SERVICE,
                         "desired_count": 1}],
            "found": {"instances": {INSTANCE: "InService"}, "service_desired": 0},
        })
    );
}

#[tokio::test]
async fn other_events_of_aws_events_are_refused_before_any_call() {
    let (fake, _, _) = serving();
    let mut other = tick();
    other["detail-type"] = "Object Created".into();
    let err = run(&fake, &other).await.expect_err("refused");
    assert_eq!(err.kind(), "InvalidEvent");
    assert!(
        err.to_string().contains("expected \"Scheduled Event\""),
        "{err}"
    );
    assert!(fake.recorder.calls().is_empty());
}

// ------------------------------------- CloudFormation's custom resource (deploys)

/// The stable physical id of the stack's `ServiceReconcile`.
const PHYSICAL_ID: &str = "cm-cluster-dev-mc/cm-service-dev-mc";

/// The sample request `events/asg-ecs-sync/service-reconcile-<kind>.json`.
fn request(kind: &str) -> Value {
    cm_testkit::events::sample(&format!("asg-ecs-sync/service-reconcile-{kind}.json"))
}

/// The one answer the fake took, checked against `request`: PUT to its ResponseURL,
/// naming its stack, request and logical resource.
fn the_answer(fake: &FakeCloud, request: &Value) -> Value {
    let answers = fake.answers();
    assert_eq!(answers.len(), 1, "{answers:?}");
    let (url, answer) = answers.into_iter().next().unwrap();
    assert_eq!(Some(url.as_str()), request["ResponseURL"].as_str());
    for key in ["StackId", "RequestId", "LogicalResourceId"] {
        assert_eq!(answer[key], request[key], "{key} in {answer}");
    }
    answer
}

#[tokio::test]
async fn a_create_with_no_instance_leaves_the_service_at_0_and_answers_success() {
    let fake = FakeCloud::new(GROUP, CLUSTER, SERVICE);
    let create = request("create");
    let outcome = run(&fake, &create).await.expect("answered");
    assert!(outcome.actions.is_empty(), "{outcome:?}");
    assert_eq!(fake.service_desired(), 0);
    assert_eq!(
        fake.recorder.writes(),
        ["RespondToCloudFormation ServiceReconcile Create SUCCESS"]
    );
    let answer = the_answer(&fake, &create);
    assert_eq!(answer["Status"], "SUCCESS");
    assert_eq!(answer["PhysicalResourceId"], PHYSICAL_ID);
    assert_eq!(answer["Data"], json!({"DesiredCount": "0"}));
    let answered = outcome.custom_resource.expect("the answer in the outcome");
    assert_eq!(
        (answered.request_type.as_str(), answered.status),
        ("Create", "SUCCESS")
    );
}

#[tokio::test]
async fn an_update_that_set_the_service_to_0_while_an_instance_serves_puts_it_back_to_1() {
    // CloudFormation just updated the service to the new task definition with the
    // template's DesiredCount 0: its task is stopping while the instance bills.
    let (fake, _, _) = serving();
    fake.scale_service(0);
    let update = request("update");
    let outcome = run(&fake, &update).await.expect("answered");
    assert_eq!(outcome.event, EventKind::Reconcile);
    assert_eq!(outcome.actions, vec![update_service(1)]);
    assert_eq!(fake.service_desired(), 1);
    assert_eq!(fake.live_tasks().len(), 1);
    let answer = the_answer(&fake, &update);
    assert_eq!(answer["Status"], "SUCCESS");
    assert_eq!(answer["PhysicalResourceId"], update["PhysicalResourceId"]);
    assert_eq!(answer["Data"], json!({"DesiredCount": "1"}));
    assert!(
        answer["Reason"]
            .as_str()
            .is_some_and(|r| r.contains(INSTANCE)),
        "{answer}"
    );
    // The UpdateService came before the answer: the stack completes with it done.
    let calls = fake.recorder.writes();
    assert_eq!(
        calls,
        [
            format!("UpdateService {CLUSTER}/{SERVICE} desiredCount=1"),
            "RespondToCloudFormation ServiceReconcile Update SUCCESS".to_string()
        ]
    );
}

#[tokio::test]
async fn an_update_with_no_instance_leaves_the_service_at_0() {
    let fake = FakeCloud::new(GROUP, CLUSTER, SERVICE);
    let update = request("update");
    let outcome = run(&fake, &update).await.expect("answered");
    assert!(outcome.actions.is_empty());
    assert_eq!(fake.service_desired(), 0);
    assert_eq!(the_answer(&fake, &update)["Status"], "SUCCESS");
}

#[tokio::test]
async fn a_delete_changes_nothing_and_answers_success_with_the_same_id() {
    let (fake, _, _) = serving();
    let delete = request("delete");
    run(&fake, &delete).await.expect("answered");
    assert_eq!(
        fake.recorder.calls(),
        ["RespondToCloudFormation ServiceReconcile Delete SUCCESS"]
    );
    assert_eq!(fake.service_desired(), 1);
    let answer = the_answer(&fake, &delete);
    assert_eq!(answer["Status"], "SUCCESS");
    assert_eq!(answer["PhysicalResourceId"], PHYSICAL_ID);
}

#[tokio::test]
async fn a_failed_call_is_answered_failed_naming_it() {
    for (operation, names) in [
        (
            "UpdateService",
            format!("UpdateService {CLUSTER}/{SERVICE} desiredCount=1"),
        ),
        (
            "DescribeAutoScalingGroups",
            format!("DescribeAutoScalingGroups {GROUP}"),
        ),
    ] {
        let (fake, _, _) = serving();
        fake.scale_service(0);
        fake.recorder.fail(operation, 1);
        let update = request("update");
        let outcome = run(&fake, &update).await.expect("answered, not an error");
        let answer = the_answer(&fake, &update);
        assert_eq!(answer["Status"], "FAILED", "{operation}");
        let reason = answer["Reason"].as_str().unwrap_or_default();
        assert!(reason.starts_with(&names), "{operation}: {reason}");
        assert_eq!(answer["PhysicalResourceId"], PHYSICAL_ID);
        assert_eq!(
            outcome.custom_resource.map(|a| a.status),
            Some("FAILED"),
            "{operation}"
        );
        assert_eq!(fake.service_desired(), 0, "{operation}");
    }
}

#[tokio::test]
async fn a_request_for_another_service_or_an_unreadable_one_is_answered_failed_and_changes_nothing()
{
    let mut other_service = request("update");
    other_service["ResourceProperties"]["ServiceName"] = "cm-service-prod-mc".into();
    let mut no_group = request("create");
    no_group["ResourceProperties"]
        .as_object_mut()
        .unwrap()
        .remove("AutoScalingGroupName");
    let mut unknown_type = request("update");
    unknown_type["RequestType"] = "Upgrade".into();
    let mut no_stack = request("create");
    no_stack.as_object_mut().unwrap().remove("StackId");
    for (case, event, says) in [
        (
            "another service",
            other_service,
            "ResourceProperties.ServiceName is \"cm-service-prod-mc\", but this function's \
             ECS_SERVICE_NAME is \"cm-service-dev-mc\"",
        ),
        (
            "no group",
            no_group,
            "ResourceProperties.AutoScalingGroupName is missing",
        ),
        (
            "unknown request type",
            unknown_type,
            "not a CloudFormation custom resource request",
        ),
        (
            "no stack id",
            no_stack,
            "not a CloudFormation custom resource request",
        ),
    ] {
        let (fake, _, _) = serving();
        fake.scale_service(0);
        run(&fake, &event).await.expect("answered");
        let answers = fake.answers();
        assert_eq!(answers.len(), 1, "{case}");
        let answer = &answers[0].1;
        assert_eq!(answer["Status"], "FAILED", "{case}");
        assert!(
            answer["Reason"].as_str().is_some_and(|r| r.contains(says)),
            "{case}: {answer}"
        );
        assert_eq!(
            fake.recorder.calls().len(),
            1,
            "{case}: {:?}",
            fake.recorder.calls()
        );
        assert_eq!(fake.service_desired(), 0, "{case}");
    }
}

#[tokio::test]
async fn an_answer_that_cannot_be_delivered_fails_the_invocation_for_lambdas_retry() {
    let (fake, _, _) = serving();
    fake.scale_service(0);
    fake.recorder.fail("RespondToCloudFormation", 1);
    let err = run(&fake, &request("update"))
        .await
        .expect_err("undelivered");
    assert_eq!(err.kind(), "HttpError");
    assert!(
        err.to_string()
            .starts_with("PUT the answer to Update of ServiceReconcile"),
        "{err}"
    );
    // The retry converges again (nothing left to do) and answers.
    let outcome = run(&fake, &request("update")).await.expect("answered");
    assert!(outcome.actions.is_empty());
    assert_eq!(fake.answers().len(), 1);
    assert_eq!(fake.service_desired(), 1);
}

#[tokio::test]
async fn a_request_without_a_usable_response_url_is_refused_before_any_call() {
    let (fake, _, _) = serving();
    let mut event = request("create");
    event["ResponseURL"] = "file:///etc/passwd".into();
    let err = run(&fake, &event).await.expect_err("refused");
    assert_eq!(err.kind(), "InvalidEvent");
    assert!(err.to_string().contains("ResponseURL"), "{err}");
    assert!(fake.recorder.calls().is_empty());
}

#[tokio::test]
async fn the_answer_never_carries_the_signed_url_into_the_outcome() {
    let fake = FakeCloud::new(GROUP, CLUSTER, SERVICE);
    let outcome = run(&fake, &request("create")).await.expect("answered");
    let text = serde_json::to_string(&outcome).unwrap();
    assert!(!text.contains("X-Amz-Signature"), "{text}");
}
