# Builds the enlace binary (templates, static files and default config are
# compiled in) into a minimal image.
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/enlace ./cmd/enlace

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/enlace /usr/local/bin/enlace
EXPOSE 8080 9090
# No shell or curl in the image: enlace asks its own /readyz (at http.addr).
HEALTHCHECK --interval=10s --timeout=5s --start-period=10s --retries=3 CMD ["/usr/local/bin/enlace", "healthcheck"]
ENTRYPOINT ["/usr/local/bin/enlace"]
CMD ["serve"]
