//! Generated protobuf types and gRPC stubs (`proto/paysys/v1`). One source of truth for the wire.
#![forbid(unsafe_code)]
#![allow(clippy::all)]

pub mod v1 {
    tonic::include_proto!("paysys.v1");
}

pub use v1::*;

/// Every `proto/paysys/v1` file, as an encoded `google.protobuf.FileDescriptorSet` (what gRPC
/// server reflection serves).
pub const FILE_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/paysys_descriptor.bin"));

/// gRPC server reflection (v1 and v1alpha) for a server of `service` (e.g.
/// `pay_system_server::SERVICE_NAME`): it lists that service, `grpc.health.v1.Health` and the
/// reflection services themselves, and describes them all. Every gRPC server adds both next to
/// its health service.
pub fn reflection(
    service: &str,
) -> Result<
    (
        tonic_reflection::server::v1::ServerReflectionServer<
            impl tonic_reflection::server::v1::ServerReflection,
        >,
        tonic_reflection::server::v1alpha::ServerReflectionServer<
            impl tonic_reflection::server::v1alpha::ServerReflection,
        >,
    ),
    tonic_reflection::server::Error,
> {
    let builder = || {
        tonic_reflection::server::Builder::configure()
            .include_reflection_service(false)
            .register_encoded_file_descriptor_set(FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_reflection::pb::v1::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(
                tonic_reflection::pb::v1alpha::FILE_DESCRIPTOR_SET,
            )
            .with_service_name(service)
            .with_service_name(tonic_health::pb::health_server::SERVICE_NAME)
            .with_service_name(tonic_reflection::pb::v1::server_reflection_server::SERVICE_NAME)
            .with_service_name(
                tonic_reflection::pb::v1alpha::server_reflection_server::SERVICE_NAME,
            )
    };
    Ok((builder().build_v1()?, builder().build_v1alpha()?))
}

#[cfg(test)]
mod tests {
    use prost::Message;

    #[test]
    fn descriptor_set_holds_every_service() {
        let fds = prost_types::FileDescriptorSet::decode(super::FILE_DESCRIPTOR_SET).unwrap();
        let services: Vec<String> = fds
            .file
            .iter()
            .flat_map(|f| {
                f.service
                    .iter()
                    .map(move |s| format!("{}.{}", f.package(), s.name()))
            })
            .collect();
        for s in [
            "paysys.v1.PaySystem",
            "paysys.v1.PaymentProvider",
            "paysys.v1.Ledger",
            "paysys.v1.Notifier",
        ] {
            assert!(services.iter().any(|x| x == s), "{s} not in {services:?}");
        }
        let pay = fds
            .file
            .iter()
            .flat_map(|f| f.service.iter())
            .find(|s| s.name() == "PaySystem")
            .unwrap();
        assert_eq!(pay.method.len(), 10);
    }

    #[test]
    fn reflection_services_build() {
        super::reflection(super::pay_system_server::SERVICE_NAME).expect("descriptor sets decode");
    }
}
