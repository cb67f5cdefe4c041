import { timingSafeEqual } from "node:crypto";
import { fileURLToPath } from "node:url";
import express, { type Express } from "express";
import type { Registry } from "prom-client";

export interface ServiceStatus {
  /** shared = Redis; memory = serving from this process alone. */
  mode: () => "shared" | "memory";
  /** True between start-up and the beginning of a drain. */
  ready: () => boolean;
  /** The kind of Redis used (or tried, in memory mode): a single node, or a Redis Cluster. */
  redis: "single" | "cluster";
  instanceId: string;
  /** What is wrong although the service runs (a failed write-back, ...), by part; empty when all is well. */
  problems: () => Record<string, string>;
}

const sameSecret = (a: string, b: string): boolean => {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
};

/**
 * The HTTP side: liveness (`/health`, as in the seed), readiness (`/ready`) and Prometheus
 * metrics (`/metrics`, behind a bearer token when one is configured).
 */
export function createApp(
  status: ServiceStatus,
  metrics: { registry: Registry; token?: string },
  options: { demoPage: boolean },
): Express {
  const app = express();
  app.disable("x-powered-by");
  // Built on the typed client, served as ES modules beside it (client/dist, built with the service).
  if (options.demoPage) {
    app.use(express.static(fileURLToPath(new URL("../../public/", import.meta.url))));
    app.use("/client", express.static(fileURLToPath(new URL("../../client/dist/", import.meta.url))));
  }
  app.get("/health", (_req, res) => {
    res.json({ status: "ok", service: "chat-service", mode: status.mode(), instanceId: status.instanceId });
  });
  app.get("/ready", (_req, res) => {
    const ready = status.ready();
    const problems = status.problems();
    res.status(ready ? 200 : 503).json({
      status: ready ? "ready" : "unavailable",
      service: "chat-service",
      mode: status.mode(),
      redis: status.redis,
      instanceId: status.instanceId,
      ...(Object.keys(problems).length > 0 ? { problems } : {}),
    });
  });
  app.get("/metrics", async (req, res) => {
    if (metrics.token && !sameSecret(req.get("authorization") ?? "", `Bearer ${metrics.token}`)) {
      res.status(401).json({ error: "unauthorized" });
      return;
    }
    res.type(metrics.registry.contentType).send(await metrics.registry.metrics());
  });
  app.use((_req, res) => {
    res.status(404).json({ error: "not found" });
  });
  return app;
}
