// Structured logs and CloudWatch metrics (embedded metric format) for the functions, built once per
// container. `fedrad simulate` quiets both (POWERTOOLS_LOG_LEVEL, POWERTOOLS_METRICS_DISABLED).
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';

export const logger = new Logger({ serviceName: process.env.POWERTOOLS_SERVICE_NAME ?? 'fedrad' });
export const metrics = new Metrics({ namespace: process.env.POWERTOOLS_METRICS_NAMESPACE ?? 'fedrad', serviceName: 'fedrad' });
export { MetricUnit };
