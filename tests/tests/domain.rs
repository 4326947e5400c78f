#![cfg(feature = "emulator")]
//! Many containers under one domain (issue 17), on template.yaml as deployed by the
//! emulator's CloudFormation (`cm_testkit::fleet`): the domain's Component=domain stack
//! in us-east-1, a Component=base stack in us-east-1 and in eu-west-1, and twenty
//! Component=container stacks, ten per region.
//!
//! - the domain has one hosted zone, one query-logging configuration, one CloudWatch
//!   Logs resource policy and one subscription filter on its query log; each region one
//!   VPC and one cluster; every container its registry entry and its A record;
//! - a query naming one container, delivered as the deployed subscription filter
//!   delivers it to the deployed router, starts that container's group only, in its
//!   region, and puts the keep-alive metric in that region only; the events of one
//!   container's group and tasks reach its own functions only;
//! - the whole lifecycle story passes for two containers in two regions at once;
//! - deleting one container's stack leaves the others as they were, takes its registry
//!   entry and its record with it, and a query for it then starts nothing and is no
//!   error (its name is `unknown` to the router).
//!
//! Needs the function binaries (`cargo build --workspace --bins`, which
//! `./scripts/test` does first) and the SAM translator (`scripts/setup-tools`).

use std::collections::BTreeMap;
use std::time::Instant;

use cm_testkit::emulator::keep_alive_containers;
use cm_testkit::events;
use cm_testkit::fleet::{container_stack, zone_records, ContainerSpec, Fleet};
use cm_testkit::stack::{json_api, put_secure_string, Stack};
use cm_testkit::story::{
    Deployment, Report, Story, Timeline, Webhooks, CONTROL_PANEL, DOMAIN_NAME, FUNCTIONS, NOTIFIER,
    START_TOKEN_PARAMETER,
};
use cm_testkit::{assert_built, Emulator, Function, Outcome};
use serde_json::{json, Value};

const REGIONS: [&str; 2] = ["us-east-1", "eu-west-1"];
const ROUTER: &str = "dns-query-trigger";
/// How many container stacks are deployed at once.
const PARALLEL: usize = 4;

fn ok<T>(result: Result<T, String>) -> T {
    result.unwrap_or_else(|e| panic!("{e}"))
}

/// Ten containers per region: c01..c10 in us-east-1, c11..c20 in eu-west-1.
fn twenty() -> Vec<ContainerSpec> {
    (1..=20)
        .map(|i| ContainerSpec::new(&format!("c{i:02}"), REGIONS[(i - 1) / 10]))
        .collect()
}

/// The router as the domain deploys it, a new process (it holds no registry yet).
fn router(deployment: &Deployment) -> Function {
    ok(deployment.function_spec(ROUTER))
        .temp_log()
        .start()
        .unwrap_or_else(|e| panic!("start the router: {e}"))
}

/// A query-log batch naming `names` (A queries), as the domain's deployed
/// subscription filter delivers it (its log group, its filter, the zone), sent to
/// `router`: its response.
async fn route(deployment: &Deployment, router: &Function, names: &[&str]) -> Value {
    let mut batch: Option<Value> = None;
    for name in names {
        let (event, targets) = ok(deployment.query_log_event(name, "A").await);
        assert_eq!(targets, [ROUTER], "the query log's filter delivers to");
        batch = Some(match batch {
            None => event,
            Some(so_far) => merge(so_far, &event),
        });
    }
    let event = batch.unwrap_or_else(|| panic!("no name to query"));
    match router.invoke(event) {
        Outcome::Response(response) => response,
        Outcome::Error(error) => panic!("the router answered an error: {error}\n{}", router.log()),
    }
}

/// One subscription event with the log lines of both.
fn merge(first: Value, second: &Value) -> Value {
    let lines = |event: &Value| -> Value {
        let data = event["awslogs"]["data"].as_str().unwrap_or_default();
        use base64::Engine as _;
        let gz = base64::engine::general_purpose::STANDARD
            .decode(data)
            .unwrap_or_default();
        let mut text = String::new();
        use std::io::Read as _;
        let _ = flate2::read::GzDecoder::new(gz.as_slice()).read_to_string(&mut text);
        serde_json::from_str(&text).unwrap_or_default()
    };
    let mut batch = lines(&first);
    let more = lines(second)["logEvents"].clone();
    if let (Some(events), Some(more)) = (batch["logEvents"].as_array_mut(), more.as_array()) {
        events.extend(more.iter().cloned());
    }
    events::awslogs_event(&events::gzip(batch.to_string().as_bytes()))
}

/// The CloudWatch Logs resource policies of `region`.
fn resource_policies(emulator: &Emulator, region: &str) -> Vec<Value> {
    let answer = ok(json_api(
        emulator,
        region,
        "logs",
        "Logs_20140328.DescribeResourcePolicies",
        &json!({}),
    ));
    answer["resourcePolicies"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// The subscription filters of the log group `group` (us-east-1).
fn subscription_filters(emulator: &Emulator, group: &str) -> Vec<Value> {
    let answer = ok(json_api(
        emulator,
        "us-east-1",
        "logs",
        "Logs_20140328.DescribeSubscriptionFilters",
        &json!({"logGroupName": group}),
    ));
    answer["subscriptionFilters"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// The keep-alive metrics (ContainerManager/DnsQueries) of `region`: the values of
/// their ContainerName dimension.
async fn keep_alive_metrics(fleet: &Fleet, region: &str) -> Vec<String> {
    let cloudwatch = aws_sdk_cloudwatch::Client::new(&fleet.sdk_config(region).await);
    keep_alive_containers(&cloudwatch)
        .await
        .unwrap_or_else(|e| panic!("ListMetrics in {region}: {e}"))
}

/// Every container's group's desired capacity, by container.
async fn desired_of_all(fleet: &Fleet) -> BTreeMap<String, i32> {
    let mut desired = BTreeMap::new();
    for deployment in fleet.containers() {
        desired.insert(
            deployment.names.container.clone(),
            deployment.desired().await,
        );
    }
    desired
}

/// The domain's zone's records, but the zone's own (NS, SOA).
async fn records(fleet: &Fleet) -> Vec<(String, String, Vec<String>)> {
    let route53 = aws_sdk_route53::Client::new(&fleet.sdk_config("us-east-1").await);
    let zone = ok(fleet.domain.output("HostedZoneId"));
    ok(zone_records(&route53, zone).await)
        .into_iter()
        .filter(|(_, kind, _)| kind != "NS" && kind != "SOA")
        .collect()
}

/// What a delete must leave as it was: each stack's status, resources and functions.
fn shape(stack: &Stack) -> (String, Vec<(String, String)>, Vec<String>) {
    let mut resources: Vec<(String, String)> = stack
        .resources
        .iter()
        .map(|r| (r.logical_id.clone(), r.physical_id.clone()))
        .collect();
    resources.sort();
    let mut functions: Vec<String> = stack.functions.values().map(|f| f.name.clone()).collect();
    functions.sort();
    (stack.status.clone(), resources, functions)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_containers_in_two_regions_share_one_domain_and_stand_alone() {
    assert_built(FUNCTIONS);
    let specs = twenty();
    let fleet = Fleet::deploy(Emulator::start(), &[], &specs, PARALLEL).await;
    let mut fleet = ok(fleet);
    let timings = fleet.timings.clone();
    let stacks = 1 + REGIONS.len() + specs.len();
    let slowest = timings.each.values().max().copied().unwrap_or_default();
    eprintln!(
        "deployed {stacks} stacks: the domain and {} bases in {:.1} s, {} containers in \
         {:.1} s ({} at a time: {:.1} s a container, each stack at most {:.1} s)",
        REGIONS.len(),
        timings.shared.as_secs_f64(),
        specs.len(),
        timings.containers.as_secs_f64(),
        timings.parallel,
        timings.containers.as_secs_f64() / specs.len() as f64,
        slowest.as_secs_f64()
    );
    let emulator = fleet.emulator.clone();

    // (a) Every stack made; the domain's pieces once, each region's once.
    let all = fleet.stacks();
    assert_eq!(all.len(), stacks);
    for stack in &all {
        assert_eq!(stack.status, "CREATE_COMPLETE", "{}", stack.name);
    }
    let route53 = aws_sdk_route53::Client::new(&fleet.sdk_config("us-east-1").await);
    let zones = route53
        .list_hosted_zones()
        .send()
        .await
        .unwrap_or_else(|e| panic!("ListHostedZones: {e:?}"));
    let zone = ok(fleet.domain.output("HostedZoneId")).to_string();
    assert_eq!(
        zones
            .hosted_zones()
            .iter()
            .map(|z| z.id().trim_start_matches("/hostedzone/"))
            .collect::<Vec<_>>(),
        [zone.as_str()],
        "one hosted zone"
    );
    let configs = route53
        .list_query_logging_configs()
        .send()
        .await
        .unwrap_or_else(|e| panic!("ListQueryLoggingConfigs: {e:?}"));
    let log_group = ok(fleet.domain.physical_id("QueryLogGroup")).to_string();
    assert_eq!(configs.query_logging_configs().len(), 1, "{configs:?}");
    let config = &configs.query_logging_configs()[0];
    assert_eq!(config.hosted_zone_id(), zone);
    assert!(
        config
            .cloud_watch_logs_log_group_arn()
            .contains(&format!(":log-group:{log_group}")),
        "{config:?}"
    );
    for region in REGIONS {
        let policies = resource_policies(&emulator, region);
        let expected = usize::from(region == "us-east-1");
        assert_eq!(policies.len(), expected, "{region}: {policies:?}");
    }
    let filters = subscription_filters(&emulator, &log_group);
    assert_eq!(filters.len(), 1, "{filters:?}");
    let router_arn = &ok(fleet.domain.function_of(ROUTER)).arn;
    assert_eq!(filters[0]["destinationArn"], router_arn.as_str());
    for region in REGIONS {
        let sdk = fleet.sdk_config(region).await;
        let base = &fleet.bases[region];
        let vpcs = aws_sdk_ec2::Client::new(&sdk)
            .describe_vpcs()
            .send()
            .await
            .unwrap_or_else(|e| panic!("DescribeVpcs in {region}: {e:?}"));
        let made: Vec<&str> = vpcs
            .vpcs()
            .iter()
            .filter(|v| v.is_default() != Some(true))
            .filter_map(|v| v.vpc_id())
            .collect();
        assert_eq!(made, [ok(base.physical_id("Vpc"))], "{region}'s VPCs");
        let clusters = aws_sdk_ecs::Client::new(&sdk)
            .list_clusters()
            .send()
            .await
            .unwrap_or_else(|e| panic!("ListClusters in {region}: {e:?}"));
        let names: Vec<&str> = clusters
            .cluster_arns()
            .iter()
            .map(|arn| arn.rsplit('/').next().unwrap_or_default())
            .collect();
        assert_eq!(
            names,
            [ok(base.physical_id("Cluster"))],
            "{region}'s clusters"
        );
    }
    let in_zone = records(&fleet).await;
    for deployment in fleet.containers() {
        let names = &deployment.names;
        let stack = &deployment.container;
        for kind in [
            "AWS::Route53::HostedZone",
            "AWS::EC2::VPC",
            "AWS::ECS::Cluster",
            "AWS::Logs::SubscriptionFilter",
        ] {
            assert!(
                stack.logical_ids_of(kind).is_empty(),
                "{} has a {kind}",
                stack.name
            );
        }
        assert_eq!(
            names.cluster,
            ok(fleet.bases[&stack.region].physical_id("Cluster"))
        );
        let entry = format!("{}._cm.{DOMAIN_NAME}", names.container);
        let want = format!(
            "\"v=cm1 region={} asg={} metric=cm-demo-{} threshold={}\"",
            stack.region, names.group, names.container, stack.parameters["IdleThreshold"]
        );
        assert!(
            in_zone.contains(&(entry.clone(), "TXT".into(), vec![want.clone()])),
            "{entry} TXT {want} in {in_zone:?}"
        );
        assert!(
            in_zone.contains(&(names.domain.clone(), "A".into(), vec!["0.0.0.0".into()])),
            "{} A 0.0.0.0 in {in_zone:?}",
            names.domain
        );
    }
    assert_eq!(in_zone.len(), 2 * specs.len(), "{in_zone:?}");

    // (b) A query for one container starts its group only, in its region, and puts the
    // keep-alive metric there only.
    let chosen = ok(fleet.container("c13")).clone();
    assert_eq!(chosen.container.region, "eu-west-1");
    let router_process = router(&chosen);
    emulator.reset_counts();
    let response = route(&chosen, &router_process, &[&chosen.names.domain]).await;
    assert_eq!(response["lines_matched"], 1, "{response}");
    assert_eq!(response["unknown"], json!([]), "{response}");
    assert_eq!(
        response["actions"],
        json!([
            {"call": "UpdateAutoScalingGroup", "region": "eu-west-1",
             "group": chosen.names.group, "desired_capacity": 1},
            {"call": "PutMetricData", "region": "eu-west-1", "namespace": "ContainerManager",
             "metric": "DnsQueries", "container": "cm-demo-c13",
             "value": response["actions"][1]["value"]},
        ]),
        "{response}"
    );
    let desired = desired_of_all(&fleet).await;
    for (container, desired) in &desired {
        assert_eq!(
            *desired,
            i32::from(container == "c13"),
            "{container}: {desired:?}"
        );
    }
    assert_eq!(
        keep_alive_metrics(&fleet, "eu-west-1").await,
        ["cm-demo-c13"]
    );
    assert!(keep_alive_metrics(&fleet, "us-east-1").await.is_empty());
    let calls = emulator.calls();
    for (operation, times) in [
        ("autoscaling:UpdateAutoScalingGroup", 1),
        ("monitoring:PutMetricData", 1),
    ] {
        assert_eq!(calls.get(operation), Some(&times), "{operation}: {calls:?}");
    }
    // The idle alarm of that container reads the data point.
    let read = ok(chosen
        .alarm_reads(&chosen.names.idle_alarm, "ContainerManager", "DnsQueries")
        .await);
    assert!(matches!(read, Some(sum) if sum > 0.0), "{read:?}");

    // The events of one container's group and tasks reach its own functions only,
    // whatever else shares its region and its cluster.
    let one = ok(fleet.container("c01")).clone();
    let instance = "i-0123456789abcdef0";
    let launch = one.asg_event("launch-successful.json", instance);
    let routed = ok(fleet.routed_anywhere("us-east-1", &launch));
    assert!(routed.others.is_empty(), "{routed:?}");
    assert_eq!(
        routed.functions,
        [
            (one.container.name.clone(), "AsgEcsSyncFunction".to_string()),
            (
                one.container.name.clone(),
                "DnsRecordUpdaterFunction".to_string()
            ),
        ]
    );
    let task = format!(
        "arn:aws:ecs:us-east-1:123456789012:task/{}/0123456789abcdef0123456789abcdef",
        one.names.cluster
    );
    let crashed = events::task_crashed_event(
        &one.names.cluster,
        &one.names.service,
        &one.names.container,
        &task,
    );
    let routed = ok(fleet.routed_anywhere("us-east-1", &crashed));
    assert!(routed.others.is_empty(), "{routed:?}");
    assert_eq!(
        routed.functions,
        [(one.container.name.clone(), "WatchdogFunction".to_string())]
    );
    // The stop that was asked for: c13 back to 0.
    ok(chosen.set_desired(0).await);

    // (d) One container's stack deleted: the others stay as they were.
    let removed = "c05";
    let before_records = records(&fleet).await;
    let before_desired = desired_of_all(&fleet).await;
    let before_shapes: BTreeMap<String, _> = fleet
        .stacks()
        .iter()
        .filter(|s| s.name != container_stack(removed))
        .map(|s| (format!("{} {}", s.region, s.name), shape(s)))
        .collect();
    let address = ok(fleet.container(removed)).names.domain.clone();
    let started = Instant::now();
    let deleted = ok(fleet.remove(removed));
    eprintln!(
        "deleted {} in {:.1} s",
        deleted.name,
        started.elapsed().as_secs_f64()
    );
    assert_eq!(deleted.status, "DELETE_COMPLETE");
    assert!(fleet.container(removed).is_err());
    let after_records = records(&fleet).await;
    let expected: Vec<_> = before_records
        .iter()
        .filter(|(name, _, _)| *name != address && *name != format!("{removed}._cm.{DOMAIN_NAME}"))
        .cloned()
        .collect();
    assert_eq!(
        after_records, expected,
        "the zone's records after the delete"
    );
    assert_eq!(after_records.len(), before_records.len() - 2);
    let mut after_desired = desired_of_all(&fleet).await;
    let mut before_desired = before_desired;
    before_desired.remove(removed);
    after_desired.remove(removed);
    assert_eq!(after_desired, before_desired);
    for stack in fleet.stacks() {
        let now =
            ok(Stack::describe(&emulator, &stack.region, &stack.name).map_err(|e| e.to_string()));
        let key = format!("{} {}", stack.region, stack.name);
        assert_eq!(Some(&shape(&now)), before_shapes.get(&key), "{key}");
    }
    let us_east = aws_sdk_autoscaling::Client::new(&fleet.sdk_config("us-east-1").await);
    let gone = us_east
        .describe_auto_scaling_groups()
        .auto_scaling_group_names(format!("cm-asg-demo-{removed}"))
        .send()
        .await
        .unwrap_or_else(|e| panic!("DescribeAutoScalingGroups: {e:?}"));
    assert!(gone.auto_scaling_groups().is_empty(), "{gone:?}");

    // A query for the removed container starts nothing and is no error; one for
    // another container in the same batch is served.
    let other = ok(fleet.container("c02")).clone();
    let router_process = router(&other);
    emulator.reset_counts();
    let response = route(&other, &router_process, &[&address, &other.names.domain]).await;
    assert_eq!(response["lines_matched"], 2, "{response}");
    assert_eq!(response["unknown"], json!([removed]), "{response}");
    assert_eq!(response["gone"], json!([]), "{response}");
    let scaled: Vec<&Value> = response["actions"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|a| a["call"] == "UpdateAutoScalingGroup")
        .collect();
    assert_eq!(
        scaled,
        [
            &json!({"call": "UpdateAutoScalingGroup", "region": "us-east-1",
                 "group": other.names.group, "desired_capacity": 1})
        ],
        "{response}"
    );
    assert_eq!(
        emulator.call_count("autoscaling:UpdateAutoScalingGroup"),
        1,
        "{:?}",
        emulator.calls()
    );
    let response = route(&other, &router_process, &[&address]).await;
    assert_eq!(response["unknown"], json!([removed]), "{response}");
    assert_eq!(response["actions"], json!([]), "{response}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_whole_story_for_two_containers_in_two_regions_at_once() {
    assert_built(FUNCTIONS.into_iter().chain([NOTIFIER, CONTROL_PANEL]));
    let start = Instant::now();
    let emulator = Emulator::start();
    // Each container with a webhook of its own (the notifier's list, in its region),
    // the domain with the control panel (its start token, in us-east-1).
    let containers = [("mc", "us-east-1"), ("vh", "eu-west-1")];
    let mut specs = Vec::new();
    let mut webhooks = BTreeMap::new();
    for (name, region) in containers {
        let hooks = ok(Webhooks::start());
        let parameter = format!("/cm/demo/{name}/webhooks");
        ok(put_secure_string(
            &emulator,
            region,
            &parameter,
            &format!("{}\n", hooks.url()),
        ));
        specs.push(ContainerSpec::new(name, region).with("WebhookUrlsParameter", &parameter));
        webhooks.insert(name, hooks);
    }
    ok(put_secure_string(
        &emulator,
        "us-east-1",
        START_TOKEN_PARAMETER,
        "demo-start-token",
    ));
    let fleet = ok(Fleet::deploy(
        emulator,
        &[("StartTokenParameter", START_TOKEN_PARAMETER)],
        &specs,
        2,
    )
    .await);
    fleet.emulator.reset_counts();

    // Both stories at once, each on its own task.
    let timeline = Timeline::default();
    let mut running = Vec::new();
    for (name, _) in containers {
        let deployment = ok(fleet.container(name)).clone();
        let story = Story::on(
            deployment,
            webhooks.remove(name),
            start,
            timeline.on_step(Some(name.to_string())),
        );
        running.push((name, tokio::spawn(story.play())));
    }
    let mut reports: Vec<(&str, Report)> = Vec::new();
    for (name, task) in running {
        let report = task
            .await
            .unwrap_or_else(|e| panic!("the story of {name} did not finish: {e}"));
        reports.push((name, report));
    }
    let timeline = timeline.text();
    for (name, report) in &reports {
        assert!(
            report.failures().is_empty(),
            "{name}: steps whose effect is missing (logs in {}):\n{timeline}",
            report.log_dir.display()
        );
        // Every stage of the story ran, for each (as tests/e2e.rs counts them).
        assert_eq!(report.steps.len(), 32, "{name}:\n{timeline}");
    }
    // Two starts by the router and two stops by the watchdog each, three terminate
    // hooks each: nothing more, nothing twice.
    let calls = fleet.emulator.calls();
    for (operation, times) in [
        ("autoscaling:UpdateAutoScalingGroup", 8),
        ("autoscaling:CompleteLifecycleAction", 6),
    ] {
        assert_eq!(calls.get(operation), Some(&times), "{operation}: {calls:?}");
    }
    for (name, _) in containers {
        let deployment = ok(fleet.container(name));
        assert_eq!(deployment.completed_lifecycle_actions(), 3, "{name}");
        assert_eq!(deployment.desired().await, 0, "{name}");
        assert_eq!(deployment.record().await, deployment.resting_ip(), "{name}");
        assert!(deployment.running_tasks().await.is_empty(), "{name}");
        // Its topic carried its own messages only: 3 up, 3 down, idle, crashed.
        let messages = deployment.sns_messages();
        assert_eq!(messages.len(), 8, "{name}: {messages:?}");
        assert!(
            messages
                .iter()
                .all(|m| m["Message"].as_str().unwrap_or_default().starts_with(name)),
            "{name}: {messages:?}"
        );
    }
}
