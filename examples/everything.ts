import { setTimeout as delay } from 'node:timers/promises';
import type { CallToolResult, GetPromptResult, ReadResourceResult } from '@modelcontextprotocol/server';
import { z } from 'zod';
import { completable, HTTMCP, inputRequired, prompt, resource, tool, type Context } from '../src/index.js';
import { TaskFixtures } from './everything-tasks.js';

/**
 * The fixture server of the official conformance suite (`@modelcontextprotocol/conformance`),
 * written with this project's decorators: every tool, resource and prompt its server scenarios
 * call, with the names and answers they check. Served at `/mcp/everything`; run the suite with
 * `conformance server --url http://127.0.0.1:8080/mcp/everything --suite all` (docs/conformance.md).
 */

/** A 1x1 red PNG. */
const PNG_BASE64 = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg==';

/** A valid WAV file: `samples` samples of silence, 8 kHz, mono, 16 bit. */
function silentWav(samples: number): Buffer {
  const data = samples * 2;
  const wav = Buffer.alloc(44 + data);
  wav.write('RIFF', 0, 'ascii');
  wav.writeUInt32LE(36 + data, 4);
  wav.write('WAVE', 8, 'ascii');
  wav.write('fmt ', 12, 'ascii');
  wav.writeUInt32LE(16, 16); // fmt chunk size
  wav.writeUInt16LE(1, 20); // PCM
  wav.writeUInt16LE(1, 22); // mono
  wav.writeUInt32LE(8000, 24); // sample rate
  wav.writeUInt32LE(8000 * 2, 28); // byte rate
  wav.writeUInt16LE(2, 32); // block align
  wav.writeUInt16LE(16, 34); // bits per sample
  wav.write('data', 36, 'ascii');
  wav.writeUInt32LE(data, 40);
  return wav;
}
const WAV_BASE64 = silentWav(8).toString('base64');

const JSON_SCHEMA_2020_12 = 'https://json-schema.org/draft/2020-12/schema';
const ADDRESS_JSON_SCHEMA = { $anchor: 'address', type: 'object', properties: { street: { type: 'string' }, city: { type: 'string' } } };

/**
 * Input of `json_schema_2020_12_tool` (SEP-1613): a zod object whose JSON Schema carries the
 * 2020-12 keywords the scenario looks for (`$schema`, `$defs`, `additionalProperties: false`).
 * zod copies `.meta()` into the generated schema, so the `tools/list` answer has them, and a
 * strict object makes the server enforce `additionalProperties: false` on calls too.
 */
const JSON_SCHEMA_2020_12_INPUT = z
  .strictObject({
    name: z.string().optional(),
    address: z
      .object({ street: z.string().optional(), city: z.string().optional() })
      .optional()
      .meta({ $ref: '#/$defs/address' }),
  })
  .meta({
    $schema: JSON_SCHEMA_2020_12,
    $defs: { address: ADDRESS_JSON_SCHEMA },
    // Composition and conditional keywords clients must pass through untouched (SEP-2106); they
    // admit every input the zod schema admits.
    allOf: [{ anyOf: [{ required: ['name'] }, { not: { required: ['name'] } }] }],
    if: { required: ['address'] },
    then: { properties: { address: { type: 'object' } } },
    else: { properties: { name: { type: 'string' } } },
  });

/**
 * `ToolOptions.input` is typed as a zod shape; the SDK underneath also takes a whole object
 * schema, which is needed here for `.meta()` and strictness on the root. Typing it as its own
 * shape keeps the handler's argument type exact.
 */
const asShape = <S extends z.ZodObject>(schema: S): S['shape'] => schema as unknown as S['shape'];

const WATCHED_URI = 'test://watched-resource';

/** Forms of the multi-round-trip scenarios (`input-required-*`). */
const NAME_FORM = { type: 'object' as const, properties: { name: { type: 'string' as const } }, required: ['name'] };
const CONFIRM_FORM = { type: 'object' as const, properties: { ok: { type: 'boolean' as const } }, required: ['ok'] };
const COLOR_FORM = { type: 'object' as const, properties: { color: { type: 'string' as const } }, required: ['color'] };
const CONTEXT_FORM = { type: 'object' as const, properties: { context: { type: 'string' as const } }, required: ['context'] };

/** The text of a sampling answer. */
function sampledText(result: { content: unknown }): string {
  const block = (Array.isArray(result.content) ? result.content[0] : result.content) as { type?: string; text?: string } | undefined;
  return block?.type === 'text' ? (block.text ?? '') : `(${block?.type ?? 'no'} content)`;
}

/** What the fixture's diagnostic tools change on the server that serves it (an {@link HTTMCP}). */
export interface EverythingHost {
  /** Tells the subscribers of `uri` that it changed (`HTTMCP.resourceUpdated`). */
  resourceUpdated(uri: string): Promise<void>;
  /** Tells every client and listen stream that a list changed (`HTTMCP.listChanged`). */
  listChanged(kind: 'tools' | 'prompts'): Promise<void>;
}

/** The suite's fixture: exact names and answers as its scenarios expect them. */
export class Everything {
  private watchedVersion = 1;

  constructor(private readonly host: EverythingHost) {}

  // ---- tools ---------------------------------------------------------------------------------

  @tool({ description: 'Tests simple text content response' })
  test_simple_text() {
    return 'This is a simple text response for testing.';
  }

  @tool({ description: 'Tests image content response' })
  test_image_content(): CallToolResult {
    return { content: [{ type: 'image', data: PNG_BASE64, mimeType: 'image/png' }] };
  }

  @tool({ description: 'Tests audio content response' })
  test_audio_content(): CallToolResult {
    return { content: [{ type: 'audio', data: WAV_BASE64, mimeType: 'audio/wav' }] };
  }

  @tool({ description: 'Tests embedded resource content response' })
  test_embedded_resource(): CallToolResult {
    return {
      content: [
        {
          type: 'resource',
          resource: { uri: 'test://embedded-resource', mimeType: 'text/plain', text: 'This is an embedded resource content.' },
        },
      ],
    };
  }

  @tool({ description: 'Tests response with multiple content types (text, image, resource)' })
  test_multiple_content_types(): CallToolResult {
    return {
      content: [
        { type: 'text', text: 'Multiple content types test:' },
        { type: 'image', data: PNG_BASE64, mimeType: 'image/png' },
        {
          type: 'resource',
          resource: { uri: 'test://mixed-content-resource', mimeType: 'application/json', text: JSON.stringify({ test: 'data', value: 123 }) },
        },
      ],
    };
  }

  @tool({ description: 'Tests tool that emits log messages during execution' })
  async test_tool_with_logging(_args: Record<string, never>, ctx: Context) {
    await ctx.log('info', 'Tool execution started');
    await delay(50, undefined, { signal: ctx.signal });
    await ctx.log('info', 'Tool processing data');
    await delay(50, undefined, { signal: ctx.signal });
    await ctx.log('info', 'Tool execution completed');
    return 'Tool with logging executed successfully';
  }

  @tool({ description: 'Logs while it runs; a 2026-07-28 request gets no log message unless its _meta asks for a level' })
  async test_logging_tool(_args: Record<string, never>, ctx: Context) {
    await ctx.log('info', 'test_logging_tool ran');
    return 'logged';
  }

  @tool({
    description: 'Echoes an argument clients mirror in the Mcp-Param-Region header (x-mcp-header, SEP-2243)',
    input: { region: z.string().meta({ 'x-mcp-header': 'Region' }) },
  })
  test_custom_headers({ region }: { region: string }) {
    return `region ${region}`;
  }

  @tool({ description: 'Tests tool that reports progress notifications' })
  async test_tool_with_progress(_args: Record<string, never>, ctx: Context) {
    for (const step of [0, 50, 100]) {
      if (step > 0) await delay(50, undefined, { signal: ctx.signal });
      await ctx.progress(step, 100, `Completed step ${step} of 100`);
    }
    return 'Tool with progress executed successfully';
  }

  @tool({ description: 'Tests error response handling' })
  test_error_handling(): never {
    throw new Error('This tool intentionally returns an error for testing');
  }

  @tool({
    description:
      'Tests SSE stream disconnection and client reconnection (SEP-1699): closes the stream mid-call and answers after the client reconnects',
  })
  async test_reconnection(_args: Record<string, never>, ctx: Context) {
    await ctx.closeStream();
    await delay(200, undefined, { signal: ctx.signal });
    return 'Reconnection test completed successfully. If you received this, the client properly reconnected after stream closure.';
  }

  @tool({
    description: 'Tests server-initiated sampling (LLM completion request)',
    input: { prompt: z.string().describe('The prompt to send to the LLM') },
  })
  async test_sampling({ prompt }: { prompt: string }, ctx: Context) {
    const result = await ctx.sample({ messages: [{ role: 'user', content: { type: 'text', text: prompt } }], maxTokens: 100 });
    const content = Array.isArray(result.content) ? result.content[0] : result.content;
    return `LLM response: ${content?.type === 'text' ? content.text : `(${content?.type ?? 'no'} content)`}`;
  }

  @tool({
    description: 'Tests server-initiated elicitation (user input request)',
    input: { message: z.string().describe('The message to show the user') },
  })
  async test_elicitation({ message }: { message: string }, ctx: Context) {
    const result = await ctx.elicit({
      message,
      requestedSchema: {
        type: 'object',
        properties: {
          username: { type: 'string', description: "User's response" },
          email: { type: 'string', description: "User's email address" },
        },
        required: ['username', 'email'],
      },
    });
    return `User response: action=${result.action}, content=${JSON.stringify(result.content ?? {})}`;
  }

  @tool({ description: 'Tests elicitation with default values for every primitive type (SEP-1034)' })
  async test_elicitation_sep1034_defaults(_args: Record<string, never>, ctx: Context) {
    const result = await ctx.elicit({
      message: 'Please review and update the form fields with defaults',
      requestedSchema: {
        type: 'object',
        properties: {
          name: { type: 'string', description: 'User name', default: 'John Doe' },
          age: { type: 'integer', description: 'User age', default: 30 },
          score: { type: 'number', description: 'User score', default: 95.5 },
          status: { type: 'string', description: 'User status', enum: ['active', 'inactive', 'pending'], default: 'active' },
          verified: { type: 'boolean', description: 'Verification status', default: true },
        },
        required: [],
      },
    });
    return `Elicitation completed: action=${result.action}, content=${JSON.stringify(result.content ?? {})}`;
  }

  @tool({ description: 'Tests elicitation with the enum schema forms of SEP-1330 (titled, untitled, legacy, multi-select)' })
  async test_elicitation_sep1330_enums(_args: Record<string, never>, ctx: Context) {
    const result = await ctx.elicit({
      message: 'Please select options from the enum fields',
      requestedSchema: {
        type: 'object',
        properties: {
          untitledSingle: { type: 'string', description: 'Select one option', enum: ['option1', 'option2', 'option3'] },
          titledSingle: {
            type: 'string',
            description: 'Select one option with titles',
            oneOf: [
              { const: 'value1', title: 'First Option' },
              { const: 'value2', title: 'Second Option' },
              { const: 'value3', title: 'Third Option' },
            ],
          },
          legacyEnum: {
            type: 'string',
            description: 'Select one option (legacy)',
            enum: ['opt1', 'opt2', 'opt3'],
            enumNames: ['Option One', 'Option Two', 'Option Three'],
          },
          untitledMulti: {
            type: 'array',
            description: 'Select multiple options',
            minItems: 1,
            maxItems: 3,
            items: { type: 'string', enum: ['option1', 'option2', 'option3'] },
          },
          titledMulti: {
            type: 'array',
            description: 'Select multiple options with titles',
            minItems: 1,
            maxItems: 3,
            items: {
              anyOf: [
                { const: 'value1', title: 'First Choice' },
                { const: 'value2', title: 'Second Choice' },
                { const: 'value3', title: 'Third Choice' },
              ],
            },
          },
        },
        required: [],
      },
    });
    return `Elicitation completed: action=${result.action}, content=${JSON.stringify(result.content ?? {})}`;
  }

  // ---- asking for input: the input-required-* scenarios (2026-07-28 multi round-trip requests).
  // Written once: on a 2025 session each question is a real request to the client instead.

  @tool({ description: 'Asks the user for their name (elicitation) and greets them' })
  async test_input_required_result_elicitation(_args: Record<string, never>, ctx: Context) {
    const answer = await ctx.elicit({ message: 'What is your name?', requestedSchema: NAME_FORM }, { key: 'user_name' });
    return answer.action === 'accept' ? `Hello, ${String(answer.content?.name)}!` : `No name given (${answer.action})`;
  }

  @tool({ description: "Asks the client's model a question (sampling)" })
  async test_input_required_result_sampling(_args: Record<string, never>, ctx: Context) {
    const answer = await ctx.sample(
      { messages: [{ role: 'user', content: { type: 'text', text: 'What is the capital of France?' } }], maxTokens: 100 },
      { key: 'capital_question' },
    );
    return `The model answered: ${sampledText(answer)}`;
  }

  @tool({ description: "Asks the client for its roots (roots/list)" })
  async test_input_required_result_list_roots(_args: Record<string, never>, ctx: Context) {
    const { roots } = await ctx.roots({ key: 'client_roots' });
    return `Client roots: ${roots.map((root) => root.uri).join(', ') || '(none)'}`;
  }

  @tool({ description: 'Asks for a confirmation; the answer comes back with the signed requestState' })
  async test_input_required_result_request_state(_args: Record<string, never>, ctx: Context) {
    // A requestState echoed on this request was verified before the handler ran.
    const answer = await ctx.elicit({ message: 'Please confirm', requestedSchema: CONFIRM_FORM }, { key: 'confirm' });
    return `state-ok: confirmed=${answer.action === 'accept' && answer.content?.ok === true}`;
  }

  @tool({ description: 'Asks three questions at once: elicitation, sampling and roots' })
  async test_input_required_result_multiple_inputs(_args: Record<string, never>, ctx: Context) {
    const answers = await ctx.input({
      user_name: inputRequired.elicit({ message: 'What is your name?', requestedSchema: NAME_FORM }),
      greeting: inputRequired.createMessage({ messages: [{ role: 'user', content: { type: 'text', text: 'Generate a greeting' } }], maxTokens: 50 }),
      client_roots: inputRequired.listRoots(),
    });
    return `Got ${Object.keys(answers).sort().join(', ')}`;
  }

  @tool({ description: 'Asks two questions, one round each (the first answer comes back in the requestState)' })
  async test_input_required_result_multi_round(_args: Record<string, never>, ctx: Context) {
    const name = await ctx.elicit({ message: 'Step 1: What is your name?', requestedSchema: NAME_FORM }, { key: 'step1' });
    const color = await ctx.elicit({ message: 'Step 2: What is your favorite color?', requestedSchema: COLOR_FORM }, { key: 'step2' });
    return `${String(name.content?.name)} likes ${String(color.content?.color)}`;
  }

  @tool({ description: 'Asks for a confirmation under an HMAC-signed requestState (a tampered one is refused)' })
  async test_input_required_result_tampered_state(_args: Record<string, never>, ctx: Context) {
    const answer = await ctx.elicit({ message: 'Please confirm', requestedSchema: CONFIRM_FORM }, { key: 'confirm' });
    return `confirmed=${answer.action === 'accept' && answer.content?.ok === true}`;
  }

  @tool({ description: 'Asks only for what the client declared it can answer' })
  async test_input_required_result_capabilities(_args: Record<string, never>, ctx: Context) {
    const can = ctx.clientCapabilities ?? {};
    const questions: Record<string, ReturnType<typeof inputRequired.listRoots>> = {
      ...(can.elicitation ? { user_name: inputRequired.elicit({ message: 'What is your name?', requestedSchema: NAME_FORM }) } : {}),
      ...(can.sampling ? { greeting: inputRequired.createMessage({ messages: [{ role: 'user', content: { type: 'text', text: 'Generate a greeting' } }], maxTokens: 50 }) } : {}),
      ...(can.roots ? { client_roots: inputRequired.listRoots() } : {}),
    };
    if (Object.keys(questions).length === 0) return 'The client can answer no question';
    const answers = await ctx.input(questions);
    return `Got ${Object.keys(answers).sort().join(', ')}`;
  }

  @tool({ description: "Needs the client's sampling capability: a client that did not declare it gets -32021 (SEP-2575)" })
  async test_missing_capability(_args: Record<string, never>, ctx: Context) {
    const answer = await ctx.sample({ messages: [{ role: 'user', content: { type: 'text', text: 'Say hello' } }], maxTokens: 20 }, { key: 'hello' });
    return `The model answered: ${sampledText(answer)}`;
  }

  @tool({ description: 'Asks for input on a 2026 request: the answer is an input_required result, never a request on the stream (SEP-2575)' })
  async test_streaming_elicitation(_args: Record<string, never>, ctx: Context) {
    await ctx.progress(0, 1, 'asking');
    const answer = await ctx.elicit({ message: 'Continue?', requestedSchema: CONFIRM_FORM }, { key: 'confirm' });
    return `Answered: ${answer.action}`;
  }

  @tool({ description: 'Tool with JSON Schema 2020-12 features for conformance testing (SEP-1613)', input: asShape(JSON_SCHEMA_2020_12_INPUT) })
  json_schema_2020_12_tool(args: z.output<typeof JSON_SCHEMA_2020_12_INPUT>) {
    return `JSON Schema 2020-12 tool called with: ${JSON.stringify(args)}`;
  }

  @tool({ description: `Changes ${WATCHED_URI} and notifies its subscribers (notifications/resources/updated)` })
  async update_watched_resource() {
    this.watchedVersion++;
    await this.host.resourceUpdated(WATCHED_URI);
    return `${WATCHED_URI} is now at version ${this.watchedVersion}`;
  }

  // The server-stateless scenario (SEP-2575) calls these while a subscriptions/listen stream is
  // open and expects the list_changed on it. Without them it saw an unknown tool (-32602) and
  // reported two SHOULD warnings. They announce a change rather than add items, so that running
  // the suite again and again does not grow the lists.
  @tool({ description: 'Sends notifications/tools/list_changed to every client and listen stream (SEP-2575 diagnostic)' })
  async test_trigger_tool_change() {
    await this.host.listChanged('tools');
    return 'tools/list_changed sent';
  }

  @tool({ description: 'Sends notifications/prompts/list_changed to every client and listen stream (SEP-2575 diagnostic)' })
  async test_trigger_prompt_change() {
    await this.host.listChanged('prompts');
    return 'prompts/list_changed sent';
  }

  // ---- resources -----------------------------------------------------------------------------

  @resource('test://static-text', {
    name: 'static-text',
    title: 'Static Text Resource',
    description: 'A static text resource for testing',
    mimeType: 'text/plain',
  })
  static_text() {
    return 'This is the content of the static text resource.';
  }

  @resource('test://static-binary', {
    name: 'static-binary',
    title: 'Static Binary Resource',
    description: 'A static binary resource (image) for testing',
    mimeType: 'image/png',
  })
  static_binary() {
    return Buffer.from(PNG_BASE64, 'base64');
  }

  @resource('test://template/{id}/data', {
    name: 'template',
    title: 'Resource Template',
    description: 'A resource template with parameter substitution',
    mimeType: 'application/json',
    complete: { id: (value) => ['1', '2', '3', '123'].filter((id) => id.startsWith(value)) },
  })
  template({ id }: { id: string }) {
    return { id, templateTest: true, data: `Data for ID: ${id}` };
  }

  @resource(WATCHED_URI, {
    name: 'watched-resource',
    title: 'Watched Resource',
    description: 'A resource to subscribe to; update_watched_resource changes it',
    mimeType: 'text/plain',
  })
  watched_resource(): ReadResourceResult {
    return { contents: [{ uri: WATCHED_URI, mimeType: 'text/plain', text: `Watched resource content, version ${this.watchedVersion}` }] };
  }

  // ---- prompts -------------------------------------------------------------------------------

  @prompt({ title: 'Simple Test Prompt', description: 'A simple prompt without arguments' })
  test_simple_prompt() {
    return 'This is a simple prompt for testing.';
  }

  @prompt({
    title: 'Prompt With Arguments',
    description: 'A prompt with required arguments',
    args: {
      arg1: completable(z.string().describe('First test argument'), (value) => ['paris', 'park', 'party', 'test'].filter((v) => v.startsWith(value))),
      arg2: completable(z.string().describe('Second test argument'), (value) => ['hello', 'world'].filter((v) => v.startsWith(value))),
    },
  })
  test_prompt_with_arguments({ arg1, arg2 }: { arg1: string; arg2: string }) {
    return `Prompt with arguments: arg1='${arg1}', arg2='${arg2}'`;
  }

  @prompt({
    title: 'Prompt With Embedded Resource',
    description: 'A prompt that includes an embedded resource',
    args: { resourceUri: z.string().describe('URI of the resource to embed') },
  })
  test_prompt_with_embedded_resource({ resourceUri }: { resourceUri: string }): GetPromptResult {
    return {
      messages: [
        { role: 'user', content: { type: 'resource', resource: { uri: resourceUri, mimeType: 'text/plain', text: 'Embedded resource content for testing.' } } },
        { role: 'user', content: { type: 'text', text: 'Please process the embedded resource above.' } },
      ],
    };
  }

  @prompt({ title: 'Prompt asking for input', description: 'Asks the user which context to use (input_required on prompts/get)' })
  async test_input_required_result_prompt(_args: Record<string, never>, ctx: Context) {
    const answer = await ctx.elicit({ message: 'What context should the prompt use?', requestedSchema: CONTEXT_FORM }, { key: 'user_context' });
    return `Answer with this context in mind: ${String(answer.content?.context ?? '(none)')}`;
  }

  @prompt({ title: 'Prompt With Image', description: 'A prompt that includes image content' })
  test_prompt_with_image(): GetPromptResult {
    return {
      messages: [
        { role: 'user', content: { type: 'image', data: PNG_BASE64, mimeType: 'image/png' } },
        { role: 'user', content: { type: 'text', text: 'Please analyze the image above.' } },
      ],
    };
  }
}

/** A fresh `everything` server, the conformance suite's fixture (a new instance per stack). */
export function createEverythingServer(): HTTMCP {
  const server = new HTTMCP({
    name: 'everything',
    version: '1.0.0',
    title: 'MCP conformance fixture',
    instructions: 'The fixture of the official MCP conformance suite (@modelcontextprotocol/conformance).',
    requestTimeoutMs: 30_000,
  });
  return server.register(new Everything(server), new TaskFixtures());
}

/** `httmcp serve dist/examples/everything.js` serves just this server. */
export default createEverythingServer;
