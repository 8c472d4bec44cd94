export { MeteredAdmission, meteredVerdict } from './admission.js';
export type { LinkReport, MeteredAdmissionOptions, MeteredRule } from './admission.js';
export {
  BUDGET_FILE,
  BUDGET_MB,
  BudgetStore,
  budgetDay,
  formatMB,
  parseBudget,
  spend,
  usedOn,
} from './budget.js';
export type { BudgetRecord } from './budget.js';
export { classifyInterface, matchesInterface } from './classify.js';
export type { LinkClass, NetworkLists } from './classify.js';
export { endpointHost } from './endpoint.js';
export type { EndpointSettings } from './endpoint.js';
export { LinkWatch, readProcRouteTables } from './link.js';
export type { LinkState, LinkWatchOptions, RouteTables } from './link.js';
export { parseAddress, parseIpv4Routes, parseIpv6Routes, routeFor } from './routes.js';
export type { Route } from './routes.js';
export { sentMeter } from './sent-meter.js';
