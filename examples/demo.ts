import { setTimeout as delay } from 'node:timers/promises';
import { z } from 'zod';
import { HTTMCP, prompt, resource, tool, type Context } from '../src/index.js';

/** The demo server, declared with decorators: quick, slow and long-running tools. */
export class Demo {
  @tool({ description: 'Add two numbers', input: { a: z.number(), b: z.number() }, annotations: { readOnlyHint: true } })
  add({ a, b }: { a: number; b: number }) {
    return a + b;
  }

  @tool({
    description: 'Divide two integers; returns quotient and remainder as structured content',
    input: { dividend: z.number().int(), divisor: z.number().int().refine((d) => d !== 0, 'divisor must not be 0') },
    output: { quotient: z.number().int(), remainder: z.number().int() },
  })
  divide({ dividend, divisor }: { dividend: number; divisor: number }) {
    return { quotient: Math.trunc(dividend / divisor), remainder: dividend % divisor };
  }

  @tool({ description: 'Answer after `ms` milliseconds', input: { ms: z.number().int().min(0).max(600_000) } })
  async sleep({ ms }: { ms: number }, ctx: Context) {
    await delay(ms, undefined, { signal: ctx.signal });
    return `slept ${ms} ms`;
  }

  @tool({
    description: 'A long task: `steps` steps of `stepMs` each, reporting progress and logging as it goes',
    input: {
      steps: z.number().int().min(1).max(1000).default(5),
      stepMs: z.number().int().min(0).max(60_000).default(200),
    },
  })
  async long_task({ steps, stepMs }: { steps: number; stepMs: number }, ctx: Context) {
    for (let step = 1; step <= steps; step++) {
      await delay(stepMs, undefined, { signal: ctx.signal });
      await ctx.progress(step, steps, `step ${step} of ${steps}`);
      await ctx.log('info', { step, of: steps }, 'long_task');
    }
    return `finished ${steps} steps`;
  }

  @resource('demo://readme', { description: 'What this server does', mimeType: 'text/markdown' })
  readme() {
    return '# demo\n\nTools: add, divide, sleep, long_task. Resources: demo://readme, demo://greeting/{name}.';
  }

  @resource('demo://greeting/{name}', { description: 'A greeting for anyone', mimeType: 'text/plain' })
  greeting({ name }: { name: string }) {
    return `Hello, ${name}!`;
  }

  @prompt({ description: 'Ask for an explanation of a topic', args: { topic: z.string() } })
  explain({ topic }: { topic: string }) {
    return `Explain ${topic} in two sentences.`;
  }
}

/** A fresh `demo` server (a new instance per stack, so tests can run several). */
export function createDemoServer(): HTTMCP {
  return new HTTMCP({ name: 'demo', version: '1.0.0', instructions: 'A demo server for httmcp.' }).register(new Demo());
}
