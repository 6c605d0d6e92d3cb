# One image holding every PaySystem binary; each service runs one of them.
FROM rust:1-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --bins

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates curl && rm -rf /var/lib/apt/lists/*
COPY --from=build /src/target/release/rpc-edge /src/target/release/provider-mobiltek /src/target/release/provider-teleaudio /src/target/release/provider-sandbox \
     /src/target/release/notifier /src/target/release/ledger /src/target/release/paysys /usr/local/bin/
USER 65534
