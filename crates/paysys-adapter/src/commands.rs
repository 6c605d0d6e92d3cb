//! The command queue `provider.<name>.commands` of a provider with asynchronous one-time
//! payments (`set_transaction`, seed 002). Starting is idempotent, so a redelivered command is
//! harmless; while the provider is unreachable the command is requeued; a start the provider
//! refuses for good ends the order as failed and the merchant is told (never a silent dead
//! letter with the order stuck as accepted).

use crate::error::ProviderError;
use crate::grpc::Kit;
use paysys_platform::broker::{HandleError, Message};
use paysys_proto::ProviderCommand;
use prost::Message as _;

pub async fn handle(kit: Kit, msg: Message) -> Result<(), HandleError> {
    let command = ProviderCommand::decode(msg.payload.as_slice())
        .map_err(|e| HandleError::Poison(anyhow::anyhow!("not a ProviderCommand: {e}")))?;
    let start = match (command.kind.as_str(), command.start) {
        ("start", Some(s)) => s,
        (k, _) => {
            return Err(HandleError::Poison(anyhow::anyhow!(
                "unknown command {k:?}"
            )))
        }
    };
    match kit.start(&start).await {
        Ok(_) => Ok(()),
        Err(
            e @ (ProviderError::Invalid(_)
            | ProviderError::Refused(_)
            | ProviderError::Unsupported(_)),
        ) => {
            tracing::warn!(provider = kit.provider.name(), order_id = %start.order_id, error = %e, "start refused for good; the order fails");
            kit.fail_unstarted(&start.merchant_id, &start.order_id, &e.to_string())
                .await
                .map_err(HandleError::Transient)
        }
        Err(e @ ProviderError::NotFound(_)) => Err(HandleError::Poison(anyhow::anyhow!("{e}"))),
        // The provider or our database unreachable: retried with backoff until it is back.
        Err(e) => Err(HandleError::Transient(anyhow::anyhow!("{e}"))),
    }
}
