# logsvc with its demo functions. Editable install so `examples/` stays beside the package.
FROM python:3.11-slim
WORKDIR /src
COPY . /src
RUN pip install --no-cache-dir -e /src
ENV LOGSVC_DATA_DIR=/data
VOLUME ["/data"]
EXPOSE 4588
CMD ["logsvc", "demo", "--host", "0.0.0.0", "--port", "4588"]
