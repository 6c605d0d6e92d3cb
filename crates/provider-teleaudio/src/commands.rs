//! The command queue `provider.teleaudio.commands`: asynchronous starts from rpc-edge
//! (`set_transaction`, seed 002). Starting is idempotent, so a redelivered command is harmless;
//! while Teleaudio is unreachable the command is requeued.

use crate::client::ClientError;
use crate::service::{StartError, Teleaudio};
use paysys_platform::broker::{HandleError, Message};
use paysys_proto::ProviderCommand;
use prost::Message as _;

pub async fn handle(teleaudio: Teleaudio, msg: Message) -> Result<(), HandleError> {
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
    match teleaudio.start(&start).await {
        Ok(_) => Ok(()),
        Err(StartError::Invalid(m)) | Err(StartError::Provider(ClientError::Refused(m))) => {
            // The edge validated the order; a refusal here cannot be cured by retrying.
            Err(HandleError::Poison(anyhow::anyhow!(
                "order {} refused: {m}",
                start.order_id
            )))
        }
        Err(e) => Err(HandleError::Transient(anyhow::anyhow!("{e}"))),
    }
}
