# emfa as a container: a static binary on distroless, as a non-root user, with a
# read-only root filesystem; /data is the only writable path (SQLite, generated keys).
# Build: docker build -t emfa .
# With the version it reports (`emfa version`, emfa_build_info): .git stays out of the
# context (.dockerignore), so Go cannot stamp it; pass it in:
#   docker build --build-arg VERSION="$(git describe --tags --always --dirty)" \
#     --build-arg COMMIT="$(git rev-parse HEAD)" \
#     --build-arg BUILD_DATE="$(date -u +%Y-%m-%dT%H:%M:%SZ)" -t emfa .
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
ARG COMMIT=unknown
ARG BUILD_DATE=
RUN CGO_ENABLED=0 go build -trimpath \
      -ldflags "-s -w -X main.linkVersion=${VERSION} -X main.linkCommit=${COMMIT} -X main.buildDate=${BUILD_DATE}" \
      -o /out/emfa ./cmd/emfa \
 && mkdir -p /out/data

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/emfa /usr/local/bin/emfa
# The nonroot user (65532) owns /data; mount a volume there.
COPY --from=build --chown=65532:65532 /out/data /data
USER 65532:65532
ENV EMFA_DATA_DIR=/data \
    EMFA_SERVER_LISTEN=0.0.0.0:8080
VOLUME ["/data"]
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/emfa"]
CMD ["serve", "--print-secrets=false"]
