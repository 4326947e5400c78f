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
    autoscaling
        .describe_auto_scaling_groups()
        .auto_scaling_group_names(name)
        .send()
        .await
        .ok()
        .and_then(|o| {
            o.auto_scaling_groups()
                .first()
                .and_then(|g| g.desired_capacity())
        })
        .unwrap_or(-1)
}
