# A slim image of the daemon. Build: docker build -t handover .
# Run the demo:   docker run -p 8080:8080 -v handover-data:/data handover
# Run a config:   docker run -v /etc/handover:/config:ro -v handover-data:/data \
#                   -e HANDOVER_ADMIN_TOKEN=... handover run /config/handover.toml
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY handover ./handover
COPY adapters ./adapters
RUN pip install --no-cache-dir --prefix=/install .

FROM python:3.11-slim
COPY --from=build /install /usr/local
RUN useradd --system --uid 10001 --home-dir /data --shell /usr/sbin/nologin handover \
    && mkdir -p /data && chown handover /data
USER handover
WORKDIR /data
VOLUME ["/data"]
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=3s CMD python -c "import urllib.request,sys; urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=2)" || exit 1
ENTRYPOINT ["handover"]
CMD ["demo", "--host", "0.0.0.0", "--port", "8080", "--data-dir", "/data"]
