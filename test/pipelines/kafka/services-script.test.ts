import assert from "node:assert/strict"
import { spawnSync } from "node:child_process"
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { createServer, type Server } from "node:net"
import { tmpdir } from "node:os"
import { join, resolve } from "node:path"
import { after, before, describe, it } from "node:test"
import { freePort } from "../../helpers/ports.ts"

// scripts/services/kafka.sh refuses to start where its ports are already taken, rather than take
// another process's answer for its own broker's: run from a copy in a scratch root (its own
// .services, a cache marked complete so that nothing is fetched), it must fail before any JVM
// starts, naming the port.
const root = resolve(import.meta.dirname, "../../..")

/** A port held open (connections closed at once) until the test closes it. */
const listen = (): Promise<Server> =>
  new Promise((ok, ko) => {
    const server = createServer((socket) => socket.destroy())
    server.once("error", ko)
    server.listen(0, "127.0.0.1", () => ok(server))
  })
const portOf = (server: Server) => (server.address() as { port: number }).port

describe("kafka.sh with its ports taken", () => {
  let scratch = ""
  let taken: Server
  before(async () => {
    scratch = mkdtempSync(join(tmpdir(), "fleuve-kafka-sh-"))
    mkdirSync(join(scratch, "scripts/services"), { recursive: true })
    copyFileSync(join(root, "scripts/services/kafka.sh"), join(scratch, "scripts/services/kafka.sh"))
    for (const dir of ["libs", "registry"]) {
      mkdirSync(join(scratch, ".cache/kafka", dir), { recursive: true })
      writeFileSync(join(scratch, ".cache/kafka", dir, ".complete"), "")
    }
    taken = await listen()
  })
  after(async () => {
    await new Promise((ok) => taken.close(ok))
    rmSync(scratch, { recursive: true, force: true })
  })

  const start = (env: Record<string, string>) =>
    spawnSync("bash", [join(scratch, "scripts/services/kafka.sh"), "start"], { encoding: "utf8", env: { ...process.env, ...env }, timeout: 60_000 })

  it("the broker's port: exits non-zero naming it, and starts nothing", async () => {
    const port = portOf(taken)
    const r = start({ FLEUVE_KAFKA_PORT: String(port), FLEUVE_REGISTRY_PORT: String(await freePort()) })
    assert.notEqual(r.status, 0, r.stderr)
    assert.match(r.stderr, new RegExp(`127\\.0\\.0\\.1:${port} \\(for the Kafka broker\\) is already taken`))
    assert.match(r.stderr, /FLEUVE_KAFKA_PORT/)
    assert.equal(existsSync(join(scratch, ".services/kafka/broker.pid")), false, "no broker was started")
    assert.equal(existsSync(join(scratch, ".services/kafka/registry.pid")), false, "no registry was started")
  })

  it("a port that is not a number: exits naming the variable, and starts nothing", () => {
    const r = start({ FLEUVE_KAFKA_PORT: "19O92" })
    assert.equal(r.status, 2, r.stderr)
    assert.match(r.stderr, /FLEUVE_KAFKA_PORT is '19O92', not a port number/)
    assert.equal(existsSync(join(scratch, ".services/kafka/broker.pid")), false, "no broker was started")
  })

  it("the registry's port: the same", async () => {
    const port = portOf(taken)
    // the broker's two ports free: port and port + 1
    let broker = await freePort()
    while (broker + 1 === port || broker === port) broker = await freePort()
    const r = start({ FLEUVE_KAFKA_PORT: String(broker), FLEUVE_REGISTRY_PORT: String(port) })
    assert.notEqual(r.status, 0, r.stderr)
    assert.match(r.stderr, new RegExp(`127\\.0\\.0\\.1:${port} \\(for the schema registry\\) is already taken`))
    assert.equal(existsSync(join(scratch, ".services/kafka/broker.pid")), false, "no broker was started")
  })
})
