//! [`Cloud`] in memory, for fast tests: EC2 instances with their public addresses,
//! one Auto Scaling group with its instances' lifecycle states, one hosted zone with
//! its A and AAAA record sets, and the messages published. Every call is recorded
//! first (failures are injected per operation through [`Recorder::fail`]).
//!
//! ChangeResourceRecordSets behaves like Route 53: the batch is checked whole and
//! applied all at once or not at all, and a DELETE must name a record set exactly as
//! it is (TTL and values), or the batch fails with `InvalidChangeBatch`.

use std::collections::BTreeMap;
use std::sync::Mutex;

use cm_core::fake::{lock, Recorder};
use cm_core::Error;

use crate::cloud::Cloud;
use crate::decide::{Addresses, Change, ChangeAction, Message, RecordSet, RecordType};

/// One message published.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Published {
    pub topic: String,
    pub message: Message,
}

#[derive(Debug, Default)]
struct State {
    /// The group's name.
    group_name: String,
    /// (instance id, lifecycle state) of the group's instances.
    group: Vec<(String, String)>,
    /// Every instance EC2 knows, with its public addresses.
    instances: BTreeMap<String, Addresses>,
    /// The hosted zone's id (bare).
    zone: String,
    /// The zone's record sets, names lower case without the trailing dot.
    records: Vec<RecordSet>,
    published: Vec<Published>,
}

#[derive(Debug, Default)]
pub struct FakeCloud {
    pub recorder: Recorder,
    state: Mutex<State>,
}

/// A DNS name as Route 53 compares it: case-insensitive, the trailing dot optional.
fn normalise(name: &str) -> String {
    name.trim_end_matches('.').to_ascii_lowercase()
}

fn sorted(values: &[String]) -> Vec<String> {
    let mut values = values.to_vec();
    values.sort();
    values
}

impl FakeCloud {
    /// The group `group_name` with no instances, and the empty hosted zone `zone`.
    pub fn new(group_name: &str, zone: &str) -> Self {
        let fake = FakeCloud::default();
        {
            let mut state = lock(&fake.state);
            state.group_name = group_name.to_string();
            state.zone = zone.to_string();
        }
        fake
    }

    /// An instance joins the group in `lifecycle_state` (e.g. `InService`) with
    /// these public addresses.
    pub fn add_instance(&self, instance_id: &str, lifecycle_state: &str, addresses: Addresses) {
        let mut state = lock(&self.state);
        state.instances.insert(instance_id.to_string(), addresses);
        state.group.retain(|(id, _)| id != instance_id);
        state
            .group
            .push((instance_id.to_string(), lifecycle_state.to_string()));
    }

    /// Changes an instance's lifecycle state in the group (e.g. `Terminating:Wait`).
    pub fn set_lifecycle_state(&self, instance_id: &str, lifecycle_state: &str) {
        let mut state = lock(&self.state);
        for (id, current) in state.group.iter_mut() {
            if id == instance_id {
                *current = lifecycle_state.to_string();
            }
        }
    }

    /// The instance is terminated: it leaves the group and loses its public
    /// addresses; EC2 still describes it.
    pub fn terminate_instance(&self, instance_id: &str) {
        let mut state = lock(&self.state);
        state.group.retain(|(id, _)| id != instance_id);
        if let Some(addresses) = state.instances.get_mut(instance_id) {
            *addresses = Addresses::default();
        }
    }

    /// The group is deleted (its stack is going): DescribeAutoScalingGroups finds
    /// none.
    pub fn delete_group(&self) {
        let mut state = lock(&self.state);
        state.group_name.clear();
        state.group.clear();
    }

    /// Puts a record set into the zone directly (not a recorded call).
    pub fn put_record(&self, record: RecordSet) {
        let mut state = lock(&self.state);
        let record = RecordSet {
            name: normalise(&record.name),
            ..record
        };
        state
            .records
            .retain(|r| !(r.name == record.name && r.kind == record.kind));
        state.records.push(record);
    }

    /// The record set of `name` and `kind`, if the zone has one.
    pub fn record(&self, name: &str, kind: RecordType) -> Option<RecordSet> {
        let name = normalise(name);
        lock(&self.state)
            .records
            .iter()
            .find(|r| r.name == name && r.kind == kind)
            .cloned()
    }

    /// Every record set of the zone.
    pub fn records(&self) -> Vec<RecordSet> {
        lock(&self.state).records.clone()
    }

    /// The messages published, in order.
    pub fn published(&self) -> Vec<Published> {
        lock(&self.state).published.clone()
    }

    fn no_such_zone(call: String, zone: &str) -> Error {
        Error::Aws {
            operation: call,
            message: format!(
                "service error: NoSuchHostedZone: No hosted zone found with ID: {zone}"
            ),
        }
    }
}

/// Applies `changes` to `records` the way Route 53 checks a batch.
fn apply(records: &mut Vec<RecordSet>, changes: &[Change]) -> Result<(), String> {
    for (i, change) in changes.iter().enumerate() {
        let name = normalise(&change.record.name);
        let kind = change.record.kind;
        let described = format!("[name='{name}.', type='{kind}']");
        if changes[..i]
            .iter()
            .any(|c| normalise(&c.record.name) == name && c.record.kind == kind)
        {
            return Err(format!(
                "Duplicate Resource Record Set {described} in one change batch"
            ));
        }
        let at = records
            .iter()
            .position(|r| r.name == name && r.kind == kind);
        match change.action {
            ChangeAction::Upsert => {
                if change.record.values.is_empty() {
                    return Err(format!("the record set {described} has no values"));
                }
                let record = RecordSet {
                    name,
                    ..change.record.clone()
                };
                match at {
                    Some(at) => records[at] = record,
                    None => records.push(record),
                }
            }
            ChangeAction::Delete => match at {
                None => {
                    return Err(format!(
                        "Tried to delete resource record set {described} but it was not found"
                    ))
                }
                Some(at)
                    if records[at].ttl != change.record.ttl
                        || sorted(&records[at].values) != sorted(&change.record.values) =>
                {
                    return Err(format!(
                        "Tried to delete resource record set {described} but the values \
                         provided do not match the current values"
                    ))
                }
                Some(at) => {
                    records.remove(at);
                }
            },
        }
    }
    Ok(())
}

impl Cloud for FakeCloud {
    async fn instance_addresses(&self, instance_id: &str) -> Result<Addresses, Error> {
        let call = format!("DescribeInstances {instance_id}");
        self.recorder.call(&call)?;
        lock(&self.state)
            .instances
            .get(instance_id)
            .cloned()
            .ok_or_else(|| Error::Aws {
                operation: call,
                message: format!(
                    "service error: InvalidInstanceID.NotFound: The instance ID '{instance_id}' does not exist"
                ),
            })
    }

    async fn current_records(&self, zone: &str, name: &str) -> Result<Vec<RecordSet>, Error> {
        let call = format!("ListResourceRecordSets {zone} {name}");
        self.recorder.call(&call)?;
        let state = lock(&self.state);
        if state.zone != zone {
            return Err(FakeCloud::no_such_zone(call, zone));
        }
        let wanted = normalise(name);
        Ok(state
            .records
            .iter()
            .filter(|r| r.name == wanted)
            .map(|r| RecordSet {
                name: name.to_string(),
                ..r.clone()
            })
            .collect())
    }

    async fn group_instances(&self, asg: &str) -> Result<Option<Vec<(String, String)>>, Error> {
        self.recorder
            .call(format!("DescribeAutoScalingGroups {asg}"))?;
        let state = lock(&self.state);
        Ok((state.group_name == asg).then(|| state.group.clone()))
    }

    async fn change_records(&self, zone: &str, changes: &[Change]) -> Result<(), Error> {
        let shown: Vec<String> = changes.iter().map(ToString::to_string).collect();
        let call = format!("ChangeResourceRecordSets {zone} {}", shown.join("; "));
        self.recorder.call(&call)?;
        let mut state = lock(&self.state);
        if state.zone != zone {
            return Err(FakeCloud::no_such_zone(call, zone));
        }
        let mut records = state.records.clone();
        match apply(&mut records, changes) {
            Ok(()) => {
                state.records = records;
                Ok(())
            }
            Err(why) => Err(Error::Aws {
                operation: call,
                message: format!("service error: InvalidChangeBatch: [{why}]"),
            }),
        }
    }

    async fn notify(&self, topic: &str, message: &Message) -> Result<(), Error> {
        self.recorder
            .call(format!("Publish {topic} {:?}", message.text))?;
        lock(&self.state).published.push(Published {
            topic: topic.to_string(),
            message: message.clone(),
        });
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(kind: RecordType, ttl: i64, values: &[&str]) -> RecordSet {
        RecordSet {
            name: "MC.example.com.".into(),
            kind,
            ttl,
            values: values.iter().map(|v| v.to_string()).collect(),
        }
    }

    fn change(action: ChangeAction, record: RecordSet) -> Change {
        Change { action, record }
    }

    fn fake() -> FakeCloud {
        let fake = FakeCloud::new("g", "Z1");
        fake.put_record(set(RecordType::A, 1, &["0.0.0.0"]));
        fake.put_record(set(RecordType::Aaaa, 1, &["2001:db8::7"]));
        fake
    }

    #[tokio::test]
    async fn a_batch_is_applied_whole() {
        let fake = fake();
        fake.change_records(
            "Z1",
            &[
                change(
                    ChangeAction::Upsert,
                    set(RecordType::A, 1, &["203.0.113.7"]),
                ),
                change(
                    ChangeAction::Delete,
                    set(RecordType::Aaaa, 1, &["2001:db8::7"]),
                ),
            ],
        )
        .await
        .unwrap();
        let records = fake.current_records("Z1", "mc.example.com").await.unwrap();
        assert_eq!(records.len(), 1);
        assert_eq!(records[0].values, vec!["203.0.113.7"]);
        assert_eq!(fake.recorder.count("ChangeResourceRecordSets"), 1);
    }

    #[tokio::test]
    async fn a_delete_of_a_set_that_does_not_match_fails_the_whole_batch() {
        let fake = fake();
        let before = fake.records();
        for wrong in [
            set(RecordType::Aaaa, 1, &["2001:db8::8"]),
            set(RecordType::Aaaa, 300, &["2001:db8::7"]),
        ] {
            let err = fake
                .change_records(
                    "Z1",
                    &[
                        change(
                            ChangeAction::Upsert,
                            set(RecordType::A, 1, &["203.0.113.7"]),
                        ),
                        change(ChangeAction::Delete, wrong),
                    ],
                )
                .await
                .unwrap_err()
                .to_string();
            assert!(err.contains("InvalidChangeBatch"), "{err}");
            assert!(err.contains("do not match the current values"), "{err}");
        }
        fake.change_records(
            "Z1",
            &[change(
                ChangeAction::Delete,
                set(RecordType::Aaaa, 1, &["2001:db8::7"]),
            )],
        )
        .await
        .unwrap();
        let err = fake
            .change_records(
                "Z1",
                &[change(
                    ChangeAction::Delete,
                    set(RecordType::Aaaa, 1, &["2001:db8::7"]),
                )],
            )
            .await
            .unwrap_err()
            .to_string();
        assert!(err.contains("but it was not found"), "{err}");
        // The failed batches left the A record as it was.
        assert_eq!(
            fake.record("mc.example.com", RecordType::A).as_ref(),
            before.first()
        );
    }

    #[tokio::test]
    async fn another_zone_and_another_group_do_not_exist() {
        let fake = fake();
        let err = fake
            .current_records("Z0000NOSUCHZONE", "mc.example.com")
            .await
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("NoSuchHostedZone") && err.contains("Z0000NOSUCHZONE"),
            "{err}"
        );
        assert_eq!(fake.group_instances("h").await.unwrap(), None);
        let err = fake
            .instance_addresses("i-404")
            .await
            .unwrap_err()
            .to_string();
        assert!(err.contains("InvalidInstanceID.NotFound"), "{err}");
    }
}
