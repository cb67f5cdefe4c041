import { createConnection, createServer, type Server, type Socket } from "node:net";

/**
 * A TCP proxy on a free port to a target port on 127.0.0.1, that can cut every connection
 * through it and refuse new ones (a network partition for one client), then heal.
 */
export class TcpProxy {
  private readonly sockets = new Set<Socket>();
  private open = true;

  private constructor(
    private readonly server: Server,
    readonly port: number,
  ) {}

  static async start(targetPort: number): Promise<TcpProxy> {
    const self: { proxy?: TcpProxy } = {}; // set once listening
    const server = createServer((client) => {
      const proxy = self.proxy;
      if (!proxy?.open) return client.destroy();
      const upstream = createConnection(targetPort, "127.0.0.1");
      for (const s of [client, upstream]) {
        proxy.sockets.add(s);
        s.on("close", () => proxy.sockets.delete(s));
        s.on("error", () => {});
      }
      client.pipe(upstream).pipe(client);
      client.on("close", () => upstream.destroy());
      upstream.on("close", () => client.destroy());
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    self.proxy = new TcpProxy(server, (server.address() as { port: number }).port);
    return self.proxy;
  }

  cut(): void {
    this.open = false;
    this.sockets.forEach((s) => s.destroy());
  }

  heal(): void {
    this.open = true;
  }

  async stop(): Promise<void> {
    this.cut();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
