//! Generated protobuf types and gRPC stubs (`proto/paysys/v1`). One source of truth for the wire.
#![forbid(unsafe_code)]
#![allow(clippy::all)]

pub mod v1 {
    tonic::include_proto!("paysys.v1");
}

pub use v1::*;
