// Lobby codes: 6 characters of Crockford base32 (no I, L, O, U), normalised
// the way the server does it (signalling_server/ids.py), so a code read aloud
// or typed sloppily still matches.

export const CODE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
export const CODE_LENGTH = 6;

/** The canonical code for what a person typed, or null if it cannot be one. */
export function normaliseCode(text) {
  const code = String(text)
    .toUpperCase()
    .replace(/[ -]/g, "")
    .replace(/[IL]/g, "1")
    .replace(/O/g, "0");
  if (code.length !== CODE_LENGTH) return null;
  for (const char of code) {
    if (!CODE_ALPHABET.includes(char)) return null;
  }
  return code;
}

/** The text after /join/ in a page path ("" when there is none). */
export function codeFromPath(pathname) {
  const match = /^\/join\/([^/]+)\/?$/.exec(pathname);
  if (!match) return "";
  try {
    return decodeURIComponent(match[1]);
  } catch {
    return "";
  }
}
