# rekey as a container: `rekey serve` on EventStoreDB (see docker-compose.yml, docs/eventstoredb.md).
#
#   docker build -t rekey:dev .
#   docker run --rm -p 127.0.0.1:8080:8080 -e REKEY_EVENTSTORE='esdb://host.docker.internal:2113?tls=false' rekey:dev

FROM node:20-bookworm-slim AS build
# better-sqlite3 builds from source when no prebuilt binary fits the platform.
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY . .
# `npm ci` installs exactly the lock file and runs `prepare`, which compiles TypeScript into dist/.
RUN npm ci && npm prune --omit=dev

FROM node:20-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build /app/package.json /app/package-lock.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY --from=build /app/examples ./examples
USER node
EXPOSE 8080
# Listens on every interface inside the container; publish the port on the host's loopback only.
CMD ["node", "dist/src/cli/main.js", "serve", "--host", "0.0.0.0", "--port", "8080"]
