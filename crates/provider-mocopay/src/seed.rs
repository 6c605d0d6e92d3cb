//! Seed 004's samples, verbatim, for the tests of every module.

/// The `verifyPayment` answer.
pub const SESSION: &str = r#"{ "sessionId" : "518ec5708a8842dba19993f01ef863b5", "serviceCode" : "PS-000-002", "pid" : "PP27638049", "type" : "subscription", "endUser" : { "userId" : "359276053656628", "phone" : "0099923026", "mcc" : "999", "mnc" : "99" }, "lang" : "hr", "series" : 120, "status" : "Authorized", "chargedAmount" : 0, "failedAmount" : 0, "lastChargedAmount" : 10, "lastFailedAmount" : 0, "totalChargedAmount" : 10, "totalFailedAmount" : 0, "currencyCode" : "TES", "recurrent" : true, "expiresIn" : -115392, "timeInit" : "2014-04-02 14:34:53", "timeAuthorized" : "2014-04-02 14:35:29", "timeLastSuccessfullPayment" : "2014-04-02 14:35:30", "transactions" : [ "ad22a2c458dc4bafbf81de733af21d27", "076fbc5879584b1bb538497f3d772f21", "e83ebf6c4eed42cbb2d4188cd6aa4c43"] }"#;

/// The `initPayment` answer.
pub const INIT_PAYMENT_RESPONSE: &str = r#"{ "requestId": "9bf849fd215542088fa5c98b99a185a2", "redirectUrl": "http://checkout.mocopay.com/paymentService/init.html?trn=123&exp=127362736211&hash=deiuheiehfc89cicssic9j9sc" }"#;

/// The callbackUrl redirect's `Location`.
pub const CALLBACK_LOCATION: &str = "http://www.client.com/app1?sid=8903cf28aa3940f0b31d699fea5aa7ff&sessionId=8903cf28aa3940f0b31d699fea5aa7ff&requestId=9bf849fd215542088fa5c98b99a185a2&referenceId=20162016&status=PaymentComplete";
