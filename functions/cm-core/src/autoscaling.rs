//! The Auto Scaling calls several functions make, in one place.

use aws_sdk_autoscaling::Client;

use crate::Error;

/// One group as the functions need it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupState {
    pub desired_capacity: i32,
    /// (instance id, lifecycle state) of every instance of the group.
    pub instances: Vec<(String, String)>,
}

impl From<&aws_sdk_autoscaling::types::AutoScalingGroup> for GroupState {
    /// A group as DescribeAutoScalingGroups answers it.
    fn from(group: &aws_sdk_autoscaling::types::AutoScalingGroup) -> Self {
        GroupState {
            desired_capacity: group.desired_capacity().unwrap_or_default(),
            instances: group
                .instances()
                .iter()
                .map(|i| {
                    (
                        i.instance_id().unwrap_or_default().to_string(),
                        i.lifecycle_state()
                            .map(|s| s.as_str().to_string())
                            .unwrap_or_default(),
                    )
                })
                .collect(),
        }
    }
}

/// DescribeAutoScalingGroups for one group; an error if it does not exist.
pub async fn describe_group(client: &Client, asg: &str) -> Result<GroupState, Error> {
    describe_group_if_exists(client, asg)
        .await?
        .ok_or_else(|| Error::Aws {
            operation: format!("DescribeAutoScalingGroups {asg}"),
            message: "no such Auto Scaling group".into(),
        })
}

/// DescribeAutoScalingGroups for one group; `None` if there is no such group (AWS
/// answers an empty list, e.g. once a deleted stack's group is gone).
pub async fn describe_group_if_exists(
    client: &Client,
    asg: &str,
) -> Result<Option<GroupState>, Error> {
    let out = client
        .describe_auto_scaling_groups()
        .auto_scaling_group_names(asg)
        .send()
        .await
        .map_err(|e| Error::aws(format!("DescribeAutoScalingGroups {asg}"), e))?;
    Ok(out
        .auto_scaling_groups()
        .iter()
        .find(|g| g.auto_scaling_group_name() == Some(asg))
        .map(GroupState::from))
}

/// UpdateAutoScalingGroup with a new desired capacity.
pub async fn set_desired_capacity(client: &Client, asg: &str, desired: i32) -> Result<(), Error> {
    client
        .update_auto_scaling_group()
        .auto_scaling_group_name(asg)
        .desired_capacity(desired)
        .send()
        .await
        .map_err(|e| Error::aws(format!("UpdateAutoScalingGroup {asg}"), e))?;
    Ok(())
}
