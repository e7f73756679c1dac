// Presents zod issues as one line a person can act on: the field, what was wrong, what is allowed.
import type { z } from 'zod';

export function formatIssues(error: z.ZodError): string {
  return error.issues
    .map((i) => {
      const path = i.path.length ? i.path.join('.') : '(top level)';
      const extra = i.code === 'unrecognized_keys' ? ` (${i.keys.join(', ')})` : '';
      return `${path}: ${i.message}${extra}`;
    })
    .join('; ');
}
