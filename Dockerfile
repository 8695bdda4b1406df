# Small runtime image for the flaresync daemon (`flaresync run`).
#   docker build -t flaresync .
#   docker run -e CLOUDFLARE_API_TOKEN -e CLOUDFLARE_ACCOUNT_ID -p 9090:9090 flaresync \
#       run --repo https://github.com/acme/workers-config.git --status-listen 0.0.0.0:9090
FROM rust:1-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked --bin flaresync

FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates libssl3 libssh2-1 zlib1g \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home /var/lib/flaresync flaresync \
    && mkdir -p /var/lib/flaresync && chown flaresync /var/lib/flaresync
COPY --from=build /src/target/release/flaresync /usr/local/bin/flaresync
USER flaresync
WORKDIR /var/lib/flaresync
ENV FLARESYNC_STATE_DIR=/var/lib/flaresync
EXPOSE 9090
ENTRYPOINT ["/usr/local/bin/flaresync"]
CMD ["run", "--status-listen", "0.0.0.0:9090"]
