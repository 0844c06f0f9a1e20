# Fallback when GitHub Actions is not at hand: the same `staticbuild` commands in a container.
# Debian, not Alpine: the toolchain is Debian's gcc and aarch64 cross gcc with Debian's kernel
# headers, and sources that only Debian's archive carries are found through apt's deb-src
# indexes (see README), none of which Alpine has.
#
#   docker build -t staticbuild .
#   docker run --rm -v "$PWD/dist:/src/dist" -v staticbuild-cache:/root/.cache/staticbuild \
#     staticbuild package podman --arch arm64 --variant full --out dist
FROM golang:1.26.8-bookworm AS go

FROM debian:bookworm-slim
# Versions come from the Debian release itself; the lists stay, since the build reads apt's indexes.
# hadolint ignore=DL3008,DL3009
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates make python3 python3-venv
COPY --from=go /usr/local/go /usr/local/go
ENV PATH=/usr/local/go/bin:$PATH
WORKDIR /src
COPY . .
RUN make setup
ENTRYPOINT ["/src/.venv/bin/staticbuild"]
CMD ["package", "podman", "--arch", "amd64", "--variant", "full", "--out", "dist"]
