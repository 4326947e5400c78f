//! Events as AWS sends them to the functions, built from the samples in `events/`
//! with the values of the resources at hand (group, instance, alarm, task), and
//! Route 53 query-log batches as CloudWatch Logs delivers them.

use std::io::Write;

use aws_smithy_types::date_time::{DateTime, Format};
use base64::Engine;
use serde_json::{json, Value};

use crate::emulator::{ACCOUNT, REGION};
use crate::repo_root;

/// The sample event `events/<path>`; panics naming the file if it cannot be read.
pub fn sample(path: &str) -> Value {
    let file = repo_root().join("events").join(path);
    let text =
        std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("read {}: {e}", file.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("parse {}: {e}", file.display()))
}

/// The current time as EventBridge writes it, e.g. `2026-11-24T08:16:02Z`.
pub fn now_rfc3339() -> String {
    let now = DateTime::from(std::time::SystemTime::now());
    DateTime::from_secs(now.secs())
        .fmt(Format::DateTime)
        .expect("the system clock is within the years RFC 3339 can write")
}

/// The sample ASG event `events/asg/<name>` for `group` and `instance`.
pub fn asg_sample(name: &str, group: &str, instance: &str) -> Value {
    let mut event = sample(&format!("asg/{name}"));
    event["detail"]["AutoScalingGroupName"] = group.into();
    event["detail"]["EC2InstanceId"] = instance.into();
    event
}

/// The sample ASG event `events/asg/<name>` as the group would send it now: for
/// `group` and `instance`, with the group's lifecycle hook `hook` when the event is
/// a lifecycle action.
pub fn asg_event(name: &str, group: &str, hook: &str, instance: &str) -> Value {
    let mut event = asg_sample(name, group, instance);
    event["time"] = now_rfc3339().into();
    if event["detail"].get("LifecycleHookName").is_some() {
        event["detail"]["LifecycleHookName"] = hook.into();
    }
    event
}

/// The terminate lifecycle action of `instance` in `group`, for the hook `hook`
/// and the action's `token`.
pub fn terminate_event(group: &str, hook: &str, instance: &str, token: &str) -> Value {
    let mut event = asg_event("terminate-lifecycle-action.json", group, hook, instance);
    event["detail"]["LifecycleActionToken"] = token.into();
    event
}

/// The idle alarm going to ALARM, as CloudWatch invokes the watchdog with it.
pub fn alarm_event(alarm_arn: &str, alarm_name: &str) -> Value {
    let mut event = sample("watchdog-scale-down/alarm-idle.json");
    event["alarmArn"] = alarm_arn.into();
    event["alarmData"]["alarmName"] = alarm_name.into();
    event
}

/// The ECS Task State Change of the service's `task` stopping because its
/// essential container `container` exited with code 137.
pub fn task_crashed_event(cluster: &str, service: &str, container: &str, task: &str) -> Value {
    let mut event = sample("watchdog-scale-down/ecs-task-crashed.json");
    event["time"] = now_rfc3339().into();
    event["resources"] = json!([task]);
    event["detail"]["clusterArn"] =
        format!("arn:aws:ecs:{REGION}:{ACCOUNT}:cluster/{cluster}").into();
    event["detail"]["taskArn"] = task.into();
    event["detail"]["group"] = format!("service:{service}").into();
    event["detail"]["containers"][0]["name"] = container.into();
    event["detail"]["containers"][0]["taskArn"] = task.into();
    event
}

/// One line of a Route 53 query log: a query of `name` for record type `kind`.
pub fn query_line(name: &str, kind: &str) -> String {
    format!("1.0 2026-11-24T08:16:02.130Z Z0123456789 {name} {kind} NOERROR UDP FRA6 192.0.2.1 -")
}

/// Line `i` of a batch of a Route 53 query log: a query of `name` for record type
/// `kind`, its time and resolver address varying with `i`.
pub fn numbered_query_line(i: usize, name: &str, kind: &str) -> String {
    format!(
        "1.0 2026-11-24T08:16:{:02}.{:03}Z Z0123456789ABCDEFGHIJ {name} {kind} NOERROR UDP FRA6 192.0.2.{} -",
        i % 60,
        i % 1000,
        i % 250
    )
}

/// `lines` lookups (type A) of the containers `game00`, `game01`... (`containers` of
/// them, in turn) of `domain`, as resolvers write them: any case, with or without the
/// trailing dot. The router's benchmark batch.
pub fn container_lookups(lines: usize, containers: usize, domain: &str) -> Vec<String> {
    (0..lines)
        .map(|i| {
            let name = format!("game{:02}.{domain}", i % containers);
            let name = match i % 3 {
                0 => name,
                1 => format!("{name}."),
                _ => name.to_ascii_uppercase(),
            };
            numbered_query_line(i, &name, "A")
        })
        .collect()
}

/// A CloudWatch Logs subscription event carrying `lines` in one batch of
/// `message_type` (`DATA_MESSAGE` or `CONTROL_MESSAGE`): gzipped, then base64.
pub fn query_log_event(message_type: &str, lines: &[String]) -> Value {
    let batch = json!({
        "messageType": message_type,
        "owner": ACCOUNT,
        "logGroup": "/aws/route53/example.com",
        "logStream": "Z0123456789/FRA6",
        "subscriptionFilters": ["cm-filter-demo-mc"],
        "logEvents": lines.iter().enumerate().map(|(i, l)| json!({
            "id": format!("{i:056}"), "timestamp": 1_700_000_000_000_i64 + i as i64, "message": l
        })).collect::<Vec<_>>(),
    });
    awslogs_event(&gzip(batch.to_string().as_bytes()))
}

/// A CloudWatch Logs subscription event whose `awslogs.data` is `payload` in base64
/// (gzipped JSON in a real event; anything, to test how it is refused).
pub fn awslogs_event(payload: &[u8]) -> Value {
    json!({"awslogs": {"data": base64::engine::general_purpose::STANDARD.encode(payload)}})
}

/// `bytes` gzipped.
pub fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    // Writing into a Vec cannot fail.
    let _ = gz.write_all(bytes);
    gz.finish().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    #[test]
    fn now_is_written_to_the_second_in_utc() {
        let now = now_rfc3339();
        assert_eq!(now.len(), "2026-11-24T08:16:02Z".len(), "{now}");
        assert!(now.ends_with('Z') && now.as_bytes()[10] == b'T', "{now}");
        let parsed = DateTime::from_str(&now, Format::DateTime).expect("RFC 3339");
        let age = DateTime::from(std::time::SystemTime::now()).secs() - parsed.secs();
        assert!((0..5).contains(&age), "{now} is {age} s old");
    }

    #[test]
    fn a_query_log_event_decodes_to_its_lines() {
        let lines = vec![query_line("mc.example.com", "A")];
        let event = query_log_event("DATA_MESSAGE", &lines);
        let data = base64::engine::general_purpose::STANDARD
            .decode(event["awslogs"]["data"].as_str().unwrap_or_default())
            .expect("base64");
        let mut json = String::new();
        flate2::read::GzDecoder::new(&data[..])
            .read_to_string(&mut json)
            .expect("gzip");
        let batch: Value = serde_json::from_str(&json).expect("JSON");
        assert_eq!(batch["messageType"], "DATA_MESSAGE");
        assert_eq!(batch["logEvents"][0]["message"], lines[0].as_str());
    }

    #[test]
    fn asg_events_carry_the_group_instance_hook_and_token() {
        let event = terminate_event("g", "h", "i-0123456789abcdef0", "t");
        assert_eq!(event["detail"]["AutoScalingGroupName"], "g");
        assert_eq!(event["detail"]["EC2InstanceId"], "i-0123456789abcdef0");
        assert_eq!(event["detail"]["LifecycleHookName"], "h");
        assert_eq!(event["detail"]["LifecycleActionToken"], "t");
        let launch = asg_event("launch-successful.json", "g", "h", "i-0");
        assert!(launch["detail"].get("LifecycleHookName").is_none());
    }
}
