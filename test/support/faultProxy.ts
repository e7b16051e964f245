import { connect, createServer, type Socket } from "node:net";

/**
 * A TCP proxy in front of a real Postgres or Redis whose failure mode a test switches at will, so
 * one spawned app server can see its dependency up, refusing connections (the port is really
 * closed), hung (connections accepted, never answered) and stalled (as hung, and the open
 * connections stay open but carry nothing more: a frozen server or a silent network cut). Switching
 * to any other mode drops every open connection, as a crash or a network cut would.
 */
export type FaultMode = "forward" | "refuse" | "hang" | "stall";

export interface FaultProxy {
  port: number;
  mode: () => FaultMode;
  setMode: (mode: FaultMode) => Promise<void>;
  close: () => Promise<void>;
}

export async function startFaultProxy(target: { host: string; port: number }): Promise<FaultProxy> {
  let mode: FaultMode = "forward";
  const sockets = new Set<Socket>();
  const track = (socket: Socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    socket.on("error", () => socket.destroy());
  };

  const pairs = new Set<[Socket, Socket]>();
  const server = createServer((client) => {
    track(client);
    if (mode === "hang" || mode === "stall") return;
    const upstream = connect(target.port, target.host);
    track(upstream);
    const pair: [Socket, Socket] = [client, upstream];
    pairs.add(pair);
    client.on("close", () => {
      pairs.delete(pair);
      upstream.destroy();
    });
    upstream.on("close", () => client.destroy());
    client.pipe(upstream).pipe(client);
  });
  const stallConnections = () => {
    for (const [client, upstream] of pairs) {
      client.unpipe(upstream);
      upstream.unpipe(client);
      client.pause();
      upstream.pause();
    }
  };

  const listen = (port: number) =>
    new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(port, "127.0.0.1", () => {
        server.off("error", reject);
        resolve();
      });
    });
  const stopListening = () =>
    new Promise<void>((resolve) => {
      if (!server.listening) return resolve();
      server.close(() => resolve());
    });
  const dropConnections = () => {
    for (const socket of sockets) socket.destroy();
  };

  await listen(0);
  const port = (server.address() as { port: number }).port;

  return {
    port,
    mode: () => mode,
    async setMode(next) {
      mode = next;
      if (next === "stall") return stallConnections();
      dropConnections();
      if (next === "refuse") await stopListening();
      else if (!server.listening) await listen(port);
    },
    async close() {
      dropConnections();
      await stopListening();
    },
  };
}
