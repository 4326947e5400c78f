//! Auto Scaling helpers for tests and the demo.

use aws_sdk_autoscaling::Client;
use aws_smithy_types::error::display::DisplayErrorContext;

/// Creates a launch configuration and a group (min 0, max 1) at `desired`; with
/// desired 1, the emulator launches an InService instance at once.
pub async fn create_group(
    autoscaling: &Client,
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
        .map_err(|e| format!("CreateLaunchConfiguration: {}", DisplayErrorContext(e)))?;
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
        .map_err(|e| format!("CreateAutoScalingGroup: {}", DisplayErrorContext(e)))?;
    Ok(())
}

/// The group's desired capacity, or -1 if it cannot be read.
pub async fn desired(autoscaling: &Client, name: &str) -> i32 {
    cm_core::autoscaling::describe_group(autoscaling, name)
        .await
        .map(|g| g.desired_capacity)
        .unwrap_or(-1)
}

/// Adds the terminate lifecycle hook the ECS sync completes.
pub async fn put_terminate_hook(
    autoscaling: &Client,
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
        .map_err(|e| format!("PutLifecycleHook: {}", DisplayErrorContext(e)))?;
    Ok(())
}

/// (instance id, lifecycle state) of the group's instances.
pub async fn instances(autoscaling: &Client, group: &str) -> Vec<(String, String)> {
    cm_core::autoscaling::describe_group(autoscaling, group)
        .await
        .map(|g| g.instances)
        .unwrap_or_default()
}

/// A sample ASG event from `events/asg/`, for `group` and `instance`.
pub fn sample_event(name: &str, group: &str, instance: &str) -> serde_json::Value {
    let path = crate::repo_root().join("events/asg").join(name);
    let text =
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    let mut event: serde_json::Value =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("parse {}: {e}", path.display()));
    event["detail"]["AutoScalingGroupName"] = group.into();
    event["detail"]["EC2InstanceId"] = instance.into();
    event
}
