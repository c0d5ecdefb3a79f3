# One image for both services: `profile-matcher matcher` or `profile-matcher campaigns`.
FROM python:3.11-slim

COPY --from=ghcr.io/astral-sh/uv:0.13.9 /uv /usr/local/bin/uv
ENV UV_COMPILE_BYTECODE=1 UV_LINK_MODE=copy PATH=/app/.venv/bin:$PATH
WORKDIR /app

# Dependencies first, so code changes do not reinstall them.
COPY pyproject.toml uv.lock README.md ./
RUN uv sync --locked --no-dev --no-install-project

COPY services services
COPY generated generated
RUN uv sync --locked --no-dev --no-editable

# A writable place for the campaign catalog volume (named volumes copy this ownership).
RUN mkdir /catalog && chown nobody /catalog
USER nobody
EXPOSE 50051 50052
ENTRYPOINT ["profile-matcher"]
