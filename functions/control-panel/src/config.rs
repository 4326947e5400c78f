//! The control panel's configuration from environment variables: [`VARS`] declares
//! every variable it reads, [`Config::from_env`] reads and checks them.

use cm_core::{ConfigError, Env, EnvVar};
use ed25519_dalek::VerifyingKey;

/// Every environment variable the control panel reads.
pub const VARS: &[EnvVar] = &[
    EnvVar::required(
        "DOMAIN_NAME",
        "the domain whose containers it serves, e.g. example.com",
    ),
    EnvVar::required(
        "HOSTED_ZONE_ID",
        "the domain's hosted zone, which holds the registry of containers",
    ),
    EnvVar::required(
        "START_TOKEN_PARAMETER",
        "the SSM SecureString parameter holding the start token, e.g. /cm/dev/start-token",
    ),
    EnvVar::optional(
        "DISCORD_PUBLIC_KEY",
        "the Discord application's public key (64 hex digits); unset: /discord answers 404",
    ),
    EnvVar::required(
        "METRIC_NAMESPACE",
        "the namespace of the presence probe's Players metric, e.g. ContainerManager",
    ),
];

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// `DOMAIN_NAME`, lower case, without a trailing dot.
    pub domain_name: String,
    /// `HOSTED_ZONE_ID`, without `/hostedzone/`.
    pub hosted_zone_id: String,
    /// `START_TOKEN_PARAMETER`: the parameter's name (never its value).
    pub start_token_parameter: String,
    /// `DISCORD_PUBLIC_KEY`: the key Discord's requests are signed with.
    pub discord_public_key: Option<VerifyingKey>,
    /// `METRIC_NAMESPACE`
    pub metric_namespace: String,
}

impl Config {
    /// Reads [`VARS`]; every missing or malformed variable is named in the error.
    pub fn from_env(env: Env<'_>) -> Result<Self, ConfigError> {
        let mut env = env.declared(VARS);
        let domain_name = env.required_dns_name("DOMAIN_NAME");
        let hosted_zone_id = env.required_hosted_zone_id("HOSTED_ZONE_ID");
        let parameter = env.required("START_TOKEN_PARAMETER");
        let start_token_parameter = env.check(
            "START_TOKEN_PARAMETER",
            parameter,
            "an SSM parameter name such as /cm/dev/start-token",
            |p| {
                p.len() <= 2048
                    && p.chars()
                        .all(|c| c.is_ascii_alphanumeric() || "_.-/".contains(c))
            },
        );
        let discord_public_key = match env.optional("DISCORD_PUBLIC_KEY") {
            None => Some(None),
            Some(raw) => match public_key(&raw) {
                Some(key) => Some(Some(key)),
                None => {
                    env.invalid(
                        "DISCORD_PUBLIC_KEY",
                        &raw,
                        "an Ed25519 public key as 64 hex digits",
                    );
                    None
                }
            },
        };
        let metric_namespace = env.required("METRIC_NAMESPACE");
        env.finish(|| {
            Some(Config {
                domain_name: domain_name?,
                hosted_zone_id: hosted_zone_id?,
                start_token_parameter: start_token_parameter?,
                discord_public_key: discord_public_key?,
                metric_namespace: metric_namespace?,
            })
        })
    }
}

/// 64 hex digits that are a valid Ed25519 point.
fn public_key(raw: &str) -> Option<VerifyingKey> {
    let mut bytes = [0u8; 32];
    hex::decode_to_slice(raw, &mut bytes).ok()?;
    VerifyingKey::from_bytes(&bytes).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a";

    fn pairs() -> Vec<(&'static str, &'static str)> {
        vec![
            ("DOMAIN_NAME", "Example.COM."),
            ("HOSTED_ZONE_ID", "/hostedzone/Z0123456789ABCDEFGHIJ"),
            ("START_TOKEN_PARAMETER", "/cm/dev/start-token"),
            ("METRIC_NAMESPACE", "ContainerManager"),
        ]
    }

    #[test]
    fn reads_every_declared_variable() {
        let cfg = Config::from_env(Env::from_pairs(&pairs())).unwrap();
        assert_eq!(cfg.domain_name, "example.com");
        assert_eq!(cfg.hosted_zone_id, "Z0123456789ABCDEFGHIJ");
        assert_eq!(cfg.discord_public_key, None);
        let mut with_key = pairs();
        with_key.push(("DISCORD_PUBLIC_KEY", KEY));
        let cfg = Config::from_env(Env::from_pairs(&with_key)).unwrap();
        assert_eq!(
            cfg.discord_public_key.map(|k| hex::encode(k.as_bytes())),
            Some(KEY.to_string())
        );
    }

    #[test]
    fn names_every_problem() {
        let env = Env::from_pairs(&[
            ("DOMAIN_NAME", "not a name"),
            ("HOSTED_ZONE_ID", "zone/with/slashes"),
            ("START_TOKEN_PARAMETER", "a parameter with spaces"),
            ("DISCORD_PUBLIC_KEY", "abc"),
        ]);
        let err = Config::from_env(env).unwrap_err().to_string();
        for expected in [
            "DOMAIN_NAME must be a DNS name",
            "HOSTED_ZONE_ID must be a hosted zone id",
            "START_TOKEN_PARAMETER must be an SSM parameter name",
            "DISCORD_PUBLIC_KEY must be an Ed25519 public key",
            "METRIC_NAMESPACE is not set",
        ] {
            assert!(err.contains(expected), "{expected} missing from {err}");
        }
        assert!(!err.contains("not declared"), "{err}");
    }

    #[test]
    fn each_variable_is_declared_once() {
        let names: std::collections::BTreeSet<&str> = VARS.iter().map(|v| v.name).collect();
        assert_eq!(names.len(), VARS.len(), "a variable is declared twice");
    }
}
