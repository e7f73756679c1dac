// Text that came from a file (a tensor name, a site id in a manifest, a JSON key) on its way into a
// message, a log line or lineage: control characters, bidi overrides and line separators escaped,
// length bounded. It never forges a log line, moves the cursor, or reorders what a reader sees.

/** C0/C1 controls, DEL, line/paragraph separators, bidi embeddings, overrides, isolates and marks, BOM. */
// biome-ignore lint: the class is the point
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff\ufff9-\ufffb]/g;

const escapeChar = (c: string): string => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`;

/** The text with every unsafe character escaped as \uXXXX, cut at `max` characters (marked with …). */
export function escapeUntrusted(text: string, max = 64): string {
  const cut = [...text]; // code points: a cut never splits a surrogate pair
  const head = cut.length > max ? `${cut.slice(0, max).join('')}…` : text;
  return head.replace(UNSAFE, escapeChar).replace(/[\ud800-\udfff]/g, (c, i: number, s: string) => {
    // lone surrogates (not part of a pair) are escaped too
    const code = c.charCodeAt(0);
    const pairHigh = code < 0xdc00 && i + 1 < s.length && s.charCodeAt(i + 1) >= 0xdc00 && s.charCodeAt(i + 1) <= 0xdfff;
    const pairLow = code >= 0xdc00 && i > 0 && s.charCodeAt(i - 1) >= 0xd800 && s.charCodeAt(i - 1) < 0xdc00;
    return pairHigh || pairLow ? c : escapeChar(c);
  });
}

/** Quoted for a message: 'name'. */
export function quoteUntrusted(text: unknown, max = 64): string {
  if (typeof text !== 'string') return `(${typeof text})`;
  return `'${escapeUntrusted(text, max)}'`;
}

/** True when the text is safe to show as it is (no character that escapeUntrusted would change). */
export function isPlainText(text: string): boolean {
  UNSAFE.lastIndex = 0;
  return !UNSAFE.test(text) && !/[\ud800-\udfff]/.test(text.replace(/[\ud800-\udbff][\udc00-\udfff]/g, ''));
}
