//! gRPC `PaymentProvider` for Teleaudio: `Start` (subscription confirm page, or a webbilling
//! payment whose command was overtaken), `Unsubscribe` (Teleaudio's answer verbatim), `Confirm`
//! (the SMS code, seed 002).

use crate::client::ClientError;
use crate::service::{StartError, Teleaudio};
use crate::store;
use crate::wire;
use paysys_proto::payment_provider_server::PaymentProvider;
use paysys_proto::{
    ConfirmRequest, ConfirmResponse, StartRequest, StartResponse, UnsubscribeRequest,
    UnsubscribeResponse,
};
use tonic::{Request, Response, Status};

pub struct TeleaudioProvider(pub Teleaudio);

fn status(e: StartError) -> Status {
    match e {
        StartError::Invalid(m) => Status::invalid_argument(m),
        StartError::Provider(ClientError::Unavailable(m)) => Status::unavailable(m),
        StartError::Provider(ClientError::Refused(m)) => Status::failed_precondition(m),
        StartError::Db(e) => {
            tracing::error!(error = %e, "database error");
            Status::internal("database error")
        }
    }
}

fn db(e: sqlx::Error) -> Status {
    status(StartError::Db(e))
}

#[tonic::async_trait]
impl PaymentProvider for TeleaudioProvider {
    async fn start(&self, req: Request<StartRequest>) -> Result<Response<StartResponse>, Status> {
        let t = self.0.start(&req.into_inner()).await.map_err(status)?;
        Ok(Response::new(StartResponse {
            redirect_url: t.redirect_url,
            provider_ref: t.provider_id,
        }))
    }

    async fn unsubscribe(
        &self,
        req: Request<UnsubscribeRequest>,
    ) -> Result<Response<UnsubscribeResponse>, Status> {
        let r = req.into_inner();
        let t = store::by_order(&self.0.pool, &r.merchant_id, &r.order_id)
            .await
            .map_err(db)?
            .ok_or_else(|| Status::not_found("no such Teleaudio subscription"))?;
        if t.kind != "subscription" {
            return Err(Status::invalid_argument(
                "order_ext_id: is not a subscription",
            ));
        }
        let (_, answer) = self
            .0
            .client
            .post_raw(
                &format!("/subscriptions/{}/cancel", t.provider_id),
                &serde_json::json!({"reference": t.reference}),
            )
            .await
            .map_err(|e| status(StartError::Provider(e)))?;
        let ok = serde_json::from_str::<wire::Answer>(&answer)
            .map(|a| a.status == "OK")
            .unwrap_or(false);
        Ok(Response::new(UnsubscribeResponse {
            provider_answer: answer,
            ok,
        }))
    }

    async fn confirm(
        &self,
        req: Request<ConfirmRequest>,
    ) -> Result<Response<ConfirmResponse>, Status> {
        let r = req.into_inner();
        let t = store::by_order(&self.0.pool, &r.merchant_id, &r.order_id)
            .await
            .map_err(db)?
            .filter(|t| !t.provider_id.is_empty())
            .ok_or_else(|| Status::not_found("no such Teleaudio webbilling payment (yet)"))?;
        if t.kind != "one_time" {
            return Ok(Response::new(ConfirmResponse {
                ok: false,
                error_code: "BADTRANSACTION".into(),
            }));
        }
        let (_, text) = self
            .0
            .client
            .post_raw(
                &format!("/webbilling/{}/confirm", t.provider_id),
                &wire::ConfirmCode { code: r.code },
            )
            .await
            .map_err(|e| status(StartError::Provider(e)))?;
        let answer: wire::Answer = serde_json::from_str(&text)
            .map_err(|_| Status::unavailable("Teleaudio answered something unexpected"))?;
        metrics::counter!("paysys_teleaudio_confirms_total", "result" => if answer.status == "OK" { "ok".to_string() } else { answer.code.clone() }).increment(1);
        Ok(Response::new(if answer.status == "OK" {
            ConfirmResponse {
                ok: true,
                error_code: String::new(),
            }
        } else {
            ConfirmResponse {
                ok: false,
                error_code: answer.code,
            }
        }))
    }
}
