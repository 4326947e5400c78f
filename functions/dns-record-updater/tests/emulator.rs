//! The DNS updater against the local AWS emulator: a hosted zone, an ASG whose
//! instances have public IPs, and an SNS topic whose messages the test reads; each
//! event shape, and the scheduled run healing what missed events left behind.
#![cfg(feature = "emulator")]

use std::collections::HashMap;
use std::path::Path;

use aws_sdk_autoscaling::Client as AutoScaling;
use aws_sdk_route53::types::RrType;
use cm_core::Env;
use cm_testkit::{asg, Emulator, Function, Outcome};
use dns_record_updater::decide::{Change, ChangeAction, RecordSet, RecordType};
use dns_record_updater::{handle, AwsCloud, Cloud, Config, Event};
use serde_json::Value;

const GROUP: &str = "cm-asg-dev-mc";
const NAME: &str = "mc.example.com";

struct Setup {
    emulator: Emulator,
    sdk: aws_config::SdkConfig,
    autoscaling: AutoScaling,
    route53: aws_sdk_route53::Client,
    cloud: AwsCloud,
    vars: HashMap<String, String>,
    zone: String,
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
            Path::new(env!("CARGO_BIN_EXE_dns-record-updater")),
            &self.emulator,
            &vars,
        )
    }

    async fn run(&self, event: &Value) -> Result<dns_record_updater::Outcome, cm_core::Error> {
        handle(&self.config(), &self.cloud, event).await
    }

    async fn record(&self, kind: RrType) -> Option<String> {
        let out = self
            .route53
            .list_resource_record_sets()
            .hosted_zone_id(&self.zone)
            .send()
            .await
            .expect("list records");
        out.resource_record_sets()
            .iter()
            .find(|r| r.name().trim_end_matches('.') == NAME && *r.r#type() == kind)
            .map(|r| {
                r.resource_records()
                    .iter()
                    .map(|v| v.value().to_string())
                    .collect::<Vec<_>>()
                    .join(",")
            })
    }

    async fn public_ip(&self, instance: &str) -> Option<String> {
        let ec2 = aws_sdk_ec2::Client::new(&self.sdk);
        let out = ec2
            .describe_instances()
            .instance_ids(instance)
            .send()
            .await
            .expect("describe");
        out.reservations()[0].instances()[0]
            .public_ip_address()
            .map(str::to_string)
    }

    fn messages(&self) -> Vec<(String, String)> {
        self.emulator
            .sns_messages()
            .iter()
            .map(|m| {
                (
                    m["Message"].as_str().unwrap_or("").to_string(),
                    m["MessageAttributes"]["event_type"]["StringValue"]
                        .as_str()
                        .unwrap_or("")
                        .to_string(),
                )
            })
            .collect()
    }
}

async fn setup(group_size: i32) -> Setup {
    let emulator = Emulator::start();
    let sdk = emulator.sdk_config().await;
    let autoscaling = AutoScaling::new(&sdk);
    asg::create_group(&autoscaling, GROUP, "us-east-1a", 1)
        .await
        .expect("group");
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
    let route53 = aws_sdk_route53::Client::new(&sdk);
    let zone = route53
        .create_hosted_zone()
        .name(NAME)
        .caller_reference("cm-test")
        .send()
        .await
        .expect("zone")
        .hosted_zone()
        .map(|z| z.id().to_string())
        .expect("zone id");
    let cloud = AwsCloud::new(&sdk);
    // The record starts at the unavailable IP, as the template creates it.
    let start = Change {
        action: ChangeAction::Upsert,
        record: RecordSet {
            name: NAME.into(),
            kind: RecordType::A,
            ttl: 1,
            values: vec!["0.0.0.0".into()],
        },
    };
    cloud
        .change_records(zone.trim_start_matches("/hostedzone/"), &[start])
        .await
        .expect("initial record");
    let topic = aws_sdk_sns::Client::new(&sdk)
        .create_topic()
        .name("cm-topic-dev-mc")
        .send()
        .await
        .expect("topic");
    let vars: HashMap<String, String> = [
        ("ASG_NAME", GROUP),
        ("HOSTED_ZONE_ID", zone.as_str()),
        ("DOMAIN_NAME", NAME),
        ("SNS_TOPIC_ARN", topic.topic_arn().unwrap_or_default()),
        ("CONTAINER_NAME", "mc"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    emulator.reset_counts();
    Setup {
        emulator,
        sdk,
        autoscaling,
        route53,
        cloud,
        vars,
        zone,
    }
}

async fn first_instance(s: &Setup) -> String {
    asg::instances(&s.autoscaling, GROUP).await[0].0.clone()
}

#[tokio::test]
async fn a_launch_points_the_name_at_the_instance_and_says_so_once() {
    let s = setup(1).await;
    let instance = first_instance(&s).await;
    let ip = s
        .public_ip(&instance)
        .await
        .expect("the emulator gives a public IP");
    let event = asg::sample_event("launch-successful.json", GROUP, &instance);
    let outcome = s.run(&event).await.expect("success");
    assert_eq!(outcome.event, Event::Launch);
    assert_eq!(s.record(RrType::A).await, Some(ip.clone()));
    assert_eq!(
        s.messages(),
        vec![(format!("mc is up at {ip}"), "launch".to_string())]
    );

    let again = s.run(&event).await.expect("a duplicate is no error");
    assert!(again.actions.is_empty(), "{:?}", again.actions);
    assert_eq!(s.messages().len(), 1, "no second message");
    assert_eq!(
        s.emulator.call_count(
            "route53:POST /2013-04-01/hostedzone/{}/rrset"
                .replace("{}", s.zone.trim_start_matches("/hostedzone/"))
                .as_str()
        ),
        1
    );
}

#[tokio::test]
async fn a_terminate_points_the_name_at_the_unavailable_ip() {
    let s = setup(1).await;
    let instance = first_instance(&s).await;
    s.run(&asg::sample_event(
        "launch-successful.json",
        GROUP,
        &instance,
    ))
    .await
    .expect("launch");
    let outcome = s
        .run(&asg::sample_event(
            "terminate-lifecycle-action.json",
            GROUP,
            &instance,
        ))
        .await
        .expect("terminate");
    assert_eq!(outcome.event, Event::Terminate);
    assert_eq!(s.record(RrType::A).await.as_deref(), Some("0.0.0.0"));
    assert_eq!(
        s.messages().last().cloned(),
        Some(("mc is shutting down".to_string(), "terminate".to_string()))
    );
}

#[tokio::test]
async fn a_terminate_while_a_newer_instance_is_in_service_keeps_the_record() {
    let s = setup(2).await;
    let instances = asg::instances(&s.autoscaling, GROUP).await;
    let (old, new) = (instances[0].0.clone(), instances[1].0.clone());
    s.run(&asg::sample_event("launch-successful.json", GROUP, &new))
        .await
        .expect("launch of the new one");
    let new_ip = s.public_ip(&new).await;
    let outcome = s
        .run(&asg::sample_event(
            "terminate-lifecycle-action.json",
            GROUP,
            &old,
        ))
        .await
        .expect("terminate");
    assert!(outcome.actions.is_empty());
    assert!(outcome.note.unwrap_or_default().contains(&new));
    assert_eq!(s.record(RrType::A).await, new_ip);
    assert_eq!(s.messages().len(), 1, "only the launch was announced");
}

#[tokio::test]
async fn an_instance_without_a_public_ip_is_an_error_and_the_record_stays() {
    let s = setup(1).await;
    let ec2 = aws_sdk_ec2::Client::new(&s.sdk);
    let vpc = ec2
        .create_vpc()
        .cidr_block("10.9.0.0/16")
        .send()
        .await
        .unwrap()
        .vpc()
        .and_then(|v| v.vpc_id().map(str::to_string))
        .unwrap();
    let subnet = ec2
        .create_subnet()
        .vpc_id(vpc)
        .cidr_block("10.9.1.0/24")
        .availability_zone("us-east-1a")
        .send()
        .await
        .unwrap()
        .subnet()
        .and_then(|x| x.subnet_id().map(str::to_string))
        .unwrap();
    s.autoscaling
        .create_auto_scaling_group()
        .auto_scaling_group_name("cm-asg-dev-private")
        .launch_configuration_name(format!("{GROUP}-lc"))
        .min_size(0)
        .max_size(1)
        .desired_capacity(1)
        .vpc_zone_identifier(subnet)
        .send()
        .await
        .unwrap();
    let private = asg::instances(&s.autoscaling, "cm-asg-dev-private").await[0]
        .0
        .clone();
    let mut vars = s.vars.clone();
    vars.insert("ASG_NAME".into(), "cm-asg-dev-private".into());
    let cfg = Config::from_env(Env::from_map(&vars)).unwrap();
    s.emulator.reset_counts();
    let err = handle(
        &cfg,
        &s.cloud,
        &asg::sample_event("launch-successful.json", "cm-asg-dev-private", &private),
    )
    .await
    .expect_err("no public IP");
    assert!(
        err.to_string().contains("has no public IPv4 address"),
        "{err}"
    );
    assert!(s.emulator.writes().is_empty(), "{:?}", s.emulator.calls());
    assert_eq!(s.record(RrType::A).await.as_deref(), Some("0.0.0.0"));
    assert!(s.messages().is_empty());
}

#[tokio::test]
async fn foreign_groups_and_bad_events_write_nothing() {
    let s = setup(1).await;
    let instance = first_instance(&s).await;
    let foreign = asg::sample_event("launch-successful.json", "someone-elses-asg", &instance);
    let mut unknown = asg::sample_event("launch-successful.json", GROUP, &instance);
    unknown["detail-type"] = "EC2 Instance Launch Unsuccessful".into();
    let mut missing = asg::sample_event("launch-successful.json", GROUP, &instance);
    missing["detail"]
        .as_object_mut()
        .unwrap()
        .remove("EC2InstanceId");
    for (event, expected) in [
        (foreign, "not \"cm-asg-dev-mc\""),
        (unknown, "unsupported detail-type"),
        (missing, "detail.EC2InstanceId is missing"),
    ] {
        s.emulator.reset_counts();
        let err = s.run(&event).await.expect_err("an error");
        assert!(
            err.to_string().contains(expected),
            "{err} should say {expected}"
        );
    }
    assert!(s.emulator.calls().is_empty(), "{:?}", s.emulator.calls());
    assert_eq!(s.record(RrType::A).await.as_deref(), Some("0.0.0.0"));
}

#[tokio::test]
async fn the_binary_updates_the_record_behind_the_runtime_api() {
    let s = setup(1).await;
    let instance = first_instance(&s).await;
    let function = s.binary();
    let outcome = function.try_invoke(asg::sample_event(
        "launch-successful.json",
        GROUP,
        &instance,
    ));
    drop(function);
    assert_eq!(
        outcome
            .as_ref()
            .and_then(Outcome::response)
            .map(|r| r["event"].clone()),
        Some("launch".into())
    );
    assert_eq!(s.record(RrType::A).await, s.public_ip(&instance).await);
}

// ---------------------------------------------------------- scheduled runs

fn tick() -> Value {
    cm_testkit::events::sample("asg/scheduled-event.json")
}

impl Setup {
    /// Puts the A record at `ip` behind the function's back (a console edit, or what
    /// an earlier launch wrote).
    async fn put_a(&self, ip: &str) {
        let change = Change {
            action: ChangeAction::Upsert,
            record: RecordSet {
                name: NAME.into(),
                kind: RecordType::A,
                ttl: 1,
                values: vec![ip.into()],
            },
        };
        self.cloud
            .change_records(self.zone.trim_start_matches("/hostedzone/"), &[change])
            .await
            .expect("put the record");
    }

    fn record_changes(&self) -> u64 {
        self.emulator.call_count(&format!(
            "route53:POST /2013-04-01/hostedzone/{}/rrset",
            self.zone.trim_start_matches("/hostedzone/")
        ))
    }
}

#[tokio::test]
async fn a_missed_launch_is_healed_by_one_scheduled_run() {
    let s = setup(1).await;
    let instance = first_instance(&s).await;
    let ip = s.public_ip(&instance).await.expect("a public IP");
    // The instance is InService; its launch event never reached the updater.
    let outcome = s.run(&tick()).await.expect("success");
    assert_eq!(outcome.event, Event::Reconcile);
    assert_eq!(outcome.instance_id.as_deref(), Some(instance.as_str()));
    assert_eq!(s.record(RrType::A).await, Some(ip.clone()));
    assert_eq!(
        s.messages(),
        vec![(format!("mc is up at {ip}"), "launch".to_string())]
    );
    assert_eq!(s.record_changes(), 1);

    // The next run finds nothing to fix and makes no write call.
    s.emulator.reset_counts();
    let again = s.run(&tick()).await.expect("success");
    assert!(again.actions.is_empty(), "{again:?}");
    assert!(again.note.unwrap_or_default().starts_with("nothing to fix"),);
    assert!(s.emulator.writes().is_empty(), "{:?}", s.emulator.calls());
    assert_eq!(s.messages().len(), 1);
}

#[tokio::test]
async fn a_missed_terminate_is_healed_by_one_scheduled_run() {
    let s = setup(1).await;
    let instance = first_instance(&s).await;
    let ip = s.public_ip(&instance).await.expect("a public IP");
    s.put_a(&ip).await;
    // The group went to 0; the terminate event never reached the updater.
    s.autoscaling
        .update_auto_scaling_group()
        .auto_scaling_group_name(GROUP)
        .desired_capacity(0)
        .send()
        .await
        .expect("scale in");
    assert!(asg::instances(&s.autoscaling, GROUP).await.is_empty());
    s.emulator.reset_counts();
    let outcome = s.run(&tick()).await.expect("success");
    assert_eq!(outcome.instance_id, None);
    assert_eq!(s.record(RrType::A).await.as_deref(), Some("0.0.0.0"));
    assert_eq!(s.record(RrType::Aaaa).await, None);
    assert_eq!(
        s.messages(),
        vec![("mc is down".to_string(), "terminate".to_string())]
    );
    assert_eq!(s.record_changes(), 1);
}

#[tokio::test]
async fn a_drifted_record_is_healed_by_one_scheduled_run() {
    let s = setup(1).await;
    let instance = first_instance(&s).await;
    let ip = s.public_ip(&instance).await.expect("a public IP");
    s.put_a("198.51.100.1").await;
    s.emulator.reset_counts();
    let outcome = s.run(&tick()).await.expect("success");
    assert_eq!(s.record(RrType::A).await, Some(ip));
    let found = outcome.found.expect("what the run found");
    assert_eq!(found.records[0].values, vec!["198.51.100.1".to_string()]);
    assert_eq!(s.record_changes(), 1);
}

#[tokio::test]
async fn a_scheduled_run_with_nothing_to_fix_makes_no_write_call() {
    let s = setup(1).await;
    let instance = first_instance(&s).await;
    s.run(&asg::sample_event(
        "launch-successful.json",
        GROUP,
        &instance,
    ))
    .await
    .expect("launch");
    s.emulator.reset_counts();
    let outcome = s.run(&tick()).await.expect("success");
    assert!(outcome.actions.is_empty(), "{outcome:?}");
    assert!(s.emulator.writes().is_empty(), "{:?}", s.emulator.calls());
    assert_eq!(s.messages().len(), 1, "only the launch was announced");
}

#[tokio::test]
async fn the_binary_heals_a_missed_launch_on_the_scheduled_event() {
    let s = setup(1).await;
    let instance = first_instance(&s).await;
    let function = s.binary();
    let outcome = function.try_invoke(tick());
    drop(function);
    assert_eq!(
        outcome
            .as_ref()
            .and_then(Outcome::response)
            .map(|r| r["event"].clone()),
        Some("reconcile".into()),
        "{outcome:?}"
    );
    assert_eq!(s.record(RrType::A).await, s.public_ip(&instance).await);
}

#[tokio::test]
async fn a_launch_without_ipv6_deletes_an_earlier_instances_aaaa_in_the_same_batch() {
    let s = setup(1).await;
    let instance = first_instance(&s).await;
    // An earlier instance's AAAA, left behind.
    let aaaa = Change {
        action: ChangeAction::Upsert,
        record: RecordSet {
            name: NAME.into(),
            kind: RecordType::Aaaa,
            ttl: 300,
            values: vec!["2001:db8::7".into()],
        },
    };
    s.cloud
        .change_records(s.zone.trim_start_matches("/hostedzone/"), &[aaaa])
        .await
        .expect("put the AAAA record");
    s.emulator.reset_counts();
    let outcome = s
        .run(&asg::sample_event(
            "launch-successful.json",
            GROUP,
            &instance,
        ))
        .await
        .expect("launch");
    assert_eq!(s.record(RrType::A).await, s.public_ip(&instance).await);
    assert_eq!(s.record(RrType::Aaaa).await, None);
    assert_eq!(s.record_changes(), 1, "one batch: {:?}", outcome.actions);
}
