//! initPayment (seed 004): `GET {base}/v1/payment/initPayment/?pid=..&...`, signed, answered by
//! `{"requestId": .., "redirectUrl": ..}`; the adapter sends the user to `redirectUrl`. Built by
//! the adapter, parsed back (with errors naming the parameter) by the simulator.

use crate::query::{self, check, ParamError, Params};
use crate::response::{self, ResponseError};
use crate::wire::{self, HttpMethod, RequestError, SignedRequest, INIT_PAYMENT_PATH};
use serde::{Deserialize, Serialize};

/// Wire names in the seed's order (`signature` aside).
pub const PARAMS: [&str; 12] = [
    "pid",
    "mcc",
    "mnc",
    "country",
    "userId",
    "clientIp",
    "phone",
    "lang",
    "referenceId",
    "callbackUrl",
    "notifyUrl",
    "imageUrl",
];

/// Longest `pid`, `userId`, `referenceId` (ours: the seed sets no limit).
pub const MAX_ID: usize = 128;
/// Longest URL parameter (ours).
pub const MAX_URL: usize = 2048;

/// initPayment's parameters (seed 004's table). `pid` is mandatory; every other field is
/// optional, the empty string meaning "not sent".
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InitPayment {
    /// Payment product id, given by MoCoPay at service setup (seed: `CHMIBSUB`, `12000`).
    pub pid: String,
    /// Mobile country code, 3 digits.
    pub mcc: String,
    /// Mobile network code, 2 or 3 digits (`01`).
    pub mnc: String,
    /// ISO 3166-1 alpha-2.
    pub country: String,
    /// `userId`: the buyer as the merchant identifies them.
    pub user_id: String,
    /// `clientIp`: the buyer's IP address.
    pub client_ip: String,
    pub phone: String,
    /// ISO 639-1.
    pub lang: String,
    /// `referenceId`: our reference of the order; it comes back in notifications, the redirect
    /// and (ours) the session, and is how the adapter ties a session to its order.
    pub reference_id: String,
    /// `callbackUrl`: where the user's browser returns after the payment form.
    pub callback_url: String,
    /// `notifyUrl`: where MoCoPay sends the session and transaction notifications.
    pub notify_url: String,
    /// `imageUrl`: product image shown on the payment form.
    pub image_url: String,
}

fn bounded_url(s: &str) -> Result<(), String> {
    if s.len() > MAX_URL {
        return Err(format!("must be at most {MAX_URL} bytes"));
    }
    check::url(s)
}

impl InitPayment {
    /// The parameters by wire name, seed order, empty ones left out.
    pub fn to_query(&self) -> Vec<(&'static str, String)> {
        let mut out = Vec::new();
        for (name, value) in [
            ("pid", &self.pid),
            ("mcc", &self.mcc),
            ("mnc", &self.mnc),
            ("country", &self.country),
            ("userId", &self.user_id),
            ("clientIp", &self.client_ip),
            ("phone", &self.phone),
            ("lang", &self.lang),
            ("referenceId", &self.reference_id),
            ("callbackUrl", &self.callback_url),
            ("notifyUrl", &self.notify_url),
            ("imageUrl", &self.image_url),
        ] {
            query::push_opt(&mut out, name, value);
        }
        out
    }

    /// Checks every field as the simulator does, so the adapter finds a bad value before
    /// MoCoPay does. The error names the wire parameter.
    pub fn validate(&self) -> Result<(), ParamError> {
        let run = |name: &str, value: &str, f: &dyn Fn(&str) -> Result<(), String>| {
            if value.is_empty() {
                return Ok(());
            }
            f(value).map_err(|why| ParamError::new(name, why))
        };
        if self.pid.is_empty() {
            return Err(ParamError::new("pid", "required"));
        }
        run("pid", &self.pid, &|v| check::token(v, MAX_ID))?;
        run("mcc", &self.mcc, &check::mcc)?;
        run("mnc", &self.mnc, &check::mnc)?;
        run("country", &self.country, &check::country)?;
        run("userId", &self.user_id, &|v| check::text(v, MAX_ID))?;
        run("clientIp", &self.client_ip, &check::ip)?;
        run("phone", &self.phone, &check::phone)?;
        run("lang", &self.lang, &check::lang)?;
        run("referenceId", &self.reference_id, &|v| {
            check::text(v, MAX_ID)
        })?;
        run("callbackUrl", &self.callback_url, &bounded_url)?;
        run("notifyUrl", &self.notify_url, &bounded_url)?;
        run("imageUrl", &self.image_url, &bounded_url)?;
        Ok(())
    }

    /// The signed `GET {base_url}/v1/payment/initPayment/?...` (see [`wire::endpoint`] for
    /// `base_url`). Validates first.
    pub fn request(
        &self,
        base_url: &str,
        api_key: &str,
        secret: &str,
    ) -> Result<SignedRequest, RequestError> {
        self.validate()?;
        wire::signed_request(
            HttpMethod::Get,
            base_url,
            INIT_PAYMENT_PATH,
            &self.to_query(),
            api_key,
            secret,
        )
    }

    /// The simulator's side: the parameters of an authenticated request
    /// ([`wire::authenticate_query`]). Unknown parameters are refused (a misspelt
    /// `callbackURL` must not pass silently); `signature` is allowed.
    pub fn from_params(p: &Params) -> Result<Self, ParamError> {
        let mut known = PARAMS.to_vec();
        known.push(crate::signature::PARAM);
        p.only(&known)?;
        let r = Self {
            pid: p.required("pid")?.to_string(),
            mcc: p.text("mcc"),
            mnc: p.text("mnc"),
            country: p.text("country"),
            user_id: p.text("userId"),
            client_ip: p.text("clientIp"),
            phone: p.text("phone"),
            lang: p.text("lang"),
            reference_id: p.text("referenceId"),
            callback_url: p.text("callbackUrl"),
            notify_url: p.text("notifyUrl"),
            image_url: p.text("imageUrl"),
        };
        r.validate()?;
        Ok(r)
    }

    /// [`Params::from_query`] then [`InitPayment::from_params`], for a query already authenticated.
    pub fn from_query(raw_query: &str) -> Result<Self, ParamError> {
        Self::from_params(&Params::from_query(raw_query)?)
    }
}

/// initPayment's answer (seed 004).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InitPaymentResponse {
    /// MoCoPay's id of this initialization (seed: 32 hex digits); comes back as the
    /// callbackUrl's `requestId`.
    pub request_id: String,
    /// The payment form the user is sent to.
    pub redirect_url: String,
}

impl InitPaymentResponse {
    /// Reads MoCoPay's answer: 2xx must carry a non-empty `requestId` and an http(s)
    /// `redirectUrl`; other statuses are read as our error shape.
    pub fn parse(status: u16, body: &[u8]) -> Result<Self, ResponseError> {
        let r: Self = response::parse(status, body)?;
        let malformed = |why: String| ResponseError::Malformed { status, why };
        check::token(&r.request_id, MAX_ID)
            .map_err(|why| malformed(format!("requestId: {why}")))?;
        check::url(&r.redirect_url).map_err(|why| malformed(format!("redirectUrl: {why}")))?;
        Ok(r)
    }

    /// The JSON body (the simulator's answer).
    pub fn to_json(&self) -> String {
        serde_json::json!({ "requestId": self.request_id, "redirectUrl": self.redirect_url })
            .to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signature;
    use crate::wire::{authenticate_query, InboundError};

    fn full() -> InitPayment {
        InitPayment {
            pid: "PP27638049".into(),
            mcc: "219".into(),
            mnc: "01".into(),
            country: "HR".into(),
            user_id: "merchant user 7".into(),
            client_ip: "203.0.113.9".into(),
            phone: "385991234567".into(),
            lang: "hr".into(),
            reference_id: "ps-01J9ZK".into(),
            callback_url: "https://gw.example/mocopay/return?o=1&x=a+b".into(),
            notify_url: "https://gw.example/mocopay/notify".into(),
            image_url: "https://cdn.example/p.png".into(),
        }
    }

    fn secrets(k: &str) -> Option<String> {
        (k == "app1").then(|| "this.is.a.secret".to_string())
    }

    /// The published vector's request, built by us: same signature.
    #[test]
    fn published_vector_request() {
        let r = InitPayment {
            pid: "12000".into(),
            mcc: "228".into(),
            mnc: "01".into(),
            user_id: "123456789".into(),
            ..Default::default()
        }
        .request("http://payment.mocopay.com", "app1", "this.is.a.secret")
        .unwrap();
        assert_eq!(r.method, HttpMethod::Get);
        assert_eq!(
            r.url,
            "http://payment.mocopay.com/v1/payment/initPayment/?pid=12000&mcc=228&mnc=01&userId=123456789"
        );
        assert_eq!(
            r.signature_header(),
            ("Signature", "ApiKey app1:WETDyNQLx0+8BJ16vDgiVg==")
        );
    }

    /// The worked example of docs/providers/mocopay.md ("initPayment"), signature checked with
    /// Python's hashlib when the document was written.
    #[test]
    fn documented_example() {
        let r = InitPayment {
            pid: "12000".into(),
            mcc: "228".into(),
            mnc: "01".into(),
            user_id: "123456789".into(),
            client_ip: "203.0.113.7".into(),
            lang: "hr".into(),
            reference_id: "ps-7f3a9c".into(),
            callback_url: "https://paysys.example/mocopay/return".into(),
            notify_url: "https://paysys.example/mocopay/notify".into(),
            ..Default::default()
        }
        .request("http://payment.mocopay.com", "app1", "this.is.a.secret")
        .unwrap();
        assert_eq!(
            r.url,
            "http://payment.mocopay.com/v1/payment/initPayment/?pid=12000&mcc=228&mnc=01&userId=123456789&clientIp=203.0.113.7&lang=hr&referenceId=ps-7f3a9c&callbackUrl=https%3A%2F%2Fpaysys.example%2Fmocopay%2Freturn&notifyUrl=https%3A%2F%2Fpaysys.example%2Fmocopay%2Fnotify"
        );
        assert_eq!(r.signature, "ApiKey app1:QuxAxKFmMewOfTjqso070Q==");
    }

    #[test]
    fn empty_fields_are_omitted() {
        let q = InitPayment {
            pid: "X".into(),
            lang: "hr".into(),
            ..Default::default()
        }
        .to_query();
        assert_eq!(
            q,
            vec![("pid", "X".to_string()), ("lang", "hr".to_string())]
        );
    }

    /// Adapter builds, simulator authenticates and parses: the same order comes out, with
    /// characters that need encoding (`&`, `+`, `?`, space) in the values.
    #[test]
    fn round_trip_through_the_simulator_side() {
        let order = full();
        let r = order
            .request("http://127.0.0.1:9090/mocopay/", "app1", "this.is.a.secret")
            .unwrap();
        let raw_query = r.url.split_once('?').unwrap().1;
        let (key, params) =
            authenticate_query(secrets, INIT_PAYMENT_PATH, Some(&r.signature), raw_query).unwrap();
        assert_eq!(key, "app1");
        assert_eq!(InitPayment::from_params(&params).unwrap(), order);
    }

    #[test]
    fn the_signature_may_travel_as_a_parameter() {
        let order = full();
        let q = order.to_query();
        let sig = signature::sign("this.is.a.secret", INIT_PAYMENT_PATH, &q);
        let mut with_sig = q.clone();
        with_sig.push(("signature", signature::credential("app1", &sig)));
        let url = crate::query::append_query(
            &url::Url::parse("http://h/v1/payment/initPayment/").unwrap(),
            &with_sig,
        );
        let (_, params) =
            authenticate_query(secrets, INIT_PAYMENT_PATH, None, url.query().unwrap()).unwrap();
        assert_eq!(InitPayment::from_params(&params).unwrap(), order);
    }

    #[test]
    fn a_tampered_query_is_refused() {
        let r = full()
            .request("http://h", "app1", "this.is.a.secret")
            .unwrap();
        let raw_query = r
            .url
            .split_once('?')
            .unwrap()
            .1
            .replace("pid=PP27638049", "pid=PP1");
        assert_eq!(
            authenticate_query(secrets, INIT_PAYMENT_PATH, Some(&r.signature), &raw_query),
            Err(InboundError::Signature(signature::SignatureError::Mismatch))
        );
    }

    #[test]
    fn parse_errors_name_the_parameter() {
        for (query, param) in [
            ("mcc=228", "pid"),
            ("pid=", "pid"),
            ("pid=1&mcc=22", "mcc"),
            ("pid=1&mnc=1", "mnc"),
            ("pid=1&country=hr", "country"),
            ("pid=1&clientIp=1.2.3", "clientIp"),
            ("pid=1&phone=abc", "phone"),
            ("pid=1&lang=hrv", "lang"),
            ("pid=1&callbackUrl=javascript:x", "callbackUrl"),
            ("pid=1&notifyUrl=%2Fnotify", "notifyUrl"),
            ("pid=1&imageUrl=x", "imageUrl"),
            ("pid=1&callbackURL=http://x", "callbackURL"),
            ("pid=1&userId=a&userId=b", "userId"),
            ("pid=a%20b", "pid"),
        ] {
            assert_eq!(
                InitPayment::from_query(query).unwrap_err().param,
                param,
                "{query}"
            );
        }
    }

    #[test]
    fn the_adapter_cannot_send_an_invalid_order() {
        let mut o = full();
        o.pid.clear();
        assert!(matches!(
            o.request("http://h", "k", "s"),
            Err(RequestError::Param(ParamError { ref param, .. })) if param == "pid"
        ));
        let o = InitPayment {
            pid: "1".into(),
            ..Default::default()
        };
        assert!(matches!(
            o.request("h", "k", "s"),
            Err(RequestError::BaseUrl(_))
        ));
    }

    #[test]
    fn seed_answer_parses_and_round_trips() {
        let r =
            InitPaymentResponse::parse(200, crate::seed::INIT_PAYMENT_RESPONSE.as_bytes()).unwrap();
        assert_eq!(r.request_id, "9bf849fd215542088fa5c98b99a185a2");
        assert_eq!(
            r.redirect_url,
            "http://checkout.mocopay.com/paymentService/init.html?trn=123&exp=127362736211&hash=deiuheiehfc89cicssic9j9sc"
        );
        assert_eq!(
            InitPaymentResponse::parse(200, r.to_json().as_bytes()).unwrap(),
            r
        );
    }

    #[test]
    fn bad_answers_are_errors() {
        assert!(matches!(
            InitPaymentResponse::parse(200, br#"{"requestId":"","redirectUrl":"http://x"}"#),
            Err(ResponseError::Malformed { .. })
        ));
        assert!(matches!(
            InitPaymentResponse::parse(200, br#"{"requestId":"a","redirectUrl":"javascript:x"}"#),
            Err(ResponseError::Malformed { .. })
        ));
        assert!(matches!(
            InitPaymentResponse::parse(
                401,
                br#"{"errorCode":"INVALID_SIGNATURE","errorMessage":"signature does not verify"}"#
            ),
            Err(ResponseError::Refused { status: 401, .. })
        ));
    }
}
