// What a central role that reads site updates may do: each site bucket's updates/ (never data/), and
// for a site in its own account, decrypt with that account's keys only through S3 and only objects
// under updates/ (the key's id is not known here; the site's key policy grants the same and no more).
import { Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import { grantObjectReads } from './object-grants.js';
import type { SiteStorage } from './site-storage.js';

export function grantUpdateReads(grantee: iam.IGrantable, sites: Iterable<SiteStorage>): void {
  for (const storage of sites) {
    grantObjectReads(storage.bucket, grantee, 'updates/*');
    if (!storage.remote) continue;
    grantee.grantPrincipal.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ['kms:Decrypt'],
        resources: [`arn:${Stack.of(storage).partition}:kms:${storage.remote.region}:${storage.remote.account}:key/*`],
        conditions: { StringEquals: { 'kms:ViaService': `s3.${storage.remote.region}.amazonaws.com` }, StringLike: { 'kms:EncryptionContext:aws:s3:arn': storage.bucket.arnForObjects('updates/*') } },
      }),
    );
  }
}
