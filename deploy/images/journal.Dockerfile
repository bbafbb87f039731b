# syntax=docker/dockerfile:1.7
# Weft journal image. Build from the repository root:
#   docker build -f deploy/images/journal.Dockerfile -t weft-journal .
# Node 24 runs the TypeScript sources directly (type stripping), so the image holds the sources
# of the service and its workspace libraries plus production dependencies only.

FROM node:24-bookworm-slim AS deps
WORKDIR /app
RUN npm install --global --no-audit --no-fund pnpm@12.21.0
COPY package.json pnpm-workspace.yaml pnpm-lock.yaml ./
# Every workspace manifest must be present for a frozen install; .dockerignore keeps the rest out.
COPY . .
RUN pnpm install --frozen-lockfile --prod --filter @weft/journal...

FROM node:24-bookworm-slim
ENV NODE_ENV=production \
    WEFT_JOURNAL_PORT=7233
WORKDIR /app
COPY --from=deps --chown=node:node /app /app
USER node
EXPOSE 7233
HEALTHCHECK --interval=10s --timeout=5s --start-period=20s --retries=3 \
  CMD ["node", "libs/runtime/src/healthcheck.ts", "127.0.0.1:7233"]
STOPSIGNAL SIGTERM
CMD ["node", "services/journal/src/main.ts"]
