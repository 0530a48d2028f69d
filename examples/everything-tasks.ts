import { setTimeout as delay } from 'node:timers/promises';
import { acceptedContent, inputRequired, ProtocolError, ProtocolErrorCode } from '@modelcontextprotocol/server';
import { z } from 'zod';
import { tool, type Context } from '../src/index.js';

const confirmation = z.object({ confirm: z.boolean() });
const person = z.object({ name: z.string().optional(), confirm: z.boolean().optional() });

/**
 * The fixtures of the conformance suite's `tasks-*` scenarios (the `io.modelcontextprotocol/tasks`
 * extension of 2026-07-28, 0.2.0-alpha.12), part of the `everything` server. Tools that ask for
 * input return the SDK's `inputRequired(...)`: in a task it becomes `input_required` on
 * `tasks/get`, answered with `tasks/update`.
 */
export class TaskFixtures {
  @tool({ description: 'Sync-only greeting (tasks fixture)', input: { name: z.string() } })
  greet({ name }: { name: string }) {
    return `Hello, ${name}!`;
  }

  @tool({ description: 'Sleeps `seconds`, then answers; a task for clients that declare the tasks extension', task: 'optional', input: { seconds: z.number().min(0).max(600), label: z.string().optional() } })
  async slow_compute({ seconds, label }: { seconds: number; label?: string | undefined }, ctx: Context) {
    await delay(seconds * 1000, undefined, { signal: ctx.signal });
    return `computed ${label ?? ''} after ${seconds}s`;
  }

  @tool({ description: 'A task that ends with a tool error (isError)', task: 'required' })
  async failing_job() {
    await delay(1000);
    return { content: [{ type: 'text', text: 'the job failed' }], isError: true };
  }

  @tool({ description: 'A task that fails with a protocol error', task: 'optional' })
  async protocol_error_job(): Promise<never> {
    await delay(200);
    throw new ProtocolError(ProtocolErrorCode.InternalError, 'the job crashed');
  }

  @tool({ description: 'Asks for confirmation (elicitation) inside its task', task: 'optional', input: { filename: z.string() } })
  confirm_delete({ filename }: { filename: string }, ctx: Context) {
    const answer = acceptedContent(ctx.extra.mcpReq.inputResponses, 'confirm', confirmation);
    if (answer === undefined) {
      return inputRequired({ inputRequests: { confirm: inputRequired.elicit({ message: `Delete ${filename}?`, requestedSchema: confirmation }) } });
    }
    return answer.confirm ? `deleted ${filename}` : `kept ${filename}`;
  }

  @tool({ description: 'Asks two questions at once inside its task', task: 'optional' })
  multi_input(_args: Record<string, never>, ctx: Context) {
    const missing = ['first', 'second'].filter((key) => acceptedContent(ctx.extra.mcpReq.inputResponses, key, person) === undefined);
    if (missing.length > 0) {
      return inputRequired({ inputRequests: Object.fromEntries(missing.map((key) => [key, inputRequired.elicit({ message: `${key}?`, requestedSchema: person })])) });
    }
    return 'both answered';
  }

  @tool({ description: 'Asks for a name in the call itself, then goes on as a task (ctx.runAsTask)' })
  async test_tool_with_task(_args: Record<string, never>, ctx: Context) {
    const user = acceptedContent(ctx.extra.mcpReq.inputResponses, 'user_name', z.object({ name: z.string() }));
    if (user === undefined) {
      return inputRequired({ inputRequests: { user_name: inputRequired.elicit({ message: 'Your name?', requestedSchema: z.object({ name: z.string() }) }) } });
    }
    await ctx.runAsTask();
    await delay(200);
    return `Hello, ${user.name}!`;
  }
}
