# Small runtime image for the flaresync daemon (`flaresync run`), non-root (uid 10001), and
# fine with a read-only root file system: it writes only to its state directory
# (/var/lib/flaresync, a volume) and /tmp.
#   docker build -t flaresync .
#   docker run --read-only --tmpfs /tmp -v flaresync-state:/var/lib/flaresync \
#       -e CLOUDFLARE_API_TOKEN -e CLOUDFLARE_ACCOUNT_ID -p 9090:9090 flaresync \
#       run --repo https://github.com/acme/workers-config.git --status-listen 0.0.0.0:9090
# With the journal in PostgreSQL (FLARESYNC_JOURNAL_URL) the state is only clones and caches:
#   --tmpfs /var/lib/flaresync:uid=10001,gid=10001,mode=0700 instead of the volume.
FROM rust:1-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked --bin flaresync

FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates libssl3 libssh2-1 zlib1g \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 flaresync \
    && useradd --system --uid 10001 --gid 10001 --home /var/lib/flaresync flaresync \
    && mkdir -p /var/lib/flaresync && chown flaresync:flaresync /var/lib/flaresync \
    && chmod 0700 /var/lib/flaresync
COPY --from=build /src/target/release/flaresync /usr/local/bin/flaresync
USER flaresync
WORKDIR /var/lib/flaresync
ENV FLARESYNC_STATE_DIR=/var/lib/flaresync HOME=/var/lib/flaresync TMPDIR=/tmp
VOLUME ["/var/lib/flaresync"]
EXPOSE 9090
ENTRYPOINT ["/usr/local/bin/flaresync"]
CMD ["run", "--status-listen", "0.0.0.0:9090"]
