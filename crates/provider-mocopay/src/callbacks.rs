//! `GET /mocopay/notify` (and `/mocopay/test/notify` for the test environment): MoCoPay's session
//! and transaction notifications as a callback endpoint of the adapter kit. They are unsigned, so
//! each is only a hint: the adapter asks verifyPayment about the session (or the transaction) and
//! claims what that answer says. A notification verifyPayment does not confirm is refused; when
//! MoCoPay cannot be asked, the answer is a 503 and MoCoPay resends.

use crate::claims::{resolve, session_claim, transaction_claim};
use crate::client::Client;
use crate::{Notification, VerifyPayment};
use axum::response::Response;
use paysys_adapter::{
    plain_text_answer, Authenticated, CallbackEndpoint, Claim, Incoming, Order, ProviderError,
    Refusal, Verdict,
};

pub struct Notify {
    pub path: &'static str,
    pub client: Client,
}

fn refusal(e: ProviderError) -> Refusal {
    match e {
        ProviderError::NotFound(m) => Refusal::Unauthenticated(format!("verifyPayment: {m}")),
        ProviderError::Unavailable(m) => Refusal::Unverifiable(m),
        other => Refusal::Unauthenticated(format!("verifyPayment: {other}")),
    }
}

#[async_trait::async_trait]
impl CallbackEndpoint for Notify {
    fn path(&self) -> &'static str {
        self.path
    }

    async fn authenticate(&self, req: &Incoming) -> Result<Authenticated, Refusal> {
        let hint = Notification::from_query(req.uri.query().unwrap_or(""))
            .map_err(|e| Refusal::Malformed(e.to_string()))?;
        let claims = match hint {
            Notification::Session(n) => {
                let s = self
                    .client
                    .verify(&VerifyPayment::SessionId(n.session_id.clone()))
                    .await
                    .map_err(refusal)?;
                session_claim(&s)
                    .map_err(Refusal::Malformed)?
                    .into_iter()
                    .collect()
            }
            Notification::Transaction(n) => {
                let s = self
                    .client
                    .verify(&VerifyPayment::TransactionId(n.transaction_id.clone()))
                    .await
                    .map_err(refusal)?;
                let t = s.transaction.clone().ok_or_else(|| {
                    Refusal::Unauthenticated("verifyPayment: no such transaction".into())
                })?;
                let mut claims = Vec::new();
                // A first charge also tells the session's own news (a subscription authorized).
                if let Some(c) = session_claim(&s).map_err(Refusal::Malformed)? {
                    claims.push(c);
                }
                claims.push(transaction_claim(&s, &t, &n.reason).map_err(Refusal::Malformed)?);
                claims
            }
        };
        Ok(Authenticated {
            claims,
            reply: String::new(),
        })
    }

    fn fits(&self, order: &Order, claim: &mut Claim) -> Result<(), String> {
        resolve(order, claim)
    }

    fn answer(&self, verdict: Verdict<'_>) -> Response {
        plain_text_answer(verdict, "referenceId: unknown")
    }
}
