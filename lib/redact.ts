/**
 * The one place secrets are taken out of text before it is printed or stored (logs, error
 * messages, `runs.args`, `dead_letters.reason`). It knows three shapes of secret:
 *
 * - credentials in a URL (`scheme://user:SECRET@host`, or `scheme://TOKEN@host`): the password (or
 *   the lone user part, often a token) becomes `<redacted>`; the user name and host stay, so a
 *   message still says which server and which account;
 * - secret query parameters (`?api_key=…`, `token=`, `access_token=`, `password=`, `secret=`,
 *   `key=`, `sig=`);
 * - header-like values: `Authorization: Bearer …` / `Basic …`, `api-key: …`, `x-api-key: …`, and a
 *   bare `Bearer …` or `Basic …` (base64 of user:password) as a server may echo it.
 *
 * `redactValue` walks JSON-like values (command arguments) and also blanks fields whose *name*
 * says secret (password, apiKey, token, secret, authorization), and Effect `Redacted` values.
 * Gotcha: this is a safety net for text we do not control (errors of HTTP clients, user flags);
 * secrets we hold ourselves are `Redacted` values and never reach text in the first place.
 */

export const REDACTED = "<redacted>"

// scheme://userinfo@ — userinfo is everything up to the last '@' before the host's path.
const URL_USERINFO = /\b([a-z][a-z0-9+.-]*:\/\/)([^\s/?#@'"<>]*)@/gi
const SECRET_QUERY = /([?&;](?:api[_-]?key|apikey|key|token|access[_-]?token|auth|password|passwd|pwd|secret|client[_-]?secret|sig|signature)=)[^&#\s'"<>]*/gi
const AUTH_HEADER = /\b((?:proxy-)?authorization['"]?\s*[:=]\s*['"]?)(?:(bearer|basic|token|digest)\s+)?[^\s",;}&<]+/gi
const API_KEY_HEADER = /\b((?:x-)?api[-_]?key['"]?\s*[:=]\s*['"]?)[^\s",;}&<]+/gi
const BEARER = /\b(bearer\s+)(?!<redacted>)[A-Za-z0-9\-._~+/]+=*/gi
// Basic credentials are only base64: as good as the password itself.
const BASIC = /\b(basic\s+)(?!<redacted>)[A-Za-z0-9+/]{6,}={0,2}/gi

const userinfo = (_: string, scheme: string, info: string) => {
  if (info === "") return `${scheme}@`
  const colon = info.indexOf(":")
  return colon === -1 ? `${scheme}${REDACTED}@` : `${scheme}${info.slice(0, colon)}:${REDACTED}@`
}

/** Text with every secret it recognises replaced by `<redacted>`. */
export const redact = (text: string): string =>
  text
    .replace(URL_USERINFO, userinfo)
    .replace(SECRET_QUERY, `$1${REDACTED}`)
    .replace(AUTH_HEADER, (_m, head: string, scheme?: string) => `${head}${scheme ? `${scheme} ` : ""}${REDACTED}`)
    .replace(API_KEY_HEADER, `$1${REDACTED}`)
    .replace(BEARER, `$1${REDACTED}`)
    .replace(BASIC, `$1${REDACTED}`)

const SECRET_NAME = /pass(word|wd)?$|secret|token|api[-_]?key|apikey|authorization|credential/i

const isRedacted = (v: object) => Object.prototype.toString.call(v) === "[object Redacted]" || (v as { _tag?: unknown })._tag === "Redacted" ||
  // effect's Redacted prints as "<redacted>": recognise it without importing effect into lib/.
  (typeof (v as { toString?: unknown }).toString === "function" && String(v) === REDACTED)

/** A JSON-like value with secrets redacted: strings through `redact`, secret-named fields blanked. */
export const redactValue = (value: unknown): unknown => {
  if (typeof value === "string") return redact(value)
  if (value === null || typeof value !== "object") return value
  if (isRedacted(value)) return REDACTED
  if (Array.isArray(value)) return value.map(redactValue)
  // Option-like { _tag: "Some", value } and plain records alike.
  const out: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(value)) {
    out[k] = SECRET_NAME.test(k) && v !== undefined && v !== null && v !== false && v !== "" ? REDACTED : redactValue(v)
  }
  return out
}

/**
 * Splits a URL's credentials off: `http://u:p@host/x` → `{ url: "http://host/x", username: "u",
 * password: "p" }`, so a client can send them as a header and the URL it prints holds none.
 * Text that is not a URL comes back unchanged.
 */
export const splitUrlCredentials = (raw: string): { readonly url: string; readonly username?: string; readonly password?: string } => {
  let u: URL
  try {
    u = new URL(raw)
  } catch {
    return { url: raw }
  }
  if (u.username === "" && u.password === "") return { url: raw }
  const username = decodeURIComponent(u.username)
  const password = decodeURIComponent(u.password)
  u.username = ""
  u.password = ""
  // URL.toString adds a '/' to a bare origin: keep the caller's form.
  const url = raw.endsWith("/") || u.pathname !== "/" ? u.toString() : u.toString().replace(/\/$/, "")
  return { url, username, ...(password !== "" ? { password } : {}) }
}

/**
 * One URL with its credentials and secret query values redacted: the name the endpoint client
 * (operators/qa/endpoint) uses; the same rules as `redact`.
 */
export const redactUrl = (url: string): string => redact(url)

/** Free text (an error quoting a URL, a server's answer) with every secret `redact` knows masked. */
export const redactUrlsIn = (text: string): string => redact(text)
