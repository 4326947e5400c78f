//! The probe's small trait: what it reads before deciding (the group, the serving
//! instance's address, and the game server itself), and the one write it makes.
//! [`crate::aws::AwsCloud`] is the real one, [`crate::fake::FakeCloud`] the in-memory
//! one for fast tests.

use std::future::Future;
use std::net::Ipv4Addr;
use std::time::Duration;

use cm_core::Error;

use crate::config::{Config, PlayersMetric};
use crate::decide::{serving_instance, Observed};
use crate::protocol::{GameProtocol, ProbeAnswer, ProbeError};

pub trait Cloud: Sync {
    /// DescribeAutoScalingGroups: the group's (instance id, lifecycle state) pairs.
    fn group_instances(
        &self,
        asg: &str,
    ) -> impl Future<Output = Result<Vec<(String, String)>, Error>> + Send;

    /// DescribeInstances: the instance's public IPv4 address, `None` without one.
    fn public_ipv4(
        &self,
        instance_id: &str,
    ) -> impl Future<Output = Result<Option<Ipv4Addr>, Error>> + Send;

    /// The game server's own status protocol at `host`:`port`, within `timeout`. A
    /// failure is an unknown count, not an error of the invocation.
    fn probe(
        &self,
        protocol: GameProtocol,
        host: &str,
        port: u16,
        timeout: Duration,
    ) -> impl Future<Output = Result<ProbeAnswer, ProbeError>> + Send;

    /// PutMetricData: one `Players` data point (unit Count).
    fn put_players(
        &self,
        metric: &PlayersMetric,
        players: u32,
    ) -> impl Future<Output = Result<(), Error>> + Send;
}

/// Reads what [`crate::decide::what_to_probe`] needs: nothing with
/// `GAME_PROTOCOL=none`; else the group's instances (one call while the group is at
/// 0), and the serving instance's public IPv4 when `GAME_HOST` is unset.
pub async fn observe<C: Cloud>(config: &Config, cloud: &C) -> Result<Observed, Error> {
    let Some(game) = &config.game else {
        return Ok(Observed::default());
    };
    let instances = cloud.group_instances(&config.asg_name).await?;
    let public_ipv4 = match (&game.host, serving_instance(&instances)) {
        (None, Some(instance_id)) => cloud.public_ipv4(instance_id).await?,
        _ => None,
    };
    Ok(Observed {
        instances,
        public_ipv4,
    })
}
