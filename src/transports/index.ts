/**
 * Ways into an HTTMCP server other than nginx+nchan: NATS request/reply (server and SDK client
 * transport, discovery through the NATS service API) and stdio. The server's code is the same.
 * See docs/transports.md.
 * @module
 */
export { serveNats, NatsService, type NatsServeOptions, type NatsStopOptions } from './nats/service.js';
export { NatsClientTransport, type NatsClientTransportOptions, type NatsInflightRequest } from './nats/client-transport.js';
export { discoverNatsServers, type DiscoverOptions, type NatsServerInstance } from './nats/discovery.js';
export { NatsSession } from './nats/session.js';
export {
  NATS_DEFAULTS,
  NATS_HEADERS,
  serviceSubject,
  workerSubject,
  clientSubject,
  type ClientHello,
  type ControlVerb,
} from './nats/protocol.js';
export { serveStdio, type StdioServing } from './stdio.js';
