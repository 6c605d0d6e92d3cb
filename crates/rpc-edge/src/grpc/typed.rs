//! The typed RPCs' two conversions, and nothing else: a typed request becomes the JSON-RPC
//! `params` of its method (an empty string or a missing message is an absent key, so the
//! handler's own validation names the field), and the handler's JSON result becomes the typed
//! response. Errors become gRPC statuses with `google.rpc.BadRequest` details.

use crate::jsonrpc::{RpcError, INVALID_PARAMS, INVALID_REQUEST, METHOD_NOT_FOUND, UNAUTHORIZED};
use paysys_proto::{
    ChannelInfo, ChannelsList, ConfirmTeleaudioPaymentRequest, ConfirmTeleaudioPaymentResponse,
    GetChannelsListRequest, GetTransactionStatusRequest, ModifySubscriptionPriceRequest,
    MoveSubscriptionPaymentRequest, ProviderAnswer, RedirectResponse, TransactionRequest,
    TransactionStatus, UnsubscribeOrderRequest,
};
use serde_json::{Map, Value};
use std::collections::HashMap;
use tonic::{Code, Status};
use tonic_types::{ErrorDetails, FieldViolation, StatusExt};

/// A JSON object under construction; empty strings and empty maps stay out.
#[derive(Default)]
struct Obj(Map<String, Value>);

impl Obj {
    fn text(mut self, key: &str, s: String) -> Self {
        if !s.is_empty() {
            self.0.insert(key.into(), Value::String(s));
        }
        self
    }
    fn val(mut self, key: &str, v: impl Into<Value>) -> Self {
        self.0.insert(key.into(), v.into());
        self
    }
    fn opt(self, key: &str, v: Option<impl Into<Value>>) -> Self {
        match v {
            Some(v) => self.val(key, v),
            None => self,
        }
    }
    fn config(self, key: &str, c: HashMap<String, String>) -> Self {
        if c.is_empty() {
            return self;
        }
        let m: Map<String, Value> = c.into_iter().map(|(k, v)| (k, Value::String(v))).collect();
        self.val(key, Value::Object(m))
    }
    fn auth(self, merchant_id: String, secret: String) -> Self {
        self.text("merchant_id", merchant_id).text("secret", secret)
    }
    fn done(self) -> Value {
        Value::Object(self.0)
    }
}

/// `set_transaction_sync`, `set_transaction`, `set_subscription`.
pub fn transaction_params(r: TransactionRequest) -> Value {
    let payment = r.payment.map(|p| {
        Obj::default()
            .text("channel_id", p.channel_id)
            .text("currency", p.currency)
            .opt("amount", p.amount)
            .opt("validity_time", p.validity_time)
            .config("config", p.config)
            .done()
    });
    let articles: Vec<Value> = r
        .articles
        .into_iter()
        .map(|a| {
            Obj::default()
                .text("prod_id", a.prod_id)
                .text("sap_index", a.sap_index)
                .text("vat_rate", a.vat_rate)
                .text("name", a.name)
                .val("quantity", a.quantity)
                .val("price", a.price)
                .config("config", a.config)
                .done()
        })
        .collect();
    let customer = r.customer.map(|c| {
        Obj::default()
            .text("ext_id", c.ext_id)
            .text("company", c.company)
            .text("firstname", c.firstname)
            .text("lastname", c.lastname)
            .text("email", c.email)
            .text("street", c.street)
            .text("city", c.city)
            .text("phone", c.phone)
            .text("postcode", c.postcode)
            .text("country", c.country)
            .done()
    });
    Obj::default()
        .auth(r.merchant_id, r.secret)
        .text("trans_ext_id", r.trans_ext_id)
        .opt("payment", payment)
        .val("articles", articles)
        .opt("customer", customer)
        .text("client_ip", r.client_ip)
        .val("test", r.test)
        .text("next_url", r.next_url)
        .done()
}

pub fn confirm_params(r: ConfirmTeleaudioPaymentRequest) -> Value {
    Obj::default()
        .auth(r.merchant_id, r.secret)
        .text("trans_ext_id", r.trans_ext_id)
        .text("code", r.code)
        .done()
}

pub fn unsubscribe_params(r: UnsubscribeOrderRequest) -> Value {
    Obj::default()
        .auth(r.merchant_id, r.secret)
        .text("order_ext_id", r.order_ext_id)
        .text("client_ip", r.client_ip)
        .done()
}

pub fn modify_price_params(r: ModifySubscriptionPriceRequest) -> Value {
    Obj::default()
        .auth(r.merchant_id, r.secret)
        .text("order_ext_id", r.order_ext_id)
        .val("price", r.price)
        .done()
}

pub fn move_payment_params(r: MoveSubscriptionPaymentRequest) -> Value {
    Obj::default()
        .auth(r.merchant_id, r.secret)
        .text("order_ext_id", r.order_ext_id)
        .text("date", r.date)
        .done()
}

pub fn status_params(r: GetTransactionStatusRequest) -> Value {
    Obj::default()
        .auth(r.merchant_id, r.secret)
        .text("trans_ext_id", r.trans_ext_id)
        .text("order_ext_id", r.order_ext_id)
        .done()
}

pub fn channels_params(r: GetChannelsListRequest) -> Value {
    Obj::default().auth(r.merchant_id, r.secret).done()
}

/// A JSON scalar as text (`"1"` and `1` alike); null and absent are empty.
fn text(v: Option<&Value>) -> String {
    match v {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    }
}

pub fn redirect(v: &Value) -> RedirectResponse {
    RedirectResponse {
        status: text(v.get("status")),
        redirect_url: text(v.pointer("/data/redirect_url")),
        action_type: text(v.pointer("/data/action_type")),
    }
}

pub fn provider_answer(v: &Value) -> ProviderAnswer {
    ProviderAnswer {
        status: text(v.get("status")),
        result: text(v.get("result")),
        action_type: text(v.get("action_type")),
    }
}

pub fn confirm(v: &Value) -> ConfirmTeleaudioPaymentResponse {
    ConfirmTeleaudioPaymentResponse {
        status: text(v.get("status")),
        result: text(v.get("result")),
    }
}

pub fn transaction_status(v: &Value) -> TransactionStatus {
    let d = v.get("data").cloned().unwrap_or(Value::Null);
    TransactionStatus {
        status: text(v.get("status")),
        trans_ext_id: text(d.get("trans_ext_id")),
        merchant_id: text(d.get("merchant_id")),
        channel_id: text(d.get("channel_id")),
        provider: text(d.get("provider")),
        kind: text(d.get("kind")),
        state: text(d.get("state")),
        test: d.get("test").and_then(Value::as_bool).unwrap_or(false),
        amount: d.get("amount").and_then(Value::as_i64).unwrap_or(0),
        currency: text(d.get("currency")),
        redirect_url: text(d.get("redirect_url")),
        created_at: text(d.get("created_at")),
        updated_at: text(d.get("updated_at")),
        details_json: d.to_string(),
    }
}

pub fn channels_list(v: &Value) -> ChannelsList {
    let channels = v
        .get("data")
        .and_then(Value::as_array)
        .map(|list| {
            list.iter()
                .map(|c| ChannelInfo {
                    id: text(c.get("id")),
                    provider: text(c.get("provider")),
                    kind: text(c.get("kind")),
                    currency: text(c.get("currency")),
                })
                .collect()
        })
        .unwrap_or_default();
    ChannelsList {
        status: text(v.get("status")),
        channels,
    }
}

/// A JSON-RPC error as a gRPC status: `-32602` is INVALID_ARGUMENT with one
/// `google.rpc.BadRequest` field violation per named field, `-32001` UNAUTHENTICATED, `-32601`
/// UNIMPLEMENTED, `-32603` INTERNAL (UNAVAILABLE when a provider is unavailable).
pub fn rpc_status(e: RpcError) -> Status {
    match e.code {
        INVALID_PARAMS => {
            let violations: Vec<FieldViolation> = match &e.data {
                Some(Value::Object(fields)) => fields
                    .iter()
                    .map(|(f, why)| FieldViolation::new(f.clone(), text(Some(why))))
                    .collect(),
                Some(other) => vec![FieldViolation::new("params", text(Some(other)))],
                None => vec![FieldViolation::new("params", e.message.clone())],
            };
            let message = violations
                .iter()
                .map(|v| format!("{}: {}", v.field, v.description))
                .collect::<Vec<_>>()
                .join("; ");
            Status::with_error_details(
                Code::InvalidArgument,
                format!("{}: {message}", e.message),
                ErrorDetails::with_bad_request(violations),
            )
        }
        INVALID_REQUEST => Status::invalid_argument(with_data(&e)),
        UNAUTHORIZED => Status::unauthenticated(e.message),
        METHOD_NOT_FOUND => Status::unimplemented(with_data(&e)),
        _ if e.message.to_ascii_lowercase().contains("unavailable") => {
            Status::unavailable(e.message)
        }
        _ => Status::internal(e.message),
    }
}

fn with_data(e: &RpcError) -> String {
    match &e.data {
        Some(d) => format!("{}: {d}", e.message),
        None => e.message.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::OrderRequest;
    use paysys_proto::{MerchantArticle, MerchantCustomer, MerchantPayment};
    use serde_json::json;

    fn seed_000() -> TransactionRequest {
        TransactionRequest {
            merchant_id: "1".into(),
            secret: "s".into(),
            trans_ext_id: "cab3131a-dec7-49cc-8607-0121a61d3427".into(),
            payment: Some(MerchantPayment {
                channel_id: "18912".into(),
                currency: "PLN".into(),
                ..Default::default()
            }),
            articles: vec![MerchantArticle {
                prod_id: "55555".into(),
                sap_index: "45000437".into(),
                vat_rate: "23".into(),
                name: "test product".into(),
                quantity: 1,
                price: 10,
                config: [("teleaudio_service_id".to_string(), "511".to_string())].into(),
            }],
            customer: Some(MerchantCustomer {
                ext_id: "1234qwera".into(),
                firstname: "tester".into(),
                email: "tomek@test.pl".into(),
                phone: "48501123123".into(),
                country: "PL".into(),
                ..Default::default()
            }),
            client_ip: "127.0.0.1".into(),
            test: false,
            next_url: "http://onet.pl".into(),
        }
    }

    #[test]
    fn typed_seed_000_is_what_the_json_handler_reads() {
        let params = transaction_params(seed_000());
        assert_eq!(params["secret"], "s");
        assert!(params["customer"].get("company").is_none(), "{params}");
        let r = OrderRequest::parse(&params).unwrap();
        assert_eq!(r.amount().minor, 10);
        assert_eq!(r.channel_id, "18912");
        assert_eq!(
            r.article_config().get("teleaudio_service_id").unwrap(),
            "511"
        );
        assert!(!r.test);
    }

    #[test]
    fn bad_typed_fields_are_named_by_their_json_path() {
        let mut req = seed_000();
        req.articles[0].price = -1;
        req.payment.as_mut().unwrap().currency = "XYZ".into();
        req.customer = None;
        let e = OrderRequest::parse(&transaction_params(req)).unwrap_err();
        let s = rpc_status(e);
        assert_eq!(s.code(), Code::InvalidArgument);
        let fields: Vec<String> = s
            .get_details_bad_request()
            .unwrap()
            .field_violations
            .into_iter()
            .map(|v| v.field)
            .collect();
        for f in ["articles[0].price", "payment.currency", "customer"] {
            assert!(fields.iter().any(|x| x == f), "{f} not in {fields:?}");
        }
    }

    #[test]
    fn each_json_rpc_error_has_its_grpc_code() {
        let cases = [
            (RpcError::unauthorized(), Code::Unauthenticated),
            (RpcError::method_not_found("x"), Code::Unimplemented),
            (RpcError::internal("database error: boom"), Code::Internal),
            (
                RpcError::internal("provider mobiltek is unavailable; retrying is safe"),
                Code::Unavailable,
            ),
            (
                RpcError::new(INVALID_REQUEST, "Invalid Request"),
                Code::InvalidArgument,
            ),
        ];
        for (e, code) in cases {
            assert_eq!(rpc_status(e).code(), code);
        }
    }

    #[test]
    fn json_results_become_typed_responses() {
        let r = redirect(&json!({"status": "1",
            "data": {"redirect_url": "http://x/ppe?a=1", "action_type": "REDIRECT_USER"}}));
        assert_eq!(
            (
                r.status.as_str(),
                r.redirect_url.as_str(),
                r.action_type.as_str()
            ),
            ("1", "http://x/ppe?a=1", "REDIRECT_USER")
        );
        let a = provider_answer(&json!({"status": 1, "result": "0x5000 OK", "action_type": null}));
        assert_eq!(
            (a.status.as_str(), a.result.as_str(), a.action_type.as_str()),
            ("1", "0x5000 OK", "")
        );
        let s = transaction_status(
            &json!({"status": "1", "data": {"trans_ext_id": "t", "amount": 10,
            "test": true, "state": "pending", "redirect_url": null, "charges": []}}),
        );
        assert_eq!(
            (s.amount, s.test, s.state.as_str(), s.redirect_url.as_str()),
            (10, true, "pending", "")
        );
        assert!(s.details_json.contains("\"charges\":[]"));
        let c = channels_list(&json!({"status": "1", "data": [
            {"id": "18912", "provider": "mobiltek", "kind": "one_time", "currency": "PLN"}]}));
        assert_eq!(c.channels.len(), 1);
        assert_eq!(c.channels[0].provider, "mobiltek");
    }
}
