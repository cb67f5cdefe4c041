# syntax=docker/dockerfile:1

# Build: compile TypeScript with the dev dependencies.
FROM node:22-alpine AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY client ./client
COPY src ./src
RUN npm run build

# Run: production dependencies, the compiled code and the Lua scripts; no compiler, not root.
FROM node:22-alpine
ENV NODE_ENV=production
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/dist ./dist
COPY --from=build /app/client/dist ./client/dist
COPY lua ./lua
COPY public ./public
USER node
EXPOSE 5286
HEALTHCHECK --interval=15s --timeout=3s --start-period=10s --retries=3 \
  CMD wget -qO- "http://127.0.0.1:${PORT:-5286}/health" >/dev/null || exit 1
CMD ["node", "dist/main.js"]
