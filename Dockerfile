# syntax=docker/dockerfile:1
# One image per service of the fleet: ARG SERVICE picks which (users, catalog, orders, gateway).
#
#   docker build --build-arg SERVICE=users -t fleet-users .         # `make images` does this for each
#
# Stages:
#   build     a release build with the static Swift standard library, in the official Swift image
#             (SWIFT_IMAGE for another one holding the same toolchain)
#   prebuilt  a binary built outside, from the build context named `binaries` (a folder holding
#             <service>): `--build-arg BINARY_SOURCE=prebuilt --build-context binaries=DIR`.
#             `make images BUILD=local` and the tests take this path (docs/deployment.md).
#   runtime   Debian 12 slim (RUNTIME_IMAGE for another Debian 12 base), the binary and only the
#             shared libraries it needs, run as uid 10001; the last stage, so the default target.
ARG SWIFT_IMAGE=docker.io/library/swift:6.3.1-bookworm
ARG RUNTIME_IMAGE=docker.io/library/debian:bookworm-slim
ARG BINARY_SOURCE=build

# The OCI labels (.hadolint.yaml) belong to the image, the last stage: not to the two stages a binary comes from.
# hadolint ignore=DL3049
FROM ${SWIFT_IMAGE} AS build
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
# What scripts/deps.sh installs for a build (the official image has most of it already). Not pinned
# to versions: Debian 12 ships security fixes as new versions, and the old ones leave the archive.
# hadolint ignore=DL3008
RUN missing=(); \
    for package in libcurl4-openssl-dev zlib1g-dev libsqlite3-dev; do \
      [ "$(dpkg-query -W -f='${db:Status-Status}' "$package" 2>/dev/null)" = installed ] || missing+=("$package"); \
    done; \
    if [ ${#missing[@]} -gt 0 ]; then \
      apt-get update && apt-get install -y --no-install-recommends "${missing[@]}" && rm -rf /var/lib/apt/lists/*; \
    fi
WORKDIR /src
COPY . .
ARG SERVICE
# The context has no .git: the BuildStamp plugin stamps the revision it is given instead.
ARG REVISION=""
ARG DIRTY=false
# all: the smallest binary (only exported symbols stay: backtraces and profiles name public
# functions only); debug: keep the symbol table (+31 MB); none: keep the DWARF too.
ARG STRIP=all
# The build folder is a cache shared by the builds of every service: dependencies compile once.
RUN --mount=type=cache,target=/src/.build,id=fleet-swift-release \
    test -n "$SERVICE" || { echo "--build-arg SERVICE=<name> is required" >&2; exit 1; }; \
    GIT_REVISION="$REVISION" GIT_DIRTY="$DIRTY" swift build -c release --static-swift-stdlib --product "$SERVICE" \
    && mkdir -p /out \
    && cp "$(swift build -c release --static-swift-stdlib --show-bin-path)/$SERVICE" "/out/$SERVICE" \
    && case "$STRIP" in \
         all) strip "/out/$SERVICE" ;; \
         debug) strip --strip-debug "/out/$SERVICE" ;; \
         none) ;; \
         *) echo "STRIP must be all, debug or none" >&2; exit 1 ;; \
       esac

# hadolint ignore=DL3049
FROM scratch AS prebuilt
ARG SERVICE
# `binaries` is a named build context (--build-context), not a stage of this file.
# hadolint ignore=DL3022
COPY --from=binaries ${SERVICE} /out/${SERVICE}

# The stage the binary comes from: build or prebuilt.
FROM ${BINARY_SOURCE} AS binary

FROM ${RUNTIME_IMAGE} AS runtime
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
# libcurl4 is loaded with dlopen on the first call to a peer (ldd does not list it), ca-certificates
# for https peers and OTLP endpoints. A base image that has them already (scripts/container-base.sh
# makes one offline) needs no package index here. Not pinned, as above. The user owns only /data.
# hadolint ignore=DL3008
RUN missing=(); \
    for package in libcurl4 ca-certificates; do \
      [ "$(dpkg-query -W -f='${db:Status-Status}' "$package" 2>/dev/null)" = installed ] || missing+=("$package"); \
    done; \
    if [ ${#missing[@]} -gt 0 ]; then \
      apt-get update && apt-get install -y --no-install-recommends "${missing[@]}" && rm -rf /var/lib/apt/lists/*; \
    fi; \
    groupadd --system --gid 10001 fleet \
    && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin fleet \
    && mkdir -p /data \
    && chown 10001:10001 /data

ARG RUNTIME_IMAGE
ARG SERVICE
# Set by scripts/images.sh; empty ones leave ServiceKit's defaults (version 0.1.0, the binary's date).
ARG VERSION=""
ARG REVISION=""
ARG CREATED=""
ARG SOURCE=""
LABEL org.opencontainers.image.title="fleet-${SERVICE}" \
      org.opencontainers.image.description="Fleet's ${SERVICE} service (ServiceKit on Hummingbird 2)" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.created="${CREATED}" \
      org.opencontainers.image.source="${SOURCE}" \
      org.opencontainers.image.base.name="${RUNTIME_IMAGE}"

COPY --from=binary /out/${SERVICE} /usr/local/bin/${SERVICE}
# One entry point whatever the service: ENTRYPOINT cannot expand ${SERVICE}.
RUN ln -s "${SERVICE}" /usr/local/bin/fleet-service

# Container defaults (docs/configuration.md): every interface, the container ports, data in /data
# (a volume, so that a read-only root filesystem works as it is: Kubernetes mounts an emptyDir there).
ENV HOST=0.0.0.0 \
    PORT=8080 \
    ADMIN_PORT=9090 \
    DATA_DIR=/data \
    SERVICE_VERSION=${VERSION} \
    BUILD_DATE=${CREATED}
VOLUME ["/data"]
WORKDIR /data
EXPOSE 8080 9090
USER 10001:10001
# ServiceKit's graceful shutdown: readiness 503, SHUTDOWN_DELAY, drain, exit 0.
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/fleet-service"]
