//! The local AWS emulator: `tests/emulator/cm_emulator.py` (moto plus two bridges,
//! see its docstring) as a child process on a free port of 127.0.0.1, its harness
//! calls (call counts, injected faults, lifecycle actions, published messages), and
//! the functions that create a container's resources in it and read them back.
//!
//! The emulator runs with the project's virtual environment: `CM_EMULATOR_PYTHON`
//! if set, else `<repo>/.venv/bin/python`, which `scripts/setup` creates.

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::sync::mpsc;
use std::time::Duration;

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_credential_types::Credentials;
use aws_sdk_autoscaling::Client as AutoScaling;
use aws_sdk_ecs::types::{
    Compatibility, ContainerDefinition, NetworkMode, PortMapping, TransportProtocol,
};
use aws_sdk_ecs::Client as Ecs;
use aws_sdk_route53::types::{
    Change, ChangeAction, ChangeBatch, ResourceRecord, ResourceRecordSet, RrType,
};
use aws_smithy_types::error::display::DisplayErrorContext;
use serde_json::{json, Value};

use crate::http;
use crate::process::{Process, Sink, Spawn};
use crate::repo_root;

/// The region the emulator's resources are created in.
pub const REGION: &str = "us-east-1";

/// The account id the emulator's ARNs carry.
pub const ACCOUNT: &str = "123456789012";

/// How long the emulator may take to start listening.
const START_TIMEOUT: Duration = Duration::from_secs(90);

fn python() -> PathBuf {
    std::env::var_os("CM_EMULATOR_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join(".venv/bin/python"))
}

/// A running emulator; stopped when dropped (and, should the test process die, when
/// its standard input closes).
pub struct Emulator {
    /// Holds the emulator's standard input open; killed on drop.
    _process: Process,
    port: u16,
}

impl Emulator {
    /// Starts the emulator on a free port of 127.0.0.1 and waits until it listens.
    /// Panics, saying how to provide the Python environment, if it cannot start.
    pub fn start() -> Emulator {
        let python = python();
        let mut process = Spawn::new(&python)
            .args([repo_root()
                .join("tests/emulator/cm_emulator.py")
                .into_os_string()])
            .args(["--port", "0"])
            .stdin_piped()
            .output(Sink::PipeStdout)
            .start()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot start the emulator ({e}); run ./scripts/setup, which creates \
                     .venv, or set CM_EMULATOR_PYTHON to a Python with \
                     tests/emulator/requirements.txt installed"
                )
            });
        let Some(stdout) = process.take_stdout() else {
            panic!("the emulator's standard output is not piped");
        };
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut lines = BufReader::new(stdout).lines();
            for line in lines.by_ref().map_while(Result::ok) {
                if let Some(port) = line.strip_prefix("CM_EMULATOR_READY ") {
                    let _ = tx.send(port.trim().parse::<u16>().ok());
                    break;
                }
            }
            // Keep draining so the emulator never blocks on a full pipe.
            for _ in lines {}
        });
        match rx.recv_timeout(START_TIMEOUT) {
            Ok(Some(port)) => Emulator {
                _process: process,
                port,
            },
            other => panic!("the emulator did not report its port: {other:?}"),
        }
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// SDK configuration pointing at the emulator, with test credentials.
    pub async fn sdk_config(&self) -> SdkConfig {
        aws_config::defaults(BehaviorVersion::latest())
            .http_client(cm_core::aws::http_client())
            .endpoint_url(self.endpoint())
            .region(Region::new(REGION))
            .credentials_provider(Credentials::new("test", "test", None, None, "cm-testkit"))
            .load()
            .await
    }

    /// The standard AWS environment a function process needs to reach the emulator.
    pub fn aws_env(&self) -> Vec<(String, String)> {
        [
            ("AWS_ENDPOINT_URL", self.endpoint()),
            ("AWS_REGION", REGION.to_string()),
            ("AWS_ACCESS_KEY_ID", "test".to_string()),
            ("AWS_SECRET_ACCESS_KEY", "test".to_string()),
            ("AWS_EC2_METADATA_DISABLED", "true".to_string()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect()
    }

    /// One call to the emulator's harness API (`/_cm/...`); panics on a failure.
    fn harness(&self, method: &str, path: &str, body: Option<&Value>) -> Value {
        let body = body.map(Value::to_string);
        let (status, text) = http::request(self.port, method, path, body.as_deref())
            .unwrap_or_else(|e| panic!("emulator {method} {path}: {e}"));
        let doc: Value = serde_json::from_str(&text).unwrap_or(Value::String(text));
        if status >= 400 {
            panic!("emulator {method} {path} answered {status}: {doc}");
        }
        doc
    }

    /// Calls received per `service:Operation` (e.g. `monitoring:PutMetricData`).
    pub fn calls(&self) -> HashMap<String, u64> {
        let doc = self.harness("GET", "/_cm/calls", None);
        serde_json::from_value(doc).unwrap_or_default()
    }

    /// Calls received of one `service:Operation`.
    pub fn call_count(&self, operation: &str) -> u64 {
        self.calls().get(operation).copied().unwrap_or(0)
    }

    /// Calls that change something: all but Describe*, List*, Get* and REST GETs.
    pub fn writes(&self) -> HashMap<String, u64> {
        self.calls()
            .into_iter()
            .filter(|(op, _)| {
                let op = op.split(':').nth(1).unwrap_or("");
                !(op.starts_with("Describe")
                    || op.starts_with("List")
                    || op.starts_with("Get")
                    || op.starts_with("GET "))
            })
            .collect()
    }

    /// Forgets the call counts and lifecycle actions.
    pub fn reset_counts(&self) {
        self.harness("POST", "/_cm/reset", None);
    }

    /// The next `count` calls of `operation` (`service:Operation`, or `*`) are answered
    /// with `kind` (`throttle`: 400 Throttling; `unavailable`: 503), in the service's
    /// own protocol, without reaching moto.
    pub fn inject_fault(&self, operation: &str, kind: &str, count: u32) {
        self.harness(
            "POST",
            "/_cm/faults",
            Some(&json!({"operation": operation, "kind": kind, "count": count})),
        );
    }

    /// Registers a terminate lifecycle action waiting for CompleteLifecycleAction.
    pub fn begin_lifecycle_action(&self, group: &str, hook: &str, instance: &str, token: &str) {
        self.harness(
            "POST",
            "/_cm/lifecycle-actions",
            Some(&json!({
                "AutoScalingGroupName": group, "LifecycleHookName": hook,
                "InstanceId": instance, "LifecycleActionToken": token, "Region": REGION,
            })),
        );
    }

    /// `{"pending": [...], "completed": [...]}`.
    pub fn lifecycle_actions(&self) -> Value {
        self.harness("GET", "/_cm/lifecycle-actions", None)
    }

    /// How many lifecycle actions were completed (CompleteLifecycleAction).
    pub fn completed_lifecycle_actions(&self) -> usize {
        self.lifecycle_actions()["completed"]
            .as_array()
            .map(Vec::len)
            .unwrap_or(0)
    }

    /// Every message published to the region's SNS topics, in the SNS API's shape:
    /// `[{"TopicArn", "MessageId", "Subject", "Message", "MessageAttributes"}]`.
    pub fn sns_messages(&self) -> Vec<Value> {
        match self.harness("GET", &format!("/_cm/sns-messages?region={REGION}"), None) {
            Value::Array(messages) => messages,
            other => panic!("unexpected SNS message list: {other}"),
        }
    }

    /// The text of the last message published, or "" if there is none.
    pub fn last_sns_message(&self) -> String {
        self.sns_messages()
            .last()
            .and_then(|m| m["Message"].as_str().map(str::to_string))
            .unwrap_or_default()
    }
}

/// An SDK error as `operation: error with its sources`.
fn failed<E: std::error::Error>(operation: &str) -> impl FnOnce(E) -> String + '_ {
    move |e| format!("{operation}: {}", DisplayErrorContext(e))
}

// Creating a container's resources (what template.yaml creates in AWS).

/// Creates a launch configuration and a group (min 0, max 1) at `desired`; with
/// desired 1, the emulator launches an InService instance at once.
pub async fn create_group(
    autoscaling: &AutoScaling,
    name: &str,
    zone: &str,
    desired: i32,
) -> Result<(), String> {
    autoscaling
        .create_launch_configuration()
        .launch_configuration_name(format!("{name}-lc"))
        .image_id("ami-0123456789abcdef0")
        .instance_type("t3.medium")
        .send()
        .await
        .map_err(failed("CreateLaunchConfiguration"))?;
    autoscaling
        .create_auto_scaling_group()
        .auto_scaling_group_name(name)
        .launch_configuration_name(format!("{name}-lc"))
        .min_size(0)
        .max_size(1)
        .desired_capacity(desired)
        .availability_zones(zone)
        .send()
        .await
        .map_err(failed("CreateAutoScalingGroup"))?;
    Ok(())
}

/// Adds the terminate lifecycle hook the ECS sync completes.
pub async fn put_terminate_hook(
    autoscaling: &AutoScaling,
    group: &str,
    hook: &str,
) -> Result<(), String> {
    autoscaling
        .put_lifecycle_hook()
        .auto_scaling_group_name(group)
        .lifecycle_hook_name(hook)
        .lifecycle_transition("autoscaling:EC2_INSTANCE_TERMINATING")
        .heartbeat_timeout(600)
        .default_result("CONTINUE")
        .send()
        .await
        .map_err(failed("PutLifecycleHook"))?;
    Ok(())
}

/// Creates a cluster, a task definition `family` with one essential container
/// `container` (bridge networking with the game port on its host port, as the
/// template's), and a service of it at desired count 0.
pub async fn create_service(
    ecs: &Ecs,
    cluster: &str,
    family: &str,
    container: &str,
    service: &str,
) -> Result<(), String> {
    ecs.create_cluster()
        .cluster_name(cluster)
        .send()
        .await
        .map_err(failed("CreateCluster"))?;
    ecs.register_task_definition()
        .family(family)
        .requires_compatibilities(Compatibility::Ec2)
        // As the template's: bridge networking, the game port on the same host port.
        .network_mode(NetworkMode::Bridge)
        .container_definitions(
            ContainerDefinition::builder()
                .name(container)
                .image("itzg/minecraft-server:latest")
                .memory(3584)
                .essential(true)
                .port_mappings(
                    PortMapping::builder()
                        .container_port(25565)
                        .host_port(25565)
                        .protocol(TransportProtocol::Tcp)
                        .build(),
                )
                .build(),
        )
        .send()
        .await
        .map_err(failed("RegisterTaskDefinition"))?;
    ecs.create_service()
        .cluster(cluster)
        .service_name(service)
        .task_definition(family)
        .desired_count(0)
        .send()
        .await
        .map_err(failed("CreateService"))?;
    Ok(())
}

/// Creates the hosted zone `domain` with an A record of `domain` at `ip`; returns
/// the zone's id (without `/hostedzone/`).
pub async fn create_zone(
    route53: &aws_sdk_route53::Client,
    domain: &str,
    ip: &str,
) -> Result<String, String> {
    let zone = route53
        .create_hosted_zone()
        .name(domain)
        .caller_reference(format!("cm-testkit-{domain}"))
        .send()
        .await
        .map_err(failed("CreateHostedZone"))?
        .hosted_zone()
        .map(|z| z.id().trim_start_matches("/hostedzone/").to_string())
        .ok_or("CreateHostedZone: the answer has no zone")?;
    upsert_record(route53, &zone, domain, RrType::A, 1, ip).await?;
    Ok(zone)
}

/// Creates or replaces the TXT record `name` in `zone` with the one string `value`
/// (quoted here, as Route 53 takes it; TTL 300 s, as the template's entries).
pub async fn put_txt(
    route53: &aws_sdk_route53::Client,
    zone: &str,
    name: &str,
    value: &str,
) -> Result<(), String> {
    let quoted = format!("\"{value}\"");
    upsert_record(route53, zone, name, RrType::Txt, 300, &quoted).await
}

/// Creates or replaces the record set `name` of type `kind` in `zone` with the one
/// value `value` (a TXT value quoted, as Route 53 takes it).
pub async fn upsert_record(
    route53: &aws_sdk_route53::Client,
    zone: &str,
    name: &str,
    kind: RrType,
    ttl: i64,
    value: &str,
) -> Result<(), String> {
    let what = format!("ChangeResourceRecordSets {name} {}", kind.as_str());
    let invalid = |e: aws_sdk_route53::error::BuildError| format!("{what}: {e}");
    let set = ResourceRecordSet::builder()
        .name(name)
        .r#type(kind)
        .ttl(ttl)
        .resource_records(
            ResourceRecord::builder()
                .value(value)
                .build()
                .map_err(invalid)?,
        )
        .build()
        .map_err(invalid)?;
    let change = Change::builder()
        .action(ChangeAction::Upsert)
        .resource_record_set(set)
        .build()
        .map_err(invalid)?;
    let batch = ChangeBatch::builder()
        .changes(change)
        .build()
        .map_err(invalid)?;
    route53
        .change_resource_record_sets()
        .hosted_zone_id(zone)
        .change_batch(batch)
        .send()
        .await
        .map_err(|e| format!("{what}: {}", DisplayErrorContext(e)))?;
    Ok(())
}

/// Creates the SNS topic `name`; returns its ARN.
pub async fn create_topic(sns: &aws_sdk_sns::Client, name: &str) -> Result<String, String> {
    sns.create_topic()
        .name(name)
        .send()
        .await
        .map_err(failed("CreateTopic"))?
        .topic_arn()
        .map(str::to_string)
        .ok_or_else(|| "CreateTopic: the answer has no TopicArn".to_string())
}

/// Registers `instance` as a container instance of `cluster` (what the ECS agent
/// does when the instance boots); returns the container instance's ARN.
pub async fn register_container_instance(
    ecs: &Ecs,
    cluster: &str,
    instance: &str,
) -> Result<String, String> {
    let identity = json!({"instanceId": instance, "region": REGION, "accountId": ACCOUNT});
    ecs.register_container_instance()
        .cluster(cluster)
        .instance_identity_document(identity.to_string())
        .send()
        .await
        .map_err(failed("RegisterContainerInstance"))?
        .container_instance()
        .and_then(|c| c.container_instance_arn())
        .map(str::to_string)
        .ok_or_else(|| "RegisterContainerInstance: the answer has no ARN".to_string())
}

// Reading the resources back.

/// The group's desired capacity, or -1 if it cannot be read.
pub async fn desired(autoscaling: &AutoScaling, name: &str) -> i32 {
    cm_core::autoscaling::describe_group(autoscaling, name)
        .await
        .map(|g| g.desired_capacity)
        .unwrap_or(-1)
}

/// (instance id, lifecycle state) of the group's instances.
pub async fn instances(autoscaling: &AutoScaling, group: &str) -> Vec<(String, String)> {
    cm_core::autoscaling::describe_group(autoscaling, group)
        .await
        .map(|g| g.instances)
        .unwrap_or_default()
}

/// The first InService instance of the group.
pub async fn in_service_instance(autoscaling: &AutoScaling, group: &str) -> Option<String> {
    instances(autoscaling, group)
        .await
        .into_iter()
        .find(|(_, state)| state == "InService")
        .map(|(id, _)| id)
}

/// The instance's public IP address, or "" if it has none or cannot be read.
pub async fn public_ip(ec2: &aws_sdk_ec2::Client, instance: &str) -> String {
    ec2.describe_instances()
        .instance_ids(instance)
        .send()
        .await
        .ok()
        .and_then(|o| {
            o.reservations()
                .first()
                .and_then(|r| r.instances().first())
                .and_then(|i| i.public_ip_address().map(str::to_string))
        })
        .unwrap_or_default()
}

/// The service's desired count, or -1 if it cannot be read.
pub async fn service_desired(ecs: &Ecs, cluster: &str, service: &str) -> i32 {
    ecs.describe_services()
        .cluster(cluster)
        .services(service)
        .send()
        .await
        .ok()
        .and_then(|o| o.services().first().map(|s| s.desired_count()))
        .unwrap_or(-1)
}

/// The ARNs of the cluster's tasks that have not stopped.
pub async fn running_tasks(ecs: &Ecs, cluster: &str) -> Vec<String> {
    let listed = match ecs.list_tasks().cluster(cluster).send().await {
        Ok(o) => o.task_arns().to_vec(),
        Err(_) => return Vec::new(),
    };
    if listed.is_empty() {
        return listed;
    }
    ecs.describe_tasks()
        .cluster(cluster)
        .set_tasks(Some(listed))
        .send()
        .await
        .map(|o| {
            o.tasks()
                .iter()
                .filter(|t| t.last_status() != Some("STOPPED"))
                .filter_map(|t| t.task_arn().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// The EC2 instance of the container instance `arn` of `cluster`, or "" if it cannot
/// be read.
pub async fn container_instance_ec2(ecs: &Ecs, cluster: &str, arn: &str) -> String {
    ecs.describe_container_instances()
        .cluster(cluster)
        .container_instances(arn)
        .send()
        .await
        .ok()
        .and_then(|o| {
            o.container_instances()
                .first()
                .and_then(|c| c.ec2_instance_id().map(str::to_string))
        })
        .unwrap_or_default()
}

/// The containers the router keeps alive in `cloudwatch`'s region: the
/// `ContainerName` dimension of each keep-alive metric (`ContainerManager`/
/// `DnsQueries`) there, sorted.
pub async fn keep_alive_containers(
    cloudwatch: &aws_sdk_cloudwatch::Client,
) -> Result<Vec<String>, String> {
    let listed = cloudwatch
        .list_metrics()
        .namespace("ContainerManager")
        .metric_name("DnsQueries")
        .dimensions(
            aws_sdk_cloudwatch::types::DimensionFilter::builder()
                .name("ContainerName")
                .build(),
        )
        .send()
        .await
        .map_err(failed("ListMetrics ContainerManager/DnsQueries"))?;
    let mut containers: Vec<String> = listed
        .metrics()
        .iter()
        .flat_map(|m| m.dimensions())
        .filter(|d| d.name() == Some("ContainerName"))
        .filter_map(|d| d.value().map(str::to_string))
        .collect();
    containers.sort();
    Ok(containers)
}

/// The values of `domain`'s A record in `zone`, joined by commas ("" if none).
pub async fn a_record(route53: &aws_sdk_route53::Client, zone: &str, domain: &str) -> String {
    route53
        .list_resource_record_sets()
        .hosted_zone_id(zone)
        .send()
        .await
        .ok()
        .and_then(|o| {
            o.resource_record_sets()
                .iter()
                .find(|r| r.name().trim_end_matches('.') == domain && *r.r#type() == RrType::A)
                .map(|r| {
                    r.resource_records()
                        .iter()
                        .map(|v| v.value().to_string())
                        .collect::<Vec<_>>()
                        .join(",")
                })
        })
        .unwrap_or_default()
}
