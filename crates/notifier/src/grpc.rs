//! gRPC `Notifier`: the delivery log (newest first) and replay of any notification, dead,
//! skipped or delivered, for operators (`paysys notifications list|replay`).

use crate::store::{self, Status};
use paysys_proto::notifier_server::Notifier;
use paysys_proto::{Delivery, ListRequest, ListResponse, ReplayRequest, ReplayResponse};
use sqlx::PgPool;
use std::sync::Arc;
use tokio::sync::Notify;
use tonic::{Request, Response};

/// Most rows one `List` returns.
pub const LIST_LIMIT: i64 = 500;

pub struct NotifierService {
    pool: PgPool,
    wake: Arc<Notify>,
}

impl NotifierService {
    pub fn new(pool: PgPool, wake: Arc<Notify>) -> Self {
        Self { pool, wake }
    }
}

#[tonic::async_trait]
impl Notifier for NotifierService {
    async fn list(
        &self,
        req: Request<ListRequest>,
    ) -> Result<Response<ListResponse>, tonic::Status> {
        let req = req.into_inner();
        let status = match req.status.as_str() {
            "" => None,
            s => Some(Status::parse(s).ok_or_else(|| {
                tonic::Status::invalid_argument(format!(
                    "status must be pending, delivered, dead or skipped, got {s:?}"
                ))
            })?),
        };
        let merchant = Some(req.merchant_id.as_str()).filter(|m| !m.is_empty());
        let rows = store::list(&self.pool, merchant, status, LIST_LIMIT)
            .await
            .map_err(internal)?;
        Ok(Response::new(ListResponse {
            deliveries: rows.into_iter().map(to_proto).collect(),
        }))
    }

    async fn replay(
        &self,
        req: Request<ReplayRequest>,
    ) -> Result<Response<ReplayResponse>, tonic::Status> {
        let raw = req.into_inner().id;
        let id = uuid::Uuid::parse_str(&raw).map_err(|_| {
            tonic::Status::invalid_argument(format!("id must be a notification UUID, got {raw:?}"))
        })?;
        if !store::replay(&self.pool, id).await.map_err(internal)? {
            return Err(tonic::Status::not_found(format!("no notification {id}")));
        }
        tracing::info!(%id, "notification replay scheduled");
        self.wake.notify_one();
        Ok(Response::new(ReplayResponse { scheduled: true }))
    }
}

fn to_proto(d: store::Delivery) -> Delivery {
    let rfc3339 =
        |t: chrono::DateTime<chrono::Utc>| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    Delivery {
        id: d.id.to_string(),
        merchant_id: d.merchant_id,
        method: d.method,
        order_id: d.order_id,
        status: d.status,
        attempts: d.attempts.max(0) as u32,
        next_attempt_at: d.next_attempt_at.map(rfc3339).unwrap_or_default(),
        last_error: d.last_error.unwrap_or_default(),
        created_at: rfc3339(d.created_at),
    }
}

fn internal(e: sqlx::Error) -> tonic::Status {
    tracing::error!(error = %e, "notifier store failed");
    tonic::Status::internal("notifier store failed")
}
