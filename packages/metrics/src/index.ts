export {
  createMetrics,
  DEFAULT_MAX_BUFFERED_POINTS,
  DEFAULT_PUBLISH_INTERVAL_MS,
  MAX_POINT_AGE_MS,
  PERMANENT_ERROR_LOG_INTERVAL_MS,
} from './metrics.js';
export type {
  CounterName,
  GaugeReading,
  Metrics,
  MetricsLastError,
  MetricsOptions,
  MetricsSnapshot,
  PublishResult,
} from './metrics.js';
export { ALARM_RULES, alarmName, applyAlarms, UPLOADS_PAUSED_ALARM_SECONDS } from './alarms.js';
export type { AlarmRule, AlarmRuleDefinition, ApplyAlarmsOptions, ApplyAlarmsResult } from './alarms.js';
export { applyDashboard, dashboardBody, dashboardName } from './dashboard.js';
export type { ApplyDashboardOptions, ApplyDashboardResult, DashboardBodyOptions } from './dashboard.js';
export { renderExposition, renderPrometheus } from './prometheus.js';
export type { PrometheusFamily, PrometheusSample } from './prometheus.js';
export { DEFAULT_NAMESPACE, METRICS, VEHICLE_DIMENSION } from './catalog.js';
export type { MetricDefinition, MetricKind, MetricName, MetricUnit } from './catalog.js';
export { MAX_DATUMS_PER_REQUEST, MAX_REQUEST_BYTES } from './batches.js';
export { systemClock } from './clock.js';
export type { Clock } from './clock.js';
export { MetricsError } from './errors.js';
export type { MetricsErrorCode } from './errors.js';
export type { Logger } from './logger.js';
