import { createServer } from "node:net"

/** A TCP port free on 127.0.0.1 a moment ago (the OS's pick for port 0): for a server a test starts. */
export const freePort = (): Promise<number> =>
  new Promise<number>((resolve, reject) => {
    const s = createServer()
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as { port: number }).port
      s.close(() => resolve(port))
    })
    s.on("error", reject)
  })
