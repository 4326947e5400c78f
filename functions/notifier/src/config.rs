//! The notifier's configuration from environment variables: [`VARS`] declares every
//! variable it reads, [`Config::from_env`] reads and checks them. The webhook URLs
//! themselves are not configuration in the environment (they carry tokens): they are
//! read from the SSM parameter named here, at each invocation.

use cm_core::{ConfigError, Env, EnvVar};

/// Every environment variable the notifier reads.
pub const VARS: &[EnvVar] = &[EnvVar::required(
    "WEBHOOK_URLS_PARAMETER",
    "the SSM SecureString parameter (name or ARN) listing the webhook URLs, one per line, \
     e.g. /cm/dev/mc/webhooks",
)];

/// SSM's limit on a parameter's name, its full ARN included.
const MAX_PARAMETER_NAME: usize = 1011;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// `WEBHOOK_URLS_PARAMETER`: the parameter's name (`/cm/dev/mc/webhooks`,
    /// `cm-webhooks`) or ARN.
    pub webhook_urls_parameter: String,
}

impl Config {
    /// Reads [`VARS`]; every missing or malformed variable is named in the error.
    pub fn from_env(env: Env<'_>) -> Result<Self, ConfigError> {
        let mut env = env.declared(VARS);
        let raw = env.required("WEBHOOK_URLS_PARAMETER");
        let parameter = match raw {
            Some(name) if !is_parameter_name(&name) => {
                // A webhook URL put here by mistake carries its token: not quoted.
                let shown = if name.contains("://") {
                    "a URL (not shown: it may carry a token)"
                } else {
                    name.as_str()
                };
                env.invalid(
                    "WEBHOOK_URLS_PARAMETER",
                    shown,
                    "an SSM parameter name such as /cm/dev/mc/webhooks (letters, digits, \
                     _ . - and /), or its ARN",
                );
                None
            }
            other => other,
        };
        env.finish(|| {
            Some(Config {
                webhook_urls_parameter: parameter?,
            })
        })
    }
}

/// An SSM parameter name (`name`, `/path/to/name`) or a parameter ARN
/// (`arn:<partition>:ssm:<region>:<account>:parameter/<name>`).
pub fn is_parameter_name(raw: &str) -> bool {
    let name = if raw.starts_with("arn:") {
        let parts: Vec<&str> = raw.splitn(6, ':').collect();
        match parts.as_slice() {
            [_, _, "ssm", region, account, resource]
                if !region.is_empty() && !account.is_empty() =>
            {
                match resource.strip_prefix("parameter") {
                    // `parameter/name` for `name`, `parameter/path/name` for `/path/name`.
                    Some(rest) if rest.starts_with('/') => rest,
                    _ => return false,
                }
            }
            _ => return false,
        }
    } else {
        raw
    };
    let name = name.strip_prefix('/').unwrap_or(name);
    raw.len() <= MAX_PARAMETER_NAME
        && !name.is_empty()
        && name.split('/').all(|segment| {
            !segment.is_empty()
                && segment
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_parameter_name() {
        let cfg = Config::from_env(Env::from_pairs(&[(
            "WEBHOOK_URLS_PARAMETER",
            " /cm/dev/mc/webhooks ",
        )]))
        .unwrap();
        assert_eq!(cfg.webhook_urls_parameter, "/cm/dev/mc/webhooks");
    }

    #[test]
    fn names_and_arns_are_accepted_and_anything_else_refused() {
        for good in [
            "/cm/dev/mc/webhooks",
            "cm-webhooks",
            "cm_webhooks.v2",
            "arn:aws:ssm:us-east-1:123456789012:parameter/cm/dev/mc/webhooks",
            "arn:aws:ssm:eu-west-1:123456789012:parameter/cm-webhooks",
        ] {
            assert!(is_parameter_name(good), "{good}");
        }
        for bad in [
            "",
            "/",
            "//cm",
            "/cm/",
            "cm webhooks",
            "https://discord.com/api/webhooks/1/token",
            "arn:aws:sns:us-east-1:123456789012:topic",
            "arn:aws:ssm:us-east-1:123456789012:document/x",
            &"a".repeat(1012),
        ] {
            assert!(!is_parameter_name(bad), "{bad}");
        }
    }

    #[test]
    fn names_every_problem() {
        let err = Config::from_env(Env::from_pairs(&[]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("WEBHOOK_URLS_PARAMETER is not set"), "{err}");
        let err = Config::from_env(Env::from_pairs(&[(
            "WEBHOOK_URLS_PARAMETER",
            "cm webhooks",
        )]))
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("WEBHOOK_URLS_PARAMETER must be an SSM parameter name"),
            "{err}"
        );
        assert!(!err.contains("not declared"), "{err}");
        let err = Config::from_env(Env::from_pairs(&[(
            "WEBHOOK_URLS_PARAMETER",
            "https://discord.com/api/webhooks/1/secret-token",
        )]))
        .unwrap_err()
        .to_string();
        assert!(err.contains("a URL (not shown"), "{err}");
        assert!(!err.contains("secret-token"), "{err}");
    }
}
