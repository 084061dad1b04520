/**
 * Credentials out of URLs before they are printed or stored (logs, errors, runs.args, dead
 * letters, cache provenance). Minimal helper for the endpoint client; the harden-ops branch owns
 * the full module under the same name, so a merge keeps one `redactUrl`.
 *
 * `redactUrl` masks `user:password@` and the values of query parameters that carry secrets
 * (key, token, secret, password, signature…). A string that is not a URL is returned with any
 * `scheme://user:pass@` inside it masked, so a message that quotes a URL is safe too.
 */
const SECRET_PARAM = /^(api[-_]?key|key|token|access[-_]?token|secret|password|passwd|pwd|sig|signature|auth|authorization)$/i

export const redactUrl = (url: string): string => {
  try {
    const u = new URL(url)
    if (u.username !== "" || u.password !== "") {
      u.username = "***"
      u.password = ""
    }
    for (const k of [...u.searchParams.keys()]) if (SECRET_PARAM.test(k)) u.searchParams.set(k, "***")
    return u.toString().replace(/\/$/, url.endsWith("/") ? "/" : "")
  } catch {
    return redactUrlsIn(url)
  }
}

/** Masks `scheme://user[:pass]@` in free text (an error message that quotes a URL). */
export const redactUrlsIn = (text: string): string => text.replace(/([a-z][a-z0-9+.-]*:\/\/)[^\s/@:]*(?::[^\s/@]*)?@/gi, "$1***@")
