import { createServer, type Server } from "node:http"
import type { AddressInfo } from "node:net"
import type { ChatMessage } from "../../operators/qa/judge/judge.ts"

export type Complete = (messages: ReadonlyArray<ChatMessage>, options: { readonly model: string; readonly maxTokens: number }) => Promise<string>

/**
 * A minimal OpenAI-compatible server (POST /v1/chat/completions, GET /v1/models) in front of any
 * completion function: fleuve's local model, so other tools can use it as a judge or generator.
 */
export const serveOpenAiCompatible = (complete: Complete, options: { readonly port?: number; readonly host?: string; readonly model?: string } = {}) =>
  new Promise<{ readonly server: Server; readonly url: string; readonly close: () => Promise<void> }>((resolveServer, reject) => {
    const server = createServer((req, res) => {
      const reply = (status: number, body: unknown) => {
        res.writeHead(status, { "content-type": "application/json" })
        res.end(JSON.stringify(body))
      }
      if (req.method === "GET" && req.url === "/v1/models") return reply(200, { object: "list", data: [{ id: options.model ?? "fleuve-local", object: "model" }] })
      if (req.method !== "POST" || req.url !== "/v1/chat/completions") return reply(404, { error: { message: `no route ${req.method} ${req.url}` } })
      const chunks: Array<Buffer> = []
      req.on("data", (c: Buffer) => chunks.push(c))
      req.on("end", () => {
        let body: { model?: string; messages?: Array<ChatMessage>; max_tokens?: number }
        try {
          body = JSON.parse(Buffer.concat(chunks).toString("utf8"))
        } catch (e) {
          return reply(400, { error: { message: `malformed JSON: ${(e as Error).message}` } })
        }
        if (!Array.isArray(body.messages)) return reply(400, { error: { message: "'messages' must be a list" } })
        const model = body.model ?? options.model ?? "fleuve-local"
        complete(body.messages, { model, maxTokens: body.max_tokens ?? 256 }).then(
          (content) =>
            reply(200, {
              id: `chatcmpl-${Date.now()}`,
              object: "chat.completion",
              created: Math.floor(Date.now() / 1000),
              model,
              choices: [{ index: 0, message: { role: "assistant", content }, finish_reason: "stop" }]
            }),
          (e) => reply(500, { error: { message: String(e) } })
        )
      })
    })
    server.on("error", reject)
    server.listen(options.port ?? 0, options.host ?? "127.0.0.1", () => {
      const { port } = server.address() as AddressInfo
      resolveServer({ server, url: `http://${options.host ?? "127.0.0.1"}:${port}`, close: () => new Promise((r) => server.close(() => r())) })
    })
  })
