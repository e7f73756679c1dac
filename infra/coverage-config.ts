// A federation with a site in every compute mode (central, central with data in the hospital's
// account, site-account, on-premises) and an existingBucket site: `npm run nag` checks it beside the
// configured app, so the hospital's site stack and every optional construct are always checked, and
// test/infra/invariants.test.ts checks its templates.
export const COVERAGE_CONFIG = {
  federation: 'coverage',
  centralAccount: '111111111111',
  region: 'eu-west-2',
  schedule: { expression: 'cron(0 2 ? * SUN *)', timezone: 'Europe/London' },
  notificationEmail: 'ml-ops@example.org',
  sites: [
    { id: 'here', displayName: 'Central site' },
    { id: 'existing', displayName: 'Existing bucket', existingBucket: 'hospital-imaging-archive' },
    { id: 'remote', displayName: 'Data in its account', account: '222222222222' },
    { id: 'own', displayName: 'Trains in its account', account: '333333333333', compute: 'site-account' },
    { id: 'onprem', displayName: 'Trains on its machine', compute: 'on-premises', agentTrustAnchorArn: 'arn:aws:rolesanywhere:eu-west-2:111111111111:trust-anchor/0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0' },
  ],
};
