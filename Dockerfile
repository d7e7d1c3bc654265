FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY distributor ./distributor
COPY workers ./workers
COPY templates ./templates
RUN pip install --no-cache-dir .
ENV DISTRIBUTOR_DATA_DIR=/data DISTRIBUTOR_TEMPLATES_DIR=/app/templates
VOLUME /data
EXPOSE 8000
CMD ["uvicorn", "--factory", "distributor.web.app:create_app", "--host", "0.0.0.0", "--port", "8000"]
