// The isolated network fedrad's jobs and functions run in (central training stack, and a hospital's
// site-account stack): private subnets with no route out, VPC endpoints for the AWS services they use,
// and three controls against a compromised trainer copying data out:
// - the S3 gateway endpoint's policy allows only the federation's buckets (and the AWS buckets ECR
//   layers and AL2023 packages come from), so no object reaches a bucket of another account;
// - interface endpoint policies allow only principals of this account (aws:PrincipalAccount), so
//   credentials brought from elsewhere cannot use them;
// - a Route 53 Resolver DNS Firewall answers only AWS service names (amazonaws.com) and the VPC's own
//   names, and NODATA for every other domain (no DNS tunnelling).
// The endpoints share one security group: HTTPS from the VPC in, nothing out.
import { Stack } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as route53resolver from 'aws-cdk-lib/aws-route53resolver';
import type { Construct } from 'constructs';
import type { LogKey } from './log-key.js';

export type InterfaceService = keyof typeof INTERFACE_SERVICES;
const INTERFACE_SERVICES = {
  EcrApi: ec2.InterfaceVpcEndpointAwsService.ECR,
  EcrDocker: ec2.InterfaceVpcEndpointAwsService.ECR_DOCKER,
  Ecs: ec2.InterfaceVpcEndpointAwsService.ECS,
  EcsAgent: ec2.InterfaceVpcEndpointAwsService.ECS_AGENT,
  EcsTelemetry: ec2.InterfaceVpcEndpointAwsService.ECS_TELEMETRY,
  Logs: ec2.InterfaceVpcEndpointAwsService.CLOUDWATCH_LOGS,
  Sts: ec2.InterfaceVpcEndpointAwsService.STS,
  Kms: ec2.InterfaceVpcEndpointAwsService.KMS,
  XRay: ec2.InterfaceVpcEndpointAwsService.XRAY,
  StepFunctions: ec2.InterfaceVpcEndpointAwsService.STEP_FUNCTIONS,
} as const;

/** Domains the DNS Firewall answers; every other name gets NODATA. */
export const ALLOWED_DOMAINS = ['amazonaws.com', '*.amazonaws.com', '*.compute.internal', '*.ec2.internal'];

export interface IsolatedNetworkProps {
  logKey: LogKey;
  /** interface endpoints, in this order */
  services: InterfaceService[];
  /** bucket ARNs (or names) the S3 gateway endpoint lets through */
  bucketArns: string[];
}

export interface IsolatedNetwork {
  vpc: ec2.Vpc;
  endpointSecurityGroup: ec2.SecurityGroup;
}

/** The VPC ("Vpc" under scope), its endpoints with their policies, and the DNS Firewall. */
export function isolatedNetwork(scope: Construct, props: IsolatedNetworkProps): IsolatedNetwork {
  const stack = Stack.of(scope);
  const vpc = new ec2.Vpc(scope, 'Vpc', {
    maxAzs: 2,
    natGateways: 0,
    subnetConfiguration: [{ name: 'isolated', subnetType: ec2.SubnetType.PRIVATE_ISOLATED, cidrMask: 22 }],
    flowLogs: { all: { trafficType: ec2.FlowLogTrafficType.ALL, destination: ec2.FlowLogDestination.toCloudWatchLogs(props.logKey.logGroup(scope, 'FlowLogs')) } },
  });
  const s3 = vpc.addGatewayEndpoint('S3', { service: ec2.GatewayVpcEndpointAwsService.S3 });
  const anyone = [new iam.AnyPrincipal()];
  const objects = (arn: string) => [arn, `${arn}/*`];
  s3.addToPolicy(new iam.PolicyStatement({ sid: 'FederationBucketsOnly', principals: anyone, actions: ['s3:GetObject', 's3:GetObjectVersion', 's3:PutObject', 's3:ListBucket', 's3:AbortMultipartUpload', 's3:ListMultipartUploadParts'], resources: props.bucketArns.flatMap(objects) }));
  // ECR image layers, and the AL2023 package repositories of the GPU hosts: AWS-owned buckets, read only
  s3.addToPolicy(new iam.PolicyStatement({ sid: 'AwsImageLayersAndPackages', principals: anyone, actions: ['s3:GetObject'], resources: [`arn:${stack.partition}:s3:::prod-${stack.region}-starport-layer-bucket/*`, `arn:${stack.partition}:s3:::al2023-repos-${stack.region}-de612dc2/*`] }));
  const endpointSecurityGroup = new ec2.SecurityGroup(scope, 'EndpointSecurityGroup', { vpc, description: 'fedrad VPC endpoints: HTTPS from the VPC', allowAllOutbound: false });
  endpointSecurityGroup.addIngressRule(ec2.Peer.ipv4(vpc.vpcCidrBlock), ec2.Port.tcp(443), 'HTTPS from the VPC');
  for (const name of props.services) {
    const endpoint = vpc.addInterfaceEndpoint(name, { service: INTERFACE_SERVICES[name], subnets: { subnetType: ec2.SubnetType.PRIVATE_ISOLATED }, securityGroups: [endpointSecurityGroup], open: false });
    endpoint.addToPolicy(new iam.PolicyStatement({ sid: 'ThisAccountsPrincipalsOnly', principals: anyone, actions: ['*'], resources: ['*'], conditions: { StringEquals: { 'aws:PrincipalAccount': stack.account } } }));
  }
  const allow = new route53resolver.CfnFirewallDomainList(scope, 'DnsAllowed', { domains: ALLOWED_DOMAINS });
  const everything = new route53resolver.CfnFirewallDomainList(scope, 'DnsEverything', { domains: ['*'] });
  const group = new route53resolver.CfnFirewallRuleGroup(scope, 'DnsFirewall', {
    firewallRules: [
      { action: 'ALLOW', firewallDomainListId: allow.attrId, priority: 100 },
      { action: 'BLOCK', blockResponse: 'NODATA', firewallDomainListId: everything.attrId, priority: 200 },
    ],
  });
  new route53resolver.CfnFirewallRuleGroupAssociation(scope, 'DnsFirewallAssociation', { firewallRuleGroupId: group.attrId, vpcId: vpc.vpcId, priority: 101, mutationProtection: 'ENABLED' });
  return { vpc, endpointSecurityGroup };
}
