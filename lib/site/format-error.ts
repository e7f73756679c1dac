// One line for any thrown value in an agent's log or a task failure's cause: name and message,
// control characters escaped, bounded; never a stack or "[object Object]".
export function formatError(err: unknown, max = 500): string {
  const e = err as { name?: unknown; message?: unknown };
  const text = err instanceof Error || (e && typeof e.message === 'string') ? `${typeof e.name === 'string' && e.name !== 'Error' ? `${e.name}: ` : ''}${String(e.message)}` : typeof err === 'string' ? err : JSON.stringify(err) ?? 'unknown error';
  // biome-ignore lint: control characters are what is escaped here
  const clean = text.replace(/[\u0000-\u001f\u007f]/g, (c) => (c === '\n' ? ' ' : `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`));
  return clean.length > max ? `${clean.slice(0, max - 3)}...` : clean;
}
