// A site-account site's training job reads the round's global model from the central models bucket
// (rather than the round machine pushing a copy into the hospital's bucket, which would need a
// central role that writes there). The grant names the hospital's job role by ARN in a condition on
// that account, so the central stack deploys before the role exists; nothing else of the bucket.
import { Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type * as s3 from 'aws-cdk-lib/aws-s3';

export function grantGlobalModelReads(bucket: s3.Bucket, key: kms.Key, account: string, roleName: string): void {
  const stack = Stack.of(bucket);
  const principalArn = `arn:${stack.partition}:iam::${account}:role/${roleName}`;
  const principals = [new iam.AccountPrincipal(account)];
  const onlyThatRole = { ArnEquals: { 'aws:PrincipalArn': principalArn } };
  bucket.addToResourcePolicy(new iam.PolicyStatement({ sid: `GlobalModelsFor${roleName.replace(/[^A-Za-z0-9]/g, '')}`, principals, actions: ['s3:GetObject'], resources: [bucket.arnForObjects('runs/*/rounds/*/global.onnx')], conditions: onlyThatRole }));
  key.addToResourcePolicy(
    new iam.PolicyStatement({ sid: `GlobalModelsDecryptFor${roleName.replace(/[^A-Za-z0-9]/g, '')}`, principals, actions: ['kms:Decrypt'], resources: ['*'], conditions: { ...onlyThatRole, StringEquals: { 'kms:ViaService': `s3.${stack.region}.amazonaws.com` } } }),
  );
}
