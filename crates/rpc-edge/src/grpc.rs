//! The gRPC transport for internal callers: `PaySystem.Invoke(method, params_json)` runs the same
//! handlers as JSON-RPC. Callers authenticate like merchants (the `secret` parameter).

use crate::api::Api;
use crate::jsonrpc::{Call, CallContext, Dispatch};
use paysys_proto::pay_system_server::PaySystem;
use paysys_proto::{InvokeRequest, InvokeResponse};
use tonic::{Request, Response, Status};

pub struct PaySystemService(pub Api);

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
        let out = self.0.call(&call, &CallContext::default()).await;
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
}
