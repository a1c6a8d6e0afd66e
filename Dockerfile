# ml-connector: one image per function.
#
#   docker build --build-arg FUNCTION=webhook-receiver -t REGISTRY/ml-connector/webhook-receiver:TAG .
#
# FUNCTION is one of webhook-receiver, order-poster, catalog-push, backfill-poll (the image's
# entrypoint); every image also carries `mlc` (docker run --entrypoint /app/mlc IMAGE status).
# The same image serves every platform: MLC_MODE=http (Knative, Cloud Run, Deployment), once
# (CronJob: --event-file), lambda (container image function); see docs/deploy.md.
# Not exercised in CI (no Docker daemon there): CI runs the same release build and checks with
# ldd that the runtime stage provides every library (scripts/check-release), and lints this file
# with hadolint (scripts/check-infra).

# ---- build: all five executables in one release build, Swift runtime linked statically ----
# Swift 6.3 on Ubuntu 24.04, the toolchain this repository is built and tested with (6.3.1).
FROM swift:6.3-noble AS build
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
WORKDIR /src
# Dependencies first, so this layer is reused while only the sources change (Package.swift pins
# every dependency to an exact version; Package.resolved is used when the context has one).
COPY Package.swift Package.resolved* ./
RUN swift package resolve
COPY . .
# No system -dev packages: no binary links libcurl or libssl (TLS is swift-nio-ssl's BoringSSL,
# built in); infra/image/runtime-libraries.txt lists what they do link. scripts/build-release is
# the one release build (static stdlib, function sections, linked in cold-start order).
RUN scripts/build-release \
 && bin="$(scripts/build-release --show-bin-path)" \
 && mkdir -p /staging/bin /staging/share \
 && cp "$bin/mlc" "$bin/webhook-receiver" "$bin/order-poster" "$bin/catalog-push" "$bin/backfill-poll" /staging/bin/ \
 && strip --strip-debug /staging/bin/* \
 && find "$bin" -maxdepth 1 -name '*.resources' -exec cp -R {} /staging/share/ \; \
 && cp /usr/libexec/swift/linux/swift-backtrace-static /staging/share/

# ---- runtime: Ubuntu 24.04 (the build's glibc) + CA certificates, time zones, listed libraries ----
FROM ubuntu:noble AS runtime
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
COPY infra/image/runtime-libraries.txt /tmp/runtime-libraries.txt
# Package versions follow the noble pocket (security updates); the release is pinned by the tag.
RUN apt-get update \
 && awk '!/^#/ && NF >= 2 && $2 != "-" { print $2 }' /tmp/runtime-libraries.txt | sort -u \
    | xargs apt-get install -y --no-install-recommends ca-certificates tzdata \
 && rm -rf /var/lib/apt/lists/* /tmp/runtime-libraries.txt \
 && groupadd --system --gid 10001 mlc \
 && useradd --system --uid 10001 --gid 10001 --home-dir /app --no-create-home --shell /usr/sbin/nologin mlc
ARG FUNCTION=webhook-receiver
RUN case "${FUNCTION}" in \
      webhook-receiver|order-poster|catalog-push|backfill-poll) install -d -m 0755 /app && ln -s "/app/${FUNCTION}" /app/handler ;; \
      *) echo "FUNCTION=${FUNCTION}: use webhook-receiver, order-poster, catalog-push or backfill-poll" >&2; exit 1 ;; \
    esac
# Only this function and mlc (each ~120 MB with symbols kept for crash backtraces, debug info
# stripped), the SwiftPM resource bundles mlc's sandbox and demo read, and the backtracer.
# Owned by root, readable and executable by any user (Lambda and OpenShift run an arbitrary UID).
COPY --from=build --chown=0:0 --chmod=0755 /staging/bin/mlc /staging/bin/${FUNCTION} /app/
COPY --from=build --chown=0:0 --chmod=0755 /staging/share/ /app/
ENV PATH=/app:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    MLC_FUNCTION=${FUNCTION} \
    SWIFT_BACKTRACE=enable=yes,sanitize=yes,threads=all,images=all,interactive=no,swift-backtrace=/app/swift-backtrace-static
# Numeric, so Kubernetes' runAsNonRoot can check it.
USER 10001:10001
WORKDIR /app
EXPOSE 8080
ENTRYPOINT ["/app/handler"]
