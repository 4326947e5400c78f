#![cfg(feature = "emulator")]
//! template.yaml as deployed: the SAM-transformed template created by the emulator's
//! CloudFormation (`cm_testkit::stack`), its physical resources checked, and each
//! function run with the environment its deployed Lambda configuration holds, so a
//! wrong `Environment` entry, name or ARN in the template fails here.
//!
//! Needs the function binaries (`cargo build --workspace --bins`, which
//! `./scripts/test` does first) and the SAM translator (`scripts/setup-tools`).

use std::collections::BTreeMap;
use std::time::Duration;

use aws_sdk_autoscaling::Client as AutoScaling;
use aws_sdk_ecs::Client as Ecs;
use cm_testkit::emulator::{self, a_record, in_service_instance, public_ip, service_desired};
use cm_testkit::events;
use cm_testkit::fleet::zone_records;
use cm_testkit::stack::{ContainerNames, DeployError, Stack};
use cm_testkit::{assert_built, Emulator, Function, Outcome};
use serde_json::Value;

const DOMAIN: &str = "example.com";
const FUNCTIONS: [&str; 4] = [
    "dns-query-trigger",
    "asg-ecs-sync",
    "dns-record-updater",
    "watchdog-scale-down",
];
/// The functions of the domain part, which serve every container of the domain.
const DOMAIN_FUNCTIONS: [&str; 2] = ["dns-query-trigger", "control-panel"];

fn deploy(emulator: &Emulator, region: &str, name: &str, parameters: &[(&str, &str)]) -> Stack {
    Stack::deploy(emulator, region, name, parameters).unwrap_or_else(|e| panic!("{e}"))
}

fn ok<T>(result: Result<T, String>) -> T {
    result.unwrap_or_else(|e| panic!("{e}"))
}

/// The function built from `binary`, started with its deployed environment; checks
/// that it started without an init error once it answered.
fn start(emulator: &Emulator, stack: &Stack, binary: &str) -> Function {
    let function = ok(stack.function_of(binary));
    ok(stack.function_spec(emulator, &function.logical_id))
        .timeouts(Duration::from_secs(60), Duration::from_secs(60))
        .temp_log()
        .start()
        .unwrap_or_else(|e| panic!("start {binary}: {e}"))
}

/// Sends `event` to `function`; its response (panics with the error or the
/// init error otherwise).
fn invoke(function: &Function, event: Value) -> Value {
    let outcome = function.invoke(event);
    assert!(
        function.init_error().is_none(),
        "{} reported an init error with its deployed environment: {:?}\n{}",
        function.name(),
        function.init_error(),
        function.log()
    );
    match outcome {
        Outcome::Response(response) => response,
        Outcome::Error(error) => panic!(
            "{} answered an error: {error}\n{}",
            function.name(),
            function.log()
        ),
    }
}

async fn group_sizes(autoscaling: &AutoScaling, group: &str) -> (i32, i32, i32) {
    let groups = autoscaling
        .describe_auto_scaling_groups()
        .auto_scaling_group_names(group)
        .send()
        .await
        .unwrap_or_else(|e| panic!("DescribeAutoScalingGroups {group}: {e:?}"));
    let g = groups
        .auto_scaling_groups()
        .first()
        .unwrap_or_else(|| panic!("no Auto Scaling group {group}"));
    (
        g.min_size().unwrap_or(-1),
        g.max_size().unwrap_or(-1),
        g.desired_capacity().unwrap_or(-1),
    )
}

/// Every deployed variable that names a resource of the container (in any of the
/// functions of `stacks`) names the one CloudFormation made: a wrong `Environment`
/// entry in the template fails here. The domain's functions (the router, the control
/// panel) serve every container of the domain: their `DOMAIN_NAME` is the domain, the
/// container's functions' is the container's address. Returns how many variables were
/// compared.
fn variables_name_the_resources(stacks: &[&Stack], names: &ContainerNames) -> usize {
    let domain = names
        .domain
        .split_once('.')
        .map(|(_, domain)| domain)
        .unwrap_or_default();
    let expected = BTreeMap::from([
        ("ASG_NAME", names.group.as_str()),
        ("LIFECYCLE_HOOK_NAME", &names.hook),
        ("ECS_CLUSTER_NAME", &names.cluster),
        ("ECS_SERVICE_NAME", &names.service),
        ("HOSTED_ZONE_ID", &names.zone),
        ("DOMAIN_NAME", &names.domain),
        ("SNS_TOPIC_ARN", &names.topic_arn),
        ("CONTAINER_NAME", &names.container),
        ("IDLE_ALARM_NAME", &names.idle_alarm),
        ("LEFT_UP_ALARM_NAME", &names.left_up_alarm),
    ]);
    let mut compared = 0;
    for stack in stacks {
        for function in stack.functions.values() {
            let serves_the_domain = DOMAIN_FUNCTIONS.contains(&function.binary.as_str());
            for (variable, value) in &function.variables {
                let want = match variable.as_str() {
                    "DOMAIN_NAME" if serves_the_domain => Some(&domain),
                    other => expected.get(other),
                };
                if let Some(want) = want {
                    assert_eq!(
                        value, want,
                        "{} of {} in stack {}",
                        variable, function.logical_id, stack.name
                    );
                    compared += 1;
                }
            }
        }
    }
    compared
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn component_all_deploys_with_every_resource_in_place() {
    let emulator = Emulator::start();
    let stack = deploy(
        &emulator,
        "us-east-1",
        "cm-test-mc",
        &[("Environment", "test"), ("DomainName", DOMAIN)],
    );
    let sdk = stack.sdk_config(&emulator).await;
    let mut deployed: Vec<&str> = stack
        .functions
        .values()
        .map(|f| f.binary.as_str())
        .collect();
    deployed.sort_unstable();
    for binary in FUNCTIONS {
        assert!(deployed.contains(&binary), "{binary} in {deployed:?}");
    }
    let sync = "AsgEcsSyncFunction";
    let updater = "DnsRecordUpdaterFunction";
    let watchdog = "WatchdogFunction";
    let names = ok(stack.container_names(&emulator).await);
    let compared = variables_name_the_resources(&[&stack], &names);
    assert!(compared >= 15, "only {compared} variables name a resource");

    // The group: min 0, max 1, at 0, with the terminate hook the sync completes.
    let autoscaling = AutoScaling::new(&sdk);
    let group = ok(stack.output("AutoScalingGroupName"));
    assert_eq!(Ok(group), stack.physical_id("AutoScalingGroup"));
    for function in stack.functions.values() {
        if let Some(name) = function.variables.get("ASG_NAME") {
            assert_eq!(name, group, "{}'s ASG_NAME", function.logical_id);
        }
    }
    assert_eq!(group_sizes(&autoscaling, group).await, (0, 1, 0));
    let hooks = autoscaling
        .describe_lifecycle_hooks()
        .auto_scaling_group_name(group)
        .send()
        .await
        .unwrap_or_else(|e| panic!("DescribeLifecycleHooks: {e:?}"));
    let hook = ok(stack.variable(sync, "LIFECYCLE_HOOK_NAME"));
    let found = hooks
        .lifecycle_hooks()
        .iter()
        .find(|h| h.lifecycle_hook_name() == Some(hook))
        .unwrap_or_else(|| panic!("no lifecycle hook {hook}: {hooks:?}"));
    assert_eq!(
        found.lifecycle_transition(),
        Some("autoscaling:EC2_INSTANCE_TERMINATING")
    );
    assert_eq!(found.default_result(), Some("CONTINUE"));

    // The cluster and its service, at 0, running the stack's task definition.
    let ecs = Ecs::new(&sdk);
    let cluster = ok(stack.variable(sync, "ECS_CLUSTER_NAME"));
    assert_eq!(Ok(cluster), stack.physical_id("Cluster"));
    assert_eq!(Ok(cluster), stack.variable(watchdog, "ECS_CLUSTER_NAME"));
    let service = ok(stack.variable(sync, "ECS_SERVICE_NAME"));
    assert_eq!(service_desired(&ecs, cluster, service).await, 0);
    let described = ecs
        .describe_services()
        .cluster(cluster)
        .services(service)
        .send()
        .await
        .unwrap_or_else(|e| panic!("DescribeServices: {e:?}"));
    let task_definition = described
        .services()
        .first()
        .and_then(|s| s.task_definition())
        .unwrap_or_default();
    assert_eq!(Ok(task_definition), stack.physical_id("TaskDefinition"));

    // The hosted zone with the record the updater keeps, at its resting value.
    let route53 = aws_sdk_route53::Client::new(&sdk);
    let zone = ok(stack.output("HostedZoneId"));
    assert_eq!(Ok(zone), stack.physical_id("HostedZone"));
    assert_eq!(Ok(zone), stack.variable(updater, "HOSTED_ZONE_ID"));
    let domain = ok(stack.output("ContainerAddress"));
    assert_eq!(Ok(domain), stack.variable(updater, "DOMAIN_NAME"));
    assert_eq!(
        Ok(DOMAIN),
        stack.variable("DnsQueryTriggerFunction", "DOMAIN_NAME")
    );
    assert_eq!(
        Ok(zone),
        stack.variable("DnsQueryTriggerFunction", "HOSTED_ZONE_ID")
    );
    assert_eq!(
        a_record(&route53, zone, domain).await,
        ok(stack.variable(updater, "UNAVAILABLE_IP"))
    );
    // The container's entry in the domain's registry, where the router finds it.
    let entry = registry_entry(&route53, zone, "mc").await;
    assert_eq!(
        entry,
        format!(
            "\"v=cm1 region=us-east-1 asg={} metric=cm-test-mc threshold={}\"",
            ok(stack.output("AutoScalingGroupName")),
            stack.parameters["IdleThreshold"]
        )
    );

    // The topic both the updater and the watchdog publish to.
    let topic = ok(stack.output("TopicArn"));
    assert_eq!(Ok(topic), stack.variable(updater, "SNS_TOPIC_ARN"));
    assert_eq!(Ok(topic), stack.variable(watchdog, "SNS_TOPIC_ARN"));
    aws_sdk_sns::Client::new(&sdk)
        .get_topic_attributes()
        .topic_arn(topic)
        .send()
        .await
        .unwrap_or_else(|e| panic!("GetTopicAttributes {topic}: {e:?}"));

    // The alarms (bridged: moto has no AWS::CloudWatch::Alarm) invoke the watchdog.
    let cloudwatch = aws_sdk_cloudwatch::Client::new(&sdk);
    let watchdog_arn = &ok(stack.function(watchdog)).arn;
    for (variable, logical_id) in [
        ("IDLE_ALARM_NAME", "IdleAlarm"),
        ("LEFT_UP_ALARM_NAME", "LeftUpAlarm"),
    ] {
        let name = ok(stack.variable(watchdog, variable));
        assert_eq!(Ok(name), stack.physical_id(logical_id));
        let alarms = cloudwatch
            .describe_alarms()
            .alarm_names(name)
            .send()
            .await
            .unwrap_or_else(|e| panic!("DescribeAlarms {name}: {e:?}"));
        let alarm = alarms
            .metric_alarms()
            .first()
            .unwrap_or_else(|| panic!("no alarm {name}"));
        assert_eq!(
            alarm.alarm_actions(),
            std::slice::from_ref(watchdog_arn),
            "{name}"
        );
    }

    // What the bridges made is listed, with the properties CloudFormation gave them.
    let bridged = ok(stack.bridged(&emulator));
    let of = |logical_id: &str| {
        bridged
            .iter()
            .find(|b| b.logical_id == logical_id)
            .unwrap_or_else(|| panic!("{logical_id} is not listed as bridged: {bridged:?}"))
    };
    assert_eq!(of("IdleAlarm").bridge, "AWS::CloudWatch::Alarm");
    assert_eq!(
        of("IdleAlarm").properties["AlarmActions"][0].as_str(),
        Some(watchdog_arn.as_str())
    );
    let trigger_arn = &ok(stack.function("DnsQueryTriggerFunction")).arn;
    let filters: Vec<_> = bridged
        .iter()
        .filter(|b| b.resource_type == "AWS::Logs::SubscriptionFilter")
        .collect();
    assert_eq!(filters.len(), 1, "{filters:?}");
    assert_eq!(
        filters[0].properties["DestinationArn"].as_str(),
        Some(trigger_arn.as_str())
    );
    assert_eq!(
        filters[0].properties["LogGroupName"].as_str(),
        stack.physical_id("QueryLogGroup").ok()
    );
    let configs = bridged
        .iter()
        .filter(|b| b.resource_type == "AWS::Lambda::EventInvokeConfig")
        .count();
    assert_eq!(configs, stack.functions.len(), "{bridged:?}");
}

/// The TXT value of `container`'s entry in `zone`'s registry (`<container>._cm.<domain>`),
/// or "" if it has none.
async fn registry_entry(route53: &aws_sdk_route53::Client, zone: &str, container: &str) -> String {
    let name = format!("{container}._cm.{DOMAIN}");
    ok(zone_records(route53, zone).await)
        .into_iter()
        .find(|(n, kind, _)| *n == name && kind == "TXT")
        .map(|(_, _, values)| values.join(","))
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_domain_in_us_east_1_and_a_base_and_a_container_in_another_region_work_together() {
    assert_built(FUNCTIONS);
    let emulator = Emulator::start();
    let region = "eu-west-1";
    let common = [("Environment", "test"), ("DomainName", DOMAIN)];
    let domain = deploy(
        &emulator,
        "us-east-1",
        "cm-test-domain",
        &[common[0], common[1], ("Component", "domain")],
    );
    let base = deploy(
        &emulator,
        region,
        "cm-test-base",
        &[common[0], ("Component", "base")],
    );
    let zone = ok(domain.output("HostedZoneId")).to_string();
    let container = deploy(
        &emulator,
        region,
        "cm-test-mc",
        &[
            common[0],
            common[1],
            ("Component", "container"),
            ("HostedZoneId", &zone),
        ],
    );
    let names = ok(container.container_names_on(&emulator, Some(&base)).await);
    assert_eq!(names.zone, zone);
    assert!(variables_name_the_resources(&[&domain, &container], &names) >= 15);

    // Each part holds its own: the zone and the router; the network and the cluster,
    // exported; the container, on them.
    assert!(domain
        .logical_ids_of("AWS::AutoScaling::AutoScalingGroup")
        .is_empty());
    assert!(container
        .logical_ids_of("AWS::Route53::HostedZone")
        .is_empty());
    assert!(container.logical_ids_of("AWS::EC2::VPC").is_empty());
    assert!(container.logical_ids_of("AWS::ECS::Cluster").is_empty());
    assert!(base.functions.is_empty(), "{:?}", base.functions.keys());
    assert_eq!(
        domain
            .functions
            .values()
            .map(|f| f.binary.as_str())
            .collect::<Vec<_>>(),
        ["dns-query-trigger"]
    );
    assert_eq!(base.physical_id("Cluster"), Ok(names.cluster.as_str()));
    for (output, logical_id) in [
        ("VpcId", "Vpc"),
        ("SubnetIdA", "PublicSubnetA"),
        ("SubnetIdB", "PublicSubnetB"),
        ("ClusterName", "Cluster"),
    ] {
        assert_eq!(
            base.output(output),
            base.physical_id(logical_id),
            "{output}"
        );
    }
    let exported = ok(base.bridged(&emulator))
        .into_iter()
        .find(|b| b.bridge == "Outputs: Export")
        .unwrap_or_else(|| panic!("the base exports nothing"));
    for (name, output) in [
        ("cm-test-VpcId", "VpcId"),
        ("cm-test-SubnetIdA", "SubnetIdA"),
        ("cm-test-SubnetIdB", "SubnetIdB"),
        ("cm-test-ClusterName", "ClusterName"),
    ] {
        assert_eq!(
            exported.properties["Exports"][name].as_str(),
            base.output(output).ok(),
            "{name}"
        );
    }

    // The router, in us-east-1, finds the container in the registry and starts its
    // group in eu-west-1.
    let group = ok(container.output("AutoScalingGroupName"));
    let router = ok(domain.function_of("dns-query-trigger"));
    for gone in [
        "ASG_NAME",
        "ASG_REGION",
        "METRIC_DIMENSIONS",
        "METRIC_THRESHOLD",
    ] {
        assert!(!router.variables.contains_key(gone), "{gone}");
    }
    assert_eq!(router.variables["DOMAIN_NAME"], DOMAIN);
    assert_eq!(router.variables["HOSTED_ZONE_ID"], zone);
    let container_sdk = container.sdk_config(&emulator).await;
    let route53 = aws_sdk_route53::Client::new(&container_sdk);
    assert!(
        registry_entry(&route53, &zone, "mc")
            .await
            .contains(&format!("region={region} asg={group} ")),
        "the container's registry entry"
    );
    let autoscaling = AutoScaling::new(&container_sdk);
    assert_eq!(group_sizes(&autoscaling, group).await, (0, 1, 0));
    let router = start(&emulator, &domain, "dns-query-trigger");
    let address = ok(container.output("ContainerAddress"));
    let response = invoke(
        &router,
        events::query_log_event("DATA_MESSAGE", &[events::query_line(address, "A")]),
    );
    assert_eq!(response["lines_matched"], 1, "{response}");
    assert_eq!(
        response["actions"][0],
        serde_json::json!({"call": "UpdateAutoScalingGroup", "region": region, "group": group, "desired_capacity": 1}),
        "{response}"
    );
    assert_eq!(group_sizes(&autoscaling, group).await, (0, 1, 1));

    // The updater, in the container's region, writes the domain's zone.
    let instance = in_service_instance(&autoscaling, group)
        .await
        .unwrap_or_else(|| panic!("{group} in {region} has no InService instance"));
    let ip = public_ip(&aws_sdk_ec2::Client::new(&container_sdk), &instance).await;
    assert!(!ip.is_empty(), "{instance} has no public address");
    let updater = start(&emulator, &container, "dns-record-updater");
    let hook = ok(container.variable("AsgEcsSyncFunction", "LIFECYCLE_HOOK_NAME"));
    invoke(
        &updater,
        events::asg_event("launch-successful.json", group, hook, &instance),
    );
    assert_eq!(a_record(&route53, &zone, address).await, ip);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deploy_outside_the_rules_is_refused_before_anything_is_made() {
    let emulator = Emulator::start();
    let refused = Stack::deploy(
        &emulator,
        "eu-west-1",
        "cm-test-mc",
        &[("Environment", "test"), ("DomainName", DOMAIN)],
    )
    .expect_err("Component=all outside us-east-1");
    match &refused {
        DeployError::Refused { code, message } => {
            assert_eq!(code, "ValidationError");
            assert!(message.contains("us-east-1"), "{message}");
        }
        other => panic!("refused with {other}"),
    }
    let stack = Stack::describe(&emulator, "eu-west-1", "cm-test-mc");
    assert!(
        matches!(&stack, Err(DeployError::Refused { .. })),
        "no stack was made: {stack:?}"
    );
    // A container without its domain's zone, or with a network of its own (the
    // base's is its region's), is refused too.
    for (given, says) in [
        (None, "HostedZoneId"),
        (Some(("VpcId", "vpc-0123456789abcdef0")), "VpcId"),
    ] {
        let mut parameters = vec![
            ("Environment", "test"),
            ("DomainName", DOMAIN),
            ("Component", "container"),
        ];
        if let Some(extra) = given {
            parameters.extend([extra, ("HostedZoneId", "Z0123456789ABCDEFGHIJ")]);
        }
        match Stack::deploy(&emulator, "eu-west-1", "cm-test-mc", &parameters) {
            Err(DeployError::Refused { message, .. }) => {
                assert!(message.contains(says), "{message}")
            }
            other => panic!("{parameters:?}: {other:?}"),
        }
    }
}

/// The stack's functions, running with their deployed environments, and the
/// deployed wiring that delivers events to them.
struct Deployed<'a> {
    emulator: &'a Emulator,
    stack: &'a Stack,
    functions: BTreeMap<String, Function>,
}

impl Deployed<'_> {
    fn function(&self, logical_id: &str) -> &Function {
        self.functions
            .get(logical_id)
            .unwrap_or_else(|| panic!("{logical_id} is not running"))
    }

    /// Delivers `event` as EventBridge would: to the functions whose deployed rules
    /// match it, which must be `expected`; their responses.
    fn deliver(&self, event: Value, expected: &[&str]) -> Vec<Value> {
        let routed = ok(self.stack.routed_to(self.emulator, &event));
        assert_eq!(
            routed, expected,
            "the deployed rules deliver {} to {routed:?}",
            event["detail-type"]
        );
        routed
            .iter()
            .map(|logical_id| invoke(self.function(logical_id), event.clone()))
            .collect()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_function_runs_with_its_deployed_environment_against_the_deployed_resources() {
    assert_built(FUNCTIONS);
    let emulator = Emulator::start();
    let stack = deploy(
        &emulator,
        "us-east-1",
        "cm-test-mc",
        &[("Environment", "test"), ("DomainName", DOMAIN)],
    );
    let sdk = stack.sdk_config(&emulator).await;
    let autoscaling = AutoScaling::new(&sdk);
    let ecs = Ecs::new(&sdk);
    let route53 = aws_sdk_route53::Client::new(&sdk);
    let ec2 = aws_sdk_ec2::Client::new(&sdk);
    let group = ok(stack.output("AutoScalingGroupName"));
    let domain = ok(stack.output("ContainerAddress"));
    let zone = ok(stack.output("HostedZoneId"));
    let cluster = ok(stack.physical_id("Cluster"));
    let (sync, updater, watchdog) = (
        "AsgEcsSyncFunction",
        "DnsRecordUpdaterFunction",
        "WatchdogFunction",
    );
    let service = ok(stack.variable(sync, "ECS_SERVICE_NAME"));
    let hook = ok(stack.variable(sync, "LIFECYCLE_HOOK_NAME"));
    let container = ok(stack.variable(updater, "CONTAINER_NAME"));
    let resting = ok(stack.variable(updater, "UNAVAILABLE_IP"));
    let fx = Deployed {
        emulator: &emulator,
        stack: &stack,
        functions: stack
            .functions
            .values()
            .map(|f| (f.logical_id.clone(), start(&emulator, &stack, &f.binary)))
            .collect(),
    };

    // A lookup of the deployed name, in a query-log batch delivered by the deployed
    // subscription filter: the deployed group goes to 1.
    let trigger = ok(stack.function_of("dns-query-trigger"));
    let filter = ok(stack.bridged(&emulator))
        .into_iter()
        .find(|b| b.resource_type == "AWS::Logs::SubscriptionFilter")
        .unwrap_or_else(|| panic!("the stack has no query-log subscription"));
    assert_eq!(
        filter.properties["DestinationArn"].as_str(),
        Some(trigger.arn.as_str())
    );
    let kind = ok(stack.variable(&trigger.logical_id, "RECORD_TYPE"));
    let response = invoke(
        fx.function(&trigger.logical_id),
        events::query_log_event("DATA_MESSAGE", &[events::query_line(domain, kind)]),
    );
    assert_eq!(response["lines_matched"], 1, "{response}");
    assert_eq!(emulator::desired(&autoscaling, group).await, 1);

    let mut tokens = 0;
    for stop in ["the idle alarm", "a crash"] {
        // The launch: the service follows, the record points at the instance.
        let instance = in_service_instance(&autoscaling, group)
            .await
            .unwrap_or_else(|| panic!("{group} has no InService instance"));
        fx.deliver(
            events::asg_event("launch-successful.json", group, hook, &instance),
            &[sync, updater],
        );
        assert_eq!(service_desired(&ecs, cluster, service).await, 1);
        let ip = public_ip(&ec2, &instance).await;
        assert!(!ip.is_empty(), "{instance} has no public address");
        assert_eq!(a_record(&route53, zone, domain).await, ip);
        assert_eq!(
            emulator.last_sns_message(),
            format!("{container} is up at {ip}")
        );

        // The stop: the deployed idle alarm's action, or the crash of the service's
        // task as the deployed rule delivers it.
        let responses = if stop == "the idle alarm" {
            let name = ok(stack.variable(watchdog, "IDLE_ALARM_NAME"));
            let alarm = aws_sdk_cloudwatch::Client::new(&sdk)
                .describe_alarms()
                .alarm_names(name)
                .send()
                .await
                .ok()
                .and_then(|o| o.metric_alarms().first().cloned())
                .unwrap_or_else(|| panic!("no alarm {name}"));
            let actions = alarm.alarm_actions();
            assert_eq!(actions, [ok(stack.function(watchdog)).arn.clone()]);
            let arn = alarm.alarm_arn().unwrap_or_default();
            vec![invoke(
                fx.function(watchdog),
                events::alarm_event(arn, name),
            )]
        } else {
            let task = format!("arn:aws:ecs:us-east-1:123456789012:task/{cluster}/0123456789abcdef0123456789abcdef");
            fx.deliver(
                events::task_crashed_event(cluster, service, container, &task),
                &[watchdog],
            )
        };
        assert_eq!(
            responses[0]["outcomes"][0]["result"], "stopped",
            "{stop}: {responses:?}"
        );
        assert_eq!(emulator::desired(&autoscaling, group).await, 0, "{stop}");

        // The terminate hook of the deployed group: the sync completes it, the record
        // goes back to the template's value.
        tokens += 1;
        let token = format!("{tokens:08x}-0000-4000-8000-{tokens:012x}");
        emulator.begin_lifecycle_action(group, hook, &instance, &token);
        fx.deliver(
            events::terminate_event(group, hook, &instance, &token),
            &[sync, updater],
        );
        assert_eq!(service_desired(&ecs, cluster, service).await, 0);
        assert_eq!(emulator.completed_lifecycle_actions(), tokens);
        assert_eq!(a_record(&route53, zone, domain).await, resting);

        // The owner starts it again from the console for the second round.
        autoscaling
            .set_desired_capacity()
            .auto_scaling_group_name(group)
            .desired_capacity(1)
            .send()
            .await
            .unwrap_or_else(|e| panic!("SetDesiredCapacity: {e:?}"));
    }
}

/// The service's desired count and task definition.
async fn service_state(ecs: &Ecs, cluster: &str, service: &str) -> (i32, String) {
    let described = ecs
        .describe_services()
        .cluster(cluster)
        .services(service)
        .send()
        .await
        .unwrap_or_else(|e| panic!("DescribeServices {cluster}/{service}: {e:?}"));
    let found = described
        .services()
        .first()
        .unwrap_or_else(|| panic!("no service {service} in {cluster}"));
    (
        found.desired_count(),
        found.task_definition().unwrap_or_default().to_string(),
    )
}

/// The answer to the last request of `request_type` the stack's `ServiceReconcile` got.
fn last_answer(emulator: &Emulator, stack: &Stack, request_type: &str) -> Value {
    let requests = ok(stack.custom_resource_requests(emulator));
    let request = requests
        .iter()
        .rev()
        .find(|r| r.logical_id == "ServiceReconcile" && r.request_type == request_type)
        .unwrap_or_else(|| panic!("no {request_type} request of ServiceReconcile: {requests:?}"));
    assert_eq!(request.state, "answered", "{request:?}");
    request.answer.clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_update_leaves_the_service_running_the_new_task_definition_if_an_instance_serves() {
    assert_built(FUNCTIONS);
    let emulator = Emulator::start();
    let parameters = [("Environment", "test"), ("DomainName", DOMAIN)];
    let stack = deploy(&emulator, "us-east-1", "cm-test-mc", &parameters);
    let sdk = stack.sdk_config(&emulator).await;
    let (autoscaling, ecs) = (AutoScaling::new(&sdk), Ecs::new(&sdk));
    let group = ok(stack.output("AutoScalingGroupName")).to_string();
    let cluster = ok(stack.physical_id("Cluster")).to_string();
    let service = ok(stack.variable("AsgEcsSyncFunction", "ECS_SERVICE_NAME")).to_string();

    // Created at desired 0 (no instance: a task could not be placed), and the deploy's
    // ServiceReconcile answered by the ECS sync, run as deployed.
    assert_eq!(
        service_state(&ecs, &cluster, &service).await,
        (0, ok(stack.physical_id("TaskDefinition")).to_string())
    );
    let created = last_answer(&emulator, &stack, "Create");
    assert_eq!(created["Status"], "SUCCESS", "{created}");
    assert_eq!(created["Data"]["DesiredCount"], "0", "{created}");
    let reconcile_id = format!("{cluster}/{service}");
    assert_eq!(
        stack.physical_id("ServiceReconcile"),
        Ok(reconcile_id.as_str())
    );

    // A player is on: the group has an InService instance and the service runs.
    autoscaling
        .set_desired_capacity()
        .auto_scaling_group_name(&group)
        .desired_capacity(1)
        .send()
        .await
        .unwrap_or_else(|e| panic!("SetDesiredCapacity: {e:?}"));
    assert!(in_service_instance(&autoscaling, &group).await.is_some());
    ecs.update_service()
        .cluster(&cluster)
        .service(&service)
        .desired_count(1)
        .send()
        .await
        .unwrap_or_else(|e| panic!("UpdateService: {e:?}"));

    // A new image: a new task definition revision, which CloudFormation gives the
    // service with the template's DesiredCount 0; the reconcile puts it back to 1.
    let image = [
        parameters[0],
        parameters[1],
        ("ContainerImage", "itzg/minecraft-server:java21"),
    ];
    let updated = deploy(&emulator, "us-east-1", "cm-test-mc", &image);
    assert_eq!(updated.status, "UPDATE_COMPLETE");
    let revision = ok(updated.physical_id("TaskDefinition")).to_string();
    assert_ne!(Ok(revision.as_str()), stack.physical_id("TaskDefinition"));
    assert_eq!(
        service_state(&ecs, &cluster, &service).await,
        (1, revision.clone())
    );
    let answer = last_answer(&emulator, &updated, "Update");
    assert_eq!(answer["Status"], "SUCCESS", "{answer}");
    assert_eq!(answer["Data"]["DesiredCount"], "1", "{answer}");
    assert_eq!(answer["PhysicalResourceId"], reconcile_id.as_str());
    let followed: Vec<String> = ok(updated.bridged(&emulator))
        .into_iter()
        .filter(|b| b.bridge == "Stack updates: dependents of a replaced resource")
        .map(|b| b.logical_id)
        .collect();
    assert!(
        followed.contains(&"Service".to_string())
            && followed.contains(&"ServiceReconcile".to_string()),
        "{followed:?}"
    );

    // The same kind of update with the group at 0 leaves the service at 0.
    autoscaling
        .set_desired_capacity()
        .auto_scaling_group_name(&group)
        .desired_capacity(0)
        .send()
        .await
        .unwrap_or_else(|e| panic!("SetDesiredCapacity: {e:?}"));
    ecs.update_service()
        .cluster(&cluster)
        .service(&service)
        .desired_count(0)
        .send()
        .await
        .unwrap_or_else(|e| panic!("UpdateService: {e:?}"));
    let image = [
        parameters[0],
        parameters[1],
        ("ContainerImage", "itzg/minecraft-server:java17"),
    ];
    let again = deploy(&emulator, "us-east-1", "cm-test-mc", &image);
    let newest = ok(again.physical_id("TaskDefinition")).to_string();
    assert_ne!(newest, revision);
    assert_eq!(service_state(&ecs, &cluster, &service).await, (0, newest));
    let answer = last_answer(&emulator, &again, "Update");
    assert_eq!(answer["Status"], "SUCCESS", "{answer}");
    assert_eq!(answer["Data"]["DesiredCount"], "0", "{answer}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stack_deleted_while_its_container_runs_finishes_with_no_record_left() {
    assert_built(FUNCTIONS);
    let emulator = Emulator::start();
    let stack = deploy(
        &emulator,
        "us-east-1",
        "cm-test-mc",
        &[("Environment", "test"), ("DomainName", DOMAIN)],
    );
    let sdk = stack.sdk_config(&emulator).await;
    let (autoscaling, ecs) = (AutoScaling::new(&sdk), Ecs::new(&sdk));
    let route53 = aws_sdk_route53::Client::new(&sdk);
    let group = ok(stack.output("AutoScalingGroupName")).to_string();
    let zone = ok(stack.output("HostedZoneId")).to_string();
    let domain = ok(stack.output("ContainerAddress")).to_string();
    let hook = ok(stack.variable("AsgEcsSyncFunction", "LIFECYCLE_HOOK_NAME")).to_string();

    // The container runs: an InService instance, the service at 1, the name at the
    // instance's address, and an AAAA record as the updater publishes for an instance
    // with IPv6 (which the template does not know).
    autoscaling
        .set_desired_capacity()
        .auto_scaling_group_name(&group)
        .desired_capacity(1)
        .send()
        .await
        .unwrap_or_else(|e| panic!("SetDesiredCapacity: {e:?}"));
    let instance = in_service_instance(&autoscaling, &group)
        .await
        .unwrap_or_else(|| panic!("{group} has no InService instance"));
    let updater = start(&emulator, &stack, "dns-record-updater");
    let sync = start(&emulator, &stack, "asg-ecs-sync");
    let launch = events::asg_event("launch-successful.json", &group, &hook, &instance);
    invoke(&sync, launch.clone());
    invoke(&updater, launch);
    let ip = public_ip(&aws_sdk_ec2::Client::new(&sdk), &instance).await;
    assert_eq!(a_record(&route53, &zone, &domain).await, ip);
    let cluster = ok(stack.physical_id("Cluster")).to_string();
    let service = ok(stack.variable("AsgEcsSyncFunction", "ECS_SERVICE_NAME")).to_string();
    assert_eq!(service_state(&ecs, &cluster, &service).await.0, 1);
    let aaaa = aws_sdk_route53::types::ResourceRecordSet::builder()
        .name(format!("{domain}."))
        .r#type(aws_sdk_route53::types::RrType::Aaaa)
        .ttl(1)
        .resource_records(
            aws_sdk_route53::types::ResourceRecord::builder()
                .value("2001:db8::7")
                .build()
                .expect("a record value"),
        )
        .build()
        .expect("an AAAA record set");
    route53
        .change_resource_record_sets()
        .hosted_zone_id(&zone)
        .change_batch(
            aws_sdk_route53::types::ChangeBatch::builder()
                .changes(
                    aws_sdk_route53::types::Change::builder()
                        .action(aws_sdk_route53::types::ChangeAction::Upsert)
                        .resource_record_set(aaaa)
                        .build()
                        .expect("a change"),
                )
                .build()
                .expect("a change batch"),
        )
        .send()
        .await
        .unwrap_or_else(|e| panic!("ChangeResourceRecordSets AAAA: {e:?}"));

    // The delete: the group goes first; its instance waits on the terminate hook, whose
    // event the deployed rules deliver to the sync (which completes it) and the updater
    // (which puts the A record back to the template's value and deletes the AAAA);
    // then the record, by its template value, and the zone.
    let deleted = stack
        .delete(&emulator)
        .unwrap_or_else(|e| panic!("the delete did not finish: {e}"));
    assert_eq!(deleted.status, "DELETE_COMPLETE");
    assert_eq!(emulator.completed_lifecycle_actions(), 1);
    let gone = route53.get_hosted_zone().id(&zone).send().await;
    assert!(gone.is_err(), "the hosted zone is still there: {gone:?}");
    let answer = last_answer(&emulator, &stack, "Delete");
    assert_eq!(answer["Status"], "SUCCESS", "{answer}");
    let waited: Vec<_> = ok(stack.bridged(&emulator))
        .into_iter()
        .filter(|b| b.bridge == "AWS::AutoScaling::AutoScalingGroup delete")
        .collect();
    assert_eq!(waited.len(), 1, "{waited:?}");
    assert_eq!(waited[0].properties["InstanceId"], instance.as_str());
}
