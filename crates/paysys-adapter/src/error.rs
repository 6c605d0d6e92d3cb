//! What can go wrong in an adapter, and the one gRPC code each situation gets from every adapter
//! (proto/paysys/v1/provider.proto). Field errors travel as `google.rpc.BadRequest` details, so
//! the edge names the merchant's field without parsing message text.

use tonic::{Code, Status};
use tonic_types::{ErrorDetails, FieldViolation, StatusExt};

#[derive(Debug, thiserror::Error)]
pub enum ProviderError {
    /// Fields of the request are wrong, each named by the merchant's path (`customer.phone`).
    #[error("invalid: {}", describe(.0))]
    Invalid(Vec<(String, String)>),
    /// No such order here (yet).
    #[error("not found: {0}")]
    NotFound(String),
    /// This provider cannot do that.
    #[error("not supported: {0}")]
    Unsupported(String),
    /// The provider refused for good; retrying the same request will not help.
    #[error("refused by the provider: {0}")]
    Refused(String),
    /// The provider could not be reached or failed; it may or may not have acted.
    #[error("provider unavailable: {0}")]
    Unavailable(String),
    /// Our own failure (database); the text is logged, never sent.
    #[error("internal: {0}")]
    Internal(#[from] anyhow::Error),
}

fn describe(fields: &[(String, String)]) -> String {
    fields
        .iter()
        .map(|(f, w)| format!("{f}: {w}"))
        .collect::<Vec<_>>()
        .join("; ")
}

impl ProviderError {
    pub fn invalid(field: impl Into<String>, why: impl Into<String>) -> Self {
        Self::Invalid(vec![(field.into(), why.into())])
    }
}

impl From<sqlx::Error> for ProviderError {
    fn from(e: sqlx::Error) -> Self {
        Self::Internal(e.into())
    }
}

impl From<ProviderError> for Status {
    fn from(e: ProviderError) -> Status {
        match e {
            ProviderError::Invalid(fields) => {
                let message = describe(&fields);
                let violations = fields
                    .into_iter()
                    .map(|(f, w)| FieldViolation::new(f, w))
                    .collect::<Vec<_>>();
                Status::with_error_details(
                    Code::InvalidArgument,
                    message,
                    ErrorDetails::with_bad_request(violations),
                )
            }
            ProviderError::NotFound(m) => Status::not_found(m),
            ProviderError::Unsupported(m) => Status::unimplemented(m),
            ProviderError::Refused(m) => Status::failed_precondition(m),
            ProviderError::Unavailable(m) => Status::unavailable(m),
            ProviderError::Internal(e) => {
                tracing::error!(error = %format!("{e:#}"), "adapter internal error");
                Status::internal("internal error")
            }
        }
    }
}

/// The field violations of an INVALID_ARGUMENT status (what the edge turns into `-32602`).
pub fn field_violations(status: &Status) -> Vec<(String, String)> {
    status
        .get_details_bad_request()
        .map(|b| {
            b.field_violations
                .into_iter()
                .map(|v| (v.field, v.description))
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_fields_cross_grpc_as_bad_request_details() {
        let s: Status = ProviderError::Invalid(vec![
            ("customer.phone".into(), "required".into()),
            ("payment.currency".into(), "PLN only".into()),
        ])
        .into();
        assert_eq!(s.code(), Code::InvalidArgument);
        assert_eq!(
            field_violations(&s),
            vec![
                ("customer.phone".to_string(), "required".to_string()),
                ("payment.currency".to_string(), "PLN only".to_string())
            ]
        );
    }

    #[test]
    fn each_situation_has_one_code_and_internal_text_stays_inside() {
        let codes = [
            (ProviderError::NotFound("x".into()), Code::NotFound),
            (ProviderError::Unsupported("x".into()), Code::Unimplemented),
            (ProviderError::Refused("x".into()), Code::FailedPrecondition),
            (ProviderError::Unavailable("x".into()), Code::Unavailable),
        ];
        for (e, code) in codes {
            assert_eq!(Status::from(e).code(), code);
        }
        let s = Status::from(ProviderError::Internal(anyhow::anyhow!(
            "password authentication failed for user postgres"
        )));
        assert_eq!(s.code(), Code::Internal);
        assert!(!s.message().contains("password"));
    }
}
