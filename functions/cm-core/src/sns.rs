//! Publishing a notification to the container's SNS topic: subject, text, and string
//! message attributes (subscribers filter on them, e.g. `event_type`).

use aws_sdk_sns::types::MessageAttributeValue;

use crate::Error;

/// Publishes `message` with `subject` and the given string attributes to `topic_arn`.
/// An error names the topic.
pub async fn publish(
    client: &aws_sdk_sns::Client,
    topic_arn: &str,
    subject: &str,
    message: &str,
    attributes: &[(&str, &str)],
) -> Result<(), Error> {
    let operation = || format!("Publish {topic_arn}");
    let mut request = client
        .publish()
        .topic_arn(topic_arn)
        .subject(subject)
        .message(message);
    for (name, value) in attributes {
        let attribute = MessageAttributeValue::builder()
            .data_type("String")
            .string_value(*value)
            .build()
            .map_err(|e| Error::aws(format!("{} (message attribute {name})", operation()), e))?;
        request = request.message_attributes(*name, attribute);
    }
    request
        .send()
        .await
        .map_err(|e| Error::aws(operation(), e))?;
    Ok(())
}
