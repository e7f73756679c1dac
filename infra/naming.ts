// Names both sides of a cross-account site must agree on without looking each other up: the
// hospital's stack trusts central roles by name, and the central stack reaches the hospital's
// bucket and role by name. IAM role names stop at 64 characters, bucket names at 63; a longer
// name keeps its start and gets a short hash of the whole, so it stays unique and deterministic.
import { createHash } from 'node:crypto';

function bounded(name: string, max: number): string {
  if (name.length <= max) return name;
  const hash = createHash('sha256').update(name).digest('hex').slice(0, 8);
  return `${name.slice(0, max - 9).replace(/-+$/, '')}-${hash}`;
}

/** The central account's training-job role of a cross-account site (the hospital's role trusts it). */
export const siteJobRoleName = (federation: string, siteId: string) => bounded(`fedrad-${federation}-${siteId}-job`, 64);

/** The central roles that read updates/ from a cross-account site's bucket: the gate, the aggregation
 * function and the aggregation Batch job. */
export type UpdateReader = 'validate-update' | 'aggregate-round' | 'aggregate-job';
export const UPDATE_READERS: readonly UpdateReader[] = ['validate-update', 'aggregate-round', 'aggregate-job'];
export const updateReaderRoleName = (federation: string, reader: UpdateReader) => bounded(`fedrad-${federation}-${reader}`, 64);

/** The role in the hospital's account that the site's training job assumes. */
export const siteAccessRoleName = (federation: string, siteId: string) => bounded(`fedrad-${federation}-${siteId}-site-access`, 64);

/** The site bucket in the hospital's account (account id and region keep it globally unique). */
export const siteAccountBucketName = (federation: string, siteId: string, account: string, region: string) => bounded(`fedrad-${federation}-${siteId}-${account}-${region}`, 63);

/** The round machine and its role: a hospital running its site's training in its own account trusts
 * this role by name, and only when Step Functions passes this machine's ARN as the external id. */
export const roundMachineName = (federation: string) => bounded(`fedrad-${federation}-round`, 80);
export const roundMachineRoleName = (federation: string) => bounded(`fedrad-${federation}-round-machine`, 64);

/** A site-account site's Batch names in the hospital's account (the central stack addresses them by ARN). */
export const siteJobQueueName = (federation: string, siteId: string) => bounded(`fedrad-${federation}-${siteId}-training`, 128);
export const siteJobDefinitionName = (federation: string, siteId: string) => bounded(`fedrad-${federation}-${siteId}-train`, 128);
/** The hospital's role the round machine assumes to submit, watch and stop that site's jobs. */
export const siteSubmitRoleName = (federation: string, siteId: string) => bounded(`fedrad-${federation}-${siteId}-submit`, 64);

/** An on-premises site's agent role in the central account (IAM Roles Anywhere hands it to the host). */
export const siteAgentRoleName = (federation: string, siteId: string) => bounded(`fedrad-${federation}-${siteId}-agent`, 64);

/** The break-glass role that alone, besides the site's training role, may read a site's data/ (docs/compliance.md). */
export const breakGlassRoleName = (federation: string) => bounded(`fedrad-${federation}-break-glass`, 64);

/** What a site's trainer writes, and nothing else under updates/ (lib/storage/keys.ts). */
export const UPDATE_OBJECTS = ['updates/runs/*/rounds/*/update.safetensors', 'updates/runs/*/rounds/*/manifest.json', 'updates/runs/*/rounds/*/refusal.json'] as const;
