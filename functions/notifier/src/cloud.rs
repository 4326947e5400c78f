//! The notifier's small trait: one read (the SSM parameter listing the webhooks,
//! observed before deciding) and one write (a POST to a webhook).
//! [`crate::aws::AwsCloud`] is the real one, [`crate::fake::FakeCloud`] the in-memory
//! one for fast tests.

use std::fmt;
use std::future::Future;

use cm_core::http::HttpResponse;
use cm_core::Error;

use crate::decide::Rendered;
use crate::parse::Webhook;

/// A parameter as GetParameter returns it, decrypted. Its `Debug` hides the value
/// (the webhook URLs and their tokens).
#[derive(Clone, PartialEq, Eq)]
pub struct ParameterValue {
    /// `SecureString`, `String` or `StringList`.
    pub parameter_type: String,
    value: String,
}

impl ParameterValue {
    pub fn new(parameter_type: impl Into<String>, value: impl Into<String>) -> Self {
        ParameterValue {
            parameter_type: parameter_type.into(),
            value: value.into(),
        }
    }

    /// The decrypted value: for [`crate::parse::webhooks`] only, never for a message.
    pub fn value(&self) -> &str {
        &self.value
    }
}

impl fmt::Debug for ParameterValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "ParameterValue {{ {}, {} bytes }}",
            self.parameter_type,
            self.value.len()
        )
    }
}

pub trait Cloud: Sync {
    /// SSM GetParameter with decryption: the parameter listing the webhook URLs.
    fn webhook_parameter(
        &self,
        name: &str,
    ) -> impl Future<Output = Result<ParameterValue, Error>> + Send;

    /// POSTs `message` to the webhook's URL. Any HTTP status is an answer (`Ok`); an
    /// error means no answer at all (connection, TLS, timeout).
    fn post(
        &self,
        webhook: &Webhook,
        message: &Rendered,
    ) -> impl Future<Output = Result<HttpResponse, Error>> + Send;
}
