# syntax=docker/dockerfile:1.7
# Weft coordinator image. Build from the repository root:
#   docker build -f deploy/images/coordinator.Dockerfile -t weft-coordinator .
# Node 24 runs the TypeScript sources directly (type stripping), so the image holds the sources
# of the service and its workspace libraries plus production dependencies only.

FROM node:24-bookworm-slim AS deps
WORKDIR /app
RUN npm install --global --no-audit --no-fund pnpm@12.21.0
COPY package.json pnpm-workspace.yaml pnpm-lock.yaml ./
# Every workspace manifest must be present for a frozen install; .dockerignore keeps the rest out.
COPY . .
RUN pnpm install --frozen-lockfile --prod --filter @weft/coordinator... --filter @weft/example-pipeline...

FROM node:24-bookworm-slim
ENV NODE_ENV=production \
    WEFT_COORDINATOR_PORT=7234
WORKDIR /app
COPY --from=deps --chown=node:node /app /app
# The app module (workflows and steps) the service loads. The default is the pipeline example;
# build your own image FROM this one and COPY your app, or mount it, and set WEFT_APP.
ENV WEFT_APP=/app/examples/pipeline/src/app.ts
USER node
EXPOSE 7234
HEALTHCHECK --interval=10s --timeout=5s --start-period=20s --retries=3 \
  CMD ["node", "libs/runtime/src/healthcheck.ts", "127.0.0.1:7234"]
STOPSIGNAL SIGTERM
CMD ["node", "services/coordinator/src/main.ts"]
