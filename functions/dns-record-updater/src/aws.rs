//! [`Cloud`] through the AWS SDK: EC2, Route 53, Auto Scaling and SNS clients built
//! once at start-up.

use std::net::{Ipv4Addr, Ipv6Addr};

use aws_sdk_route53::types::{
    Change as R53Change, ChangeAction as R53Action, ChangeBatch, ResourceRecord, ResourceRecordSet,
    RrType,
};
use cm_core::Error;

use crate::cloud::Cloud;
use crate::decide::{Addresses, Change, ChangeAction, Message, RecordSet, RecordType};

#[derive(Clone, Debug)]
pub struct AwsCloud {
    ec2: aws_sdk_ec2::Client,
    route53: aws_sdk_route53::Client,
    autoscaling: aws_sdk_autoscaling::Client,
    sns: aws_sdk_sns::Client,
}

impl AwsCloud {
    pub fn new(sdk: &aws_config::SdkConfig) -> Self {
        AwsCloud {
            ec2: aws_sdk_ec2::Client::new(sdk),
            route53: aws_sdk_route53::Client::new(sdk),
            autoscaling: aws_sdk_autoscaling::Client::new(sdk),
            sns: aws_sdk_sns::Client::new(sdk),
        }
    }
}

fn same_name(a: &str, b: &str) -> bool {
    a.trim_end_matches('.')
        .eq_ignore_ascii_case(b.trim_end_matches('.'))
}

impl Cloud for AwsCloud {
    async fn instance_addresses(&self, instance_id: &str) -> Result<Addresses, Error> {
        let out = self
            .ec2
            .describe_instances()
            .instance_ids(instance_id)
            .send()
            .await
            .map_err(|e| Error::aws(format!("DescribeInstances {instance_id}"), e))?;
        let instance = out
            .reservations()
            .iter()
            .flat_map(|r| r.instances())
            .find(|i| i.instance_id() == Some(instance_id))
            .ok_or_else(|| Error::Aws {
                operation: format!("DescribeInstances {instance_id}"),
                message: "no such instance".into(),
            })?;
        let ipv4 = instance
            .public_ip_address()
            .and_then(|ip| ip.parse::<Ipv4Addr>().ok());
        let mut ipv6: Vec<Ipv6Addr> = instance
            .network_interfaces()
            .iter()
            .flat_map(|n| n.ipv6_addresses())
            .filter_map(|a| a.ipv6_address().and_then(|ip| ip.parse().ok()))
            .collect();
        if let Some(primary) = instance.ipv6_address().and_then(|ip| ip.parse().ok()) {
            if !ipv6.contains(&primary) {
                ipv6.insert(0, primary);
            }
        }
        Ok(Addresses { ipv4, ipv6 })
    }

    async fn current_records(&self, zone: &str, name: &str) -> Result<Vec<RecordSet>, Error> {
        let out = self
            .route53
            .list_resource_record_sets()
            .hosted_zone_id(zone)
            .start_record_name(name)
            .start_record_type(RrType::A)
            .max_items(4)
            .send()
            .await
            .map_err(|e| Error::aws(format!("ListResourceRecordSets {zone} {name}"), e))?;
        Ok(out
            .resource_record_sets()
            .iter()
            .filter(|r| same_name(r.name(), name))
            .filter_map(|r| {
                let kind = match r.r#type() {
                    RrType::A => RecordType::A,
                    RrType::Aaaa => RecordType::Aaaa,
                    _ => return None,
                };
                Some(RecordSet {
                    name: name.to_string(),
                    kind,
                    ttl: r.ttl().unwrap_or_default(),
                    values: r
                        .resource_records()
                        .iter()
                        .map(|v| v.value().to_string())
                        .collect(),
                })
            })
            .collect())
    }

    async fn group_instances(&self, asg: &str) -> Result<Option<Vec<(String, String)>>, Error> {
        Ok(
            cm_core::autoscaling::describe_group_if_exists(&self.autoscaling, asg)
                .await?
                .map(|group| group.instances),
        )
    }

    async fn change_records(&self, zone: &str, changes: &[Change]) -> Result<(), Error> {
        let build = |c: &Change| -> Result<R53Change, Error> {
            let records = c
                .record
                .values
                .iter()
                .map(|v| ResourceRecord::builder().value(v).build())
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| Error::aws("ChangeResourceRecordSets (record)", e))?;
            let set = ResourceRecordSet::builder()
                .name(&c.record.name)
                .r#type(match c.record.kind {
                    RecordType::A => RrType::A,
                    RecordType::Aaaa => RrType::Aaaa,
                })
                .ttl(c.record.ttl)
                .set_resource_records(Some(records))
                .build()
                .map_err(|e| Error::aws("ChangeResourceRecordSets (record set)", e))?;
            let action = match c.action {
                ChangeAction::Upsert => R53Action::Upsert,
                ChangeAction::Delete => R53Action::Delete,
            };
            R53Change::builder()
                .action(action)
                .resource_record_set(set)
                .build()
                .map_err(|e| Error::aws("ChangeResourceRecordSets (change)", e))
        };
        let batch = ChangeBatch::builder()
            .comment("Container Manager")
            .set_changes(Some(
                changes.iter().map(build).collect::<Result<Vec<_>, _>>()?,
            ))
            .build()
            .map_err(|e| Error::aws("ChangeResourceRecordSets (batch)", e))?;
        self.route53
            .change_resource_record_sets()
            .hosted_zone_id(zone)
            .change_batch(batch)
            .send()
            .await
            .map_err(|e| Error::aws(format!("ChangeResourceRecordSets {zone}"), e))?;
        Ok(())
    }

    async fn notify(&self, topic: &str, message: &Message) -> Result<(), Error> {
        cm_core::sns::publish(
            &self.sns,
            topic,
            &message.subject,
            &message.text,
            &[("event_type", &message.event_type)],
        )
        .await
    }
}
