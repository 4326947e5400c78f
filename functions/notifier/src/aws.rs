//! [`Cloud`] for real: SSM for the parameter, [`cm_core::http`] for the posts.

use cm_core::http::{HttpClient, HttpRequest, HttpResponse, Method};
use cm_core::Error;

use crate::cloud::{Cloud, ParameterValue};
use crate::decide::{Rendered, REQUEST_TIMEOUT};
use crate::parse::Webhook;

/// The clients, built once when the process starts.
#[derive(Clone, Debug)]
pub struct AwsCloud {
    ssm: aws_sdk_ssm::Client,
    http: HttpClient,
}

impl AwsCloud {
    /// Fails only if the HTTPS client cannot load the system's root certificates: the
    /// init error then says so (`cm_core::runtime::try_run`).
    pub fn new(sdk: &aws_config::SdkConfig) -> Result<Self, Error> {
        Ok(AwsCloud {
            ssm: aws_sdk_ssm::Client::new(sdk),
            http: HttpClient::new(REQUEST_TIMEOUT)?,
        })
    }
}

impl Cloud for AwsCloud {
    async fn webhook_parameter(&self, name: &str) -> Result<ParameterValue, Error> {
        let operation = || format!("GetParameter {name}");
        let output = self
            .ssm
            .get_parameter()
            .name(name)
            .with_decryption(true)
            .send()
            .await
            .map_err(|e| Error::aws(operation(), e))?;
        let parameter = output.parameter().ok_or_else(|| Error::Aws {
            operation: operation(),
            message: "the answer holds no parameter".to_string(),
        })?;
        Ok(ParameterValue::new(
            parameter
                .r#type()
                .map(|t| t.as_str().to_string())
                .unwrap_or_default(),
            parameter.value().unwrap_or_default(),
        ))
    }

    async fn post(&self, webhook: &Webhook, message: &Rendered) -> Result<HttpResponse, Error> {
        self.http
            .send(HttpRequest {
                method: Method::Post,
                url: webhook.url().to_string(),
                headers: message.headers.clone(),
                body: message.body.clone(),
            })
            .await
    }
}
