/**
 * httmcp: MCP servers behind Nginx + Nchan.
 *
 * Declare servers with {@link HTTMCP} (decorators {@link tool}, {@link resource}, {@link prompt}
 * or plain functions), mount their routers on an Express app, and let nginx+nchan hold every
 * client connection. {@link startStack} runs nginx and the backend locally.
 * @packageDocumentation
 */
export { HTTMCP, type HTTMCPOptions } from './server/httmcp.js';
export { tool, resource, prompt, definitionsOf } from './server/decorators.js';
export { PaginatingTransport } from './server/paginate.js';
/** Marks a prompt argument's zod schema as completable (`completion/complete`), from the SDK. */
export { completable } from '@modelcontextprotocol/server';
/**
 * Builders of the questions of `ctx.input` (`inputRequired.elicit`, `.elicitUrl`,
 * `.createMessage`, `.listRoots`) and of the SDK's explicit `input_required` result, from the SDK.
 */
export { inputRequired } from '@modelcontextprotocol/server';
export { InputRequiredSignal } from './mrtr/input-round.js';
/** The SDK-shaped `AuthInfo` of the request a handler serves, on both protocol eras. */
export { requestAuthInfo } from './server/request-auth.js';
export type {
  ArgsOf,
  Context,
  ElicitFormInput,
  ElicitUrlInput,
  InputOptions,
  PromptHandler,
  PromptOptions,
  PromptReturn,
  ResourceContext,
  ResourceHandler,
  ResourceOptions,
  ResourceReturn,
  ServerRequestOptions,
  TemplateVariables,
  ToolHandler,
  ToolOptions,
  ToolReturn,
} from './server/types.js';
export { Gateway, type GatewayOptions } from './gateway.js';
export { SessionHub, type Delivery, type Forwarded, type HubRetained, type SessionHubOptions, type Wire } from './session/session-hub.js';
export { DEFAULT_LIMITS, LIMIT_EXCEEDED, LIMIT_SETTINGS, type BackendLimits } from './session/limits.js';
export {
  Authenticator,
  ApiKeys,
  JwtVerifier,
  TokenRejected,
  authFromEnv,
  hashApiKey,
  parseApiKeys,
  type ApiKeyEntry,
  type AuthOptions,
  type JwtVerifierOptions,
  type Principal,
  type Verdict,
} from './auth/index.js';
export { SessionIds, principalFromHeaders } from './session/session-id.js';
export { type MessageBuffer } from './session/resume.js';
export { resumingEventSourceFetch } from './client/resuming-fetch.js';
export { NchanPublisher, PublishError, type ChannelInfo, type PublisherOptions, type PublisherStats } from './nchan/publisher.js';
export { NchanStatusReader, parseNchanStatus, type NchanStatus, type NchanStatusOptions } from './nchan/status.js';
export { NchanEndpoint, STREAM_STATUS, type Answer } from './http/endpoint.js';
export { createNchanRouter } from './http/router.js';
export { createAuthRoutes, type AuthRoutes } from './http/auth-endpoint.js';
export { BACKEND_KEY_HEADER, checkBackendRequest, deriveBackendKey, type GuardRefusal } from './http/backend-guard.js';
export { createBackendHandler } from './http/node-handler.js';
export { startStack, freePort, listen, LIMITS, type Stack, type StackOptions } from './stack/stack.js';
export { findNginx, FIXED_NCHAN_MODULE, NginxMissingError, PortInUseError, INSTALL_HINT, type NginxInstall } from './stack/nginx.js';
export {
  renderNginxConfig,
  placeholders,
  DEFAULT_ALLOWED_HOSTS,
  DEFAULT_ALLOWED_ORIGINS,
  DEFAULT_CLIENT_LIMITS,
  DEFAULT_PRINCIPAL_LIMITS,
  type ClientLimits,
  type PrincipalLimits,
  type NginxConfigValues,
} from './stack/nginx-config.js';
export { createLogger, type Logger } from './log.js';
export * from './tasks/index.js';
export * from './transports/index.js';
export * from './openapi/index.js';
