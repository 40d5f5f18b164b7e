# One image, three commands: docker compose picks one per service.
FROM golang:1.26 AS build
WORKDIR /src
COPY . .
RUN --mount=type=cache,target=/root/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 go build -o /out/ ./services/ingest/cmd/ingest ./services/processor/cmd/processor ./services/syncer/cmd/syncer ./services/ingest/cmd/send-test-event

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/ /usr/local/bin/
USER nonroot
