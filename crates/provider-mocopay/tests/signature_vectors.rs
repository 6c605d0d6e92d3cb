//! MoCoPay signatures of whole requests against answers computed outside Rust, beside the
//! published vector (src/signature.rs): values that need encoding (spaces, `?`, `&`, `+`,
//! non-ASCII), every initPayment parameter, and verifyPayment. The signed string is the secret,
//! the method's path, `?`, then the DECODED parameters sorted by name in byte order:
//!
//! ```text
//! python3 -c 'import hashlib,base64
//! p={"pid":"PP27638049","mcc":"219","mnc":"01","country":"HR","userId":"merchant user ż7",
//!    "clientIp":"203.0.113.9","phone":"385991234567","lang":"hr","referenceId":"ps-01J9ZK",
//!    "callbackUrl":"https://gw.example/mocopay/return?o=1&x=a+b",
//!    "notifyUrl":"https://gw.example/mocopay/notify","imageUrl":"https://cdn.example/p.png"}
//! s="this.is.a.secret/v1/payment/initPayment/?"+"&".join(k+"="+v for k,v in sorted(p.items(),key=lambda kv:kv[0].encode()))
//! print(base64.b64encode(hashlib.md5(s.encode()).digest()).decode())'
//! ```
//!
//! prints `lfdugoMUtj+7AZFO2/CAww==` (openssl agrees: `printf '%s' "$s" | openssl dgst -md5
//! -binary | base64`); over `this.is.a.secret/v1/payment/verifyPayment/?userId=merchant user ż7`
//! the same digest is `M7+omf7xgl/pEJEDFf+f5w==`.

use provider_mocopay::{
    authenticate_query, InitPayment, VerifyPayment, INIT_PAYMENT_PATH, VERIFY_PAYMENT_PATH,
};

const SECRET: &str = "this.is.a.secret";
const INIT_SIGNATURE: &str = "ApiKey app1:lfdugoMUtj+7AZFO2/CAww==";
const VERIFY_SIGNATURE: &str = "ApiKey app1:M7+omf7xgl/pEJEDFf+f5w==";

fn secrets(k: &str) -> Option<String> {
    (k == "app1").then(|| SECRET.to_string())
}

fn every_parameter() -> InitPayment {
    InitPayment {
        pid: "PP27638049".into(),
        mcc: "219".into(),
        mnc: "01".into(),
        country: "HR".into(),
        user_id: "merchant user ż7".into(),
        client_ip: "203.0.113.9".into(),
        phone: "385991234567".into(),
        lang: "hr".into(),
        reference_id: "ps-01J9ZK".into(),
        callback_url: "https://gw.example/mocopay/return?o=1&x=a+b".into(),
        notify_url: "https://gw.example/mocopay/notify".into(),
        image_url: "https://cdn.example/p.png".into(),
    }
}

#[test]
fn the_adapter_signs_init_payment_as_python_does() {
    let r = every_parameter()
        .request("http://payment.mocopay.com", "app1", SECRET)
        .unwrap();
    assert_eq!(r.signature, INIT_SIGNATURE);
}

#[test]
fn the_adapter_signs_verify_payment_as_python_does() {
    let r = VerifyPayment::UserId("merchant user ż7".into())
        .request("http://payment.mocopay.com", "app1", SECRET)
        .unwrap();
    assert_eq!(r.signature, VERIFY_SIGNATURE);
}

/// The receiving side (provider-sandbox plays MoCoPay with it) accepts the Python signature on
/// a query encoded by hand, differently from how the adapter encodes it (`+` for spaces), and
/// refuses it on any other request.
#[test]
fn the_verifier_accepts_the_python_signature_on_any_encoding() {
    let query = "pid=PP27638049&mcc=219&mnc=01&country=HR&userId=merchant+user+%C5%BC7\
        &clientIp=203.0.113.9&phone=385991234567&lang=hr&referenceId=ps-01J9ZK\
        &callbackUrl=https%3A%2F%2Fgw.example%2Fmocopay%2Freturn%3Fo%3D1%26x%3Da%2Bb\
        &notifyUrl=https%3A%2F%2Fgw.example%2Fmocopay%2Fnotify&imageUrl=https://cdn.example/p.png";
    let (key, params) =
        authenticate_query(secrets, INIT_PAYMENT_PATH, Some(INIT_SIGNATURE), query).unwrap();
    assert_eq!(key, "app1");
    assert_eq!(
        InitPayment::from_params(&params).unwrap(),
        every_parameter()
    );

    assert!(authenticate_query(secrets, VERIFY_PAYMENT_PATH, Some(INIT_SIGNATURE), query).is_err());
    assert!(authenticate_query(
        secrets,
        INIT_PAYMENT_PATH,
        Some(INIT_SIGNATURE),
        &query.replace("mnc=01", "mnc=02")
    )
    .is_err());
    assert!(authenticate_query(
        secrets,
        VERIFY_PAYMENT_PATH,
        Some(VERIFY_SIGNATURE),
        "userId=merchant%20user%20%C5%BC7"
    )
    .is_ok());
}
