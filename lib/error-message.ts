/** The message of anything thrown or failed with: an Error's, a tagged error's `message`, else its string form. */
export const messageOf = (e: unknown): string =>
  e instanceof Error ? e.message : typeof e === "object" && e !== null && "message" in e ? String((e as { message: unknown }).message) : String(e)
