#![cfg(feature = "emulator")]
//! The ECS sync against the local AWS emulator: an ASG with a terminate lifecycle hook,
//! an ECS cluster, task definition and service, each event shape, and the scheduled
//! run healing what missed events left behind.

use std::collections::HashMap;
use std::path::Path;
use std::time::{Duration, Instant};

use asg_ecs_sync::{handle, Action, AwsCloud, Cloud, Completion, Config, EventKind};
use aws_sdk_autoscaling::Client as AutoScaling;
use aws_sdk_ecs::types::{Compatibility, ContainerDefinition, NetworkMode};
use aws_sdk_ecs::Client as Ecs;
use cm_core::Env;
use cm_testkit::{asg, Emulator, Function, Outcome};
use serde_json::{json, Value};

const GROUP: &str = "cm-asg-dev-mc";
const HOOK: &str = "cm-hook-dev-mc-drain";
const CLUSTER: &str = "cm-cluster-dev-mc";
const SERVICE: &str = "cm-service-dev-mc";
const TOKEN: &str = "71514b9d-6a40-4b26-8523-05e7eEXAMPLE";
const LONG: Duration = Duration::from_secs(900);

struct Setup {
    emulator: Emulator,
    autoscaling: AutoScaling,
    ecs: Ecs,
    cloud: AwsCloud,
    vars: HashMap<String, String>,
    /// The group's first instance, registered in the cluster and running the task.
    instance: String,
    container_instance: String,
    task: String,
}

impl Setup {
    fn config(&self) -> Config {
        Config::from_env(Env::from_map(&self.vars)).expect("valid configuration")
    }

    /// The function's binary behind its own Runtime API server, with this set-up's
    /// variables.
    fn binary(&self) -> Function {
        let vars: Vec<(String, String)> = self.vars.clone().into_iter().collect();
        Function::start(
            Path::new(env!("CARGO_BIN_EXE_asg-ecs-sync")),
            &self.emulator,
            &vars,
        )
    }

    async fn run(
        &self,
        event: &Value,
        time_left: Duration,
    ) -> Result<asg_ecs_sync::Outcome, cm_core::Error> {
        handle(&self.config(), &self.cloud, event, time_left).await
    }

    async fn service_desired(&self) -> i32 {
        let out = self
            .ecs
            .describe_services()
            .cluster(CLUSTER)
            .services(SERVICE)
            .send()
            .await
            .expect("describe");
        out.services()[0].desired_count()
    }

    fn event(&self, name: &str) -> Value {
        asg::sample_event(name, GROUP, &self.instance)
    }

    /// A tick of the sync's schedule.
    fn tick(&self) -> Value {
        cm_testkit::events::sample("asg/scheduled-event.json")
    }

    async fn set_service_desired(&self, count: i32) {
        self.ecs
            .update_service()
            .cluster(CLUSTER)
            .service(SERVICE)
            .desired_count(count)
            .send()
            .await
            .expect("update service");
    }

    fn begin_terminate(&self) {
        self.emulator
            .begin_lifecycle_action(GROUP, HOOK, &self.instance, TOKEN);
    }

    fn completed(&self) -> Vec<(String, String)> {
        self.emulator.lifecycle_actions()["completed"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .iter()
            .map(|a| {
                (
                    a["InstanceId"].as_str().unwrap_or("").to_string(),
                    a["LifecycleActionResult"]
                        .as_str()
                        .unwrap_or("")
                        .to_string(),
                )
            })
            .collect()
    }

    /// Stops the service's task after `delay`, as ECS does when it drains.
    fn stop_task_after(&self, delay: Duration) {
        let (ecs, task) = (self.ecs.clone(), self.task.clone());
        tokio::spawn(async move {
            tokio::time::sleep(delay).await;
            ecs.stop_task()
                .cluster(CLUSTER)
                .task(task)
                .reason("Scaling activity initiated by (deployment)")
                .send()
                .await
                .expect("stop task");
        });
    }
}

async fn setup(group_size: i32, drain_timeout: &str) -> Setup {
    let emulator = Emulator::start();
    let sdk = emulator.sdk_config().await;
    let autoscaling = AutoScaling::new(&sdk);
    let ecs = Ecs::new(&sdk);
    asg::create_group(&autoscaling, GROUP, "us-east-1a", 1)
        .await
        .expect("group");
    asg::put_terminate_hook(&autoscaling, GROUP, HOOK)
        .await
        .expect("hook");
    if group_size > 1 {
        autoscaling
            .update_auto_scaling_group()
            .auto_scaling_group_name(GROUP)
            .max_size(group_size)
            .desired_capacity(group_size)
            .send()
            .await
            .expect("grow the group");
    }
    let instances = asg::instances(&autoscaling, GROUP).await;
    let instance = instances[0].0.clone();
    ecs.create_cluster()
        .cluster_name(CLUSTER)
        .send()
        .await
        .expect("cluster");
    ecs.register_task_definition()
        .family("cm-task-dev-mc")
        .requires_compatibilities(Compatibility::Ec2)
        .network_mode(NetworkMode::Bridge)
        .container_definitions(
            ContainerDefinition::builder()
                .name("minecraft")
                .image("itzg/minecraft-server:latest")
                .memory(3584)
                .essential(true)
                .build(),
        )
        .send()
        .await
        .expect("task definition");
    ecs.create_service()
        .cluster(CLUSTER)
        .service_name(SERVICE)
        .task_definition("cm-task-dev-mc")
        .desired_count(1)
        .send()
        .await
        .expect("service");
    let identity = json!({"instanceId": instance, "region": "us-east-1", "accountId": "123456789012",
                          "availabilityZone": "us-east-1a", "instanceType": "t3.medium"});
    let registered = ecs
        .register_container_instance()
        .cluster(CLUSTER)
        .instance_identity_document(identity.to_string())
        .send()
        .await
        .expect("register container instance");
    let container_instance = registered
        .container_instance()
        .and_then(|c| c.container_instance_arn())
        .expect("container instance arn")
        .to_string();
    let started = ecs
        .start_task()
        .cluster(CLUSTER)
        .task_definition("cm-task-dev-mc")
        .container_instances(&container_instance)
        .group(format!("service:{SERVICE}"))
        .started_by("ecs-svc/1234567890123456789")
        .send()
        .await
        .expect("start the service's task");
    let task = started.tasks()[0].task_arn().expect("task arn").to_string();
    let vars: HashMap<String, String> = [
        ("ASG_NAME", GROUP),
        ("ECS_CLUSTER_NAME", CLUSTER),
        ("ECS_SERVICE_NAME", SERVICE),
        ("DRAIN_TIMEOUT_SECONDS", drain_timeout),
        ("DRAIN_POLL_SECONDS", "1"),
        ("LIFECYCLE_HOOK_NAME", HOOK),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    emulator.reset_counts();
    Setup {
        cloud: AwsCloud::new(&sdk),
        emulator,
        autoscaling,
        ecs,
        vars,
        instance,
        container_instance,
        task,
    }
}

#[tokio::test]
async fn a_launch_sets_the_service_to_one() {
    let s = setup(1, "30").await;
    s.ecs
        .update_service()
        .cluster(CLUSTER)
        .service(SERVICE)
        .desired_count(0)
        .send()
        .await
        .unwrap();
    for name in ["launch-successful.json", "launch-from-warm-pool.json"] {
        s.ecs
            .update_service()
            .cluster(CLUSTER)
            .service(SERVICE)
            .desired_count(0)
            .send()
            .await
            .unwrap();
        let summary = s.run(&s.event(name), LONG).await.expect("success");
        assert_eq!(summary.event, EventKind::Launch, "{name}");
        assert_eq!(s.service_desired().await, 1, "{name}");
    }
}

#[tokio::test]
async fn a_launch_into_the_warm_pool_changes_nothing() {
    let s = setup(1, "30").await;
    s.ecs
        .update_service()
        .cluster(CLUSTER)
        .service(SERVICE)
        .desired_count(0)
        .send()
        .await
        .unwrap();
    s.emulator.reset_counts();
    let summary = s
        .run(&s.event("launch-into-warm-pool.json"), LONG)
        .await
        .expect("success");
    assert_eq!(summary.event, EventKind::Ignored);
    assert_eq!(s.service_desired().await, 0);
    assert!(s.emulator.writes().is_empty(), "{:?}", s.emulator.calls());
}

#[tokio::test]
async fn a_terminate_stops_the_service_waits_for_the_drain_then_completes() {
    let s = setup(1, "60").await;
    s.begin_terminate();
    s.stop_task_after(Duration::from_millis(1500));
    let started = Instant::now();
    let summary = s
        .run(&s.event("terminate-lifecycle-action.json"), LONG)
        .await
        .expect("success");
    assert!(
        started.elapsed() >= Duration::from_millis(1400),
        "it waited for the task to stop"
    );
    assert_eq!(summary.drained, Some(true));
    assert!(summary.still_running.is_empty());
    assert_eq!(s.service_desired().await, 0);
    assert_eq!(
        s.completed(),
        vec![(s.instance.clone(), "CONTINUE".to_string())]
    );
    assert!(
        s.emulator.call_count("ecs:ListTasks") >= 2,
        "it polled: {:?}",
        s.emulator.calls()
    );

    // The same event again: same end state, no error.
    let again = s
        .run(&s.event("terminate-lifecycle-action.json"), LONG)
        .await
        .expect("a duplicate is no error");
    assert!(again.note.unwrap_or_default().contains("already completed"));
    assert_eq!(s.service_desired().await, 0);
    assert_eq!(s.completed().len(), 1);
}

#[tokio::test]
async fn a_drain_that_times_out_still_completes_and_names_what_ran() {
    let s = setup(1, "2").await;
    s.begin_terminate();
    let started = Instant::now();
    let summary = s
        .run(&s.event("terminate-lifecycle-action.json"), LONG)
        .await
        .expect("success");
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_secs(2) && waited < Duration::from_secs(20),
        "{waited:?}"
    );
    assert_eq!(summary.drained, Some(false));
    assert_eq!(summary.still_running, vec![s.task.clone()]);
    assert_eq!(
        s.completed(),
        vec![(s.instance.clone(), "CONTINUE".to_string())]
    );
}

#[tokio::test]
async fn the_drain_is_bounded_by_the_invocations_remaining_time() {
    let s = setup(1, "300").await;
    s.begin_terminate();
    let started = Instant::now();
    let time_left = asg_ecs_sync::COMPLETE_MARGIN + Duration::from_secs(2);
    let summary = s
        .run(&s.event("terminate-lifecycle-action.json"), time_left)
        .await
        .expect("success");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(summary.drained, Some(false));
    assert_eq!(s.completed().len(), 1, "completed before the deadline");
}

#[tokio::test]
async fn a_successor_keeps_the_service_and_the_old_instance_is_drained_by_ecs() {
    let s = setup(2, "30").await;
    let successor = asg::instances(&s.autoscaling, GROUP).await[1].0.clone();
    s.begin_terminate();
    s.stop_task_after(Duration::from_millis(500));
    let summary = s
        .run(&s.event("terminate-lifecycle-action.json"), LONG)
        .await
        .expect("success");
    assert_eq!(
        s.service_desired().await,
        1,
        "the new instance needs the task"
    );
    assert!(summary.note.unwrap_or_default().contains(&successor));
    assert!(
        summary.actions.iter().any(|a| matches!(
            a,
            Action::UpdateContainerInstancesState { container_instance, .. }
                if *container_instance == s.container_instance
        )),
        "{:?}",
        summary.actions
    );
    let described = s
        .ecs
        .describe_container_instances()
        .cluster(CLUSTER)
        .container_instances(&s.container_instance)
        .send()
        .await
        .unwrap();
    assert_eq!(
        described.container_instances()[0].status(),
        Some("DRAINING")
    );
    assert_eq!(
        s.completed(),
        vec![(s.instance.clone(), "CONTINUE".to_string())]
    );
}

#[tokio::test]
async fn foreign_groups_unknown_types_and_missing_fields_change_nothing() {
    let s = setup(1, "30").await;
    s.begin_terminate();
    let mut foreign = s.event("terminate-lifecycle-action.json");
    foreign["detail"]["AutoScalingGroupName"] = "someone-elses-asg".into();
    let mut unknown = s.event("launch-successful.json");
    unknown["detail-type"] = "EC2 Instance Terminate Successful".into();
    let mut no_hook = s.event("terminate-lifecycle-action.json");
    no_hook["detail"]
        .as_object_mut()
        .unwrap()
        .remove("LifecycleHookName");
    for (event, expected) in [
        (foreign, "not \"cm-asg-dev-mc\""),
        (unknown, "unsupported detail-type"),
        (no_hook, "detail.LifecycleHookName is missing"),
    ] {
        let err = s.run(&event, LONG).await.expect_err("an error");
        assert!(
            err.to_string().contains(expected),
            "{err} should say {expected}"
        );
    }
    assert!(s.emulator.calls().is_empty(), "{:?}", s.emulator.calls());
    assert_eq!(s.service_desired().await, 1);
    assert!(s.completed().is_empty());
}

#[tokio::test]
async fn the_binary_follows_a_launch_behind_the_runtime_api() {
    let s = setup(1, "30").await;
    s.set_service_desired(0).await;
    let function = s.binary();
    let outcome = function.try_invoke(s.event("launch-successful.json"));
    drop(function);
    assert_eq!(
        outcome
            .as_ref()
            .and_then(Outcome::response)
            .map(|r| r["event"].clone()),
        Some("launch".into())
    );
    assert_eq!(s.service_desired().await, 1);
}

// ---------------------------------------------------------- scheduled runs

#[tokio::test]
async fn a_missed_launch_is_healed_by_one_scheduled_run() {
    let s = setup(1, "30").await;
    // The instance is InService; its launch event never reached the sync.
    s.set_service_desired(0).await;
    s.emulator.reset_counts();
    let outcome = s.run(&s.tick(), LONG).await.expect("success");
    assert_eq!(outcome.event, EventKind::Reconcile);
    assert_eq!(outcome.instance_id.as_deref(), Some(s.instance.as_str()));
    assert_eq!(s.service_desired().await, 1);
    let writes = s.emulator.writes();
    assert_eq!(
        writes,
        [("ecs:UpdateService".to_string(), 1)].into(),
        "{:?}",
        s.emulator.calls()
    );
}

#[tokio::test]
async fn a_missed_terminate_is_healed_by_one_scheduled_run() {
    let s = setup(1, "30").await;
    // The group went to 0 and its instance is gone; the service still wants a task.
    s.autoscaling
        .update_auto_scaling_group()
        .auto_scaling_group_name(GROUP)
        .desired_capacity(0)
        .send()
        .await
        .expect("scale in");
    assert!(asg::instances(&s.autoscaling, GROUP).await.is_empty());
    assert_eq!(s.service_desired().await, 1);
    s.emulator.reset_counts();
    let outcome = s.run(&s.tick(), LONG).await.expect("success");
    assert_eq!(outcome.instance_id, None);
    assert_eq!(s.service_desired().await, 0);
    assert_eq!(
        s.emulator.writes(),
        [("ecs:UpdateService".to_string(), 1)].into(),
        "{:?}",
        s.emulator.calls()
    );
}

#[tokio::test]
async fn a_scheduled_run_with_nothing_to_fix_makes_no_write_call() {
    let s = setup(1, "30").await;
    let outcome = s.run(&s.tick(), LONG).await.expect("success");
    assert!(outcome.actions.is_empty(), "{outcome:?}");
    assert!(outcome
        .note
        .unwrap_or_default()
        .starts_with("nothing to fix"),);
    assert!(s.emulator.writes().is_empty(), "{:?}", s.emulator.calls());
    assert_eq!(
        s.emulator
            .call_count("autoscaling:DescribeAutoScalingGroups"),
        1
    );
    assert_eq!(s.emulator.call_count("ecs:DescribeServices"), 1);
    assert_eq!(s.service_desired().await, 1);
}

#[tokio::test]
async fn the_binary_heals_a_missed_launch_on_the_scheduled_event() {
    let s = setup(1, "30").await;
    s.set_service_desired(0).await;
    let function = s.binary();
    let outcome = function.try_invoke(s.tick());
    drop(function);
    let response = outcome.as_ref().and_then(Outcome::response).cloned();
    assert_eq!(
        response.as_ref().map(|r| r["event"].clone()),
        Some("reconcile".into()),
        "{outcome:?}"
    );
    assert_eq!(s.service_desired().await, 1);
}

#[tokio::test]
async fn a_waiting_action_is_completed_by_instance_id_without_a_token() {
    // What a scheduled run sends: the group, the hook and the instance, no token.
    let s = setup(1, "30").await;
    s.begin_terminate();
    let completion = s
        .cloud
        .complete_lifecycle_action(GROUP, HOOK, &s.instance, None)
        .await
        .expect("completed");
    assert_eq!(completion, Completion::Completed);
    assert_eq!(
        s.completed(),
        vec![(s.instance.clone(), "CONTINUE".to_string())]
    );
    let again = s
        .cloud
        .complete_lifecycle_action(GROUP, HOOK, &s.instance, None)
        .await
        .expect("no error");
    assert!(
        matches!(&again, Completion::AlreadyDone(m) if m.contains("No active Lifecycle Action found")),
        "{again:?}"
    );
}

#[tokio::test]
async fn the_service_count_is_read_and_an_unknown_service_is_named() {
    let s = setup(1, "30").await;
    assert_eq!(s.cloud.desired_count(CLUSTER, SERVICE).await.unwrap(), 1);
    let err = s
        .cloud
        .desired_count(CLUSTER, "no-such-service")
        .await
        .expect_err("unknown service");
    assert!(
        err.to_string().starts_with(&format!(
            "DescribeServices {CLUSTER}/no-such-service failed"
        )),
        "{err}"
    );
}
