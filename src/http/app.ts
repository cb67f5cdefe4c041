import express, { type Express } from "express";

export interface ServiceStatus {
  /** shared = Redis; memory = serving from this process alone. */
  mode: () => "shared" | "memory";
  /** True between start-up and the beginning of a drain. */
  ready: () => boolean;
  instanceId: string;
}

/** The HTTP side: liveness (`/health`, as in the seed) and readiness (`/ready`). */
export function createApp(status: ServiceStatus): Express {
  const app = express();
  app.disable("x-powered-by");
  app.get("/health", (_req, res) => {
    res.json({ status: "ok", service: "chat-service", mode: status.mode(), instanceId: status.instanceId });
  });
  app.get("/ready", (_req, res) => {
    const ready = status.ready();
    res.status(ready ? 200 : 503).json({
      status: ready ? "ready" : "unavailable",
      service: "chat-service",
      mode: status.mode(),
      instanceId: status.instanceId,
    });
  });
  app.use((_req, res) => {
    res.status(404).json({ error: "not found" });
  });
  return app;
}
