//! The gRPC transport for internal callers (`paysys.v1.PaySystem`): one typed RPC per merchant
//! method, and `Invoke(method, params_json)` kept for compatibility. Every RPC runs the same
//! handler as JSON-RPC (`Api::call`): a typed request is turned into its method's JSON params and
//! the JSON result into the typed response (`typed`), so there is one copy of the business logic.
//! Callers authenticate like merchants (the `secret` field).

mod typed;

use crate::api::Api;
use crate::jsonrpc::{Call, CallContext};
use paysys_proto::pay_system_server::PaySystem;
use paysys_proto::{
    ChannelsList, ConfirmTeleaudioPaymentRequest, ConfirmTeleaudioPaymentResponse,
    GetChannelsListRequest, GetTransactionStatusRequest, InvokeRequest, InvokeResponse,
    ModifySubscriptionPriceRequest, MoveSubscriptionPaymentRequest, ProviderAnswer,
    RedirectResponse, TransactionRequest, TransactionStatus, UnsubscribeOrderRequest,
};
use serde_json::Value;
use tonic::{Request, Response, Status};

pub struct PaySystemService(pub Api);

impl PaySystemService {
    /// Runs `method` with `params` through the JSON-RPC handler; its errors as gRPC statuses.
    async fn run<T>(
        &self,
        method: &str,
        params: Value,
        into: impl FnOnce(&Value) -> T,
    ) -> Result<Response<T>, Status> {
        let call = Call {
            method: method.to_string(),
            params,
            id: Some(Value::Null),
        };
        match crate::jsonrpc::call_guarded(&self.0, &call, &CallContext::default()).await {
            Ok(v) => Ok(Response::new(into(&v))),
            Err(e) => Err(typed::rpc_status(e)),
        }
    }
}

#[tonic::async_trait]
impl PaySystem for PaySystemService {
    async fn invoke(
        &self,
        req: Request<InvokeRequest>,
    ) -> Result<Response<InvokeResponse>, Status> {
        let req = req.into_inner();
        let params = if req.params_json.trim().is_empty() {
            serde_json::Value::Null
        } else {
            serde_json::from_str(&req.params_json)
                .map_err(|e| Status::invalid_argument(format!("params_json: {e}")))?
        };
        let call = Call {
            method: req.method,
            params,
            id: Some(serde_json::Value::Null),
        };
        let out = crate::jsonrpc::call_guarded(&self.0, &call, &CallContext::default()).await;
        Ok(Response::new(match out {
            Ok(v) => InvokeResponse {
                result_json: v.to_string(),
                ..Default::default()
            },
            Err(e) => InvokeResponse {
                error_code: e.code as i32,
                error_message: e.message,
                error_data_json: e.data.map(|d| d.to_string()).unwrap_or_default(),
                ..Default::default()
            },
        }))
    }

    async fn set_transaction_sync(
        &self,
        req: Request<TransactionRequest>,
    ) -> Result<Response<RedirectResponse>, Status> {
        let params = typed::transaction_params(req.into_inner());
        self.run("set_transaction_sync", params, typed::redirect)
            .await
    }

    async fn set_transaction(
        &self,
        req: Request<TransactionRequest>,
    ) -> Result<Response<ProviderAnswer>, Status> {
        let params = typed::transaction_params(req.into_inner());
        self.run("set_transaction", params, typed::provider_answer)
            .await
    }

    async fn set_subscription(
        &self,
        req: Request<TransactionRequest>,
    ) -> Result<Response<RedirectResponse>, Status> {
        let params = typed::transaction_params(req.into_inner());
        self.run("set_subscription", params, typed::redirect).await
    }

    async fn confirm_teleaudio_payment(
        &self,
        req: Request<ConfirmTeleaudioPaymentRequest>,
    ) -> Result<Response<ConfirmTeleaudioPaymentResponse>, Status> {
        let params = typed::confirm_params(req.into_inner());
        self.run("confirm_teleaudio_payment", params, typed::confirm)
            .await
    }

    async fn unsubscribe(
        &self,
        req: Request<UnsubscribeOrderRequest>,
    ) -> Result<Response<ProviderAnswer>, Status> {
        let params = typed::unsubscribe_params(req.into_inner());
        self.run("unsubscribe", params, typed::provider_answer)
            .await
    }

    async fn modify_subscription_price(
        &self,
        req: Request<ModifySubscriptionPriceRequest>,
    ) -> Result<Response<ProviderAnswer>, Status> {
        let params = typed::modify_price_params(req.into_inner());
        self.run("modify_subscription_price", params, typed::provider_answer)
            .await
    }

    async fn move_subscription_payment(
        &self,
        req: Request<MoveSubscriptionPaymentRequest>,
    ) -> Result<Response<ProviderAnswer>, Status> {
        let params = typed::move_payment_params(req.into_inner());
        self.run("move_subscription_payment", params, typed::provider_answer)
            .await
    }

    async fn get_transaction_status(
        &self,
        req: Request<GetTransactionStatusRequest>,
    ) -> Result<Response<TransactionStatus>, Status> {
        let params = typed::status_params(req.into_inner());
        self.run("get_transaction_status", params, typed::transaction_status)
            .await
    }

    async fn get_channels_list(
        &self,
        req: Request<GetChannelsListRequest>,
    ) -> Result<Response<ChannelsList>, Status> {
        let params = typed::channels_params(req.into_inner());
        self.run("get_channels_list", params, typed::channels_list)
            .await
    }
}
