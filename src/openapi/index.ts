/**
 * OpenAPIMCP: any OpenAPI 3.0/3.1 or Swagger 2.0 description as an MCP server whose tools call
 * the real API. See docs/openapi.md.
 * @packageDocumentation
 */
export { OpenAPIMCP, serverName, type OpenAPIMCPOptions } from './server.js';
export { loadSpec, SpecLoadError, type LoadedSpec, type LoadOptions, type LoadProgress, type SpecInput, type ValidationMode } from './load.js';
export { Authenticator, type AuthOptions, type Credential, type SessionCredential } from './auth.js';
export { TokenExchanger, type TokenExchangeOptions } from './token-exchange.js';
export { HttpClient, HttpError, HTTP_DEFAULTS, retryDelay, type HttpOptions, type HttpRequest, type HttpResponse, type SendOptions } from './request.js';
export { FairGate, GateFullError, type FairGateLimits } from './fair-gate.js';
export { buildTools, DEFAULT_MAX_TOOL_BYTES, type BuiltTools, type OpenApiTool, type OperationFilter, type ToolOptions as OpenApiToolOptions } from './tools.js';
export { assignToolNames, derivedName, sanitizeToolName, TOOL_NAME } from './names.js';
export { buildInput, sanitizeArgName, FILE_SCHEMA, type Binding, type ToolInput } from './arguments.js';
export { SchemaConverter, withNull, isObjectSchema, DEFAULT_INLINE_LIMIT, type ConvertedSchema, type ConverterOptions, type Direction } from './schema.js';
export { collectOperations, collectSecuritySchemes, type CollectedOperations } from './operations.js';
export { RefResolver } from './refs.js';
export { resolveServer, type ServerOptions } from './servers.js';
export { encodeStrict, fillPath, queryPairs, headerValue, cookiePair } from './parameters.js';
export { encodeBody, decodeBase64, type EncodedBody, type FileArgument } from './body.js';
export { toToolResult, toResourceContents, type ResultOptions } from './response.js';
export { SchemaValidator } from './validate.js';
export { Invoker, type BuiltRequest, type CallContext, type InvokerOptions } from './invoke.js';
export { mapResources, resourceScheme, type OpenApiResource } from './resources.js';
export {
  ArgumentError,
  SpecError,
  HTTP_METHODS,
  type BodyKind,
  type BodySpec,
  type EncodingSpec,
  type HttpMethod,
  type JsonSchema,
  type JsonSchemaObject,
  type OperationSpec,
  type ParameterLocation,
  type ParameterSpec,
  type ParameterStyle,
  type RawSchema,
  type ResponseSpec,
  type SecurityRequirement,
  type SecuritySchemeSpec,
  type ServerSpec,
  type SpecVersion,
} from './model.js';
