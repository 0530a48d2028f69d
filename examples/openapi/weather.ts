/**
 * An OpenAPIMCP example: the Open-Meteo forecast API (free, no key) as an MCP server.
 *
 *   npm run build && npx httmcp serve ./dist/examples/openapi/weather.js --port 8080
 *
 * The description is written inline here to keep the example self-contained; point
 * `OpenAPIMCP.create` at a file or URL for a real API.
 */
import { OpenAPIMCP, type OpenAPIMCPOptions } from '../../src/openapi/index.js';

/** A small OpenAPI 3.0 description of https://open-meteo.com/en/docs (one operation). */
export const openMeteoSpec = {
  openapi: '3.0.3',
  info: {
    title: 'Open-Meteo',
    version: '1.0.0',
    description: 'Weather forecasts for any place on earth, by latitude and longitude.',
  },
  servers: [{ url: 'https://api.open-meteo.com' }],
  paths: {
    '/v1/forecast': {
      get: {
        operationId: 'forecast',
        summary: 'Weather forecast for a place',
        description: 'Current conditions and an hourly forecast. Name the variables you want in `current` and `hourly`.',
        parameters: [
          { name: 'latitude', in: 'query', required: true, schema: { type: 'number', minimum: -90, maximum: 90 } },
          { name: 'longitude', in: 'query', required: true, schema: { type: 'number', minimum: -180, maximum: 180 } },
          {
            name: 'current',
            in: 'query',
            style: 'form',
            explode: false,
            description: 'Variables for the current conditions',
            schema: { type: 'array', items: { type: 'string', enum: ['temperature_2m', 'relative_humidity_2m', 'wind_speed_10m', 'precipitation', 'weather_code'] } },
          },
          {
            name: 'hourly',
            in: 'query',
            style: 'form',
            explode: false,
            description: 'Variables for the hourly forecast',
            schema: { type: 'array', items: { type: 'string', enum: ['temperature_2m', 'precipitation_probability', 'wind_speed_10m'] } },
          },
          { name: 'forecast_days', in: 'query', schema: { type: 'integer', minimum: 1, maximum: 16, default: 7 } },
          { name: 'timezone', in: 'query', schema: { type: 'string', default: 'GMT', example: 'Europe/Berlin' } },
        ],
        responses: {
          '200': {
            description: 'The forecast',
            content: {
              'application/json': {
                schema: {
                  type: 'object',
                  properties: {
                    latitude: { type: 'number' },
                    longitude: { type: 'number' },
                    timezone: { type: 'string' },
                    current: { type: 'object', additionalProperties: true },
                    current_units: { type: 'object', additionalProperties: { type: 'string' } },
                    hourly: { type: 'object', additionalProperties: { type: 'array' } },
                    hourly_units: { type: 'object', additionalProperties: { type: 'string' } },
                  },
                },
              },
            },
          },
          '400': {
            description: 'Bad request',
            content: { 'application/json': { schema: { type: 'object', properties: { error: { type: 'boolean' }, reason: { type: 'string' } } } } },
          },
        },
      },
    },
  },
};

/** The weather server; `options` override anything (a `baseUrl` for tests, a `name`...). */
export function createWeatherServer(options: OpenAPIMCPOptions = {}): Promise<OpenAPIMCP> {
  return OpenAPIMCP.create(openMeteoSpec, { name: 'weather', ...options });
}

/** What `httmcp serve` loads. */
export default async function servers(): Promise<OpenAPIMCP[]> {
  return [await createWeatherServer()];
}
