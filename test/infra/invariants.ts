// Security invariants over synthesized CloudFormation templates (docs/compliance.md, threat table).
// Each rule looks at every template it is given, and returns the violations it finds as lines
// "<rule> <stack>/<logicalId>: <what>". The rules read templates only (no CDK objects), so a
// policy added by any construct, or by hand, is checked the same way.
export type Template = { Resources?: Record<string, { Type: string; Properties?: Record<string, any> }> };
export type Templates = Record<string, Template>;
type Statement = { Sid?: string; Effect: string; Action?: string | string[]; NotAction?: unknown; Resource?: unknown; Principal?: any; Condition?: Record<string, Record<string, unknown>> };

const list = <T>(x: T | T[] | undefined): T[] => (x === undefined ? [] : Array.isArray(x) ? x : [x]);

/** An intrinsic flattened to text: Ref and GetAtt become <Id> and <Id.Attr>, joins are joined. */
export function flat(value: unknown): string {
  if (typeof value === 'string') return value;
  if (Array.isArray(value)) return value.map(flat).join(',');
  if (value && typeof value === 'object') {
    const o = value as Record<string, any>;
    if ('Ref' in o) return `<${o.Ref}>`;
    if ('Fn::GetAtt' in o) return `<${list(o['Fn::GetAtt']).join('.')}>`;
    if ('Fn::ImportValue' in o) return `<import:${flat(o['Fn::ImportValue'])}>`;
    if ('Fn::Join' in o) return (o['Fn::Join'][1] as unknown[]).map(flat).join(o['Fn::Join'][0]);
    if ('Fn::Sub' in o) return flat(list(o['Fn::Sub'])[0]);
    return JSON.stringify(o);
  }
  return String(value);
}

/** Does the IAM action pattern (with * and ?) cover this action? */
export function covers(pattern: string, action: string): boolean {
  const re = new RegExp(`^${pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`, 'i');
  return re.test(action);
}
const actionsOf = (s: Statement) => list(s.Action as string | string[] | undefined);
const grantsAny = (s: Statement, wanted: string[]) => s.Effect === 'Allow' && (actionsOf(s).some((a) => wanted.some((w) => covers(a, w))) || s.NotAction !== undefined);
const conditionKeys = (s: Statement) => Object.values(s.Condition ?? {}).flatMap((c) => Object.keys(c).map((k) => k.toLowerCase()));
const resources = (s: Statement) => list(s.Resource).map(flat);

interface Doc {
  stack: string;
  id: string;
  type: string;
  kind: 'identity' | 'trust' | 'resource';
  statements: Statement[];
}

/** Every policy document in the templates: identity policies, trust policies and resource policies. */
export function policyDocuments(templates: Templates): Doc[] {
  const docs: Doc[] = [];
  for (const [stack, t] of Object.entries(templates)) {
    for (const [id, r] of Object.entries(t.Resources ?? {})) {
      const p = r.Properties ?? {};
      const push = (kind: Doc['kind'], doc: unknown) => doc && docs.push({ stack, id, type: r.Type, kind, statements: list((doc as { Statement?: Statement | Statement[] }).Statement) });
      if (r.Type === 'AWS::IAM::Policy' || r.Type === 'AWS::IAM::ManagedPolicy') push('identity', p.PolicyDocument);
      if (r.Type === 'AWS::IAM::Role') {
        push('trust', p.AssumeRolePolicyDocument);
        for (const inline of list(p.Policies as Array<{ PolicyDocument: unknown }>)) push('identity', inline.PolicyDocument);
      }
      if (r.Type === 'AWS::KMS::Key') push('resource', p.KeyPolicy);
      if (['AWS::S3::BucketPolicy', 'AWS::SNS::TopicPolicy', 'AWS::SQS::QueuePolicy', 'AWS::EC2::VPCEndpoint'].includes(r.Type)) push('resource', p.PolicyDocument);
    }
  }
  return docs;
}

const READS = ['s3:GetObject', 'kms:Decrypt'];
/** Policies that filter rather than grant ("*" in a key policy is the key itself; an endpoint policy only narrows what IAM allows): checked by their own rules. */
const GUARDS = ['AWS::KMS::Key', 'AWS::EC2::VPCEndpoint'];
const isEverything = (resource: string) => resource === '*' || /^arn:[^:]*:s3:::\*/.test(resource) || /^arn:[^:<>]*:kms:\*/.test(resource);

/** Principals of a statement as text ("*" for anyone). */
function principals(s: Statement): string[] {
  const p = s.Principal;
  if (p === undefined) return [];
  if (p === '*') return ['*'];
  return Object.entries(p as Record<string, unknown>).flatMap(([kind, v]) => list(v as unknown).map((x) => `${kind}:${flat(x)}`));
}
const isAccountWide = (principal: string) => principal === '*' || principal === 'AWS:*' || /^AWS:(\d{12}|.*:root)$/.test(principal) || /^AWS:arn:[^:]*:iam::[^:]*:root$/.test(principal);
const pinsPrincipal = (s: Statement) => conditionKeys(s).some((k) => k === 'aws:principalarn');

type Resource = { stack: string; id: string; type: string; props: Record<string, any> };
function resourcesOf(templates: Templates, type: string): Resource[] {
  return Object.entries(templates).flatMap(([stack, t]) => Object.entries(t.Resources ?? {}).filter(([, r]) => r.Type === type).map(([id, r]) => ({ stack, id, type, props: r.Properties ?? {} })));
}

/** A site bucket: encrypted with a site key (a key with an alias alias/fedrad/<federation>/<site>, not .../models). */
function siteBuckets(templates: Templates): Resource[] {
  const siteKeys = new Set(resourcesOf(templates, 'AWS::KMS::Alias').filter((a) => /^alias\/fedrad\/[^/]+\/[^/]+$/.test(flat(a.props.AliasName)) && !flat(a.props.AliasName).endsWith('/models')).map((a) => `${a.stack}/${/^<([^.>]+)/.exec(flat(a.props.TargetKeyId))?.[1]}`));
  return resourcesOf(templates, 'AWS::S3::Bucket').filter((b) => siteKeys.has(`${b.stack}/${keyOfBucket(b)}`));
}
function keyOfBucket(b: Resource): string | undefined {
  const enc = list(b.props.BucketEncryption?.ServerSideEncryptionConfiguration)[0] as { ServerSideEncryptionByDefault?: { KMSMasterKeyID?: unknown } };
  const ref = flat(enc?.ServerSideEncryptionByDefault?.KMSMasterKeyID);
  return /^<([^.>]+)/.exec(ref)?.[1];
}
const policyOfBucket = (templates: Templates, b: Resource) => resourcesOf(templates, 'AWS::S3::BucketPolicy').find((p) => p.stack === b.stack && flat(p.props.Bucket) === `<${b.id}>`);

export type Rule = { name: string; description: string; check: (templates: Templates) => string[] };

export const RULES: Rule[] = [
  {
    name: 'no-wildcard-read',
    description: 'No Allow of s3:GetObject or kms:Decrypt (or a wildcard covering them) on every resource, in any identity or resource policy.',
    check: (templates) =>
      policyDocuments(templates)
        .filter((d) => d.kind === 'identity' || (d.kind === 'resource' && !GUARDS.includes(d.type)))
        .flatMap((d) => d.statements.filter((s) => grantsAny(s, READS) && resources(s).some(isEverything)).map((s) => `${d.stack}/${d.id}: allows ${actionsOf(s).join(',')} on ${resources(s).join(',')}`)),
  },
  {
    name: 'site-key-decrypt-pinned',
    description: "A site key's policy lets no account-wide principal (root, *) decrypt or administer everything (kms:*): decrypt goes to named roles (aws:PrincipalArn) only.",
    check: (templates) =>
      siteBuckets(templates).flatMap((b) => {
        const keyId = keyOfBucket(b);
        const key = keyId && templates[b.stack].Resources?.[keyId];
        if (!key) return [`${b.stack}/${b.id}: site bucket without a key of its stack`];
        return list((key.Properties?.KeyPolicy as { Statement: Statement[] }).Statement)
          .filter((s) => s.Effect === 'Allow' && (actionsOf(s).some((a) => a === '*' || a === 'kms:*') || (grantsAny(s, ['kms:Decrypt']) && principals(s).some(isAccountWide) && !pinsPrincipal(s))))
          .map((s) => `${b.stack}/${keyId}: allows ${actionsOf(s).join(',')} to ${principals(s).join(',')}${pinsPrincipal(s) ? '' : ' without aws:PrincipalArn'}`);
      }),
  },
  {
    name: 'site-data-denied-to-others',
    description: "Every site bucket's policy denies reading data/* to every principal but an allowlist (aws:PrincipalArn), and denies listing data/ likewise.",
    check: (templates) =>
      siteBuckets(templates).flatMap((b) => {
        const policy = policyOfBucket(templates, b);
        const statements = list(policy?.props.PolicyDocument?.Statement as Statement[] | undefined);
        const deny = statements.find((s) => s.Effect === 'Deny' && principals(s).some((p) => p === '*' || p === 'AWS:*') && actionsOf(s).some((a) => covers(a, 's3:GetObject')) && resources(s).some((r) => r.endsWith('/data/*')) && Object.keys(s.Condition ?? {}).some((op) => /^Arn(Not)?(Equals|Like)$/.test(op) && op.includes('Not')) && pinsPrincipal(s));
        const listDeny = statements.find((s) => s.Effect === 'Deny' && actionsOf(s).some((a) => covers(a, 's3:ListBucket')) && pinsPrincipal(s) && conditionKeys(s).includes('s3:prefix'));
        return [...(deny ? [] : [`${b.stack}/${b.id}: no Deny of data/* reads to principals outside an allowlist`]), ...(listDeny ? [] : [`${b.stack}/${b.id}: no Deny of listing data/ to principals outside an allowlist`])];
      }),
  },
  {
    name: 'site-reads-recorded',
    description: "Every site bucket's object reads and writes are S3 data events of a CloudTrail trail in its stack.",
    check: (templates) =>
      siteBuckets(templates).flatMap((b) => {
        const recorded = resourcesOf(templates, 'AWS::CloudTrail::Trail')
          .filter((t) => t.stack === b.stack)
          .flatMap((t) => list(t.props.EventSelectors as Array<{ ReadWriteType?: string; DataResources?: Array<{ Type: string; Values: unknown[] }> }>).filter((e) => (e.ReadWriteType ?? 'All') === 'All'))
          .flatMap((e) => list(e.DataResources).filter((d) => d.Type === 'AWS::S3::Object').flatMap((d) => list(d.Values).map(flat)));
        return recorded.some((v) => v.includes(`<${b.id}.Arn>`)) ? [] : [`${b.stack}/${b.id}: no CloudTrail data events`];
      }),
  },
  {
    name: 'list-with-prefix',
    description: 'Every Allow of s3:ListBucket (or a wildcard covering it) carries an s3:prefix condition.',
    check: (templates) =>
      policyDocuments(templates)
        .filter((d) => d.kind === 'identity' || d.type === 'AWS::S3::BucketPolicy')
        .flatMap((d) => d.statements.filter((s) => grantsAny(s, ['s3:ListBucket']) && !conditionKeys(s).includes('s3:prefix')).map((s) => `${d.stack}/${d.id}: allows ${actionsOf(s).join(',')} on ${resources(s).join(',')} without s3:prefix`)),
  },
  {
    name: 'no-governance-bypass',
    description: 'No principal is allowed s3:BypassGovernanceRetention, and every Object Lock bucket denies it to everyone.',
    check: (templates) => [
      ...policyDocuments(templates).flatMap((d) => d.statements.filter((s) => s.Effect === 'Allow' && actionsOf(s).some((a) => a !== 's3:*' && a !== '*' && covers(a, 's3:BypassGovernanceRetention'))).map((s) => `${d.stack}/${d.id}: allows ${actionsOf(s).join(',')}`)),
      ...resourcesOf(templates, 'AWS::S3::Bucket')
        .filter((b) => b.props.ObjectLockEnabled)
        .filter((b) => !list(policyOfBucket(templates, b)?.props.PolicyDocument?.Statement as Statement[] | undefined).some((s) => s.Effect === 'Deny' && actionsOf(s).includes('s3:BypassGovernanceRetention') && principals(s).some((p) => p === '*' || p === 'AWS:*') && !s.Condition))
        .map((b) => `${b.stack}/${b.id}: Object Lock bucket without a Deny of s3:BypassGovernanceRetention`),
    ],
  },
  {
    name: 'no-delete-on-models',
    description: 'No principal may delete objects (or versions) of the models bucket.',
    check: (templates) => {
      const models = resourcesOf(templates, 'AWS::S3::Bucket').filter((b) => b.props.ObjectLockEnabled).map((b) => b.id);
      return policyDocuments(templates).flatMap((d) =>
        d.statements
          .filter((s) => grantsAny(s, ['s3:DeleteObject', 's3:DeleteObjectVersion']) && resources(s).some((r) => models.some((m) => r.includes(`<${m}.Arn>`) || r.includes(`${m}Arn`))))
          .map((s) => `${d.stack}/${d.id}: allows ${actionsOf(s).join(',')} on the models bucket`),
      );
    },
  },
  {
    name: 'submit-job-named',
    description: 'batch:SubmitJob names job definitions (no job-definition/* or *).',
    check: (templates) =>
      policyDocuments(templates).filter((d) => d.type !== 'AWS::EC2::VPCEndpoint').flatMap((d) =>
        d.statements.filter((s) => grantsAny(s, ['batch:SubmitJob']) && resources(s).some((r) => r === '*' || /job-definition\/\*$/.test(r))).map((s) => `${d.stack}/${d.id}: batch:SubmitJob on ${resources(s).join(',')}`),
      ),
  },
  {
    name: 'service-grants-scoped',
    description: 'Key, topic and queue policies grant AWS services only with aws:SourceAccount or aws:SourceArn (CloudWatch Logs: the log-group encryption context of this account).',
    check: (templates) =>
      policyDocuments(templates)
        .filter((d) => d.kind === 'resource' && d.type !== 'AWS::EC2::VPCEndpoint')
        .flatMap((d) => d.statements.filter((s) => s.Effect === 'Allow' && principals(s).some((p) => p.startsWith('Service:')) && !conditionKeys(s).some((k) => k === 'aws:sourcearn' || k === 'aws:sourceaccount' || k === 'kms:encryptioncontext:aws:logs:arn')).map((s) => `${d.stack}/${d.id}: ${principals(s).join(',')} allowed ${actionsOf(s).join(',')} without aws:SourceAccount/aws:SourceArn`)),
  },
  {
    name: 'cross-account-trust-external-id',
    description: 'A role trusted by an AWS principal requires sts:ExternalId (a person assuming the break-glass role: MFA instead).',
    check: (templates) =>
      policyDocuments(templates)
        .filter((d) => d.kind === 'trust')
        .flatMap((d) => d.statements.filter((s) => s.Effect === 'Allow' && principals(s).some((p) => p.startsWith('AWS:')) && !conditionKeys(s).includes('sts:externalid') && !conditionKeys(s).includes('aws:multifactorauthpresent')).map((s) => `${d.stack}/${d.id}: trusted by ${principals(s).join(',')} without sts:ExternalId`)),
  },
  {
    name: 'endpoint-policies',
    description: 'Every VPC endpoint has a policy, and none allows every resource without pinning the account (aws:ResourceAccount).',
    check: (templates) =>
      resourcesOf(templates, 'AWS::EC2::VPCEndpoint').flatMap((e) => {
        if (!e.props.PolicyDocument) return [`${e.stack}/${e.id}: ${flat(e.props.ServiceName)} has no endpoint policy`];
        return list(e.props.PolicyDocument.Statement as Statement[])
          .filter((s) => s.Effect === 'Allow' && resources(s).some(isEverything) && !conditionKeys(s).some((k) => k === 'aws:resourceaccount' || k === 'aws:principalaccount'))
          .map((s) => `${e.stack}/${e.id}: allows ${actionsOf(s).join(',')} on ${resources(s).join(',')} in any account`);
      }),
  },
  {
    name: 'jobs-hardened',
    description: 'Every Batch job definition runs as a non-root user with a read-only root filesystem.',
    check: (templates) =>
      resourcesOf(templates, 'AWS::Batch::JobDefinition').flatMap((j) => {
        const c = j.props.ContainerProperties ?? {};
        const out: string[] = [];
        if (c.ReadonlyRootFilesystem !== true) out.push(`${j.stack}/${j.id}: root filesystem is writable`);
        if (!c.User || /^(root|0)(:|$)/.test(String(c.User))) out.push(`${j.stack}/${j.id}: runs as ${c.User ?? 'the image default (root)'}`);
        return out;
      }),
  },
  {
    name: 'gpu-hosts-launch-template',
    description: 'Every EC2 compute environment launches from a template requiring IMDSv2 with hop limit 1 and encrypted EBS.',
    check: (templates) =>
      resourcesOf(templates, 'AWS::Batch::ComputeEnvironment')
        .filter((c) => ['EC2', 'SPOT'].includes(c.props.ComputeResources?.Type))
        .flatMap((c) => {
          const ref = /^<([^.>]+)/.exec(flat(c.props.ComputeResources.LaunchTemplate?.LaunchTemplateId))?.[1];
          const lt = ref ? templates[c.stack].Resources?.[ref]?.Properties?.LaunchTemplateData : undefined;
          if (!lt) return [`${c.stack}/${c.id}: no launch template`];
          const out: string[] = [];
          if (lt.MetadataOptions?.HttpTokens !== 'required') out.push(`${c.stack}/${ref}: IMDSv2 not required`);
          if (lt.MetadataOptions?.HttpPutResponseHopLimit !== 1) out.push(`${c.stack}/${ref}: IMDS hop limit is not 1`);
          const devices = list(lt.BlockDeviceMappings as Array<{ Ebs?: { Encrypted?: boolean } }>);
          if (!devices.length || devices.some((d) => d.Ebs?.Encrypted !== true)) out.push(`${c.stack}/${ref}: EBS not encrypted`);
          return out;
        }),
  },
  {
    name: 'egress-restricted',
    description: 'No security group allows all traffic to anywhere.',
    check: (templates) => [
      ...resourcesOf(templates, 'AWS::EC2::SecurityGroup').flatMap((g) => list(g.props.SecurityGroupEgress as Array<Record<string, unknown>>).filter((e) => e.CidrIp === '0.0.0.0/0' && String(e.IpProtocol) === '-1').map(() => `${g.stack}/${g.id}: all egress to 0.0.0.0/0`)),
      ...resourcesOf(templates, 'AWS::EC2::SecurityGroupEgress').filter((e) => e.props.CidrIp === '0.0.0.0/0' && String(e.props.IpProtocol) === '-1').map((e) => `${e.stack}/${e.id}: all egress to 0.0.0.0/0`),
    ],
  },
  {
    name: 'dns-firewall',
    description: 'Every VPC is associated with a Route 53 Resolver DNS Firewall rule group that blocks every domain but AWS service domains.',
    check: (templates) =>
      resourcesOf(templates, 'AWS::EC2::VPC').flatMap((v) => {
        const assoc = resourcesOf(templates, 'AWS::Route53Resolver::FirewallRuleGroupAssociation').find((a) => a.stack === v.stack && flat(a.props.VpcId) === `<${v.id}>`);
        if (!assoc) return [`${v.stack}/${v.id}: no DNS Firewall`];
        const group = templates[v.stack].Resources?.[/^<([^.>]+)/.exec(flat(assoc.props.FirewallRuleGroupId))?.[1] ?? '']?.Properties;
        const rules = list(group?.FirewallRules as Array<{ Action: string; Priority: number; FirewallDomainListId: unknown }>).sort((a, b) => a.Priority - b.Priority);
        const last = rules.at(-1);
        const lastList = last && templates[v.stack].Resources?.[/^<([^.>]+)/.exec(flat(last.FirewallDomainListId))?.[1] ?? '']?.Properties;
        if (!last || last.Action !== 'BLOCK' || !list(lastList?.Domains).includes('*')) return [`${v.stack}/${v.id}: the DNS Firewall does not block every other domain`];
        return [];
      }),
  },
];

/** Every violation of every rule, or [] when the templates hold all invariants. */
export function violations(templates: Templates): string[] {
  return RULES.flatMap((r) => r.check(templates).map((v) => `${r.name} ${v}`));
}
