# logsvc with its demo functions. Editable install so `examples/` stays beside the package.
FROM python:3.11-slim
WORKDIR /src
COPY . /src
RUN pip install --no-cache-dir -e /src
ENV LOGSVC_DATA_DIR=/data
VOLUME ["/data"]
EXPOSE 4588
# Bound to 0.0.0.0 inside the container, logsvc refuses to start without a token:
#   docker run -e LOGSVC_TOKEN=<secret> -p 4588:4588 ...   (or -e LOGSVC_INSECURE=true with
#   -p 127.0.0.1:4588:4588, as docker-compose.yml does). See docs/team-server.md.
CMD ["logsvc", "demo", "--host", "0.0.0.0", "--port", "4588"]
