# One small image with every command; docker compose picks one per service.
# distroless/static runs as nonroot (65532) and has no shell: health checks
# use bin/healthcheck.
FROM golang:1.26 AS build
WORKDIR /src
COPY . .
RUN --mount=type=cache,target=/root/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 go build -trimpath -ldflags=-s -o /out/ \
      ./services/ingest/cmd/ingest \
      ./services/processor/cmd/processor \
      ./services/syncer/cmd/syncer \
      ./services/stripesync/cmd/stripesync \
      ./services/ingest/cmd/send-test-event \
      ./pkg/stripefake/cmd/fakestripe \
      ./pkg/ops/cmd/healthcheck

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/ /usr/local/bin/
USER nonroot:nonroot
