export { BackendMetrics, OTHER_TOOL, ToolTally, UNKNOWN_TOOL, type BackendMetricsOptions, type GatewayFigures, type Outcome } from './metrics.js';
export { instrumentTransport, InstrumentedTransport } from './instrument.js';
export { observeRequests, RequestObserver, type InstrumentOptions, type Observation } from './request-observer.js';
export { listenForMetrics } from './metrics-listener.js';
export { parentContext, tracingRegistered, withClientSpan } from './tracing.js';
