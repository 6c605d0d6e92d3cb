# One image holding every PaySystem binary; each service runs one of them.
FROM rust:1-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --bins

FROM debian:bookworm-slim
# openssl (already pulled in by ca-certificates, named so it stays): docker-compose's one-shot
# netopia-keys service makes the sandbox's throwaway Netopia keys with this image.
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates curl openssl && rm -rf /var/lib/apt/lists/*
COPY --from=build /src/target/release/rpc-edge /src/target/release/provider-mobiltek /src/target/release/provider-teleaudio \
     /src/target/release/provider-netopia /src/target/release/provider-mocopay /src/target/release/provider-sandbox \
     /src/target/release/notifier /src/target/release/ledger /src/target/release/paysys /usr/local/bin/
USER 65534
