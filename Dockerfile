# A slim image of the daemon. Build: docker build -t handover .
# Run a config (the default command):
#   docker run -v /etc/handover:/config:ro -v handover-data:/data \
#     -e HANDOVER_ADMIN_TOKEN=... handover
# Try the demo on this machine only (it prints the console's sign-in token):
#   docker run -p 127.0.0.1:8080:8080 -v handover-data:/data handover \
#     demo --host 0.0.0.0 --port 8080 --data-dir /data
#
# The base image is an exact release, not a moving tag, so a rebuild gets the same
# Python; bump it (or pin it by digest) on purpose. Dependencies are installed at the
# versions in constraints.txt, the set the tests ran with.
ARG PYTHON_IMAGE=python:3.11.13-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
WORKDIR /src
COPY pyproject.toml README.md constraints.txt ./
COPY handover ./handover
COPY adapters ./adapters
RUN pip install --no-cache-dir --prefix=/install -c constraints.txt .

FROM ${PYTHON_IMAGE}
COPY --from=build /install /usr/local
RUN useradd --system --uid 10001 --home-dir /data --shell /usr/sbin/nologin handover \
    && mkdir -p /data && chown handover /data
USER handover
WORKDIR /data
VOLUME ["/data"]
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=3s CMD python -c "import urllib.request,sys; urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=2)" || exit 1
ENTRYPOINT ["handover"]
CMD ["run", "/config/handover.toml"]
