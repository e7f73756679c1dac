// JSON from a file we do not trust (an update's header, a site's manifest): parsed strictly, with
// duplicate keys refused at any depth. JSON.parse lets the last duplicate win, so two readers could
// see two different documents; momoa's syntax tree keeps every member, so duplicates are visible.
import { parse as parseTree } from '@humanwhocodes/momoa';
import { escapeUntrusted } from './untrusted-text.js';

export type StrictJsonProblem = { code: 'not-json' | 'duplicate-key'; message: string };

type Node = { type: string; members?: { name: { value: string; loc: { start: { line: number; column: number } } }; value: Node }[]; elements?: { value: Node }[] };

function findDuplicate(node: Node, path: string): StrictJsonProblem | undefined {
  if (node.type === 'Object') {
    const seen = new Set<string>();
    for (const m of node.members ?? []) {
      const key = m.name.value;
      if (seen.has(key)) {
        const at = m.name.loc.start;
        return { code: 'duplicate-key', message: `key '${escapeUntrusted(key, 48)}' appears twice in ${path} (line ${at.line}, column ${at.column}); each key must appear once` };
      }
      seen.add(key);
      const inner = findDuplicate(m.value, path === 'the document' ? `object '${escapeUntrusted(key, 48)}'` : `${path}.${escapeUntrusted(key, 48)}`);
      if (inner) return inner;
    }
  } else if (node.type === 'Array') {
    for (const e of node.elements ?? []) {
      const inner = findDuplicate(e.value, path);
      if (inner) return inner;
    }
  }
  return undefined;
}

/** The parsed value, or the problem: not JSON (with its position only: never the text) or a duplicate key. */
export function parseStrictJson(text: string): { ok: true; value: unknown } | { ok: false; problem: StrictJsonProblem } {
  let tree: { body: Node };
  try {
    tree = parseTree(text, { mode: 'json' }) as unknown as { body: Node };
  } catch (err) {
    const e = err as { line?: unknown; column?: unknown };
    const where = typeof e.line === 'number' && typeof e.column === 'number' ? ` at line ${e.line}, column ${e.column}` : '';
    return { ok: false, problem: { code: 'not-json', message: `is not valid JSON${where}` } };
  }
  const dup = findDuplicate(tree.body, 'the document');
  if (dup) return { ok: false, problem: dup };
  // JSON.parse has the last word: momoa lets a few things through that JSON does not (raw control characters in strings)
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch (err) {
    const at = /position (\d+)/.exec((err as Error).message)?.[1];
    return { ok: false, problem: { code: 'not-json', message: `is not valid JSON${at ? ` at character ${at}` : ''}` } };
  }
}
