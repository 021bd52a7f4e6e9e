# vigia in a container.
#
# Build (from the repository root):
#   docker build -t vigia .
#
# Run on the site's DNS VM, where config.toml listens on 192.168.0.109:53:
#   docker run -d --name vigia --restart unless-stopped --network host \
#     -v /srv/vigia:/etc/vigia:ro -v vigia-state:/var/lib/vigia \
#     -e VIGIA_HEALTHCHECK_SERVER=192.168.0.109:53 \
#     vigia
# with /srv/vigia/config.toml and /srv/vigia/zones/ (the repository's
# config.toml and zones/). Zone paths in config.toml are relative to the
# config's folder, so "zones/db.no-paladar.com.br" is read from
# /etc/vigia/zones/db.no-paladar.com.br. Mounting the folder (rather than
# config.toml alone) matters: an editor that saves by replacing the file
# leaves a single-file bind mount showing the old file, and a reload would
# not see the edit.
#
# Check the files:  docker run --rm -v /srv/vigia:/etc/vigia:ro vigia check
# Reload:           docker kill --signal=HUP vigia
# More in docs/operations.md; examples/docker-compose.yml rebuilds the
# thesis's whole site (vigia and two Apache web servers) on one host.

FROM rust:1-bookworm AS builder
WORKDIR /src
# benches/ only because Cargo.toml declares the benchmark target.
COPY Cargo.toml Cargo.lock ./
COPY src ./src
COPY benches ./benches
# The release profile keeps line tables (debug = 1) for profiling on the
# host; the image does without them (and cargo then strips debug info).
RUN CARGO_PROFILE_RELEASE_DEBUG=0 cargo build --release --locked \
    && install -m 0755 target/release/vigia /usr/local/bin/vigia

FROM debian:bookworm-slim
LABEL org.opencontainers.image.title="vigia" \
      org.opencontainers.image.description="Authoritative DNS server with health-driven failover" \
      org.opencontainers.image.licenses="MIT OR Apache-2.0"
# libcap2-bin for setcap only. No ca-certificates: https health checks
# verify against the Mozilla roots compiled into vigia (webpki-roots).
# tests/container_runtime.rs applies this stage's USER, file capability and
# HEALTHCHECK to the built binary, since CI has no Docker engine.
# DL3008 (pin apt versions): the versions follow the debian:bookworm-slim
# base, which is rebuilt with the security updates we want; pinning would
# break the build at each Debian point release.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends libcap2-bin \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10053 vigia \
    && useradd --system --no-log-init --uid 10053 --gid vigia \
        --home-dir /nonexistent --no-create-home --shell /usr/sbin/nologin vigia \
    && mkdir -p /etc/vigia/zones /var/lib/vigia /run/vigia \
    && chown 10053:10053 /var/lib/vigia /run/vigia \
    && chmod 0700 /var/lib/vigia \
    && chmod 0750 /run/vigia
COPY --from=builder /usr/local/bin/vigia /usr/local/bin/vigia
# Port 53 without root: the file capability lets the unprivileged user bind
# it (Docker keeps NET_BIND_SERVICE in the default capability set; with
# --cap-drop ALL, add --cap-add NET_BIND_SERVICE back or vigia cannot start).
RUN setcap cap_net_bind_service=+ep /usr/local/bin/vigia \
    && getcap /usr/local/bin/vigia \
    && vigia --version

# config.toml and zones/ (read only; readable by uid 10053). The default
# working directory makes `vigia check` find config.toml by itself.
# /var/lib/vigia is [server] state_dir's default: the serials last served
# and the drained checks, kept across restarts (writable by uid 10053;
# give it a named volume, or a restart starts from the zone files).
# /run/vigia holds the control socket of the shipped config.toml
# ([control] socket): `docker exec vigia vigia ctl status`.
VOLUME ["/etc/vigia", "/var/lib/vigia"]
WORKDIR /etc/vigia
# Numeric, so that runtimes (Kubernetes runAsNonRoot) can tell it is not root.
USER 10053:10053

# DNS over UDP and TCP; 9153 is [metrics] listen (read-only /metrics and
# /status) when the config makes it listen beyond loopback. Drains and
# reloads go through the control socket (vigia ctl), never this port.
EXPOSE 53/udp 53/tcp 9153

# Healthy = vigia answers the SOA query for its first zone (NOERROR). Set
# VIGIA_HEALTHCHECK_SERVER to an address:port from [server] listen (the
# shipped config.toml listens on 192.168.0.109:53 only, not on 127.0.0.1).
ENV VIGIA_HEALTHCHECK_NAME=no-paladar.com.br \
    VIGIA_HEALTHCHECK_SERVER=127.0.0.1:53
# (`|| exit 1`: Docker reserves status 2, which is clap's usage error.)
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
    CMD ["/bin/sh", "-c", "vigia query \"$VIGIA_HEALTHCHECK_NAME\" SOA --server \"$VIGIA_HEALTHCHECK_SERVER\" --timeout 2s --short || exit 1"]

# SIGTERM stops, SIGHUP reloads (docker kill --signal=HUP).
STOPSIGNAL SIGTERM
ENTRYPOINT ["vigia"]
CMD ["serve", "--config", "/etc/vigia/config.toml"]
